"""The inventory: every chunk written and recorded; a missing or damaged one is named, never
read as fill values; resume recomputes what is damaged."""

from __future__ import annotations

import pickle
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import zarr

import dfimx
from dfimx.cli import main
from dfimx.dfim import compute_dfim
from dfimx.errors import InputError
from dfimx.plot import open_dataset
from dfimx.store import check_store, is_complete, open_result, region_status
from dfimx.store.inventory import Layout, listing
from dfimx.tables import to_dataframe


def _run(capsys, argv):
    rc = main(argv)
    captured = capsys.readouterr()
    lines = [x for x in (captured.err + captured.out).splitlines() if x.strip()]
    return rc, lines


def _stamps(path: Path, *, skip=()) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_ino) for p in path.rglob("*")
            if p.is_file() and "/c/" in str(p) and not any(s in str(p) for s in skip)}


def test_every_chunk_is_written_and_recorded(oracle_files, tmp_path, write_threaded):
    """A region whose scores are all NaN still has its chunk: a missing one is damage."""
    import pandas as pd

    el = pd.read_csv(oracle_files["elements"], sep="\t")
    lone = el[(el["seq"] != "s2") | (el["name"] == "edge_left")]  # s2: a source, no target
    lone = lone[(lone["seq"] != "s3") | (lone["name"] == "edge_left")]
    elements = tmp_path / "lone.tsv"
    lone.to_csv(elements, sep="\t", index=False)
    ds = dfimx.plan_elements(dfimx.from_fasta(oracle_files["fasta"], chunk_size=2), elements)
    path = tmp_path / "run.zarr"
    write_threaded(compute_dfim(ds, oracle_files["model"], null_draws=2), path)
    assert np.isnan(open_result(path)["interaction_score"][2:4].values).all()
    files = listing(str(path), None)
    group = zarr.open_group(str(path), mode="r")
    for name, arr in group.arrays():
        layout = Layout.of(name, arr)
        expected = {key for _, key in layout.keys()}
        assert expected <= set(files), (name, sorted(expected - set(files)))
    assert check_store(path).ok
    (path / "interaction_score" / "c" / "1" / "0" / "0" / "0").unlink()
    with pytest.raises(InputError, match="variable 'interaction_score' region 1 "
                                         r"\(sequences 2-3\): chunk c/1/0/0/0 is missing"):
        open_result(path)


def test_a_deleted_chunk_is_refused_by_every_reader_and_repaired_by_resume(
        oracle_files, tmp_path, capsys):
    """Finding 2 (and 3): a chunk of ``response_name`` deleted from a finished store."""
    path = tmp_path / "run.zarr"
    run = ["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
           "--elements", oracle_files["elements"], "--chunk-size", "2", "--null-draws", "2",
           "--no-progress", "-o", str(path)]
    assert main(run) == 0
    good = to_dataframe(open_result(path))
    assert (good["target_name"] != "").all()
    (path / "response_name" / "c" / "1" / "0").unlink()
    capsys.readouterr()
    problem = ("damaged store: variable 'response_name' region 1 (sequences 2-3): chunk c/1/0 "
               "is missing")
    for argv in (["export", str(path), "-o", str(tmp_path / "t.tsv")],
                 ["report", str(path), "-o", str(tmp_path / "r.html")],
                 ["check", str(path)]):
        rc, lines = _run(capsys, argv)
        assert rc == 2 and len(lines) == 1 and problem in lines[0], (argv, lines)
    assert not (tmp_path / "t.tsv").exists() and not (tmp_path / "r.html").exists()
    for opener in (open_result, open_dataset):
        with pytest.raises(InputError, match="variable 'response_name' region 1"):
            opener(path)
    # resume does not trust the region marks: the chunk is written again, nothing else
    before = _stamps(path, skip=("response_name", "dfimx_inventory"))
    assert main(run + ["--resume"]) == 0
    assert _stamps(path, skip=("response_name", "dfimx_inventory")) == before
    pd.testing.assert_frame_equal(to_dataframe(open_result(path, verify=True)), good)


def test_a_truncated_region_chunk_is_recomputed_by_resume(dfim_result, write_threaded,
                                                          tmp_path):
    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    reference = open_result(path).load()
    chunk = path / "interaction_profile" / "c" / "2" / "0" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:10])
    with pytest.raises(InputError, match=r"variable 'interaction_profile' region 2 \(sequences "
                                         r"4-5\): chunk c/2/0/0/0 has 10 bytes, \d+ were "
                                         "written"):
        open_result(path)
    report = check_store(path)
    assert not report.ok and len(report.problems) == 1
    before = _stamps(path, skip=("/c/2", "dfimx_inventory"))
    calls = []
    write_threaded(dfim_result(), path, resume=True, finalize=calls.append)
    assert calls == []  # the statistics of a finished store are not redone for one region
    assert _stamps(path, skip=("/c/2", "dfimx_inventory")) == before
    assert check_store(path).ok
    np.testing.assert_array_equal(open_result(path)["interaction_profile"].values,
                                  reference["interaction_profile"].values)


def test_an_unfinished_store_is_checked_region_by_region(dfim_result, write_threaded,
                                                         tmp_path, capsys):
    path = tmp_path / "run.zarr"

    def stop(p):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_threaded(dfim_result(), path, finalize=stop)
    group = zarr.open_group(str(path), mode="r+")
    group["region_complete"][2] = False  # as if killed after two of the three regions
    rc, lines = _run(capsys, ["check", str(path)])
    assert rc == 2 and lines == [f"{path}: the store is incomplete (2 of 3 regions written)"]
    (path / "prediction" / "c" / "0" / "0").unlink()
    rc, lines = _run(capsys, ["check", str(path)])
    assert rc == 2 and len(lines) == 2 and "variable 'prediction' region 0" in lines[1]
    with pytest.raises(InputError, match="variable 'prediction' region 0"):
        open_result(path, allow_incomplete=True)
    write_threaded(dfim_result(), path, resume=True)
    assert is_complete(path) and region_status(path).all() and check_store(path).ok


def test_reads_are_checked_in_every_process(dfim_result, write_threaded, tmp_path):
    """The checked dataset pickles (Dask workers) and still checks what it reads."""
    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    ds = open_result(path)
    chunk = path / "prediction" / "c" / "1" / "0"
    chunk.write_bytes(bytes(len(chunk.read_bytes())))
    copy = pickle.loads(pickle.dumps(ds))
    for lazy in (ds, copy):
        with pytest.raises(InputError, match="variable 'prediction' region 1 .* does not "
                                             "match its checksum"):
            with dask.config.set(scheduler="threads"):
                _ = lazy["prediction"].values
    np.testing.assert_array_equal(copy["prediction"][:2].values, ds["prediction"][:2].values)
    with pytest.raises(InputError, match="does not match its checksum"):
        open_result(path, verify=True)
