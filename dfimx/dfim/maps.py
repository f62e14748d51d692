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

from dfimx.settings import REDUCTIONS

#: Scores smaller than this fraction of the magnitudes they are computed from are float32
#: round-off, not interactions, and are set to exactly 0 (in real and null runs alike).
ROUND_OFF_TOLERANCE = 1e-5
#: Bytes a temporary of these kernels may take before the work is split into blocks
#: (the (B, R, L, T) mask of ``max_abs``, the float64 running sums, the reverse scores).
TEMP_BUDGET = 64 << 20


def mask_source(delta: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Zero Δ inside each mutated source interval (in place), return it.

    Positions are absolute (0-based), so the mask is right wherever the source lies,
    including the window edges.  ``delta`` may be ``(B, L, ...)``: Δ per base or summed.
    """
    _fill_sources(delta, starts, ends, 0.0)
    return delta


def _fill_sources(a: np.ndarray, starts: np.ndarray, ends: np.ndarray, value: float) -> None:
    """``a[b, starts[b]:ends[b]] = value`` for every row ``b`` (in place).

    Single-base sources (a per-base scan) are set by one gather-free index; others
    through a ``(B, L)`` mask.

    Examples
    --------
    >>> a = np.ones((2, 4))
    >>> _fill_sources(a, np.array([1, 0]), np.array([2, 3]), 0.0); a.tolist()
    [[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]]
    """
    starts, ends = np.asarray(starts), np.asarray(ends)
    width = ends - starts
    if len(starts) and (width == 1).all() and starts.min() >= 0 and ends.max() <= a.shape[1]:
        a[np.arange(len(starts)), starts] = value
        return
    pos = np.arange(a.shape[1])
    inside = (pos[None, :] >= starts[:, None]) & (pos[None, :] < ends[:, None])
    a[inside] = value


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
    _fill_sources(per_position, starts, ends, np.nan)
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
    ``max_abs`` takes their maximum; one-position targets (a per-base scan) take the
    position's value directly.  Empty (padding) intervals give NaN.

    Examples
    --------
    >>> v = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
    >>> interval_scores(v, np.array([[0, 4]]), np.array([[2, 6]]), "sum")[0, :, 0].tolist()
    [1.0, 9.0]
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown score reduction {reduction!r}; choose one of {REDUCTIONS}")
    b, length, t = per_position.shape
    if b > 1 and np.ndim(resp_start) == 2 and resp_start.strides[0] == 0 \
            and np.ndim(resp_end) == 2 and resp_end.strides[0] == 0:
        # the same targets on every row (a broadcast row): indexed once, taken along axis 1
        return _shared_interval_scores(per_position, resp_start[0], resp_end[0], reduction)
    rs = np.clip(resp_start, 0, length).astype(np.intp, copy=False)
    re = np.clip(resp_end, 0, length).astype(np.intp, copy=False)
    empty = re <= rs
    r = resp_start.shape[1]
    out = np.empty((b, r, t), np.float32)
    if ((re - rs) <= 1).all():
        # one-position targets (a per-base scan): the score is the position's value
        # (empty targets take a valid index; they are set to NaN below)
        rows = np.arange(b)[:, None]
        vals = per_position[rows, np.minimum(rs, length - 1)]
        out[...] = vals
    elif reduction in ("sum", "abs_sum"):
        # running sums in float64, a block of rows at a time (rows are independent)
        step = max(1, TEMP_BUDGET // max(1, (length + 1) * t * 8))
        csum = np.zeros((min(b, step), length + 1, t))
        for lo in range(0, b, step):
            sl = slice(lo, min(b, lo + step))
            part = csum[: sl.stop - sl.start]
            np.cumsum(per_position[sl], axis=1, dtype=np.float64, out=part[:, 1:])
            rows = np.arange(sl.stop - sl.start)[:, None]
            out[sl] = part[rows, re[sl]] - part[rows, rs[sl]]
    else:
        step = max(1, TEMP_BUDGET // max(1, r * length * t * 4))
        pos = np.arange(length)
        for lo in range(0, b, step):
            sl = slice(lo, lo + step)
            inside = (pos >= rs[sl, :, None]) & (pos < re[sl, :, None])  # (b, R, L)
            vals = np.where(inside[..., None], per_position[sl, None], -np.inf)
            out[sl] = vals.max(axis=2)
    out[empty] = np.nan
    return out


def _shared_interval_scores(per_position: np.ndarray, resp_start: np.ndarray,
                            resp_end: np.ndarray, reduction: str) -> np.ndarray:
    """:func:`interval_scores` when every row has the targets ``resp_start/resp_end (R,)``.

    Examples
    --------
    >>> v = np.arange(12, dtype=np.float32).reshape(2, 6, 1)
    >>> _shared_interval_scores(v, np.array([1, 2]), np.array([2, 3]), "sum")[..., 0].tolist()
    [[1.0, 2.0], [7.0, 8.0]]
    """
    b, length, t = per_position.shape
    rs = np.clip(resp_start, 0, length).astype(np.intp, copy=False)
    re = np.clip(resp_end, 0, length).astype(np.intp, copy=False)
    empty = re <= rs
    if ((re - rs) <= 1).all():
        idx = np.minimum(rs, length - 1)
        if len(idx) and (np.diff(idx) == 1).all():  # a window of consecutive positions
            out = per_position[:, idx[0] : idx[-1] + 1].astype(np.float32)
        else:
            out = np.take(per_position, idx, axis=1).astype(np.float32, copy=False)
    elif reduction in ("sum", "abs_sum"):
        out = np.empty((b, len(rs), t), np.float32)
        step = max(1, TEMP_BUDGET // max(1, (length + 1) * t * 8))
        csum = np.zeros((min(b, step), length + 1, t))
        for lo in range(0, b, step):
            sl = slice(lo, min(b, lo + step))
            part = csum[: sl.stop - sl.start]
            np.cumsum(per_position[sl], axis=1, dtype=np.float64, out=part[:, 1:])
            out[sl] = part[:, re] - part[:, rs]
    else:
        return interval_scores(per_position, np.tile(resp_start, (b, 1)),
                               np.tile(resp_end, (b, 1)), reduction)
    out[:, empty] = np.nan
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
    """``(..., M, R)`` True where source and target intervals overlap.

    Examples
    --------
    >>> overlaps(np.array([0, 5]), np.array([3, 8]), np.array([2, 8]), np.array([4, 9])).tolist()
    [[True, False], [False, False]]
    """
    out = mut_start[..., :, None] < resp_end[..., None, :]
    out &= resp_start[..., None, :] < mut_end[..., :, None]
    return out


def reverse_pairs(
    mut_start: np.ndarray, mut_end: np.ndarray, mut_mask: np.ndarray,
    resp_start: np.ndarray, resp_end: np.ndarray, resp_mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For each (source i, target j): the indices of the reverse pair (j as source, i as target).

    Returns ``(rev_source, rev_target)``, both ``(n, M, R)``, -1 where the target is not
    also a source or the source not also a target (an element is matched by its interval).
    """
    same = mut_start[:, :, None] == resp_start[:, None, :]  # (n, M, R), built in place
    same &= mut_end[:, :, None] == resp_end[:, None, :]
    same &= mut_mask[:, :, None]
    same &= resp_mask[:, None, :]
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
    :func:`reverse_pairs`).  Both cells of a pair hold the same value.  Beside the result,
    memory stays under a fixed budget: a block of sources of one sequence at a time.

    Examples
    --------
    >>> st, en = np.array([[0, 5]]), np.array([[3, 8]])
    >>> m = np.ones((1, 2), bool)
    >>> sc = np.array([[[np.nan, 1.0], [3.0, np.nan]]])
    >>> symmetric_scores(sc, *reverse_pairs(st, en, m, st, en, m))[0].tolist()
    [[nan, 2.0], [2.0, nan]]
    """
    out = np.full(scores.shape, np.nan, scores.dtype)
    n, m, r = scores.shape[:3]
    rest = int(np.prod(scores.shape[3:], dtype=np.int64))
    # per source row: two index rows (intp), the mask, and the gathered reverse scores
    per_row = r * (2 * np.dtype(np.intp).itemsize + 1 + rest * scores.dtype.itemsize)
    step = max(1, TEMP_BUDGET // max(1, per_row))
    with np.errstate(invalid="ignore"):
        for i in range(n):
            for lo in range(0, m, step):
                sl = slice(lo, lo + step)
                ok = (rev_source[i, sl] >= 0) & (rev_target[i, sl] >= 0)  # (b, R)
                if not ok.any():
                    continue
                rev = scores[i][np.maximum(rev_source[i, sl], 0),
                                np.maximum(rev_target[i, sl], 0)]  # (b, R, ...)
                np.add(scores[i, sl], rev, out=rev)
                rev *= 0.5
                rev[~ok] = np.nan
                out[i, sl] = rev
    return out
