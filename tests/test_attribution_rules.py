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


def _lambda_model(fn):
    inp = keras.Input((10, 4))
    h = keras.layers.Dense(3, activation="relu")(keras.layers.Flatten()(inp))
    h = keras.layers.Dense(3)(h)
    return keras.Model(inp, keras.layers.Dense(1)(keras.layers.Lambda(fn)(h)))


def test_nonlinear_lambdas_are_refused_even_when_linear_on_small_inputs():
    from dfimx.attribution.linearity import is_affine

    X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (2, 10))]
    clip = keras.layers.Lambda(lambda v: keras.ops.clip(v, -12.0, 12.0))
    assert not is_affine(clip, (2, 3))  # linear for |v| < 12, which a small probe would see
    with pytest.raises(InputError, match="Lambda layer that is not linear"):
        A.attribute(_lambda_model(lambda v: keras.ops.clip(v, -12.0, 12.0)), X,
                    method="deeplift")
    linear = _lambda_model(lambda v: 2.0 * v - 1.0)
    assert A.attribute(linear, X, method="deeplift").shape == (2, 10, 4)


def test_linearity_verdicts_never_go_stale_when_layers_are_freed():
    import gc

    from dfimx.attribution.linearity import is_affine

    verdicts = []
    for k in range(20):  # freed layers' ids are reused; each new layer is probed afresh
        fn = (lambda v: 3.0 * v) if k % 2 == 0 else keras.ops.abs
        verdicts.append(is_affine(keras.layers.Lambda(fn), (2, 3)))
        gc.collect()
    assert verdicts == [k % 2 == 0 for k in range(20)]
