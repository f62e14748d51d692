"""Whether a ``Lambda`` layer is affine, decided by probing it over a wide range.

The modified backward rules (:mod:`dfimx.attribution.rules`) pass the gradient of a
linear ``Lambda`` through unchanged, so calling a nonlinear one linear makes DeepLIFT
silently wrong.  :func:`is_affine` checks the affine identities
``f((a + b) / 2) = (f(a) + f(b)) / 2`` and ``f(2a - b) = 2 f(a) - f(b)`` on random inputs
at scales from 1e-2 to 1e4 (with offsets), which covers the values a layer inside a DNA
model sees: a ``clip(-12, 12)`` passes at small scales but fails at large ones.  The
verdict is kept on the layer object itself, never keyed by ``id()`` (a freed id can be
reused by another layer).

Examples
--------
>>> import keras
>>> is_affine(keras.layers.Lambda(lambda v: 3.0 * v - 1.0), (4, 5))
True
>>> is_affine(keras.layers.Lambda(lambda v: keras.ops.clip(v, -12.0, 12.0)), (4, 5))
False
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Scales of the random probe inputs.
PROBE_SCALES = (1e-2, 1.0, 30.0, 1e3, 1e4)
_ATTR = "_dfimx_affine"


def _probe(op: Any, shape: tuple, kwargs: dict) -> bool:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    shape = tuple(2 if d is None else int(d) for d in shape)
    with tf.init_scope():

        def f(v):
            return np.asarray(op(tf.constant(v.astype("float32")), **kwargs), np.float64)

        for scale in PROBE_SCALES:
            for offset in (0.0, scale):
                a = rng.normal(offset, scale, size=shape)
                b = rng.normal(-offset, scale, size=shape)
                fa, fb = f(a), f(b)
                size = max(1.0, float(np.abs(fa).max(initial=0)),
                           float(np.abs(fb).max(initial=0)))
                for lhs, rhs in ((f(0.5 * (a + b)), 0.5 * (fa + fb)),
                                 (f(2.0 * a - b), 2.0 * fa - fb)):
                    if lhs.shape != rhs.shape or not np.allclose(lhs, rhs, atol=1e-4 * size,
                                                                 rtol=1e-4):
                        return False
    return True


def is_affine(op: Any, shape: tuple, kwargs: dict | None = None) -> bool:
    """Whether the layer ``op`` is affine on inputs of ``shape`` (probed, then kept on ``op``).

    Anything that cannot be probed (an error, several inputs) counts as not affine.
    """
    verdict = getattr(op, _ATTR, None)
    if verdict is not None:
        return verdict
    try:
        ok = _probe(op, shape, dict(kwargs or {}))
    except Exception:  # noqa: BLE001 - anything that cannot be checked is refused
        ok = False
    object.__setattr__(op, _ATTR, ok)
    return ok


__all__ = ["PROBE_SCALES", "is_affine"]
