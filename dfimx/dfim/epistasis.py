"""Exact double-mutant epistasis between sequence elements (the check DFIM approximates).

For a source element ``a`` and a target element ``b`` of a sequence ``x``::

    epistasis(a, b) = f(x) - f(x - a) - f(x - b) + f(x - a - b)

where ``x - a`` is ``x`` with element ``a`` replaced as in DFIM's mutation modes: by the
expected one-hot of a GC background (``replacement="gc"``, the default, GC fraction 0.46) or
by zeros (``replacement="zeros"``).  It is zero when the two elements act
additively on the output, positive when they are synergistic (each needs the other: removing
both costs less than the sum of removing each one), negative when they are redundant.  This is
the orientation of DFIM's ``sum`` score: when the importance of a target element sums to
``f(x) - f(x - b)`` (as DeepLIFT's summation-to-delta gives with the mutation as reference),
the score of source ``a`` on target ``b`` is exactly this epistasis.

Examples
--------
>>> import numpy as np, keras
>>> from dfimx.models import build_scorer
>>> inp = keras.Input((6, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
>>> scorer = build_scorer(keras.Model(inp, out))
>>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3, 0, 1]]]
>>> e = double_mutant_epistasis(scorer, X, [[0]], [[2]], [[2, 4]], [[4, 6]])
>>> e.shape, bool(np.allclose(e, 0, atol=1e-5))      # a linear model has no epistasis
((1, 1, 2, 1), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dfimx.alphabet import DEFAULT_GC, gc_background
from dfimx.attribution.mutagenesis import predict_edits
from dfimx.errors import InputError
from dfimx.models import Scorer, build_scorer, predict_batched

#: Element replacements of the exact check (the deterministic mutation modes).
REPLACEMENTS = ("zeros", "gc")


def _replacement_row(replacement: str, gc: float) -> np.ndarray:
    if replacement == "zeros":
        return np.zeros(4, np.float32)
    if replacement == "gc":
        if not 0.0 <= gc <= 1.0:
            raise InputError(f"gc must lie between 0 and 1, got {gc}", option="gc")
        return gc_background(gc)
    raise InputError(f"unknown replacement {replacement!r}; choose one of {list(REPLACEMENTS)}",
                     option="mutation")


def _intervals(name: str, start: Any, end: Any, mask: Any, n: int, length: int):
    s = np.asarray(start, np.int64)
    e = np.asarray(end, np.int64)
    if s.ndim == 1:
        s, e = s[:, None], e[:, None]
    if s.shape != e.shape or s.ndim != 2 or s.shape[0] != n:
        raise InputError(
            f"{name} starts/ends must both have shape (N, M) with N = {n}, got {s.shape} and "
            f"{e.shape}"
        )
    m = np.ones(s.shape, bool) if mask is None else np.asarray(mask, bool)
    if m.shape != s.shape:
        raise InputError(f"{name} mask has shape {m.shape}, expected {s.shape}")
    bad = m & ((s < 0) | (e > length) | (s > e))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"{name} interval [{s[i, j]}, {e[i, j]}) of sequence {i} lies outside [0, {length}]"
        )
    return s, e, m


def double_mutant_epistasis(
    scorer: Any,
    X: np.ndarray,
    source_start: Any,
    source_end: Any,
    target_start: Any,
    target_end: Any,
    *,
    source_mask: Any = None,
    target_mask: Any = None,
    replacement: str = "gc",
    gc: float = DEFAULT_GC,
    batch_size: int = 256,
    fast: bool = True,
) -> np.ndarray:
    """Exact double-mutant epistasis ``(N, M, R, T)`` for element pairs.

    Parameters
    ----------
    scorer
        A :class:`dfimx.models.Scorer` (or a Keras model, wrapped with the default output).
    X
        One-hot sequences ``(N, L, 4)``.
    source_start, source_end
        ``(N, M)`` 0-based half-open source intervals (padded per sequence).
    target_start, target_end
        ``(N, R)`` target intervals.
    source_mask, target_mask
        ``(N, M)`` / ``(N, R)`` booleans, True for real elements (all True when None).
    replacement
        ``"gc"`` (the default, as DFIM's default mutation) or ``"zeros"``: what an element
        is replaced with.
    gc
        GC fraction of the ``"gc"`` background.
    batch_size
        Model batch size.
    fast
        Recompute only the positions each replacement reaches, on convolutional models
        (fast ISM, :func:`dfimx.attribution.mutagenesis.predict_edits`); the same numbers
        as full forward passes to float32 round-off.

    Returns
    -------
    numpy.ndarray
        ``f(x) - f(x-a) - f(x-b) + f(x-a-b)`` float32, NaN where either element is padding
        or the two overlap.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((4, 4))
    >>> out = keras.layers.Dense(1, activation="relu")(keras.layers.Flatten()(inp))
    >>> scorer = build_scorer(keras.Model(inp, out))
    >>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3]]]
    >>> double_mutant_epistasis(scorer, X, [[0, 0]], [[1, 2]], [[1]], [[2]]).shape
    (1, 2, 1, 1)
    """
    if not isinstance(scorer, Scorer):
        scorer = build_scorer(scorer)
    X = np.asarray(X, np.float32)
    if X.ndim != 3:
        raise InputError(f"X must have shape (N, L, 4), got {X.shape}")
    n, length, nb = X.shape
    row = _replacement_row(replacement, gc)
    ss, se, sm = _intervals("source", source_start, source_end, source_mask, n, length)
    ts, te, tm = _intervals("target", target_start, target_end, target_mask, n, length)
    m, r, t = ss.shape[1], ts.shape[1], scorer.n_tasks
    pos = np.arange(length)
    a_in = (pos >= ss[..., None]) & (pos < se[..., None])  # (N, M, L)
    b_in = (pos >= ts[..., None]) & (pos < te[..., None])  # (N, R, L)
    lo = np.maximum(ss[:, :, None], ts[:, None, :])
    overlap = lo < np.minimum(se[:, :, None], te[:, None, :])
    valid = sm[:, :, None] & tm[:, None, :] & ~overlap

    def mutate(seq: np.ndarray, region: np.ndarray) -> np.ndarray:
        return np.where(region[..., None], row, seq)

    f0 = predict_batched(scorer, X, batch_size=batch_size)

    def single(start, end, region, mask):  # f(x - a) for every real element a: (N, M, T)
        f = np.full(start.shape + (t,), np.nan, np.float32)
        si, ei = np.nonzero(mask)
        for lo in range(0, len(si), chunk):
            s_, e_ = si[lo : lo + chunk], ei[lo : lo + chunk]
            f[s_, e_] = predict_edits(scorer, X, s_, mutate(X[s_], region[s_, e_]),
                                      start[s_, e_, None], end[s_, e_, None],
                                      batch_size=batch_size, fast=fast)
        return f

    chunk = max(1, int(batch_size)) * 16
    fa = single(ss, se, a_in, sm)
    fb = single(ts, te, b_in, tm)
    out = np.full((n, m, r, t), np.nan, np.float32)
    si, mi, ri = np.nonzero(valid)
    for lo in range(0, len(si), chunk):
        s_, m_, r_ = si[lo : lo + chunk], mi[lo : lo + chunk], ri[lo : lo + chunk]
        both = mutate(X[s_], a_in[s_, m_] | b_in[s_, r_])
        fab = predict_edits(scorer, X, s_, both, np.stack([ss[s_, m_], ts[s_, r_]], axis=1),
                            np.stack([se[s_, m_], te[s_, r_]], axis=1),
                            batch_size=batch_size, fast=fast)
        out[s_, m_, r_] = (
            f0[s_].astype(np.float64) - fa[s_, m_] - fb[s_, r_] + fab
        ).astype(np.float32)
    return out
