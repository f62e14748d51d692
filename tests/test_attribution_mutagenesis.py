"""In-silico mutagenesis against explicit mutants."""

from __future__ import annotations

import keras
import numpy as np

from dfimx import attribution as A
from dfimx.models import build_scorer
from dfimx.testing import random_onehot, randomize_weights

L = 24


def test_ism_against_explicit_mutants():
    model = randomize_weights(keras.Sequential([
        keras.Input((L, 4)), keras.layers.Conv1D(4, 5, activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(2)]), 0, scale=0.5)
    scorer = build_scorer(model)
    X = random_onehot(2, L).astype(np.float32)
    X[1, 5] = 0  # an N position
    got = A.ism(scorer, X, batch_size=17)
    f0 = scorer.predict(X)
    for n, pos, base in [(0, 0, 2), (0, 11, 3), (1, 5, 0), (1, 23, 1)]:
        mut = X[n].copy()
        mut[pos] = np.eye(4)[base]
        np.testing.assert_allclose(got[n, pos, base], f0[n] - scorer.predict(mut[None])[0],
                                   atol=1e-5)
    assert np.all(got[X == 1] == 0)
    assert np.all(got[1, 5] != 0)
