"""The DFIM kernel on arrays: explicit mutants and attributions, and chunk independence."""

from __future__ import annotations

import numpy as np
import pytest

from dfimx.attribution import attribute
from dfimx.dfim.kernel import dfim_block
from dfimx.models import ModelSpec
from dfimx.settings import Settings
from dfimx.testing import assert_same_to_round_off, block_inputs_of


@pytest.fixture(scope="module")
def block_inputs(oracle_files):
    X = oracle_files["onehot"].astype(np.float32)
    n = len(X)
    ms = np.tile([[0, 10]], (n, 1))
    me = np.tile([[4, 16]], (n, 1))
    rs = np.tile([[10, 25, 36]], (n, 1))
    re = np.tile([[16, 30, 40]], (n, 1))
    return dict(onehot=X, seq_ids=np.array(oracle_files["ids"]), mut_start=ms, mut_end=me,
                mut_alt=np.full((n, 2), -1, np.int8), mut_mask=np.ones((n, 2), bool),
                resp_start=rs, resp_end=re, resp_mask=np.ones((n, 3), bool), pair_mask=None)


def _rows(inputs, rows):
    return {k: (v[rows] if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}


def test_scores_equal_explicit_mutants_and_attributions(block_inputs, oracle_files):
    spec = ModelSpec.from_path(oracle_files["model"])
    settings = Settings(method="grad_x_input", mutation="zeros", null="none").validate()
    out = dfim_block(**block_inputs, spec=spec, settings=settings)
    X = block_inputs["onehot"]
    scorer = spec.load()
    imp0 = attribute(scorer, X, method="grad_x_input")
    mutant = X.copy()
    mutant[:, 0:4] = 0  # source 0 replaced by zeros
    imp1 = attribute(scorer, mutant, method="grad_x_input")
    delta = (imp0 - imp1).reshape(imp0.shape[:3] + (-1,))
    expect = delta[:, 25:30].sum(axis=(1, 2))  # target 1 = [25, 30)
    np.testing.assert_allclose(out["interaction_score"][:, 0, 1], expect, rtol=1e-4, atol=1e-6)
    # target 0 = [10, 16) overlaps source 1 = [10, 16): not scored
    assert np.isnan(out["interaction_score"][:, 1, 0]).all()


def test_chunking_never_changes_the_numbers(block_inputs, oracle_files):
    spec = ModelSpec.from_path(oracle_files["model"])
    settings = Settings(method="grad_x_input", mutation="shuffle", null_draws=2).validate()
    whole = dfim_block(**block_inputs, spec=spec, settings=settings)
    parts = [dfim_block(**_rows(block_inputs, rows), spec=spec, settings=settings)
             for rows in (slice(0, 2), slice(2, None))]
    for name in ("interaction_score", "null_interaction_score", "mutant_prediction"):
        np.testing.assert_allclose(np.concatenate([p[name] for p in parts]), whole[name],
                                   rtol=1e-5, atol=1e-6, equal_nan=True)


def test_kernel_temporaries_do_not_grow_with_pairs_of_elements(monkeypatch):
    """Finding 11a: one sequence with many elements; beyond its outputs (the (M, R) scores
    and their null by contract), the kernel's numpy temporaries stay within its budgets
    instead of growing with the pairs of elements (the null stacked from a list, the
    symmetric scores built from (M, R) index arrays, each group's copies of the original).
    """
    import tracemalloc

    from dfimx.dfim import kernel, maps
    from dfimx.models import model_spec_for
    from dfimx.testing import random_onehot, small_cnn

    length, n_el, draws = 1000, 500, 8
    spec = model_spec_for(small_cnn(length=length))
    starts = np.arange(n_el)[None] * 2  # 500 one-base elements, each a source and a target
    inputs = dict(
        onehot=random_onehot(1, length, seed=2).astype(np.float32), seq_ids=np.array(["s"]),
        mut_start=starts, mut_end=starts + 1, mut_alt=np.full((1, n_el), -1, np.int8),
        mut_mask=np.ones((1, n_el), bool), resp_start=starts, resp_end=starts + 1,
        resp_mask=np.ones((1, n_el), bool), pair_mask=None)
    settings = Settings(method="grad_x_input", null_draws=draws).validate()
    budget = 1 << 20
    monkeypatch.setattr(kernel, "GROUP_BUDGET", budget, raising=False)
    monkeypatch.setattr(maps, "TEMP_BUDGET", budget, raising=False)
    dfim_block(**inputs, spec=spec, settings=settings, symmetric=True)  # the model traced
    tracemalloc.start()
    try:
        out = dfim_block(**inputs, spec=spec, settings=settings, symmetric=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    outputs = sum(a.nbytes for a in out.values())  # ~20 MB, 16 MB of them null scores
    assert outputs > 16 * budget
    # the budgets, the one-byte (M, R) pair masks, one null draw's scores: nothing more
    # (before: 29 MB, more than the outputs; now 2 MB)
    assert peak - outputs < 4 * budget + 4 * n_el * n_el + outputs / draws
    expect = dict(out)
    monkeypatch.undo()
    again = dfim_block(**inputs, spec=spec, settings=settings, symmetric=True)
    for name, values in expect.items():  # the budgets change no number beyond round-off
        assert_same_to_round_off(again[name], values, name=name)


def test_per_base_scan_equals_explicit_substitutions(oracle_files):
    """A per-base scan (single-base sources and targets) against an explicit loop: every
    substitution attributed on its own, Δ = original - mutant summed over bases per
    target position; and the fast path (per-position sums) equals the per-base path
    (taken when Δ is kept) to float32 round-off."""
    from dfimx.mutants import make_mutants
    from dfimx.plans import plan_scan
    from dfimx.sequences import from_onehot

    X = oracle_files["onehot"][:2].astype(np.float32)
    ds = plan_scan(from_onehot(X), 10, 18).compute()
    inputs = block_inputs_of(ds)
    spec = ModelSpec.from_path(oracle_files["model"])
    settings = Settings(method="grad_x_input", null="none").validate()
    fast = dfim_block(**inputs, spec=spec, settings=settings)
    per_base = dfim_block(**inputs, spec=spec, settings=Settings(
        method="grad_x_input", null="none", keep_delta=True).validate())
    scorer = spec.load()
    imp0 = attribute(scorer, X, method="grad_x_input")
    ms, alt = inputs["mut_start"], inputs["mut_alt"]
    for i in range(len(X)):
        mut = make_mutants(np.repeat(X[i : i + 1], ms.shape[1], 0), ms[i], ms[i] + 1,
                           alt[i])[:, 0]
        delta = (imp0[i][None] - attribute(scorer, mut, method="grad_x_input")).sum(-1)
        delta[np.arange(len(mut)), ms[i]] = np.nan  # the source itself
        np.testing.assert_allclose(fast["interaction_profile"][i, :, :, 0], delta,
                                   rtol=1e-5, atol=1e-6)
        expect = delta[:, 10:18]  # targets: each position of the window
        got = fast["interaction_score"][i, :, :, 0]
        ok = ~np.isnan(expect)
        np.testing.assert_allclose(got[ok], expect[ok], rtol=1e-4, atol=1e-6)
        assert np.isnan(got[~ok]).all()
    for name in ("interaction_score", "interaction_profile", "mutant_prediction"):
        np.testing.assert_allclose(fast[name], per_base[name], rtol=1e-5, atol=1e-6,
                                   equal_nan=True, err_msg=name)


def test_masked_sources_and_targets_of_a_scan_leave_the_others_unchanged(oracle_files):
    """Sources masked here and there (N bases) break the runs of consecutive outputs that
    the kernel writes as slices: the outputs of the other sources are those of the
    unmasked scan, and the masked ones stay NaN."""
    from dfimx.plans import plan_scan
    from dfimx.sequences import from_onehot

    X = oracle_files["onehot"][:3].astype(np.float32)
    ds = plan_scan(from_onehot(X), 10, 30).compute()
    inputs = block_inputs_of(ds)
    spec = ModelSpec.from_path(oracle_files["model"])
    settings = Settings(method="grad_x_input", null="none").validate()
    whole = dfim_block(**inputs, spec=spec, settings=settings, batch_size=16)
    mask = inputs["mut_mask"].copy()
    mask[0, 5:9] = mask[1, ::7] = mask[2, -3:] = False
    holes = dfim_block(**{**inputs, "mut_mask": mask}, spec=spec, settings=settings,
                       batch_size=16)
    for name in ("interaction_score", "interaction_profile", "mutant_prediction"):
        np.testing.assert_allclose(holes[name][mask], whole[name][mask], rtol=1e-5,
                                   atol=1e-6, equal_nan=True, err_msg=name)
        assert np.isnan(holes[name][~mask]).all(), name


@pytest.mark.parametrize("mutation", ["zeros", "gc"])
def test_sums_inside_the_model_leave_every_output_unchanged(block_inputs, oracle_files,
                                                            monkeypatch, mutation):
    """The kernel's sum path (the method's ``position_sums``) against the same method
    without it (full attributions, summed in numpy): the same bits in every output."""
    import dataclasses

    from dfimx.dfim import kernel

    spec = ModelSpec.from_path(oracle_files["model"])
    settings = Settings(method="grad_x_input", mutation=mutation, null="dinuc",
                        null_draws=2).validate()
    # the mutants by full passes in both runs (their patched pass is tested against full
    # passes in test_attribution_edits.py)
    methods = dict(kernel.METHODS)
    methods["grad_x_input"] = dataclasses.replace(methods["grad_x_input"], edit_sums=None)
    monkeypatch.setattr(kernel, "METHODS", methods)
    fast = dfim_block(**block_inputs, spec=spec, settings=settings)
    methods = dict(methods)
    methods["grad_x_input"] = dataclasses.replace(methods["grad_x_input"], position_sums=None)
    monkeypatch.setattr(kernel, "METHODS", methods)
    full = dfim_block(**block_inputs, spec=spec, settings=settings)
    assert set(fast) == set(full)
    for name in full:
        np.testing.assert_array_equal(fast[name], full[name], err_msg=name)
