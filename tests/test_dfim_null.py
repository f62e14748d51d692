"""The shuffled null: composition kept, seeded per sequence id, sources kept in place."""

from __future__ import annotations

import numpy as np

from dfimx.dfim.null import null_sequences, source_positions
from dfimx.settings import Settings


def _onehot(n, length, seed):
    return np.eye(4, dtype=np.float32)[np.random.default_rng(seed).integers(0, 4, (n, length))]


def test_null_keeps_composition_and_dinucleotides():
    X = _onehot(3, 50, 0)
    null = null_sequences(X, 4, ["a", "b", "c"], Settings(null="dinuc"))
    assert null.shape == (3, 4, 50, 4)
    np.testing.assert_array_equal(null.sum(axis=2), np.repeat(X.sum(axis=1)[:, None], 4, 1))
    codes = X.argmax(-1)
    for i in range(3):
        pairs = np.zeros((4, 4))
        np.add.at(pairs, (codes[i, :-1], codes[i, 1:]), 1)
        for k in range(4):
            nc = null[i, k].argmax(-1)
            got = np.zeros((4, 4))
            np.add.at(got, (nc[:-1], nc[1:]), 1)
            np.testing.assert_array_equal(got, pairs)


def test_null_is_seeded_per_sequence_not_per_chunk():
    X = _onehot(4, 30, 1)
    ids = ["w", "x", "y", "z"]
    whole = null_sequences(X, 3, ids, Settings(seed=5))
    parts = np.concatenate([null_sequences(X[:1], 3, ids[:1], Settings(seed=5)),
                            null_sequences(X[1:], 3, ids[1:], Settings(seed=5))])
    np.testing.assert_array_equal(whole, parts)
    other = null_sequences(X, 3, ids, Settings(seed=6))
    assert not np.array_equal(whole, other)


def test_sources_can_stay_in_place():
    X = _onehot(2, 40, 2)
    kept = source_positions(np.array([[10], [20]]), np.array([[11], [21]]),
                            np.array([[True], [True]]), 40)
    assert kept.sum() == 2 and kept[0, 10] and kept[1, 20]
    null = null_sequences(X, 3, ["a", "b"], Settings(null_keep_sources=True), kept=kept)
    np.testing.assert_array_equal(null[0, :, 10], np.repeat(X[0, 10][None], 3, 0))
    np.testing.assert_array_equal(null[1, :, 20], np.repeat(X[1, 20][None], 3, 0))
