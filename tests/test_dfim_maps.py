"""Score reductions and masks, against sums written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from dfimx.dfim import maps


def test_reductions_by_hand():
    rng = np.random.default_rng(0)
    delta = rng.normal(size=(2, 12, 4, 1)).astype(np.float32)
    starts, ends = np.array([2, 5]), np.array([4, 7])
    masked = maps.mask_source(delta.copy(), starts, ends)
    assert (masked[0, 2:4] == 0).all() and (masked[1, 5:7] == 0).all()
    rs, re = np.array([[0, 8], [0, 9]]), np.array([[2, 12], [4, 12]])
    for reduction in maps.REDUCTIONS:
        got = maps.interval_scores(maps.position_values(masked, reduction), rs, re, reduction)
        for b in range(2):
            for r in range(2):
                window = masked[b, rs[b, r]:re[b, r], :, 0]
                expect = {"sum": window.sum(), "abs_sum": np.abs(window).sum(),
                          "max_abs": np.abs(window).sum(-1).max()}[reduction]
                assert got[b, r, 0] == pytest.approx(expect, rel=1e-5), reduction


def test_profile_is_nan_inside_the_source_and_padding_gives_nan():
    sums = np.ones((1, 6, 1), np.float32)
    prof = maps.profile_from_sums(sums, np.array([1]), np.array([3]))
    assert np.isnan(prof[0, 1:3]).all() and (prof[0, [0, 3, 4, 5]] == 1).all()
    empty = maps.interval_scores(np.ones((1, 6, 1)), np.array([[0]]), np.array([[0]]), "sum")
    assert np.isnan(empty).all()


def test_symmetric_scores_average_both_directions():
    # two elements a=[0,2), b=[4,6), each a source and a target
    start, end, mask = np.array([[0, 4]]), np.array([[2, 6]]), np.array([[True, True]])
    rev = maps.reverse_pairs(start, end, mask, start, end, mask)
    scores = np.array([[[np.nan], [1.0]], [[3.0], [np.nan]]], np.float32)[None, ..., 0][..., None]
    sym = maps.symmetric_scores(scores, *rev)
    assert sym[0, 0, 1, 0] == pytest.approx(2.0) and sym[0, 1, 0, 0] == pytest.approx(2.0)


def test_blocks_of_the_memory_budget_change_no_number(monkeypatch):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(5, 30, 2)).astype(np.float32)
    rs = rng.integers(0, 25, (5, 4))
    re = rs + rng.integers(0, 6, (5, 4))
    start = np.array([[0, 5, 10, 15]] * 3)
    end, mask = start + 3, np.ones((3, 4), bool)
    rev = maps.reverse_pairs(start, end, mask, start, end, mask)
    scores = rng.normal(size=(3, 4, 4, 2, 3)).astype(np.float32)
    scores[:, np.arange(4), np.arange(4)] = np.nan  # self pairs are never scored
    whole = [maps.interval_scores(values, rs, re, r) for r in maps.REDUCTIONS]
    sym = maps.symmetric_scores(scores, *rev)
    monkeypatch.setattr(maps, "TEMP_BUDGET", 1)  # one row (one source) at a time
    for reduction, expect in zip(maps.REDUCTIONS, whole, strict=True):
        np.testing.assert_array_equal(maps.interval_scores(values, rs, re, reduction), expect)
    np.testing.assert_array_equal(maps.symmetric_scores(scores, *rev), sym)
    assert np.isnan(sym[:, 0, 0]).all() and sym[0, 0, 1, 1, 2] == pytest.approx(
        0.5 * (scores[0, 0, 1, 1, 2] + scores[0, 1, 0, 1, 2]))


def test_one_position_targets_take_the_positions_value_in_every_task():
    # a per-base scan: every target is one position; padding targets are empty
    rng = np.random.default_rng(2)
    values = rng.normal(size=(3, 10, 2)).astype(np.float32)
    rs = np.array([[0, 4, 9], [2, 2, 5], [7, 0, 0]])
    re = rs + np.array([[1, 1, 1], [1, 1, 1], [1, 0, 0]])  # last row: two padding targets
    for reduction in maps.REDUCTIONS:
        got = maps.interval_scores(values, rs, re, reduction)
        assert got.shape == (3, 3, 2) and got.dtype == np.float32
        for b in range(3):
            for r in range(3):
                if re[b, r] > rs[b, r]:
                    assert (got[b, r] == values[b, rs[b, r]]).all(), reduction
                else:
                    assert np.isnan(got[b, r]).all(), reduction
    assert not np.isnan(values).any()  # the input is left as it was


@pytest.mark.parametrize("rs, re", [
    (np.arange(3, 9), np.arange(4, 10)),                # a window of consecutive positions
    (np.array([7, 2, 2, 0]), np.array([8, 3, 2, 1])),   # scattered, repeated and empty
    (np.array([0, 4, 9]), np.array([3, 9, 10])),        # elements of several positions
])
def test_targets_shared_by_every_row_score_as_the_same_targets_row_by_row(rs, re):
    # one broadcast row of targets (a per-base scan) takes a faster path: the same numbers
    rng = np.random.default_rng(3)
    values = rng.normal(size=(5, 10, 2)).astype(np.float32)
    shared_s, shared_e = np.broadcast_to(rs, (5, len(rs))), np.broadcast_to(re, (5, len(re)))
    assert shared_s.strides[0] == 0
    for reduction in maps.REDUCTIONS:
        got = maps.interval_scores(values, shared_s, shared_e, reduction)
        expect = maps.interval_scores(values, shared_s.copy(), shared_e.copy(), reduction)
        assert got.dtype == np.float32 and got.shape == expect.shape
        np.testing.assert_array_equal(got, expect, err_msg=reduction)
        got[...] = 0  # a copy: the values are left as they were
    assert not (values == 0).all()
