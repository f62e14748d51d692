"""Native DeepLIFT and DeepSHAP: summation-to-delta per layer type, secants by hand.

The model zoo below covers every layer type the rules accept; the graph walk of
:mod:`dfimx.attribution.rules` is checked on it too.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dfimx import attribution as A
from dfimx.attribution.rules import Rules, run_with_rules
from dfimx.models import build_scorer
from dfimx.testing import randomize_weights

L = 24


def _onehot(n, length=L, seed=0):
    return np.eye(4, dtype="float32")[np.random.default_rng(seed).integers(0, 4, (n, length))]


def _randomize(model, seed=0):
    return randomize_weights(model, seed, scale=0.5)


def _seq(*layers):
    return _randomize(keras.Sequential([keras.Input((L, 4)), *layers]))


def _head():
    return [keras.layers.Flatten(), keras.layers.Dense(2)]


def _functional_add_concat():
    inp = keras.Input((L, 4))
    a = keras.layers.Conv1D(4, 3, padding="same", activation="relu")(inp)
    b = keras.layers.Conv1D(4, 5, padding="same", activation="tanh")(inp)
    s = keras.layers.Add()([a, b])
    c = keras.layers.Concatenate()([s, a])
    c = keras.layers.Cropping1D((2, 3))(c)
    c = keras.layers.ZeroPadding1D(1)(c)
    return _randomize(keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(c))))


def _nested_multi_output():
    inner = keras.Sequential([keras.Input((L, 4)), keras.layers.Conv1D(5, 4, activation="relu"),
                              keras.layers.GlobalAveragePooling1D()])
    inp = keras.Input((L, 4))
    h = inner(inp)
    o1 = keras.layers.Dense(2, activation="sigmoid")(h)
    o2 = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(4, activation="elu")(h))
    return _randomize(keras.Model(inp, [o1, o2]))


ACTIVATIONS = ["relu", "sigmoid", "tanh", "elu", "softplus", "exponential", "gelu", "linear"]

MODELS = {
    **{f"conv1d-{a}": (lambda a=a: _seq(keras.layers.Conv1D(4, 5, activation=a), *_head()))
       for a in ACTIVATIONS},
    "conv1d-dilated-same": lambda: _seq(
        keras.layers.Conv1D(4, 3, dilation_rate=3, padding="same", activation="relu"), *_head()),
    "conv1d-causal-strided": lambda: _seq(
        keras.layers.Conv1D(4, 3, padding="causal", activation="relu"),
        keras.layers.Conv1D(3, 4, strides=2, activation="relu"), *_head()),
    "dense-on-sequence": lambda: _seq(keras.layers.Dense(3, activation="relu"), *_head()),
    "softmax-hidden": lambda: _seq(keras.layers.Conv1D(3, 3),
                                   keras.layers.Activation("softmax"), *_head()),
    "maxpool": lambda: _seq(keras.layers.Conv1D(4, 5, activation="relu"),
                            keras.layers.MaxPooling1D(3), *_head()),
    "avgpool": lambda: _seq(keras.layers.Conv1D(4, 5, activation="relu"),
                            keras.layers.AveragePooling1D(2, padding="same"), *_head()),
    "global-max": lambda: _seq(keras.layers.Conv1D(4, 5, activation="relu"),
                               keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(2)),
    "global-avg": lambda: _seq(keras.layers.Conv1D(4, 5, activation="sigmoid"),
                               keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)),
    "batchnorm-dropout": lambda: _seq(keras.layers.Conv1D(4, 5), keras.layers.BatchNormalization(),
                                      keras.layers.Activation("relu"), keras.layers.Dropout(0.5),
                                      *_head()),
    "reshape-activation-layers": lambda: _seq(keras.layers.Reshape((L // 2, 8)),
                                              keras.layers.ReLU(), keras.layers.Conv1D(3, 2),
                                              keras.layers.LeakyReLU(0.1), *_head()),
    "functional-add-concat-crop-pad": _functional_add_concat,
    "nested-multi-output": _nested_multi_output,
}

@pytest.mark.parametrize("name", sorted(MODELS))
def test_deeplift_summation_to_delta(name):
    model = MODELS[name]()
    scorer = build_scorer(model)
    X = _onehot(5, seed=1)
    refs = np.concatenate(
        [np.zeros((5, 1, L, 4), np.float32), A.make_references(X, "gc"),
         A.make_references(X, "dinuc", n_references=2, seq_ids=list("abcde"))], axis=1)
    fx = scorer.predict(X)
    for k in range(refs.shape[1]):
        c = A.deeplift_scores(scorer, X, refs[:, k], maxpool="exact")
        assert A.last_summation_delta_violation() < 1e-4
        fr = scorer.predict(refs[:, k])
        np.testing.assert_allclose(c.sum(axis=(1, 2)), fx - fr, rtol=1e-4,
                                   atol=1e-4 * np.abs(c).sum(axis=(1, 2)).max())
    # the deeplift package default (gradient routing through max pooling) is exact for the
    # zero reference, whose activations are constant along the sequence
    A.deeplift_scores(scorer, X, refs[:, 0])
    assert A.last_summation_delta_violation() < 1e-4


def test_deeplift_on_linear_model_is_gradient_times_difference():
    model = _seq(keras.layers.Conv1D(3, 4), keras.layers.AveragePooling1D(2), *_head())
    scorer = build_scorer(model)
    X, R = _onehot(4), A.make_references(_onehot(4), "gc")[:, 0]
    np.testing.assert_allclose(A.deeplift_scores(scorer, X, R),
                               A.gradients(scorer, X) * (X - R)[..., None], atol=1e-6)


def test_rescale_secant_by_hand():
    model = _seq(keras.layers.Flatten(), keras.layers.Dense(1, activation="tanh"),
                 keras.layers.Dense(1))
    w1, b1 = model.layers[1].get_weights()
    w2, _ = model.layers[2].get_weights()
    X = _onehot(3)
    R = np.full_like(X, 0.25)
    zx = X.reshape(3, -1) @ w1 + b1
    zr = R.reshape(3, -1) @ w1 + b1
    secant = (np.tanh(zx) - np.tanh(zr)) / (zx - zr)
    expected = (w1[:, 0][None] * (secant * w2[0, 0])) * (X - R).reshape(3, -1)
    got = A.deeplift_scores(build_scorer(model), X, R)[..., 0].reshape(3, -1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_relu_secant_by_hand_including_inputs_equal_to_the_reference():
    model = _seq(keras.layers.Flatten(), keras.layers.Dense(3, activation="relu"),
                 keras.layers.Dense(1))
    w1, b1 = model.layers[1].get_weights()
    w2, _ = model.layers[2].get_weights()
    R = np.full((4, L, 4), 0.25, np.float32)
    X = _onehot(4)
    X[0] = R[0]  # a mutant whose replaced window equals the reference everywhere
    X[1, : L // 2] = R[1, : L // 2]  # ... or in part
    zx = X.reshape(4, -1).astype(np.float64) @ w1 + b1
    zr = R.reshape(4, -1).astype(np.float64) @ w1 + b1
    dz = zx - zr
    with np.errstate(invalid="ignore", divide="ignore"):
        secant = np.where(dz == 0, 0.0, (np.maximum(zx, 0) - np.maximum(zr, 0)) / dz)
    assert ((secant >= 0) & (secant <= 1 + 1e-9)).all()
    expected = (w1 * (secant * w2[:, 0])[:, None, :]).sum(-1) * (X - R).reshape(4, -1)
    got = A.deeplift_scores(build_scorer(model), X, R)[..., 0].reshape(4, -1)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert not got[0].any()  # nothing differs from the reference, nothing is attributed
    assert not got[1, : L // 2 * 4].any()
    assert A.last_summation_delta_violation() < 1e-4


def test_deepshap_is_mean_of_deeplift_over_dinuc_references():
    model = MODELS["maxpool"]()
    X, ids = _onehot(3), ["x", "y", "z"]
    got = A.attribute(model, X, method="deepshap", seq_ids=ids, n_references=4, seed=2)
    refs = A.make_references(X, "dinuc", n_references=4, seq_ids=ids, seed=2)
    scorer = build_scorer(model)
    each = [A.deeplift_scores(scorer, X, refs[:, k], maxpool="exact") for k in range(4)]
    np.testing.assert_allclose(got, np.mean(each, axis=0), atol=1e-5)
    assert A.METHODS["deepshap"].default_reference == "dinuc"
    again = A.make_references(X[1:], "dinuc", n_references=4, seq_ids=ids[1:], seed=2)
    np.testing.assert_array_equal(refs[1:], again)


def test_task_selection_and_outputs():
    model = _nested_multi_output()
    X = _onehot(3)
    all_tasks = A.attribute(model, X, method="deeplift")
    assert all_tasks.shape == (3, L, 4, 5)
    picked = A.attribute(model, X, method="deeplift", task=[3, 0])
    np.testing.assert_allclose(picked, all_tasks[..., [3, 0]], atol=1e-6)
    out = build_scorer(model, output_layer="output")
    c = A.deeplift_scores(out, X)  # softmax and sigmoid heads included
    np.testing.assert_allclose(c.sum(axis=(1, 2)), out.predict(X) - out.predict(0 * X),
                               atol=1e-5)


def test_walk_reproduces_forward_pass():
    for name in ("functional-add-concat-crop-pad", "conv1d-causal-strided", "batchnorm-dropout"):
        model = MODELS[name]()
        X = _onehot(3)
        ref = np.asarray(model(X, training=False))
        got = np.asarray(run_with_rules(model, X, Rules("plain")))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_debug_mode_warns_on_violation(monkeypatch):
    scorer = build_scorer(MODELS["global-max"]())
    X = _onehot(4)
    refs = A.make_references(X, "dinuc", n_references=3)
    monkeypatch.setenv("DFIMX_DEBUG", "1")
    with pytest.warns(RuntimeWarning, match="summation-to-delta"):
        A.deeplift_scores(scorer, X, refs, maxpool="gradient")
    assert A.last_diagnostics()["n_pairs"] == 12
    monkeypatch.delenv("DFIMX_DEBUG")
    A.deeplift_scores(scorer, X, refs, maxpool="exact", debug=True)
    assert A.last_summation_delta_violation() < 1e-4


def test_kernels_accept_pipeline_style_references():
    scorer = build_scorer(MODELS["maxpool"]())
    X = _onehot(3)
    refs = np.repeat(A.make_references(X[:1], "dinuc", n_references=2, seq_ids=["s"]), 3, axis=0)
    for name in ("deeplift", "deepshap", "integrated_gradients"):
        a = A.METHODS[name].kernel(scorer, X, references=refs, batch_size=4)
        b = A.METHODS[name].kernel(scorer, X, references=refs, batch_size=1)
        assert a.shape == (3, L, 4, 2)
        np.testing.assert_allclose(a, b, atol=1e-5)
