"""One call from files to a finished store: statistics added, null dropped, provenance kept."""

from __future__ import annotations

import json

import keras
import numpy as np

from dfimx.models import file_sha256
from dfimx.run import auto_chunk_size, provenance, run_dfim
from dfimx.store import open_result
from dfimx.variables import names_with_role


def test_run_adds_statistics_and_drops_the_null(oracle_files, tmp_path):
    store = run_dfim(oracle_files["model"], oracle_files["fasta"],
                     elements=oracle_files["elements"], output=tmp_path / "r.zarr",
                     method="grad_x_input", null_draws=3, chunk_size=4, progress=False,
                     command="dfimx run (test)")
    ds = open_result(store)
    for name in ("interaction_p_value", "interaction_q_value", "symmetric_p_value"):
        assert name in ds and name in names_with_role("statistic")
    assert "null_interaction_score" not in ds  # only with keep_null
    p = ds["interaction_p_value"].values
    finite = np.isfinite(ds["interaction_score"].values)
    assert (np.isfinite(p) == finite).all()
    # empirical p-values against the global pool of 3 draws per test: (1 + k) / (n + 1)
    n_null = 3 * finite.sum()
    assert (p[finite] >= 1 / (n_null + 1) - 1e-7).all() and (p[finite] <= 1).all()
    inputs = json.loads(ds.attrs["inputs_sha256"])
    assert inputs["fasta"] == file_sha256(oracle_files["fasta"])
    assert ds.attrs["command"] == "dfimx run (test)" and ds.attrs["null_draws"] == 3


def test_an_in_memory_model_and_sequence_strings(oracle_files, tmp_path):
    model = keras.models.load_model(oracle_files["model"])
    seqs = ["ACGT" * 10, "TTGCA" * 8]
    store = run_dfim(model, seqs, scan="4:6", output=tmp_path / "m.zarr", null="none",
                     method="grad_x_input", progress=False)
    ds = open_result(store)
    assert ds.sizes["seq"] == 2 and ds.sizes["mutation"] == 6
    assert "interaction_p_value" not in ds


def test_chunks_and_provenance():
    assert auto_chunk_size(4, 200) == 512 and 16 <= auto_chunk_size(3000, 1000) < 512
    attrs = provenance("dfimx demo", {"model": "/no/such/file"})
    assert attrs["command"] == "dfimx demo" and json.loads(attrs["inputs_sha256"]) == {}
