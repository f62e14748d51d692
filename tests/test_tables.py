"""Tests of dfimx.tables: the tidy rows of a result, the exported table and pair summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from dfimx import stats
from dfimx.tables import COLUMNS, export_table, iter_rows, to_dataframe, write_pair_summary

SM, SR = ("seq", "mutation"), ("seq", "response")
SCORE = ("seq", "mutation", "response", "task")


def _result(n_seq: int = 7, *, seed: int = 0, statistics: bool = True) -> xr.Dataset:
    """A small result: 2 sources x 3 targets x 2 tasks per sequence, some pairs untested."""
    rng = np.random.default_rng(seed)
    ms = np.tile([[2, 10]], (n_seq, 1))
    rs = np.tile([[2, 20, 30]], (n_seq, 1))
    score = rng.normal(size=(n_seq, 2, 3, 2)).astype("f4")
    score[:, 0, 0] = np.nan  # self pair
    score[rng.uniform(size=score.shape) < 0.2] = np.nan
    ds = xr.Dataset(
        {
            "seq_id": ("seq", np.array([f"s{i}" for i in range(n_seq)], object)),
            "seq_onehot": (("seq", "position", "base"),
                           np.eye(4, dtype="u1")[rng.integers(0, 4, (n_seq, 40))]),
            "mutation_start": (SM, ms), "mutation_end": (SM, ms + 4),
            "mutation_alt": (SM, np.tile(np.array([[-1, 2]], np.int8), (n_seq, 1))),
            "mutation_name": (SM, np.tile(np.array([["A", "B"]], object), (n_seq, 1))),
            "response_start": (SR, rs), "response_end": (SR, rs + 4),
            "response_name": (SR, np.tile(np.array([["A", "C", "D"]], object), (n_seq, 1))),
            "prediction": (("seq", "task"), rng.normal(size=(n_seq, 2)).astype("f4")),
            "mutant_prediction": (("seq", "mutation", "task"),
                                  rng.normal(size=(n_seq, 2, 2)).astype("f4")),
            "interaction_score": (SCORE, score),
        },
        coords={"task": ["t0", "t1"]},
    )
    if statistics:
        ds["null_interaction_score"] = (SCORE + ("null",),
                                        rng.normal(size=score.shape + (9,)).astype("f4"))
        ds = stats.add_q_values(stats.add_p_values(ds))
    return ds


def test_one_row_per_test_with_the_contract_columns():
    ds = _result()
    table = to_dataframe(ds)
    assert list(table.columns[: len(COLUMNS)]) == COLUMNS
    score = ds.interaction_score.values
    assert len(table) == np.count_nonzero(~np.isnan(score))
    for row in table.sample(10, random_state=0).itertuples():
        i = int(row.seq_id[1:])
        j = ["A", "B"].index(row.source_name)
        k = ["A", "C", "D"].index(row.target_name)
        t = ["t0", "t1"].index(row.task)
        assert row.score == score[i, j, k, t]
        assert row.source_alt == ("" if j == 0 else "G")
        assert row.target_start == ds.response_start.values[i, k]
        assert row.q_value == ds.interaction_q_value.values[i, j, k, t]
        assert row.mutant_prediction == ds.mutant_prediction.values[i, j, t]


def test_blocks_do_not_change_the_rows():
    ds = _result(n_seq=9).chunk(seq=2)
    whole = to_dataframe(ds)
    blocks = list(iter_rows(ds, rows_per_block=3))
    assert len(blocks) > 1
    pd.testing.assert_frame_equal(pd.concat(blocks, ignore_index=True), whole)


def test_per_base_scans_add_the_target_base():
    ds = _result(statistics=False).assign_attrs(plan="scan")
    table = to_dataframe(ds)
    assert table.p_value.isna().all()
    i = table.seq_id.str[1:].astype(int).to_numpy()
    onehot = ds.seq_onehot.values[i, table.target_start.to_numpy()]
    assert table.target_base.tolist() == [("ACGT")[c] for c in onehot.argmax(-1)]


@pytest.mark.parametrize("suffix, sep", [(".tsv", "\t"), (".csv", ",")])
def test_export_table_writes_every_row(tmp_path, suffix, sep):
    ds = _result()
    out = tmp_path / f"t{suffix}"
    rows = export_table(ds, out, rows_per_block=2)
    back = pd.read_csv(out, sep=sep)
    assert rows == len(back) == len(to_dataframe(ds))
    assert list(back.columns) == list(to_dataframe(ds).columns)
    assert not (tmp_path / f"t{suffix}.partial").exists()
    empty = ds.assign(interaction_score=ds.interaction_score * np.nan)
    assert export_table(empty, tmp_path / "e.tsv") == 0
    assert (tmp_path / "e.tsv").read_text().strip().split("\t") == COLUMNS


def test_written_pair_summary_is_stats_pair_summary(tmp_path):
    ds = _result(n_seq=20).chunk(seq=6)
    sym = ds.interaction_score.rename("symmetric_score")
    ds = ds.assign(symmetric_score=sym, null_symmetric_score=ds.null_interaction_score)
    ds = stats.add_q_values(
        stats.add_p_values(ds, score="symmetric_score", null="null_symmetric_score",
                           output="symmetric_p_value"),
        p_value="symmetric_p_value", output="symmetric_q_value")
    path = write_pair_summary(ds, tmp_path / "t.tsv")
    assert path == str(tmp_path / "t.pair_summary.tsv")
    written = pd.read_csv(path, sep="\t").sort_values(["source_name", "target_name", "task"])
    want = stats.pair_summary(ds)
    written = written.reset_index(drop=True)
    for col in want.columns[3:]:
        np.testing.assert_allclose(written[col], want[col], rtol=1e-5, err_msg=col)
        np.testing.assert_allclose(written[col.replace("_score", "_symmetric_score")
                                   .replace("_tests", "_symmetric_tests")
                                   .replace("_significant", "_symmetric_significant")],
                                   want[col], rtol=1e-5, err_msg=col)
    assert write_pair_summary(_result(statistics=False), tmp_path / "n.tsv") is None


def test_parquet_export_reads_back_as_the_table(tmp_path):
    """Finding 10: `-o x.parquet` wrote TSV; now Parquet, the values as stored."""
    ds = _result(n_seq=9).chunk(seq=2)
    out = tmp_path / "t.parquet"
    rows = export_table(ds, out, rows_per_block=2)
    back = pd.read_parquet(out)
    whole = to_dataframe(ds)
    assert rows == len(back) == len(whole)
    pd.testing.assert_frame_equal(back, whole, check_dtype=False)
    assert back.score.dtype == np.float32 and back.target_start.dtype == np.int64
    tsv = tmp_path / "t.tsv"
    export_table(ds, tsv)
    labels = pd.read_csv(tsv, sep="\t", keep_default_na=False, usecols=COLUMNS[:9])
    pd.testing.assert_frame_equal(labels, back[COLUMNS[:9]], check_dtype=False)
    text = pd.read_csv(tsv, sep="\t")  # the same table, to 6 significant digits
    for col in ("score", "p_value", "q_value", "prediction", "mutant_prediction"):
        np.testing.assert_allclose(text[col], back[col], rtol=1e-5, err_msg=col)
    empty = ds.assign(interaction_score=ds.interaction_score * np.nan)
    assert export_table(empty, tmp_path / "e.parquet") == 0
    nothing = pd.read_parquet(tmp_path / "e.parquet")
    assert list(nothing.columns) == list(whole.columns) and len(nothing) == 0
    assert nothing.score.dtype == np.float32


@pytest.mark.parametrize("name", ["t.xlsx", "t.tsv.gz", "t.json", "table"])
def test_unknown_table_suffix_is_refused_before_writing(tmp_path, name):
    from dfimx.errors import InputError

    with pytest.raises(InputError, match="use .tsv, .txt, .csv or .parquet") as err:
        export_table(_result(), tmp_path / name)
    assert str(tmp_path / name) in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="use .tsv"):
        write_pair_summary(_result(), tmp_path / name)


@pytest.mark.parametrize("suffix", [".csv", ".txt", ".parquet", ".TSV"])
def test_pair_summary_follows_the_table_format(tmp_path, suffix):
    ds = _result(n_seq=12)
    path = write_pair_summary(ds, tmp_path / f"t{suffix}")
    assert path == str(tmp_path / f"t.pair_summary{suffix}")
    if suffix == ".parquet":
        written = pd.read_parquet(path)
    else:
        written = pd.read_csv(path, sep="," if suffix == ".csv" else "\t")
    want = stats.pair_summary(ds).sort_values("median_score", ascending=False, key=abs)
    assert list(written.columns) == list(want.columns)
    np.testing.assert_allclose(written.median_score, want.median_score, rtol=1e-5)


def test_cropped_records_export_record_coordinates(cropped_runs):
    """Records fitted with length=: the table gives positions in the record, as the elements
    table did, not window positions."""
    base, crop = cropped_runs
    a, b = to_dataframe(base.compute()), to_dataframe(crop.compute())
    for column in ("source_start", "source_end", "target_start", "target_end"):
        np.testing.assert_array_equal(b[column], a[column] + 5, err_msg=column)
    np.testing.assert_array_equal(b["score"], a["score"])
