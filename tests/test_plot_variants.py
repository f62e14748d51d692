"""Tests of dfimx.plot.variants: views of variant scans."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from dfimx import plot
from dfimx.testing import example_result, write_example_store


@pytest.fixture(scope="module")
def variant_store(tmp_path_factory) -> xr.Dataset:
    return write_example_store(example_result(60, variants=True, n_tasks=1),
                               tmp_path_factory.mktemp("plot") / "variants.zarr", chunk=20)


def test_variant_plots(variant_store):
    ds = variant_store
    track = plot.variant_track(ds)
    assert sorted(track.keys()) == ["chr1", "chr2"]
    table = plot.variant_table(ds)
    best = np.nanmax(np.abs(ds["interaction_score"].isel(task=0).values), axis=(1, 2))
    np.testing.assert_allclose(table["value"], best, rtol=1e-6)
    scatter = track["chr1"]
    np.testing.assert_array_equal(scatter.dimension_values("pos"),
                                  table[table["chrom"] == "chr1"]["pos"])
    assert plot.to_bokeh(track) is not None
    assert plot.to_bokeh(plot.variant_track(ds, "neglog10q")) is not None
    detail = plot.variant_detail(ds, "rs103")
    assert "rs103" in detail[0].opts.get().kwargs["title"]
    assert plot.to_bokeh(detail) is not None
    with pytest.raises(ValueError, match="not a variant scan"):
        plot.variant_track(ds.drop_vars(["variant_chrom"]))
