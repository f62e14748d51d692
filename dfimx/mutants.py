"""Mutants: a source element replaced (zeros, GC background, shuffled bases) or a single
base substituted, for one chunk of (sequence, source) rows.

Examples
--------
>>> import numpy as np
>>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3]]]
>>> [round(float(x), 2) for x in make_mutants(X, [0], [2], [-1], mode="gc")[0, 0, 0]]
[0.27, 0.23, 0.23, 0.27]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dfimx.alphabet import DEFAULT_GC, gc_background
from dfimx.errors import InputError
from dfimx.seeding import sequence_rng

#: How a source element is replaced; single-base sources always use their alternative base.
MUTATION_MODES = ("zeros", "gc", "shuffle")


def n_draws(mode: str, n_shuffles: int) -> int:
    """Mutants per source: ``n_shuffles`` for shuffle mode, else 1."""
    return int(n_shuffles) if mode == "shuffle" else 1


def make_mutants(
    X: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    alts: np.ndarray,
    *,
    mode: str = "zeros",
    gc: float = DEFAULT_GC,
    n_shuffles: int = 5,
    seq_ids: Sequence[str] | None = None,
    seed: int = 0,
    copy: bool = True,
) -> np.ndarray:
    """Mutants for the listed sources, ``(B, K, L, 4)`` float32.

    Parameters
    ----------
    X
        Originals ``(B, L, 4)``, one row per (sequence, source) pair to mutate.
    starts, ends, alts
        ``(B,)`` source interval and alternative base (``-1`` = element replacement).
    mode
        Element replacement: ``zeros``, ``gc`` (background expectation) or ``shuffle``
        (``n_shuffles`` random permutations of the element's bases, K = n_shuffles).
    seq_ids
        Sequence id of each row, to seed shuffles per sequence (chunking-independent).
    copy
        False: with one mutant per row, edit ``X`` itself in place (when it is a
        C-contiguous float32 array) and return a view of it, instead of a copy.

    Examples
    --------
    >>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3]]]
    >>> make_mutants(X, np.array([1]), np.array([2]), np.array([3]))[0, 0, 1].tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    if mode not in MUTATION_MODES:
        raise InputError(f"mutation: unknown mode {mode!r}; choose one of {list(MUTATION_MODES)}",
                         option="mutation")
    X = np.asarray(X, np.float32)
    k = n_draws(mode, n_shuffles)
    if k == 1 and not copy and X.flags.c_contiguous:
        out = X[:, None]
    else:
        out = np.repeat(X[:, None], k, axis=1)
    starts, ends, alts = (np.asarray(a, np.int64).reshape(len(X)) for a in (starts, ends, alts))
    single = (alts >= 0) & (ends - starts == 1)
    if single.any():  # single-base substitutions (a per-base scan): one vectorized edit
        rows = np.flatnonzero(single)
        out[rows, :, starts[rows]] = np.eye(X.shape[2], dtype=np.float32)[alts[rows]][:, None]
    bg = gc_background(gc)
    for b in np.flatnonzero(~single):
        s, e, alt = int(starts[b]), int(ends[b]), int(alts[b])
        if alt >= 0:
            out[b, :, s:e] = 0.0
            out[b, :, s:e, alt] = 1.0
        elif mode == "zeros":
            out[b, :, s:e] = 0.0
        elif mode == "gc":
            out[b, :, s:e] = bg
        else:
            sid = seq_ids[b] if seq_ids is not None else str(b)
            for draw in range(k):
                rng = sequence_rng(seed, sid, "mutation", s, e, draw)
                out[b, draw, s:e] = X[b, s + rng.permutation(e - s)]
    return out


__all__ = ["MUTATION_MODES", "make_mutants", "n_draws"]
