"""Null pooling, p-values and false discovery rate control for interaction scores.

The module has two layers, as flox does:

* array kernels on numpy blocks and Dask graphs built from them: mergeable summaries of
  the null distribution, p-values per pool, and an exact distributed Benjamini-Hochberg
  procedure;
* a thin xarray layer (:func:`add_p_values`, :func:`add_q_values`, :func:`pair_summary`)
  that reads the variables of the data contract and returns a new Dataset without
  mutating its input. On Dask-backed inputs everything stays lazy until the caller
  computes.

Null summaries
--------------
Every float is mapped to an unsigned integer *key* with the same order (the IEEE-754 bit
pattern, with the sign handled), so a pool of null scores is summarized exactly by its
sorted distinct keys and their counts. Summaries of chunks merge by concatenation, and the
merge is associative, so they are reduced across chunks with a Dask tree reduction. When a
summary grows beyond ``max_summary_size`` entries, the lowest key bits are dropped (one bit
at a time) until it fits: the summary becomes a histogram whose bins are relative intervals
of width at most ``2**(shift - mantissa_bits)``, where ``mantissa_bits`` is 23 for float32
and 52 for float64. The final number of dropped bits is the smallest one with which the
whole pool fits, whatever the chunking, so results do not depend on chunk sizes. Bins
never get coarser than one binade (all mantissa bits dropped), whatever the limit.

Examples
--------
>>> import numpy as np
>>> from dfimx import stats
>>> rng = np.random.default_rng(0)
>>> null = rng.normal(size=999)
>>> p = stats.empirical_p_values(np.array([0.0, 10.0]), null)
>>> float(p[1]) == 1 / 1000
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from dfimx.variables import DatasetValidationError

__all__ = [
    "DEFAULT_BH_SUMMARY_SIZE",
    "DEFAULT_DISTANCE_BINS",
    "DEFAULT_MAX_SUMMARY_SIZE",
    "KeySummary",
    "add_p_values",
    "add_q_values",
    "bh_q_values",
    "distance_between",
    "empirical_p_values",
    "gaussian_p_values",
    "pair_summary",
    "summarize_run",
]

PValueMethod = Literal["empirical", "gaussian"]
Alternative = Literal["two-sided", "greater"]

#: Default edges (bases) of the distance bins of ``level="distance"``: 1-2-5 log-spaced;
#: bin ``i`` is ``[edges[i], edges[i+1])``, the last bin is open-ended.
DEFAULT_DISTANCE_BINS: tuple[int, ...] = (
    0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000,
)
#: Default largest number of (pool, key) entries a null summary keeps exactly.
DEFAULT_MAX_SUMMARY_SIZE = 1 << 22
#: Default number of distinct p-values up to which BH q-values come from the first pass
#: alone (both paths are exact; this only picks the faster one).
DEFAULT_BH_SUMMARY_SIZE = 1 << 16
_LEVELS: dict[str, tuple[str, ...]] = {
    "global": (),
    "task": ("task",),
    "map": ("seq", "task"),
    "distance": ("distance",),
}
_FACTORS = ("seq", "task", "distance")
_SPLIT_EVERY = 8
#: Default number of p-values per bucket of the exact BH second pass.
_BUCKET_VALUES = 1 << 22
_SCORE_DIMS = ("seq", "mutation", "response", "task")


# --------------------------------------------------------------------------------------
# Order-preserving keys
# --------------------------------------------------------------------------------------


def _key_dtype(dtype: np.dtype) -> tuple[type, type, int]:
    """(float type, unsigned key type, number of key bits) used for values of ``dtype``."""
    if np.dtype(dtype) == np.float32:
        return np.float32, np.uint32, 32
    return np.float64, np.uint64, 64


def _to_keys(values: np.ndarray, ftype: type) -> np.ndarray:
    """Unsigned keys with the order of the (non-NaN) floats ``values``; -0.0 maps like 0.0."""
    x = np.asarray(values, dtype=ftype) + ftype(0.0)
    utype = np.uint32 if ftype is np.float32 else np.uint64
    sign = utype(1) << utype(8 * x.itemsize - 1)
    u = x.view(utype)
    return np.where((u & sign) != 0, ~u, u | sign)


def _from_keys(keys: np.ndarray, ftype: type) -> np.ndarray:
    """Inverse of :func:`_to_keys` (for keys with no dropped bits)."""
    utype = np.uint32 if ftype is np.float32 else np.uint64
    keys = np.asarray(keys, dtype=utype)
    sign = utype(1) << utype(8 * np.dtype(utype).itemsize - 1)
    u = np.where((keys & sign) != 0, keys & ~sign, ~keys)
    return u.view(ftype)


def _bin_center(keys: np.ndarray, shift: int, ftype: type) -> np.ndarray:
    """Value at the middle of the key bins ``keys`` (keys with ``shift`` dropped bits)."""
    if shift == 0:
        return _from_keys(keys, ftype).astype(np.float64)
    utype = np.uint32 if ftype is np.float32 else np.uint64
    k = np.asarray(keys, dtype=utype) << utype(shift)
    lo = _from_keys(k, ftype).astype(np.float64)
    hi = _from_keys(k | utype((1 << shift) - 1), ftype).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        mid = np.where(np.isfinite(lo) & np.isfinite(hi), 0.5 * (lo + hi), lo)
    return mid


# --------------------------------------------------------------------------------------
# Mergeable summaries of value distributions, per pool
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeySummary:
    """Distinct values (as order-preserving keys) and their counts, per pool.

    Entries are sorted by ``(pool, key)``. ``shift`` low key bits were dropped to keep the
    summary within its size limit (0: exact).

    Examples
    --------
    >>> import numpy as np
    >>> s = KeySummary.from_values(np.array([1.0, 2.0, 2.0]), np.zeros(3, int), 1)
    >>> s.count.tolist(), s.shift
    ([1, 2], 0)
    """

    pool: np.ndarray
    key: np.ndarray
    count: np.ndarray
    shift: int
    n_pools: int
    ftype: type

    @property
    def bits(self) -> int:
        """Number of bits of the keys."""
        return 32 if self.ftype is np.float32 else 64

    def __len__(self) -> int:
        return int(self.key.size)

    @classmethod
    def empty(cls, n_pools: int, ftype: type) -> KeySummary:
        """A summary of no values."""
        utype = np.uint32 if ftype is np.float32 else np.uint64
        return cls(
            np.zeros(0, np.int64), np.zeros(0, utype), np.zeros(0, np.int64), 0, n_pools, ftype
        )

    @classmethod
    def from_values(
        cls,
        values: np.ndarray,
        pools: np.ndarray,
        n_pools: int,
        *,
        ftype: type = np.float64,
        limit: int | None = None,
    ) -> KeySummary:
        """Summarize ``values`` (NaN ignored) by pool; coarsen to ``limit`` entries."""
        values = np.asarray(values).ravel()
        pools = np.asarray(pools, dtype=np.int64).ravel()
        ok = ~np.isnan(values)
        if not ok.all():
            values, pools = values[ok], pools[ok]
        keys = _to_keys(values, ftype)
        if keys.dtype == np.uint32:
            combined = np.sort((pools.astype(np.uint64) << np.uint64(32)) | keys)
            pool_s = (combined >> np.uint64(32)).astype(np.int64)
            key_s = (combined & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        elif n_pools == 1:
            key_s = np.sort(keys)
            pool_s = np.zeros(key_s.size, np.int64)
        else:
            order = np.lexsort((keys, pools))
            key_s, pool_s = keys[order], pools[order]
        pool_r, key_r, count_r = _runs(pool_s, key_s, np.ones(key_s.size, np.int64))
        return cls(pool_r, key_r, count_r, 0, n_pools, ftype).fit(limit)

    def coarsen(self, shift: int) -> KeySummary:
        """The same summary with ``shift`` low key bits dropped (``shift >= self.shift``)."""
        if shift <= self.shift:
            return self
        key = self.key >> self.key.dtype.type(shift - self.shift)
        pool, key, count = _runs(self.pool, key, self.count)
        return KeySummary(pool, key, count, shift, self.n_pools, self.ftype)

    @property
    def max_shift(self) -> int:
        """Coarsest resolution: one bin per binade (all mantissa bits dropped)."""
        return 23 if self.ftype is np.float32 else 52

    def fit(self, limit: int | None) -> KeySummary:
        """Drop key bits, one at a time, until at most ``limit`` entries remain.

        The result is the finest that fits (so it does not depend on how the values were
        split before merging), and never coarser than one bin per binade.
        """
        if limit is None or len(self) <= limit:
            return self
        lo, hi = self.shift, max(self.shift, self.max_shift)
        if self._size_at(hi) > limit:
            return self.coarsen(hi)
        while hi - lo > 1:  # the size is non-increasing in the shift: bisect
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self._size_at(mid) > limit else (lo, mid)
        return self.coarsen(hi)

    def _size_at(self, shift: int) -> int:
        """Number of entries after coarsening to ``shift``."""
        if self.key.size == 0:
            return 0
        key = self.key >> self.key.dtype.type(shift - self.shift)
        change = (key[1:] != key[:-1]) | (self.pool[1:] != self.pool[:-1])
        return 1 + int(np.count_nonzero(change))

    @staticmethod
    def merge(parts: Sequence[KeySummary], limit: int | None = None) -> KeySummary:
        """Merge summaries of disjoint sets of values (associative and commutative)."""
        parts = list(parts)
        shift = max(p.shift for p in parts)
        parts = [p.coarsen(shift) for p in parts]
        pool = np.concatenate([p.pool for p in parts])
        key = np.concatenate([p.key for p in parts])
        count = np.concatenate([p.count for p in parts])
        single_pool = parts[0].n_pools == 1
        order = np.argsort(key, kind="stable") if single_pool else np.lexsort((key, pool))
        if not single_pool:
            pool = pool[order]
        pool, key, count = _runs(pool, key[order], count[order])
        first = parts[0]
        return KeySummary(pool, key, count, shift, first.n_pools, first.ftype).fit(limit)

    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end entry index of each pool."""
        p = np.arange(self.n_pools)
        return np.searchsorted(self.pool, p, "left"), np.searchsorted(self.pool, p, "right")

    def totals(self) -> np.ndarray:
        """Number of values of each pool."""
        return np.bincount(self.pool, weights=self.count, minlength=self.n_pools).astype(
            np.int64
        )

    def count_at_least(self, values: np.ndarray, pools: np.ndarray) -> tuple[np.ndarray, ...]:
        """For each value, (#summarized values of its pool >= it, #values of its pool).

        Exact when ``shift == 0``; otherwise the whole bin holding the value counts as
        ``>=`` (an upper bound, off by at most that bin's count).
        """
        values = np.asarray(values).ravel()
        pools = np.asarray(pools, dtype=np.int64).ravel()
        keys = _to_keys(values, self.ftype) >> self.key.dtype.type(self.shift)
        pos = self.lookup(keys, pools)
        seg_a, seg_b = self.segments()
        cum = np.concatenate([[0], np.cumsum(self.count)])
        end = cum[seg_b[pools]]
        return end - cum[pos], end - cum[seg_a[pools]]

    def lookup(self, keys: np.ndarray, pools: np.ndarray) -> np.ndarray:
        """Index of the first entry of each query's pool whose key is ``>=`` the query key.

        ``keys`` must already have ``shift`` bits dropped. Vectorized over pools.
        """
        keys = np.asarray(keys).ravel()
        pools = np.asarray(pools, dtype=np.int64).ravel()
        if self.n_pools == 1:
            return self._search(self.key, keys)
        if self.key.dtype == np.uint32:  # (pool, key) packed in one sortable uint64
            table = (self.pool.astype(np.uint64) << np.uint64(32)) | self.key
            return self._search(table, (pools.astype(np.uint64) << np.uint64(32)) | keys)
        seg_a, seg_b = self.segments()
        out = np.empty(keys.size, np.int64)
        order = np.argsort(pools, kind="stable")
        present, first = np.unique(pools[order], return_index=True)
        bounds = np.append(first, order.size)
        for p, lo, hi in zip(present, bounds[:-1], bounds[1:], strict=True):
            sel = order[lo:hi]
            out[sel] = seg_a[p] + self._search(self.key[seg_a[p] : seg_b[p]], keys[sel])
        return out

    @staticmethod
    def _search(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
        if table.size <= 1 << 16 or queries.size < 1024:
            return np.searchsorted(table, queries, "left")
        order = np.argsort(queries)  # sorted queries: cache-friendly searches of a big table
        out = np.empty(queries.size, np.int64)
        out[order] = np.searchsorted(table, queries[order], "left")
        return out


def _runs(pool: np.ndarray, key: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, ...]:
    """Collapse adjacent equal (pool, key) entries of sorted arrays, adding counts."""
    if key.size == 0:
        return pool, key, count
    change = np.empty(key.size, bool)
    change[0] = True
    np.not_equal(key[1:], key[:-1], out=change[1:])
    change[1:] |= pool[1:] != pool[:-1]
    idx = np.flatnonzero(change)
    if idx.size == key.size:
        return pool, key, count
    return pool[idx], key[idx], np.add.reduceat(count, idx)


@dataclass(frozen=True)
class MomentSummary:
    """Count, mean and sum of squared deviations per pool (Chan et al. merge)."""

    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def from_values(cls, values: np.ndarray, pools: np.ndarray, n_pools: int) -> MomentSummary:
        """Moments of ``values`` (NaN ignored) by pool."""
        values = np.asarray(values, dtype=np.float64).ravel()
        pools = np.asarray(pools, dtype=np.int64).ravel()
        ok = ~np.isnan(values)
        values, pools = values[ok], pools[ok]
        n = np.bincount(pools, minlength=n_pools).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(pools, weights=values, minlength=n_pools) / n
        mean = np.where(n > 0, mean, 0.0)
        m2 = np.bincount(pools, weights=(values - mean[pools]) ** 2, minlength=n_pools)
        return cls(n, mean, m2)

    @staticmethod
    def merge(parts: Sequence[MomentSummary]) -> MomentSummary:
        """Merge moments of disjoint sets of values."""
        out = parts[0]
        for b in parts[1:]:
            n = out.n + b.n
            with np.errstate(invalid="ignore", divide="ignore"):
                delta = b.mean - out.mean
                mean = np.where(n > 0, out.mean + delta * b.n / n, 0.0)
                m2 = out.m2 + b.m2 + np.where(n > 0, delta**2 * out.n * b.n / n, 0.0)
            out = MomentSummary(n, mean, m2)
        return out

    def std(self) -> np.ndarray:
        """Sample standard deviation (ddof=1) per pool; NaN with fewer than 2 values."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 1, np.sqrt(self.m2 / (self.n - 1)), np.nan)


def _tree_reduce(parts: list[Any], merge: Callable[[list[Any]], Any]) -> Any:
    """Delayed tree reduction of ``parts`` with ``merge`` (a list -> one) as the combine."""
    parts = list(parts)
    while len(parts) > 1:
        parts = [
            dask.delayed(merge, pure=True)(parts[i : i + _SPLIT_EVERY])
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    return parts[0]


# --------------------------------------------------------------------------------------
# p-value kernels
# --------------------------------------------------------------------------------------


def _check_alternative(alternative: str) -> None:
    if alternative not in ("two-sided", "greater"):
        raise ValueError(f"alternative must be 'two-sided' or 'greater', not {alternative!r}")


def _statistic(x: np.ndarray, alternative: str) -> np.ndarray:
    return np.abs(x) if alternative == "two-sided" else x


def _empirical_from_summary(
    summary: KeySummary, x: np.ndarray, pools: np.ndarray, alternative: str
) -> np.ndarray:
    x = np.asarray(x)
    out = np.full(x.shape, np.nan, np.float64)
    ok = ~np.isnan(x)
    n_ge, n = summary.count_at_least(_statistic(x[ok], alternative), pools[ok])
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = np.where(n > 0, (1.0 + n_ge) / (n + 1.0), np.nan)
    return out


def _gaussian_from_summary(
    summary: MomentSummary, x: np.ndarray, pools: np.ndarray, alternative: str
) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mean, sd = summary.mean[pools], summary.std()[pools]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x - mean) / sd
        if alternative == "two-sided":
            p = 2.0 * special.ndtr(-np.abs(z))
        else:
            p = special.ndtr(-z)
    return np.minimum(p, 1.0)


def empirical_p_values(
    score: np.ndarray, null: np.ndarray, *, alternative: Alternative = "two-sided"
) -> np.ndarray:
    """Empirical p-values of ``score`` against one pool of ``null`` scores.

    ``p = (1 + #{null >= x}) / (n + 1)`` with ``n`` the number of non-NaN null scores;
    two-sided compares ``|x|`` with ``|null|``.

    Parameters
    ----------
    score
        Observed scores, any shape; NaN gives NaN.
    null
        Null scores (NaN ignored), any shape.
    alternative
        ``"two-sided"`` (on absolute values) or ``"greater"``.

    Returns
    -------
    float64 array of the shape of ``score``.

    Examples
    --------
    >>> import numpy as np
    >>> empirical_p_values(np.array([-3.0, 0.5]), np.array([1.0, -2.0, 4.0])).tolist()
    [0.5, 1.0]
    """
    _check_alternative(alternative)
    score = np.asarray(score)
    null = np.asarray(null)
    ftype, _, _ = _key_dtype(np.result_type(score.dtype, null.dtype, np.float32))
    s = KeySummary.from_values(
        _statistic(null, alternative), np.zeros(null.size, np.int64), 1, ftype=ftype
    )
    return _empirical_from_summary(s, score, np.zeros(score.shape, np.int64), alternative)


def gaussian_p_values(
    score: np.ndarray, null: np.ndarray, *, alternative: Alternative = "two-sided"
) -> np.ndarray:
    """p-values of ``score`` under a Gaussian fitted to ``null`` (mean, ddof=1 sd).

    Two-sided: ``2 * sf(|x - mean| / sd)``; greater: ``sf((x - mean) / sd)``.

    Examples
    --------
    >>> import numpy as np
    >>> p = gaussian_p_values(np.array([0.0, 1.96]), np.array([-1.0, 1.0]) * np.sqrt(0.5))
    >>> [round(float(v), 3) for v in p]
    [1.0, 0.05]
    """
    _check_alternative(alternative)
    null = np.asarray(null)
    s = MomentSummary.from_values(null, np.zeros(null.size, np.int64), 1)
    score = np.asarray(score)
    return _gaussian_from_summary(s, score, np.zeros(score.shape, np.int64), alternative)


def distance_between(
    mutation_start: np.ndarray,
    mutation_end: np.ndarray,
    response_start: np.ndarray,
    response_end: np.ndarray,
) -> np.ndarray:
    """Gap in bases between each source and target interval, ``(seq, mutation, response)``.

    Half-open intervals; 0 for adjacent or overlapping intervals.

    Examples
    --------
    >>> import numpy as np
    >>> distance_between(np.array([[10]]), np.array([[15]]), np.array([[0, 20]]),
    ...                  np.array([[4, 22]])).tolist()
    [[[6, 5]]]
    """
    ms = np.asarray(mutation_start, np.int64)[:, :, None]
    me = np.asarray(mutation_end, np.int64)[:, :, None]
    rs = np.asarray(response_start, np.int64)[:, None, :]
    re = np.asarray(response_end, np.int64)[:, None, :]
    return np.maximum(np.maximum(rs - me, ms - re), 0)


def _pool_ids(
    shape: tuple[int, ...],
    factors: tuple[str, ...],
    edges: np.ndarray,
    ms: np.ndarray | None,
    me: np.ndarray | None,
    rs: np.ndarray | None,
    re: np.ndarray | None,
) -> tuple[np.ndarray, int]:
    """Pool index of each (seq, mutation, response, task) element of a block, #pools."""
    s, m, r, t = shape
    pools = np.zeros(shape, np.int64)
    n = 1
    if "seq" in factors:
        pools = pools * s + np.arange(s)[:, None, None, None]
        n *= s
    if "task" in factors:
        pools = pools * t + np.arange(t)[None, None, None, :]
        n *= t
    if "distance" in factors:
        gap = distance_between(ms, me, rs, re)
        b = np.clip(np.searchsorted(edges, gap, "right") - 1, 0, edges.size - 1)
        pools = pools * edges.size + b[:, :, :, None]
        n *= edges.size
    return np.broadcast_to(pools, shape), n


# --------------------------------------------------------------------------------------
# Benjamini-Hochberg
# --------------------------------------------------------------------------------------
#
# q(v) = min(1, min over distinct p-values v' >= v of v' / (R(v') / m)), with R(v') the
# number of p-values <= v' (in the pool) and m the number of p-values of the pool: this is
# what statsmodels' fdr_bh gives, ties included. So q needs, for every distinct value, its
# rank count R. Pass 1 reduces a KeySummary of the p-values across chunks. If it kept every
# distinct value (shift 0: always so for empirical p-values, which take at most n_null + 1
# values per pool, unless the pools are huge) the q-value of each distinct value is computed
# from it in one small task and mapped back chunk by chunk. Otherwise its bins give the rank
# range of every bin; consecutive bins are grouped into buckets of about m / n_buckets
# values, each chunk sends its values to their buckets, each bucket sorts its values (exact
# R = values of earlier buckets + rank in the bucket), the bucket minima are combined from
# the right across buckets, and the q-values go back to their chunks.


@dataclass(frozen=True)
class _BHPlan:
    summary: KeySummary
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
    ftype, _, _ = _key_dtype(block.dtype)
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
        v = _from_keys(summary.key, summary.ftype).astype(np.float64)
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


def _entry_index(summary: KeySummary, keys: np.ndarray, pools: np.ndarray) -> np.ndarray:
    """Index of the summary entry of each (pool, key) (which must be present)."""
    return summary.lookup(keys, pools)


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
    keys = _to_keys(vals, s.ftype) >> s.key.dtype.type(s.shift)
    if not buckets:
        return idx, vals, pools, _entry_index(s, keys, pools)
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
        entry = _entry_index(s, keys, pools)
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
        packed = (_to_keys(vals, np.float32).astype(np.uint64) << np.uint64(32)) | np.arange(
            vals.size, dtype=np.uint64
        )
        packed.sort(kind="stable")
        order = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
        vs = _from_keys((packed >> np.uint64(32)).astype(np.uint32), np.float32)
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
    summary = _tree_reduce(summaries, functools.partial(KeySummary.merge, limit=limit))
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
    n_buckets
        Number of buckets of the second pass; each holds about ``m / n_buckets`` values
        (or one tied value's count if larger). Default: one per 2**22 array elements,
        at most one per chunk.

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
    arr = da.from_array(np.asarray(p_values), chunks=-1)
    return _bh_dask(arr, pool_axis, max_summary_size, n_buckets).compute(scheduler="sync")


# --------------------------------------------------------------------------------------
# Graph construction for p-values on (seq, mutation, response, task[, null]) arrays
# --------------------------------------------------------------------------------------


def _normalize_level(level: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(level, str):
        if level in _LEVELS:
            return _LEVELS[level]
        names: Sequence[str] = (level,)
    else:
        names = level
    out: list[str] = []
    for name in names:
        name = {"map": "seq"}.get(name, name)
        if name not in _FACTORS:
            raise ValueError(
                f"unknown null level {name!r}; choose one of {tuple(_LEVELS)} or a "
                f"combination of {_FACTORS}"
            )
        out.append(name)
    return tuple(f for f in _FACTORS if f in out)


def _null_block_summary(
    null: np.ndarray,
    ms: np.ndarray | None,
    me: np.ndarray | None,
    rs: np.ndarray | None,
    re: np.ndarray | None,
    *,
    method: str,
    factors: tuple[str, ...],
    edges: np.ndarray,
    alternative: str,
    ftype: type,
    limit: int | None,
) -> KeySummary | MomentSummary:
    pools, n_pools = _pool_ids(null.shape[:4], factors, edges, ms, me, rs, re)
    pools = np.broadcast_to(pools[..., None], null.shape)
    if method == "gaussian":
        return MomentSummary.from_values(null, pools, n_pools)
    return KeySummary.from_values(
        _statistic(null, alternative), pools, n_pools, ftype=ftype, limit=limit
    )


def _p_value_block(
    score: np.ndarray,
    null: np.ndarray | None,
    ms: np.ndarray | None,
    me: np.ndarray | None,
    rs: np.ndarray | None,
    re: np.ndarray | None,
    *,
    summary: KeySummary | MomentSummary | None,
    method: str,
    factors: tuple[str, ...],
    edges: np.ndarray,
    alternative: str,
    ftype: type,
) -> np.ndarray:
    if summary is None:  # per-sequence pools: the block's own null, exact
        summary = _null_block_summary(
            null, ms, me, rs, re, method=method, factors=factors, edges=edges,
            alternative=alternative, ftype=ftype, limit=None,
        )
    pools, _ = _pool_ids(score.shape, factors, edges, ms, me, rs, re)
    if method == "gaussian":
        p = _gaussian_from_summary(summary, score, pools, alternative)  # type: ignore[arg-type]
    else:
        p = _empirical_from_summary(summary, score, pools, alternative)  # type: ignore[arg-type]
    p[np.isnan(score)] = np.nan
    return p.astype(np.float32)


def _p_values_dask(
    score: da.Array,
    null: da.Array,
    coords: list[da.Array] | None,
    *,
    method: str,
    factors: tuple[str, ...],
    edges: np.ndarray,
    alternative: str,
    limit: int,
) -> da.Array:
    ftype, _, _ = _key_dtype(np.result_type(score.dtype, null.dtype, np.float32))
    opts = dict(method=method, factors=factors, edges=edges, alternative=alternative)
    idx = {"ms": "sm", "me": "sm", "rs": "sr", "re": "sr"}
    coord_args: list[Any] = []
    if coords is not None:
        for arr, ind in zip(coords, idx.values(), strict=True):
            coord_args += [arr, ind]
    else:
        coord_args = [None, None, None, None, None, None, None, None]
    if "seq" in factors:
        return da.blockwise(
            _p_value_block, "smrt", score, "smrt", null, "smrtk", *coord_args,
            summary=None, ftype=ftype, dtype=np.float32, concatenate=True, **opts,
        )

    block_summary = functools.partial(_null_block_summary, ftype=ftype, limit=limit, **opts)

    nul_blocks = null.to_delayed().ravel()
    coord_blocks = (
        [c.to_delayed().ravel() for c in coords] if coords is not None else [[None] * len(
            nul_blocks)] * 4
    )
    parts = [
        dask.delayed(block_summary, pure=True)(nb, *(c[i] for c in coord_blocks))
        for i, nb in enumerate(nul_blocks)
    ]
    if method == "gaussian":
        summary = _tree_reduce(parts, MomentSummary.merge)
    else:
        summary = _tree_reduce(parts, functools.partial(KeySummary.merge, limit=limit))
    return da.blockwise(
        _p_value_block, "smrt", score, "smrt", None, None, *coord_args,
        summary=summary, ftype=ftype, dtype=np.float32, concatenate=True, **opts,
    )


# --------------------------------------------------------------------------------------
# xarray layer
# --------------------------------------------------------------------------------------


def _require(ds: xr.Dataset, name: str, dims: tuple[str, ...]) -> xr.DataArray:
    if name not in ds:
        raise DatasetValidationError(f"variable {name!r} is missing from the dataset")
    var = ds[name]
    if set(var.dims) != set(dims):
        raise DatasetValidationError(f"variable {name!r} has dims {var.dims}, expected {dims}")
    if var.dtype.kind != "f":
        raise DatasetValidationError(f"variable {name!r} has dtype {var.dtype}, expected float")
    return var.transpose(*dims)


def _seq_chunks(var: xr.DataArray) -> tuple[int, ...]:
    if var.chunks is None:
        return (var.sizes["seq"],)
    return var.chunks[var.get_axis_num("seq")]


def _as_dask(var: xr.DataArray, seq_chunks: tuple[int, ...]) -> da.Array:
    """The data of ``var`` as a Dask array chunked like ``seq_chunks`` on seq, whole elsewhere."""
    chunks = {d: (seq_chunks if d == "seq" else -1) for d in var.dims}
    return var.chunk(chunks).data


def _is_lazy(*vars_: xr.DataArray) -> bool:
    return any(v.chunks is not None for v in vars_)


def add_p_values(
    ds: xr.Dataset,
    *,
    pvalue: PValueMethod = "empirical",
    level: str | Sequence[str] = "global",
    distance_bins: Sequence[int] | None = None,
    alternative: Alternative = "two-sided",
    score: str = "interaction_score",
    null: str = "null_interaction_score",
    output: str = "interaction_p_value",
    max_null_summary_size: int = DEFAULT_MAX_SUMMARY_SIZE,
) -> xr.Dataset:
    """Add p-values of the interaction scores against the pooled null scores.

    Parameters
    ----------
    ds
        Dataset with ``score`` (seq, mutation, response, task) and ``null`` (the same dims
        plus ``null``), NaN where there is no test; chunked over ``seq`` (other dims are
        made whole per chunk).
    pvalue
        ``"empirical"``: ``(1 + #{null >= x}) / (n + 1)`` over the pool's ``n`` non-NaN
        null scores; ``"gaussian"``: from a normal distribution fitted to the pool
        (mean and ddof=1 sd).
    level
        How null scores are pooled: ``"global"`` (all null scores of the run), ``"task"``
        (per task), ``"map"`` (per sequence and task: the null of that map only),
        ``"distance"`` (per bin of distance between source and target, see
        ``distance_bins``), or a combination of the factors ``"seq"``, ``"task"``,
        ``"distance"`` such as ``("task", "distance")``.
    distance_bins
        Increasing bin edges in bases for the distance (gap between the source and
        target intervals, 0 when adjacent); the last bin is open-ended. Default
        :data:`DEFAULT_DISTANCE_BINS`.
    alternative
        ``"two-sided"`` compares ``|score|`` with ``|null|`` (empirical) or uses
        ``2 sf(|x - mean| / sd)`` (Gaussian); ``"greater"`` tests large positive scores.
    score, null, output
        Variable names.
    max_null_summary_size
        Entries of the exact null summary (distinct null values summed over pools)
        above which it is coarsened to a histogram (see the module notes): empirical
        p-values then overestimate by at most the null mass of the score's bin, divided
        by ``n + 1``. Not used with ``level`` including ``"seq"`` (always exact).

    Returns
    -------
    A new dataset with ``output`` (float32, dims of ``score``, NaN where it is NaN).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(1)
    >>> dims = ("seq", "mutation", "response", "task")
    >>> ds = xr.Dataset({
    ...     "interaction_score": (dims, rng.normal(size=(4, 2, 3, 1)).astype("f4")),
    ...     "null_interaction_score": (dims + ("null",),
    ...                                rng.normal(size=(4, 2, 3, 1, 50)).astype("f4")),
    ... }).chunk(seq=2)
    >>> out = add_p_values(ds, level="task")
    >>> out.interaction_p_value.dtype, out.interaction_p_value.chunks[0]
    (dtype('float32'), (2, 2))
    """
    if pvalue not in ("empirical", "gaussian"):
        raise ValueError(f"pvalue must be 'empirical' or 'gaussian', not {pvalue!r}")
    _check_alternative(alternative)
    factors = _normalize_level(level)
    s_var = _require(ds, score, _SCORE_DIMS)
    n_var = _require(ds, null, _SCORE_DIMS + ("null",))
    edges = np.asarray(
        DEFAULT_DISTANCE_BINS if distance_bins is None else distance_bins, dtype=np.int64
    )
    if edges.ndim != 1 or edges.size == 0 or np.any(np.diff(edges) <= 0):
        raise ValueError("distance_bins must be a non-empty increasing sequence of edges")
    chunks = _seq_chunks(s_var)
    coords = None
    if "distance" in factors:
        names = ("mutation_start", "mutation_end", "response_start", "response_end")
        for name in names:
            if name not in ds:
                raise DatasetValidationError(
                    f"variable {name!r} is missing from the dataset (needed by level "
                    f"{level!r})"
                )
        coords = [_as_dask(ds[n].transpose("seq", n.split("_")[0]), chunks) for n in names]
    lazy = _is_lazy(s_var, n_var)
    p = _p_values_dask(
        _as_dask(s_var, chunks), _as_dask(n_var, chunks), coords, method=pvalue,
        factors=factors, edges=edges, alternative=alternative, limit=max_null_summary_size,
    )
    attrs = {
        "long_name": f"{pvalue} p-value of {score}",
        "pvalue": pvalue,
        "null_level": level if isinstance(level, str) else "+".join(level),
        "pool_factors": list(factors),
        "alternative": alternative,
        "score_variable": score,
        "null_variable": null,
        "n_null_draws": int(n_var.sizes["null"]),
    }
    if "distance" in factors:
        attrs["distance_bins"] = [int(e) for e in edges]
    if pvalue == "empirical" and "seq" not in factors:
        attrs["max_null_summary_size"] = int(max_null_summary_size)
    out = xr.DataArray(p, dims=_SCORE_DIMS, coords=s_var.coords, attrs=attrs)
    if not lazy:
        out = out.compute()
    return ds.assign({output: out})


def add_q_values(
    ds: xr.Dataset,
    *,
    per_task: bool = False,
    p_value: str = "interaction_p_value",
    output: str = "interaction_q_value",
    max_summary_size: int = DEFAULT_BH_SUMMARY_SIZE,
    n_buckets: int | None = None,
) -> xr.Dataset:
    """Add Benjamini-Hochberg q-values over all tests of the run (NaN excluded).

    Parameters
    ----------
    ds
        Dataset with ``p_value`` (any dims; ``task`` among them if ``per_task``).
    per_task
        One BH procedure per task instead of one over all tests.
    p_value, output
        Variable names.
    max_summary_size, n_buckets
        See :func:`bh_q_values`.

    Returns
    -------
    A new dataset with ``output`` (float32, dims of ``p_value``), lazy if the input is.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"interaction_p_value": (("seq", "task"), [[0.01, 0.2], [0.03, np.nan]])})
    >>> np.round(add_q_values(ds).interaction_q_value.values.astype(float), 3).tolist()
    [[0.03, 0.2], [0.045, nan]]
    """
    if p_value not in ds:
        raise DatasetValidationError(
            f"variable {p_value!r} is missing from the dataset (run add_p_values first)"
        )
    var = ds[p_value]
    if var.dtype.kind != "f":
        raise DatasetValidationError(f"variable {p_value!r} has dtype {var.dtype}, expected float")
    pool_axis = None
    if per_task:
        if "task" not in var.dims:
            raise DatasetValidationError(f"variable {p_value!r} has no 'task' dim for per_task")
        pool_axis = var.get_axis_num("task")
    lazy = _is_lazy(var)
    data = var.data if lazy else da.from_array(np.asarray(var.values), chunks=-1)
    q = _bh_dask(data, pool_axis, max_summary_size, n_buckets).astype(np.float32)
    attrs = {
        "long_name": f"Benjamini-Hochberg q-value of {p_value}",
        "method": "fdr_bh",
        "p_value_variable": p_value,
        "per_task": int(per_task),
    }
    out = xr.DataArray(q, dims=var.dims, coords=var.coords, attrs=attrs)
    if not lazy:
        out = out.compute(scheduler="sync")
    return ds.assign({output: out})


# --------------------------------------------------------------------------------------
# Pair summaries
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PairPartial:
    groups: pd.DataFrame  # source_name, target_name, task; row i is pool i
    n_significant: np.ndarray
    summary: KeySummary


def _pair_block(
    score: np.ndarray,
    q: np.ndarray,
    mname: np.ndarray,
    rname: np.ndarray,
    tasks: np.ndarray,
    alpha: float,
    limit: int,
) -> _PairPartial:
    s_i, m_i, r_i, t_i = np.nonzero(~np.isnan(score))
    frame = pd.DataFrame(
        {
            "source_name": np.asarray(mname)[s_i, m_i].astype(object),
            "target_name": np.asarray(rname)[s_i, r_i].astype(object),
            "task": tasks[t_i],
        }
    )
    codes, groups = _factorize(frame)
    sig = (q[s_i, m_i, r_i, t_i] < alpha).astype(np.int64)
    n_sig = np.bincount(codes, weights=sig, minlength=len(groups)).astype(np.int64)
    summary = KeySummary.from_values(
        score[s_i, m_i, r_i, t_i].astype(np.float64), codes, len(groups), limit=limit
    )
    return _PairPartial(groups, n_sig, summary)


def _factorize(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    if len(frame) == 0:
        return np.zeros(0, np.int64), frame.iloc[:0].reset_index(drop=True)
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame))
    groups = uniques.to_frame(index=False)
    groups.columns = list(frame.columns)
    return codes.astype(np.int64), groups


def _pair_merge(parts: list[_PairPartial], limit: int) -> _PairPartial:
    frame = pd.concat([p.groups for p in parts], ignore_index=True)
    codes, groups = _factorize(frame)
    offsets = np.cumsum([0] + [len(p.groups) for p in parts])
    n_sig = np.zeros(len(groups), np.int64)
    summaries = []
    for p, off in zip(parts, offsets[:-1], strict=True):
        remap = codes[off : off + len(p.groups)]
        np.add.at(n_sig, remap, p.n_significant)
        s = p.summary
        summaries.append(
            KeySummary(remap[s.pool], s.key, s.count, s.shift, len(groups), s.ftype)
        )
    return _PairPartial(groups, n_sig, KeySummary.merge(summaries, limit))


def _pair_table(partial: _PairPartial) -> pd.DataFrame:
    s = partial.summary
    n = s.totals()
    cum = np.cumsum(s.count)
    seg_a, _ = s.segments()
    base = np.concatenate([[0], cum])[seg_a]
    med = np.full(n.size, np.nan)
    has = n > 0
    if has.any():
        lo = np.searchsorted(cum, base[has] + (n[has] - 1) // 2, "right")
        hi = np.searchsorted(cum, base[has] + n[has] // 2, "right")
        med[has] = 0.5 * (_bin_center(s.key[lo], s.shift, s.ftype)
                          + _bin_center(s.key[hi], s.shift, s.ftype))
    table = partial.groups.copy()
    table["n_tests"] = n
    table["median_score"] = med
    table["n_significant"] = partial.n_significant
    with np.errstate(invalid="ignore", divide="ignore"):
        table["fraction_significant"] = np.where(n > 0, partial.n_significant / n, np.nan)
    table.attrs["median_exact"] = s.shift == 0
    return table.sort_values(["source_name", "target_name", "task"]).reset_index(drop=True)


def pair_summary(
    ds: xr.Dataset,
    *,
    alpha: float = 0.05,
    score: str = "interaction_score",
    q_value: str = "interaction_q_value",
    max_summary_size: int = DEFAULT_MAX_SUMMARY_SIZE,
) -> pd.DataFrame:
    """Per (source name, target name, task): tests, median score, fraction significant.

    Partial tables are built chunk by chunk (names are per sequence) and merged with a
    tree reduction, so the scores are never gathered in one task. The median is exact
    when the scores have at most ``max_summary_size`` distinct values in total, else the
    centre of its histogram bin (``table.attrs["median_exact"]`` says which).

    Parameters
    ----------
    ds
        Dataset with ``score``, ``q_value`` (run :func:`add_q_values` first),
        ``mutation_name`` and ``response_name``.
    alpha
        A test is significant when its q-value is below ``alpha``.
    score, q_value
        Variable names.
    max_summary_size
        Limit of the exact score summary used for medians.

    Returns
    -------
    DataFrame with columns ``source_name, target_name, task, n_tests, median_score,
    n_significant, fraction_significant``; ``task`` holds the task coordinate labels
    (or indices when there is none).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> dims = ("seq", "mutation", "response", "task")
    >>> ds = xr.Dataset({
    ...     "interaction_score": (dims, np.array([1.0, 3.0]).reshape(2, 1, 1, 1)),
    ...     "interaction_q_value": (dims, np.array([0.01, 0.2]).reshape(2, 1, 1, 1)),
    ...     "mutation_name": (("seq", "mutation"), np.array([["A"], ["A"]], object)),
    ...     "response_name": (("seq", "response"), np.array([["B"], ["B"]], object)),
    ... })
    >>> pair_summary(ds)[["n_tests", "median_score", "fraction_significant"]].values.tolist()
    [[2.0, 2.0, 0.5]]
    """
    s_var = _require(ds, score, _SCORE_DIMS)
    if q_value not in ds:
        raise DatasetValidationError(
            f"variable {q_value!r} is missing from the dataset (run add_q_values first)"
        )
    q_var = ds[q_value].transpose(*_SCORE_DIMS)
    for name in ("mutation_name", "response_name"):
        if name not in ds:
            raise DatasetValidationError(f"variable {name!r} is missing from the dataset")
    tasks = (
        np.asarray(ds["task"].values) if "task" in ds.coords else np.arange(s_var.sizes["task"])
    )
    chunks = _seq_chunks(s_var)
    arrays = [
        _as_dask(s_var, chunks),
        _as_dask(q_var, chunks),
        _as_dask(ds["mutation_name"].transpose("seq", "mutation"), chunks),
        _as_dask(ds["response_name"].transpose("seq", "response"), chunks),
    ]
    blocks = [a.to_delayed().ravel() for a in arrays]
    parts = [
        dask.delayed(_pair_block, pure=True)(*(b[i] for b in blocks), tasks, alpha,
                                             max_summary_size)
        for i in range(len(blocks[0]))
    ]
    merged = _tree_reduce(parts, functools.partial(_pair_merge, limit=max_summary_size))
    (table,) = dask.compute(dask.delayed(_pair_table, pure=True)(merged))
    return table


def summarize_run(
    ds: xr.Dataset,
    *,
    alpha: float = 0.05,
    score: str = "interaction_score",
    p_value: str = "interaction_p_value",
    q_value: str = "interaction_q_value",
) -> pd.DataFrame:
    """Per task: number of tests, of p < alpha, of q < alpha, and the BH threshold.

    Computed with Dask reductions (one pass over the chunks).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"interaction_score": ("task", [1.0, np.nan]),
    ...                  "interaction_p_value": ("task", [0.01, np.nan]),
    ...                  "interaction_q_value": ("task", [0.01, np.nan])})
    >>> summarize_run(ds)["n_significant"].tolist()
    [1, 0]
    """
    for name in (score, p_value, q_value):
        if name not in ds:
            raise DatasetValidationError(f"variable {name!r} is missing from the dataset")
    dims = [d for d in ds[score].dims if d != "task"]
    tested = ds[score].notnull()
    p_max = ds[p_value].where(ds[q_value] < alpha).max(dims)
    out = xr.Dataset(
        {
            "n_tests": tested.astype(np.int64).sum(dims),
            "n_p_below_alpha": (ds[p_value] < alpha).astype(np.int64).sum(dims),
            "n_significant": (ds[q_value] < alpha).astype(np.int64).sum(dims),
            "largest_significant_p": p_max,
        }
    )
    (out,) = dask.compute(out)
    frame = out.to_dataframe() if "task" in out.dims else out.expand_dims("task").to_dataframe()
    return frame.reset_index()
