"""Gradient methods: integrated gradients (completeness, expected IG) and guided backprop."""

from __future__ import annotations

import keras
import numpy as np

from dfimx import attribution as A
from dfimx.models import build_scorer
from dfimx.testing import random_onehot, randomize_weights

L = 24


def _sequential(*layers):
    return randomize_weights(keras.Sequential([keras.Input((L, 4)), *layers]), 0, scale=0.5)


def test_integrated_gradients_completeness_and_expected_form():
    model = _sequential(keras.layers.Conv1D(4, 5, activation="tanh"), keras.layers.Flatten(),
                        keras.layers.Dense(2))
    scorer = build_scorer(model)
    X = random_onehot(3, L).astype(np.float32)
    refs = A.make_references(X, "dinuc", n_references=2)
    ig = A.integrated_gradients(scorer, X, refs, steps=128)
    fr = np.mean([scorer.predict(refs[:, k]) for k in range(2)], axis=0)
    np.testing.assert_allclose(ig.sum(axis=(1, 2)), scorer.predict(X) - fr, atol=2e-3)
    assert A.last_summation_delta_violation() < 1e-2
    single = [A.integrated_gradients(scorer, X, refs[:, k], steps=128) for k in range(2)]
    np.testing.assert_allclose(ig, np.mean(single, axis=0), atol=1e-6)


def test_guided_backprop_by_hand():
    model = _sequential(keras.layers.Flatten(), keras.layers.Dense(6, activation="relu"),
                        keras.layers.Dense(1))
    w1, b1 = model.layers[1].get_weights()
    w2, _ = model.layers[2].get_weights()
    X = random_onehot(4, L).astype(np.float32)
    h = X.reshape(4, -1) @ w1 + b1
    expected = ((h > 0) * np.maximum(w2[:, 0], 0)[None]) @ w1.T
    got = A.attribute(model, X, method="guided_backprop").reshape(4, -1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
