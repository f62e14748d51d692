"""Mutants: element replacements and single-base substitutions."""

from __future__ import annotations

import numpy as np
import pytest

from dfimx.alphabet import gc_background
from dfimx.errors import InputError
from dfimx.mutants import make_mutants


def test_mutants_modes():
    x = np.eye(4, dtype=np.float32)[[[0, 1, 2, 3, 0, 1]]].repeat(3, axis=0)
    starts, ends = np.array([1, 1, 2]), np.array([4, 4, 3])
    alts = np.array([-1, -1, 3])
    z = make_mutants(x, starts, ends, alts, mode="zeros")
    assert z.shape == (3, 1, 6, 4)
    assert z[0, 0, 1:4].sum() == 0 and (z[0, 0, [0, 4, 5]] == x[0, [0, 4, 5]]).all()
    assert z[2, 0, 2].tolist() == [0, 0, 0, 1]
    g = make_mutants(x, starts, ends, alts, mode="gc", gc=0.4)
    np.testing.assert_allclose(g[0, 0, 2], [0.3, 0.2, 0.2, 0.3])
    s = make_mutants(x, starts, ends, alts, mode="shuffle", n_shuffles=4,
                     seq_ids=["a", "b", "c"], seed=1)
    assert s.shape == (3, 4, 6, 4)
    # shuffles permute the element's bases and keep the rest
    np.testing.assert_array_equal(s[0, :, 1:4].sum(1), np.repeat(x[0, 1:4].sum(0)[None], 4, 0))
    np.testing.assert_array_equal(s[0, :, 0], np.repeat(x[0, :1], 4, 0))
    again = make_mutants(x[:1], starts[:1], ends[:1], alts[:1], mode="shuffle", n_shuffles=4,
                         seq_ids=["a"], seed=1)
    np.testing.assert_array_equal(again[0], s[0])  # seeded per sequence, not per batch


def test_gc_mutant_is_the_one_gc_background():
    x = np.eye(4, dtype=np.float32)[[[0, 1, 2, 3]]]
    g = make_mutants(x, np.array([0]), np.array([4]), np.array([-1]), mode="gc")
    np.testing.assert_array_equal(g[0, 0], np.tile(gc_background(), (4, 1)))
    with pytest.raises(InputError, match="unknown mode 'nope'") as err:
        make_mutants(x, np.array([0]), np.array([4]), np.array([-1]), mode="nope")
    assert err.value.option == "mutation"

