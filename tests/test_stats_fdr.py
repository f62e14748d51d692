"""Tests of dfimx.stats.fdr: Benjamini-Hochberg q-values against statsmodels."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from statsmodels.stats.multitest import multipletests

from dfimx import stats
from dfimx.variables import validate

DIMS = ("seq", "mutation", "response", "task")


def bh_oracle(p: np.ndarray) -> np.ndarray:
    """statsmodels fdr_bh on the non-NaN values."""
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out



def test_plain_numpy_call_equals_statsmodels():
    rng = np.random.default_rng(15)
    p = rng.uniform(size=500) ** 2
    p[:50] = np.round(p[:50], 2)  # ties
    q = stats.bh_q_values(p)
    assert isinstance(q, np.ndarray) and q.dtype == np.float64
    np.testing.assert_allclose(q, multipletests(p, method="fdr_bh")[1], rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("limit", [stats.DEFAULT_BH_SUMMARY_SIZE, 16])
@pytest.mark.parametrize("pool_axis", [None, 1])
def test_bh_matches_statsmodels(limit, pool_axis, dtype):
    rng = np.random.default_rng(8)
    p = (rng.uniform(size=(40, 3)) ** 3).astype(dtype)
    p[rng.uniform(size=p.shape) < 0.2] = np.nan
    p[:10] = np.round(p[:10], 2)  # ties
    p[10, :] = 1.0
    want = (
        bh_oracle(p) if pool_axis is None
        else np.stack([bh_oracle(p[:, j]) for j in range(3)], axis=1)
    )
    want = want.astype(dtype)
    got_np = stats.bh_q_values(p, pool_axis=pool_axis, max_summary_size=limit)
    assert got_np.dtype == dtype
    np.testing.assert_allclose(got_np, want, rtol=1e-14, atol=0, equal_nan=True)
    for chunks, buckets in (((7, 3), None), ((13, 1), 3), ((40, 3), 5)):
        got = stats.bh_q_values(
            da.from_array(p, chunks=chunks), pool_axis=pool_axis, max_summary_size=limit,
            n_buckets=buckets,
        )
        assert isinstance(got, da.Array)
        np.testing.assert_allclose(got.compute(), want, rtol=1e-14, atol=0, equal_nan=True)


def test_bh_continuous_bucket_path_large():
    rng = np.random.default_rng(9)
    p = np.concatenate([rng.uniform(size=20_000), rng.uniform(size=2_000) * 1e-4])
    p[rng.integers(0, p.size, 500)] = np.nan
    got = stats.bh_q_values(da.from_array(p, chunks=3_000), max_summary_size=1000,
                            n_buckets=5).compute()
    np.testing.assert_allclose(got, bh_oracle(p), rtol=1e-14, atol=0, equal_nan=True)
    p32 = p.astype(np.float32)  # float32 in, float32 out: statsmodels' q rounded
    got32 = stats.bh_q_values(da.from_array(p32, chunks=3_000), max_summary_size=1000,
                              n_buckets=5)
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32.compute(), bh_oracle(p32).astype(np.float32))


def test_bh_edge_cases():
    assert np.isnan(stats.bh_q_values(np.full(5, np.nan))).all()
    np.testing.assert_array_equal(stats.bh_q_values(np.array([0.3])), [0.3])
    np.testing.assert_array_equal(stats.bh_q_values(np.ones(4)), np.ones(4))
    np.testing.assert_array_equal(stats.bh_q_values(np.zeros(3)), np.zeros(3))


@pytest.mark.parametrize("per_task", [False, True])
def test_add_q_values_matches_statsmodels(per_task):
    rng = np.random.default_rng(16)
    # empirical-like p-values: (1 + k) / 16, many ties, NaN where there is no test
    p = ((1 + rng.integers(0, 16, (6, 3, 4, 2))) / 16).astype(np.float32)
    p[rng.uniform(size=p.shape) < 0.3] = np.nan
    ds = xr.Dataset({"interaction_p_value": (DIMS, p)}).chunk(seq=2)
    out = stats.add_q_values(ds, per_task=per_task)
    p = out.interaction_p_value.values.astype(np.float64)
    if per_task:
        want = np.stack([bh_oracle(p[..., t]) for t in range(p.shape[-1])], axis=-1)
    else:
        want = bh_oracle(p)
    q = out.interaction_q_value
    assert q.dtype == np.float32 and q.chunks is not None
    np.testing.assert_array_equal(q.values, want.astype(np.float32))
    validate(out, "interaction_q_value")
