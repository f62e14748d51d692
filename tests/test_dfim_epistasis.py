"""Exact double-mutant epistasis against values computed by hand with numpy."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dfimx.dfim.epistasis import double_mutant_epistasis
from dfimx.errors import InputError
from dfimx.models import build_scorer

L = 12


def _model(seed=0):
    inp = keras.Input((L, 4))
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inp))
    out = keras.layers.Dense(2)(h)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 1, w.shape) for w in layer.get_weights()])
    return model


def _f(model, x):
    (w1, b1), (w2, b2) = model.layers[2].get_weights(), model.layers[3].get_weights()
    h = np.maximum(x.reshape(-1) @ w1 + b1, 0)
    return h @ w2 + b2


def _replace(x, start, end, row):
    y = x.copy()
    y[start:end] = row
    return y


@pytest.mark.parametrize("replacement,row", [("zeros", np.zeros(4)),
                                             ("gc", np.array([0.27, 0.23, 0.23, 0.27]))])
def test_against_hand_computed(replacement, row):
    model = _model()
    X = np.eye(4, dtype="float32")[np.random.default_rng(3).integers(0, 4, (2, L))]
    ss = np.array([[0, 5], [2, 0]])
    se = np.array([[3, 7], [4, 0]])
    smask = np.array([[True, True], [True, False]])
    ts = np.array([[4, 8, 1], [6, 3, 0]])
    te = np.array([[6, 12, 2], [9, 5, 0]])
    tmask = np.array([[True, True, True], [True, True, False]])
    got = double_mutant_epistasis(build_scorer(model), X, ss, se, ts, te, source_mask=smask,
                                  target_mask=tmask, replacement=replacement)
    assert got.shape == (2, 2, 3, 2)
    for n in range(2):
        for m in range(2):
            for r in range(3):
                a, b = (ss[n, m], se[n, m]), (ts[n, r], te[n, r])
                overlap = max(a[0], b[0]) < min(a[1], b[1])
                if not (smask[n, m] and tmask[n, r]) or overlap:
                    assert np.isnan(got[n, m, r]).all()
                    continue
                x = X[n]
                xa, xb = _replace(x, *a, row), _replace(x, *b, row)
                xab = _replace(xa, *b, row)
                expected = _f(model, x) - _f(model, xa) - _f(model, xb) + _f(model, xab)
                np.testing.assert_allclose(got[n, m, r], expected, atol=1e-4)
    assert np.isnan(got[0, 1, 0]).all()  # [5, 7) overlaps [4, 6)
    assert np.nanmax(np.abs(got)) > 1e-2  # the check is not vacuous
    over = double_mutant_epistasis(model, X[:1], [[2]], [[5]], [[4]], [[6]])
    assert np.isnan(over).all()


def test_additive_model_has_zero_epistasis():
    inp = keras.Input((L, 4))
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(inp)))
    X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (3, L))]
    e = double_mutant_epistasis(model, X, np.zeros((3, 1)), np.full((3, 1), 4),
                                np.full((3, 1), 6), np.full((3, 1), 10), batch_size=2)
    np.testing.assert_allclose(e, 0, atol=1e-5)


def test_bad_intervals_raise():
    X = np.zeros((1, L, 4), np.float32)
    with pytest.raises(InputError, match="outside"):
        double_mutant_epistasis(_model(), X, [[0]], [[L + 1]], [[0]], [[1]])
    with pytest.raises(InputError, match="replacement"):
        double_mutant_epistasis(_model(), X, [[0]], [[1]], [[2]], [[3]], replacement="shuffle")


@pytest.mark.parametrize("replacement", ["gc", "zeros"])
def test_fast_epistasis_equals_full_forward_passes(replacement):
    """Fast ISM for element pairs: each replacement recomputes only the positions it
    reaches; the numbers equal full forward passes of the double mutants."""
    from dfimx.testing import random_onehot, randomize_weights

    length = 80
    inp = keras.Input((length, 4))
    h = keras.layers.Conv1D(6, 5, padding="same", activation="relu")(inp)
    for d in (2, 4):
        c = keras.layers.Conv1D(6, 3, dilation_rate=d, padding="same", activation="relu")(h)
        h = keras.layers.Add()([h, c])
    h = keras.layers.GlobalAveragePooling1D()(h)
    scorer = build_scorer(randomize_weights(keras.Model(inp, keras.layers.Dense(1)(h)), 3))
    X = random_onehot(3, length, seed=5).astype(np.float32)
    ss, se = np.array([[0, 30, 70]] * 3), np.array([[6, 38, 80]] * 3)  # both ends, middle
    ts, te = np.array([[10, 40, 72]] * 3), np.array([[20, 52, 76]] * 3)
    mask = np.array([[True, True, True], [True, False, True], [True, True, True]])
    kw = dict(source_mask=mask, replacement=replacement, batch_size=32)
    fast = double_mutant_epistasis(scorer, X, ss, se, ts, te, **kw)
    naive = double_mutant_epistasis(scorer, X, ss, se, ts, te, fast=False, **kw)
    assert np.isnan(fast[1, 1]).all() and np.isnan(naive[1, 1]).all()
    scale = np.nanmax(np.abs(scorer.predict(X)))
    np.testing.assert_allclose(fast, naive, rtol=0, atol=2e-6 * scale, equal_nan=True)
    assert np.nanmax(np.abs(naive)) > 1e-4  # a nonlinear model: some epistasis to match
