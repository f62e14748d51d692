"""The context-matched null: decoy sources in the same real sequence, at the same distance.

``--null context`` asks, for each source -> target pair, whether mutating the source
changes how the model reads the target more than mutating an arbitrary stretch of the
*same* sequence at the same distance from that target does.  For each real source ``m``
of a sequence and each draw ``k`` (``null_draws``) one decoy source of the same length is
placed (:func:`decoy_sources`):

* it overlaps no annotated element of the sequence (no source, no target) and no N;
* it is matched to one target ``r_k`` of ``m`` (the targets of ``m`` in turn, starting at
  a seeded offset): its gap to ``r_k`` lies in the same distance bin as the gap between
  ``m`` and ``r_k`` (the bins of :data:`dfimx.stats.pvalues.DEFAULT_DISTANCE_BINS`),
  on either side of the target, drawn uniformly among the positions that qualify;
* when no position qualifies the bin is widened to its neighbours (1, 2, ... bins) until
  one does; the widening is returned (``widened``) and its maximum stored in the result
  attrs by the caller;
* single-base sources (``mutation_alt >= 0``: scans, variants) get single-base decoys
  whose alternative base is drawn among the three bases other than the reference;
  element sources are replaced with the run's mutation (zeros, gc, shuffle).

Each decoy is one more source of the sequence: its delta profile is scored on *all*
targets with the run's method, reference and reduction, against the real original's
attributions (computed once per sequence).  Its score on target ``r`` is a null score of
the pair ``(m, r)`` when its gap to ``r`` lies in the pair's distance bin (always for
``r_k``); otherwise the slot is NaN (``matched``).  So every stored null score
of a pair is distance matched, and a sequence costs ``K x M`` extra attribution passes,
fewer than the ``K x (1 + M)`` of the shuffled nulls.  Draws are seeded by the run seed,
the sequence id, the source interval and the draw: chunking never changes them.

Examples
--------
>>> import numpy as np
>>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (1, 100))]
>>> dec = decoy_sources(X, ["s"], np.array([[10]]), np.array([[16]]), np.array([[-1]]),
...                     np.array([[True]]), np.array([[40]]), np.array([[46]]),
...                     np.array([[True]]), np.ones((1, 1, 1), bool), 0, seed=0)
>>> dec["start"].shape, bool(dec["mask"].all()), int(dec["widened"].max())
((1, 1), True, 0)
>>> gap = max(40 - dec["end"].item(), dec["start"].item() - 46)
>>> 20 <= gap < 50   # the pair's gap 24 lies in bin [20, 50)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dfimx.seeding import sequence_rng, stable_key
from dfimx.stats.pvalues import DEFAULT_DISTANCE_BINS, check_distance_bins

__all__ = ["decoy_sources"]


def _bins(gap: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, gap, "right") - 1, 0, edges.size - 1)


def _blocked(X: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``(L,)`` True at N positions and inside any of the intervals."""
    length = X.shape[0]
    out = X.sum(axis=1) == 0
    diff = np.zeros(length + 1, np.int64)
    np.add.at(diff, np.clip(starts, 0, length), 1)
    np.add.at(diff, np.clip(ends, 0, length), -1)
    return out | (np.cumsum(diff)[:length] > 0)


def decoy_sources(
    X: np.ndarray,
    seq_ids: Sequence[str],
    mut_start: np.ndarray,
    mut_end: np.ndarray,
    mut_alt: np.ndarray,
    mut_mask: np.ndarray,
    resp_start: np.ndarray,
    resp_end: np.ndarray,
    resp_mask: np.ndarray,
    valid: np.ndarray,
    draw: int,
    *,
    seed: int = 0,
    distance_bins: Sequence[int] | None = None,
    margin: int = 0,
) -> dict[str, np.ndarray]:
    """Decoy sources of one null draw of a chunk: one per real source.

    Parameters
    ----------
    X
        One-hot sequences ``(n, L, 4)``.
    seq_ids
        Sequence ids (seed the draws).
    mut_start, mut_end, mut_alt, mut_mask
        Real sources ``(n, M)``.
    resp_start, resp_end, resp_mask
        Targets ``(n, R)``.
    valid
        ``(n, M, R)`` pairs that are tested.
    draw
        The null draw ``k`` (the decoy of draw ``k`` is matched to the ``k``-th target
        of its source in turn).
    seed
        Run seed.
    distance_bins
        Distance bin edges (default :data:`~dfimx.stats.pvalues.DEFAULT_DISTANCE_BINS`).
    margin
        Bases a decoy keeps from every annotated element other than the target it is
        matched to (their flanks are part of how they are read).

    Returns
    -------
    dict with ``start``, ``end``, ``alt`` (int), ``mask`` (bool), all ``(n, M)``;
    ``matched`` ``(n, M, R)``: the decoy's score on that target is a null score of the
    pair (source, target); ``widened`` ``(n, M)``: bins the match was widened by (-1
    where no decoy could be placed).

    Examples
    --------
    >>> X = np.eye(4, dtype="float32")[np.zeros((1, 30), int)]   # all A
    >>> alts = [decoy_sources(X, ["s"], np.array([[5]]), np.array([[6]]), np.array([[2]]),
    ...                       np.array([[True]]), np.array([[20]]), np.array([[21]]),
    ...                       np.array([[True]]), np.ones((1, 1, 1), bool), k)["alt"].item()
    ...         for k in range(6)]
    >>> 0 in alts                # never the reference A
    False
    """
    edges = check_distance_bins(DEFAULT_DISTANCE_BINS if distance_bins is None
                                else distance_bins)
    n, length, _ = X.shape
    m_, r_ = mut_start.shape[1], resp_start.shape[1]
    k = int(draw)
    start = np.zeros((n, m_), np.int64)
    end = np.zeros((n, m_), np.int64)
    alt = np.full((n, m_), -1, np.int64)
    mask = np.zeros((n, m_), bool)
    matched = np.zeros((n, m_, r_), bool)
    widened = np.full((n, m_), -1, np.int8)
    pos = np.arange(length)
    for i in range(n):
        sm, rm = mut_mask[i], resp_mask[i]
        el_start = np.concatenate([mut_start[i][sm], resp_start[i][rm]]).astype(np.int64)
        el_end = np.concatenate([mut_end[i][sm], resp_end[i][rm]]).astype(np.int64)
        rs, re = resp_start[i].astype(np.int64), resp_end[i].astype(np.int64)
        for m in np.flatnonzero(sm):
            targets = np.flatnonzero(valid[i, m])
            if targets.size == 0:
                continue
            a, b = int(mut_start[i, m]), int(mut_end[i, m])
            w = b - a
            starts = pos[: max(0, length - w + 1)]
            pair_bins = _bins(np.maximum(np.maximum(rs - b, a - re), 0), edges)
            offset = stable_key(seq_ids[i], a, b, "context-target") % targets.size
            r = targets[(offset + k) % targets.size]
            # decoys keep `margin` bases from every element but their target r_k
            others = ~((el_start == rs[r]) & (el_end == re[r]))
            blocked = _blocked(X[i], el_start[others] - margin, el_end[others] + margin)
            blocked |= _blocked(X[i], rs[r:r + 1], re[r:r + 1])
            csum = np.concatenate([[0], np.cumsum(blocked)])
            free = csum[starts + w] - csum[starts] == 0
            if not free.any():
                continue
            # distance bin of each candidate start to the target r_k
            cand = _bins(np.maximum(np.maximum(rs[r] - (starts + w), starts - re[r]), 0), edges)
            off = np.abs(cand - pair_bins[r])
            widen = int(off[free].min())  # 0: a position in the pair's own bin qualifies
            rng = sequence_rng(seed, str(seq_ids[i]), "context", a, b, k)
            p = int(rng.choice(starts[free & (off <= widen)]))
            start[i, m], end[i, m], mask[i, m], widened[i, m] = p, p + w, True, widen
            if mut_alt[i, m] >= 0:
                ref = int(np.argmax(X[i, p]))
                alt[i, m] = int(rng.choice([c for c in range(4) if c != ref]))
            bins_p = _bins(np.maximum(np.maximum(rs - (p + w), p - re), 0), edges)
            matched[i, m] = valid[i, m] & (bins_p == pair_bins)
            matched[i, m, r] = True
    return {"start": start, "end": end, "alt": alt, "mask": mask, "matched": matched,
            "widened": widened}


