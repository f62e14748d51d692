"""The shuffled-sequence null: shuffled copies of each sequence, seeded per sequence id and
draw (so results never depend on chunking or worker count), with the same source and
target coordinates as the original.

Examples
--------
>>> import numpy as np
>>> from dfimx.settings import Settings
>>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (2, 20))]
>>> null = null_sequences(X, 3, ["a", "b"], Settings(null="dinuc"))
>>> null.shape, bool((null.sum(axis=2) == X.sum(axis=1)[:, None]).all())  # same composition
((2, 3, 20, 4), True)
"""

from __future__ import annotations

import numpy as np

from dfimx import shuffle
from dfimx.settings import Settings


def source_positions(
    mut_start: np.ndarray, mut_end: np.ndarray, mut_mask: np.ndarray, length: int
) -> np.ndarray:
    """``(n, L)`` True at positions covered by a real source."""
    pos = np.arange(length)
    inside = (pos >= mut_start[..., None]) & (pos < mut_end[..., None]) & mut_mask[..., None]
    return inside.any(axis=1)


def null_sequences(
    X: np.ndarray,
    n_draws: int,
    seq_ids: list[str],
    settings: Settings,
    *,
    kept: np.ndarray | None = None,
) -> np.ndarray:
    """Null sequences ``(n, K, L, 4)``: shuffled copies seeded per sequence id.

    With ``settings.null_keep_sources`` the source positions (``kept``) stay in place and
    the flanks between them are shuffled separately (variant scans keep the variant base).
    """
    shuffler = (shuffle.dinucleotide_shuffle if settings.null == "dinuc"
                else shuffle.mononucleotide_shuffle)
    if not settings.null_keep_sources or kept is None or not kept.any():
        return shuffler(X, n_draws, seq_ids=seq_ids, seed=settings.seed, purpose="null")
    # all-zero rows are never moved by the shufflers: blank the kept positions, shuffle
    # the runs between them, and put the kept bases back
    blanked = np.where(kept[..., None], 0, X).astype(X.dtype)
    out = shuffler(blanked, n_draws, seq_ids=seq_ids, seed=settings.seed, purpose="null")
    return np.where(kept[:, None, :, None], X[:, None], out).astype(X.dtype)


__all__ = ["null_sequences", "source_positions"]
