"""Tests of dfimx.plot.distributions: pair distributions and the QQ plot."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest
import xarray as xr

from dfimx import plot
from dfimx.testing import example_result, write_example_store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> xr.Dataset:
    return write_example_store(example_result(300), tmp_path_factory.mktemp("plot") / "run.zarr")


def test_interaction_summary(store):
    obj = plot.interaction_summary(store, "score", task=0, max_seqs=None)
    box = obj
    assert isinstance(box, hv.BoxWhisker)
    pairs = list(box.kdims[0].values)
    assert pairs[0] == "GATA \u2192 TAL1"
    tidy = plot.pair_values(store, 0, max_seqs=None)
    assert len(box) == len(tidy)
    np.testing.assert_allclose(np.sort(box.dimension_values("value")),
                               np.sort(tidy["score"].to_numpy()))
    # drawn in the documented order: largest median |score| on top, one row per pair
    med = tidy.assign(pair=tidy["source_name"] + " \u2192 " + tidy["target_name"]).groupby(
        "pair")["score"].median()
    expect = med.abs().sort_values(ascending=False).index.tolist()
    model = plot.to_bokeh(obj)
    assert list(model.y_range.factors) == expect[::-1]
    assert model.height >= 24 * len(expect)
    q = plot.interaction_summary(store, "neglog10q", kind="violin", max_seqs=50)
    assert "50 of 300" in q.opts.get().kwargs["title"]
    assert plot.to_bokeh(q) is not None
    with pytest.raises(ValueError, match="no null was run"):
        plot.interaction_summary(store.drop_vars("interaction_q_value"), "neglog10q")


def test_qq_plot(store):
    obj = plot.qq_plot(store, max_points=100_000)
    scatters = obj.Scatter.values()
    assert [s.label for s in scatters] == ["interaction tests", "null (leave-one-out)"]
    p = store["interaction_p_value"].values.ravel()
    p = np.sort(p[np.isfinite(p)])
    np.testing.assert_allclose(scatters[0].dimension_values(1), -np.log10(p), rtol=1e-6)
    null_p = scatters[1].dimension_values(1)
    assert abs(np.median(null_p) - np.log10(2)) < 0.05  # uniform: median p = 1/2
    assert plot.to_bokeh(obj) is not None
    assert len(plot.qq_plot(store.drop_vars("null_interaction_score")).Scatter) == 1
    with pytest.raises(ValueError, match="no null was run"):
        plot.qq_plot(store.drop_vars("interaction_p_value"))


def test_null_p_values_are_leave_one_out():
    rng = np.random.default_rng(0)
    null = rng.normal(size=(40, 3))
    null[0, 0] = np.nan
    a = np.abs(null[np.isfinite(null)])
    brute = np.array([(np.sum(np.delete(a, i) >= a[i]) + 1) / a.size for i in range(a.size)])
    np.testing.assert_allclose(plot.null_p_values(null), brute, rtol=1e-12)
