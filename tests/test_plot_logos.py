"""Tests of dfimx.plot.logos: the Δ tracks."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from dfimx import plot
from dfimx.testing import example_result, write_example_store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> xr.Dataset:
    return write_example_store(example_result(300), tmp_path_factory.mktemp("plot") / "run.zarr")


def _column_extent(poly: hv.Polygons) -> pd.DataFrame:
    x = poly.dimension_values(0)
    y = poly.dimension_values(1)
    ok = np.isfinite(x)
    pos = np.floor(x[ok]).astype(int)
    return pd.DataFrame({"pos": pos, "y": y[ok]}).groupby("pos")["y"].agg(["min", "max"])


def test_delta_tracks_logos_heights(store):
    seq, mut = 3, 1
    layout = plot.delta_tracks(store, seq, mut, task=0)
    assert len(layout) == 3
    polys = [ov.Polygons.I for ov in layout]
    sub = store.isel(seq=seq, mutation=mut, task=0).compute()
    orig = sub["seq_importance"].values
    mutant = orig - sub["delta"].values
    for poly, values in zip(polys, [orig, mutant, sub["delta"].values], strict=True):
        ext = _column_extent(poly)
        pos_sum = np.where(values > 0, values, 0).sum(axis=1)
        neg_sum = np.where(values < 0, values, 0).sum(axis=1)
        shown = ext.index.to_numpy()
        np.testing.assert_allclose(ext["max"].clip(lower=0), pos_sum[shown], atol=1e-5)
        np.testing.assert_allclose(ext["min"].clip(upper=0), neg_sum[shown], atol=1e-5)
    start, end = int(sub["mutation_start"]), int(sub["mutation_end"])
    assert list(layout[0].VSpan.I.data) == [start, end]
    targets = layout[0].VSpans.I
    rm = sub["response_mask"].values
    np.testing.assert_array_equal(targets.dimension_values(0), sub["response_start"].values[rm])
    np.testing.assert_array_equal(targets.dimension_values(1), sub["response_end"].values[rm])
    assert plot.to_bokeh(layout) is not None


def test_delta_tracks_without_delta_shows_profile(store):
    lean = store.drop_vars(["delta", "seq_importance"])
    layout = plot.delta_tracks(lean, "chr1:5000-5120", "TAL1")
    assert len(layout) == 1
    area = layout[0].Area.I
    sub = store.isel(seq=5, task=0).compute()
    m = list(sub["mutation_name"].values).index("TAL1")
    np.testing.assert_allclose(area.dimension_values(1),
                               np.nan_to_num(sub["interaction_profile"].values[m]))
    title = layout[0].opts.get().kwargs["title"]
    assert "not stored" in title and "interaction profile" in title
    assert plot.to_bokeh(layout) is not None
