"""In-silico mutagenesis against explicit mutants."""

from __future__ import annotations

import keras
import numpy as np

from dfimx import attribution as A
from dfimx.models import build_scorer
from dfimx.testing import random_onehot, randomize_weights

L = 24


def test_ism_against_explicit_mutants():
    model = randomize_weights(keras.Sequential([
        keras.Input((L, 4)), keras.layers.Conv1D(4, 5, activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(2)]), 0, scale=0.5)
    scorer = build_scorer(model)
    X = random_onehot(2, L).astype(np.float32)
    X[1, 5] = 0  # an N position
    got = A.ism(scorer, X, batch_size=17)
    f0 = scorer.predict(X)
    for n, pos, base in [(0, 0, 2), (0, 11, 3), (1, 5, 0), (1, 23, 1)]:
        mut = X[n].copy()
        mut[pos] = np.eye(4)[base]
        np.testing.assert_allclose(got[n, pos, base], f0[n] - scorer.predict(mut[None])[0],
                                   atol=1e-5)
    assert np.all(got[X == 1] == 0)
    assert np.all(got[1, 5] != 0)


def _dilated_net(length: int, head: str = "gap"):
    """A small BPNet-like tower: a wide convolution, dilated residual convolutions, and a
    global-pooling or pooled-flatten head."""
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(6, 7, padding="same", activation="relu")(inp)
    for d in (1, 2, 4):
        c = keras.layers.Conv1D(6, 3, dilation_rate=d, padding="same", activation="relu")(h)
        h = keras.layers.Add()([h, c])
    if head == "gap":
        h = keras.layers.GlobalAveragePooling1D()(h)
    elif head == "pool":
        h = keras.layers.MaxPooling1D(3)(h)
        h = keras.layers.Conv1D(4, 4, padding="valid", activation="relu")(h)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.Flatten()(h)
    else:  # causal convolutions, then a global max
        h = keras.layers.Conv1D(4, 5, padding="causal", activation="relu")(h)
        h = keras.layers.GlobalMaxPooling1D()(h)
    return randomize_weights(keras.Model(inp, keras.layers.Dense(2)(h)), 1, scale=0.5)


def test_fast_ism_equals_naive_ism_on_dilated_convolutions():
    from dfimx.attribution.mutagenesis import conv_split

    length = 90
    X = random_onehot(3, length, seed=4).astype(np.float32)
    X[1, 3] = 0  # an N near the left end
    X[2, length - 2] = 0  # and one near the right end
    for head, reach in (("gap", (-10, 10, 1)), ("pool", (-10, 21, 3)), ("causal", (-14, 10, 1))):
        scorer = build_scorer(_dilated_net(length, head))
        split = conv_split(scorer, length)
        assert split.ok and (split.lo, split.hi, split.stride) == reach, (head, split.why)
        # stride-1 towers run each interior edit's cone unpadded; the pooled one cannot
        assert (split.cone is not None) == (head != "pool"), head
        fast = A.ism(scorer, X, batch_size=70)
        naive = A.ism(scorer, X, batch_size=70, fast=False)
        assert np.abs(naive).max() > 1e-3
        # float32 round-off of the outputs the ISM values are differences of
        scale = np.abs(scorer.predict(X)).max()
        np.testing.assert_allclose(fast, naive, rtol=0, atol=2e-6 * scale, err_msg=head)


def test_fast_ism_falls_back_where_the_model_has_no_convolutional_trunk():
    from dfimx.attribution.mutagenesis import conv_split

    model = randomize_weights(keras.Sequential([
        keras.Input((L, 4)), keras.layers.Flatten(), keras.layers.Dense(3, activation="relu"),
        keras.layers.Dense(1)]), 2)
    scorer = build_scorer(model)
    assert not conv_split(scorer, L).ok
    X = random_onehot(2, L, seed=1).astype(np.float32)
    np.testing.assert_allclose(A.ism(scorer, X), A.ism(scorer, X, fast=False), atol=1e-6)


def test_ism_never_evaluates_the_observed_base(monkeypatch):
    from dfimx.attribution import mutagenesis

    rows = []
    real = mutagenesis.predict_edits

    def counting(scorer, X, seq_index, mutants, *a, **k):
        rows.append(len(mutants))
        return real(scorer, X, seq_index, mutants, *a, **k)

    monkeypatch.setattr(mutagenesis, "predict_edits", counting)
    model = randomize_weights(keras.Sequential([
        keras.Input((L, 4)), keras.layers.Conv1D(3, 5, activation="relu"),
        keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)]), 0)
    X = random_onehot(2, L).astype(np.float32)
    X[1, 4] = 0  # an N: all four bases are substitutions
    out = mutagenesis.ism(build_scorer(model), X)
    assert sum(rows) == 2 * 3 * L + 1
    assert np.all(out[X == 1] == 0)


def test_fast_ism_with_strided_pooling_and_a_ragged_end():
    """Total stride 8 and lengths that are not a multiple of it: the crops at the right
    end stay aligned and reach the end of the sequence."""
    for length in (97, 99):
        inp = keras.Input((length, 4))
        h = keras.layers.Conv1D(5, 5, padding="same", activation="relu")(inp)
        h = keras.layers.MaxPooling1D(4)(h)
        h = keras.layers.Conv1D(4, 3, padding="same", activation="relu")(h)
        h = keras.layers.AveragePooling1D(2)(h)
        out = keras.layers.Dense(1)(keras.layers.Flatten()(h))
        scorer = build_scorer(randomize_weights(keras.Model(inp, out), 0))
        X = random_onehot(2, length, seed=length).astype(np.float32)
        scale = np.abs(scorer.predict(X)).max()
        np.testing.assert_allclose(A.ism(scorer, X), A.ism(scorer, X, fast=False), rtol=0,
                                   atol=2e-6 * scale)


def test_fast_ism_cone_on_valid_padded_convolutions_and_element_edits():
    """Unpadded (valid) convolutions shorten the trunk; edits of several bases and two
    intervals per row (double-mutant epistasis) take the cone where it fits and the padded
    crop near the ends, and equal full passes."""
    from dfimx.attribution.mutagenesis import conv_split, predict_edits

    length = 80
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(5, 9, padding="valid", activation="relu")(inp)
    c = keras.layers.Conv1D(5, 3, dilation_rate=3, padding="same", activation="relu")(h)
    h = keras.layers.Add()([h, c])
    h = keras.layers.Conv1D(4, 5, padding="valid", activation="relu")(h)
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(h))
    scorer = build_scorer(randomize_weights(keras.Model(inp, out), 3, scale=0.5))
    split = conv_split(scorer, length)
    assert split.ok and split.cone is not None
    X = random_onehot(2, length, seed=7).astype(np.float32)
    rng = np.random.default_rng(0)
    starts = np.stack([rng.integers(0, length - 6, 40), rng.integers(0, length - 3, 40)], 1)
    ends = starts + np.array([[6, 3]])
    seq = rng.integers(0, 2, 40)
    mutants = X[seq].copy()
    for b in range(40):
        for k in range(2):
            mutants[b, starts[b, k]:ends[b, k]] = np.eye(4, dtype=np.float32)[
                rng.integers(0, 4, ends[b, k] - starts[b, k])]
    assert (starts[:, 0] < split.cone.q_min).any()  # some edits take the padded crop
    got = predict_edits(scorer, X, seq, mutants, starts, ends, batch_size=16)
    want = scorer.predict(mutants)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * np.abs(want).max())
