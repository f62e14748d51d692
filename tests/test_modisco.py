"""Export of attributions in modisco-lite's layout (``dfimx export --modisco``)."""

from __future__ import annotations

import numpy as np

from dfimx.cli import main
from dfimx.store import open_result


def test_export_modisco_from_a_run(oracle_files, tmp_path, capsys):
    store = tmp_path / "imp.zarr"
    assert main(["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
                 "--elements", oracle_files["elements"], "-o", str(store), "--null", "none",
                 "--keep-importance", "--no-progress"]) == 0
    capsys.readouterr()
    prefix = tmp_path / "modisco" / "run"
    assert main(["export", str(store), "--modisco", str(prefix)]) == 0
    printed = capsys.readouterr().out
    ds = open_result(store)
    ohe = np.load(f"{prefix}.ohe.npz")["arr_0"]
    attr = np.load(f"{prefix}.attr.npz")["arr_0"]
    n, length = ds.sizes["seq"], ds.sizes["position"]
    assert ohe.shape == attr.shape == (n, 4, length)
    # (N, 4, L): base on axis 1; the FASTA's sequences and the stored attributions
    np.testing.assert_array_equal(ohe.transpose(0, 2, 1), oracle_files["onehot"])
    np.testing.assert_allclose(attr[2, :, 7], ds["seq_importance"].values[2, 7, :, 0])
    assert f"modisco motifs -s {prefix}.ohe.npz -a {prefix}.attr.npz" in printed
    assert f"-w {length}" in printed


def test_export_modisco_needs_importances(oracle_files, tmp_path, capsys):
    store = tmp_path / "plain.zarr"
    assert main(["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
                 "--elements", oracle_files["elements"], "-o", str(store), "--null", "none",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["export", str(store), "--modisco", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--keep-importance" in err[0]
    assert main(["export", str(store)]) == 2
    assert "give -o TABLE, --modisco PREFIX or both" in capsys.readouterr().err
