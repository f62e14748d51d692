"""Tests of dfimx.stats.summaries: order-preserving keys, mergeable summaries, tree reduction."""

from __future__ import annotations

import dask
import numpy as np

from dfimx import stats
from dfimx.stats.summaries import MomentSummary, from_keys, to_keys, tree_reduce


def test_keys_preserve_order():
    rng = np.random.default_rng(5)
    for ftype in (np.float32, np.float64):
        x = np.concatenate([rng.normal(size=500) * 10.0 ** rng.integers(-30, 30, 500),
                            [0.0, -0.0, np.inf, -np.inf, 1e-42, -1e-42]]).astype(ftype)
        k = to_keys(x, ftype)
        order = np.argsort(x, kind="stable")
        assert np.all(np.diff(k[order].astype(np.float64)) >= 0)
        assert np.all((k[:, None] < k[None, :]) == (x[:, None] < x[None, :]))
        back = from_keys(k, ftype)
        np.testing.assert_array_equal(back, x + ftype(0.0))


def test_summary_merge_is_chunking_invariant():
    rng = np.random.default_rng(6)
    x = rng.normal(size=5000).astype(np.float32)
    pools = rng.integers(0, 3, 5000)
    whole = stats.KeySummary.from_values(x, pools, 3, ftype=np.float32, limit=300)
    for cuts in ([1000, 2500], [10, 20, 4000]):
        parts = [
            stats.KeySummary.from_values(a, b, 3, ftype=np.float32, limit=300)
            for a, b in zip(np.split(x, cuts), np.split(pools, cuts), strict=True)
        ]
        merged = stats.KeySummary.merge(parts[:2], 300)
        merged = stats.KeySummary.merge([merged, *parts[2:]], 300)
        assert merged.shift == whole.shift > 0
        assert len(merged) <= 300
        for a in ("pool", "key", "count"):
            np.testing.assert_array_equal(getattr(merged, a), getattr(whole, a))
    assert whole.count.sum() == x.size


def test_moment_summary_merge_matches_numpy():
    rng = np.random.default_rng(13)
    x = rng.normal(size=1000) * 3 + 1
    x[rng.uniform(size=x.size) < 0.1] = np.nan
    pools = rng.integers(0, 4, x.size)
    parts = [MomentSummary.from_values(a, b, 4)
             for a, b in zip(np.split(x, [100, 700]), np.split(pools, [100, 700]), strict=True)]
    merged = MomentSummary.merge(parts)
    for k in range(4):
        v = x[(pools == k) & ~np.isnan(x)]
        assert merged.n[k] == v.size
        np.testing.assert_allclose(merged.mean[k], v.mean(), rtol=1e-12)
        np.testing.assert_allclose(merged.std()[k], v.std(ddof=1), rtol=1e-12)
    assert np.isnan(MomentSummary.from_values(np.array([1.0]), np.zeros(1, int), 1).std()[0])


def test_tree_reduce_merges_every_part_once():
    parts = [dask.delayed(np.array([i])) for i in range(30)]
    (got,) = dask.compute(tree_reduce(parts, np.concatenate))
    np.testing.assert_array_equal(np.sort(got), np.arange(30))
