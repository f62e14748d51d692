"""Tests of dfimx.plot.maps: the element map and the per-base map."""

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

@pytest.fixture(scope="module")
def per_base_store(tmp_path_factory) -> xr.Dataset:
    return write_example_store(example_result(20, per_base=True, n_tasks=1),
                               tmp_path_factory.mktemp("plot") / "scan.zarr", chunk=10)


def test_element_map_values_and_marks(store):
    seq = 8
    obj = plot.element_map(store, seq, task="task1", genome_axis=False)
    heat, marks = obj.HeatMap.I, obj.Labels.I
    sub = store.isel(seq=seq, task=1).compute()
    mm, rm = sub["mutation_mask"].values, sub["response_mask"].values
    expect = sub["interaction_score"].values[np.ix_(mm, rm)]
    got = heat.dframe()
    assert len(got) == mm.sum() * rm.sum()
    np.testing.assert_array_equal(np.sort(got["score"].to_numpy()), np.sort(expect.ravel()))
    labels = [f"{n} [{s}-{e})" for n, s, e in zip(sub["mutation_name"].values,
              sub["mutation_start"].values, sub["mutation_end"].values, strict=True)]
    for _, row in got.iterrows():
        m = labels.index(row["source"])
        r = labels.index(row["target"])
        np.testing.assert_equal(row["score"], sub["interaction_score"].values[m, r])
        np.testing.assert_equal(row["q_value"], sub["interaction_q_value"].values[m, r])
    qv = sub["interaction_q_value"].values
    sig = {(labels[m], labels[r]) for m, r in zip(*np.nonzero(qv < 0.05), strict=True)}
    assert sig, "the fixture should have significant cells"
    marked = set(zip(marks.dimension_values(0), marks.dimension_values(1), strict=True))
    assert marked == sig
    fig = plot.to_bokeh(obj)
    assert len(fig.x_range.factors) == mm.sum()


def test_per_base_map(per_base_store):
    ds = per_base_store
    hmap = plot.per_base_map(ds, 2, genome_axis=False)
    assert isinstance(hmap, hv.HoloMap)
    assert list(hmap.keys()) == ["max", "A", "C", "G", "T"]
    img = hmap["max"]
    sub = ds.isel(seq=2, task=0).compute()
    score = sub["interaction_score"].values
    src = sub["mutation_start"].values
    tgt = sub["response_start"].values
    for k, p in enumerate(range(30, 40)):
        rows = score[src == p]
        expect = np.nanmax(np.abs(rows), axis=0)
        got = np.array([img[(t + 0.5, p + 0.5)] for t in tgt[:5]])
        np.testing.assert_allclose(got, expect[:5], rtol=1e-6)
        assert k < 10
    alt_img = plot.per_base_map(ds, 2, alt="G", selector=False, genome_axis=False)
    m = np.flatnonzero(sub["mutation_alt"].values == 2)[0]
    np.testing.assert_allclose(alt_img[(tgt[3] + 0.5, src[m] + 0.5)], score[m, 3], rtol=1e-6)
    assert plot.to_bokeh(img) is not None
    assert plot.to_bokeh(alt_img) is not None
    small = plot.per_base_map(ds, 2, selector=False, variable="interaction_profile", max_size=16)
    assert max(small.data.shape) <= 16
    assert plot.to_bokeh(small) is not None


def test_per_base_map_axes_carry_the_sequence():
    ds = example_result(2, per_base=True, n_tasks=1)
    model = plot.to_bokeh(plot.per_base_map(ds, 1, selector=False, genome_axis=False))
    letters = np.array(list("ACGTN"))[np.where(ds["seq_onehot"].values[1].any(axis=1),
                                               ds["seq_onehot"].values[1].argmax(axis=1), 4)]
    for axis, positions in ((model.xaxis[0], range(50, 90)), (model.yaxis[0], range(30, 40))):
        labels = axis.major_label_overrides
        assert list(axis.ticker.ticks) == [p + 0.5 for p in positions]
        assert [labels[p + 0.5] for p in positions] == [f"{letters[p]}{p}" for p in positions]
    plain = plot.to_bokeh(plot.per_base_map(ds, 1, selector=False, letters=False))
    assert not plain.xaxis[0].major_label_overrides


def test_maps_on_genome_coordinates():
    ds = example_result(2, per_base=True, n_tasks=1, length=100)
    ds["seq_id"] = ("seq", np.array(["x", "chr2:1000-1100"], dtype=object))
    off = 1001  # 1-based genome coordinate of window position 0
    plain = plot.per_base_map(ds, 1, selector=False, genome_axis=False)
    img = plot.per_base_map(ds, 1, selector=False)
    assert img.bounds.lbrt() == tuple(v + off for v in plain.bounds.lbrt())
    np.testing.assert_array_equal(img.data, plain.data)
    assert img.kdims[0].label == "target position (chr2, bp, 1-based)"
    model = plot.to_bokeh(img)
    assert list(model.xaxis[0].ticker.ticks) == [p + off + 0.5 for p in range(50, 90)]
    assert model.yaxis[0].major_label_overrides[30 + off + 0.5].endswith(str(30 + off))
    # a plain id: window positions
    assert plot.per_base_map(ds, 0, selector=False).bounds.lbrt() == plain.bounds.lbrt()
    elements = example_result(2, n_tasks=1, length=100)
    elements["seq_id"] = ("seq", np.array(["x", "chr2:1000-1100"], dtype=object))
    heat = plot.element_map(elements, 1).HeatMap.I
    sub = elements.isel(seq=1)
    mm = sub["mutation_mask"].values
    want = [f"{n} {s + off}-{e - 1 + off}" for n, s, e in zip(
        sub["mutation_name"].values[mm], sub["mutation_start"].values[mm],
        sub["mutation_end"].values[mm], strict=True)]
    assert heat.kdims[0].values == want
    assert plot.element_map(elements, 0).HeatMap.I.kdims[0].values[0].endswith(")")
