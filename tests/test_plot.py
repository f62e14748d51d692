"""Tests of dfimx.plot (holoviews/bokeh plots) and of dfimx.report's tables."""

from __future__ import annotations

import time
from pathlib import Path

import dask.array as da
import holoviews as hv
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from dfimx import plot, report

BASES = ["A", "C", "G", "T"]
NAMES = ["GATA", "TAL1", "CTCF", "SP1"]


def _bh(p: np.ndarray) -> np.ndarray:
    flat = p.ravel()
    ok = np.flatnonzero(np.isfinite(flat))
    order = ok[np.argsort(flat[ok])]
    n = order.size
    qs = np.minimum.accumulate((flat[order] * n / np.arange(1, n + 1))[::-1])[::-1]
    q = np.full(flat.shape, np.nan, np.float32)
    q[order] = np.minimum(qs, 1)
    return q.reshape(p.shape)


def _strings(values) -> np.ndarray:
    return np.array([str(v) for v in np.ravel(values)], dtype=object).reshape(np.shape(values))


def synthetic_dataset(
    n_seq: int = 300,
    *,
    length: int = 120,
    n_tasks: int = 2,
    n_null: int = 8,
    per_base: bool = False,
    variants: bool = False,
    keep_delta: bool = True,
    seed: int = 1,
) -> xr.Dataset:
    """A random dataset following section 3 of DESIGN.md.

    Element runs: 2-4 named elements per sequence (padding beyond), each both source and
    target; ``GATA -> TAL1`` interacts strongly. Per-base scans: sources are positions
    30-39 with the three alternative bases, targets single positions 50-89.
    """
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n_seq, length))
    onehot = np.eye(4, dtype=np.uint8)[codes]
    onehot[:, 3] = 0  # an N
    if per_base:
        n_mut, n_resp = 30, 40
        mstart = np.zeros((n_seq, n_mut), np.int64)
        malt = np.zeros((n_seq, n_mut), np.int8)
        for s in range(n_seq):
            k = 0
            for p in range(30, 40):
                for a in range(4):
                    if a != codes[s, p]:
                        mstart[s, k], malt[s, k] = p, a
                        k += 1
        mend = mstart + 1
        mname = _strings([[f"{BASES[codes[s, p]]}{p}{BASES[a]}" for p, a in
                           zip(mstart[s], malt[s], strict=True)] for s in range(n_seq)])
        mmask = np.ones((n_seq, n_mut), bool)
        rstart = np.tile(np.arange(50, 90, dtype=np.int64), (n_seq, 1))
        rend = rstart + 1
        rname = _strings([[f"pos{p}" for p in range(50, 90)]] * n_seq)
        rmask = np.ones((n_seq, n_resp), bool)
    else:
        n_mut = n_resp = 4
        mstart = np.zeros((n_seq, 4), np.int64)
        mend = np.zeros((n_seq, 4), np.int64)
        mname = np.full((n_seq, 4), "", dtype=object)
        mmask = np.zeros((n_seq, 4), bool)
        malt = np.full((n_seq, 4), -1, np.int8)
        for s in range(n_seq):
            k = rng.integers(2, 5)
            names = ["GATA", "TAL1", *rng.choice(["CTCF", "SP1"], k - 2, replace=False)]
            slots = np.sort(rng.choice(length // 30, k, replace=False)) * 30 + rng.integers(0, 6)
            for j in range(k):
                mstart[s, j], mend[s, j] = slots[j], slots[j] + 10
                mname[s, j] = names[rng.permutation(k)[j]] if s % 7 == 0 else names[j]
                mmask[s, j] = True
        rstart, rend, rname, rmask = mstart.copy(), mend.copy(), mname.copy(), mmask.copy()
    overlap = (mstart[:, :, None] < rend[:, None, :]) & (rstart[:, None, :] < mend[:, :, None])
    pad = ~(mmask[:, :, None] & rmask[:, None, :])
    score = rng.normal(0, 0.3, (n_seq, n_mut, n_resp, n_tasks)).astype(np.float32)
    if not per_base:
        inter = (mname[:, :, None] == "GATA") & (rname[:, None, :] == "TAL1")
        score[inter] += 1.5
    else:
        score[:, 5:8, 10:12] += 2.0
    nan = overlap | pad
    score[nan] = np.nan
    null = rng.normal(0, 0.3, (*score.shape, n_null)).astype(np.float32)
    null[nan] = np.nan
    pool = np.sort(np.abs(null[np.isfinite(null)]))
    p = ((pool.size - np.searchsorted(pool, np.abs(score), side="left") + 1)
         / (pool.size + 1)).astype(np.float32)
    p[nan] = np.nan
    q = _bh(p)
    imp = (onehot[..., None] * rng.normal(0, 0.5, (n_seq, length, 4, n_tasks))).astype(
        np.float32)
    pos = np.arange(length)
    inside = (pos[None, None, :] >= mstart[:, :, None]) & (pos[None, None, :] < mend[:, :, None])
    frac = rng.uniform(0, 0.8, (n_seq, n_mut, 1, 1, n_tasks)).astype(np.float32)
    profile = imp.sum(axis=2)[:, None] * frac[:, :, :, 0]
    profile[~mmask] = 0
    profile[inside] = np.nan
    pred = rng.normal(1, 1, (n_seq, n_tasks)).astype(np.float32)
    mpred = pred[:, None] - rng.uniform(0, 1, (n_seq, n_mut, n_tasks)).astype(np.float32)
    ds = xr.Dataset(
        {
            "seq_id": ("seq", _strings([f"chr1:{1000 * s}-{1000 * s + length}"
                                        for s in range(n_seq)])),
            "seq_onehot": (("seq", "position", "base"), onehot),
            "mutation_start": (("seq", "mutation"), mstart),
            "mutation_end": (("seq", "mutation"), mend),
            "mutation_name": (("seq", "mutation"), _strings(mname)),
            "mutation_alt": (("seq", "mutation"), malt),
            "mutation_mask": (("seq", "mutation"), mmask),
            "response_start": (("seq", "response"), rstart),
            "response_end": (("seq", "response"), rend),
            "response_name": (("seq", "response"), _strings(rname)),
            "response_mask": (("seq", "response"), rmask),
            "prediction": (("seq", "task"), pred),
            "mutant_prediction": (("seq", "mutation", "task"), mpred),
            "seq_importance": (("seq", "position", "base", "task"), imp),
            "interaction_profile": (("seq", "mutation", "position", "task"), profile),
            "interaction_score": (("seq", "mutation", "response", "task"), score),
            "interaction_p_value": (("seq", "mutation", "response", "task"), p),
            "interaction_q_value": (("seq", "mutation", "response", "task"), q),
            "null_interaction_score": (("seq", "mutation", "response", "task", "null"), null),
        },
        coords={"task": _strings([f"task{k}" for k in range(n_tasks)]),
                "base": _strings(BASES)},
        attrs={
            "dfimx_version": "0.1.0", "model_sha256": "0" * 64, "method": "grad_x_input",
            "reference": "zeros", "mutation_mode": "per_base" if per_base else "zeros",
            "score_reduction": "sum", "null": "dinuc", "null_draws": n_null,
            "pvalue": "empirical", "null_level": "global", "seed": seed,
            "inputs": ["seqs.fa", "elements.tsv"], "command": "dfimx run --model m.keras",
            "created": "2024-01-01T00:00:00Z",
        },
    )
    if keep_delta:
        delta = imp[:, None] * frac
        delta[inside] = 0
        delta[~mmask] = 0
        ds["delta"] = (("seq", "mutation", "position", "base", "task"), delta)
    if variants:
        ds = ds.assign(
            variant_chrom=("seq", _strings(np.where(np.arange(n_seq) % 3, "chr2", "chr1"))),
            variant_pos=("seq", (5000 + 1000 * np.arange(n_seq)).astype(np.int64)),
            variant_ref=("seq", _strings(["A"] * n_seq)),
            variant_alt=("seq", _strings(["G"] * n_seq)),
            variant_id=("seq", _strings([f"rs{100 + s}" for s in range(n_seq)])),
        )
    return ds


def write_store(ds: xr.Dataset, path: Path, chunk: int = 50) -> xr.Dataset:
    """Write ``ds`` to a Zarr v3 store chunked over ``seq`` and reopen it lazily."""
    encoding = {
        name: {"chunks": tuple(min(chunk, n) if d == "seq" else n
                               for d, n in zip(var.dims, var.shape, strict=True))}
        for name, var in ds.data_vars.items()
    }
    ds.to_zarr(path, mode="w", zarr_format=3, consolidated=False, encoding=encoding)
    return xr.open_zarr(path, consolidated=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> xr.Dataset:
    return write_store(synthetic_dataset(300), tmp_path_factory.mktemp("plot") / "run.zarr")


@pytest.fixture(scope="module")
def per_base_store(tmp_path_factory) -> xr.Dataset:
    return write_store(synthetic_dataset(20, per_base=True, n_tasks=1),
                       tmp_path_factory.mktemp("plot") / "scan.zarr", chunk=10)


@pytest.fixture(scope="module")
def variant_store(tmp_path_factory) -> xr.Dataset:
    return write_store(synthetic_dataset(60, variants=True, n_tasks=1),
                       tmp_path_factory.mktemp("plot") / "variants.zarr", chunk=20)


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> xr.Dataset:
    ds = synthetic_dataset(10_000, length=120, n_tasks=1, n_null=2, keep_delta=False, seed=3)
    ds = ds.drop_vars("null_interaction_score")
    path = tmp_path_factory.mktemp("plot") / "big.zarr"
    write_store(ds, path, chunk=500)
    small = synthetic_dataset(500, length=120, n_tasks=1, n_null=1, seed=4)
    delta = xr.concat([small["delta"]] * 20, dim="seq")
    delta.to_dataset(name="delta").to_zarr(
        path, mode="a", zarr_format=3, consolidated=False,
        encoding={"delta": {"chunks": (500, *delta.shape[1:])}})
    return xr.open_zarr(path, consolidated=False)


def render(obj) -> object:
    model = hv.render(obj, backend="bokeh")
    assert model is not None
    return model


def counted(ds: xr.Dataset) -> tuple[xr.Dataset, list[tuple[str, tuple[int, ...]]]]:
    """Wrap every dask-backed variable so that each chunk computed is recorded."""
    reads: list[tuple[str, tuple[int, ...]]] = []
    out = ds.copy()
    for name, var in ds.data_vars.items():
        if var.chunks is None:
            continue

        def record(block, block_info=None, name=name):
            reads.append((name, tuple(block_info[0]["chunk-location"])))
            return block

        out[name] = var.copy(data=da.map_blocks(record, var.data, dtype=var.dtype,
                                                meta=var.data._meta))
    return out, reads


# ---------------------------------------------------------------------------------------------


def test_store_roundtrip_is_faithful(store):
    assert store["seq_id"].dtype.kind in "OUT"
    assert isinstance(store["mutation_name"].values[0, 0], str)
    assert store["interaction_score"].chunks is not None
    assert list(store["base"].values) == BASES
    assert (~store["mutation_mask"]).any()


def test_element_map_values_and_marks(store):
    seq = 8
    obj = plot.element_map(store, seq, task="task1")
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
    fig = render(obj)
    assert len(fig.x_range.factors) == mm.sum()


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
    render(layout)


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
    render(layout)


def test_per_base_map(per_base_store):
    ds = per_base_store
    hmap = plot.per_base_map(ds, 2)
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
    alt_img = plot.per_base_map(ds, 2, alt="G", selector=False)
    m = np.flatnonzero(sub["mutation_alt"].values == 2)[0]
    np.testing.assert_allclose(alt_img[(tgt[3] + 0.5, src[m] + 0.5)], score[m, 3], rtol=1e-6)
    render(img)
    render(alt_img)
    small = plot.per_base_map(ds, 2, selector=False, variable="interaction_profile", max_size=16)
    assert max(small.data.shape) <= 16
    render(small)


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
    render(obj)
    q = plot.interaction_summary(store, "neglog10q", kind="violin", max_seqs=50)
    assert "50 of 300" in q.opts.get().kwargs["title"]
    render(q)
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
    render(obj)
    assert len(plot.qq_plot(store.drop_vars("null_interaction_score")).Scatter) == 1
    with pytest.raises(ValueError, match="no null was run"):
        plot.qq_plot(store.drop_vars("interaction_p_value"))


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
    render(track)
    render(plot.variant_track(ds, "neglog10q"))
    detail = plot.variant_detail(ds, "rs103")
    assert "rs103" in detail[0].opts.get().kwargs["title"]
    render(detail)
    with pytest.raises(ValueError, match="not a variant scan"):
        plot.variant_track(ds.drop_vars(["variant_chrom"]))


def test_selection_reads_only_the_needed_chunks(big_store):
    ds, reads = counted(big_store)
    seq = 7_321
    chunk = seq // 500
    timings = {}
    for name, fn in [
        ("element_map", lambda: plot.element_map(ds, seq)),
        ("delta_tracks", lambda: plot.delta_tracks(ds, seq, 0)),
        ("per_base_map", lambda: plot.per_base_map(ds, seq, selector=False,
                                                   variable="interaction_profile")),
    ]:
        reads.clear()
        t0 = time.perf_counter()
        render(fn())
        timings[name] = time.perf_counter() - t0
        assert reads, name
        seq_chunks = {loc[0] for var, loc in reads if var != "seq_id"}
        assert seq_chunks == {chunk}, (name, seq_chunks)
        assert len(reads) < 40, (name, len(reads))
        if name == "delta_tracks":
            assert {var for var, _ in reads} >= {"delta", "seq_importance"}
    assert all(t < 10 for t in timings.values()), timings


def test_run_wide_views_on_big_store(big_store):
    t0 = time.perf_counter()
    render(plot.interaction_summary(big_store))
    render(plot.qq_plot(big_store))
    assert time.perf_counter() - t0 < 30


def test_pair_summary_and_top(store):
    summary = report.pair_summary(store)
    tidy = pd.concat([plot.pair_values(store, t, max_seqs=None).assign(task=f"task{t}")
                      for t in range(2)])
    ref = tidy.groupby(["task", "source_name", "target_name"]).agg(
        n=("score", "size"), med=("score", "median"), mean=("score", "mean"),
        sig=("q_value", lambda q: int((q < 0.05).sum())))
    got = summary.set_index(["task", "source", "target"]).sort_index()
    assert len(got) == len(ref)
    np.testing.assert_array_equal(got["n_tests"], ref["n"])
    np.testing.assert_array_equal(got["n_significant"], ref["sig"])
    np.testing.assert_allclose(got["mean_score"], ref["mean"], rtol=1e-5)
    width = np.abs(ref["med"]) * 0.01 + 1e-3
    assert (np.abs(got["median_score"] - ref["med"]) <= width).all()
    gata = got.loc[("task0", "GATA", "TAL1")]
    assert gata["fraction_significant"] > 0.9
    top = report.top_interactions(store, top=10)
    best = np.sort(np.abs(tidy["score"].to_numpy()))[::-1][:10]
    np.testing.assert_allclose(np.abs(top["score"]), best)
    assert top["seq_id"].str.startswith("chr1:").all()


def test_save_figure_html_is_offline(store, tmp_path):
    out = plot.save_figure(plot.element_map(store, 0), tmp_path / "map.html")
    text = out.read_text()
    assert "Bokeh" in text
    assert not external_refs(text)
    with pytest.raises(ValueError, match="unsupported format"):
        plot.save_figure(plot.element_map(store, 0), tmp_path / "map.jpg")


def external_refs(text: str) -> list[str]:
    """src/href attribute values of the page's tags that point to the network."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            for k, v in attrs:
                if k in ("src", "href") and v and not v.startswith(("data:", "#", "blob:")):
                    found.append(v)

    Parser().feed(text)
    return found


@pytest.mark.browser
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_save_figure_static(store, tmp_path, suffix):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium "
                    "chromium-driver)")
    obj = plot.element_map(store, 0) + plot.qq_plot(store)
    out = plot.save_figure(obj, tmp_path / f"f{suffix}")
    data = out.read_bytes()
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        from PIL import Image

        img = Image.open(out)
        assert img.width > 600 and img.height > 300
        assert np.unique(np.asarray(img.convert("L"))).size > 10
    else:
        assert data.lstrip().startswith(b"<svg") and b"<path" in data
