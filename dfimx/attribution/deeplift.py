"""Native DeepLIFT (Rescale rule) and DeepSHAP on TensorFlow.

The backward rules come from :mod:`dfimx.attribution.rules`; this module compiles them
per scorer, batches input/reference pairs (a reference shared by every input, ``zeros``
or ``gc``, goes through the network once per batch), averages over the K references and
records the summation-to-delta check of every call
(:mod:`dfimx.attribution.diagnostics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dfimx.attribution.backprop import task_gradients, vectorize_tasks
from dfimx.attribution.diagnostics import debug_enabled, record, violation_from_sums
from dfimx.attribution.references import (
    DEFAULT_N_SHUFFLED_REFERENCES,
    as_references,
    make_references,
)
from dfimx.attribution.registry import pick_options, register_method
from dfimx.attribution.rules import Rules, run_rescale, validate
from dfimx.errors import InputError
from dfimx.models import Scorer, batch_function, batches, pad_rows, predict_batched

#: Max-pooling rule of DeepLIFT and DeepSHAP.  ``"exact"`` keeps summation-to-delta (to
#: float rounding) where routing the gradient to the argmax (the deeplift package's
#: rule) breaks it by ~10% on Basset-style models; against exact double-mutant
#: epistasis on Basset-style models the two rank pairs alike (Pearson 0.31 / 0.34 exact,
#: 0.33 / 0.37 routed) and ``"exact"`` has the smaller error (README, "Attribution on
#: real architectures").
DEFAULT_MAXPOOL = "exact"


def _rescale_fn(scorer: Scorer, rules: Rules) -> Any:
    """Compiled ``(x, r) -> (contributions (N, L, 4, T), f(x), f(r), sum c, sum |c|)``.

    ``r`` holds one reference per row of ``x`` or a single row shared by all of them; the
    sums over positions and bases ``(N, T)`` serve the summation-to-delta check.
    """
    network = scorer.network
    n_tasks = scorer.n_tasks
    validate(network, rules)
    vec = vectorize_tasks(network, n_tasks)

    def build():
        import tensorflow as tf

        @batch_function(autograph=False)
        def rescale(x, r):
            with tf.GradientTape(persistent=n_tasks > 1, watch_accessed_variables=False) as tape:
                tape.watch(x)
                yx, yr = run_rescale(network, x, r, rules)
                yx = tf.reshape(yx, (tf.shape(x)[0], n_tasks))
                yr = tf.reshape(yr, (-1, n_tasks))
            contrib = task_gradients(tape, yx, x, n_tasks, vec) * (x - r)[..., None]
            # float32 sums: their rounding (~1e-6 of sum |c|) is far below the checked 1e-4
            return (contrib, yx, yr, tf.reduce_sum(contrib, axis=[1, 2]),
                    tf.reduce_sum(tf.abs(contrib), axis=[1, 2]))

        return rescale

    return scorer.compiled(("rules", rules, n_tasks), build)


def deeplift_scores(
    scorer: Scorer,
    X: np.ndarray,
    references: np.ndarray | None = None,
    *,
    batch_size: int = 256,
    maxpool: str = DEFAULT_MAXPOOL,
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
        ``"exact"`` (default: distributes the exact difference between the argmax of the
        input and of the reference, so summation-to-delta holds for any reference) or
        ``"gradient"`` (route to the input's argmax, as the deeplift package).
    debug
        Warn when summation-to-delta is violated (default: env ``DFIMX_DEBUG``); the largest
        violation is always available from
        :func:`~dfimx.attribution.diagnostics.last_summation_delta_violation`.
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
    import tensorflow as tf

    if maxpool not in ("gradient", "exact"):
        raise InputError(f"maxpool must be 'gradient' or 'exact', got {maxpool!r}")
    X = np.asarray(X, np.float32)
    refs = as_references(X, references)
    n, k = refs.shape[:2]
    fn = _rescale_fn(scorer, Rules("rescale", method, maxpool))
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
    for sl in batches(len(xp), batch_size):
        b = sl.stop - sl.start
        rb = r_shared if shared else tf.constant(pad_rows(rp[sl], batch_size))
        contrib, y, yr, total, abs_total = fn(tf.constant(pad_rows(xp[sl], batch_size)), rb)
        out[sl] = contrib.numpy()[:b]
        fx[sl] = y.numpy()[:b]
        yr = yr.numpy()
        a_err, r_err = violation_from_sums(total.numpy()[:b], abs_total.numpy()[:b], fx[sl],
                                           yr if shared and len(yr) == 1 else yr[:b])
        worst_abs, worst_rel = max(worst_abs, a_err), max(worst_rel, r_err)
    record(method, worst_abs, worst_rel, len(xp), debug_enabled(debug))
    scores = out if k == 1 else out.reshape((n, k) + out.shape[1:]).mean(axis=1)
    if return_outputs:
        return scores, fx.reshape(n, k, -1)[:, 0]
    return scores


def _deeplift(scorer, X, references=None, batch_size=256, return_outputs=False, **opts):
    return deeplift_scores(scorer, X, references, batch_size=batch_size,
                           **pick_options(opts, "maxpool", "debug"), method="deeplift",
                           return_outputs=return_outputs)


def _deeplift_with_outputs(scorer, X, references=None, batch_size=256, **opts):
    return _deeplift(scorer, X, references, batch_size, return_outputs=True, **opts)


@register_method(
    "deeplift",
    uses_reference=True,
    default_reference="zeros",
    doc="DeepLIFT Rescale rule (native TensorFlow); contributions sum to f(x) - f(ref), "
    "averaged over the K references given.",
    with_outputs=_deeplift_with_outputs,
)
def _deeplift_kernel(scorer, X, references=None, batch_size=256, **opts):
    return _deeplift(scorer, X, references, batch_size, **opts)


def _deepshap(scorer, X, references, batch_size, return_outputs=False, **opts):
    kw = {"maxpool": DEFAULT_MAXPOOL, **pick_options(opts, "maxpool", "debug")}
    return deeplift_scores(scorer, X, references, batch_size=batch_size, **kw,
                           method="deepshap", return_outputs=return_outputs)


def _deepshap_with_outputs(scorer, X, references=None, batch_size=256, **opts):
    if references is None:  # shuffles drawn here: the outputs come from one more pass
        imp = _deepshap_kernel(scorer, X, references, batch_size, **opts)
        return imp, predict_batched(scorer, X, batch_size=batch_size)
    return _deepshap(scorer, X, references, batch_size, return_outputs=True, **opts)


@register_method(
    "deepshap",
    uses_reference=True,
    default_reference="dinuc",
    doc="DeepLIFT Rescale averaged over dinucleotide-shuffled references (DeepSHAP).",
    with_outputs=_deepshap_with_outputs,
)
def _deepshap_kernel(scorer, X, references=None, batch_size=256, **opts):
    if references is None:
        references = make_references(
            X, "dinuc", n_references=int(opts.get("n_references", DEFAULT_N_SHUFFLED_REFERENCES)),
            seed=int(opts.get("seed", 0)),
        )
    return _deepshap(scorer, X, references, batch_size, **opts)
