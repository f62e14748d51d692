from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from dfimx.alphabet import BASES
from dfimx.motifs import default_motifs_path, pwm_log_odds, read_meme, write_meme
from dfimx.simulate import (
    CLASSES,
    DEFAULT_CLASS_FRACTIONS,
    Simulation,
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

KINDS = {"AB": {"A", "B"}, "A": {"A"}, "B": {"B"}, "none": set()}


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate_sequences(n=300, length=200, seed=5)


def _window_scores(onehot: np.ndarray, weights: np.ndarray) -> np.ndarray:
    w = len(weights)
    win = np.lib.stride_tricks.sliding_window_view(onehot.astype(float), (w, 4), axis=(1, 2))
    return np.einsum("npwb,wb->np", win[:, :, 0], weights)


def test_shapes_and_types(sim):
    assert isinstance(sim, Simulation)
    assert sim.onehot.shape == (300, 200, 4) and sim.onehot.dtype == np.uint8
    assert (sim.onehot.sum(axis=-1) == 1).all()
    assert sim.seq_ids[:3] == ["sim0000", "sim0001", "sim0002"]
    assert len(set(sim.seq_ids)) == len(sim) == 300
    assert sim.labels.shape == (300,) and sim.labels.dtype == np.int64
    assert sim.classes.shape == (300,) and set(sim.classes) <= set(CLASSES)
    assert sim.true_pair_names == ("GATA_like", "TAL1_like")
    assert "GATA_like" not in sim.decoy_names and len(sim.decoy_names) >= 4
    el = sim.elements
    assert list(el.columns[:5]) == ["seq", "start", "end", "name", "role"]
    assert {"kind", "is_pair_member", "strand", "site"} <= set(el.columns)
    assert el["start"].dtype == np.int64 and el["end"].dtype == np.int64
    assert el["is_pair_member"].dtype == bool
    assert (el["role"] == "both").all()
    assert (el["is_pair_member"] == el["kind"].isin(["A", "B"])).all()
    assert (el.loc[el["kind"] == "A", "name"] == "GATA_like").all()
    assert (el.loc[el["kind"] == "B", "name"] == "TAL1_like").all()
    assert set(el.loc[el["kind"] == "decoy", "name"]) <= set(sim.decoy_names)
    assert len(sim.sequences) == 300 and set("".join(sim.sequences)) <= set(BASES)


def test_planted_sites_are_at_recorded_coordinates(sim):
    seqs = dict(zip(sim.seq_ids, sim.sequences, strict=True))
    index = {s: i for i, s in enumerate(sim.seq_ids)}
    rng = np.random.default_rng(0)
    rel, background = [], []
    for row in sim.elements.itertuples():
        assert 0 <= row.start < row.end <= sim.length
        pwm = sim.motifs[row.name]
        assert row.end - row.start == len(pwm)
        assert seqs[row.seq][row.start : row.end] == row.site
        lo = pwm_log_odds(pwm)
        best = lo.max(axis=1).sum()
        x = sim.onehot[index[row.seq]]
        rel.append((x[row.start : row.end] * lo).sum() / best)
        start = int(rng.integers(0, sim.length - len(pwm)))
        background.append((x[start : start + len(pwm)] * lo).sum() / best)
    rel, background = np.array(rel), np.array(background)
    # planted sites score near the consensus; random windows score below zero
    assert np.median(rel) > 0.8 and (rel > 0.3).mean() > 0.97
    assert np.median(background) < 0 and (background > 0.3).mean() < 0.03


def test_sites_follow_the_pwm(sim):
    el = sim.elements[sim.elements["name"] == "TAL1_like"]
    sites = np.array([[BASES.index(c) for c in s] for s in el["site"]])
    freq = np.stack([(sites == b).mean(axis=0) for b in range(4)], axis=1)
    np.testing.assert_allclose(freq, sim.motifs["TAL1_like"], atol=0.1)


def test_elements_do_not_overlap(sim):
    for _, group in sim.elements.groupby("seq"):
        g = group.sort_values("start")
        assert (g["start"].to_numpy()[1:] >= g["end"].to_numpy()[:-1] + 1).all()
        assert g["name"].is_unique


def test_classes_and_labels_consistent(sim):
    assert ((sim.classes == "AB") == (sim.labels == 1)).all()
    kinds = sim.elements.groupby("seq")["kind"].agg(lambda k: set(k) - {"decoy"})
    n_decoys = sim.elements[sim.elements["kind"] == "decoy"].groupby("seq").size()
    for sid, cls in zip(sim.seq_ids, sim.classes, strict=True):
        assert kinds.get(sid, set()) == KINDS[cls]
        assert 1 <= n_decoys.get(sid, 0) <= 2
    counts = pd.Series(sim.classes).value_counts()
    for cls, frac in DEFAULT_CLASS_FRACTIONS.items():
        assert counts[cls] == round(300 * frac)


def test_class_fractions_and_decoy_options():
    s = simulate_sequences(
        n=7, length=150, seed=1, class_fractions={"AB": 1, "none": 1}, n_decoys=0
    )
    assert set(s.classes) == {"AB", "none"}
    assert sorted(pd.Series(s.classes).value_counts().tolist()) == [3, 4]
    assert set(s.elements["kind"]) <= {"A", "B"}
    s = simulate_sequences(n=5, length=200, n_decoys=3, decoys=["SP1_like", "AP1_like", "ETS_like"])
    dec = s.elements[s.elements["kind"] == "decoy"]
    assert dec.groupby("seq").size().eq(3).all()
    assert set(dec["name"]) == {"SP1_like", "AP1_like", "ETS_like"}
    empty = simulate_sequences(n=0, length=100)
    assert empty.onehot.shape == (0, 100, 4) and len(empty.elements) == 0


def test_seeded_determinism():
    a = simulate_sequences(n=40, length=120, seed=11)
    b = simulate_sequences(n=40, length=120, seed=11)
    np.testing.assert_array_equal(a.onehot, b.onehot)
    np.testing.assert_array_equal(a.classes, b.classes)
    pd.testing.assert_frame_equal(a.elements, b.elements)
    c = simulate_sequences(n=40, length=120, seed=12)
    assert not np.array_equal(a.onehot, c.onehot)
    d = simulate_sequences(n=40, length=120, seed=11, id_prefix="test")
    assert d.seq_ids[0] == "test0000"
    assert not np.array_equal(a.onehot, d.onehot)


def test_gc_and_revcomp():
    s = simulate_sequences(n=50, length=300, seed=2, gc=0.7, revcomp=1.0, n_decoys=0)
    mask = np.ones(s.onehot.shape[:2], bool)
    index = {sid: i for i, sid in enumerate(s.seq_ids)}
    for row in s.elements.itertuples():
        mask[index[row.seq], row.start : row.end] = False
    bg = s.onehot[mask]
    assert abs(bg[:, 1:3].sum() / len(bg) - 0.7) < 0.03
    assert (s.elements["strand"] == "-").all()
    comp = str.maketrans("ACGT", "TGCA")
    plus, minus = [], []
    for row in s.elements.itertuples():
        lo = pwm_log_odds(s.motifs[row.name])
        site = np.eye(4)[[BASES.index(c) for c in row.site]]
        rc = np.eye(4)[[BASES.index(c) for c in row.site.translate(comp)[::-1]]]
        plus.append((site * lo).sum() / lo.max(axis=1).sum())
        minus.append((rc * lo).sum() / lo.max(axis=1).sum())
    assert np.median(minus) > 0.8 and np.median(plus) < 0.2


def test_custom_motifs_and_errors(tmp_path):
    pwms = {"X": np.eye(4)[[0, 0, 0, 0, 0, 0]], "Y": np.eye(4)[[2] * 6], "Z": np.full((6, 4), 0.25)}
    path = write_meme(pwms, tmp_path / "m.meme")
    s = simulate_sequences(n=10, length=60, motifs=path)
    assert s.true_pair_names == ("X", "Y") and s.decoy_names == ("Z",)
    assert set(s.elements.loc[s.elements["name"] == "X", "site"]) == {"AAAAAA"}
    s2 = simulate_sequences(n=10, length=60, motifs=pwms, pair=("Y", "Z"), decoys=["X"])
    assert s2.true_pair_names == ("Y", "Z")
    with pytest.raises(ValueError, match="too short"):
        simulate_sequences(n=2, length=20)
    with pytest.raises(ValueError, match="not in the motif set"):
        simulate_sequences(n=2, pair=("GATA_like", "nope"))
    with pytest.raises(ValueError, match="must differ"):
        simulate_sequences(n=2, pair=("GATA_like", "GATA_like"))
    with pytest.raises(ValueError, match="decoy cannot"):
        simulate_sequences(n=2, decoys=["GATA_like"])
    with pytest.raises(ValueError, match="unknown class"):
        simulate_sequences(n=2, class_fractions={"C": 1.0})
    with pytest.raises(ValueError, match="gc"):
        simulate_sequences(n=2, gc=1.5)


def test_writers(sim, tmp_path):
    fa = sim.subset(slice(0, 5)).to_fasta(tmp_path / "s.fa", line_width=60)
    lines = fa.read_text().splitlines()
    assert lines[0] == ">sim0000" and len(lines[1]) == 60
    records, cur = {}, None
    for line in lines:
        if line.startswith(">"):
            cur = line[1:]
            records[cur] = ""
        else:
            records[cur] += line
    assert records == dict(zip(sim.seq_ids[:5], sim.sequences[:5], strict=True))
    tsv = pd.read_csv(sim.elements_tsv(tmp_path / "e.tsv"), sep="\t")
    assert list(tsv.columns) == ["seq", "start", "end", "name", "role"]
    pd.testing.assert_frame_equal(tsv, sim.elements[list(tsv.columns)])
    files = sim.save(tmp_path / "out")
    labels = pd.read_csv(files["labels"], sep="\t")
    assert labels["label"].tolist() == sim.labels.tolist()
    full = pd.read_csv(files["elements"], sep="\t")
    assert list(full.columns) == list(sim.elements.columns)


def test_subset(sim):
    sub = sim.subset([5, 2])
    assert sub.seq_ids == [sim.seq_ids[5], sim.seq_ids[2]]
    np.testing.assert_array_equal(sub.onehot[1], sim.onehot[2])
    assert list(dict.fromkeys(sub.elements["seq"])) == sub.seq_ids


def test_to_dataset(sim):
    from dfimx import variables

    ds = sim.to_dataset()
    variables.validate(ds, "seq_id", "seq_onehot")
    assert ds["seq_id"].values.tolist() == sim.seq_ids
    assert ds.attrs["simulation_pair"] == ["GATA_like", "TAL1_like"]


def test_auroc():
    assert auroc(np.array([0, 1]), np.array([0.0, 1.0])) == 1.0
    assert auroc(np.array([0, 1, 0, 1]), np.ones(4)) == 0.5
    assert np.isnan(auroc(np.array([1, 1]), np.array([0.1, 0.2])))


# ------------------------------------------------------------------ models


def _logit(model, x: np.ndarray) -> np.ndarray:
    """Pre-activation of the output layer, computed from the layer below it."""
    import keras

    last = model.layers[-1]
    below = keras.Model(model.inputs, last.input)
    kernel, bias = last.get_weights()
    return below.predict(x, verbose=0) @ kernel + bias


@pytest.fixture(scope="module")
def trained():
    train = simulate_sequences(n=4000, seed=0)
    t0 = time.perf_counter()
    model = train_model(train, seed=0)
    return model, time.perf_counter() - t0


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
