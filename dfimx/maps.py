"""Delta profiles and feature interaction scores (array kernels).

Shapes: ``B`` (sequence, source) pairs, ``L`` positions, 4 bases, ``T`` tasks,
``R`` target elements.

Examples
--------
>>> import numpy as np
>>> d = np.ones((1, 6, 4, 1), np.float32)
>>> d = mask_source(d, np.array([2]), np.array([4]))
>>> reduce_scores(d, np.array([[0, 4]]), np.array([[2, 6]]), "sum")[0, :, 0].tolist()
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


def profile(delta: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``interaction_profile``: Δ summed over bases, NaN inside the source, ``(B, L, T)``."""
    prof = delta.sum(axis=2)
    pos = np.arange(delta.shape[1])
    inside = (pos[None, :] >= starts[:, None]) & (pos[None, :] < ends[:, None])
    prof[inside] = np.nan
    return prof


def reduce_scores(
    delta: np.ndarray, resp_start: np.ndarray, resp_end: np.ndarray, reduction: str = "sum"
) -> np.ndarray:
    """Reduce Δ ``(B, L, 4, T)`` over each target interval to scores ``(B, R, T)``.

    ``sum``: signed Δ summed over positions and bases of the target (positive: the
    source supports the target's importance); ``abs_sum``: |Δ| summed; ``max_abs``:
    |Δ| summed over bases, max over target positions (the original DFIM).
    Empty (padding) intervals give NaN.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown score reduction {reduction!r}; choose one of {REDUCTIONS}")
    b, length, _, t = delta.shape
    rs = np.clip(resp_start, 0, length).astype(np.intp)
    re = np.clip(resp_end, 0, length).astype(np.intp)
    empty = re <= rs
    if reduction in ("sum", "abs_sum"):
        per_pos = (delta if reduction == "sum" else np.abs(delta)).sum(axis=2, dtype=np.float64)
        csum = np.concatenate([np.zeros((b, 1, t)), np.cumsum(per_pos, axis=1)], axis=1)
        rows = np.arange(b)[:, None]
        out = (csum[rows, re] - csum[rows, rs]).astype(np.float32)
    else:
        per_pos = np.abs(delta).sum(axis=2)  # (B, L, T)
        r = resp_start.shape[1]
        out = np.empty((b, r, t), np.float32)
        step = max(1, _MAX_TEMP // max(1, r * length * t * 4))
        pos = np.arange(length)
        for lo in range(0, b, step):
            sl = slice(lo, lo + step)
            inside = (pos >= rs[sl, :, None]) & (pos < re[sl, :, None])  # (b, R, L)
            vals = np.where(inside[..., None], per_pos[sl, None], -np.inf)
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
