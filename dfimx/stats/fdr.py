"""Benjamini-Hochberg q-values: exact, on numpy arrays and, without gathering, on Dask arrays.

``q(v) = min(1, min over distinct p-values v' >= v of v' / (R(v') / m))``, with ``R(v')``
the number of p-values ``<= v'`` (in the pool) and ``m`` the number of p-values of the
pool: this is what statsmodels' ``fdr_bh`` gives, ties included. So q needs, for every
distinct value, its rank count R. Pass 1 reduces a
:class:`~dfimx.stats.summaries.KeySummary` of the p-values across chunks. If it kept every
distinct value (shift 0: always so for empirical p-values, which take at most
``n_null + 1`` values per pool, unless the pools are huge) the q-value of each distinct
value is computed from it in one small task and mapped back chunk by chunk. Otherwise its
bins give the rank range of every bin; consecutive bins are grouped into buckets of about
``m / n_buckets`` values, each chunk sends its values to their buckets, each bucket sorts
its values (exact R = values of earlier buckets + rank in the bucket), the bucket minima
are combined from the right across buckets, and the q-values go back to their chunks.

A numpy input runs the bucket step alone, in memory, with every value in one bucket: the
same kernel, so there is one BH in dfimx.

Examples
--------
>>> import numpy as np
>>> bh_q_values(np.array([0.01, 0.02, 0.5])).round(6).tolist()
[0.03, 0.03, 0.5]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np

from dfimx.stats.summaries import KeySummary, float_type, from_keys, to_keys, tree_reduce

__all__ = ["DEFAULT_BH_SUMMARY_SIZE", "bh_q_values"]

#: Default number of distinct p-values up to which BH q-values come from the first pass
#: alone (both paths are exact; this only picks the faster one).
DEFAULT_BH_SUMMARY_SIZE = 1 << 16
#: Default number of p-values per bucket of the exact BH second pass.
_BUCKET_VALUES = 1 << 22


@dataclass(frozen=True)
class _BHPlan:
    summary: KeySummary | None  # None in memory (one bucket holding every value)
    m: np.ndarray  # tests per pool
    exact_q: np.ndarray | None  # q per summary entry when summary.shift == 0
    starts: np.ndarray  # first summary entry of each bucket
    r_before: np.ndarray  # (bucket, pool): p-values of the pool in earlier buckets


def _block_pools(block: np.ndarray, pool_axis: int | None) -> tuple[np.ndarray, int]:
    if pool_axis is None:
        return np.zeros(block.shape, np.int64), 1
    shape = [1] * block.ndim
    shape[pool_axis] = block.shape[pool_axis]
    idx = np.arange(block.shape[pool_axis]).reshape(shape)
    return np.broadcast_to(idx, block.shape), block.shape[pool_axis]


def _bh_block_summary(block: np.ndarray, pool_axis: int | None, limit: int) -> KeySummary:
    pools, n_pools = _block_pools(block, pool_axis)
    ftype = float_type(block.dtype)
    return KeySummary.from_values(block, pools, n_pools, ftype=ftype, limit=limit)


def _ratio_suffix_min(v: np.ndarray, r: np.ndarray, m: np.ndarray, pool: np.ndarray) -> tuple:
    """v / (r / m) and its minimum from the right within each pool run (sorted by pool)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = v / (r / m)
    out = np.empty_like(ratio)
    bounds = np.flatnonzero(np.diff(pool)) + 1
    for a, b in zip(
        np.concatenate([[0], bounds]), np.concatenate([bounds, [ratio.size]]), strict=True
    ):
        out[a:b] = np.minimum.accumulate(ratio[a:b][::-1])[::-1]
    return out


def _bh_plan(summary: KeySummary, n_buckets: int) -> _BHPlan:
    m = summary.totals()
    cum = np.cumsum(summary.count)
    cum_excl = cum - summary.count
    seg_a, seg_b = summary.segments()
    if summary.shift == 0:
        v = from_keys(summary.key, summary.ftype).astype(np.float64)
        r = cum - cum_excl[seg_a[summary.pool]] if summary.key.size else cum
        q = _ratio_suffix_min(v, r.astype(np.float64), m[summary.pool].astype(float), summary.pool)
        starts = np.zeros(n_buckets, np.int64)
        return _BHPlan(summary, m, np.minimum(q, 1.0), starts, np.zeros((n_buckets, 1)))
    total = int(cum[-1]) if cum.size else 0
    targets = total * np.arange(n_buckets) / n_buckets
    starts = np.searchsorted(cum_excl, targets, "left")
    cum_ext = np.concatenate([cum_excl, [total]])
    clipped = np.clip(starts[:, None], seg_a[None, :], seg_b[None, :])
    r_before = (cum_ext[clipped] - cum_ext[seg_a][None, :]).astype(np.float64)
    return _BHPlan(summary, m, None, starts, r_before)


def _bh_prepare(
    block: np.ndarray, pool_axis: int | None, plan: _BHPlan, buckets: bool = False
) -> tuple:
    """Flat indices, values, pools and summary entry (or bucket) of a block's values."""
    pools, _ = _block_pools(block, pool_axis)
    flat = block.ravel()
    idx = np.flatnonzero(~np.isnan(flat))
    if flat.size < 2**31:
        idx = idx.astype(np.int32)
    vals = flat[idx]
    pools = pools.ravel()[idx].astype(np.int32)
    s = plan.summary
    keys = to_keys(vals, s.ftype) >> s.key.dtype.type(s.shift)
    if not buckets:
        return idx, vals, pools, s.lookup(keys, pools)
    # the bucket of a value is found among the bucket starts (few) rather than among the
    # summary entries: (pool, key) compared lexicographically through one sortable key
    n = s.key.size
    at = np.minimum(plan.starts, n - 1)
    if s.n_pools == 1:
        bounds = np.where(plan.starts < n, s.key[at], np.iinfo(s.key.dtype).max)
        query = keys
    elif s.key.dtype == np.uint32:
        packed = (s.pool[at].astype(np.uint64) << np.uint64(32)) | s.key[at]
        bounds = np.where(plan.starts < n, packed, np.iinfo(np.uint64).max)
        query = (pools.astype(np.uint64) << np.uint64(32)) | keys
    else:
        entry = s.lookup(keys, pools)
        return idx, vals, pools, np.searchsorted(plan.starts, entry, "right") - 1
    return idx, vals, pools, np.searchsorted(bounds, query, "right") - 1


def _bh_split(block: np.ndarray, pool_axis: int | None, plan: _BHPlan) -> tuple:
    """Send a block's values to their buckets.

    Returns ``2 * n_buckets + 1`` items: the flat indices of the values of each bucket
    (kept for :func:`_bh_assemble`), the (values, pools) of each bucket, and the block's
    q-values when the plan is exact (then nothing goes to the buckets). So the block
    itself is not needed after this task.
    """
    n_buckets = plan.starts.size
    if plan.exact_q is not None:
        idx, vals, pools, entry = _bh_prepare(block, pool_axis, plan)
        out = np.full(block.shape, np.nan, block.dtype)
        out.reshape(-1)[idx] = plan.exact_q[entry]
        return tuple(None for _ in range(2 * n_buckets)) + (out,)
    idx, vals, pools, bucket = _bh_prepare(block, pool_axis, plan, buckets=True)
    if n_buckets < 1 << 15:
        bucket = bucket.astype(np.int16)  # stable sort of 16-bit ints is a radix sort
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n_buckets + 1), "left")
    idx, vals, pools = idx[order], vals[order], pools[order]
    ranges = list(zip(bounds[:-1], bounds[1:], strict=True))
    return (
        tuple(idx[a:b] for a, b in ranges)
        + tuple((vals[a:b], pools[a:b] if plan.m.size > 1 else None) for a, b in ranges)
        + (None,)
    )


def _bh_bucket(parts: list, plan: _BHPlan, g: int, dtype: np.dtype) -> tuple:
    """Exact ranks inside bucket ``g``.

    Returns (q of each distinct (pool, value) from within the bucket, rounded to the output
    ``dtype``; its pool (None with one pool); the run of each value; the number of values
    from each block; the minimum per pool, float64). Rounding is monotonic, so it commutes
    with the minima taken later.
    """
    if plan.exact_q is not None:
        return (None,) * 5
    n_pools = plan.m.size
    lengths = [p[0].size for p in parts]
    vals = np.concatenate([p[0] for p in parts])  # sorted in their own dtype
    if vals.size == 0:
        return (np.zeros(0, dtype), None, np.zeros(0, np.int32), lengths,
                np.full(n_pools, np.inf))
    if n_pools > 1:
        pools = np.concatenate([p[1] for p in parts])
        order = np.lexsort((vals, pools))
        ps = pools[order]
        vs = vals[order]
    elif vals.dtype == np.float32 and vals.size < 2**32:
        # (order key, position) packed in a uint64: a radix sort, faster than argsort
        packed = (to_keys(vals, np.float32).astype(np.uint64) << np.uint64(32)) | np.arange(
            vals.size, dtype=np.uint64
        )
        packed.sort(kind="stable")
        order = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
        vs = from_keys((packed >> np.uint64(32)).astype(np.uint32), np.float32)
        del packed
        ps = np.zeros(vs.size, np.int32)
    else:
        order = np.argsort(vals)
        ps = np.zeros(vals.size, np.int32)
        vs = vals[order]
    del vals
    change = np.empty(vs.size, bool)
    change[0] = True
    change[1:] = (vs[1:] != vs[:-1]) | (ps[1:] != ps[:-1])
    first = np.flatnonzero(change)
    counts = np.diff(np.concatenate([first, [vs.size]]))
    run_v, run_p = vs[first].astype(np.float64), ps[first]
    del vs, ps
    cum = np.cumsum(counts)
    pool_start = np.concatenate([[True], run_p[1:] != run_p[:-1]])
    seg_first = np.maximum.accumulate(np.where(pool_start, np.arange(run_p.size), 0))
    within = cum - (cum[seg_first] - counts[seg_first])
    r = plan.r_before[g, run_p] + within
    local = _ratio_suffix_min(run_v, r, plan.m[run_p].astype(np.float64), run_p)
    itype = np.int32 if run_v.size < 2**31 else np.int64
    inverse = np.empty(order.size, itype)
    inverse[order] = (np.cumsum(change) - 1).astype(itype)
    mins = np.full(n_pools, np.inf)
    np.minimum.at(mins, run_p, local)
    return local.astype(dtype), run_p if n_pools > 1 else None, inverse, lengths, mins


def _bh_right_minima(mins: list) -> np.ndarray | None:
    """For each bucket and pool, the smallest ratio in later buckets."""
    if mins[0] is None:
        return None
    stacked = np.stack(mins)
    suffix = np.minimum.accumulate(stacked[::-1], axis=0)[::-1]
    return np.concatenate([suffix[1:], np.full((1, stacked.shape[1]), np.inf)])


def _bh_bucket_q(
    bucket: tuple, right: np.ndarray | None, g: int, n_blocks: int, dtype: np.dtype
) -> tuple:
    """q-values of bucket ``g``, split back into one array per source block."""
    if right is None:
        return tuple(None for _ in range(n_blocks))
    local, run_p, inverse, lengths, _ = bucket
    right_g = right[g].astype(dtype)
    q = np.minimum(local, right_g[run_p] if run_p is not None else right_g[0])
    q = np.minimum(q, dtype.type(1.0))[inverse]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return tuple(q[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True))


def _bh_assemble(
    exact: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype, idx: list, qs: list
) -> np.ndarray:
    if exact is not None:
        return exact
    out = np.full(shape, np.nan, dtype)
    flat = out.reshape(-1)
    for i, q in zip(idx, qs, strict=True):
        flat[i] = q
    return out


def _bh_dask(
    p: da.Array, pool_axis: int | None, limit: int, n_buckets: int | None
) -> da.Array:
    """Lazy Benjamini-Hochberg q-values of a Dask array of p-values (same float dtype)."""
    if p.dtype.kind != "f":
        p = p.astype(np.float64)
    if pool_axis is not None:
        p = p.rechunk({pool_axis: -1})
    blocks = p.to_delayed()
    index = list(np.ndindex(blocks.shape))
    flat_blocks = [blocks[i] for i in index]
    n_blocks = len(flat_blocks)
    n_g = n_buckets or min(n_blocks, max(1, -(-p.size // _BUCKET_VALUES)))
    summaries = [
        dask.delayed(_bh_block_summary, pure=True)(b, pool_axis, limit) for b in flat_blocks
    ]
    summary = tree_reduce(summaries, functools.partial(KeySummary.merge, limit=limit))
    plan = dask.delayed(_bh_plan, pure=True)(summary, n_g)
    splits = [
        dask.delayed(_bh_split, pure=True, nout=2 * n_g + 1)(b, pool_axis, plan)
        for b in flat_blocks
    ]
    buckets = [
        dask.delayed(_bh_bucket, pure=True, nout=5)(
            [s[n_g + g] for s in splits], plan, g, p.dtype
        )
        for g in range(n_g)
    ]
    right = dask.delayed(_bh_right_minima, pure=True)([b[4] for b in buckets])
    bucket_qs = [
        dask.delayed(_bh_bucket_q, pure=True, nout=n_blocks)(b, right, g, n_blocks, p.dtype)
        for g, b in enumerate(buckets)
    ]
    arrays = np.empty(blocks.shape, dtype=object)
    for k, i in enumerate(index):
        shape = tuple(c[j] for c, j in zip(p.chunks, i, strict=True))
        out = dask.delayed(_bh_assemble, pure=True)(
            splits[k][2 * n_g], shape, p.dtype, [splits[k][g] for g in range(n_g)],
            [bq[k] for bq in bucket_qs],
        )
        arrays[i] = da.from_delayed(out, shape=shape, dtype=p.dtype)
    return da.block(arrays.tolist()) if arrays.ndim else arrays[()]


def _bh_numpy(p: np.ndarray, pool_axis: int | None) -> np.ndarray:
    """In-memory q-values: the bucket step of the distributed procedure, with one bucket."""
    if p.dtype.kind != "f":
        p = p.astype(np.float64)
    pools, n_pools = _block_pools(p, pool_axis)
    flat = p.ravel()
    idx = np.flatnonzero(~np.isnan(flat))
    vals = flat[idx]
    pools = pools.ravel()[idx].astype(np.int32)
    m = np.bincount(pools, minlength=n_pools).astype(np.int64)
    plan = _BHPlan(None, m, None, np.zeros(1, np.int64), np.zeros((1, n_pools)))
    part = (vals, pools if n_pools > 1 else None)
    local, _, inverse, _, _ = _bh_bucket([part], plan, 0, p.dtype)
    out = np.full(p.shape, np.nan, p.dtype)
    out.reshape(-1)[idx] = np.minimum(local, p.dtype.type(1.0))[inverse]
    return out


def bh_q_values(
    p_values: np.ndarray | da.Array,
    *,
    pool_axis: int | None = None,
    max_summary_size: int = DEFAULT_BH_SUMMARY_SIZE,
    n_buckets: int | None = None,
) -> np.ndarray | da.Array:
    """Benjamini-Hochberg q-values over all non-NaN p-values (NaN stays NaN).

    Equal to ``statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]`` on the
    non-NaN values, ties included, without gathering all p-values in one task.

    Parameters
    ----------
    p_values
        p-values, any shape; numpy (result computed now) or Dask (lazy result).
    pool_axis
        If given, one independent BH procedure per index along this axis (e.g. per task).
    max_summary_size
        Largest number of distinct values kept by the first pass. If the p-values have at
        most this many distinct values (per pool, summed over pools), q-values come
        from that summary directly; otherwise an exact bucketed second pass is used.
        Dask inputs only: numpy inputs are sorted in memory (the second pass with one
        bucket).
    n_buckets
        Number of buckets of the second pass; each holds about ``m / n_buckets`` values
        (or one tied value's count if larger). Default: one per 2**22 array elements,
        at most one per chunk. Dask inputs only.

    Returns
    -------
    Array of the input's float dtype (float64 for other dtypes), numpy or Dask like the
    input.

    Examples
    --------
    >>> import numpy as np
    >>> bh_q_values(np.array([0.01, 0.04, np.nan, 0.03, 0.5])).round(4).tolist()
    [0.04, 0.0533, nan, 0.0533, 0.5]
    """
    if isinstance(p_values, da.Array):
        return _bh_dask(p_values, pool_axis, max_summary_size, n_buckets)
    return _bh_numpy(np.asarray(p_values), pool_axis)
