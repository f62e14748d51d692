"""Summation-to-delta measures and the record of the last call."""

from __future__ import annotations

import numpy as np
import pytest

from dfimx.attribution import diagnostics as D


def test_violation_from_sums_equals_the_full_measure():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(5, 7, 4, 2)).astype(np.float32)
    fx, fr = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    full = D.summation_delta_violation(c, fx, fr)
    sums = D.violation_from_sums(c.sum(axis=(1, 2)), np.abs(c).sum(axis=(1, 2)), fx, fr)
    np.testing.assert_allclose(full, sums, rtol=1e-6)
    exact = D.summation_delta_violation(c, c.sum(axis=(1, 2)) + fr, fr)
    assert exact[1] < 1e-6


def test_record_and_debug_warning(monkeypatch):
    D.record("deeplift", 0.5, 0.25, 7, debug=False)
    assert D.last_diagnostics() == {"method": "deeplift", "max_abs_violation": 0.5,
                                    "max_rel_violation": 0.25, "n_pairs": 7}
    assert D.last_summation_delta_violation() == 0.25
    with pytest.warns(RuntimeWarning, match="deepshap: summation-to-delta violated"):
        D.record("deepshap", 1.0, 2 * D.DEBUG_TOLERANCE, 1, debug=True)
    monkeypatch.setenv("DFIMX_DEBUG", "yes")
    assert D.debug_enabled(None) and not D.debug_enabled(False)
    monkeypatch.delenv("DFIMX_DEBUG")
    assert not D.debug_enabled(None)
