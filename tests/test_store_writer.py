"""Writing stores: incomplete until finished, resume only what is missing, refuse what differs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr

import dfimx
from dfimx.dfim import compute_dfim
from dfimx.errors import InputError
from dfimx.store import is_complete, open_result, region_status

#: The variables compared between runs.
RESULT_NAMES = ("prediction", "mutant_prediction", "interaction_profile", "interaction_score",
                "null_interaction_score")


def _assert_same(a, b, names=RESULT_NAMES):
    for name in names:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def _chunk_files(path: Path, name: str, region: int) -> dict[str, tuple[int, int]]:
    root = Path(path) / name / "c" / str(region)
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_ino) for p in root.rglob("*")
            if p.is_file()}


def test_incomplete_until_finalized_then_complete(
    oracle_files, tmp_path, dfim_result, write_threaded,
):
    path = tmp_path / "run.zarr"
    seen = {}

    def finalize(p):
        seen["complete"] = is_complete(p)
        seen["regions"] = region_status(p).tolist()
        with pytest.raises(InputError, match="incomplete"):
            open_result(p)

    write_threaded(dfim_result(), path, finalize=finalize)
    assert seen == {"complete": False, "regions": [True, True, True]}
    assert is_complete(path)
    ds = open_result(path)
    assert ds.attrs["dfimx_complete"] is True and "interaction_score" in ds.attrs[
        "dfimx_variables"]


def test_dask_chunks_align_with_zarr_chunks(oracle_files, tmp_path, dfim_result, write_threaded):
    path = tmp_path / "run.zarr"
    result = dfim_result(chunk_size=4)  # chunks (4, 2)
    write_threaded(result, path)
    for name in ("interaction_score", "interaction_profile", "seq_onehot", "mutation_start",
                 "seq_id"):
        arr = zarr.open_array(str(path / name), mode="r")
        assert arr.chunks[0] == 4, name
        assert arr.chunks[1:] == arr.shape[1:], name
    ds = open_result(path)
    assert ds["interaction_score"].chunks[0] == (4, 2)
    # uneven Dask chunks: Zarr chunks divide every region, so no two regions share one
    ds =  dfimx.plan_elements(dfimx.from_fasta(oracle_files["fasta"], chunk_size=6),
                             oracle_files["elements"]).chunk({"seq": (2, 4)})
    write_threaded(compute_dfim(ds, oracle_files["model"], null_draws=2), tmp_path / "u.zarr")
    assert zarr.open_array(str(tmp_path / "u.zarr" / "interaction_score")).chunks[0] == 2
    assert region_status(tmp_path / "u.zarr").tolist() == [True, True]
    _assert_same(open_result(path).load(), open_result(tmp_path / "u.zarr").load())


def test_resume_computes_only_missing_regions(oracle_files, tmp_path, dfim_result, write_threaded):
    path = tmp_path / "run.zarr"
    result = dfim_result()
    write_threaded(result, path)
    reference = open_result(path).load()
    # simulate an interruption: region 1 lost (unmarked, its data garbled) and not finalized
    group = zarr.open_group(str(path), mode="r+")
    group["region_complete"][1] = False
    group["interaction_score"][2:4] = -7.0
    group.attrs["dfimx_complete"] = False
    before = {r: _chunk_files(path, "interaction_score", r) for r in (0, 2)}
    assert before[0] and before[2]
    calls = []
    write_threaded(dfim_result(), path, resume=True, finalize=calls.append)
    assert calls == [str(path)]
    for r in (0, 2):  # regions that were done are not rewritten
        assert _chunk_files(path, "interaction_score", r) == before[r]
    _assert_same(open_result(path).load(), reference)
    # a finished store is left alone by --resume
    stamp = _chunk_files(path, "interaction_score", 1)
    write_threaded(dfim_result(), path, resume=True, finalize=calls.append)
    assert len(calls) == 1 and _chunk_files(path, "interaction_score", 1) == stamp


@pytest.mark.parametrize(
    "change, match",
    [
        ({"seed": 1}, "different inputs or settings"),
        ({"method": "gradient"}, "different inputs or settings"),
        ({"null_draws": 3}, "different inputs or settings"),
        ({"chunk_size": 3}, "rerun with chunk_size=2"),  # the CLI says --chunk-size 2
        ({"elements": "other"}, "different inputs or settings"),
        ({"fasta": "other"}, "different inputs or settings"),
    ],
)
def test_resume_refuses_a_store_made_differently(
    oracle_files, tmp_path, change, match, dfim_result, write_threaded,
):
    path = tmp_path / "run.zarr"

    def stop(p):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_threaded(dfim_result(), path, finalize=stop)
    files = dict(oracle_files)
    kw = dict(change)
    if kw.pop("elements", None):
        el = pd.read_csv(files["elements"], sep="\t")
        el.loc[0, "end"] = 5
        files["elements"] = str(tmp_path / "el.tsv")
        el.to_csv(files["elements"], sep="\t", index=False)
    if kw.pop("fasta", None):
        text = Path(files["fasta"]).read_text().splitlines()
        text[1] = ("T" if text[1][0] != "T" else "A") + text[1][1:]
        files["fasta"] = str(tmp_path / "other.fa")
        Path(files["fasta"]).write_text("\n".join(text) + "\n")
    chunk = kw.pop("chunk_size", 2)
    with pytest.raises(InputError, match=match) as err:
        write_threaded(dfim_result(chunk_size=chunk, files=files, **kw), path, resume=True)
    assert str(path) in str(err.value)
    assert not is_complete(path)


def _files(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in Path(path).rglob("*")
            if p.is_file()}


def test_a_failed_rerun_leaves_the_old_store_untouched(dfim_result, write_threaded, tmp_path):
    """Finding 4: the new run writes beside the old store and swaps only when it succeeds."""
    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    old = _files(path)

    def broken(block):
        raise RuntimeError("error mid-run")

    bad = dfim_result(seed=5)
    bad["interaction_score"] = bad["interaction_score"].copy(
        data=bad["interaction_score"].data.map_blocks(broken, dtype="f4"))
    with pytest.raises(RuntimeError, match="error mid-run"):
        write_threaded(bad, path)
    assert _files(path) == old and is_complete(path)  # byte for byte
    partial = tmp_path / "run.zarr.partial"
    assert partial.exists() and not is_complete(partial)

    def stop(p):
        raise RuntimeError("the statistics failed")

    with pytest.raises(RuntimeError, match="statistics failed"):  # overwrite: start it again
        write_threaded(dfim_result(seed=5), path, finalize=stop, overwrite=True)
    assert _files(path) == old
    assert partial.exists() and not is_complete(partial)
    # a plain rerun does not silently discard the interrupted replacement...
    with pytest.raises(InputError, match=r"an interrupted run that was replacing this store "
                                         r"left .*run.zarr.partial \(3 of 3 regions written\); "
                                         "resume=True continues it, overwrite=True"):
        write_threaded(dfim_result(seed=5), path)
    # ...resume finishes it and swaps it in; a plain rerun replaces a finished store
    write_threaded(dfim_result(seed=5), path, resume=True)
    assert not partial.exists() and open_result(path).attrs["seed"] == 5
    write_threaded(dfim_result(), path)
    assert open_result(path).attrs["seed"] == 0 and not partial.exists()
    _assert_same(open_result(path).load(), open_result(tmp_path / "run.zarr").load())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.zarr"]  # no lock, no leftovers


def test_what_dfimx_did_not_write_is_never_deleted(dfim_result, write_threaded, tmp_path):
    """Finding 4: a Zarr store dfimx did not write is refused, even with overwrite."""
    foreign = tmp_path / "theirs.zarr"
    zarr.open_group(str(foreign), mode="w", zarr_format=3).create_array(
        "data", shape=(3,), dtype="i4")[:] = [1, 2, 3]
    before = _files(foreign)
    for kw in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(InputError, match="theirs.zarr: .*dfimx did not write"):
            write_threaded(dfim_result(), foreign, **kw)
        assert _files(foreign) == before
    with pytest.raises(InputError, match="dfimx did not write"):
        open_result(foreign)


def test_an_unfinished_store_is_continued_or_replaced_only_when_asked(
        dfim_result, write_threaded, tmp_path):
    path = tmp_path / "run.zarr"

    def stop(p):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_threaded(dfim_result(), path, finalize=stop)
    old = _files(path)
    with pytest.raises(InputError, match=r"run.zarr: an unfinished dfimx run \(3 of 3 regions "
                                         r"written\); resume=True continues it, "
                                         "overwrite=True starts again"):
        write_threaded(dfim_result(seed=2), path)
    assert _files(path) == old
    write_threaded(dfim_result(seed=2), path, overwrite=True)
    assert is_complete(path) and open_result(path).attrs["seed"] == 2
    runs = open_result(path).attrs["dfimx_runs"]
    assert len(runs) == 1 and open_result(path).attrs["dfimx_run_id"] == runs[0]["run_id"]


def test_system_errors_mid_run_are_one_line_naming_the_right_file(dfim_result, write_threaded,
                                                                   tmp_path):
    import errno

    def fails(exc):
        def raise_it(block):
            raise exc
        result = dfim_result()
        result["prediction"] = result["prediction"].copy(
            data=result["prediction"].data.map_blocks(raise_it, dtype="f4"))
        return result

    path = tmp_path / "run.zarr"
    with pytest.raises(InputError, match=r"run.zarr: cannot write the store: No space left on "
                                         r"device \(it is left incomplete; once that is fixed, "
                                         r"resume=True continues it\)"):
        write_threaded(fails(OSError(errno.ENOSPC, "No space left on device")), path)
    gone = str(tmp_path / "model.keras")
    with pytest.raises(InputError, match=f"^{gone}: No such file or directory \\(while writing "):
        write_threaded(fails(FileNotFoundError(errno.ENOENT, "No such file or directory",
                                               gone)), path, overwrite=True)
    assert not is_complete(path)
