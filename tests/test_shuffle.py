"""Dinucleotide and mononucleotide shuffles: counts, N handling, seeding, uniformity."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from dfimx.alphabet import codes_to_onehot, onehot_to_codes
from dfimx.shuffle import dinucleotide_shuffle, mononucleotide_shuffle


def _dinucs(codes: np.ndarray) -> Counter:
    return Counter(zip(codes[:-1].tolist(), codes[1:].tolist(), strict=True))


def _random_codes(rng, n, length, n_frac=0.05):
    codes = rng.integers(0, 4, (n, length))
    codes[rng.random((n, length)) < n_frac] = -1
    return codes


@pytest.mark.parametrize("length", [1, 2, 3, 5, 17, 120])
def test_dinucleotide_counts_and_n_positions_preserved(length):
    rng = np.random.default_rng(length)
    codes = _random_codes(rng, 25, length)
    codes[0] = -1  # an all-N sequence
    codes[1, : length // 2] = 0  # a homopolymer stretch
    X = codes_to_onehot(codes)
    S = dinucleotide_shuffle(X, 4, seq_ids=[f"s{i}" for i in range(25)], seed=3)
    assert S.shape == (25, 4, length, 4) and S.dtype == X.dtype
    for i in range(25):
        for k in range(4):
            sc = onehot_to_codes(S[i, k])
            assert _dinucs(sc) == _dinucs(codes[i])
            np.testing.assert_array_equal(sc == -1, codes[i] == -1)


def test_dinucleotide_shuffle_changes_sequences_and_keeps_ends():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (20, 200))
    S = onehot_to_codes(dinucleotide_shuffle(codes_to_onehot(codes), 3, seed=1))
    assert (S != codes[:, None]).any(axis=-1).all()
    np.testing.assert_array_equal(S[..., 0], np.repeat(codes[:, :1], 3, 1))
    np.testing.assert_array_equal(S[..., -1], np.repeat(codes[:, -1:], 3, 1))


def test_seeding_is_per_sequence_and_per_draw():
    rng = np.random.default_rng(1)
    X = codes_to_onehot(rng.integers(0, 4, (12, 60))).astype(np.float32)
    ids = [f"chr1:{i}" for i in range(12)]
    full = dinucleotide_shuffle(X, 3, seq_ids=ids, seed=5)
    part = dinucleotide_shuffle(X[7:10], 5, seq_ids=ids[7:10], seed=5)
    np.testing.assert_array_equal(full[7:10], part[:, :3])  # chunk- and n_shuffles-independent
    other = dinucleotide_shuffle(X, 3, seq_ids=ids, seed=6)
    assert not np.array_equal(full, other)
    assert not np.array_equal(full, dinucleotide_shuffle(X, 3, seq_ids=ids, seed=5,
                                                         purpose="null"))
    for fn in (dinucleotide_shuffle, mononucleotide_shuffle):
        np.testing.assert_array_equal(fn(X, 2, seq_ids=ids, seed=0), fn(X, 2, seq_ids=ids, seed=0))


def _same_dinuc_sequences(codes):
    target = _dinucs(codes)
    return [
        s
        for s in itertools.product(range(4), repeat=len(codes))
        if s[0] == codes[0] and _dinucs(np.array(s)) == target
    ]


def test_dinucleotide_shuffle_is_uniform():
    codes = np.array([0, 1, 0, 2, 0, 1, 2, 0, 1, 0])
    support = _same_dinuc_sequences(codes)
    assert len(support) > 5
    draws = 6000
    S = onehot_to_codes(dinucleotide_shuffle(codes_to_onehot(codes[None]), draws, seed=11)[0])
    counts = Counter(map(tuple, S.tolist()))
    assert set(counts) <= set(support)
    observed = np.array([counts.get(s, 0) for s in support])
    assert stats.chisquare(observed).pvalue > 1e-3


def test_mononucleotide_shuffle_counts_and_n():
    rng = np.random.default_rng(2)
    codes = _random_codes(rng, 10, 50, 0.1)
    X = codes_to_onehot(codes)
    S = mononucleotide_shuffle(X, 3, seq_ids=list(range(10)), seed=0)
    for i in range(10):
        for k in range(3):
            sc = onehot_to_codes(S[i, k])
            np.testing.assert_array_equal(sc == -1, codes[i] == -1)
            assert Counter(sc.tolist()) == Counter(codes[i].tolist())
    assert (onehot_to_codes(S) != codes[:, None]).any()


def test_mononucleotide_shuffle_is_uniform():
    codes = np.array([0, 0, 1, 2])  # 12 distinct arrangements
    S = onehot_to_codes(mononucleotide_shuffle(codes_to_onehot(codes[None]), 3000, seed=4)[0])
    counts = Counter(map(tuple, S.tolist()))
    assert len(counts) == 12
    assert stats.chisquare(np.array(list(counts.values()))).pvalue > 1e-3


def test_soft_rows_stay_in_place():
    X = codes_to_onehot(np.array([[0, 1, 2, 3, 0, 1, 2, 3]])).astype(np.float32)
    X[0, 3] = 0.25
    for fn in (dinucleotide_shuffle, mononucleotide_shuffle):
        S = fn(X, 2, seed=0)
        np.testing.assert_array_equal(S[0, :, 3], np.full((2, 4), 0.25, np.float32))


def test_bad_shapes_raise():
    from dfimx.errors import InputError

    with pytest.raises(InputError):
        dinucleotide_shuffle(np.zeros((3, 4)), 1)
    with pytest.raises(InputError):
        dinucleotide_shuffle(np.zeros((2, 5, 4)), 1, seq_ids=["a"])
