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
