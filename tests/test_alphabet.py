"""The alphabet: one-hot conventions and the GC background."""

from __future__ import annotations

import numpy as np
import pytest

from dfimx.alphabet import (
    BASE_LOOKUP,
    DEFAULT_GC,
    codes_to_onehot,
    gc_background,
    onehot_to_codes,
    onehot_to_strings,
)


def test_codes_onehot_strings_round_trip():
    codes = np.array([[0, 1, 2, 3, -1]])
    onehot = codes_to_onehot(codes)
    assert onehot.sum() == 4 and onehot[0, 4].sum() == 0
    np.testing.assert_array_equal(onehot_to_codes(onehot), codes)
    assert onehot_to_strings(onehot) == ["ACGTN"]
    assert BASE_LOOKUP[ord("g")] == 2 and BASE_LOOKUP[ord("N")] == -1
    assert BASE_LOOKUP[ord("Z")] == -2


def test_gc_background_sums_to_one_with_the_gc_fraction():
    for gc in (0.0, DEFAULT_GC, 1.0):
        row = gc_background(gc)
        assert row.dtype == np.float32 and row.sum() == pytest.approx(1.0)
        assert row[1] + row[2] == pytest.approx(gc) and row[0] == row[3]
    with pytest.raises(ValueError, match="between 0 and 1"):
        gc_background(1.2)
