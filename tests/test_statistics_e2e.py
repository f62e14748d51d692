"""p- and q-values of whole runs: no false discoveries, calibration, invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kstest

from dfimx import simulate
from dfimx.alphabet import onehot_to_strings
from dfimx.run import run_dfim
from dfimx.sequences import from_strings
from dfimx.store import open_result
from dfimx.tables import to_dataframe
from dfimx.testing import assert_p_values_agree, assert_same_to_round_off, random_onehot


def _random_elements(ids, length, rng, n_el=4, width=8):
    rows = []
    slots = np.arange(0, length - width, length // n_el)
    for sid in ids:
        for k, start in enumerate(slots[:n_el]):
            s = int(start + rng.integers(0, length // n_el - width))
            rows.append((sid, s, s + width, f"el{k}"))
    return pd.DataFrame(rows, columns=["seq", "start", "end", "name"])


def test_additive_model_gives_no_discoveries(tmp_path):
    sim = simulate.simulate_sequences(60, 200, seed=5, min_gap=14, id_prefix="add")
    model = simulate.additive_model(200)
    seqs = from_strings(sim.sequences, ids=sim.seq_ids, chunk_size=20)
    store = run_dfim(model, seqs, elements=sim.elements, progress=False,
                     output=str(tmp_path / "add.zarr"))
    df = to_dataframe(open_result(store))
    assert len(df) > 300
    assert (df.q_value < 0.05).sum() == 0
    assert df.score.abs().max() < 1e-3 * max(1.0, df.prediction.abs().max())


def _smooth_random_cnn(length: int, seed: int):
    """A random nonlinear CNN whose scores are never exactly zero (smooth activations)."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(8, 7, padding="same", activation="elu")(inp)
    h = keras.layers.AveragePooling1D(4)(h)
    h = keras.layers.Conv1D(8, 5, padding="same", activation="tanh")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(16, activation="softplus")(h)
    return keras.Model(inp, keras.layers.Dense(1)(h))


@pytest.fixture(scope="module")
def calibration_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("calib")
    model = _smooth_random_cnn(120, seed=3)
    x = random_onehot(150, 120, seed=11)
    ids = [f"r{i}" for i in range(len(x))]
    elements = _random_elements(ids, 120, np.random.default_rng(2))
    store = run_dfim(model, from_strings(onehot_to_strings(x), ids=ids, chunk_size=50),
                     elements=elements, progress=False, output=str(d / "calib.zarr"),
                     null_draws=8)
    return to_dataframe(open_result(store)), x, ids, elements, model


def test_random_cnn_on_iid_sequences_is_calibrated(calibration_run):
    df, *_ = calibration_run
    p = df.p_value.to_numpy()
    assert len(p) > 1000
    assert kstest(p, "uniform").pvalue > 0.01
    for alpha in (0.01, 0.05, 0.1):
        assert (p <= alpha).mean() <= alpha * 1.5 + 0.01
    assert (df.q_value < 0.05).mean() <= 0.05


def test_random_cnn_p_values_are_valid_from_001_to_05(calibration_run):
    """P(p <= alpha) <= alpha within binomial error (validity, not a uniformity fit)."""
    df, *_ = calibration_run
    p = df.p_value.to_numpy()
    for alpha in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5):
        assert (p <= alpha).mean() <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / len(p)), alpha


def test_p_and_q_values_do_not_depend_on_chunks_or_workers(calibration_run, tmp_path):
    df, x, ids, elements, model = calibration_run
    store = run_dfim(model, from_strings(onehot_to_strings(x), ids=ids, chunk_size=37),
                     elements=elements, progress=False, output=str(tmp_path / "c2.zarr"),
                     null_draws=8)
    other = to_dataframe(open_result(store))
    # scores agree to float32 round-off (TensorFlow's kernels may change a row's last bits
    # with its place in a model batch); p- and q-values change only where a score ties a
    # null score within that round-off
    for col in ("score", "symmetric_score"):
        assert_same_to_round_off(other[col].to_numpy(), df[col].to_numpy(), rtol=1e-3,
                                 name=col)  # scores: differences of ~100x larger importances
    for col in ("p_value", "q_value", "symmetric_p_value", "symmetric_q_value"):
        assert_p_values_agree(other[col].to_numpy(), df[col].to_numpy(), name=col)


def test_export_writes_the_pair_summary_beside_the_table(calibration_run, tmp_path):
    from dfimx.cli import main
    from dfimx.stats import pair_summary

    df, x, ids, elements, model = calibration_run
    store = run_dfim(model, from_strings(onehot_to_strings(x[:40]), ids=ids[:40]),
                     elements=elements[elements.seq.isin(ids[:40])], progress=False,
                     output=str(tmp_path / "s.zarr"), null_draws=4)
    assert main(["export", store, "-o", str(tmp_path / "t.tsv")]) == 0
    written = pd.read_csv(tmp_path / "t.pair_summary.tsv", sep="\t")
    expected = pair_summary(open_result(store))
    assert len(written) == len(expected) == 12  # 4 x 3 ordered pairs of element names
    merged = written.merge(expected, on=["source_name", "target_name", "task"])
    np.testing.assert_allclose(merged.n_tests_x, merged.n_tests_y)
    np.testing.assert_allclose(merged.fraction_significant_x, merged.fraction_significant_y,
                               atol=1e-6)
    # the symmetric columns summarise the symmetric score, the same for both directions
    sym = pair_summary(open_result(store), score="symmetric_score",
                       q_value="symmetric_q_value")
    merged = written.merge(sym, on=["source_name", "target_name", "task"])
    np.testing.assert_allclose(merged.fraction_symmetric_significant,
                               merged.fraction_significant_y, atol=1e-6)
    np.testing.assert_allclose(merged.median_symmetric_score, merged.median_score_y,
                               rtol=1e-5)
    pairs = written.set_index(["source_name", "target_name"]).median_symmetric_score
    for (a, b), value in pairs.items():
        assert value == pytest.approx(pairs[(b, a)], rel=1e-5)
