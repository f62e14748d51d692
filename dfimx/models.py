"""Model loading, choice of the scored output, and the per-process model cache.

A model travels through the task graph as a :class:`ModelSpec` (path, sha256 and
output choices): small, picklable, and loaded at most once per process by
:func:`load_scorer`.

Examples
--------
>>> spec = ModelSpec.from_path("model.keras")            # doctest: +SKIP
>>> scorer = spec.load()                                  # doctest: +SKIP
>>> scorer.predict(onehot).shape                          # doctest: +SKIP
(10, 1)
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dfimx.errors import InputError

OUTPUT_LAYERS = ("logit", "output")
_SQUASHING = {"sigmoid", "softmax"}


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a model file, or of every file of a SavedModel directory (sorted by name)."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def load_keras_model(path: str | os.PathLike, *, safe_mode: bool = True) -> Any:
    """Load a ``.keras`` file (safe mode by default), a legacy ``.h5`` or a SavedModel dir.

    Raises
    ------
    InputError
        When the file does not exist or cannot be read as a model.
    """
    import keras

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: model file not found")
    try:
        if p.is_dir():
            if not (p / "saved_model.pb").exists():
                raise InputError(
                    f"{p}: directory is not a TensorFlow SavedModel (no saved_model.pb)"
                )
            layer = keras.layers.TFSMLayer(str(p), call_endpoint="serving_default")
            import tensorflow as tf

            sig = tf.saved_model.load(str(p)).signatures["serving_default"]
            (spec,) = sig.structured_input_signature[1].values()
            inp = keras.Input(shape=tuple(spec.shape[1:]), name="sequence")
            out = layer(inp)
            if isinstance(out, dict):
                out = [out[k] for k in sorted(out)]
                out = out[0] if len(out) == 1 else keras.layers.Concatenate()(out)
            model = keras.Model(inp, out, name=p.name)
            model._dfimx_savedmodel = True  # noqa: SLF001 - marks an opaque graph
            return model
        if p.suffix in (".keras", ".h5", ".hdf5"):
            return keras.saving.load_model(str(p), compile=False, safe_mode=safe_mode)
    except InputError:
        raise
    except ValueError as exc:
        if "safe_mode" in str(exc) or "unsafe" in str(exc).lower():
            raise InputError(
                f"{p}: the model contains code (e.g. a Lambda layer) that safe mode refuses to "
                "load; pass safe_mode=False (--unsafe-model) only if you trust the file"
            ) from exc
        raise InputError(f"{p}: cannot load model: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(f"{p}: cannot load model: {type(exc).__name__}: {exc}") from exc
    raise InputError(f"{p}: unknown model format (expected .keras, .h5 or a SavedModel directory)")


def _output_tensors(model: Any) -> list[Any]:
    outs = model.outputs
    return list(outs) if isinstance(outs, (list, tuple)) else [outs]


def _activation_name(layer: Any) -> str | None:
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return getattr(act, "__name__", str(act))


def _logit_tensor(model: Any, out: Any) -> Any:
    """The pre-activation tensor behind a sigmoid/softmax output, else ``out`` itself."""
    import keras

    layer = out._keras_history.operation  # noqa: SLF001
    act = _activation_name(layer)
    if act not in _SQUASHING:
        return out
    if isinstance(layer, keras.layers.Activation):
        return layer.input
    config = dict(layer.get_config())
    config["activation"] = "linear"
    config["name"] = f"{layer.name}_logit"
    clone = layer.__class__.from_config(config)
    x = layer.input
    y = clone(x)
    clone.set_weights(layer.get_weights())
    return y


@dataclass
class Scorer:
    """A Keras model reduced to the scored outputs: ``(N, L, 4) -> (N, T)`` float32.

    Attributes
    ----------
    model
        The model as loaded.
    network
        Keras model whose single output is ``(N, T)``: the chosen tasks of the chosen layer.
    task_names
        Names of the ``T`` scored tasks.
    input_length
        Sequence length the model expects, or None when any length is accepted.
    """

    model: Any
    network: Any
    task_names: list[str]
    input_length: int | None
    output_layer: str = "logit"
    sha256: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def n_tasks(self) -> int:
        return len(self.task_names)

    def check_input(self, length: int, n_channels: int = 4, source: str = "sequences") -> None:
        """Raise :class:`InputError` when sequences of ``length`` cannot be scored."""
        shape = tuple(self.model.inputs[0].shape)
        if len(shape) != 3 or shape[-1] != n_channels:
            raise InputError(
                f"model input shape {shape} does not take one-hot DNA (batch, length, 4)"
            )
        if self.input_length is not None and self.input_length != length:
            raise InputError(
                f"{source}: sequences have length {length} but the model expects "
                f"length {self.input_length}; use --length {self.input_length} to centre-crop/pad"
            )

    def predict(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Scored outputs for ``X`` of shape ``(N, L, 4)`` -> ``(N, T)``."""
        from dfimx.attribution import predict_batched

        return predict_batched(self, X, batch_size=batch_size)


def build_scorer(
    model: Any,
    *,
    tasks: list[int | str] | None = None,
    output_layer: str = "logit",
    sha256: str = "",
) -> Scorer:
    """Wrap a loaded Keras model so that it returns only the scored tasks.

    Parameters
    ----------
    model
        A Keras 3 model taking ``(batch, length, 4)``.
    tasks
        Task indices or names to score (all when None).
    output_layer
        ``"logit"``: the pre-activation of a sigmoid/softmax head (default, as DeepLIFT
        recommends); ``"output"``: the model output itself.
    """
    import keras

    if output_layer not in OUTPUT_LAYERS:
        raise InputError(f"output_layer must be one of {OUTPUT_LAYERS}, got {output_layer!r}")
    if len(model.inputs) != 1:
        raise InputError(f"model has {len(model.inputs)} inputs; dfimx needs exactly one")
    outs = _output_tensors(model)
    if output_layer == "logit":
        if getattr(model, "_dfimx_savedmodel", False):
            raise InputError(
                "a SavedModel is an opaque graph: its pre-activation logit cannot be found; "
                "use output_layer='output' (--output-layer output)"
            )
        outs = [_logit_tensor(model, o) for o in outs]
    names: list[str] = []
    flat = []
    for o in outs:
        lname = o._keras_history.operation.name  # noqa: SLF001
        lname = lname.removesuffix("_logit")
        o2 = keras.layers.Flatten()(o) if len(o.shape) > 2 else o
        n = int(o2.shape[-1])
        names.extend([lname] if n == 1 else [f"{lname}_{i}" for i in range(n)])
        flat.append(o2)
    if len(set(names)) != len(names):
        names = [f"task_{i}" for i in range(len(names))]
    full = flat[0] if len(flat) == 1 else keras.layers.Concatenate(axis=-1)(flat)
    index = list(range(len(names)))
    if tasks:
        index = []
        for t in tasks:
            if isinstance(t, str) and not t.lstrip("-").isdigit():
                if t not in names:
                    raise InputError(f"task {t!r} not found; the model's tasks are {names}")
                index.append(names.index(t))
            else:
                i = int(t)
                if not -len(names) <= i < len(names):
                    raise InputError(
                        f"task index {i} out of range: the model has {len(names)} tasks"
                    )
                index.append(i % len(names))
    if index != list(range(len(names))):
        idx = np.asarray(index)
        full = keras.layers.Lambda(lambda z: keras.ops.take(z, idx, axis=-1))(full)
    network = keras.Model(model.inputs[0], full, name=f"{model.name}_scored")
    length = model.inputs[0].shape[1]
    return Scorer(
        model=model,
        network=network,
        task_names=[names[i] for i in index],
        input_length=None if length is None else int(length),
        output_layer=output_layer,
        sha256=sha256,
    )


@dataclass(frozen=True)
class ModelSpec:
    """What the task graph carries instead of a model: path, hash and output choices."""

    path: str
    sha256: str
    output_layer: str = "logit"
    tasks: tuple[int | str, ...] = ()
    safe_mode: bool = True

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike,
        *,
        output_layer: str = "logit",
        tasks: list[int | str] | tuple[int | str, ...] | None = None,
        safe_mode: bool = True,
    ) -> ModelSpec:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{p}: model file not found")
        return cls(str(p.resolve()), file_sha256(p), output_layer, tuple(tasks or ()), safe_mode)

    def load(self) -> Scorer:
        """Load (once per process) and return the :class:`Scorer`."""
        return load_scorer(self)


_CACHE: dict[ModelSpec, Scorer] = {}
_CACHE_LOCK = threading.Lock()


def load_scorer(spec: ModelSpec) -> Scorer:
    """Process-local cached loading of a :class:`ModelSpec` (threads share one copy)."""
    with _CACHE_LOCK:
        scorer = _CACHE.get(spec)
        if scorer is None:
            model = load_keras_model(spec.path, safe_mode=spec.safe_mode)
            scorer = build_scorer(
                model, tasks=list(spec.tasks), output_layer=spec.output_layer, sha256=spec.sha256
            )
            _CACHE[spec] = scorer
        return scorer


def clear_model_cache() -> None:
    """Forget every cached model of this process."""
    with _CACHE_LOCK:
        _CACHE.clear()
