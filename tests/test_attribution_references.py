"""References: zeros and GC backgrounds as shared rows, seeded dinucleotide shuffles."""

from __future__ import annotations

import numpy as np
import pytest

from dfimx import attribution as A
from dfimx.alphabet import gc_background
from dfimx.attribution.references import as_references
from dfimx.errors import InputError
from dfimx.testing import random_onehot

L = 24


def test_references():
    X = random_onehot(2, L).astype(np.float32)
    gc = A.make_references(X, "gc", gc=0.4, n_references=10)
    assert gc.shape == (2, 1, L, 4)
    np.testing.assert_allclose(gc[0, 0, 0], [0.3, 0.2, 0.2, 0.3], atol=1e-7)
    d = A.make_references(X, "dinuc", n_references=3, seq_ids=["a", "b"])
    assert d.shape == (2, 3, L, 4)
    np.testing.assert_array_equal(d.sum(axis=(2,)), np.repeat(X.sum(axis=1)[:, None], 3, 1))
    with pytest.raises(InputError):
        A.make_references(X, "bogus")
    assert set(A.REFERENCES) == {"zeros", "gc", "dinuc"}


def test_shared_references_are_views_of_the_one_gc_background():
    X = random_onehot(3, L).astype(np.float32)
    gc = A.make_references(X, "gc")
    assert gc.strides[:3] == (0, 0, 0) and not gc.flags.writeable
    np.testing.assert_array_equal(gc[2, 0, 5], gc_background())
    zeros = A.make_references(X, "zeros")
    assert zeros.shape == (3, 1, L, 4) and not zeros.any()


def test_reference_errors_name_the_setting():
    X = random_onehot(1, L).astype(np.float32)
    with pytest.raises(InputError, match="gc must lie between 0 and 1") as exc:
        A.make_references(X, "gc", gc=1.5)
    assert exc.value.option == "gc"
    with pytest.raises(InputError, match="n_references must be at least 1") as exc:
        A.make_references(X, "dinuc", n_references=0)
    assert exc.value.option == "n_references"
    with pytest.raises(InputError, match="unknown reference 'bogus'") as exc:
        A.make_references(X, "bogus")
    assert exc.value.option == "reference"


def test_as_references():
    X = random_onehot(2, L).astype(np.float32)
    assert as_references(X, None).shape == (2, 1, L, 4)
    assert as_references(X, X).shape == (2, 1, L, 4)
    assert as_references(X, np.stack([X, X], axis=1)).shape == (2, 2, L, 4)
    with pytest.raises(InputError, match=r"references must have shape \(N, K, L, 4\)"):
        as_references(X, X[:1])
