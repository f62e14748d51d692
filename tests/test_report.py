"""Tests of dfimx.report's tables (no browser needed)."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfimx import plot, report, stats
from dfimx.tables import write_pair_summary
from dfimx.testing import example_result, write_example_store

KEYS = ["source_name", "target_name", "task"]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "run.zarr"
    write_example_store(example_result(300), path)
    return path


@pytest.fixture(scope="module")
def store(store_path):
    return plot.open_dataset(store_path)


def test_pair_summary_and_top(store):
    summary = report.pair_summary(store)
    tidy = pd.concat([plot.pair_values(store, t, max_seqs=None).assign(task=f"task{t}")
                      for t in range(2)])
    ref = tidy.groupby(["task", "source_name", "target_name"]).agg(
        n=("score", "size"), med=("score", "median"), mean=("score", "mean"),
        sig=("q_value", lambda q: int((q < 0.05).sum())))
    got = summary.set_index(["task", "source_name", "target_name"]).sort_index()
    assert len(got) == len(ref)
    np.testing.assert_array_equal(got["n_tests"], ref["n"])
    np.testing.assert_array_equal(got["n_significant"], ref["sig"])
    np.testing.assert_allclose(got["mean_score"], ref["mean"], rtol=1e-5)
    width = np.abs(ref["med"]) * 0.01 + 1e-3
    assert (np.abs(got["median_score"] - ref["med"]) <= width).all()
    np.testing.assert_allclose(got["median_score"], ref["med"], rtol=1e-6)  # exact median
    gata = got.loc[("task0", "GATA", "TAL1")]
    assert gata["fraction_significant"] > 0.9
    top = report.top_interactions(store, top=10)
    best = np.sort(np.abs(tidy["score"].to_numpy()))[::-1][:10]
    np.testing.assert_allclose(np.abs(top["score"]), best)
    assert top["seq_id"].str.startswith("chr1:").all()


def test_pair_summary_without_q_values(store):
    table = report.pair_summary(store.drop_vars("interaction_q_value"))
    assert list(table.columns) == [*KEYS, "n_tests", "mean_score", "median_score"]
    full = report.pair_summary(store)
    pd.testing.assert_frame_equal(table, full[table.columns], check_like=True)


class _Tables(HTMLParser):
    """Rows of cell texts of every <table> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{v:.3g}"
    return str(v)


def test_report_export_and_stats_print_identical_pair_tables(store_path, tmp_path):
    ds = plot.open_dataset(store_path)
    expect = stats.pair_summary(ds)
    assert expect.attrs["median_exact"]
    # the report's table (Python)
    pd.testing.assert_frame_equal(report.pair_summary(store_path), expect)
    # the table `dfimx export` writes (6 significant digits in the file)
    exported = pd.read_csv(write_pair_summary(store_path, tmp_path / "interactions.tsv"),
                           sep="\t")
    assert list(exported.columns) == list(expect.columns)
    exported = exported.sort_values(KEYS, ignore_index=True)
    pd.testing.assert_frame_equal(exported[KEYS], expect[KEYS].astype(exported[KEYS].dtypes))
    for col in expect.columns.drop(KEYS):
        np.testing.assert_allclose(exported[col], expect[col], rtol=1e-5, err_msg=col)
    # the table printed in the HTML report (3 significant digits): the exported rows,
    # interacting pairs first (fraction significant, then |median score|)
    page = report.write_report(store_path, tmp_path / "report.html", max_maps=0)
    parser = _Tables()
    text = page.read_text()
    parser.feed(text[text.index('id="pairs-all"') - 7:])
    header, *rows = parser.tables[0]
    assert header == list(expect.columns)
    shown = expect.assign(a=expect["median_score"].abs()).sort_values(
        ["fraction_significant", "a"], ascending=False, kind="stable").drop(columns="a")
    assert rows == [[_cell(v) for v in row] for row in shown.itertuples(index=False)]
    assert rows[0][:2] == ["GATA", "TAL1"]


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end, text.index(start))]


def test_report_order_headline_and_vocabulary(store_path, tmp_path):
    ds = plot.open_dataset(store_path)
    ds.attrs["warnings"] = '["power: 12 null draws give p >= 0.077"]'
    ds.attrs["max_summation_violation"] = 0.031
    text = report.write_report(ds, tmp_path / "r.html", max_maps=1).read_text()
    body = text[text.index("<main>"):]
    order = ['id="headline"', "Interactions per element pair", "<h2>Plots</h2>",
             "interactions</h2>", "Details of the top interactions", 'id="details"',
             "<summary>Provenance"]
    where = [body.index(k) for k in order]
    assert where == sorted(where), where
    # provenance last, folded; no internal attribute before it
    assert "<details><summary>Provenance" in body
    assert "model_sha256" not in body[:body.index("<summary>Provenance")]
    # the headline: which pairs interact, effect size, how sure, how many tests
    head = _section(body, 'id="headline"', "</section>")
    table = report.pair_summary(ds)
    n_tests = int(table["n_tests"].sum())
    gata = table[(table.source_name == "GATA") & (table.target_name == "TAL1")]
    n_pairs = len(table[["source_name", "target_name"]].drop_duplicates())
    assert f"1 of {n_pairs} element pairs interacts: GATA \u2192 TAL1 (task0, task1)" in \
        html.unescape(head)
    best = gata.sort_values("fraction_significant", ascending=False).iloc[0]
    assert f"median score {best['median_score']:.3g}" in head
    assert f"{100 * best['fraction_significant']:.0f}% of its {int(best['n_tests'])} tests" \
        in head
    assert f"{n_tests:,} tests" in head and f"{int(table['n_significant'].sum()):,} significant" \
        in head
    assert "1 warning" not in head and "2 warning(s)" in head
    warn = _section(body, "<h3>Warnings", "</ul>")
    assert "power: 12 null draws" in warn and "max_summation_violation: 0.031" in warn
    # one vocabulary: source/target, never the store's mutation/response names
    tables = _Tables()
    tables.feed(body[:body.index("<summary>Provenance")])
    headers = {c for t in tables.tables for c in t[0]}
    assert not {h for h in headers if "mutation" in h or "response" in h}
    assert {"source_name", "target_name"} <= headers


def test_pair_table_takes_symmetric_and_effect_columns(store):
    ds = store.copy()
    ds["symmetric_score"] = ds["interaction_score"] * 0.5
    from dfimx.plot.headline import headline, pair_table

    table = pair_table(ds)
    ref = stats.pair_summary(ds, score="symmetric_score", q_value=None)
    merged = table.merge(ref, on=KEYS, suffixes=("", "_ref"))
    np.testing.assert_allclose(merged["median_symmetric_score"], merged["median_score_ref"])
    table["effect_size"] = table["median_score"] * 2
    words = headline(ds, table)
    best = table.iloc[0]
    assert f"(symmetric {best['median_symmetric_score']:.3g})" in words["top"]
    assert f"effect size {best['effect_size']:.3g}" in words["top"]


def test_report_of_variant_scan_names_variants(tmp_path):
    ds = example_result(40, variants=True, n_tasks=1)
    text = report.write_report(ds, tmp_path / "v.html", max_maps=1).read_text()
    tables = _Tables()
    tables.feed(text[text.index('id="top-labelled"') - 7:])
    header, *rows = tables.tables[0]
    assert header[:3] == ["variant", "variant_id", "target_name"]
    top = report.top_interactions(ds, 20).drop_duplicates("seq_index")
    for row, (_, want) in zip(rows, top.iterrows(), strict=False):
        s = int(want["seq_index"])
        chrom, pos = str(ds["variant_chrom"].values[s]), int(ds["variant_pos"].values[s])
        assert row[0] == f"{chrom}:{pos} A>G" and row[1] == f"rs{100 + s}"
        # distance from the variant (the source start) to the target interval
        d = max(0, want["target_start"] - want["source_start"],
                want["source_start"] - (want["target_end"] - 1))
        assert int(row[header.index("distance")]) == d
    assert "position (bp, 1-based)" in text
    head = _section(text, 'id="headline"', "</section>")
    n_sig = int((ds["interaction_q_value"] < 0.05).any(["mutation", "response", "task"]).sum())
    assert f"{n_sig} of 40 variants interact" in head


def test_report_of_per_base_scan_names_bases(tmp_path):
    ds = example_result(12, per_base=True, n_tasks=1, keep_delta=False)
    text = report.write_report(ds, tmp_path / "pb.html", max_maps=1).read_text()
    tables = _Tables()
    tables.feed(text[text.index('id="top-labelled"') - 7:])
    header, *rows = tables.tables[0]
    assert header[:3] == ["seq_id", "source", "target"]
    top = report.top_interactions(ds, 20)
    for row, (_, want) in zip(rows, top.iterrows(), strict=True):
        s = int(want["seq_index"])
        letters = np.array(list("ACGT"))[ds["seq_onehot"].values[s].argmax(axis=1)]
        src, tgt = int(want["source_start"]), int(want["target_start"])
        assert row[1] == f"{letters[src]}{src}>{want['source_alt']}"
        assert row[2] == f"{letters[tgt]}{tgt}"
    assert "Interactions per element pair" not in text  # no name-pair grouping of bases
    assert "Top base pair: " in _section(text, 'id="headline"', "</section>")


def test_report_of_a_real_run_recomputes_the_logos(oracle_files, tmp_path):
    from dfimx.run import run_dfim

    store = run_dfim(oracle_files["model"], oracle_files["fasta"],
                     elements=oracle_files["elements"], output=tmp_path / "r.zarr",
                     method="grad_x_input", null_draws=3, chunk_size=3, progress=False)
    ds = plot.open_dataset(store)
    assert "delta" not in ds and "seq_importance" not in ds  # the default keeps neither
    text = report.write_report(store, tmp_path / "r.html", max_maps=1).read_text()
    assert "recomputed from the recorded model" in text
    assert "shown instead" not in text
    off = report.write_report(store, tmp_path / "off.html", max_maps=1, recompute=False)
    assert "recomputing was not requested" in off.read_text()
