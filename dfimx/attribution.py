"""Attribution methods on array batches: ``(N, L, 4) -> (N, L, 4, T)``.

The kernels here work on numpy arrays and a :class:`dfimx.models.Scorer`; the
labeled, lazy layer lives in :mod:`dfimx.pipeline`.  Methods are registered in
:data:`METHODS` and selected by name through :func:`attribute`.

Methods: ``gradient``, ``grad_x_input``, ``integrated_gradients`` (expected IG when
several references are given), ``deeplift`` (Rescale rule), ``deepshap`` (DeepLIFT
averaged over dinucleotide-shuffled references), ``guided_backprop``, ``ism`` and the
deeplift-package backends ``deeplift-package:rescale``, ``deeplift-package:revealcancel``
and ``deeplift-package:genomics_default``.  See the README, "Attribution methods".

Examples
--------
>>> import numpy as np, keras
>>> from dfimx.models import build_scorer
>>> inp = keras.Input((8, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
>>> scorer = build_scorer(keras.Model(inp, out))
>>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (3, 8))]
>>> attribute(scorer, X, method="grad_x_input").shape
(3, 8, 4)
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfimx.errors import InputError

#: Reference kinds for methods that need one.
REFERENCES = ("zeros", "gc", "dinuc")
DEFAULT_GC = 0.46
#: Number of shuffled references per sequence when none is given for ``dinuc``.
DEFAULT_N_SHUFFLED_REFERENCES = 10
#: Relative summation-to-delta violation above which debug mode warns.
DEBUG_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Method:
    """An attribution method: ``kernel(scorer, X, references, batch_size, **opts)``.

    ``references`` has shape ``(N, K, L, 4)`` (K references per input) or is None for
    methods that take none; the kernel returns ``(N, L, 4, T)`` float32.
    ``default_reference`` is the reference kind :func:`attribute` uses when none is named.
    """

    name: str
    kernel: Callable[..., np.ndarray]
    uses_reference: bool
    doc: str
    default_reference: str | None = None


METHODS: dict[str, Method] = {}


def register_method(
    name: str, *, uses_reference: bool, doc: str, default_reference: str | None = None
) -> Callable:
    """Decorator registering an attribution kernel under ``name``."""

    def wrap(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        ref = (default_reference or "zeros") if uses_reference else None
        METHODS[name] = Method(name, fn, uses_reference, doc, ref)
        return fn

    return wrap


def _tf():
    import tensorflow as tf

    return tf


def _batches(n: int, batch_size: int) -> Iterator[slice]:
    batch_size = max(1, int(batch_size))
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


#: Every model call sees at least this many rows (or ``batch_size`` when smaller): small
#: batches take other CPU kernels whose float rounding differs, which would make results
#: depend on how sequences are chunked.
MIN_MODEL_BATCH = 64


def _pad_rows(a: np.ndarray, batch_size: int) -> np.ndarray:
    """Zero-pad the leading axis of a batch to ``min(batch_size, MIN_MODEL_BATCH)`` rows."""
    want = min(max(1, int(batch_size)), MIN_MODEL_BATCH)
    if len(a) >= want:
        return a
    pad = np.zeros((want - len(a),) + a.shape[1:], a.dtype)
    return np.concatenate([a, pad])


# --------------------------------------------------------------------------- diagnostics

_DIAG_LOCK = threading.Lock()
_LAST_DIAG: dict[str, Any] = {}


def _debug_enabled(debug: bool | None) -> bool:
    if debug is not None:
        return bool(debug)
    return os.environ.get("DFIMX_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def summation_delta_violation(
    contributions: np.ndarray, f_x: np.ndarray, f_ref: np.ndarray
) -> tuple[float, float]:
    """Largest absolute and relative violation of summation-to-delta.

    ``contributions`` is ``(B, L, 4, T)`` (per input/reference pair), ``f_x`` and ``f_ref``
    are ``(B, T)``.  The relative violation divides ``|sum(c) - (f(x) - f(r))|`` by
    ``max(|f(x) - f(r)|, sum(|c|))``, the scale of float rounding in the sum.

    Examples
    --------
    >>> c = np.ones((1, 2, 4, 1), np.float32)
    >>> summation_delta_violation(c, np.array([[9.0]]), np.array([[1.0]]))
    (0.0, 0.0)
    """
    c = np.asarray(contributions, np.float64)
    total = c.sum(axis=(1, 2))
    delta = np.asarray(f_x, np.float64) - np.asarray(f_ref, np.float64)
    err = np.abs(total - delta)
    scale = np.maximum(np.abs(delta), np.abs(c).sum(axis=(1, 2)))
    rel = err / np.maximum(scale, 1e-12)
    return float(err.max(initial=0.0)), float(rel.max(initial=0.0))


def _violation_from_sums(
    total: np.ndarray, abs_total: np.ndarray, f_x: np.ndarray, f_ref: np.ndarray
) -> tuple[float, float]:
    """:func:`summation_delta_violation` from the per-row sums of ``c`` and ``|c|``."""
    delta = np.asarray(f_x, np.float64) - np.asarray(f_ref, np.float64)
    err = np.abs(np.asarray(total, np.float64) - delta)
    rel = err / np.maximum(np.maximum(np.abs(delta), abs_total), 1e-12)
    return float(err.max(initial=0.0)), float(rel.max(initial=0.0))


def _record(method: str, abs_err: float, rel_err: float, n: int, debug: bool) -> None:
    with _DIAG_LOCK:
        _LAST_DIAG.clear()
        _LAST_DIAG.update(
            method=method, max_abs_violation=abs_err, max_rel_violation=rel_err, n_pairs=n
        )
    if debug and rel_err > DEBUG_TOLERANCE:
        warnings.warn(
            f"{method}: summation-to-delta violated by {rel_err:.3g} (relative), "
            f"{abs_err:.3g} (absolute)",
            RuntimeWarning,
            stacklevel=3,
        )


def last_summation_delta_violation() -> float | None:
    """Largest relative summation-to-delta violation of the last reference-based call.

    Set by ``deeplift``, ``deepshap`` and ``integrated_gradients`` (for IG it measures
    the completeness error of the Riemann sum); None before any such call.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((6, 4))
    >>> h = keras.layers.Conv1D(3, 3, activation="relu")(inp)
    >>> out = keras.layers.Dense(1)(keras.layers.Flatten()(h))
    >>> X = np.eye(4, dtype="float32")[np.random.default_rng(1).integers(0, 4, (2, 6))]
    >>> _ = attribute(keras.Model(inp, out), X, method="deeplift")
    >>> last_summation_delta_violation() < 1e-4
    True
    """
    with _DIAG_LOCK:
        return _LAST_DIAG.get("max_rel_violation")


def last_diagnostics() -> dict[str, Any]:
    """Diagnostics of the last reference-based call (method, violations, pair count)."""
    with _DIAG_LOCK:
        return dict(_LAST_DIAG)


# --------------------------------------------------------------------------- compiled fns

_FN_CACHE: dict[tuple, tuple[Any, Any]] = {}
_FN_LOCK = threading.Lock()


def _cached(network: Any, key: tuple, build: Callable[[], Any]) -> Any:
    full = (id(network), *key)
    with _FN_LOCK:
        hit = _FN_CACHE.get(full)
        if hit is not None and hit[0] is network:
            return hit[1]
    fn = build()
    with _FN_LOCK:
        _FN_CACHE[full] = (network, fn)
    return fn


def _task_gradients(tape: Any, y: Any, x: Any, n_tasks: int) -> Any:
    """``d y[:, t] / d x`` for every task ``t``, stacked on a last axis ``(N, ..., T)``."""
    tf = _tf()
    return tf.stack([
        tape.gradient(y, x, output_gradients=tf.broadcast_to(
            tf.one_hot(t, n_tasks, dtype=y.dtype), tf.shape(y)))
        for t in range(n_tasks)], axis=-1)


def _gradient_fn(scorer: Any) -> Any:
    """Compiled ``X -> (dY_t/dX for each task) (N, L, 4, T)`` for one scorer."""
    both = _gradient_output_fn(scorer)
    return lambda x: both(x)[0]


def _gradient_output_fn(scorer: Any, times_input: bool = False) -> Any:
    """Compiled ``X -> (gradients (N, L, 4, T), outputs (N, T))`` in one pass.

    With ``times_input`` the gradients are multiplied by ``X`` (gradient x input).
    """
    network = scorer.network
    n_tasks = scorer.n_tasks

    def build():
        tf = _tf()

        @tf.function(reduce_retracing=True)
        def fn(x):
            with tf.GradientTape(persistent=n_tasks > 1) as tape:
                tape.watch(x)
                y = network(x, training=False)
            g = _task_gradients(tape, y, x, n_tasks)
            return (g * x[..., None] if times_input else g), y

        return fn

    return _cached(network, ("gradient+output", n_tasks, times_input), build)


def gradients_and_outputs(
    scorer: Any, X: np.ndarray, *, batch_size: int = 256, times_input: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Input gradients ``(N, L, 4, T)`` and scored outputs ``(N, T)`` from one pass.

    With ``times_input`` the first array is gradient x input.
    """
    fn = _gradient_output_fn(scorer, times_input)
    X = np.asarray(X, dtype=np.float32)
    grads = np.empty(X.shape + (scorer.n_tasks,), dtype=np.float32)
    outs = np.empty((len(X), scorer.n_tasks), dtype=np.float32)
    for sl in _batches(len(X), batch_size):
        b = sl.stop - sl.start
        g, y = fn(_tf().constant(_pad_rows(X[sl], batch_size)))
        grads[sl], outs[sl] = g.numpy()[:b], y.numpy()[:b]
    return grads, outs


def attribute_and_predict(
    method: str,
    scorer: Any,
    X: np.ndarray,
    *,
    references: np.ndarray | None = None,
    batch_size: int = 256,
    **opts: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Attributions ``(N, L, 4, T)`` and scored outputs ``(N, T)`` of ``X``.

    Gradient, gradient x input, DeepLIFT and DeepSHAP take the outputs from the forward
    pass of the attribution itself; other methods run one more forward pass.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> s = build_scorer(keras.Model(inp, out)); X = np.ones((2, 5, 4), "float32")
    >>> imp, y = attribute_and_predict("grad_x_input", s, X)
    >>> bool(np.allclose(y, predict_batched(s, X), atol=1e-6))
    True
    """
    X = np.asarray(X, np.float32)
    if method in ("gradient", "grad_x_input"):
        return gradients_and_outputs(scorer, X, batch_size=batch_size,
                                     times_input=method == "grad_x_input")
    if method == "deeplift" or (method == "deepshap" and references is not None):
        if method == "deepshap":
            opts.setdefault("maxpool", "exact")
        return deeplift_scores(scorer, X, references, batch_size=batch_size,
                               **_pick(opts, "maxpool", "debug"), method=method,
                               return_outputs=True)
    imp = METHODS[method].kernel(scorer, X, references=references, batch_size=batch_size,
                                 **opts)
    return imp, predict_batched(scorer, X, batch_size=batch_size)


def _rules_fn(scorer: Any, rules: Any) -> Any:
    """Compiled attribution function of ``scorer`` under the modified backward ``rules``.

    ``"rescale"`` rules: ``(x, r) -> (contributions (N, L, 4, T), f(x), f(r), sum c,
    sum |c|)``, where ``r`` holds one reference per row of ``x`` or a single row shared by
    all of them, and the sums over positions and bases ``(N, T)`` serve the
    summation-to-delta check.  Other rules: ``x -> (gradients (N, L, 4, T), outputs (N, T))``.
    """
    from dfimx import _deeplift_graph as dg

    network = scorer.network
    n_tasks = scorer.n_tasks
    dg.validate(network, rules)

    def build():
        tf = _tf()

        @tf.function(reduce_retracing=True, autograph=False)
        def rescale(x, r):
            with tf.GradientTape(persistent=n_tasks > 1, watch_accessed_variables=False) as tape:
                tape.watch(x)
                yx, yr = dg.run_rescale(network, x, r, rules)
                yx = tf.reshape(yx, (tf.shape(x)[0], n_tasks))
                yr = tf.reshape(yr, (tf.shape(r)[0], n_tasks))
            contrib = _task_gradients(tape, yx, x, n_tasks) * (x - r)[..., None]
            # float32 sums: their rounding (~1e-6 of sum |c|) is far below the checked 1e-4
            return (contrib, yx, yr, tf.reduce_sum(contrib, axis=[1, 2]),
                    tf.reduce_sum(tf.abs(contrib), axis=[1, 2]))

        @tf.function(reduce_retracing=True, autograph=False)
        def other(x):
            with tf.GradientTape(persistent=n_tasks > 1) as tape:
                tape.watch(x)
                y = tf.reshape(dg.run_with_rules(network, x, rules), (tf.shape(x)[0], n_tasks))
            return _task_gradients(tape, y, x, n_tasks), y

        return rescale if rules.mode == "rescale" else other

    return _cached(network, ("rules", rules, n_tasks), build)


# --------------------------------------------------------------------------- public helpers


def gradients(scorer: Any, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Gradient of each scored task w.r.t. the input, ``(N, L, 4, T)``.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(2)(keras.layers.Flatten()(inp))
    >>> gradients(build_scorer(keras.Model(inp, out)), np.zeros((3, 5, 4))).shape
    (3, 5, 4, 2)
    """
    return gradients_and_outputs(scorer, X, batch_size=batch_size)[0]


def predict_batched(scorer: Any, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Scored outputs ``(N, T)`` float32, in batches.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(2)(keras.layers.Flatten()(inp))
    >>> predict_batched(build_scorer(keras.Model(inp, out)), np.zeros((3, 5, 4))).shape
    (3, 2)
    """
    X = np.asarray(X, dtype=np.float32)
    network = scorer.network
    fn = _cached(network, ("predict",), lambda: _tf().function(
        lambda x: network(x, training=False), reduce_retracing=True))
    out = np.empty((len(X), scorer.n_tasks), dtype=np.float32)
    for sl in _batches(len(X), batch_size):
        b = sl.stop - sl.start
        out[sl] = fn(_tf().constant(_pad_rows(X[sl], batch_size))).numpy()[:b]
    return out


def _default_references(X: np.ndarray, references: np.ndarray | None) -> np.ndarray:
    if references is None:
        return np.zeros((len(X), 1) + X.shape[1:], np.float32)
    refs = np.asarray(references, np.float32)
    if refs.ndim == 3:
        refs = refs[:, None]
    if refs.ndim != 4 or refs.shape[0] != len(X) or refs.shape[2:] != X.shape[1:]:
        raise InputError(
            f"references must have shape (N, K, L, 4) = ({len(X)}, K, {X.shape[1]}, "
            f"{X.shape[2]}), got {refs.shape}"
        )
    return refs


# --------------------------------------------------------------------------- kernels


@register_method("gradient", uses_reference=False, doc="Plain input gradient (saliency).")
def _gradient_kernel(scorer, X, references=None, batch_size=256, **_):
    return gradients(scorer, X, batch_size=batch_size)


@register_method(
    "grad_x_input", uses_reference=False, doc="Gradient times input (zero reference)."
)
def _grad_x_input_kernel(scorer, X, references=None, batch_size=256, **_):
    return gradients_and_outputs(scorer, X, batch_size=batch_size, times_input=True)[0]


def deeplift_scores(
    scorer: Any,
    X: np.ndarray,
    references: np.ndarray | None = None,
    *,
    batch_size: int = 256,
    maxpool: str = "gradient",
    debug: bool | None = None,
    method: str = "deeplift",
    return_outputs: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Native DeepLIFT (Rescale rule) contributions ``(N, L, 4, T)``, averaged over K.

    Parameters
    ----------
    scorer
        A :class:`dfimx.models.Scorer`.
    X
        One-hot inputs ``(N, L, 4)``.
    references
        ``(N, K, L, 4)`` or ``(N, L, 4)``; zeros when None.  Contributions are computed for
        each of the K references and averaged (DeepSHAP when they are shuffles of ``X``).
    batch_size
        Input/reference pairs per pass (a shared reference is evaluated once per pass).
    maxpool
        ``"gradient"`` (route to the input's argmax, as the deeplift package) or
        ``"exact"`` (keeps summation-to-delta exact for any reference).
    debug
        Warn when summation-to-delta is violated (default: env ``DFIMX_DEBUG``); the largest
        violation is always available from :func:`last_summation_delta_violation`.
    return_outputs
        Also return the scored outputs ``f(x)`` ``(N, T)`` of the same forward pass.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((6, 4)); h = keras.layers.Dense(3, activation="tanh")(inp)
    >>> scorer = build_scorer(keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(h))))
    >>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (2, 6))]
    >>> c = deeplift_scores(scorer, X)
    >>> bool(np.allclose(c.sum(axis=(1, 2)), scorer.predict(X) - scorer.predict(0 * X), atol=1e-5))
    True
    """
    from dfimx._deeplift_graph import Rules

    if maxpool not in ("gradient", "exact"):
        raise InputError(f"maxpool must be 'gradient' or 'exact', got {maxpool!r}")
    X = np.asarray(X, np.float32)
    refs = _default_references(X, references)
    n, k = refs.shape[:2]
    fn = _rules_fn(scorer, Rules("rescale", method, maxpool))
    tf = _tf()
    # one reference for every input (zeros, gc): its forward pass runs once per batch
    shared = bool(refs.size) and (refs.strides[0] == refs.strides[1] == 0
                                  or bool((refs == refs[:1, :1]).all()))
    if shared:
        k = 1
        xp, r_shared = X, tf.constant(refs[:1, 0])
    else:
        xp = np.repeat(X, k, axis=0) if k > 1 else X
        rp = refs.reshape((n * k,) + X.shape[1:])
    out = np.empty(xp.shape + (scorer.n_tasks,), np.float32)
    fx = np.empty((len(xp), scorer.n_tasks), np.float32)
    worst_abs = worst_rel = 0.0
    for sl in _batches(len(xp), batch_size):
        b = sl.stop - sl.start
        rb = r_shared if shared else tf.constant(_pad_rows(rp[sl], batch_size))
        contrib, y, yr, total, abs_total = fn(tf.constant(_pad_rows(xp[sl], batch_size)), rb)
        out[sl] = contrib.numpy()[:b]
        fx[sl] = y.numpy()[:b]
        yr = yr.numpy()
        a_err, r_err = _violation_from_sums(total.numpy()[:b], abs_total.numpy()[:b], fx[sl],
                                            yr if shared else yr[:b])
        worst_abs, worst_rel = max(worst_abs, a_err), max(worst_rel, r_err)
    _record(method, worst_abs, worst_rel, len(xp), _debug_enabled(debug))
    scores = out if k == 1 else out.reshape((n, k) + out.shape[1:]).mean(axis=1)
    if return_outputs:
        return scores, fx.reshape(n, k, -1)[:, 0]
    return scores


@register_method(
    "deeplift",
    uses_reference=True,
    default_reference="zeros",
    doc="DeepLIFT Rescale rule (native TensorFlow); contributions sum to f(x) - f(ref), "
    "averaged over the K references given.",
)
def _deeplift_kernel(scorer, X, references=None, batch_size=256, **opts):
    return deeplift_scores(scorer, X, references, batch_size=batch_size,
                           **_pick(opts, "maxpool", "debug"), method="deeplift")


@register_method(
    "deepshap",
    uses_reference=True,
    default_reference="dinuc",
    doc="DeepLIFT Rescale averaged over dinucleotide-shuffled references (DeepSHAP).",
)
def _deepshap_kernel(scorer, X, references=None, batch_size=256, **opts):
    if references is None:
        references = make_references(
            X, "dinuc", n_references=int(opts.get("n_references", DEFAULT_N_SHUFFLED_REFERENCES)),
            seed=int(opts.get("seed", 0)),
        )
    kw = {"maxpool": "exact", **_pick(opts, "maxpool", "debug")}
    return deeplift_scores(scorer, X, references, batch_size=batch_size, **kw, method="deepshap")


def _pick(opts: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: opts[k] for k in names if k in opts}


def integrated_gradients(
    scorer: Any,
    X: np.ndarray,
    references: np.ndarray | None = None,
    *,
    steps: int = 32,
    batch_size: int = 256,
    debug: bool | None = None,
) -> np.ndarray:
    """(Expected) integrated gradients ``(N, L, 4, T)``.

    ``(x - r) * mean_j grad f(r + a_j (x - r))`` with midpoints ``a_j = (j + 1/2) / steps``,
    averaged over the K references (expected IG).  The completeness error
    (``sum - (f(x) - f(r))``) is recorded for :func:`last_summation_delta_violation`.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> scorer = build_scorer(keras.Model(inp, out))
    >>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3, 0]]]
    >>> bool(np.allclose(integrated_gradients(scorer, X, steps=4),
    ...                  attribute(scorer, X, method="grad_x_input")[..., None], atol=1e-6))
    True
    """
    if int(steps) < 1:
        raise InputError(f"steps must be at least 1, got {steps}")
    steps = int(steps)
    X = np.asarray(X, np.float32)
    refs = _default_references(X, references)
    n, k = refs.shape[:2]
    xp = np.repeat(X, k, axis=0)
    rp = refs.reshape((n * k,) + X.shape[1:])
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
    fn = _gradient_fn(scorer)
    tf = _tf()
    out = np.empty(xp.shape + (scorer.n_tasks,), np.float32)
    pairs_per_batch = max(1, int(batch_size) // steps)
    for sl in _batches(len(xp), pairs_per_batch):
        diff = xp[sl] - rp[sl]
        path = rp[sl][:, None] + alphas[None, :, None, None] * diff[:, None]
        flat = path.reshape((-1,) + X.shape[1:])
        g = fn(tf.constant(_pad_rows(flat, batch_size))).numpy()[: len(flat)]
        g = g.reshape((sl.stop - sl.start, steps) + g.shape[1:]).mean(axis=1)
        out[sl] = g * diff[..., None]
    fx = predict_batched(scorer, xp, batch_size=batch_size)
    fr = predict_batched(scorer, rp, batch_size=batch_size)
    a_err, r_err = summation_delta_violation(out, fx, fr)
    _record("integrated_gradients", a_err, r_err, len(xp), False)
    if _debug_enabled(debug) and r_err > 0.05:
        warnings.warn(
            f"integrated_gradients: completeness error {r_err:.3g} (relative); "
            "increase steps",
            RuntimeWarning,
            stacklevel=2,
        )
    return out.reshape((n, k) + out.shape[1:]).mean(axis=1)


@register_method(
    "integrated_gradients",
    uses_reference=True,
    default_reference="zeros",
    doc="Integrated gradients (option steps, default 32); expected IG over K references.",
)
def _ig_kernel(scorer, X, references=None, batch_size=256, **opts):
    return integrated_gradients(scorer, X, references, batch_size=batch_size,
                                **_pick(opts, "steps", "debug"))


def guided_backprop(scorer: Any, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Guided backpropagation ``(N, L, 4, T)``: gradients with negative signal zeroed.

    At every nonlinearity the backward pass keeps only positive upstream signal
    (``f'(z) * max(dy, 0)``; for ReLU this is Springenberg et al.'s rule).

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((5, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> guided_backprop(build_scorer(keras.Model(inp, out)), np.ones((2, 5, 4))).shape
    (2, 5, 4, 1)
    """
    from dfimx._deeplift_graph import Rules

    X = np.asarray(X, np.float32)
    fn = _rules_fn(scorer, Rules("guided", "guided_backprop"))
    out = np.empty(X.shape + (scorer.n_tasks,), np.float32)
    tf = _tf()
    for sl in _batches(len(X), batch_size):
        b = sl.stop - sl.start
        out[sl] = fn(tf.constant(_pad_rows(X[sl], batch_size)))[0].numpy()[:b]
    return out


@register_method(
    "guided_backprop",
    uses_reference=False,
    doc="Guided backpropagation: gradients with negative signal zeroed at nonlinearities.",
)
def _guided_kernel(scorer, X, references=None, batch_size=256, **_):
    return guided_backprop(scorer, X, batch_size=batch_size)


def ism(scorer: Any, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """In-silico mutagenesis importance ``(N, L, 4, T)``.

    ``out[n, l, b, t] = f_t(x_n) - f_t(x_n with position l set to base b)``: positive when
    base ``b`` at ``l`` would lower the output (the observed base is better than ``b``).
    Zero at the observed base; at ``N`` positions (all-zero rows) all four entries compare
    with the unknown base.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((3, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> m = keras.Model(inp, out); X = np.eye(4, dtype="float32")[[[0, 1, 2]]]
    >>> s = ism(build_scorer(m), X)[0, :, :, 0]
    >>> w = m.layers[-1].get_weights()[0].reshape(3, 4)
    >>> bool(np.allclose(s, (w * X[0]).sum(1, keepdims=True) - w, atol=1e-5))
    True
    """
    X = np.asarray(X, np.float32)
    n, length, nb = X.shape
    t = scorer.n_tasks
    f0 = predict_batched(scorer, X, batch_size=batch_size)
    eye = np.eye(nb, dtype=np.float32)
    out = np.empty((n, length, nb, t), np.float32)
    cells = np.arange(length * nb)
    per_batch = max(1, int(batch_size))
    for i in range(n):
        for lo in range(0, len(cells), per_batch):
            c = cells[lo : lo + per_batch]
            pos, base = c // nb, c % nb
            mut = np.repeat(X[i][None], len(c), axis=0)
            mut[np.arange(len(c)), pos] = eye[base]
            fm = predict_batched(scorer, mut, batch_size=per_batch)
            out[i, pos, base] = f0[i][None, :] - fm
    out[X == 1] = 0.0
    return out


@register_method(
    "ism",
    uses_reference=False,
    doc="In-silico mutagenesis: f(x) - f(x with position l set to base b); 0 at the observed "
    "base.",
)
def _ism_kernel(scorer, X, references=None, batch_size=256, **_):
    return ism(scorer, X, batch_size=batch_size)


def _package_kernel(mode: str) -> Callable[..., np.ndarray]:
    def kernel(scorer, X, references=None, batch_size=256, **opts):
        from dfimx.deeplift_backend import scorer_package_scores

        return scorer_package_scores(scorer, X, references, mode=mode, batch_size=batch_size)

    return kernel


for _mode, _doc in (
    ("rescale", "deeplift package, Rescale rule (Sequential models; separate process)."),
    ("revealcancel", "deeplift package, RevealCancel rule (Sequential models; separate process)."),
    (
        "genomics_default",
        "deeplift package, GenomicsDefault: RevealCancel on dense layers, Rescale on conv "
        "layers (Sequential models; separate process).",
    ),
):
    register_method(f"deeplift-package:{_mode}", uses_reference=True, doc=_doc)(
        _package_kernel(_mode)
    )


# --------------------------------------------------------------------------- references


def make_references(
    X: np.ndarray,
    kind: str = "zeros",
    *,
    gc: float = DEFAULT_GC,
    n_references: int | None = None,
    seq_ids: list[str] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """References for each input, ``(N, K, L, 4)`` float32.

    ``zeros``: all-zero input; ``gc``: the expected one-hot of a background with GC
    fraction ``gc`` (``(1-gc)/2, gc/2, gc/2, (1-gc)/2``); both have ``K = 1`` whatever
    ``n_references`` says, and are read-only broadcast views of one row.  ``dinuc``:
    ``n_references`` (default 10) dinucleotide shuffles of each input, drawn from
    ``sequence_rng(seed, seq_id, "reference", k)`` so they do not depend on chunking
    (``seq_ids`` default to the row index).

    Examples
    --------
    >>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3, 3, 0]]]
    >>> make_references(X, "gc").shape, make_references(X, "dinuc", n_references=3).shape
    ((1, 1, 6, 4), (1, 3, 6, 4))
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise InputError(f"X must have shape (N, L, 4), got {X.shape}")
    n, length, nb = X.shape
    if kind == "zeros":
        return np.broadcast_to(np.zeros((1, 1, 1, 1), np.float32), (n, 1, length, nb))
    if kind == "gc":
        if not 0.0 <= gc <= 1.0:
            raise InputError(f"gc must lie between 0 and 1, got {gc}")
        at, cg = (1.0 - gc) / 2.0, gc / 2.0
        row = np.array([at, cg, cg, at], np.float32)
        # one reference for every input: a read-only broadcast view (no copy)
        return np.broadcast_to(row, (n, 1, length, nb))
    if kind == "dinuc":
        from dfimx.shuffle import dinucleotide_shuffle

        k = DEFAULT_N_SHUFFLED_REFERENCES if n_references is None else int(n_references)
        if k < 1:
            raise InputError(f"n_references must be at least 1, got {k}")
        return dinucleotide_shuffle(X, k, seq_ids=seq_ids, seed=seed, purpose="reference")
    raise InputError(f"unknown reference {kind!r}; choose one of {list(REFERENCES)}")


def attribute(
    model: Any,
    X: Any,
    *,
    method: str = "grad_x_input",
    reference: str | np.ndarray | None = None,
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
        One of :data:`METHODS` (e.g. ``"gradient"``, ``"grad_x_input"``, ``"deeplift"``,
        ``"deepshap"``, ``"integrated_gradients"``, ``"guided_backprop"``, ``"ism"``).
    reference
        Reference kind (``"zeros"``, ``"gc"``, ``"dinuc"``) or an array ``(N, K, L, 4)``;
        the method's default (``dinuc`` for deepshap, else ``zeros``) when None.
    task
        Task index or name, or a list of them; all tasks when None.
    **options
        ``gc``, ``n_references`` (for the reference) and method options: ``steps``
        (integrated gradients), ``maxpool`` and ``debug`` (deeplift, deepshap).

    Returns
    -------
    numpy.ndarray
        ``(N, L, 4)`` for one task, ``(N, L, 4, T)`` when several tasks are scored.

    Examples
    --------
    >>> import numpy as np, keras
    >>> inp = keras.Input((8, 4)); h = keras.layers.Conv1D(2, 3, activation="relu")(inp)
    >>> m = keras.Model(inp, keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(h)))
    >>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (2, 8))]
    >>> attribute(m, X, method="deepshap", seq_ids=["a", "b"], n_references=4).shape
    (2, 8, 4)
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
    ref_opts = _ref_opts(options)
    if spec.uses_reference:
        if reference is None:
            reference = spec.default_reference or "zeros"
        if isinstance(reference, str):
            refs = make_references(X, reference, seq_ids=seq_ids, seed=seed, **ref_opts)
        else:
            refs = np.asarray(reference, np.float32)
            if refs.ndim == 3:
                refs = refs[:, None]
    out = spec.kernel(scorer, X, references=refs, batch_size=batch_size, **options)
    return out[..., 0] if scorer.n_tasks == 1 else out


def _ref_opts(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options.pop(k) for k in ("gc", "n_references") if k in options}
