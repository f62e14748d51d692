"""Small but faithful Keras 3 versions of the architectures DNA labs use.

Each builder returns an untrained model with random, deterministic weights (``seed``) and
the layer structure of the published design, scaled down so that tests run in seconds:

* :func:`bpnet`: dilated residual convolutions, a cropped profile head (``profile``, the
  logits of a softmax over positions) and a total-count head (``logcount``), as BPNet /
  ChromBPNet.
* :func:`basset`: three convolution / batch-norm / ReLU / max-pool blocks, two dense
  layers and one sigmoid per task (``Sequential``, as Basset).
* :func:`deepsea`: convolution / max-pool blocks and many sigmoid tasks (DeepSEA, Beluga).
* :func:`danq`: a convolution, max pooling and a bidirectional LSTM (DanQ).
* :func:`enformer_block`: a convolution stem, then a pre-norm transformer block
  (``LayerNormalization``, ``MultiHeadAttention``, feed-forward, residual adds).
* :func:`rc_averaged`: one strand model applied to the sequence and to its reverse
  complement (``keras.ops.flip``), the sigmoid outputs averaged.
* :func:`nested`: a functional model that calls an inner model ending in a sigmoid.
* :func:`concatenated_heads`: two sigmoid heads concatenated into one output.
* :func:`prelu_gated`: ``PReLU``, ``LeakyReLU`` and ``ELU`` activations and a
  ``Multiply`` gate (a sigmoid branch times a tanh branch).

:data:`ARCHITECTURES` maps a name to its builder (used by the tests and the README's
architecture x method table).

Examples
--------
>>> model = basset(60, n_tasks=3)
>>> model.output_shape
(None, 3)
>>> bpnet(64).output_names
['profile', 'logcount']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "ARCHITECTURES",
    "basset",
    "bpnet",
    "concatenated_heads",
    "danq",
    "deepsea",
    "enformer_block",
    "nested",
    "prelu_gated",
    "rc_averaged",
    "seeded_weights",
]


def seeded_weights(model: Any, seed: int = 0, scale: float = 0.3) -> Any:
    """Give every layer of ``model`` (nested models included) random normal weights.

    Kernels get ``scale / sqrt(fan_in)``-sized values so that activations stay in a
    useful range whatever the depth; batch normalisation gets plausible statistics.
    Returns ``model``.

    Examples
    --------
    >>> import keras
    >>> m = keras.Sequential([keras.Input((5, 4)), keras.layers.Dense(2)])
    >>> seeded_weights(m, 1).layers[0].get_weights()[0].shape
    (4, 2)
    """
    import keras  # TensorFlow loads only when a model is built

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            seeded_weights(layer, seed + 1, scale)
            continue
        ws = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            n = ws[0].shape
            layer.set_weights([rng.normal(1, 0.2, n), rng.normal(0, 0.2, n),
                               rng.normal(0, 0.2, n), rng.uniform(0.5, 2, n)])
            continue
        new = []
        for w in ws:
            fan_in = int(np.prod(w.shape[:-1])) if w.ndim > 1 else 1
            size = scale * (3.0 / np.sqrt(fan_in) if w.ndim > 1 else 1.0)
            new.append(rng.normal(0, size, w.shape).astype("float32"))
        layer.set_weights(new)
    return model


def _layers() -> Any:
    import keras  # TensorFlow loads only when a model is built

    return keras.layers


def bpnet(length: int = 100, *, n_filters: int = 8, n_dilated: int = 3, crop: int = 10,
          seed: int = 0) -> Any:
    """BPNet / ChromBPNet-like: dilated residual tower, a profile and a count head.

    ``profile`` has ``length - 2 * crop`` logits (a softmax over them is the predicted
    profile), ``logcount`` one value.

    Examples
    --------
    >>> bpnet(64, crop=8).output_shape
    [(None, 48), (None, 1)]
    """
    import keras  # TensorFlow loads only when a model is built

    K = _layers()
    inp = keras.Input((length, 4), name="sequence")
    h = K.Conv1D(n_filters, 11, padding="same", activation="relu", name="stem")(inp)
    for i in range(1, n_dilated + 1):
        c = K.Conv1D(n_filters, 3, padding="same", dilation_rate=2 ** i, activation="relu",
                     name=f"dil{i}")(h)
        h = K.Add(name=f"res{i}")([h, c])
    p = K.Conv1D(1, 9, padding="same", name="profile_conv")(h)
    p = K.Cropping1D(crop, name="crop")(p)
    profile = K.Flatten(name="profile")(p)
    c = K.GlobalAveragePooling1D(name="gap")(h)
    logcount = K.Dense(1, name="logcount")(c)
    return seeded_weights(keras.Model(inp, [profile, logcount], name="bpnet"), seed)


def basset(length: int = 100, *, n_tasks: int = 164, filters: tuple[int, int, int] = (16, 12, 8),
           hidden: int = 32, seed: int = 0) -> Any:
    """Basset-like ``Sequential``: 3 x (conv, batch norm, ReLU, max pool), 2 dense, sigmoid.

    Examples
    --------
    >>> basset(60, n_tasks=5).output_shape
    (None, 5)
    """
    import keras  # TensorFlow loads only when a model is built

    K = _layers()
    layers: list[Any] = [keras.Input((length, 4))]
    for f, w, pool in zip(filters, (19, 11, 7), (3, 4, 4), strict=True):
        layers += [K.Conv1D(f, w, padding="same"), K.BatchNormalization(), K.Activation("relu"),
                   K.MaxPooling1D(pool, padding="same")]
    layers += [K.Flatten(), K.Dense(hidden, activation="relu"), K.Dropout(0.3),
               K.Dense(hidden, activation="relu"), K.Dense(n_tasks, activation="sigmoid")]
    return seeded_weights(keras.Sequential(layers, name="basset"), seed)


def deepsea(length: int = 100, *, n_tasks: int = 919, seed: int = 0) -> Any:
    """DeepSEA / Beluga-like ``Sequential``: conv / max-pool blocks, many sigmoid tasks.

    Examples
    --------
    >>> deepsea(64, n_tasks=10).output_shape
    (None, 10)
    """
    import keras  # TensorFlow loads only when a model is built

    K = _layers()
    return seeded_weights(keras.Sequential([
        keras.Input((length, 4)),
        K.Conv1D(12, 8, padding="same", activation="relu"), K.MaxPooling1D(4, strides=4),
        K.Dropout(0.2),
        K.Conv1D(16, 8, padding="same", activation="relu"), K.MaxPooling1D(4, strides=4),
        K.Dropout(0.2),
        K.Conv1D(16, 3, padding="same", activation="relu"), K.Flatten(),
        K.Dense(24, activation="relu"), K.Dense(n_tasks, activation="sigmoid"),
    ], name="deepsea"), seed)


def danq(length: int = 100, *, n_tasks: int = 4, seed: int = 0) -> Any:
    """DanQ-like: convolution, max pooling, bidirectional LSTM, dense, sigmoid tasks.

    Examples
    --------
    >>> danq(60).output_shape
    (None, 4)
    """
    import keras  # TensorFlow loads only when a model is built

    K = _layers()
    return seeded_weights(keras.Sequential([
        keras.Input((length, 4)),
        K.Conv1D(8, 13, activation="relu"), K.MaxPooling1D(4), K.Dropout(0.2),
        K.Bidirectional(K.LSTM(6, return_sequences=True)), K.Flatten(),
        K.Dense(16, activation="relu"), K.Dense(n_tasks, activation="sigmoid"),
    ], name="danq"), seed)


def enformer_block(length: int = 64, *, channels: int = 8, heads: int = 2, n_tasks: int = 3,
                   seed: int = 0) -> Any:
    """Enformer-like: conv stem, pooling, one pre-norm transformer block, linear tracks.

    Examples
    --------
    >>> enformer_block(64).output_shape
    (None, 3)
    """
    import keras  # TensorFlow loads only when a model is built

    K = _layers()
    inp = keras.Input((length, 4), name="sequence")
    h = K.Conv1D(channels, 9, padding="same", activation="gelu", name="stem")(inp)
    h = K.MaxPooling1D(2, name="pool")(h)
    a = K.LayerNormalization(name="ln1")(h)
    a = K.MultiHeadAttention(heads, channels // heads, name="mha")(a, a)
    h = K.Add(name="res1")([h, a])
    f = K.LayerNormalization(name="ln2")(h)
    f = K.Dense(2 * channels, activation="relu", name="ff1")(f)
    f = K.Dense(channels, name="ff2")(f)
    h = K.Add(name="res2")([h, f])
    h = K.GlobalAveragePooling1D(name="gap")(h)
    out = K.Dense(n_tasks, name="tracks")(h)
    return seeded_weights(keras.Model(inp, out, name="enformer_block"), seed)


def _strand_model(length: int, n_tasks: int, seed: int) -> Any:
    import keras  # TensorFlow loads only when a model is built

    K = _layers()
    inp = keras.Input((length, 4))
    h = K.Conv1D(8, 9, activation="relu")(inp)
    h = K.GlobalMaxPooling1D()(h)
    h = K.Dense(8, activation="relu")(h)
    out = K.Dense(n_tasks, activation="sigmoid", name="strand_head")(h)
    return seeded_weights(keras.Model(inp, out, name="strand"), seed)


def rc_averaged(length: int = 60, *, n_tasks: int = 2, seed: int = 0) -> Any:
    """One strand model on the sequence and its reverse complement, sigmoids averaged.

    The reverse complement is ``keras.ops.flip`` over positions and bases (A C G T
    order).

    Examples
    --------
    >>> rc_averaged(40).output_shape
    (None, 2)
    """
    import keras  # TensorFlow loads only when a model is built

    strand = _strand_model(length, n_tasks, seed)
    inp = keras.Input((length, 4), name="sequence")
    rc = keras.ops.flip(inp, axis=(1, 2))
    out = _layers().Average(name="strand_mean")([strand(inp), strand(rc)])
    return keras.Model(inp, out, name="rc_averaged")


def nested(length: int = 60, *, n_tasks: int = 2, seed: int = 0) -> Any:
    """A functional model whose output is an inner model's sigmoid.

    Examples
    --------
    >>> nested(40).output_shape
    (None, 2)
    """
    import keras  # TensorFlow loads only when a model is built

    inner = _strand_model(length, n_tasks, seed)
    inp = keras.Input((length, 4), name="sequence")
    return keras.Model(inp, inner(inp), name="nested")


def concatenated_heads(length: int = 60, *, seed: int = 0) -> Any:
    """Two sigmoid heads (1 and 2 tasks) concatenated into one ``(N, 3)`` output.

    Examples
    --------
    >>> concatenated_heads(40).output_shape
    (None, 3)
    """
    import keras  # TensorFlow loads only when a model is built

    K = _layers()
    inp = keras.Input((length, 4), name="sequence")
    h = K.Conv1D(8, 7, activation="relu")(inp)
    h = K.GlobalAveragePooling1D()(h)
    a = K.Dense(1, activation="sigmoid", name="head_a")(h)
    b = K.Dense(2, activation="sigmoid", name="head_b")(h)
    out = K.Concatenate(name="heads")([a, b])
    return seeded_weights(keras.Model(inp, out, name="concatenated_heads"), seed)


def prelu_gated(length: int = 60, *, seed: int = 0) -> Any:
    """PReLU, LeakyReLU and ELU layers and a sigmoid x tanh ``Multiply`` gate.

    Examples
    --------
    >>> prelu_gated(40).output_shape
    (None, 1)
    """
    import keras  # TensorFlow loads only when a model is built

    K = _layers()
    inp = keras.Input((length, 4), name="sequence")
    h = K.PReLU(name="prelu")(K.Conv1D(8, 7, name="conv1")(inp))
    h = K.LeakyReLU(0.1, name="leaky")(K.Conv1D(8, 5, name="conv2")(h))
    gate = K.Conv1D(8, 3, activation="sigmoid", name="gate")(h)
    value = K.Conv1D(8, 3, activation="tanh", name="value")(h)
    h = K.Multiply(name="gated")([gate, value])
    h = K.ELU(name="elu")(K.Dense(8, name="dense")(K.Flatten()(h)))
    out = K.Dense(1, name="output")(h)
    return seeded_weights(keras.Model(inp, out, name="prelu_gated"), seed)


#: name -> builder ``(length) -> model`` for the architecture x method table.
ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "bpnet": bpnet,
    "basset": basset,
    "deepsea": deepsea,
    "danq": danq,
    "enformer_block": enformer_block,
    "rc_averaged": rc_averaged,
    "nested": nested,
    "concatenated_heads": concatenated_heads,
    "prelu_gated": prelu_gated,
}
