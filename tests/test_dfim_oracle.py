"""DFIM entries from `dfimx run` + `dfimx export` against explicit mutants and GradientTape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from dfimx.cli import main
from dfimx.store import open_result


def _logit_fn(model_path):
    """The pre-sigmoid logit, rebuilt by hand from the saved model's layers."""
    import keras

    model = keras.saving.load_model(model_path, compile=False)
    head = model.get_layer("head")
    body = keras.Model(model.inputs, head.input)
    w, b = head.get_weights()

    def logit(x):
        return tf.matmul(body(x), w) + b

    return logit


def _grad_x_input(logit, x):
    x = tf.constant(x[None].astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = logit(x)[:, 0]
    return (tape.gradient(y, x) * x).numpy()[0]  # (L, 4)


def _oracle_scores(logit, x, src, targets, mode="gc"):
    imp0 = _grad_x_input(logit, x)
    xm = x.astype(np.float32).copy()
    if mode == "zeros":
        xm[src[0]:src[1]] = 0
    else:
        xm[src[0]:src[1]] = [0.27, 0.23, 0.23, 0.27]
    delta = imp0 - _grad_x_input(logit, xm)
    delta[src[0]:src[1]] = 0
    return {name: float(delta[s:e].sum()) for name, s, e in targets}, delta


@pytest.mark.parametrize("mode", ["zeros", "gc"])
def test_run_and_export_match_hand_computed_dfim(oracle_files, tmp_path, mode):
    out = tmp_path / "r.zarr"
    table = tmp_path / "t.tsv"
    rc = main(["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
               "--elements", oracle_files["elements"], "-o", str(out), "--null", "none",
               "--method", "grad_x_input", "--mutation", mode, "--chunk-size", "4",
               "--no-progress"])
    assert rc == 0
    assert main(["export", str(out), "-o", str(table)]) == 0
    df = pd.read_csv(table, sep="\t")
    logit = _logit_fn(oracle_files["model"])
    elements = pd.read_csv(oracle_files["elements"], sep="\t")
    checked = 0
    for i, sid in enumerate(oracle_files["ids"]):
        x = oracle_files["onehot"][i]
        el = elements[elements.seq == sid]
        sources = el[el.role.isin(["source", "both"])]
        targets = el[el.role.isin(["target", "both"])]
        for _, src in sources.iterrows():
            tg = [(t.name, t.start, t.end) for t in targets.itertuples()
                  if not (t.start < src.end and src.start < t.end)]
            expected, _ = _oracle_scores(logit, x, (src.start, src.end), tg, mode)
            got = df[(df.seq_id == sid) & (df.source_name == src["name"])]
            assert sorted(got.target_name) == sorted(expected)
            for row in got.itertuples():
                assert row.score == pytest.approx(expected[row.target_name], rel=1e-4, abs=1e-5)
                checked += 1
    assert checked == 6 * 11  # self pairs and the overlapping (mid, overlap_mid) pair excluded
    # the symmetric score of a pair is the mean of its two directions, in both rows;
    # pairs whose target is never a source (role "target") have none
    both = df.merge(df, left_on=["seq_id", "source_name", "target_name"],
                    right_on=["seq_id", "target_name", "source_name"], suffixes=("", "_rev"))
    assert len(both) > 10
    np.testing.assert_allclose(both.symmetric_score, (both.score + both.score_rev) / 2,
                               rtol=1e-5, atol=1e-6)  # TSV precision
    one_way = ~df.set_index(["seq_id", "source_name", "target_name"]).index.isin(
        both.set_index(["seq_id", "source_name", "target_name"]).index)
    assert one_way.any() and df.symmetric_score[one_way].isna().all()
    # the scored output is the logit, and the prediction column holds it
    x0 = oracle_files["onehot"][0][None].astype(np.float32)
    assert df[df.seq_id == "s0"].prediction.iloc[0] == pytest.approx(
        float(logit(x0)[0, 0]), rel=1e-5)


def test_profile_mask_at_window_edges(oracle_files, tmp_path):
    out = tmp_path / "r.zarr"
    assert main(["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
                 "--elements", oracle_files["elements"], "-o", str(out), "--null", "none",
                 "--method", "grad_x_input", "--no-progress"]) == 0
    ds = open_result(out)
    logit = _logit_fn(oracle_files["model"])
    prof = ds.interaction_profile.values[..., 0]  # (seq, mutation, position)
    names = ds.mutation_name.values
    for i in range(2):
        for m, name in enumerate(names[i]):
            s, e = int(ds.mutation_start[i, m]), int(ds.mutation_end[i, m])
            _, delta = _oracle_scores(logit, oracle_files["onehot"][i], (s, e), [])
            inside = np.zeros(40, bool)
            inside[s:e] = True
            assert np.isnan(prof[i, m, inside]).all(), name
            np.testing.assert_allclose(prof[i, m, ~inside], delta.sum(-1)[~inside],
                                       rtol=1e-4, atol=1e-5)


def test_per_base_scan_matches_explicit_substitutions(oracle_files, tmp_path):
    out = tmp_path / "scan.zarr"
    table = tmp_path / "scan.tsv"
    # window [0, 4) starts at the sequence edge
    assert main(["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
                 "--scan", "0:4", "-o", str(out), "--null", "none", "--method", "grad_x_input",
                 "--no-progress"]) == 0
    assert main(["export", str(out), "-o", str(table)]) == 0
    df = pd.read_csv(table, sep="\t")
    assert "target_base" in df.columns
    logit = _logit_fn(oracle_files["model"])
    x = oracle_files["onehot"][1]
    imp0 = _grad_x_input(logit, x)
    got = df[df.seq_id == "s1"]
    assert len(got) == 4 * 3 * 3  # 4 sources x 3 alts x 3 other targets
    letters = "ACGT"
    assert (df.target_name.astype(str) == df.target_start.astype(str)).all()
    for row in got.sample(12, random_state=0).itertuples():
        xm = x.astype(np.float32).copy()
        xm[row.source_start] = 0
        xm[row.source_start, letters.index(row.source_alt)] = 1
        delta = imp0 - _grad_x_input(logit, xm)
        assert row.score == pytest.approx(float(delta[row.target_start].sum()), rel=1e-4,
                                          abs=1e-5)
        assert row.target_base == letters[x[row.target_start].argmax()]
        assert row.source_name == f"{letters[x[row.source_start].argmax()]}>{row.source_alt}"


def test_ism_on_elements_is_exact_double_mutant_epistasis(oracle_files, tmp_path):
    out = tmp_path / "ism.zarr"
    table = tmp_path / "ism.tsv"
    assert main(["run", "--model", oracle_files["model"], "--fasta", oracle_files["fasta"],
                 "--elements", oracle_files["elements"], "-o", str(out), "--null", "none",
                 "--method", "ism", "--mutation", "gc", "--no-progress"]) == 0
    assert main(["export", str(out), "-o", str(table)]) == 0
    df = pd.read_csv(table, sep="\t")
    logit = _logit_fn(oracle_files["model"])
    bg = np.array([0.27, 0.23, 0.23, 0.27], np.float32)

    def f(z):
        return float(logit(z[None].astype(np.float32))[0, 0])

    for row in df.sample(10, random_state=1).itertuples():
        x = oracle_files["onehot"][oracle_files["ids"].index(row.seq_id)].astype(np.float32)
        xa, xb = x.copy(), x.copy()
        xa[row.source_start:row.source_end] = bg
        xb[row.target_start:row.target_end] = bg
        xab = xa.copy()
        xab[row.target_start:row.target_end] = bg
        expected = f(x) - f(xa) - f(xb) + f(xab)
        assert row.score == pytest.approx(expected, rel=1e-4, abs=1e-5)
        assert row.mutant_prediction == pytest.approx(f(xa), rel=1e-5, abs=1e-6)
