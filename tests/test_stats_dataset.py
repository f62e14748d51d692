"""Tests of the xarray layer of dfimx.stats (add_p_values, add_q_values, pair_summary,
summarize_run) against brute-force numpy, scipy and pandas oracles."""

from __future__ import annotations

import bisect

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats as sps

from dfimx import stats
from dfimx.stats.pvalues import normalize_level
from dfimx.testing import raise_if_dask_computes
from dfimx.variables import DatasetValidationError, validate

DIMS = ("seq", "mutation", "response", "task")


def make_dataset(
    seed: int = 0,
    n_seq: int = 6,
    n_mut: int = 3,
    n_resp: int = 4,
    n_task: int = 2,
    n_null: int = 15,
    effect: float = 0.0,
    task_scale: bool = True,
) -> xr.Dataset:
    """Scores and null scores with padding, overlapping pairs (NaN) and per-task scales."""
    rng = np.random.default_rng(seed)
    length = 400
    n_m = rng.integers(1, n_mut + 1, n_seq)
    n_r = rng.integers(2, n_resp + 1, n_seq)
    ms = rng.integers(0, length - 10, (n_seq, n_mut))
    me = ms + rng.integers(1, 10, (n_seq, n_mut))
    rs = rng.integers(0, length - 10, (n_seq, n_resp))
    re = rs + rng.integers(1, 10, (n_seq, n_resp))
    rs[:, 0], re[:, 0] = ms[:, 0], me[:, 0]  # a self pair in every sequence
    mmask = np.arange(n_mut)[None, :] < n_m[:, None]
    rmask = np.arange(n_resp)[None, :] < n_r[:, None]
    overlap = (rs[:, None, :] < me[:, :, None]) & (ms[:, :, None] < re[:, None, :])
    valid = mmask[:, :, None] & rmask[:, None, :] & ~overlap
    scale = (1.0 + np.arange(n_task)) if task_scale else np.ones(n_task)
    score = rng.normal(size=(n_seq, n_mut, n_resp, n_task)) * scale
    score = score + effect
    null = rng.normal(size=(n_seq, n_mut, n_resp, n_task, n_null)) * scale[:, None]
    score[~valid] = np.nan
    null[~valid] = np.nan
    names = np.array(["ctcf", "gata", "sox"], dtype=object)
    mname = names[rng.integers(0, 3, (n_seq, n_mut))]
    rname = names[rng.integers(0, 3, (n_seq, n_resp))]
    return xr.Dataset(
        {
            "interaction_score": (DIMS, score.astype(np.float32)),
            "null_interaction_score": (DIMS + ("null",), null.astype(np.float32)),
            "mutation_start": (("seq", "mutation"), ms.astype(np.int64)),
            "mutation_end": (("seq", "mutation"), me.astype(np.int64)),
            "response_start": (("seq", "response"), rs.astype(np.int64)),
            "response_end": (("seq", "response"), re.astype(np.int64)),
            "mutation_mask": (("seq", "mutation"), mmask),
            "response_mask": (("seq", "response"), rmask),
            "mutation_name": (("seq", "mutation"), mname),
            "response_name": (("seq", "response"), rname),
            "seq_id": ("seq", np.array([f"s{i}" for i in range(n_seq)], dtype=object)),
        },
        coords={"task": [f"t{i}" for i in range(n_task)]},
    )


def oracle_pools(ds: xr.Dataset, level: tuple[str, ...], edges) -> np.ndarray:
    """Pool label of each (seq, mutation, response, task), by explicit loops."""
    s, m, r, t = ds.interaction_score.shape
    ms, me = ds.mutation_start.values, ds.mutation_end.values
    rs, re = ds.response_start.values, ds.response_end.values
    labels = np.empty((s, m, r, t), dtype=object)
    for i, j, k, ti in np.ndindex(s, m, r, t):
        label = []
        if "seq" in level:
            label.append(i)
        if "task" in level:
            label.append(ti)
        if "distance" in level:
            gap = max(0, int(rs[i, k]) - int(me[i, j]), int(ms[i, j]) - int(re[i, k]))
            label.append(max(bisect.bisect_right(list(edges), gap) - 1, 0))
        labels[i, j, k, ti] = tuple(label)
    return labels


def oracle_p_values(ds, level, edges, method="empirical", alternative="two-sided"):
    x = ds.interaction_score.values.astype(np.float64)
    null = ds.null_interaction_score.values.astype(np.float64)
    labels = oracle_pools(ds, level, edges)
    out = np.full(x.shape, np.nan)
    for idx in np.ndindex(x.shape):
        if np.isnan(x[idx]):
            continue
        sel = np.array([lab == labels[idx] for lab in labels.ravel()]).reshape(labels.shape)
        pool = null[sel].ravel()
        pool = pool[~np.isnan(pool)]
        if method == "empirical":
            if alternative == "two-sided":
                out[idx] = (1 + np.sum(np.abs(pool) >= abs(x[idx]))) / (pool.size + 1)
            else:
                out[idx] = (1 + np.sum(pool >= x[idx])) / (pool.size + 1)
        else:
            mu, sd = pool.mean(), pool.std(ddof=1)
            if alternative == "two-sided":
                out[idx] = 2 * sps.norm.sf(abs(x[idx] - mu) / sd)
            else:
                out[idx] = sps.norm.sf((x[idx] - mu) / sd)
    return out



LEVELS = ["global", "task", "map", "distance", ("task", "distance"), ("seq",)]
SMALL_EDGES = (0, 20, 100)


@pytest.fixture(scope="module")
def ds_small() -> xr.Dataset:
    return make_dataset()


def _factors(level):
    return normalize_level(level)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("method", ["empirical", "gaussian"])
def test_p_values_match_brute_force(ds_small, level, method):
    ds = ds_small.chunk(seq=2)
    out = stats.add_p_values(ds, pvalue=method, level=level, distance_bins=SMALL_EDGES)
    got = out.interaction_p_value.values
    want = oracle_p_values(ds_small, _factors(level), SMALL_EDGES, method)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ds_small.interaction_score.values))
    np.testing.assert_allclose(got, want, rtol=2e-6, equal_nan=True)
    validate(out, "interaction_p_value")


@pytest.mark.parametrize("method", ["empirical", "gaussian"])
def test_one_sided(ds_small, method):
    out = stats.add_p_values(
        ds_small.chunk(seq=4), pvalue=method, level="task", alternative="greater"
    )
    want = oracle_p_values(ds_small, ("task",), SMALL_EDGES, method, "greater")
    np.testing.assert_allclose(out.interaction_p_value.values, want, rtol=2e-6, equal_nan=True)


def test_default_distance_bins(ds_small):
    out = stats.add_p_values(ds_small.chunk(seq=3), level="distance")
    edges = stats.DEFAULT_DISTANCE_BINS
    want = oracle_p_values(ds_small, ("distance",), edges)
    np.testing.assert_allclose(out.interaction_p_value.values, want, rtol=2e-6, equal_nan=True)
    assert out.interaction_p_value.attrs["distance_bins"] == list(edges)


def test_coarse_null_summary_is_conservative_and_bounded():
    ds = make_dataset(seed=7, n_seq=8, n_null=40)
    exact = stats.add_p_values(ds.chunk(seq=3), level="task").interaction_p_value.values
    coarse = stats.add_p_values(ds.chunk(seq=3), level="task", max_null_summary_size=64)
    coarse2 = stats.add_p_values(ds.chunk(seq=5), level="task", max_null_summary_size=64)
    c = coarse.interaction_p_value.values
    np.testing.assert_array_equal(c, coarse2.interaction_p_value.values)
    ok = ~np.isnan(exact)
    assert np.all(c[ok] >= exact[ok] - 1e-7)
    assert np.any(c[ok] > exact[ok])
    # the excess is the null mass of one bin: at most the largest bin's count / (n + 1)
    null = np.abs(ds.null_interaction_score.values)
    n_task = ds.sizes["task"]
    for t in range(n_task):
        nl = null[..., t, :].ravel()
        nl = nl[~np.isnan(nl)]
        s = stats.KeySummary.from_values(nl, np.zeros(nl.size, int), 1, ftype=np.float32,
                                         limit=64 // n_task)
        bound = s.count.max() / (nl.size + 1)
        assert np.all(c[..., t][ok[..., t]] - exact[..., t][ok[..., t]] <= bound + 1e-6)


def test_chunking_and_scheduler_invariance():
    ds = make_dataset(seed=10, n_seq=9)
    results = []
    for chunk in (1, 4, 9):
        for scheduler in ("threads", "sync"):
            with dask.config.set(scheduler=scheduler):
                for level in ("global", "map", "distance"):
                    out = stats.add_p_values(ds.chunk(seq=chunk), level=level)
                    out = stats.add_q_values(out, max_summary_size=40, n_buckets=3)
                    results.append(
                        (level, out.interaction_p_value.values, out.interaction_q_value.values)
                    )
    for level in ("global", "map", "distance"):
        first = [r for r in results if r[0] == level]
        for _, p, q in first[1:]:
            np.testing.assert_array_equal(p, first[0][1])
            np.testing.assert_array_equal(q, first[0][2])


def test_lazy_and_input_not_mutated(ds_small):
    ds = ds_small.chunk(seq=2)
    before = ds.copy(deep=True)
    with raise_if_dask_computes():
        for level in ("global", "map", ("task", "distance")):
            for method in ("empirical", "gaussian"):
                out = stats.add_p_values(ds, pvalue=method, level=level)
                out = stats.add_q_values(out, per_task=True)
                assert isinstance(out.interaction_p_value.data, da.Array)
                assert isinstance(out.interaction_q_value.data, da.Array)
    xr.testing.assert_identical(ds, before)
    assert "interaction_p_value" not in ds


def test_numpy_input_gives_numpy_output(ds_small):
    out = stats.add_q_values(stats.add_p_values(ds_small, level="task"))
    assert isinstance(out.interaction_p_value.data, np.ndarray)
    assert isinstance(out.interaction_q_value.data, np.ndarray)
    lazy = stats.add_q_values(stats.add_p_values(ds_small.chunk(seq=2), level="task"))
    np.testing.assert_array_equal(out.interaction_q_value.values,
                                  lazy.interaction_q_value.values)


def test_calibration_under_the_null():
    ds = make_dataset(seed=11, n_seq=300, n_mut=4, n_resp=5, n_task=2, n_null=10)
    for method, level in (("empirical", "task"), ("gaussian", "global"),
                          ("empirical", "distance")):
        out = stats.add_q_values(stats.add_p_values(ds.chunk(seq=64), pvalue=method,
                                                    level=level if method == "empirical"
                                                    else "task"))
        p = out.interaction_p_value.values.ravel()
        p = p[~np.isnan(p)]
        assert sps.kstest(p, "uniform").pvalue > 0.01, (method, level)
        q = out.interaction_q_value.values.ravel()
        assert np.mean(q[~np.isnan(q)] < 0.05) <= 0.05


def test_power_with_shifted_scores():
    ds = make_dataset(seed=12, n_seq=200, n_null=10, task_scale=False)
    rng = np.random.default_rng(0)
    true = rng.uniform(size=ds.interaction_score.shape) < 0.1
    ds["interaction_score"] = ds.interaction_score + xr.where(
        xr.DataArray(true, dims=DIMS), np.float32(5.0), np.float32(0.0)
    )
    out = stats.add_q_values(stats.add_p_values(ds.chunk(seq=50), level="global"))
    q = out.interaction_q_value.values
    tested = ~np.isnan(q)
    sig = (q < 0.05) & tested
    assert sig[true & tested].mean() > 0.8
    assert (sig & ~true).sum() / max(sig.sum(), 1) < 0.1


def test_pair_summary_matches_pandas(ds_small):
    ds = stats.add_q_values(stats.add_p_values(ds_small.chunk(seq=2), level="task"))
    table = stats.pair_summary(ds, alpha=0.5)
    rows = []
    v = ds.compute()
    for i, j, k, t in np.ndindex(v.interaction_score.shape):
        x = float(v.interaction_score[i, j, k, t])
        if np.isnan(x):
            continue
        rows.append((v.mutation_name.values[i, j], v.response_name.values[i, k],
                     v.task.values[t], x, float(v.interaction_q_value[i, j, k, t]) < 0.5))
    frame = pd.DataFrame(rows, columns=["source_name", "target_name", "task", "score", "sig"])
    want = frame.groupby(["source_name", "target_name", "task"]).agg(
        n_tests=("score", "size"), median_score=("score", "median"),
        n_significant=("sig", "sum"),
    ).reset_index()
    assert list(table.columns[:3]) == ["source_name", "target_name", "task"]
    assert table.attrs["median_exact"]
    pd.testing.assert_frame_equal(table[want.columns], want, check_dtype=False)
    np.testing.assert_allclose(table.fraction_significant, want.n_significant / want.n_tests)
    coarse = stats.pair_summary(ds, alpha=0.5, max_summary_size=4)
    assert not coarse.attrs["median_exact"]
    # each middle value is replaced by the centre of its bin (at most one binade wide)
    middles = frame.groupby(["source_name", "target_name", "task"])["score"].agg(
        lambda x: np.abs(np.sort(x.to_numpy())[[(len(x) - 1) // 2, len(x) // 2]]).max()
    )
    err = np.abs(coarse.median_score - want.median_score)
    assert np.all(err <= 0.5 * middles.to_numpy() + 1e-6)
    assert np.any(err > 0)
    np.testing.assert_array_equal(coarse.n_tests, want.n_tests)


def test_summarize_run(ds_small):
    ds = stats.add_q_values(stats.add_p_values(ds_small.chunk(seq=2)))
    frame = stats.summarize_run(ds, alpha=0.3)
    q = ds.interaction_q_value.values
    assert frame["n_tests"].tolist() == (~np.isnan(q)).sum(axis=(0, 1, 2)).tolist()
    assert frame["n_significant"].tolist() == (q < 0.3).sum(axis=(0, 1, 2)).tolist()


def test_errors(ds_small):
    with pytest.raises(ValueError, match="unknown null level"):
        stats.add_p_values(ds_small, level="chromosome")
    with pytest.raises(ValueError, match="pvalue"):
        stats.add_p_values(ds_small, pvalue="bootstrap")
    with pytest.raises(ValueError, match="distance_bins"):
        stats.add_p_values(ds_small, level="distance", distance_bins=[0, 5, 5])
    with pytest.raises(DatasetValidationError, match="null_interaction_score"):
        stats.add_p_values(ds_small.drop_vars("null_interaction_score"))
    with pytest.raises(DatasetValidationError, match="mutation_start"):
        stats.add_p_values(ds_small.drop_vars("mutation_start"), level="distance")
    with pytest.raises(DatasetValidationError, match="add_p_values"):
        stats.add_q_values(ds_small)
    with pytest.raises(DatasetValidationError, match="add_q_values"):
        stats.pair_summary(ds_small)
