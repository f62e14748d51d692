"""Tests of dfimx.testing: the example result, its store, and raise_if_dask_computes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from statsmodels.stats.multitest import multipletests

from dfimx import stats
from dfimx.testing import (
    example_result,
    external_refs,
    raise_if_dask_computes,
    write_example_store,
)

BASES = ["A", "C", "G", "T"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> xr.Dataset:
    return write_example_store(example_result(300), tmp_path_factory.mktemp("plot") / "run.zarr")


def test_store_roundtrip_is_faithful(store):
    assert store["seq_id"].dtype.kind in "OUT"
    assert isinstance(store["mutation_name"].values[0, 0], str)
    assert store["interaction_score"].chunks is not None
    assert list(store["base"].values) == BASES
    assert (~store["mutation_mask"]).any()


def test_example_statistics_come_from_dfimx_stats():
    ds = example_result(40, n_tasks=1)
    score = ds["interaction_score"].values
    null = ds["null_interaction_score"].values
    pool = np.sort(np.abs(null[np.isfinite(null)]))
    expect = (pool.size - np.searchsorted(pool, np.abs(score), side="left") + 1) / (pool.size + 1)
    expect[np.isnan(score)] = np.nan
    np.testing.assert_allclose(ds["interaction_p_value"].values, expect, rtol=1e-6)
    p = ds["interaction_p_value"].values
    ok = np.isfinite(p)
    q = ds["interaction_q_value"].values
    assert np.isnan(q[~ok]).all()
    np.testing.assert_allclose(q[ok], multipletests(p[ok], method="fdr_bh")[1], rtol=1e-6)
    gata = (ds["mutation_name"].values[:, :, None] == "GATA") & (
        ds["response_name"].values[:, None, :] == "TAL1")
    assert np.nanmedian(q[gata]) < 0.05 < np.nanmedian(q[~gata & ok[..., 0]])


def test_example_layouts():
    scan = example_result(3, per_base=True, n_tasks=1)
    assert (scan["mutation_alt"].values >= 0).all()
    assert ((scan["response_end"] - scan["response_start"]).values == 1).all()
    variants = example_result(4, variants=True)
    assert variants["variant_id"].values.tolist() == ["rs100", "rs101", "rs102", "rs103"]
    with pytest.raises(ValueError, match="at least 90"):
        example_result(2, length=60, per_base=True)


def test_add_p_values_on_a_lazy_dataset_stays_lazy():
    ds = example_result(30, n_tasks=1).drop_vars(["interaction_p_value", "interaction_q_value"])
    lazy = ds.chunk({"seq": 10})
    with raise_if_dask_computes():
        out = stats.add_p_values(lazy)
    p = out["interaction_p_value"]
    assert p.chunks is not None and p.chunks[0] == (10, 10, 10)
    expect = example_result(30, n_tasks=1)["interaction_p_value"].values
    np.testing.assert_allclose(p.values, expect, rtol=1e-6)


def test_raise_if_dask_computes_counts():
    x = xr.DataArray(np.arange(6.0), dims="seq").chunk(seq=2)
    with pytest.raises(RuntimeError, match="Too many computes"), raise_if_dask_computes():
        x.sum().compute()
    with raise_if_dask_computes(max_computes=2) as scheduler:
        assert float(x.sum()) == 15.0
        assert float(x.max()) == 5.0
    assert scheduler.total_computes == 2


def test_external_refs():
    page = ('<link href="https://cdn/x.css"><img src="data:image/png;base64,AA">'
            '<script src="file.js"></script><a href="#a"></a>')
    assert external_refs(page) == ["https://cdn/x.css", "file.js"]
