"""Delta profiles and feature interaction scores (array kernels).

Shapes: ``B`` (sequence, source) pairs, ``L`` positions, 4 bases, ``T`` tasks,
``R`` target elements.

Examples
--------
>>> import numpy as np
>>> d = np.ones((1, 6, 4, 1), np.float32)
>>> d = mask_source(d, np.array([2]), np.array([4]))
>>> values = position_values(d, "sum")                  # (B, L, T): summed over bases
>>> interval_scores(values, np.array([[0, 4]]), np.array([[2, 6]]), "sum")[0, :, 0].tolist()
[8.0, 8.0]
"""

from __future__ import annotations

import numpy as np

REDUCTIONS = ("sum", "abs_sum", "max_abs")
#: Scores smaller than this fraction of the magnitudes they are computed from are float32
#: round-off, not interactions, and are set to exactly 0 (in real and null runs alike).
ROUND_OFF_TOLERANCE = 1e-5
#: Bytes of the (B, R, L, T) temporary allowed for ``max_abs`` before splitting.
_MAX_TEMP = 64 << 20


def mask_source(delta: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Zero Δ inside each mutated source interval (in place), return it.

    Positions are absolute (0-based), so the mask is right wherever the source lies,
    including the window edges.
    """
    pos = np.arange(delta.shape[1])
    inside = (pos[None, :] >= starts[:, None]) & (pos[None, :] < ends[:, None])
    delta[inside] = 0.0
    return delta


def sum_over_bases(a: np.ndarray, *, absolute: bool = False) -> np.ndarray:
    """``a (B, L, 4, T)`` summed (``absolute``: in absolute value) over bases, ``(B, L, T)``.

    The bases are added as slices: numpy reduces a short middle axis element by element,
    about 15× slower on these shapes.

    Examples
    --------
    >>> a = np.arange(16.0).reshape(1, 2, 4, 2) - 8
    >>> bool(np.array_equal(sum_over_bases(a), a.sum(axis=2)))
    True
    >>> bool(np.array_equal(sum_over_bases(a, absolute=True), np.abs(a).sum(axis=2)))
    True
    """
    out = np.abs(a[:, :, 0]) if absolute else a[:, :, 0].copy()
    for b in range(1, a.shape[2]):
        out += np.abs(a[:, :, b]) if absolute else a[:, :, b]
    return out


def profile_from_sums(per_position: np.ndarray, starts: np.ndarray, ends: np.ndarray
                      ) -> np.ndarray:
    """``interaction_profile`` from Δ summed over bases ``(B, L, T)``: NaN inside the source
    (set in place)."""
    pos = np.arange(per_position.shape[1])
    inside = (pos[None, :] >= starts[:, None]) & (pos[None, :] < ends[:, None])
    per_position[inside] = np.nan
    return per_position


def position_values(delta: np.ndarray, reduction: str = "sum") -> np.ndarray:
    """Δ ``(B, L, 4, T)`` summed over bases, signed for ``sum``, absolute otherwise."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown score reduction {reduction!r}; choose one of {REDUCTIONS}")
    return sum_over_bases(delta, absolute=reduction != "sum")


def interval_scores(
    per_position: np.ndarray, resp_start: np.ndarray, resp_end: np.ndarray,
    reduction: str = "sum",
) -> np.ndarray:
    """Scores ``(B, R, T)`` from :func:`position_values` ``(B, L, T)`` of each target.

    ``sum``/``abs_sum`` add the values over the target's positions (in float64),
    ``max_abs`` takes their maximum.  Empty (padding) intervals give NaN.

    Examples
    --------
    >>> v = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
    >>> interval_scores(v, np.array([[0, 4]]), np.array([[2, 6]]), "sum")[0, :, 0].tolist()
    [1.0, 9.0]
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown score reduction {reduction!r}; choose one of {REDUCTIONS}")
    b, length, t = per_position.shape
    rs = np.clip(resp_start, 0, length).astype(np.intp)
    re = np.clip(resp_end, 0, length).astype(np.intp)
    empty = re <= rs
    if reduction in ("sum", "abs_sum"):
        csum = np.zeros((b, length + 1, t))
        np.cumsum(per_position, axis=1, dtype=np.float64, out=csum[:, 1:])
        rows = np.arange(b)[:, None]
        out = (csum[rows, re] - csum[rows, rs]).astype(np.float32)
    else:
        r = resp_start.shape[1]
        out = np.empty((b, r, t), np.float32)
        step = max(1, _MAX_TEMP // max(1, r * length * t * 4))
        pos = np.arange(length)
        for lo in range(0, b, step):
            sl = slice(lo, lo + step)
            inside = (pos >= rs[sl, :, None]) & (pos < re[sl, :, None])  # (b, R, L)
            vals = np.where(inside[..., None], per_position[sl, None], -np.inf)
            out[sl] = vals.max(axis=2)
    out[empty] = np.nan
    return out


def zero_round_off(scores: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Set ``|scores| <= ROUND_OFF_TOLERANCE * scale`` to 0 (in place) and return them.

    ``scale`` is the magnitude the score is a difference of (e.g. the summed absolute
    importance of the target in the original and the mutant): float32 differences below
    that fraction of it are round-off.

    Examples
    --------
    >>> zero_round_off(np.array([1e-7, 0.5]), np.array([1.0, 1.0])).tolist()
    [0.0, 0.5]
    """
    small = np.abs(scores) <= ROUND_OFF_TOLERANCE * scale
    scores[small] = 0.0
    return scores


def overlaps(
    mut_start: np.ndarray, mut_end: np.ndarray, resp_start: np.ndarray, resp_end: np.ndarray
) -> np.ndarray:
    """``(..., M, R)`` True where source and target intervals overlap."""
    return (mut_start[..., :, None] < resp_end[..., None, :]) & (
        resp_start[..., None, :] < mut_end[..., :, None]
    )


def reverse_pairs(
    mut_start: np.ndarray, mut_end: np.ndarray, mut_mask: np.ndarray,
    resp_start: np.ndarray, resp_end: np.ndarray, resp_mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For each (source i, target j): the indices of the reverse pair (j as source, i as target).

    Returns ``(rev_source, rev_target)``, both ``(n, M, R)``, -1 where the target is not
    also a source or the source not also a target (an element is matched by its interval).
    """
    same = ((mut_start[:, :, None] == resp_start[:, None, :])
            & (mut_end[:, :, None] == resp_end[:, None, :])
            & mut_mask[:, :, None] & resp_mask[:, None, :])  # (n, M, R)
    m2r = np.where(same.any(axis=2), same.argmax(axis=2), -1)  # source i as a target
    r2m = np.where(same.any(axis=1), same.argmax(axis=1), -1)  # target j as a source
    shape = same.shape
    return (np.broadcast_to(r2m[:, None, :], shape), np.broadcast_to(m2r[:, :, None], shape))


def symmetric_scores(scores: np.ndarray, rev_source: np.ndarray, rev_target: np.ndarray
                     ) -> np.ndarray:
    """Mean of the scores of ``a -> b`` and ``b -> a``, ``(n, M, R, ...)``.

    Exact epistasis ``f(x) - f(x-a) - f(x-b) + f(x-a-b)`` is symmetric in ``a`` and ``b``;
    DFIM estimates it from either side, and the mean of the two estimates follows it more
    closely than either.  NaN where either direction is missing (see
    :func:`reverse_pairs`).  Both cells of a pair hold the same value.

    Examples
    --------
    >>> st, en = np.array([[0, 5]]), np.array([[3, 8]])
    >>> m = np.ones((1, 2), bool)
    >>> sc = np.array([[[np.nan, 1.0], [3.0, np.nan]]])
    >>> symmetric_scores(sc, *reverse_pairs(st, en, m, st, en, m))[0].tolist()
    [[nan, 2.0], [2.0, nan]]
    """
    ok = (rev_source >= 0) & (rev_target >= 0)
    rows = np.arange(scores.shape[0])[:, None, None]
    rev = scores[rows, np.maximum(rev_source, 0), np.maximum(rev_target, 0)]
    ok = ok.reshape(ok.shape + (1,) * (scores.ndim - 3))
    with np.errstate(invalid="ignore"):
        return np.where(ok, 0.5 * (scores + rev), np.nan).astype(scores.dtype)
