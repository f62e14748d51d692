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


def test_an_input_replaced_during_the_run_is_refused_then_resume_starts_again(
        oracle_files, tmp_path, capsys, monkeypatch):
    """Finding 8: the FASTA replaced while the run is on its last step: one line naming the
    file, exit 2, no complete store; a resume with the original file starts it again."""
    import shutil

    import pandas as pd

    import dfimx.run
    from dfimx.cli import main
    from dfimx.store import is_complete
    from dfimx.tables import to_dataframe

    fasta = tmp_path / "seqs.fa"
    shutil.copy(oracle_files["fasta"], fasta)
    original = fasta.read_text()
    real_pass = dfimx.run.statistics_pass

    def replace_fasta(path, settings, **kw):
        real_pass(path, settings, **kw)
        lines = original.splitlines()
        lines[1] = lines[1][::-1]
        fasta.write_text("\n".join(lines) + "\n")

    out = tmp_path / "run.zarr"
    argv = ["run", "--model", oracle_files["model"], "--fasta", str(fasta), "--elements",
            oracle_files["elements"], "--chunk-size", "2", "--null-draws", "2",
            "--no-progress", "-o", str(out)]
    monkeypatch.setattr(dfimx.run, "statistics_pass", replace_fasta)
    assert main(argv) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and err[0].startswith(f"dfimx: error: {fasta}: the fasta file changed "
                                               "during the run"), err
    assert out.exists() and not is_complete(out)
    monkeypatch.setattr(dfimx.run, "statistics_pass", real_pass)
    fasta.write_text(original)
    assert main(argv + ["--resume"]) == 0  # its regions cannot be trusted: computed again
    assert main(argv[:-1] + [str(tmp_path / "calm.zarr")]) == 0
    resumed = open_result(out, verify=True)
    pd.testing.assert_frame_equal(to_dataframe(resumed),
                                  to_dataframe(open_result(tmp_path / "calm.zarr")))
    assert [r["resumed"] for r in resumed.attrs["dfimx_runs"]] == [False]  # rebuilt


def test_a_saved_model_directory_is_hashed(tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"graph")
    attrs = provenance("dfimx run", {"model": str(saved)})
    assert json.loads(attrs["inputs_sha256"]) == {"model": file_sha256(saved)}
