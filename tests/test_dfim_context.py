"""The context-matched null: decoy placement, matching, seeding, cost, kernel output."""

from __future__ import annotations

import dataclasses

import numpy as np

from dfimx.dfim import kernel
from dfimx.dfim.context import decoy_sources
from dfimx.settings import Settings
from dfimx.stats.pvalues import DEFAULT_DISTANCE_BINS
from dfimx.testing import random_onehot

EDGES = np.asarray(DEFAULT_DISTANCE_BINS)


def _bin(gap):
    return int(np.searchsorted(EDGES, gap, "right") - 1)


def _gap(a, b, c, d):
    return max(c - b, a - d, 0)


def _plan(n=3, length=200):
    """Three elements per sequence (8, 10 and 6 bases), all sources and targets."""
    rng = np.random.default_rng(4)
    starts = np.stack([np.sort(rng.choice(np.arange(0, length - 12, 12), 3, replace=False))
                       for _ in range(n)])
    widths = np.array([8, 10, 6])
    ends = starts + widths
    mask = np.ones((n, 3), bool)
    valid = np.ones((n, 3, 3), bool)
    valid[:, np.arange(3), np.arange(3)] = False
    return starts, ends, mask, valid


def test_decoys_avoid_elements_keep_length_and_match_the_distance_bin():
    n, length = 3, 200
    X = random_onehot(n, length, seed=1).astype(np.float32)
    X[0, 100:104] = 0  # an N run: never inside a decoy
    starts, ends, mask, valid = _plan(n, length)
    alt = np.full((n, 3), -1)
    ids = [f"s{i}" for i in range(n)]
    for k in range(6):
        dec = decoy_sources(X, ids, starts, ends, alt, mask, starts, ends, mask, valid, k)
        assert dec["mask"].all()
        np.testing.assert_array_equal(dec["end"] - dec["start"], ends - starts)
        for i in range(n):
            for m in range(3):
                a, b = dec["start"][i, m], dec["end"][i, m]
                assert not ((starts[i] < b) & (ends[i] > a)).any()  # no element overlap
                assert X[i, a:b].sum(axis=1).all()  # no N
                assert dec["widened"][i, m] == 0
                for r in range(3):
                    same = _bin(_gap(a, b, starts[i, r], ends[i, r])) == _bin(
                        _gap(starts[i, m], ends[i, m], starts[i, r], ends[i, r]))
                    assert dec["matched"][i, m, r] == (same and valid[i, m, r])
                assert dec["matched"][i, m].any()  # its own target r_k always


def test_decoys_are_seeded_per_sequence_not_per_chunk():
    n, length = 3, 200
    X = random_onehot(n, length, seed=2).astype(np.float32)
    starts, ends, mask, valid = _plan(n, length)
    alt = np.full((n, 3), -1)
    ids = ["a", "b", "c"]
    whole = decoy_sources(X, ids, starts, ends, alt, mask, starts, ends, mask, valid, 2, seed=3)
    part = decoy_sources(X[1:], ids[1:], starts[1:], ends[1:], alt[1:], mask[1:], starts[1:],
                         ends[1:], mask[1:], valid[1:], 2, seed=3)
    for key in ("start", "alt", "matched"):
        np.testing.assert_array_equal(whole[key][1:], part[key])
    other = decoy_sources(X, ids, starts, ends, alt, mask, starts, ends, mask, valid, 2, seed=4)
    assert not np.array_equal(whole["start"], other["start"])


def test_the_bin_is_widened_and_recorded_when_no_position_qualifies():
    # a 60-base sequence: source 0-5, target 50-55, gap 45 (bin 20-50); the only free
    # stretch lies next to the target (gap < 10): the match widens by two bins (5-10)
    length = 60
    X = random_onehot(1, length, seed=3).astype(np.float32)
    X[0, 5:40] = 0
    dec = decoy_sources(X, ["s"], np.array([[0]]), np.array([[5]]), np.array([[-1]]),
                        np.array([[True]]), np.array([[50]]), np.array([[55]]),
                        np.array([[True]]), np.ones((1, 1, 1), bool), 0)
    a = int(dec["start"][0, 0])
    assert 40 <= a <= 45 or a >= 55
    gap = _gap(a, a + 5, 50, 55)
    assert int(dec["widened"][0, 0]) == abs(_bin(gap) - _bin(45)) > 0
    assert dec["matched"][0, 0, 0]  # its own target, recorded as widened


def test_single_base_decoys_change_the_base():
    X = random_onehot(2, 100, seed=5).astype(np.float32)
    s = np.array([[40], [60]])
    targets = np.array([[70], [20]])
    for k in range(8):
        dec = decoy_sources(X, ["x", "y"], s, s + 1, np.array([[1], [3]]), np.ones((2, 1), bool),
                            targets, targets + 1, np.ones((2, 1), bool), np.ones((2, 1, 1), bool),
                            k)
        for i in range(2):
            p = dec["start"][i, 0]
            assert dec["alt"][i, 0] != X[i, p].argmax() and 0 <= dec["alt"][i, 0] < 4
            assert p not in (s[i, 0], targets[i, 0])


def _count_rows(monkeypatch):
    """Count the rows every attribution call of the kernel takes."""
    rows = []
    method = kernel.METHODS["grad_x_input"]
    inner, inner_sums, inner_edits = method.kernel, method.position_sums, method.edit_sums

    def counted(scorer, inputs, **kw):
        rows.append(len(inputs))
        return inner(scorer, inputs, **kw)

    def counted_sums(scorer, inputs, **kw):
        rows.append(len(inputs))
        return inner_sums(scorer, inputs, **kw)

    def counted_edits(scorer, X, edits, mutants, **kw):  # mutants from their originals
        rows.append(len(mutants))
        return inner_edits(scorer, X, edits, mutants, **kw)

    orig_attr = kernel.attribute_and_predict

    def counted_ap(name, scorer, inputs, **kw):
        rows.append(len(inputs))
        return orig_attr(name, scorer, inputs, **kw)

    methods = dict(kernel.METHODS)
    methods["grad_x_input"] = dataclasses.replace(method, kernel=counted,
                                                  position_sums=counted_sums,
                                                  edit_sums=counted_edits)
    monkeypatch.setattr(kernel, "METHODS", methods)
    monkeypatch.setattr(kernel, "attribute_and_predict", counted_ap)
    return rows


def test_context_null_costs_fewer_attribution_passes_than_dinuc(monkeypatch):
    from dfimx.models import model_spec_for
    from dfimx.testing import small_cnn

    n, length, k = 3, 200, 5
    spec = model_spec_for(small_cnn(length=length))
    X = random_onehot(n, length, seed=6).astype(np.float32)
    starts, ends, mask, _ = _plan(n, length)
    args = dict(onehot=X, seq_ids=np.array(["a", "b", "c"]), mut_start=starts, mut_end=ends,
                mut_alt=np.full((n, 3), -1, np.int8), mut_mask=mask, resp_start=starts,
                resp_end=ends, resp_mask=mask, pair_mask=None)
    rows = _count_rows(monkeypatch)
    cost = {}
    out = {}
    for null in ("context", "dinuc"):
        rows.clear()
        settings = Settings(method="grad_x_input", null=null, null_draws=k).validate()
        out[null] = kernel.dfim_block(**args, spec=spec, settings=settings)
        cost[null] = sum(rows)
    m = int(mask.sum())
    assert cost["dinuc"] == n + m + k * (n + m)  # K shuffled originals and their mutants
    assert cost["context"] == n + m + k * m  # the original once, one decoy per source/draw
    null = out["context"]["null_interaction_score"]
    assert null.shape == (n, 3, 3, 1, k)
    score = out["context"]["interaction_score"]
    assert np.isnan(null[np.isnan(score)]).all()  # no null where there is no test
    assert (~np.isnan(null)).any(axis=-1)[~np.isnan(score)].all()  # every test has a null
    np.testing.assert_array_equal(out["context"]["null_decoy_widening"], 0)
