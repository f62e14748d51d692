"""Seeded, vectorised shuffles of one-hot DNA: dinucleotide- and mononucleotide-preserving.

Every shuffle draw ``k`` of a sequence comes from
``dfimx.seeding.sequence_rng(seed, seq_id, purpose, k)``, so the result for one sequence
does not depend on which other sequences are shuffled with it (chunking, worker count),
nor on ``n_shuffles`` (draw ``k`` is the same whether 3 or 30 draws are asked for).

Rows that are not exactly one-hot (``N`` and other ambiguous bases, which dfimx encodes as
all-zero rows, or soft rows) stay where they are.  The dinucleotide shuffle permutes each
maximal run of proper bases between such rows on its own, which keeps every dinucleotide
count, including pairs that touch an ``N``.

The dinucleotide shuffle is the Altschul–Erickson / Kandel et al. Eulerian-walk algorithm:
draw a uniformly random spanning arborescence of last exit edges towards the final base
(Wilson's loop-erased random walk), permute the remaining edges of each base uniformly, and
walk.  The result is uniform over all sequences with the same dinucleotide counts and the same
first and last base.  All sequences, draws and runs are processed together with numpy; only
the walk itself loops over positions.

Examples
--------
>>> import numpy as np
>>> from dfimx.alphabet import codes_to_onehot, onehot_to_strings
>>> X = codes_to_onehot(np.array([[0, 1, 2, 3, 0, 1, 2, 3, 3, 0]]))
>>> S = dinucleotide_shuffle(X, 2, seq_ids=["s1"], seed=7)
>>> S.shape
(1, 2, 10, 4)
>>> s = onehot_to_strings(S[0])[0]
>>> sorted(s[i:i + 2] for i in range(9)) == sorted("ACGTACGTTA"[i:i + 2] for i in range(9))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dfimx.errors import InputError
from dfimx.seeding import sequence_rng

__all__ = ["dinucleotide_shuffle", "mononucleotide_shuffle"]

# Bound on the number of (sequence x draw x position) cells handled in one vectorised block.
_BLOCK_CELLS = 1 << 22


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(key: np.ndarray, stream: int, counter: np.ndarray) -> np.ndarray:
    """Counter-based uniforms in [0, 1) for per-item keys ``key`` and ``counter``."""
    with np.errstate(over="ignore"):
        c = np.asarray(counter).astype(np.uint64) * np.uint64(0xD1B54A32D192ED03)
        h = _splitmix64(key ^ _splitmix64(c + np.uint64(stream) * np.uint64(0x8CB92BA72F3D8DD7)))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _prepare(
    X: np.ndarray, n_shuffles: int, seq_ids: Sequence[object] | None, seed: int, purpose: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise InputError(f"sequences must have shape (N, L, 4), got {X.shape}")
    if int(n_shuffles) != n_shuffles or n_shuffles < 0:
        raise InputError(f"n_shuffles must be a non-negative integer, got {n_shuffles!r}")
    n = X.shape[0]
    if seq_ids is None:
        seq_ids = [str(i) for i in range(n)]
    seq_ids = list(seq_ids)
    if len(seq_ids) != n:
        raise InputError(f"got {len(seq_ids)} seq_ids for {n} sequences")
    is_base = (X.max(-1) == 1) & (X.sum(-1) == 1) & (X.min(-1) == 0)
    codes = np.where(is_base, X.argmax(-1), -1).astype(np.int8)
    keys = np.empty((n, int(n_shuffles)), np.uint64)
    for i, sid in enumerate(seq_ids):
        for k in range(int(n_shuffles)):
            keys[i, k] = sequence_rng(seed, str(sid), purpose, k).integers(
                0, 2**64, dtype=np.uint64
            )
    return X, codes, keys


def _assemble(X: np.ndarray, codes_out: np.ndarray) -> np.ndarray:
    """One-hot ``(N, K, L, 4)`` from shuffled codes; non-base rows copied from ``X``."""
    table = np.zeros((5, 4), X.dtype)
    table[np.arange(4), np.arange(4)] = 1
    base = codes_out >= 0
    onehot = table[np.where(base, codes_out, 4)]
    return np.where(base[..., None], onehot, X[:, None])


def _blocks(n: int, per_item: int):
    step = max(1, _BLOCK_CELLS // max(1, per_item))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def mononucleotide_shuffle(
    X: np.ndarray,
    n_shuffles: int,
    *,
    seq_ids: Sequence[object] | None = None,
    seed: int = 0,
    purpose: str = "shuffle",
) -> np.ndarray:
    """Random permutations of the bases of each sequence, ``(N, n_shuffles, L, 4)``.

    Base counts are preserved; rows that are not one-hot (``N``) stay in place.

    Parameters
    ----------
    X
        One-hot sequences ``(N, L, 4)`` (any numeric dtype; the output has the same dtype).
    n_shuffles
        Number of draws per sequence.
    seq_ids
        One id per sequence keying its random stream (default: the row index, which makes
        results depend on the position of the sequence in ``X``).
    seed
        Run seed.
    purpose
        Names the random stream (e.g. ``"null"``, ``"reference"``).

    Examples
    --------
    >>> import numpy as np
    >>> from dfimx.alphabet import codes_to_onehot
    >>> X = codes_to_onehot(np.array([[0, 0, 1, 2, -1, 3]]))
    >>> S = mononucleotide_shuffle(X, 3, seq_ids=["a"], seed=1)
    >>> S.shape, S.sum(axis=(2,)).tolist()[0][0], int(S[0, :, 4].sum())
    ((1, 3, 6, 4), [2, 1, 1, 1], 0)
    """
    X, codes, keys = _prepare(X, n_shuffles, seq_ids, seed, purpose)
    n, length = codes.shape
    k = keys.shape[1]
    out_codes = np.empty((n, k, length), np.int8)
    for sl in _blocks(n, k * length):
        c = np.broadcast_to(codes[sl, None, :], (c_n := sl.stop - sl.start, k, length))
        u = _uniform(keys[sl][..., None], 1, np.arange(length)[None, None, :])
        base = c >= 0
        # bases sort first in random order; non-base positions keep their order after them
        sort_key = np.where(base, u, 2.0 + np.arange(length))
        order = np.argsort(sort_key, axis=-1, kind="stable")
        perm_vals = np.take_along_axis(c, order, axis=-1)
        res = c.copy()
        # the j-th base position (in order) receives the j-th value of the permutation
        pos_order = np.argsort(np.where(base, 0, 1), axis=-1, kind="stable")
        np.put_along_axis(res, pos_order, perm_vals, axis=-1)
        out_codes[sl] = res.reshape(c_n, k, length)
    return _assemble(X, out_codes)


def dinucleotide_shuffle(
    X: np.ndarray,
    n_shuffles: int,
    *,
    seq_ids: Sequence[object] | None = None,
    seed: int = 0,
    purpose: str = "shuffle",
) -> np.ndarray:
    """Dinucleotide-preserving shuffles of each sequence, ``(N, n_shuffles, L, 4)``.

    Each draw has exactly the dinucleotide counts of its sequence and is uniform among the
    sequences that share them (and the first and last base of every run between ``N``
    rows).  Rows that are not one-hot (``N``) stay in place; each run of bases between them
    is shuffled on its own.

    Parameters
    ----------
    X
        One-hot sequences ``(N, L, 4)`` (any numeric dtype; the output has the same dtype).
    n_shuffles
        Number of draws per sequence.
    seq_ids
        One id per sequence keying its random stream (default: the row index, which makes
        results depend on the position of the sequence in ``X``).
    seed
        Run seed.
    purpose
        Names the random stream (e.g. ``"null"``, ``"reference"``).

    Returns
    -------
    numpy.ndarray
        ``(N, n_shuffles, L, 4)``, same dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from dfimx.alphabet import codes_to_onehot, onehot_to_strings
    >>> X = codes_to_onehot(np.array([[0, 1, 0, 1, 2, 0, -1, 3, 3, 1]]))
    >>> S = dinucleotide_shuffle(X, 4, seq_ids=["x"], seed=0)
    >>> [s[6] for s in onehot_to_strings(S[0])]
    ['N', 'N', 'N', 'N']
    """
    X, codes, keys = _prepare(X, n_shuffles, seq_ids, seed, purpose)
    n, length = codes.shape
    k = keys.shape[1]
    out_codes = np.empty((n, k, length), np.int8)
    if k == 0 or n == 0:
        return _assemble(X, out_codes)
    for sl in _blocks(n, k * length):
        out_codes[sl] = _dinuc_block(codes[sl], keys[sl])
    return _assemble(X, out_codes)


def _dinuc_block(codes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Shuffle codes ``(n, L)`` (``-1`` = fixed) with keys ``(n, K)`` -> ``(n, K, L)``."""
    n, length = codes.shape
    k = keys.shape[1]
    out = np.repeat(codes[:, None, :], k, axis=1)
    base = codes >= 0
    prev = np.zeros_like(base)
    prev[:, 1:] = base[:, :-1]
    nxt = np.zeros_like(base)
    nxt[:, :-1] = base[:, 1:]
    starts = base & ~prev
    ends = base & ~nxt
    s_seq, s_pos = np.nonzero(starts)
    _, e_pos = np.nonzero(ends)  # same row-major order as starts
    run_len = e_pos - s_pos + 1
    keep = run_len >= 3  # runs of one or two bases cannot change
    s_seq, s_pos, e_pos, run_len = s_seq[keep], s_pos[keep], e_pos[keep], run_len[keep]
    n_runs = len(s_seq)
    if n_runs == 0:
        return out
    # walks: one per (run, draw); sorted longest first so active walks form a prefix
    w_run = np.repeat(np.arange(n_runs), k)
    w_draw = np.tile(np.arange(k), n_runs)
    order = np.argsort(-run_len[w_run], kind="stable")
    w_run, w_draw = w_run[order], w_draw[order]
    n_walks = len(w_run)
    w_seq = s_seq[w_run]
    w_start = s_pos[w_run]
    w_len = run_len[w_run]
    w_key = keys[w_seq, w_draw] ^ _splitmix64(w_start.astype(np.uint64))
    first = codes[w_seq, w_start].astype(np.int64)
    root = codes[w_seq, e_pos[w_run]].astype(np.int64)

    # edges of every walk: (walk, src, tgt, position offset within the run)
    n_edges = w_len - 1
    e_walk = np.repeat(np.arange(n_walks), n_edges)
    e_off = np.arange(len(e_walk)) - np.repeat(np.cumsum(n_edges) - n_edges, n_edges)
    e_pos_abs = w_start[e_walk] + e_off
    e_src = codes[w_seq[e_walk], e_pos_abs].astype(np.int64)
    e_tgt = codes[w_seq[e_walk], e_pos_abs + 1].astype(np.int64)
    counts = np.zeros((n_walks, 4, 4), np.int64)
    np.add.at(counts, (e_walk, e_src, e_tgt), 1)

    last = _random_arborescence(counts, root, w_key)

    # pick, for each non-root base, one edge to its last-exit target (lowest offset: the
    # copies are exchangeable) and send it to the end of that base's edge list
    u = _uniform(w_key[e_walk], 2, e_off)
    is_last_cand = (e_src != root[e_walk]) & (e_tgt == last[e_walk, e_src])
    big = np.iinfo(np.int64).max
    chosen = np.full((n_walks, 4), big, np.int64)
    cand = np.nonzero(is_last_cand)[0]
    np.minimum.at(chosen, (e_walk[cand], e_src[cand]), cand)
    sel = chosen[chosen != big]
    # one integer sort: group (walk, base) first, then random order, chosen last edge at the end
    rank = (u * (1 << 30)).astype(np.int64)
    rank[sel] = 1 << 30
    e_order = np.argsort(((e_walk * 4 + e_src) << 31) | rank, kind="stable")
    succ = e_tgt[e_order]
    out_deg = counts.sum(-1).ravel()
    offsets = np.cumsum(out_deg) - out_deg  # flat (walk * 4 + base) -> first edge
    ptr = np.zeros(n_walks * 4, np.int64)

    max_len = int(w_len[0])
    steps = np.empty((n_walks, max_len), np.int8)
    steps[:, 0] = first
    cur = first.copy()
    neg_len = -w_len  # ascending, as walks are sorted longest first
    for t in range(1, max_len):
        m = int(np.searchsorted(neg_len, -t, side="left"))  # walks with length > t
        g = np.arange(0, 4 * m, 4) + cur[:m]
        cur[:m] = succ[offsets[g] + ptr[g]]
        ptr[g] += 1
        steps[:m, t] = cur[:m]
    valid = np.arange(max_len)[None, :] < w_len[:, None]
    wi, ti = np.nonzero(valid)
    out[w_seq[wi], w_draw[wi], w_start[wi] + ti] = steps[wi, ti]
    return out


def _random_arborescence(counts: np.ndarray, root: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Uniform spanning arborescence towards ``root`` of each walk's multigraph (Wilson).

    ``counts[w, v, u]`` is the number of ``v -> u`` edges.  Returns ``last[w, v]``: the
    target of the last exit edge of base ``v`` (undefined, ``-1``, for the root and for
    absent bases).
    """
    n_walks = counts.shape[0]
    idx_all = np.arange(n_walks)
    present = counts.sum(-1) > 0  # every base of the run but the root has an out-edge
    nonself = counts.copy()
    nonself[:, np.arange(4), np.arange(4)] = 0
    cum = np.cumsum(nonself, axis=-1)
    in_tree = ~present
    in_tree[idx_all, root] = True
    nxt = np.full((n_walks, 4), -1, np.int64)
    step = np.zeros(n_walks, np.int64)
    for v in range(4):
        walk = np.nonzero(~in_tree[:, v])[0]
        u = np.full(len(walk), v, np.int64)
        while len(walk):
            tot = cum[walk, u, 3]
            r = np.floor(_uniform(key[walk], 3, step[walk]) * tot)
            step[walk] += 1
            t = (r[:, None] >= cum[walk, u, :]).sum(-1)
            nxt[walk, u] = t
            go = ~in_tree[walk, t]
            walk, u = walk[go], t[go]
        # retrace the loop-erased path from v and add it to the tree
        walk = np.nonzero(~in_tree[:, v])[0]
        u = np.full(len(walk), v, np.int64)
        while len(walk):
            in_tree[walk, u] = True
            u = nxt[walk, u]
            go = ~in_tree[walk, u]
            walk, u = walk[go], u[go]
    nxt[idx_all, root] = -1
    return nxt
