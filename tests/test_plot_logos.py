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
    layout = plot.delta_tracks(store, seq, mut, task=0, genome_axis=False)
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


def _letters(poly: hv.Polygons) -> pd.DataFrame:
    """(position, base) -> (min, max) of the letters a logo draws."""
    rows = []
    for geom in poly.split():
        base = geom.dimension_values("base")[0]
        x, y = geom.dimension_values(0), geom.dimension_values(1)
        ok = np.isfinite(x)
        for p in np.unique(np.floor(x[ok]).astype(int)):
            at = ok & (np.floor(np.nan_to_num(x)) == p)
            rows.append((int(p), str(base), float(y[at].min()), float(y[at].max())))
    return pd.DataFrame(rows, columns=["pos", "base", "min", "max"])


@pytest.fixture(scope="module")
def hypothetical():
    """A result whose importance and Δ carry mass on all four bases (as with a GC reference)."""
    ds = example_result(3, n_tasks=1)
    rng = np.random.default_rng(7)
    ds["seq_importance"] = (ds["seq_importance"].dims,
                            rng.normal(0, 1, ds["seq_importance"].shape).astype("f4"))
    ds["delta"] = (ds["delta"].dims, rng.normal(0, 1, ds["delta"].shape).astype("f4"))
    return ds


def test_logos_project_on_the_observed_base(hypothetical):
    seq, mut = 1, 0
    sub = hypothetical.isel(seq=seq, mutation=mut, task=0)
    onehot = sub["seq_onehot"].values
    observed = np.where(onehot.any(axis=1), onehot.argmax(axis=1), -1)
    imp, delta = sub["seq_importance"].values, sub["delta"].values
    layout = plot.delta_tracks(hypothetical, seq, mut, genome_axis=False)
    start, end = int(sub["mutation_start"]), int(sub["mutation_end"])
    mutant_base = observed.copy()  # an element replacement keeps the original letters
    for ov, values, bases in [(layout[0], imp, observed), (layout[1], imp - delta, mutant_base),
                              (layout[2], delta, observed)]:
        got = _letters(ov.Polygons.I)
        # one letter per position, the observed base, as tall as the sum over the 4 bases
        assert not got.duplicated("pos").any()
        assert (got["base"].map("ACGT".index).to_numpy() == bases[got["pos"]]).all()
        total = values.sum(axis=1)[got["pos"]]
        np.testing.assert_allclose(np.where(total > 0, got["max"], got["min"]), total,
                                   atol=1e-5)
        expect = {p for p in range(onehot.shape[0]) if bases[p] >= 0 and values[p].sum() != 0}
        assert set(got["pos"]) == expect and 3 not in expect  # position 3 is an N: no letter
    # original and mutant share their y axis; Δ has its own, labelled
    ylims = [ov.opts.get().kwargs["ylim"] for ov in layout]
    assert ylims[0] == ylims[1] != ylims[2]
    assert layout[2].opts.get().kwargs["ylabel"] == "\u0394 importance"
    both = np.concatenate([imp.sum(axis=1), (imp - delta).sum(axis=1)])
    assert ylims[0][0] <= both.min() and ylims[0][1] >= both.max()
    assert start < end


def test_hypothetical_logos_draw_the_four_values(hypothetical):
    sub = hypothetical.isel(seq=0, mutation=0, task=0)
    layout = plot.delta_tracks(hypothetical, 0, 0, bases="hypothetical",
                               genome_axis=False)
    got = _letters(layout[0].Polygons.I).set_index(["pos", "base"])
    imp = sub["seq_importance"].values
    # every base of every position is drawn, the column heights are the signed sums
    assert len(got) == imp.shape[0] * 4
    ext = _column_extent(layout[0].Polygons.I)
    np.testing.assert_allclose(ext["max"].clip(lower=0), np.where(imp > 0, imp, 0).sum(1),
                               atol=1e-5)
    with pytest.raises(ValueError, match="observed"):
        plot.delta_tracks(hypothetical, 0, 0, bases="all")


def test_logos_recomputed_from_the_recorded_model(oracle_files, tmp_path):
    from dfimx.plot.recompute import source_tracks
    from dfimx.run import run_dfim

    store = run_dfim(oracle_files["model"], oracle_files["fasta"],
                     elements=oracle_files["elements"], output=tmp_path / "r.zarr",
                     method="deeplift", reference="gc", null="none", keep_delta=True,
                     keep_importance=True, chunk_size=3, progress=False)
    full = plot.open_dataset(store)
    lean = full.drop_vars(["delta", "seq_importance"])
    seq, mut = 4, 1
    got = source_tracks(lean, seq, mut)
    assert got.origin == "recomputed"
    want = full.isel(seq=seq).compute()
    np.testing.assert_allclose(got.importance, want["seq_importance"].values, atol=1e-5)
    np.testing.assert_allclose(got.delta, want["delta"].values[mut], atol=1e-5)
    layout = plot.delta_tracks(lean, seq, mut)
    assert len(layout) == 3 and "recomputed" in layout[0].opts.get().kwargs["title"]
    # a model that changed since the run is not used
    lean.attrs["model_sha256"] = "0" * 64
    stale = source_tracks(lean, seq, mut)
    assert stale.origin == "unavailable" and "hash" in stale.note
    assert "interaction profile" in plot.delta_tracks(lean, seq, mut)[0].opts.get().kwargs[
        "title"]


def _genome_cases() -> list[tuple[xr.Dataset, str, int]]:
    """(result, chromosome, 0-based window start) of three known inputs."""
    bed = example_result(2, n_tasks=1)
    bed["seq_id"] = ("seq", np.array(["win0", "win1"], dtype=object))
    bed["window_chrom"] = ("seq", np.array(["chr7", "chr7"], dtype=object))
    bed["window_start"] = ("seq", np.array([5000, 123456], dtype=np.int64))
    fasta = example_result(2, n_tasks=1, length=40 + 60)
    fasta["seq_id"] = ("seq", np.array(["x", "chr2:1000-1100"], dtype=object))
    return [(bed, "chr7", 123456), (fasta, "chr2", 1000)]


@pytest.mark.parametrize("case", [0, 1])
def test_delta_tracks_on_genome_coordinates(case):
    ds, chrom, start = _genome_cases()[case]
    assert plot.select.genome_window(ds, 1) == (chrom, start)
    plain = plot.delta_tracks(ds, 1, 0, window=(10, 70), genome_axis=False)
    shifted = plot.delta_tracks(ds, 1, 0, window=(10, 70))
    for a, b in zip(plain, shifted, strict=True):
        # every x value (letters, source, targets, limits) moves by exactly start + 1
        xa, xb = a.Polygons.I.dimension_values(0), b.Polygons.I.dimension_values(0)
        np.testing.assert_allclose(xb[np.isfinite(xb)], xa[np.isfinite(xa)] + start + 1,
                                   rtol=0, atol=1e-9)  # letter outlines: float round-off
        np.testing.assert_array_equal(np.asarray(b.VSpan.I.data),
                                      np.asarray(a.VSpan.I.data) + start + 1)
        np.testing.assert_array_equal(b.VSpans.I.dimension_values(0),
                                      a.VSpans.I.dimension_values(0) + start + 1)
        ka, kb = a.opts.get().kwargs, b.opts.get().kwargs
        assert kb["xlim"] == (ka["xlim"][0] + start + 1, ka["xlim"][1] + start + 1)
        assert ka["xlabel"] == "position"
        assert kb["xlabel"] == f"{chrom} position (bp, 1-based)"
    assert plot.to_bokeh(shifted) is not None
    fig = plot.logo_figure(ds, 1, 0, window=(10, 70))
    assert fig.axes[-1].get_xlabel() == f"{chrom} position (bp, 1-based)"
    assert fig.axes[0].get_xlim() == (start + 1 + 10 - 0.5, start + 1 + 70 - 0.5)


def test_plain_ids_keep_window_positions():
    ds, _, _ = _genome_cases()[1]
    assert plot.select.genome_window(ds, 0) is None
    ds["seq_id"] = ("seq", np.array(["x", "chr2:1000-1040"], dtype=object))  # not 100 long
    assert plot.select.genome_window(ds, 1) is None
    layout = plot.delta_tracks(ds, 1, 0)
    assert layout[0].opts.get().kwargs["xlim"] == (0, 100)
    assert layout[0].opts.get().kwargs["xlabel"] == "position"
