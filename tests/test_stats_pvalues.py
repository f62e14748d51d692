"""Tests of dfimx.stats.pvalues: p-value kernels and pooling against brute force."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from scipy import stats as sps

from dfimx import stats
from dfimx.errors import InputError
from dfimx.stats import pvalues
from dfimx.stats.pvalues import check_distance_bins, normalize_level, p_values_dask


def test_array_kernels_match_brute_force():
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=200), 1)
    null = np.round(rng.normal(size=(50, 7)), 1)  # ties with the scores
    null[0, 0] = np.nan
    x[:3] = [np.nan, -0.0, 0.0]
    nl = null[~np.isnan(null)]
    want = np.array([(1 + np.sum(np.abs(nl) >= abs(v))) / (nl.size + 1) for v in x])
    want[np.isnan(x)] = np.nan
    np.testing.assert_array_equal(stats.empirical_p_values(x, null), want)
    want_g = 2 * sps.norm.sf(np.abs(x - nl.mean()) / nl.std(ddof=1))
    np.testing.assert_allclose(stats.gaussian_p_values(x, null), want_g, rtol=1e-12)


def test_distance_between_brute_force():
    rng = np.random.default_rng(4)
    ms = rng.integers(0, 100, (3, 4))
    me = ms + rng.integers(1, 5, (3, 4))
    rs = rng.integers(0, 100, (3, 5))
    re = rs + 1
    got = stats.distance_between(ms, me, rs, re)
    for i, j, k in np.ndindex(got.shape):
        a = set(range(ms[i, j], me[i, j]))
        b = set(range(rs[i, k], re[i, k]))
        gap = 0 if a & b else min(abs(u - v) for u in a for v in b) - 1
        assert got[i, j, k] == gap


def test_normalize_level_and_argument_errors():
    assert normalize_level("global") == ()
    assert normalize_level("map") == ("seq", "task")
    assert normalize_level(("distance", "map")) == ("seq", "distance")
    assert stats.NULL_LEVELS == ("global", "task", "map", "distance", "element", "target")
    with pytest.raises(InputError, match="unknown null level") as err:
        normalize_level("chromosome")
    assert err.value.option == "null_level"
    with pytest.raises(InputError, match="distance_bins"):
        check_distance_bins([3, 1])


@pytest.mark.parametrize("method", ["empirical", "gaussian"])
def test_dask_graph_matches_the_array_kernels(method):
    rng = np.random.default_rng(14)
    score = rng.normal(size=(5, 2, 3, 1))
    null = rng.normal(size=(5, 2, 3, 1, 7))
    kernel = stats.empirical_p_values if method == "empirical" else stats.gaussian_p_values
    for factors in ((), ("seq",)):
        got = p_values_dask(
            da.from_array(score, chunks=(2, 2, 3, 1)), da.from_array(null, chunks=(2, 2, 3, 1, 7)),
            None, method=method, factors=factors, edges=None, alternative="two-sided",
            limit=1 << 20,
        ).compute()
        if factors:
            want = np.stack([kernel(score[i], null[i]) for i in range(5)])
        else:
            want = kernel(score, null)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-6)


def _block_p_values(score, null, limit=1 << 20):
    return p_values_dask(da.from_array(score, chunks=score.shape),
                         da.from_array(null, chunks=null.shape), None, method="empirical",
                         factors=(), edges=None, alternative="two-sided",
                         limit=limit).compute(scheduler="synchronous")


@pytest.mark.parametrize("limit", [1 << 20, 1 << 8])
def test_null_summaries_in_slices_give_the_same_p_values(monkeypatch, limit):
    rng = np.random.default_rng(5)
    score = rng.normal(size=(1, 40, 30, 1)).astype(np.float32)
    null = rng.normal(size=(1, 40, 30, 1, 8)).astype(np.float32)
    null[0, 3, :5] = np.nan  # padding
    whole = _block_p_values(score, null, limit)
    monkeypatch.setattr(pvalues, "SUMMARY_SLICE_VALUES", 1000)  # 5 sources per slice
    np.testing.assert_array_equal(_block_p_values(score, null, limit), whole)


def test_null_summary_memory_does_not_grow_with_the_block(monkeypatch):
    """A sequence with many elements has a large null block (finding: the statistics pass
    was the peak of such runs); its summary's temporaries are bounded by the slice size."""
    import tracemalloc

    rng = np.random.default_rng(6)
    score = rng.normal(size=(1, 500, 500, 1)).astype(np.float32)
    null = rng.normal(size=(1, 500, 500, 1, 8)).astype(np.float32)  # 8 MB of values

    def peak(slice_values):
        monkeypatch.setattr(pvalues, "SUMMARY_SLICE_VALUES", slice_values)
        tracemalloc.start()
        _block_p_values(score, null, limit=1 << 16)
        out = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out

    assert peak(1 << 16) < 0.5 * peak(1 << 30)
