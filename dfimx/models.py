"""Model loading, choice of the scored output, batched prediction and the model cache.

A model travels through the task graph as a :class:`ModelSpec` (path, sha256 and
output choices): small, picklable, and loaded at most once per process by
:func:`load_scorer`.  A loaded model is a :class:`Scorer`: the network reduced to the
scored outputs, with its compiled functions.  :func:`predict_batched` and the batching
helpers (:func:`batches`, :func:`pad_rows`) are shared by every attribution method.

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
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dfimx.errors import InputError
from dfimx.heads import (  # noqa: F401 - activation_name is re-exported
    DEFAULT_MAX_TASKS,
    activation_name,
    resolve_heads,
    select_tasks,
)

OUTPUT_LAYERS = ("logit", "output")


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


def load_custom_objects(path: str | os.PathLike) -> dict[str, Any]:
    """Import the user module ``path`` (trusted code) and return its custom objects.

    The module's ``custom_objects`` dict when it has one, else every public class and
    function it defines (custom layers, activations, losses).  Importing runs the
    module's code: give only files you trust (``--custom-objects``).

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "layers.py"
    >>> _ = f.write_text("def swish2(x): return x")
    >>> sorted(load_custom_objects(f))
    ['swish2']
    """
    import importlib.util
    import inspect

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: custom-objects module not found", option="custom_objects")
    name = f"dfimx_custom_{hashlib.sha256(str(p.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure of user code is a bad input
        raise InputError(f"{p}: importing the custom-objects module failed: "
                         f"{type(exc).__name__}: {exc}", option="custom_objects") from exc
    objects = getattr(module, "custom_objects", None)
    if isinstance(objects, dict):
        return dict(objects)
    return {k: v for k, v in vars(module).items() if not k.startswith("_")
            and (inspect.isclass(v) or inspect.isfunction(v))
            and getattr(v, "__module__", None) == name}


def load_keras_model(path: str | os.PathLike, *, safe_mode: bool = True,
                     custom_objects: str | os.PathLike | None = None) -> Any:
    """Load a ``.keras`` file (safe mode by default), a legacy ``.h5`` or a SavedModel dir.

    Safe mode refuses what could run code of the file's author: Keras layers that carry
    Python code (``Lambda``) and every TensorFlow SavedModel, whose graph may hold any
    TensorFlow op (writing files, for one) and which no loader can check; load those only
    from trusted sources, with ``safe_mode=False``.

    ``custom_objects`` names a Python module with the model's custom layers (imported,
    so trusted code only: :func:`load_custom_objects`).

    Raises
    ------
    InputError
        When the file does not exist, cannot be read as a model, or is refused by safe mode.

    Examples
    --------
    >>> import tempfile
    >>> saved = Path(tempfile.mkdtemp()); _ = (saved / "saved_model.pb").write_bytes(b"")
    >>> load_keras_model(saved)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: ...: a TensorFlow SavedModel can run any TensorFlow op ...
    """
    import keras

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: model file not found")
    objects = load_custom_objects(custom_objects) if custom_objects else None
    try:
        if p.is_dir():
            if not (p / "saved_model.pb").exists():
                raise InputError(
                    f"{p}: directory is not a TensorFlow SavedModel (no saved_model.pb)"
                )
            if safe_mode:
                raise InputError(
                    f"{p}: a TensorFlow SavedModel can run any TensorFlow op (write files, "
                    "...), which safe mode cannot check; load it with safe_mode=False only "
                    "if you trust it",
                    option="safe_mode",
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
            return keras.saving.load_model(str(p), compile=False, safe_mode=safe_mode,
                                           custom_objects=objects)
    except InputError:
        raise
    except ValueError as exc:
        if "safe_mode" in str(exc) or "unsafe" in str(exc).lower():
            raise InputError(
                f"{p}: the model contains code (e.g. a Lambda layer) that safe mode refuses to "
                "load; pass safe_mode=False only if you trust the file",
                option="safe_mode",
            ) from exc
        raise InputError(f"{p}: cannot load model: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(f"{p}: cannot load model: {type(exc).__name__}: {exc}") from exc
    raise InputError(f"{p}: unknown model format (expected .keras, .h5 or a SavedModel directory)")


_FUNCTIONS_LOCK = threading.Lock()
#: Arguments of a :class:`BatchFunction` that are static (part of the graph), not tensors.
_STATIC_ARGUMENTS = (int, float, bool, str, type(None))


class BatchFunction:
    """A ``tf.function`` traced once per shape of its arguments *without* their first axis.

    A plain ``tf.function(reduce_retracing=True)`` keeps an exact-shape trace of its first
    call besides the relaxed one it makes later, and which of the two serves a batch
    depends on the order of the first calls (chunking, threads, model streams); the two
    graphs may pick different kernels, which round differently.  Here every call whose
    arrays have the same shapes past the first axis runs the same graph, traced with
    that axis unknown, whatever came before.  Python scalars (``int``, ``float``,
    ``bool``, ``str``, None) are static arguments, one graph per value.

    Examples
    --------
    >>> import numpy as np
    >>> double = BatchFunction(lambda x: 2 * x)
    >>> double(np.ones((3, 2), np.float32)).numpy().tolist()
    [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]
    >>> double(np.ones((5, 2), np.float32)).shape, len(double.graphs)
    (TensorShape([5, 2]), 1)
    """

    def __init__(self, fn: Callable[..., Any], **options: Any) -> None:
        import tensorflow as tf

        self._function = tf.function(fn, **options)
        self._concrete: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    @property
    def graphs(self) -> list[Any]:
        """The traced concrete functions, one per shape signature."""
        return list(self._concrete.values())

    def __call__(self, *args: Any) -> Any:
        import tensorflow as tf

        static = _STATIC_ARGUMENTS
        tensors = [a if isinstance(a, static) else tf.convert_to_tensor(a) for a in args]
        key = tuple(a if isinstance(a, static) else (tuple(a.shape[1:]), a.dtype.name)
                    for a in tensors)
        concrete = self._concrete.get(key)
        if concrete is None:
            with self._lock:
                concrete = self._concrete.get(key)
                if concrete is None:
                    specs = [a if isinstance(a, static) else
                             tf.TensorSpec((None, *a.shape[1:]), a.dtype) for a in tensors]
                    concrete = self._function.get_concrete_function(*specs)
                    self._concrete[key] = concrete
        return concrete(*[a for a in tensors if not isinstance(a, static)])


def batch_function(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """:class:`BatchFunction` of ``fn`` (``tf.function`` ``options``); also a decorator,
    bare or with options (``@batch_function(autograph=False)``).

    Examples
    --------
    >>> import numpy as np
    >>> @batch_function(autograph=False)
    ... def shift(x, by):
    ...     return x + by
    >>> shift(np.zeros((2, 1), np.float32), 3).numpy().ravel().tolist()
    [3.0, 3.0]
    """
    if fn is None:
        return lambda f: BatchFunction(f, **options)
    return BatchFunction(fn, **options)


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
    heads: list[Any] = field(default_factory=list, repr=False, compare=False)
    _functions: dict[tuple, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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
                f"length {self.input_length}; centre-crop/pad them to length "
                f"{self.input_length}",
                option="length",
            )

    def compiled(self, key: tuple, build: Callable[[], Any]) -> Any:
        """The compiled function ``key`` of :attr:`network`, made by ``build()`` once.

        Every attribution method keeps its ``tf.function`` here, so that it is traced
        once per scorer (and freed with it), whichever thread asks first.
        """
        with _FUNCTIONS_LOCK:
            fn = self._functions.get(key)
        if fn is None:
            fn = build()
            with _FUNCTIONS_LOCK:
                fn = self._functions.setdefault(key, fn)
        return fn

    def predict(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Scored outputs for ``X`` of shape ``(N, L, 4)`` -> ``(N, T)``."""
        return predict_batched(self, X, batch_size=batch_size)


def build_scorer(
    model: Any,
    *,
    tasks: list[int | str] | None = None,
    output_layer: str = "logit",
    sha256: str = "",
    max_tasks: int = DEFAULT_MAX_TASKS,
) -> Scorer:
    """Wrap a loaded Keras model so that it returns only the scored tasks.

    Parameters
    ----------
    model
        A Keras 3 model taking ``(batch, length, 4)``.
    tasks
        Task indices or names, head names, or ``HEAD:REDUCTION`` (``sum``, ``mean``,
        ``weighted``) to score (see :func:`dfimx.heads.select_tasks`); all outputs when
        None, unless there are more than ``max_tasks``.
    output_layer
        ``"logit"``: the pre-activation of a sigmoid head, the centred logit of a softmax
        head (class logit minus the mean logit), found through nested models,
        concatenated heads and averaged strands (default, as DeepLIFT recommends); an
        :class:`InputError` when it cannot be found unambiguously.  ``"output"``: the
        model output itself.
    """
    import keras

    if output_layer not in OUTPUT_LAYERS:
        raise InputError(f"output_layer must be one of {OUTPUT_LAYERS}, got {output_layer!r}",
                         option="output_layer")
    if len(model.inputs) != 1:
        raise InputError(f"model has {len(model.inputs)} inputs; dfimx needs exactly one")
    if output_layer == "logit" and getattr(model, "_dfimx_savedmodel", False):
        raise InputError(
            "a SavedModel is an opaque graph: its pre-activation logit cannot be found; "
            "score its output instead (output_layer='output')",
            option="output_layer",
        )
    heads = resolve_heads(model, output_layer)
    names, full = select_tasks(heads, list(tasks or ()), max_tasks=max_tasks)
    network = keras.Model(model.inputs[0], full, name=f"{model.name}_scored")
    length = model.inputs[0].shape[1]
    return Scorer(
        model=model,
        network=network,
        task_names=names,
        input_length=None if length is None else int(length),
        output_layer=output_layer,
        sha256=sha256,
        heads=heads,
    )


@dataclass(frozen=True)
class ModelSpec:
    """What the task graph carries instead of a model: path, hash and output choices."""

    path: str
    sha256: str
    output_layer: str = "logit"
    tasks: tuple[int | str, ...] = ()
    safe_mode: bool = True
    custom_objects: str | None = None

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike,
        *,
        output_layer: str = "logit",
        tasks: list[int | str] | tuple[int | str, ...] | None = None,
        safe_mode: bool = True,
        custom_objects: str | os.PathLike | None = None,
    ) -> ModelSpec:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{p}: model file not found")
        custom = None if custom_objects is None else str(Path(custom_objects).resolve())
        return cls(str(p.resolve()), file_sha256(p), output_layer, tuple(tasks or ()), safe_mode,
                   custom)

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
            model = load_keras_model(spec.path, safe_mode=spec.safe_mode,
                                     custom_objects=spec.custom_objects)
            scorer = build_scorer(
                model, tasks=list(spec.tasks), output_layer=spec.output_layer, sha256=spec.sha256
            )
            _CACHE[spec] = scorer
        return scorer


def model_spec_for(
    model: Any, *, output_layer: str = "logit", tasks: list[int | str] | None = None,
    safe_mode: bool = True, custom_objects: str | os.PathLike | None = None,
) -> ModelSpec:
    """A :class:`ModelSpec` for a path, or for an in-memory Keras model (saved to a temp file).

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((5, 4)); m = keras.Model(inp, keras.layers.Dense(1)(inp))
    >>> spec = model_spec_for(m, tasks=[0])
    >>> spec.path.endswith("model.keras"), spec.tasks, model_spec_for(spec) is spec
    (True, (0,), True)
    """
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, (str, os.PathLike)):
        return ModelSpec.from_path(model, output_layer=output_layer, tasks=tasks,
                                   safe_mode=safe_mode, custom_objects=custom_objects)
    tmp = Path(tempfile.mkdtemp(prefix="dfimx-model-")) / "model.keras"
    model.save(tmp)
    return ModelSpec.from_path(tmp, output_layer=output_layer, tasks=tasks, safe_mode=safe_mode,
                               custom_objects=custom_objects)


# --------------------------------------------------------------------------- batched calls

#: Every model call sees at least this many rows (or ``batch_size`` when smaller): small
#: batches take other CPU kernels whose float rounding differs, which would make results
#: depend on how sequences are chunked.
MIN_MODEL_BATCH = 64


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Slices of ``range(n)`` with at most ``batch_size`` rows each.

    Examples
    --------
    >>> list(batches(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    batch_size = max(1, int(batch_size))
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def pad_rows(a: np.ndarray, batch_size: int) -> np.ndarray:
    """Zero-pad the leading axis of a batch to ``min(batch_size, MIN_MODEL_BATCH)`` rows.

    Examples
    --------
    >>> pad_rows(np.ones((3, 2)), 256).shape, pad_rows(np.ones((3, 2)), 2).shape
    ((64, 2), (3, 2))
    """
    want = min(max(1, int(batch_size)), MIN_MODEL_BATCH)
    if len(a) >= want:
        return a
    pad = np.zeros((want - len(a),) + a.shape[1:], a.dtype)
    return np.concatenate([a, pad])


def predict_batched(scorer: Scorer, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Scored outputs ``(N, T)`` float32, in batches.

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(2)(keras.layers.Flatten()(inp))
    >>> predict_batched(build_scorer(keras.Model(inp, out)), np.zeros((3, 5, 4))).shape
    (3, 2)
    """
    import tensorflow as tf

    X = np.asarray(X, dtype=np.float32)
    network = scorer.network
    fn = scorer.compiled(("predict",), lambda: batch_function(
        lambda x: network(x, training=False)))
    out = np.empty((len(X), scorer.n_tasks), dtype=np.float32)
    for sl in batches(len(X), batch_size):
        b = sl.stop - sl.start
        out[sl] = fn(tf.constant(pad_rows(X[sl], batch_size))).numpy()[:b]
    return out
