"""Reopening a store: damaged or missing stores are refused with one clear error."""

from __future__ import annotations

import os

import pytest

from dfimx.errors import InputError
from dfimx.store import is_complete, open_result


def test_damaged_store_is_refused_clearly(dfim_result, write_threaded, tmp_path):
    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    meta = path / "interaction_score" / "zarr.json"
    text = meta.read_text()
    meta.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not a readable dfimx Zarr store") as err:
        open_result(path)
    assert str(path) in str(err.value)
    meta.unlink()
    with pytest.raises(InputError, match="damaged store") as err:
        open_result(path)
    assert str(path) in str(err.value) and "interaction_score" in str(err.value)
    meta.write_text(text)
    open_result(path)
    os.rename(path / "prediction", tmp_path / "moved")
    with pytest.raises(InputError, match=r"damaged store: variable\(s\) \['prediction'\]"):
        open_result(path)
    with pytest.raises(InputError, match="store not found"):
        open_result(tmp_path / "nothing.zarr")


def test_is_complete_is_false_for_anything_unfinished(tmp_path):
    assert not is_complete(tmp_path / "missing.zarr")
    (tmp_path / "empty.zarr").mkdir()
    assert not is_complete(tmp_path / "empty.zarr")


def _cli(capsys, argv):
    from dfimx.cli import main

    rc = main(argv)
    captured = capsys.readouterr()
    return rc, [x for x in (captured.err + captured.out).splitlines() if x.strip()]


def test_report_and_plots_refuse_an_unfinished_store(dfim_result, write_threaded, tmp_path,
                                                     capsys):
    """Finding 3: a run killed part-way (here: 1 of 3 regions) is refused by the report and
    the plots, with one line; ``allow_incomplete=True`` opens it on request."""
    import zarr

    from dfimx.plot import open_dataset
    from dfimx.plot.distributions import interaction_summary

    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    group = zarr.open_group(str(path), mode="r+")
    group["region_complete"][1:] = False
    group.attrs["dfimx_complete"] = False
    rc, lines = _cli(capsys, ["report", str(path), "-o", str(tmp_path / "r.html")])
    assert rc == 2 and len(lines) == 1 and "store is incomplete" in lines[0], lines
    assert "--resume" in lines[0] and not (tmp_path / "r.html").exists()
    for call in (open_dataset, interaction_summary):
        with pytest.raises(InputError, match="the store is incomplete"):
            call(path)
    ds = open_dataset(path, allow_incomplete=True)
    assert ds.attrs["dfimx_complete"] is False and ds.sizes["seq"] == 6


def test_what_is_not_a_store_is_one_line_for_every_reader(dfim_result, write_threaded,
                                                          tmp_path, capsys):
    """Findings 3 and 10: a missing store, a truncated root zarr.json, a folder that is no
    store: one line and exit 2 from report, export and check, never a traceback."""
    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    meta = path / "zarr.json"
    meta.write_text(meta.read_text()[:40])
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("x")
    cases = [(tmp_path / "missing.zarr", "store not found"),
             (path, "not a readable dfimx Zarr store"),
             (plain, "not a readable dfimx Zarr store")]
    for store, message in cases:
        for argv in (["report", str(store), "-o", str(tmp_path / "r.html")],
                     ["export", str(store), "-o", str(tmp_path / "t.tsv")],
                     ["check", str(store)]):
            rc, lines = _cli(capsys, argv)
            assert rc == 2 and len(lines) == 1, (argv, lines)
            assert lines[0].startswith(f"dfimx: error: {store}: ") and message in lines[0]
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "t.tsv").exists()
