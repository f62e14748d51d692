"""Tiny models of dfimx.simulate.models: the A-and-B CNN, training, an additive model and
random CNNs."""

from __future__ import annotations

import numpy as np
import pytest

from dfimx.io.meme import default_motifs_path, read_meme
from dfimx.simulate import (
    CLASSES,
    additive_model,
    auroc,
    build_cnn,
    cached_demo_model,
    evaluate,
    random_cnn,
    save_model,
    simulate,
    simulate_sequences,
    train_model,
)


def test_auroc():
    assert auroc(np.array([0, 1]), np.array([0.0, 1.0])) == 1.0
    assert auroc(np.array([0, 1, 0, 1]), np.ones(4)) == 0.5
    assert np.isnan(auroc(np.array([1, 1]), np.array([0.1, 0.2])))


def _logit(model, x: np.ndarray) -> np.ndarray:
    """Pre-activation of the output layer, computed from the layer below it."""
    import keras

    last = model.layers[-1]
    below = keras.Model(model.inputs, last.input)
    kernel, bias = last.get_weights()
    return below.predict(x, verbose=0) @ kernel + bias


@pytest.fixture(scope="module")
def trained(demo_training):
    """``train_model(simulate_sequences(n=4000, seed=0), seed=0)`` and its training seconds:
    the session's demo model, trained with exactly these settings."""
    from dfimx.simulate import DEMO_SETTINGS

    assert DEMO_SETTINGS == {"n": 4000, "length": 200, "seed": 0, "epochs": 15}
    model, seconds, _ = demo_training
    return model, seconds


def test_trained_model_learns_the_and_rule(trained):
    model, seconds = trained
    assert seconds < 60
    assert model.layers[-1].name == "AandB"
    # a regression of the label: the AND must live in the network, not in a sigmoid
    assert model.layers[-1].activation.__name__ == "linear"
    assert model.output_shape == (None, 1)
    test = simulate_sequences(n=1000, seed=1, id_prefix="heldout")
    metrics = evaluate(model, test)
    assert metrics["auroc"] > 0.93, metrics
    assert metrics["accuracy"] > 0.85, metrics
    p = model.predict(test.onehot.astype(np.float32), verbose=0)[:, 0]
    means = {c: p[test.classes == c].mean() for c in CLASSES}
    assert means["AB"] > 0.7 and max(means["A"], means["B"], means["none"]) < 0.35, means


def _knockouts(x: np.ndarray, a: tuple[int, int], b: tuple[int, int], fill) -> np.ndarray:
    """x, x with a replaced, x with b replaced, x with both replaced: (4, L, 4)."""
    fa, fb = fill(a), fill(b)
    out = np.stack([x, x, x, x]).astype(np.float32)
    out[[1, 3], a[0] : a[1]] = fa
    out[[2, 3], b[0] : b[1]] = fb
    return out


def _epistasis(f: np.ndarray) -> np.ndarray:
    """Double-mutant epistasis from outputs laid out as in :func:`_knockouts`."""
    f = np.asarray(f, dtype=np.float64).reshape(-1, 4)
    return f[:, 0] - f[:, 1] - f[:, 2] + f[:, 3]


def test_trained_model_has_pair_epistasis(trained):
    model, _ = trained
    test = simulate_sequences(n=60, seed=3, id_prefix="epi", class_fractions={"AB": 1})
    batch = []
    for i, sid in enumerate(test.seq_ids):
        el = test.elements[test.elements["seq"] == sid]
        a, b, d = (el[el["kind"] == k].iloc[0] for k in ("A", "B", "decoy"))
        for other in (b, d):
            batch.append(
                _knockouts(test.onehot[i], (a.start, a.end), (other.start, other.end),
                           lambda e: 0.0)
            )
    epi = _epistasis(_logit(model, np.concatenate(batch))).reshape(-1, 2)
    pair_epi, decoy_epi = epi[:, 0], epi[:, 1]
    # the output is a regression of the 0/1 label: exact AND epistasis would be 1
    assert np.median(pair_epi) > 0.7
    assert np.median(pair_epi) > 4 * np.median(np.abs(decoy_epi))


def test_training_is_deterministic():
    s = simulate_sequences(n=100, length=100, seed=4)
    w1 = train_model(s, epochs=2, seed=3).get_weights()
    w2 = train_model(s, epochs=2, seed=3).get_weights()
    for u, v in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(u, v)
    w3 = train_model(s, epochs=2, seed=4).get_weights()
    assert not all(np.array_equal(u, v) for u, v in zip(w1, w3, strict=True))


def test_simulate_and_save_roundtrip(tmp_path):
    import keras

    s, model = simulate(n=200, length=100, seed=1, epochs=1)
    assert len(s) == 200 and model is not None
    path = save_model(model, tmp_path / "sub" / "m.keras")
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    x = s.onehot[:8].astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert not list((tmp_path / "sub").glob(".*tmp*"))
    with pytest.raises(ValueError, match=r"\.keras"):
        save_model(model, tmp_path / "m.h5")


def test_cached_demo_model(tmp_path):
    path = tmp_path / "demo" / "model.keras"
    m1 = cached_demo_model(path, n=120, length=100, epochs=1)
    assert path.exists() and path.with_name("model.keras.json").exists()
    stamp = path.stat().st_mtime_ns
    m2 = cached_demo_model(path, n=120, length=100, epochs=1)
    assert path.stat().st_mtime_ns == stamp
    x = simulate_sequences(n=4, length=100).onehot.astype(np.float32)
    np.testing.assert_allclose(m1.predict(x, verbose=0), m2.predict(x, verbose=0), atol=1e-6)
    cached_demo_model(path, n=120, length=100, epochs=1, seed=1)
    assert path.stat().st_mtime_ns != stamp


def test_additive_model_has_no_interactions():
    s = simulate_sequences(n=40, length=200, seed=8, n_decoys=2)
    model = additive_model(200)
    assert model.layers[-1].activation.__name__ == "linear"
    width = model.get_layer("pwm_scan").kernel_size[0]
    rng = np.random.default_rng(0)
    fills = [
        lambda e: 0.0,
        lambda e: np.eye(4, dtype=np.float32)[rng.integers(0, 4, e[1] - e[0])],
    ]
    batch = []
    for i, sid in enumerate(s.seq_ids):
        el = s.elements[s.elements["seq"] == sid].sort_values("start")
        iv = list(zip(el["start"], el["end"], strict=True))
        for a, b in zip(iv[:-1], iv[1:], strict=True):
            if b[0] - a[1] >= width - 1:
                batch.extend(_knockouts(s.onehot[i], a, b, fill) for fill in fills)
    assert len(batch) >= 40
    f = model.predict(np.concatenate(batch), verbose=0)[:, 0].astype(np.float64)
    epi = _epistasis(f)
    main = np.abs(f.reshape(-1, 4)[:, 0] - f.reshape(-1, 4)[:, 1])
    assert np.median(main) > 1.0
    np.testing.assert_allclose(epi, 0.0, atol=1e-5 * max(1.0, np.abs(f).max()))
    # two halves of one planted site share windows: the check has power
    el = s.elements.iloc[0]
    x = s.onehot[s.seq_ids.index(el.seq)]
    a, b = (int(el.start), int(el.start) + 4), (int(el.start) + 5, int(el.end))
    close = model.predict(_knockouts(x, a, b, fills[0]), verbose=0)
    assert abs(_epistasis(close)[0]) > 1.0


def test_additive_model_options():
    pwms = read_meme(default_motifs_path())
    m = additive_model(100, pwms, names=["GATA_like", "TAL1_like"], weights=[2.0, -1.0],
                       both_strands=False, output_activation="sigmoid", output_name="add")
    assert m.get_layer("pwm_scan").filters == 2
    assert m.layers[-1].name == "add"
    with pytest.raises(ValueError, match="not in the motif set"):
        additive_model(100, names=["nope"])
    with pytest.raises(ValueError, match="fixed input length"):
        additive_model(None)


def test_random_cnn_is_deterministic_and_nonlinear():
    a, b = random_cnn(120, seed=3), random_cnn(120, seed=3)
    for u, v in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(u, v)
    c = random_cnn(120, seed=4)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    x = simulate_sequences(n=1, length=120, seed=0).onehot[0]
    batch = [_knockouts(x, (p, p + 4), (p + 5, p + 9), lambda e: 0.0) for p in range(0, 100, 10)]
    epi = _epistasis(a.predict(np.concatenate(batch), verbose=0))
    assert np.abs(epi).max() > 1e-4
    assert random_cnn(50, n_tasks=2).output_shape == (None, 2)


def test_build_cnn_any_length():
    m = build_cnn(None, output_name="out")
    assert m.predict(np.zeros((2, 77, 4), np.float32), verbose=0).shape == (2, 1)
