"""A faster input gradient for 1D convolutions over few channels (one-hot DNA: 4).

TensorFlow computes the gradient of ``conv1d(x, W)`` with respect to ``x`` as a convolution
with ``C`` output channels.  With ``C = 4`` the CPU kernels fill a quarter of each vector
register, and the first layer's backward pass, run once per scored task, costs about twice
its forward pass.  Folding ``s`` neighbouring positions into the channels ("space to
depth") turns it into an exactly equivalent convolution with ``s * C`` output channels over
``L / s`` positions: a few more multiplications, done at full vector width.  On a
``Conv1D(32, 15)`` over 200 bp this backward pass runs about 1.8x faster.

:func:`conv1d` is a drop-in for ``tf.nn.conv1d`` (stride 1, no dilation, ``"VALID"`` or
``"SAME"`` padding) whose gradient with respect to its input takes this route; the
gradient with respect to the kernel is not provided (attribution never needs it).
:func:`layer_fold_plan` says whether (and how) a Keras ``Conv1D`` layer takes this route.

Examples
--------
>>> import numpy as np, tensorflow as tf
>>> x = tf.constant(np.random.default_rng(0).random((2, 30, 4)), tf.float32)
>>> w = tf.constant(np.random.default_rng(1).random((7, 4, 3)), tf.float32)
>>> plan = fold_plan(7, 4, "SAME")
>>> with tf.GradientTape() as tape:
...     _ = tape.watch(x)
...     y = conv1d(x, w, "SAME", plan)
>>> g = tape.gradient(y, x)
>>> with tf.GradientTape() as tape:
...     _ = tape.watch(x)
...     y0 = tf.nn.conv1d(x, w, 1, "SAME")
>>> bool(np.allclose(g, tape.gradient(y0, x), atol=1e-5))
True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Output channels the folded backward convolution aims for (a full AVX-512 register).
TARGET_CHANNELS = 32
#: Folds that give fewer output channels than this are not worth it.
MIN_CHANNELS = 16
#: The fold is used only while it costs at most this many times the multiplications.
MAX_EXTRA_WORK = 2.0


@dataclass(frozen=True)
class FoldPlan:
    """How to fold positions into channels for one kernel width and padding.

    ``index[t, v, u]`` is the kernel row feeding output offset ``u`` from input offset
    ``v`` at block distance ``t_min + t`` (the kernel width, a zero row, where none does).
    """

    fold: int
    t_min: int
    index: np.ndarray

    @property
    def taps(self) -> int:
        return int(self.index.shape[0])


def _plan(width: int, fold: int, pad_left: int) -> FoldPlan:
    # input position m = fold*q + u receives dy[n], n = fold*p + v, through kernel row
    # k = m - n + pad_left = -fold*t + u - v + pad_left with t = p - q
    rows = {(t, v, u): -fold * t + u - v + pad_left
            for t in range(-width - fold, width + fold)
            for u in range(fold) for v in range(fold)}
    rows = {key: k for key, k in rows.items() if 0 <= k < width}
    t_min = min(t for t, _, _ in rows)
    t_max = max(t for t, _, _ in rows)
    index = np.full((t_max - t_min + 1, fold, fold), width, np.int32)
    for (t, v, u), k in rows.items():
        index[t - t_min, v, u] = k
    return FoldPlan(fold, t_min, index)


def fold_plan(width: int, channels: int, padding: str) -> FoldPlan | None:
    """The fold for a ``Conv1D`` of kernel ``width`` over ``channels`` input channels.

    None when folding does not pay: enough channels already, too few to reach
    :data:`MIN_CHANNELS`, or a kernel so narrow that the folded convolution would do more
    than :data:`MAX_EXTRA_WORK` times the work.

    Examples
    --------
    >>> fold_plan(15, 4, "SAME").fold, fold_plan(15, 4, "SAME").taps
    (8, 3)
    >>> fold_plan(15, 64, "SAME") is None
    True
    """
    padding = padding.upper()
    if padding not in ("VALID", "SAME") or channels < 1 or width < 1:
        return None
    pad_left = (width - 1) // 2 if padding == "SAME" else 0
    fold = TARGET_CHANNELS // channels
    while fold >= 2 and fold * channels >= MIN_CHANNELS:
        plan = _plan(width, fold, pad_left)
        if plan.taps * fold <= MAX_EXTRA_WORK * width:
            return plan
        fold //= 2
    return None


@functools.lru_cache(maxsize=1)
def _gpu_visible() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def layer_fold_plan(layer: Any, x: Any, padding: str) -> FoldPlan | None:
    """The fold for a Keras ``Conv1D`` layer applied to ``x`` (a tensor), else None.

    Only plain float32 ``Conv1D`` layers (stride 1, no dilation, channels last, no
    groups) over inputs of known length and channels qualify, and only on CPU: the
    speed-up was measured on CPU kernels, cuDNN keeps its own.

    Examples
    --------
    >>> import keras, tensorflow as tf
    >>> layer = keras.layers.Conv1D(8, 15, padding="same")
    >>> _ = layer(tf.zeros((1, 40, 4)))
    >>> layer_fold_plan(layer, tf.zeros((1, 40, 4)), "same").fold
    8
    """
    import keras

    if (type(layer) is not keras.layers.Conv1D or tuple(layer.strides) != (1,)
            or tuple(layer.dilation_rate) != (1,) or layer.data_format != "channels_last"
            or getattr(layer, "groups", 1) != 1 or len(x.shape) != 3
            or x.shape[1] is None or x.shape[2] is None
            or x.dtype != "float32" or layer.kernel.dtype != "float32"
            or _gpu_visible()):  # measured on CPU kernels only; cuDNN keeps its own
        return None
    return fold_plan(int(layer.kernel.shape[0]), int(x.shape[2]), padding)


def folded_kernel(kernel: Any, plan: FoldPlan) -> Any:
    """``(taps, fold * F, fold * C)`` kernel of the folded backward convolution."""
    import tensorflow as tf

    width, channels, filters = kernel.shape
    padded = tf.concat([kernel, tf.zeros((1, channels, filters), kernel.dtype)], axis=0)
    w = tf.gather(padded, plan.index)  # (taps, v, u, C, F)
    w = tf.transpose(w, [0, 1, 4, 2, 3])  # (taps, v, F, u, C)
    return tf.reshape(w, (plan.taps, plan.fold * filters, plan.fold * channels))


def input_gradient(dy: Any, folded: Any, length: int, plan: FoldPlan) -> Any:
    """Gradient of ``conv1d`` with respect to its ``(N, length, C)`` input, folded."""
    import tensorflow as tf

    fold = plan.fold
    n = tf.shape(dy)[0]
    out_len, filters = int(dy.shape[1]), int(dy.shape[2])
    channels = int(folded.shape[2]) // fold
    blocks = -(-length // fold)
    dy_blocks = -(-out_len // fold)
    if dy_blocks * fold != out_len:  # whole blocks only (a copy, for odd lengths)
        dy = tf.pad(dy, [[0, 0], [0, dy_blocks * fold - out_len], [0, 0]])
    d = tf.reshape(dy, (n, 1, dy_blocks, fold * filters))
    # output block q reads dy blocks q + t_min .. q + t_max; those outside dy are zero
    # (t_min <= 0 <= t_max for "VALID" and "SAME"), padded in the convolution, not copied
    left = -plan.t_min
    right = blocks - dy_blocks + plan.taps - 1 + plan.t_min
    g = tf.nn.conv2d(d, folded[None], 1, [[0, 0], [0, 0], [left, right], [0, 0]])
    return tf.reshape(g, (n, blocks * fold, channels))[:, :length]


def conv1d(x: Any, kernel: Any, padding: str, plan: FoldPlan, bias: Any = None) -> Any:
    """``tf.nn.conv1d(x, kernel, 1, padding) (+ bias)`` whose input gradient is folded.

    The bias is added inside, where it fuses with the convolution.
    """
    import tensorflow as tf

    length = int(x.shape[1])

    def forward(x, kernel, *bias):
        y = tf.nn.conv1d(x, kernel, 1, padding.upper())
        if bias:
            y = tf.nn.bias_add(y, bias[0])
        folded = folded_kernel(kernel, plan)  # once per forward pass, not per task

        def grad(dy):
            return (input_gradient(dy, folded, length, plan), None) + (None,) * len(bias)

        return y, grad

    op = tf.custom_gradient(forward)
    return op(x, kernel) if bias is None else op(x, kernel, bias)
