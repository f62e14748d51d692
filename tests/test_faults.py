"""Faults: a worker or the ``dfimx run`` process killed, two runs on one output, a full disk,
a garbled chunk: each ends in a correct store or one line and exit 2, and resume repairs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dfimx
from dfimx import simulate
from dfimx.dfim import compute_dfim
from dfimx.store import is_complete, open_result, region_status, write_store
from dfimx.tables import to_dataframe

N_SEQ, CHUNK = 48, 2
N_REGIONS = N_SEQ // CHUNK


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """48 simulated sequences of length 200 with their planted elements, and a CNN."""
    d = tmp_path_factory.mktemp("faults")
    sim = simulate.simulate_sequences(N_SEQ, 200, seed=5)
    fasta = d / "seqs.fa"
    fasta.write_text("".join(f">{i}\n{s}\n" for i, s in zip(sim.seq_ids, sim.sequences,
                                                              strict=True)))
    elements = d / "elements.tsv"
    sim.elements[["seq", "start", "end", "name", "role"]].to_csv(elements, sep="\t", index=False)
    model = simulate.save_model(simulate.random_cnn(200, seed=2), d / "model.keras")
    return {"fasta": str(fasta), "elements": str(elements), "model": str(model), "dir": d}


def _result(job, **kw):
    ds = dfimx.plan_elements(dfimx.from_fasta(job["fasta"], chunk_size=CHUNK), job["elements"])
    return compute_dfim(ds, job["model"], null_draws=2, **kw)


def _wait_for_regions(path, at_least, stop, timeout=120.0):
    """Poll ``region_complete`` until ``at_least`` regions are recorded."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and not stop():
        try:
            done = region_status(path)
        except Exception:  # noqa: BLE001 - the store may not exist yet
            done = np.zeros(0, bool)
        if done.sum() >= at_least:
            return done
        time.sleep(0.02)
    return None


def test_worker_killed_mid_run_gives_the_same_table(job, calm, tmp_path):
    from dfimx.cluster import start_client
    from dfimx.models import ModelSpec

    calm, _ = calm

    path = tmp_path / "killed.zarr"
    killed = {}
    finished = threading.Event()
    with start_client(workers=2, spec=ModelSpec.from_path(job["model"])) as client:
        pids = client.run(os.getpid)

        def killer():
            done = _wait_for_regions(path, 2, finished.is_set)
            if done is None:
                return
            victim = sorted(pids)[0]
            killed["regions_done"] = int(done.sum())
            os.kill(pids[victim], signal.SIGKILL)
            killed["pid"] = pids[victim]

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        try:
            write_store(_result(job), path, progress=False)
        finally:
            finished.set()
            thread.join()
        after = set(client.run(os.getpid).values())  # the nanny restarts the killed one
    assert "pid" in killed, "the run ended before a worker could be killed"
    assert killed["regions_done"] < N_REGIONS, "the worker was killed after the last region"
    assert killed["pid"] not in after
    assert is_complete(path) and region_status(path).all()
    pd.testing.assert_frame_equal(to_dataframe(open_result(path)), calm)


def _cli(job, out, *extra):
    return [sys.executable, "-m", "dfimx", "run", "--model", job["model"], "--fasta",
            job["fasta"], "--elements", job["elements"], "-o", str(out), "--chunk-size",
            str(CHUNK), "--null-draws", "2", "--no-progress", *extra]


@pytest.fixture(scope="module")
def calm(job, tmp_path_factory):
    """The job's undisturbed ``dfimx run`` (the command of the faulted runs): its table and
    its store, the reference that every fault test compares with."""
    from dfimx.cli import main

    path = tmp_path_factory.mktemp("calm") / "calm.zarr"
    assert main(_cli(job, path)[3:]) == 0
    return to_dataframe(open_result(path)), path


def _chunk_stamps(path: Path, region: int) -> dict[str, tuple[int, int]]:
    stamps = {}
    for name in ("interaction_score", "interaction_profile", "prediction"):
        for p in (path / name / "c" / str(region)).rglob("*"):
            if p.is_file():
                st = p.stat()
                stamps[str(p)] = (st.st_mtime_ns, st.st_ino)
    return stamps


def test_killed_run_resumes_only_missing_regions(job, calm, tmp_path):
    from dfimx.cli import main

    path = tmp_path / "run.zarr"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(_cli(job, path), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        done = _wait_for_regions(path, 2, lambda: proc.poll() is not None)
        assert done is not None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    done = region_status(path)
    assert 2 <= done.sum() < N_REGIONS, done
    assert not is_complete(path)
    stamps = {r: _chunk_stamps(path, r) for r in np.flatnonzero(done)}
    assert all(stamps.values())

    assert main(_cli(job, path, "--resume")[3:]) == 0
    assert is_complete(path) and region_status(path).all()
    for r, before in stamps.items():  # regions recorded before the kill were not recomputed
        assert _chunk_stamps(path, r) == before, f"region {r} was recomputed"
    resumed, calm = open_result(path), open_result(calm[1])
    pd.testing.assert_frame_equal(to_dataframe(resumed), to_dataframe(calm))
    for name in ("interaction_profile", "mutant_prediction", "prediction"):
        np.testing.assert_array_equal(resumed[name].values, calm[name].values, err_msg=name)


def _stamps_of_store(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in path.rglob("*")
            if p.is_file()}


def test_two_runs_on_one_output_exactly_one_writes(job, calm, tmp_path):
    """Finding 1: a second ``dfimx run`` on the same ``-o`` is refused while the first runs."""
    from dfimx.store import lock_path

    path = tmp_path / "run.zarr"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    first = subprocess.Popen(_cli(job, path), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        done = _wait_for_regions(path, 1, lambda: first.poll() is not None)
        assert done is not None, "the first run ended before the second could start"
        first.send_signal(signal.SIGSTOP)  # hold it mid-run, lock held, store incomplete
        try:
            owner = json.loads(Path(lock_path(str(path))).read_text())
            for extra in ((), ("--resume",), ("--overwrite",)):
                proc = subprocess.run(_cli(job, path, *extra), env=env, capture_output=True,
                                      text=True, timeout=300)
                # TensorFlow's C++ start-up log lines aside: one dfimx line, no traceback
                err = [line for line in proc.stderr.splitlines() if line.startswith("dfimx")]
                assert "Traceback" not in proc.stderr, proc.stderr
                assert proc.returncode == 2 and len(err) == 1, (extra, proc.stderr)
                assert err[0].startswith(f"dfimx: error: {path}: in use by run "
                                         f"{owner['run_id']} (pid {first.pid} ")
            assert not is_complete(path)
        finally:
            first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
        first.wait()
    assert first.returncode == 0, err
    assert f"wrote {path}" in out  # the closing summary names the store
    assert not Path(lock_path(str(path))).exists()
    ds, calm = open_result(path, verify=True), open_result(calm[1])
    pd.testing.assert_frame_equal(to_dataframe(ds), to_dataframe(calm))
    for name in ("interaction_profile", "mutant_prediction", "prediction", "interaction_score"):
        np.testing.assert_array_equal(ds[name].values, calm[name].values, err_msg=name)
    assert [r["run_id"] for r in ds.attrs["dfimx_runs"]] == [owner["run_id"]]


def test_disk_full_mid_run_is_one_line_then_resume_finishes(job, calm, tmp_path, capsys,
                                                            monkeypatch):
    """Finding 10: a full disk (simulated: the 40th chunk write fails with ENOSPC) is one line,
    exit 2, an incomplete store, and ``--resume`` finishes it once there is space again."""
    import errno

    from zarr.storage import LocalStore

    from dfimx.cli import main

    real_set = LocalStore.set
    calls = {"n": 0}

    async def full(self, key, value, *args, **kw):
        calls["n"] += 1
        if calls["n"] >= 40 and "/c/" in key:
            raise OSError(errno.ENOSPC, "No space left on device")
        return await real_set(self, key, value, *args, **kw)

    path = tmp_path / "run.zarr"
    monkeypatch.setattr(LocalStore, "set", full)
    rc = main(_cli(job, path)[3:])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"dfimx: error: {path}: cannot write the store: No space left on "
                             "device")
    assert "--resume" in err[0]
    assert path.exists() and not is_complete(path)
    monkeypatch.setattr(LocalStore, "set", real_set)
    assert main(_cli(job, path, "--resume")[3:]) == 0
    pd.testing.assert_frame_equal(to_dataframe(open_result(path, verify=True)), calm[0])


def test_a_garbled_chunk_is_one_line_for_every_reader_and_resume_repairs_it(job, calm, tmp_path,
                                                                             capsys):
    """Findings 2 and 10: a chunk overwritten with garbage of the same size is refused with one
    line naming the variable and region by export and report; resume recomputes that region
    only."""
    from dfimx.cli import main

    path = tmp_path / "run.zarr"
    shutil.copytree(calm[1], path)  # a finished run's store
    calm = calm[0]
    chunk = path / "interaction_score" / "c" / "5" / "0" / "0" / "0"
    chunk.write_bytes(bytes(reversed(chunk.read_bytes())))
    capsys.readouterr()
    for argv in (["export", str(path), "-o", str(tmp_path / "t.tsv")],
                 ["report", str(path), "-o", str(tmp_path / "r.html")],
                 ["check", str(path)]):
        rc = main(argv)
        captured = capsys.readouterr()
        lines = [x for x in (captured.err + captured.out).splitlines() if x.strip()
                 and not x.startswith("wrote")]
        assert rc == 2 and len(lines) == 1, (argv, lines)
        assert "variable 'interaction_score' region 5 (sequences 10-11)" in lines[0], lines
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "t.tsv").exists()
    others = {p: s for p, s in _stamps_of_store(path).items()
              if "/c/5" not in p and "dfimx_inventory" not in p and "zarr.json" not in p
              and "region_complete" not in p and "_value" not in p}
    assert main(_cli(job, path, "--resume")[3:]) == 0
    after = _stamps_of_store(path)
    assert {p: after[p] for p in others} == others  # only region 5 was written again
    pd.testing.assert_frame_equal(to_dataframe(open_result(path, verify=True)), calm)
