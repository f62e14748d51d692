"""Modified backward rules: unsupported layers are refused, linear Lambda layers accepted."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dfimx import attribution as A
from dfimx.errors import InputError
from dfimx.models import build_scorer
from dfimx.testing import random_onehot, randomize_weights

L = 24


def _seq(*layers):
    return randomize_weights(keras.Sequential([keras.Input((L, 4)), *layers]), 0, scale=0.5)


def _head():
    return [keras.layers.Flatten(), keras.layers.Dense(2)]


@pytest.mark.parametrize(
    "layer",
    [keras.layers.LayerNormalization(), keras.layers.LSTM(3, return_sequences=True),
     keras.layers.Lambda(lambda v: v * v), keras.layers.Activation(lambda v: v * v)],
    ids=["layernorm", "lstm", "lambda-square", "custom-activation"],
)
@pytest.mark.parametrize("method", ["deeplift", "guided_backprop"])
def test_unsupported_layers_raise(layer, method):
    model = _seq(keras.layers.Conv1D(3, 3), layer, *_head())
    X = random_onehot(2, L).astype(np.float32)
    with pytest.raises(InputError, match=f"{method}.*{layer.name}"):
        A.attribute(model, X, method=method)
    assert A.attribute(model, X, method="gradient").shape == (2, L, 4, 2)


def test_linear_lambda_accepted():
    model = _seq(keras.layers.Conv1D(3, 3, activation="relu"),
                 keras.layers.Lambda(lambda v: 2.0 * v[:, ::2]), *_head())
    scorer = build_scorer(model)
    X = random_onehot(3, L).astype(np.float32)
    c = A.deeplift_scores(scorer, X)
    np.testing.assert_allclose(c.sum(axis=(1, 2)), scorer.predict(X) - scorer.predict(0 * X),
                               atol=1e-4)
