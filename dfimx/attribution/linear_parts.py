"""The linear parts of convolution and dense layers, evaluated without their activation.

:mod:`dfimx.attribution.rules` applies its backward rule to the activation only; the
convolution (folded over few input channels by :mod:`dfimx.attribution.conv_fold`) and
the matrix product come from here.

Examples
--------
>>> import numpy as np, keras
>>> layer = keras.layers.Dense(2, activation="relu"); _ = layer(np.zeros((1, 3)))
>>> x = np.ones((1, 3), "float32")
>>> bool(np.allclose(dense_linear(layer, x), x @ layer.kernel.numpy() + layer.bias.numpy()))
True
"""

from __future__ import annotations

from typing import Any

from dfimx.attribution import conv_fold


def _bias(layer: Any, y: Any) -> Any:
    from keras import ops

    if not getattr(layer, "use_bias", False) or layer.bias is None:
        return y
    if getattr(layer, "data_format", "channels_last") == "channels_last":
        shape = (1,) * (len(y.shape) - 1) + (-1,)
    else:
        shape = (1, -1) + (1,) * (len(y.shape) - 2)
    return ops.add(y, ops.reshape(layer.bias, shape))


def conv_linear(layer: Any, x: Any) -> Any:
    """The convolution of ``layer`` on ``x`` without its activation (folded when few
    input channels, see :mod:`dfimx.attribution.conv_fold`)."""
    from keras import ops

    padding = layer.padding
    if padding == "causal":
        x = ops.pad(x, layer._compute_causal_padding())  # noqa: SLF001
        padding = "valid"
    plan = conv_fold.layer_fold_plan(layer, x, padding)
    if plan is not None:
        import tensorflow as tf

        bias = layer.bias if getattr(layer, "use_bias", False) else None
        return conv_fold.conv1d(
            x, tf.convert_to_tensor(layer.kernel), padding, plan,
            None if bias is None else tf.convert_to_tensor(bias))
    y = ops.conv(
        x,
        layer.kernel,
        strides=list(layer.strides),
        padding=padding,
        dilation_rate=layer.dilation_rate,
        data_format=layer.data_format,
    )
    return _bias(layer, y)


def dense_linear(layer: Any, x: Any) -> Any:
    """``x @ kernel + bias`` of a ``Dense`` layer, without its activation."""
    from keras import ops

    y = ops.matmul(x, layer.kernel)
    if layer.bias is not None:
        y = ops.add(y, layer.bias)
    return y


__all__ = ["conv_linear", "dense_linear"]
