"""Attribution methods on array batches: ``(N, L, 4) -> (N, L, 4, T)``.

The kernels here work on numpy arrays and a :class:`dfimx.models.Scorer`; the
labeled, lazy layer lives in :mod:`dfimx.pipeline`.  Methods are registered in
:data:`METHODS` and selected by name through :func:`attribute`.

Examples
--------
>>> import numpy as np, keras
>>> from dfimx.models import build_scorer
>>> inp = keras.Input((8, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
>>> scorer = build_scorer(keras.Model(inp, out))
>>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (3, 8))]
>>> attribute(scorer, X, method="grad_x_input").shape
(3, 8, 4, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfimx.errors import InputError

#: Reference kinds for methods that need one.
REFERENCES = ("zeros", "gc")
DEFAULT_GC = 0.46


@dataclass(frozen=True)
class Method:
    """An attribution method: ``kernel(scorer, X, references, batch_size, **opts)``.

    ``references`` has shape ``(N, K, L, 4)`` (K references per input) or is None for
    methods that take none; the kernel returns ``(N, L, 4, T)`` float32.
    """

    name: str
    kernel: Callable[..., np.ndarray]
    uses_reference: bool
    doc: str


METHODS: dict[str, Method] = {}


def register_method(name: str, *, uses_reference: bool, doc: str) -> Callable:
    """Decorator registering an attribution kernel under ``name``."""

    def wrap(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        METHODS[name] = Method(name, fn, uses_reference, doc)
        return fn

    return wrap


def _tf():
    import tensorflow as tf

    return tf


_GRAD_FNS: dict[int, Any] = {}


def _gradient_fn(scorer: Any) -> Any:
    """Compiled ``X -> (dY_t/dX for each task) (N, L, 4, T)`` for one scorer."""
    key = id(scorer.network)
    fn = _GRAD_FNS.get(key)
    if fn is None:
        tf = _tf()
        network = scorer.network
        n_tasks = scorer.n_tasks

        @tf.function(reduce_retracing=True)
        def fn(x):
            grads = []
            with tf.GradientTape(persistent=n_tasks > 1) as tape:
                tape.watch(x)
                y = network(x, training=False)
                ys = [y[:, t] for t in range(n_tasks)]
            for yt in ys:
                grads.append(tape.gradient(yt, x))
            return tf.stack(grads, axis=-1)

        _GRAD_FNS[key] = fn
    return fn


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def gradients(scorer: Any, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Gradient of each scored task w.r.t. the input, ``(N, L, 4, T)``."""
    fn = _gradient_fn(scorer)
    X = np.asarray(X, dtype=np.float32)
    out = np.empty(X.shape + (scorer.n_tasks,), dtype=np.float32)
    for sl in _batches(len(X), batch_size):
        out[sl] = fn(_tf().constant(X[sl])).numpy()
    return out


def predict_batched(scorer: Any, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Scored outputs ``(N, T)`` float32, in batches."""
    X = np.asarray(X, dtype=np.float32)
    out = np.empty((len(X), scorer.n_tasks), dtype=np.float32)
    for sl in _batches(len(X), batch_size):
        out[sl] = np.asarray(scorer.network(X[sl], training=False), dtype=np.float32)
    return out


@register_method("gradient", uses_reference=False, doc="Plain input gradient (saliency).")
def _gradient_kernel(scorer, X, references=None, batch_size=256, **_):
    return gradients(scorer, X, batch_size=batch_size)


@register_method(
    "grad_x_input", uses_reference=False, doc="Gradient times input (zero reference)."
)
def _grad_x_input_kernel(scorer, X, references=None, batch_size=256, **_):
    return gradients(scorer, X, batch_size=batch_size) * np.asarray(X, np.float32)[..., None]


def make_references(
    X: np.ndarray,
    kind: str = "zeros",
    *,
    gc: float = DEFAULT_GC,
    n_references: int = 1,
    seq_ids: list[str] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """References for each input, ``(N, K, L, 4)`` float32.

    ``zeros``: all-zero input; ``gc``: the expected one-hot of a background with GC
    fraction ``gc`` (``(1-gc)/2, gc/2, gc/2, (1-gc)/2``).  Sequence-dependent kinds
    are keyed by ``seq_ids`` and ``seed`` so they do not depend on chunking.
    """
    X = np.asarray(X, dtype=np.float32)
    n, length, nb = X.shape
    if kind == "zeros":
        return np.zeros((n, 1, length, nb), np.float32)
    if kind == "gc":
        at, cg = (1.0 - gc) / 2.0, gc / 2.0
        row = np.array([at, cg, cg, at], np.float32)
        return np.broadcast_to(row, (n, 1, length, nb)).copy()
    raise InputError(f"unknown reference {kind!r}; choose one of {list(REFERENCES)}")


def attribute(
    model: Any,
    X: Any,
    *,
    method: str = "grad_x_input",
    reference: str | np.ndarray = "zeros",
    task: int | str | list[int | str] | None = None,
    batch_size: int = 256,
    output_layer: str = "logit",
    seq_ids: list[str] | None = None,
    seed: int = 0,
    **options: Any,
) -> np.ndarray:
    """Attribution scores of ``X`` for the scored tasks of ``model``.

    Parameters
    ----------
    model
        A Keras model, a path to one, or a :class:`dfimx.models.Scorer`.
    X
        One-hot sequences ``(N, L, 4)``, or a dataset with ``seq_onehot``.
    method
        One of :data:`METHODS` (e.g. ``"gradient"``, ``"grad_x_input"``).
    reference
        Reference kind (``"zeros"``, ``"gc"``, ...) or an array ``(N, K, L, 4)``.
    task
        Task index or name, or a list of them; all tasks when None.

    Returns
    -------
    numpy.ndarray
        ``(N, L, 4)`` for one task, ``(N, L, 4, T)`` when several tasks are scored.
    """
    from dfimx.models import ModelSpec, Scorer, build_scorer

    tasks = None if task is None else (list(task) if isinstance(task, (list, tuple)) else [task])
    if isinstance(model, Scorer):
        scorer = model
    elif isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        scorer = ModelSpec.from_path(model, output_layer=output_layer, tasks=tasks).load()
    else:
        scorer = build_scorer(model, tasks=tasks, output_layer=output_layer)
    if hasattr(X, "data_vars"):
        if seq_ids is None and "seq_id" in X:
            seq_ids = [str(s) for s in X["seq_id"].values]
        X = X["seq_onehot"].values
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise InputError(f"X must have shape (N, L, 4), got {X.shape}")
    scorer.check_input(X.shape[1], X.shape[2])
    if method not in METHODS:
        raise InputError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
    spec = METHODS[method]
    refs = None
    if spec.uses_reference:
        if isinstance(reference, str):
            refs = make_references(X, reference, seq_ids=seq_ids, seed=seed, **_ref_opts(options))
        else:
            refs = np.asarray(reference, np.float32)
            if refs.ndim == 3:
                refs = refs[:, None]
    out = spec.kernel(scorer, X, references=refs, batch_size=batch_size, **options)
    return out[..., 0] if scorer.n_tasks == 1 else out


def _ref_opts(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options.pop(k) for k in ("gc", "n_references") if k in options}
