"""Remote stores through fsspec: write, read back and resume against a local S3 server."""

from __future__ import annotations

import logging
import os

import dask
import numpy as np
import pandas as pd
import pytest

import dfimx
from dfimx.dfim import compute_dfim
from dfimx.errors import InputError
from dfimx.store import is_complete, open_result, region_status, write_store
from dfimx.tables import to_dataframe

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

BUCKET = "dfimx-test"
NAMES = ("prediction", "mutant_prediction", "interaction_profile", "interaction_score",
         "null_interaction_score")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 (free port), dummy credentials, one bucket."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": endpoint}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(endpoint_url=endpoint)
    fs.mkdir(BUCKET)
    try:
        yield {"endpoint": endpoint, "fs": fs,
               "options": {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}}
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def _result(files, **kw):
    ds = dfimx.plan_elements(dfimx.from_fasta(files["fasta"], chunk_size=2), files["elements"])
    return compute_dfim(ds, files["model"], null_draws=2, **kw)


def _write(result, path, **kw):
    with dask.config.set(scheduler="threads"):
        return write_store(result, path, progress=False, **kw)


def _same(a, b):
    for name in NAMES:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_write_read_back_and_overwrite(oracle_files, s3, tmp_path):
    url = f"s3://{BUCKET}/run.zarr"
    opts = s3["options"]
    local = _write(_result(oracle_files), tmp_path / "local.zarr")
    assert _write(_result(oracle_files), url, storage_options=opts) == url
    assert s3["fs"].exists(f"{BUCKET}/run.zarr/zarr.json")
    assert is_complete(url, storage_options=opts)
    remote = open_result(url, storage_options=opts)
    assert remote.attrs["dfimx_complete"] is True
    _same(remote.load(), open_result(local).load())
    # a second write replaces the remote store (deleted through fsspec first)
    s3["fs"].pipe(f"{BUCKET}/run.zarr/stray/zarr.json", b'{"zarr_format": 3, "node_type": 1}')
    _write(_result(oracle_files, seed=1), url, storage_options=opts)
    assert not s3["fs"].exists(f"{BUCKET}/run.zarr/stray")
    assert open_result(url, storage_options=opts).attrs["seed"] == 1
    with pytest.raises(InputError, match=f"s3://{BUCKET}/missing.zarr: store not found"):
        open_result(f"s3://{BUCKET}/missing.zarr", storage_options=opts)


def test_resume_a_remote_store(oracle_files, s3, tmp_path):
    import zarr
    from zarr.storage import FsspecStore

    url = f"s3://{BUCKET}/resume.zarr"
    opts = s3["options"]

    def stop(path):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        _write(_result(oracle_files), url, storage_options=opts, finalize=stop)
    assert not is_complete(url, storage_options=opts)
    with pytest.raises(InputError, match="incomplete"):
        open_result(url, storage_options=opts)
    group = zarr.open_group(FsspecStore.from_url(url, storage_options=opts), mode="r+")
    group["region_complete"][2] = False
    group["interaction_score"][4:6] = -1.0
    assert region_status(url, storage_options=opts).tolist() == [True, True, False]
    before = {p: s3["fs"].info(p)["LastModified"]
              for p in s3["fs"].find(f"{BUCKET}/resume.zarr/interaction_score/c/0")}
    with pytest.raises(InputError, match="different inputs or settings"):
        _write(_result(oracle_files, seed=9), url, storage_options=opts, resume=True)
    _write(_result(oracle_files), url, storage_options=opts, resume=True)
    assert is_complete(url, storage_options=opts)
    after = {p: s3["fs"].info(p)["LastModified"] for p in before}
    assert after == before
    reference = _write(_result(oracle_files), tmp_path / "ref.zarr")
    _same(open_result(url, storage_options=opts).load(), open_result(reference).load())


def test_run_dfim_to_s3_with_the_environment_endpoint(oracle_files, s3, tmp_path):
    from dfimx.run import run_dfim

    url = f"s3://{BUCKET}/api.zarr"
    args = dict(elements=oracle_files["elements"], chunk_size=2, null_draws=2, progress=False)
    run_dfim(oracle_files["model"], oracle_files["fasta"], output=url, **args)
    run_dfim(oracle_files["model"], oracle_files["fasta"], output=tmp_path / "l.zarr", **args)
    remote, local = open_result(url), open_result(tmp_path / "l.zarr")
    assert "interaction_q_value" in remote and "null_interaction_score" not in remote
    pd.testing.assert_frame_equal(to_dataframe(remote), to_dataframe(local))


def test_remote_lock_and_damage(oracle_files, s3):
    """On S3 too: one writer (the lock is an exclusive put), a deleted chunk named, repaired."""
    from dfimx.store import acquire_lock, check_store

    url = f"s3://{BUCKET}/owned.zarr"
    opts = s3["options"]
    _write(_result(oracle_files), url, storage_options=opts)
    assert not s3["fs"].exists(f"{BUCKET}/owned.zarr.lock")
    reference = open_result(url, storage_options=opts).load()
    with acquire_lock(url, opts, run_id="remote000001"):
        assert s3["fs"].exists(f"{BUCKET}/owned.zarr.lock")
        with pytest.raises(InputError, match=f"s3://{BUCKET}/owned.zarr: in use by run "
                                             "remote000001"):
            _write(_result(oracle_files), url, storage_options=opts, resume=True)
    s3["fs"].rm(f"{BUCKET}/owned.zarr/mutant_prediction/c/1/0/0")
    s3["fs"].invalidate_cache()
    with pytest.raises(InputError, match="variable 'mutant_prediction' region 1 "
                                         r"\(sequences 2-3\): chunk c/1/0/0 is missing"):
        open_result(url, storage_options=opts)
    assert not check_store(url, storage_options=opts).ok
    _write(_result(oracle_files), url, storage_options=opts, resume=True)
    assert check_store(url, storage_options=opts).ok
    _same(open_result(url, storage_options=opts).load(), reference)
