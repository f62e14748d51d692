"""Tests of dfimx.report's tables (no browser needed)."""

from __future__ import annotations

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
    # the table printed in the HTML report (3 significant digits), rows as exported
    page = report.write_report(store_path, tmp_path / "report.html", max_maps=0)
    parser = _Tables()
    text = page.read_text()
    parser.feed(text[text.index("Interactions per element pair"):])
    header, *rows = parser.tables[0]
    assert header == list(expect.columns)
    shown = expect.sort_values("median_score", ascending=False, key=abs)
    assert rows == [[_cell(v) for v in row] for row in shown.itertuples(index=False)]
