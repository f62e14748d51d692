"""In-silico mutagenesis (ISM): the exhaustive single-base reference method."""

from __future__ import annotations

import numpy as np

from dfimx.attribution.registry import register_method
from dfimx.models import Scorer, predict_batched


def ism(scorer: Scorer, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """In-silico mutagenesis importance ``(N, L, 4, T)``.

    ``out[n, l, b, t] = f_t(x_n) - f_t(x_n with position l set to base b)``: positive when
    base ``b`` at ``l`` would lower the output (the observed base is better than ``b``).
    Zero at the observed base; at ``N`` positions (all-zero rows) all four entries compare
    with the unknown base.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from dfimx.models import build_scorer
    >>> inp = keras.Input((3, 4)); out = keras.layers.Dense(1)(keras.layers.Flatten()(inp))
    >>> m = keras.Model(inp, out); X = np.eye(4, dtype="float32")[[[0, 1, 2]]]
    >>> s = ism(build_scorer(m), X)[0, :, :, 0]
    >>> w = m.layers[-1].get_weights()[0].reshape(3, 4)
    >>> bool(np.allclose(s, (w * X[0]).sum(1, keepdims=True) - w, atol=1e-5))
    True
    """
    X = np.asarray(X, np.float32)
    n, length, nb = X.shape
    t = scorer.n_tasks
    f0 = predict_batched(scorer, X, batch_size=batch_size)
    eye = np.eye(nb, dtype=np.float32)
    out = np.empty((n, length, nb, t), np.float32)
    cells = np.arange(length * nb)
    per_batch = max(1, int(batch_size))
    for i in range(n):
        for lo in range(0, len(cells), per_batch):
            c = cells[lo : lo + per_batch]
            pos, base = c // nb, c % nb
            mut = np.repeat(X[i][None], len(c), axis=0)
            mut[np.arange(len(c)), pos] = eye[base]
            fm = predict_batched(scorer, mut, batch_size=per_batch)
            out[i, pos, base] = f0[i][None, :] - fm
    out[X == 1] = 0.0
    return out


@register_method(
    "ism",
    uses_reference=False,
    doc="In-silico mutagenesis: f(x) - f(x with position l set to base b); 0 at the observed "
    "base.",
)
def _ism_kernel(scorer, X, references=None, batch_size=256, **_):
    return ism(scorer, X, batch_size=batch_size)
