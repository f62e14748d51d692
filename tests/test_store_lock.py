"""One writer per store: the lock refuses a live owner, takes over a dead one's, says who."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from dfimx.errors import InputError
from dfimx.store import acquire_lock, is_complete, lock_path, open_result
from dfimx.store import lock as lock_module


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _stale(path, pid=None, host=None):
    info = {"pid": pid or _dead_pid(), "host": host or socket.gethostname(),
            "run_id": "deadbeef0000", "started": "2020-01-01T00:00:00+00:00"}
    with open(lock_path(str(path)), "w") as f:
        json.dump(info, f)
    return info


@pytest.fixture(params=["flock", "o_excl"])
def protocol(request, monkeypatch):
    """Both local protocols: flock, and O_CREAT|O_EXCL where the filesystem has no flock."""
    if request.param == "o_excl":
        monkeypatch.setattr(lock_module, "fcntl", None)
    return request.param


def test_a_second_writer_is_refused_with_the_owner_named(tmp_path, protocol):
    path = str(tmp_path / "run.zarr")
    with acquire_lock(path, run_id="first0000001") as held:
        assert os.path.exists(lock_path(path))
        with pytest.raises(InputError) as err:
            acquire_lock(path, run_id="second000002")
        text = str(err.value)
        assert text.startswith(f"{path}: in use by run first0000001 (pid {os.getpid()} on ")
        assert "refusing a second writer" in text and "\n" not in text
        # another spelling of the same store shares the lock
        with pytest.raises(InputError, match="in use by run first0000001"):
            acquire_lock(str(tmp_path / "." / "run.zarr"))
        assert held.previous is None
    assert not os.path.exists(lock_path(path))  # released
    with acquire_lock(path):  # free again
        pass


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, protocol):
    path = str(tmp_path / "run.zarr")
    info = _stale(path)
    with acquire_lock(path, run_id="taker0000001") as held:
        assert held.previous["run_id"] == info["run_id"]
        assert json.loads(open(lock_path(path)).read())["run_id"] == "taker0000001"


def test_a_lock_of_a_live_process_without_flock_is_not_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_module, "fcntl", None)
    path = str(tmp_path / "run.zarr")
    _stale(path, pid=os.getppid())  # alive, on this host
    with pytest.raises(InputError, match=f"in use by run deadbeef0000 \\(pid {os.getppid()}"):
        acquire_lock(path)


def test_a_lock_from_another_host_is_left_to_its_owner(tmp_path, protocol):
    path = str(tmp_path / "run.zarr")
    _stale(path, pid=1, host="elsewhere.example")
    with pytest.raises(InputError, match="on elsewhere.example.*delete .*run.zarr.lock"):
        acquire_lock(path)


def test_a_run_refuses_a_store_in_use(dfim_result, write_threaded, tmp_path):
    path = tmp_path / "run.zarr"
    write_threaded(dfim_result(), path)
    before = sorted(p.name for p in path.iterdir())
    with acquire_lock(str(path), run_id="owner0000001"):
        for kw in ({}, {"resume": True}, {"overwrite": True}):
            with pytest.raises(InputError, match="in use by run owner0000001"):
                write_threaded(dfim_result(seed=3), path, **kw)
    assert sorted(p.name for p in path.iterdir()) == before and is_complete(path)
    assert open_result(path).attrs["seed"] == 0
    # a dead owner's lock is taken over; the chain of runs records the resume and whose
    # lock it took over
    _stale(path)
    (path / "prediction" / "c" / "1" / "0").unlink()
    write_threaded(dfim_result(), path, resume=True)
    runs = open_result(path).attrs["dfimx_runs"]
    assert [r["resumed"] for r in runs] == [False, True]
    assert runs[1]["took_over"] == "deadbeef0000" and runs[1]["pid"] == os.getpid()
    assert not os.path.exists(lock_path(str(path)))


def test_lock_on_an_fsspec_url():
    url = "memory://locks/run.zarr"
    with acquire_lock(url, run_id="remote000001"):
        with pytest.raises(InputError, match="memory://locks/run.zarr: in use by run "
                                             "remote000001"):
            acquire_lock(url)
    with acquire_lock(url):
        pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_folder_is_one_line(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot create the lock file .*ro/run.zarr.lock"):
            acquire_lock(str(folder / "run.zarr"))
    finally:
        folder.chmod(0o755)


def test_read_only_output_folder_gives_one_line_from_the_cli(oracle_files, tmp_path, capsys,
                                                             monkeypatch):
    """Finding 10: a read-only output folder is one line and exit 2 (simulated: tests run as
    root, whom folder permissions do not stop)."""
    import errno

    from dfimx.cli import main

    real_open = os.open

    def read_only(path, *args, **kw):
        if str(path).endswith(".lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kw)

    monkeypatch.setattr(lock_module.os, "open", read_only)
    out = tmp_path / "ro" / "run.zarr"
    out.parent.mkdir()
    rc = main(["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
               "--elements", oracle_files["elements"], "--null", "none", "--no-progress",
               "-o", str(out)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1, err
    assert "cannot create the lock file" in err[0] and "Permission denied" in err[0]
    assert not out.exists()
