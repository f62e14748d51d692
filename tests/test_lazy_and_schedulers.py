"""Results do not depend on the scheduler or the chunking."""

from __future__ import annotations

import dask
import numpy as np
import pytest

import dfimx
from dfimx.dfim import compute_dfim
from dfimx.store import open_result, write_store


def _run(oracle_files, path, chunk_size, scheduler=None, **kw):
    ds = dfimx.plan_elements(dfimx.from_fasta(oracle_files["fasta"], chunk_size=chunk_size),
                             oracle_files["elements"])
    result = compute_dfim(ds, oracle_files["model"], null_draws=2, **kw)
    if scheduler is None:
        write_store(result, path, progress=False)
    else:
        with dask.config.set(scheduler=scheduler):
            write_store(result, path, progress=False)
    return open_result(path).load()


def test_same_result_threaded_synchronous_and_chunk_sizes(oracle_files, tmp_path):
    a = _run(oracle_files, tmp_path / "a.zarr", 2, "threads")
    b = _run(oracle_files, tmp_path / "b.zarr", 5, "synchronous")
    for name in ("interaction_score", "null_interaction_score", "interaction_profile",
                 "mutant_prediction", "prediction"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.slow
def test_same_result_on_a_local_cluster(oracle_files, oracle_cluster, tmp_path):
    """The conftest cluster's two-worker run in chunks of 3 against the threaded one."""
    a = _run(oracle_files, tmp_path / "a.zarr", 3, "threads")
    assert oracle_cluster["address"].startswith("tls://127.0.0.1")
    b = open_result(oracle_cluster["w2_chunk3"]).load()
    for name in ("interaction_score", "null_interaction_score", "interaction_profile"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
