"""Zarr stores: incomplete until finished, resume only what is missing, refuse what differs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import zarr

import dfimx
from dfimx.dfim import compute_dfim
from dfimx.errors import InputError
from dfimx.store import is_complete, open_result, region_status, write_store
from dfimx.tables import to_dataframe

NAMES = ("prediction", "mutant_prediction", "interaction_profile", "interaction_score",
         "null_interaction_score")


def _result(files, chunk_size=2, **kw):
    ds = dfimx.plan_elements(dfimx.from_fasta(files["fasta"], chunk_size=chunk_size),
                             files["elements"])
    kw.setdefault("null_draws", 2)
    return compute_dfim(ds, files["model"], **kw)


def _write(result, path, **kw):
    with dask.config.set(scheduler="threads"):
        return write_store(result, path, progress=False, **kw)


def _assert_same(a, b, names=NAMES):
    for name in names:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def _chunk_files(path: Path, name: str, region: int) -> dict[str, tuple[int, int]]:
    root = Path(path) / name / "c" / str(region)
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_ino) for p in root.rglob("*")
            if p.is_file()}


def test_incomplete_until_finalized_then_complete(oracle_files, tmp_path):
    path = tmp_path / "run.zarr"
    seen = {}

    def finalize(p):
        seen["complete"] = is_complete(p)
        seen["regions"] = region_status(p).tolist()
        with pytest.raises(InputError, match="incomplete"):
            open_result(p)

    _write(_result(oracle_files), path, finalize=finalize)
    assert seen == {"complete": False, "regions": [True, True, True]}
    assert is_complete(path)
    ds = open_result(path)
    assert ds.attrs["dfimx_complete"] is True and "interaction_score" in ds.attrs[
        "dfimx_variables"]


def test_dask_chunks_align_with_zarr_chunks(oracle_files, tmp_path):
    path = tmp_path / "run.zarr"
    result = _result(oracle_files, chunk_size=4)  # chunks (4, 2)
    _write(result, path)
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
    _write(compute_dfim(ds, oracle_files["model"], null_draws=2), tmp_path / "u.zarr")
    assert zarr.open_array(str(tmp_path / "u.zarr" / "interaction_score")).chunks[0] == 2
    assert region_status(tmp_path / "u.zarr").tolist() == [True, True]
    _assert_same(open_result(path).load(), open_result(tmp_path / "u.zarr").load())


def test_resume_computes_only_missing_regions(oracle_files, tmp_path):
    path = tmp_path / "run.zarr"
    result = _result(oracle_files)
    _write(result, path)
    reference = open_result(path).load()
    # simulate an interruption: region 1 lost (unmarked, its data garbled) and not finalized
    group = zarr.open_group(str(path), mode="r+")
    group["region_complete"][1] = False
    group["interaction_score"][2:4] = -7.0
    group.attrs["dfimx_complete"] = False
    before = {r: _chunk_files(path, "interaction_score", r) for r in (0, 2)}
    assert before[0] and before[2]
    calls = []
    _write(_result(oracle_files), path, resume=True, finalize=calls.append)
    assert calls == [str(path)]
    for r in (0, 2):  # regions that were done are not rewritten
        assert _chunk_files(path, "interaction_score", r) == before[r]
    _assert_same(open_result(path).load(), reference)
    # a finished store is left alone by --resume
    stamp = _chunk_files(path, "interaction_score", 1)
    _write(_result(oracle_files), path, resume=True, finalize=calls.append)
    assert len(calls) == 1 and _chunk_files(path, "interaction_score", 1) == stamp


@pytest.mark.parametrize(
    "change, match",
    [
        ({"seed": 1}, "different inputs or settings"),
        ({"method": "gradient"}, "different inputs or settings"),
        ({"null_draws": 3}, "different inputs or settings"),
        ({"chunk_size": 3}, "--chunk-size 2"),
        ({"elements": "other"}, "different inputs or settings"),
        ({"fasta": "other"}, "different inputs or settings"),
    ],
)
def test_resume_refuses_a_store_made_differently(oracle_files, tmp_path, change, match):
    path = tmp_path / "run.zarr"

    def stop(p):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        _write(_result(oracle_files), path, finalize=stop)
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
        _write(_result(files, chunk_size=chunk, **kw), path, resume=True)
    assert str(path) in str(err.value)
    assert not is_complete(path)


def test_damaged_store_is_refused_clearly(oracle_files, tmp_path):
    path = tmp_path / "run.zarr"
    _write(_result(oracle_files), path)
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


def test_refuses_to_overwrite_what_is_not_a_store(oracle_files, tmp_path):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("do not delete")
    with pytest.raises(InputError, match="not a Zarr store"):
        _write(_result(oracle_files), keep)
    assert (keep / "notes.txt").exists()
    resumed = tmp_path / "fresh.zarr"  # --resume with no store yet starts a new one
    _write(_result(oracle_files), resumed, resume=True)
    assert is_complete(resumed)
    json.loads((resumed / "zarr.json").read_text())


def test_one_and_two_workers_identical_and_model_loaded_once(oracle_files, tmp_path):
    from dfimx.cluster import PLUGIN_NAME, available_cores, start_client
    from dfimx.models import ModelSpec, load_scorer

    spec = ModelSpec.from_path(oracle_files["model"])
    local = tmp_path / "local.zarr"
    _write(_result(oracle_files), local)
    with start_client(workers=1, spec=spec) as client:
        assert client.scheduler_info()["address"].startswith("tcp://127.0.0.1")
        write_store(_result(oracle_files), tmp_path / "w1.zarr", progress=False)
        client.cluster.scale(2)
        client.wait_for_workers(2, timeout=60)
        write_store(_result(oracle_files), tmp_path / "w2.zarr", progress=False)

        def probe(dask_worker):
            plugin = dask_worker.plugins[PLUGIN_NAME]
            return plugin.scorer_id == id(load_scorer(spec)), plugin.tf_threads

        probes = client.run(probe)
        assert len(probes) == 2
        # the scorer the plugin loaded is the one tasks get from the process cache
        assert all(same for same, _ in probes.values())
        assert {threads for _, threads in probes.values()} == {available_cores()}
        used = client.submit(lambda: id(load_scorer(spec)), pure=False).result()
        assert used in {
            v for v in client.run(lambda dask_worker: dask_worker.plugins[PLUGIN_NAME]
                                  .scorer_id).values()}
    a = open_result(tmp_path / "w1.zarr").load()
    b = open_result(tmp_path / "w2.zarr").load()
    _assert_same(a, b)
    _assert_same(a, open_result(local).load())
    pd.testing.assert_frame_equal(to_dataframe(a), to_dataframe(b))
