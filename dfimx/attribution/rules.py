"""Layer-by-layer evaluation of a Keras 3 model with modified backward rules.

:func:`run_with_rules` walks a Keras functional graph (``Sequential``, functional and
nested models, several outputs) and evaluates it on a TensorFlow tensor, replacing the
local gradient of every nonlinearity according to a :class:`Rules` object:

* ``"rescale"`` (DeepLIFT Rescale), evaluated through :func:`run_rescale`: the
  references go through the network first and each nonlinearity records its input and
  output; the inputs follow, and the backward pass multiplies by the secant
  ``(f(x) - f(r)) / (x - r)`` (the gradient ``f'(x)`` where ``|x - r|`` is tiny).  Only
  the inputs are differentiated, and one reference row may serve a whole batch.
  Softmax uses the Jacobian at the midpoint rescaled to the exact output difference.
  Max pooling routes the gradient (the deeplift package default) or, with
  ``maxpool="exact"``, distributes the exact difference between the argmax of the input
  and of the reference.
* ``"guided"`` (guided backpropagation): negative upstream signal is zeroed at every
  nonlinearity.
* ``"plain"``: the ordinary forward pass and gradient.

Linear layers (dense, convolution, average pooling, batch normalisation at inference,
dropout, reshaping, merging) keep their gradient; a ``Conv1D`` over few channels takes
the folded input gradient of :mod:`dfimx.attribution.conv_fold`.  Anything else raises
:class:`dfimx.errors.InputError` naming the layer and the method.

Examples
--------
>>> import numpy as np, keras
>>> inp = keras.Input((6, 4)); h = keras.layers.Conv1D(2, 3, activation="relu")(inp)
>>> model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(h)))
>>> X = np.ones((2, 6, 4), "float32")
>>> bool(np.allclose(run_with_rules(model, X, Rules("plain")), model(X), atol=1e-6))
True
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from dfimx.attribution.linear_parts import conv_linear, dense_linear
from dfimx.attribution.linearity import is_affine
from dfimx.errors import InputError
from dfimx.heads import activation_name

NEAR_ZERO = 1e-7

#: Elementwise Keras activations (by function name) the modified rules accept.
ELEMENTWISE_ACTIVATIONS = (
    "relu",
    "relu6",
    "leaky_relu",
    "sigmoid",
    "hard_sigmoid",
    "tanh",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "exponential",
    "gelu",
    "silu",
    "swish",
    "mish",
    "log_sigmoid",
)

_LINEAR_LAYERS = (
    "Flatten",
    "Reshape",
    "Permute",
    "Cropping1D",
    "Cropping2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "Add",
    "Subtract",
    "Average",
    "Concatenate",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "RepeatVector",
    "UpSampling1D",
    "Identity",
)
_IDENTITY_LAYERS = (
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
)
_MAXPOOL_LAYERS = ("MaxPooling1D", "MaxPooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D")
_ELEMENTWISE_LAYERS = ("ReLU", "LeakyReLU", "ELU", "PReLU")
#: Backend operations (not layers) that are linear, e.g. ``x[:, 0]`` in a functional model.
_LINEAR_OPS = (
    "Add",
    "Subtract",
    "Negative",
    "Reshape",
    "Concatenate",
    "Take",
    "TakeAlongAxis",
    "Transpose",
    "Squeeze",
    "ExpandDims",
    "GetItem",
    "Sum",
    "Mean",
    "Stack",
    "Flip",
)
#: Layers with no DeepLIFT / guided rule (gradient methods handle them): why, per type.
_GRADIENT_ONLY = {
    "LayerNormalization": "its division by the standard deviation has no modified "
    "backward rule here that keeps summation-to-delta",
    "MultiHeadAttention": "attention has no modified backward rule here (treating the "
    "attention weights as constants breaks summation-to-delta)",
    "LSTM": "recurrent gates have no modified backward rule here",
    "GRU": "recurrent gates have no modified backward rule here",
    "SimpleRNN": "recurrent layers have no modified backward rule here",
    "Bidirectional": "recurrent layers have no modified backward rule here",
}


@dataclass(frozen=True)
class Rules:
    """How to backpropagate through nonlinearities.

    Attributes
    ----------
    mode
        ``"rescale"``, ``"guided"`` or ``"plain"`` (``"reference"`` is the recording
        pass of :func:`run_rescale`).
    method
        Name of the attribution method, for error messages.
    maxpool
        ``"gradient"`` (route to the argmax of the input, as the deeplift package) or
        ``"exact"`` (summation-to-delta preserving; ``"rescale"`` mode only).
    eps
        Input differences below this use the gradient instead of the secant.
    """

    mode: str = "rescale"
    method: str = "deeplift"
    maxpool: str = "gradient"
    eps: float = NEAR_ZERO


def _unsupported(rules: Rules, op: Any, what: str = "") -> InputError:
    kind = type(op).__name__
    extra = f" ({what})" if what else ""
    if not what and kind in _GRADIENT_ONLY:
        return InputError(
            f"attribution method {rules.method!r} does not support layer {op.name!r} of type "
            f"{kind}: {_GRADIENT_ONLY[kind]}; use 'gradient', 'grad_x_input', "
            "'integrated_gradients' or 'ism' for this model",
            option="method",
        )
    return InputError(
        f"attribution method {rules.method!r} does not support layer {op.name!r} of type "
        f"{kind}{extra}; supported: Conv1D/Conv2D, Dense, pooling, BatchNormalization, "
        f"Dropout, Flatten, Reshape, Activation ({', '.join(ELEMENTWISE_ACTIVATIONS)}, "
        "softmax, linear), ReLU/LeakyReLU/ELU/PReLU, Add, Multiply, Concatenate, "
        "Cropping1D, ZeroPadding1D, keras.ops.flip and nested models; "
        "use 'gradient', 'grad_x_input', 'integrated_gradients' or 'ism' for other models",
        option="method",
    )


# --------------------------------------------------------------------------- nonlinearities


class _ReferenceTrace:
    """What the reference pass computed at each nonlinearity, replayed by the input pass."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []
        self.cursor: int | None = None
        #: the input's softmax weights of each weighted profile head, in graph order
        self.weights: list[Any] = []
        self.weight_cursor = 0

    def record(self, *tensors: Any) -> None:
        self.items.append(tensors)

    def next(self) -> tuple[Any, ...]:
        if self.cursor is None or self.cursor >= len(self.items):
            raise RuntimeError("DeepLIFT: the input pass met more nonlinearities than the "
                               "reference pass")
        item = self.items[self.cursor]
        self.cursor += 1
        return item


_ACTIVE = threading.local()


def _trace() -> _ReferenceTrace:
    trace = getattr(_ACTIVE, "trace", None)
    if trace is None:
        raise RuntimeError("Rescale rules are evaluated through run_rescale(), not directly")
    return trace


def run_rescale(model: Any, x: Any, r: Any, rules: Rules) -> tuple[Any, Any]:
    """Outputs ``(f(x), f(r))`` whose backward pass from ``f(x)`` applies the Rescale rule.

    The reference ``r`` is evaluated first and every nonlinearity records its input and
    output; the inputs ``x`` are then evaluated with each nonlinearity's local gradient
    replaced by the secant to the recorded reference values.  ``r`` may hold one row
    shared by all of ``x`` (broadcast) or one row per row of ``x``; no gradient flows
    into it, so the backward pass costs what a plain gradient of ``x`` costs.
    """
    import tensorflow as tf

    trace = _ReferenceTrace()
    previous = getattr(_ACTIVE, "trace", None)
    _ACTIVE.trace = trace
    try:
        if has_weighted_profile(model):
            # the profile weights are the input's, held constant: the reference is scored
            # with the input's weights too (so one reference row per input)
            run_with_rules(model, tf.stop_gradient(x), replace(rules, mode="weights"))
            r = tf.broadcast_to(r, tf.shape(x))
        y_r = run_with_rules(model, tf.stop_gradient(r), replace(rules, mode="reference"))
        trace.cursor = 0
        y_x = run_with_rules(model, x, rules)
        if trace.cursor != len(trace.items):
            raise RuntimeError("DeepLIFT: the input pass met fewer nonlinearities than the "
                               "reference pass")
    finally:
        _ACTIVE.trace = previous
    return y_x, y_r


def _rescale_elementwise(f: Any, zx: Any, zr: Any, yr: Any, eps: float) -> Any:
    import tensorflow as tf

    is_relu = getattr(f, "__name__", None) == "relu"

    @tf.custom_gradient
    def op(zx):
        # the multipliers do not depend on the upstream signal: computed once here, not
        # once per task in every backward pass
        if is_relu:
            # exact for any input difference (it lies in [0, 1]), so no near-zero case: a
            # unit whose input equals its reference exactly passes no difference on (the
            # deeplift package takes the gradient there; the two differ only where the
            # input differences that reach the unit cancel exactly)
            yx = f(zx)
            secant = tf.stop_gradient(tf.math.divide_no_nan(yx - yr, zx - zr))
        else:
            with tf.GradientTape() as tape:
                tape.watch(zx)
                yx = f(zx)
            fprime = tape.gradient(yx, zx)
            dz = zx - zr
            near = tf.abs(dz) < eps
            secant = tf.stop_gradient(
                tf.where(near, fprime, (yx - yr) / tf.where(near, tf.ones_like(dz), dz)))

        def grad(dy):
            return dy * secant

        return yx, grad

    return op(zx)


def _weighted_profile(op: Any, z: Any, rules: Rules) -> Any:
    """BPNet's profile score ``sum w z``, ``w = softmax(z_input)`` held constant."""
    import tensorflow as tf

    if rules.mode in ("plain", "guided"):
        return op(z)
    trace = _trace()
    if rules.mode == "weights":
        w = tf.stop_gradient(tf.nn.softmax(z, axis=-1))
        trace.weights.append(w)
        return tf.reduce_sum(w * z, axis=-1, keepdims=True)
    if rules.mode == "reference":
        w = trace.weights[trace.weight_cursor]
        trace.weight_cursor += 1
        return tf.reduce_sum(w * z, axis=-1, keepdims=True)
    w = tf.stop_gradient(tf.nn.softmax(z, axis=-1))
    return tf.reduce_sum(w * z, axis=-1, keepdims=True)


def has_weighted_profile(model: Any) -> bool:
    """Whether ``model`` holds a weighted profile head (``--task NAME:weighted``)."""
    return any(type(layer).__name__ == "WeightedProfile" for layer in _all_layers(model))


def _rescale_product(a: Any, b: Any, rules: Rules) -> Any:
    """``a * b`` whose backward pass splits the exact difference (Shapley, two inputs).

    ``a b - a_r b_r = (b + b_r) / 2 (a - a_r) + (a + a_r) / 2 (b - b_r)``: each input's
    multiplier is the mean of the other's value and reference value.
    """
    import tensorflow as tf

    if rules.mode == "reference":
        _trace().record(a, b)
        return a * b
    ar, br = _trace().next()

    @tf.custom_gradient
    def op(a, b):
        ma = tf.stop_gradient(0.5 * (b + br))
        mb = tf.stop_gradient(0.5 * (a + ar))

        def grad(dy):
            return dy * ma, dy * mb

        return a * b, grad

    return op(a, b)


def _multiply(op: Any, rules: Rules) -> Any:
    def call(*a, **k):
        inputs = list(a[0]) if len(a) == 1 and isinstance(a[0], (list, tuple)) else list(a)
        if rules.mode not in ("rescale", "reference"):
            return op(inputs)
        out = inputs[0]
        for other in inputs[1:]:
            out = _rescale_product(out, other, rules)
        return out

    return call


def _elementwise_fn(op: Any) -> Any:
    """The function of an activation layer, its variables read outside any custom gradient."""
    import tensorflow as tf

    if type(op).__name__ == "PReLU":
        alpha = tf.convert_to_tensor(op.alpha)

        def prelu(v):
            return tf.nn.relu(v) - alpha * tf.nn.relu(-v)

        return prelu
    return lambda v: op(v)


def _rescale_softmax(zx: Any, zr: Any, yr: Any, axis: int, eps: float) -> Any:
    import tensorflow as tf


    def softmax(v):
        return tf.nn.softmax(v, axis=axis)

    @tf.custom_gradient
    def op(zx):
        yx = softmax(zx)

        def grad(dy):
            s = softmax(0.5 * (zx + zr))
            dz = zx - zr
            lin = s * (dz - tf.reduce_sum(s * dz, axis=axis, keepdims=True))
            near = tf.abs(lin) < eps
            safe = tf.where(near, tf.ones_like(lin), lin)
            k = tf.where(near, tf.ones_like(lin), (yx - yr) / safe)
            w = dy * k
            return s * w - s * tf.reduce_sum(s * w, axis=axis, keepdims=True)

        return yx, grad

    return op(zx)


def _guided(f: Any, z: Any) -> Any:
    import tensorflow as tf


    @tf.custom_gradient
    def op(z):
        y = f(z)

        def grad(dy):
            with tf.GradientTape() as tape:
                tape.watch(z)
                yy = f(z)
            return tape.gradient(yy, z, output_gradients=tf.nn.relu(dy))

        return y, grad

    return op(z)


def _exact_maxpool(pool: Any, z: Any, rules: Rules) -> Any:
    """Max pooling whose multipliers carry the exact output difference (Rescale mode)."""
    import tensorflow as tf

    if rules.mode == "weights":
        return pool(z)
    if rules.mode == "reference":
        y = pool(z)
        _trace().record(z, y)
        return y
    zr, yr = _trace().next()

    @tf.custom_gradient
    def op(zx):
        yx = pool(zx)

        def grad(dy):
            zrb = tf.broadcast_to(zr, tf.shape(zx))
            cross = tf.maximum(yx, yr)
            with tf.GradientTape(persistent=True) as tape:
                tape.watch([zx, zrb])
                px, pr = pool(zx), pool(zrb)
            gx = tape.gradient(px, zx, output_gradients=dy * (cross - yr))
            gr = tape.gradient(pr, zrb, output_gradients=dy * (yx - cross))
            dz = zx - zrb
            near = tf.abs(dz) < rules.eps
            safe = tf.where(near, tf.ones_like(dz), dz)
            return tf.where(near, tf.zeros_like(dz), (gx + gr) / safe)

        return yx, grad

    return op(z)


def apply_activation(act: Any, z: Any, rules: Rules, op: Any) -> Any:
    """Apply a Keras activation function ``act`` under ``rules``."""
    import keras

    name = activation_name(act)
    if name == "linear":
        return z
    if name == "softmax":
        return apply_nonlinearity(lambda v: keras.activations.softmax(v, axis=-1), z, rules,
                                  softmax_axis=-1)
    if name not in ELEMENTWISE_ACTIVATIONS:
        raise _unsupported(rules, op, f"activation {getattr(act, '__name__', act)!r}")
    return apply_nonlinearity(act, z, rules)


def apply_nonlinearity(f: Any, z: Any, rules: Rules, *, softmax_axis: int | None = None) -> Any:
    """Apply ``f`` (elementwise, or softmax along ``softmax_axis``) under ``rules``."""
    if rules.mode in ("plain", "weights"):
        return f(z)
    if rules.mode == "guided":
        return _guided(f, z)
    if rules.mode == "reference":
        y = f(z)
        _trace().record(z, y)
        return y
    zr, yr = _trace().next()
    if softmax_axis is not None:
        return _rescale_softmax(z, zr, yr, softmax_axis, rules.eps)
    return _rescale_elementwise(f, z, zr, yr, rules.eps)


# --------------------------------------------------------------------------- graph walk


def _layer_call(op: Any, rules: Rules) -> Any:
    import keras

    kind = type(op).__name__
    is_layer = isinstance(op, keras.layers.Layer)

    if isinstance(op, keras.Model):
        return lambda *a, **k: run_with_rules(op, a[0], rules)
    if not is_layer:
        if kind in _LINEAR_OPS:
            return op
        raise _unsupported(rules, op, "backend operation")
    if kind == "InputLayer":
        return lambda x, **k: x
    if isinstance(op, (keras.layers.Conv1D, keras.layers.Conv2D)) and type(op) in (
        keras.layers.Conv1D,
        keras.layers.Conv2D,
    ):
        _check_not_quantized(op, rules)
        return lambda x, **k: apply_activation(op.activation, _conv_pre_activation(op, x, rules),
                                               rules, op)
    if type(op) is keras.layers.Dense:
        _check_not_quantized(op, rules)
        return lambda x, **k: apply_activation(op.activation, dense_linear(op, x), rules, op)
    if kind == "Activation":
        return lambda x, **k: apply_activation(op.activation, x, rules, op)
    if kind in _ELEMENTWISE_LAYERS:
        f = _elementwise_fn(op)
        return lambda x, **k: apply_nonlinearity(f, x, rules)
    if kind == "Multiply":
        return _multiply(op, rules)
    if kind == "WeightedProfile":
        return lambda x, **k: _weighted_profile(op, x, rules)
    if kind == "Softmax":
        axis = op.axis if isinstance(op.axis, int) else None
        if axis is None:
            raise _unsupported(rules, op, "softmax over several axes")
        return lambda x, **k: apply_nonlinearity(lambda v: op(v), x, rules, softmax_axis=axis)
    if kind == "BatchNormalization":
        return lambda x, **k: op(x, training=False)
    if kind in _IDENTITY_LAYERS:
        return lambda x, **k: x
    if kind in _LINEAR_LAYERS:
        return lambda *a, **k: op(*a, **{n: v for n, v in k.items() if n != "training"})
    if kind in _MAXPOOL_LAYERS:
        if rules.mode in ("rescale", "reference") and rules.maxpool == "exact":
            return lambda x, **k: _exact_maxpool(lambda v: op(v), x, rules)
        return lambda x, **k: op(x)
    if kind == "Lambda":

        def call(*a, **k):
            if len(a) != 1 or not is_affine(op, tuple(a[0].shape), k):
                raise _unsupported(rules, op, "a Lambda layer that is not linear")
            return op(*a, **k)

        return call
    raise _unsupported(rules, op)


def _conv_pre_activation(op: Any, x: Any, rules: Rules) -> Any:
    patch = getattr(_ACTIVE, "patch", None)
    z = patch(op, x) if patch is not None and rules.mode == "rescale" else None
    return conv_linear(op, x) if z is None else z


@contextmanager
def patching_convolutions(patch: Any) -> Iterator[None]:
    """While tracing the input pass (Rescale mode) in this thread, the pre-activation of a
    convolution is ``patch(layer, x)`` where not None (:mod:`dfimx.attribution.edits`)."""
    previous = getattr(_ACTIVE, "patch", None)
    _ACTIVE.patch = patch
    try:
        yield
    finally:
        _ACTIVE.patch = previous


def _check_not_quantized(op: Any, rules: Rules) -> None:
    if getattr(op, "quantization_mode", None):
        raise _unsupported(rules, op, f"quantized ({op.quantization_mode})")


def run_with_rules(model: Any, z: Any, rules: Rules) -> Any:
    """Evaluate ``model`` on tensor ``z`` with the backward ``rules`` (see module doc)."""
    import keras

    if isinstance(model, keras.Sequential) and getattr(model, "_functional", None) is None:
        out = z
        for layer in model.layers:
            out = _layer_call(layer, rules)(out)
        return out
    graph = getattr(model, "_functional", None) or model
    if not hasattr(graph, "_run_through_graph"):
        raise InputError(
            f"attribution method {rules.method!r}: model {model.name!r} is not a Keras "
            "functional or Sequential model"
        )
    outs = graph._run_through_graph(z, operation_fn=lambda op: _layer_call(op, rules))  # noqa: SLF001
    if isinstance(outs, (list, tuple)) and len(outs) == 1:
        return outs[0]
    return outs


def validate(model: Any, rules: Rules) -> None:
    """Raise :class:`InputError` when ``model`` holds a layer ``rules`` cannot handle."""
    import keras

    for layer in _all_layers(model):
        if isinstance(layer, keras.Model):
            continue
        if type(layer).__name__ == "Lambda":
            try:
                shape = tuple(layer.input.shape)
            except (AttributeError, ValueError):
                continue  # checked numerically when called
            if not is_affine(layer, shape):
                raise _unsupported(rules, layer, "a Lambda layer that is not linear")
            continue
        call = _layer_call(layer, rules)
        del call
        act = getattr(layer, "activation", None)
        if act is not None and type(layer).__name__ not in _ELEMENTWISE_LAYERS:
            name = activation_name(act)
            if name not in (*ELEMENTWISE_ACTIVATIONS, "softmax", "linear"):
                raise _unsupported(rules, layer, f"activation {getattr(act, '__name__', act)!r}")


def _all_layers(model: Any):
    import keras

    for layer in getattr(model, "_operations", None) or model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
