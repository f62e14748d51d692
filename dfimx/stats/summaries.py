"""Mergeable summaries of value distributions, per pool, and their Dask tree reduction.

Every float is mapped to an unsigned integer *key* with the same order (the IEEE-754 bit
pattern, with the sign handled), so a pool of values is summarized exactly by its sorted
distinct keys and their counts (:class:`KeySummary`). Summaries of chunks merge by
concatenation, and the merge is associative, so they are reduced across chunks with a Dask
tree reduction (:func:`tree_reduce`). When a summary grows beyond its size limit, the
lowest key bits are dropped (one bit at a time) until it fits: the summary becomes a
histogram whose bins are relative intervals of width at most ``2**(shift -
mantissa_bits)``, where ``mantissa_bits`` is 23 for float32 and 52 for float64. The final
number of dropped bits is the smallest one with which the whole pool fits, whatever the
chunking, so results do not depend on chunk sizes. Bins never get coarser than one binade
(all mantissa bits dropped), whatever the limit.

:class:`MomentSummary` keeps count, mean and sum of squared deviations per pool instead
(for Gaussian p-values).

Examples
--------
>>> import numpy as np
>>> x = np.array([0.5, -1.0, 2.0])
>>> keys = to_keys(x, np.float64)
>>> np.argsort(keys).tolist() == np.argsort(x).tolist()
True
>>> from_keys(keys, np.float64).tolist()
[0.5, -1.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import numpy as np

__all__ = [
    "DEFAULT_MAX_SUMMARY_SIZE",
    "KeySummary",
    "MomentSummary",
    "bin_center",
    "float_type",
    "from_keys",
    "to_keys",
    "tree_reduce",
]

#: Default largest number of (pool, key) entries a summary keeps exactly.
DEFAULT_MAX_SUMMARY_SIZE = 1 << 22
#: Fan-in of the tree reductions.
SPLIT_EVERY = 8


# --------------------------------------------------------------------------------------
# Order-preserving keys
# --------------------------------------------------------------------------------------


def float_type(dtype: np.dtype) -> type:
    """The float type whose keys summarize values of ``dtype``: float32 or float64.

    Examples
    --------
    >>> float_type(np.dtype("f4")).__name__, float_type(np.dtype("i8")).__name__
    ('float32', 'float64')
    """
    return np.float32 if np.dtype(dtype) == np.float32 else np.float64


def key_type(ftype: type) -> type:
    """Unsigned key type of the float type ``ftype`` (uint32 for float32, else uint64)."""
    return np.uint32 if ftype is np.float32 else np.uint64


def to_keys(values: np.ndarray, ftype: type) -> np.ndarray:
    """Unsigned keys with the order of the (non-NaN) floats ``values``; -0.0 maps like 0.0.

    Examples
    --------
    >>> to_keys(np.array([-0.0, 0.0]), np.float32).tolist()
    [2147483648, 2147483648]
    """
    x = np.asarray(values, dtype=ftype) + ftype(0.0)
    utype = key_type(ftype)
    sign = utype(1) << utype(8 * x.itemsize - 1)
    u = x.view(utype)
    return np.where((u & sign) != 0, ~u, u | sign)


def from_keys(keys: np.ndarray, ftype: type) -> np.ndarray:
    """Inverse of :func:`to_keys` (for keys with no dropped bits).

    Examples
    --------
    >>> from_keys(to_keys(np.array([1.5, -3.0]), np.float32), np.float32).tolist()
    [1.5, -3.0]
    """
    utype = key_type(ftype)
    keys = np.asarray(keys, dtype=utype)
    sign = utype(1) << utype(8 * np.dtype(utype).itemsize - 1)
    u = np.where((keys & sign) != 0, keys & ~sign, ~keys)
    return u.view(ftype)


def bin_center(keys: np.ndarray, shift: int, ftype: type) -> np.ndarray:
    """Value (float64) at the middle of the key bins ``keys`` (keys with ``shift`` dropped bits).

    Examples
    --------
    >>> bin_center(to_keys(np.array([3.0]), np.float32), 0, np.float32).tolist()
    [3.0]
    """
    if shift == 0:
        return from_keys(keys, ftype).astype(np.float64)
    utype = key_type(ftype)
    k = np.asarray(keys, dtype=utype) << utype(shift)
    lo = from_keys(k, ftype).astype(np.float64)
    hi = from_keys(k | utype((1 << shift) - 1), ftype).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        mid = np.where(np.isfinite(lo) & np.isfinite(hi), 0.5 * (lo + hi), lo)
    return mid


# --------------------------------------------------------------------------------------
# Summaries per pool
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

    def __len__(self) -> int:
        return int(self.key.size)

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
        keys = to_keys(values, ftype)
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
        keys = to_keys(values, self.ftype) >> self.key.dtype.type(self.shift)
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
    """Count, mean and sum of squared deviations per pool (Chan et al. merge).

    Examples
    --------
    >>> import numpy as np
    >>> a = MomentSummary.from_values(np.array([1.0, 2.0]), np.zeros(2, int), 1)
    >>> b = MomentSummary.from_values(np.array([3.0, np.nan]), np.zeros(2, int), 1)
    >>> MomentSummary.merge([a, b]).std().tolist()
    [1.0]
    """

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


def tree_reduce(parts: list[Any], merge: Callable[[list[Any]], Any]) -> Any:
    """Delayed tree reduction of ``parts`` with ``merge`` (a list -> one) as the combine.

    Examples
    --------
    >>> import dask
    >>> parts = [dask.delayed(i) for i in range(20)]
    >>> tree_reduce(parts, sum).compute()
    190
    """
    parts = list(parts)
    while len(parts) > 1:
        parts = [
            dask.delayed(merge, pure=True)(parts[i : i + SPLIT_EVERY])
            for i in range(0, len(parts), SPLIT_EVERY)
        ]
    return parts[0]
