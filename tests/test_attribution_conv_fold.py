"""The folded (space-to-depth) input gradient of Conv1D equals TensorFlow's own."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from dfimx.attribution import conv_fold as cig


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize(("length", "width", "channels"), [
    (200, 15, 4), (37, 15, 4), (64, 8, 4), (23, 19, 4), (50, 31, 1), (30, 7, 4),
    (41, 9, 8), (16, 16, 4),
])
def test_folded_input_gradient_equals_tensorflow(padding, length, width, channels):
    plan = cig.fold_plan(width, channels, padding)
    assert plan is not None
    rng = np.random.default_rng(length * width + channels)
    x = tf.constant(rng.normal(size=(3, length, channels)), tf.float32)
    w = tf.constant(rng.normal(size=(width, channels, 5)), tf.float32)
    b = tf.constant(rng.normal(size=5), tf.float32) if width % 2 else None  # with, without
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y_fold = cig.conv1d(x, w, padding, plan, b)
        y_tf = tf.nn.conv1d(x, w, 1, padding)
        y_tf = y_tf if b is None else tf.nn.bias_add(y_tf, b)
    np.testing.assert_allclose(y_fold, y_tf, rtol=1e-6, atol=1e-6)
    cotangent = tf.constant(rng.normal(size=y_tf.shape), tf.float32)
    got = tape.gradient(y_fold, x, output_gradients=cotangent).numpy()
    want = tape.gradient(y_tf, x, output_gradients=cotangent).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_fold_only_where_it_pays():
    plan = cig.fold_plan(15, 4, "same")
    assert plan.fold * 4 == cig.TARGET_CHANNELS
    assert plan.taps * plan.fold <= cig.MAX_EXTRA_WORK * 15
    assert cig.fold_plan(15, 32, "same") is None  # channels enough already
    assert cig.fold_plan(3, 4, "same") is None  # a narrow kernel would do 2x+ the work
    assert cig.fold_plan(15, 1, "same") is None  # too few channels to fill a register
    assert cig.fold_plan(15, 4, "causal") is None


def test_only_plain_float32_conv1d_layers_fold():
    import keras

    x = tf.zeros((1, 40, 4))
    for layer, folds in [(keras.layers.Conv1D(8, 15, padding="same"), True),
                         (keras.layers.Conv1D(8, 15, strides=2), False),
                         (keras.layers.Conv1D(8, 15, dilation_rate=2), False),
                         (keras.layers.Conv1D(8, 15, dtype="float64"), False)]:
        layer(tf.cast(x, layer.dtype))
        assert (cig.layer_fold_plan(layer, x, layer.padding) is not None) == folds, layer


@pytest.mark.parametrize(("padding", "use_bias"), [("same", True), ("causal", False)])
def test_deeplift_contributions_do_not_depend_on_the_fold(monkeypatch, padding, use_bias):
    import keras

    from dfimx.attribution import deeplift_scores, make_references
    from dfimx.models import build_scorer

    def model():
        m = keras.Sequential([
            keras.Input((60, 4)),
            keras.layers.Conv1D(16, 11, padding=padding, use_bias=use_bias, activation="relu"),
            keras.layers.MaxPooling1D(3),
            keras.layers.Conv1D(8, 5, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ])
        rng = np.random.default_rng(3)
        m.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in m.get_weights()])
        return m

    X = np.eye(4, dtype="float32")[np.random.default_rng(4).integers(0, 4, (70, 60))]
    refs = make_references(X, "gc")[:, 0]
    layer = model().layers[0]
    conv_padding = "valid" if padding == "causal" else padding  # causal: padded, then valid
    assert cig.layer_fold_plan(layer, tf.zeros((1, 70, 4)), conv_padding) is not None
    folded = deeplift_scores(build_scorer(model()), X, refs)
    monkeypatch.setattr(cig, "layer_fold_plan", lambda *a: None)
    plain = deeplift_scores(build_scorer(model()), X, refs)
    np.testing.assert_allclose(folded, plain, rtol=1e-5, atol=1e-6 * np.abs(plain).max())
