"""Gradients of edited sequences from their originals' forward pass (dfimx.attribution.edits).

The oracle is the plain gradient of each mutant, a full forward and backward pass
(:func:`dfimx.attribution.backprop.gradient_position_sums`).
"""

from __future__ import annotations

import numpy as np
import pytest

from dfimx.attribution import METHODS
from dfimx.attribution.backprop import gradient_position_sums
from dfimx.attribution.edits import edit_plan, edit_position_sums
from dfimx.models import build_scorer

L = 120


@pytest.fixture(autouse=True)
def patch_every_convolution(monkeypatch):
    """The test nets are small: patch each of their convolutions, however cheap."""
    from dfimx.attribution import edits

    monkeypatch.setattr(edits, "MIN_SAVED_WORK", 0)


def _net(kind: str, tasks: int = 1):
    import keras

    init = keras.initializers
    inp = keras.Input((L, 4))
    x = inp
    if kind == "pooled":  # conv / max-pool blocks, a dense head (the bench's mid net, smaller)
        for i, (width, pool) in enumerate(((9, 4), (5, 2))):
            x = keras.layers.Conv1D(16, width, padding="same", activation="relu",
                                    kernel_initializer=init.GlorotUniform(i),
                                    bias_initializer=init.RandomNormal(0.0, 0.1, seed=i))(x)
            x = keras.layers.MaxPooling1D(pool)(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(8, activation="relu", kernel_initializer=init.GlorotUniform(5))(x)
    elif kind == "dilated":  # residual dilated convolutions, a global average
        x = keras.layers.Conv1D(8, 7, padding="same", activation="relu",
                                kernel_initializer=init.GlorotUniform(0))(x)
        for i, d in enumerate((2, 4)):
            c = keras.layers.Conv1D(8, 3, dilation_rate=d, padding="same", activation="relu",
                                    kernel_initializer=init.GlorotUniform(1 + i))(x)
            x = keras.layers.Add()([x, c])
        x = keras.layers.GlobalAveragePooling1D()(x)
    elif kind == "valid":  # unpadded convolutions, an activation layer, batch norm
        x = keras.layers.Conv1D(8, 11, kernel_initializer=init.GlorotUniform(0))(x)
        x = keras.layers.BatchNormalization(
            beta_initializer=init.RandomNormal(0.0, 0.5, seed=3),
            moving_variance_initializer=init.Constant(0.5))(x)
        x = keras.layers.Activation("elu")(x)
        x = keras.layers.Conv1D(8, 5, activation="tanh",
                                kernel_initializer=init.GlorotUniform(1))(x)
        x = keras.layers.GlobalMaxPooling1D()(x)
    else:  # no convolution: the plain pass
        x = keras.layers.Dense(4, activation="relu")(keras.layers.Flatten()(x))
    out = keras.layers.Dense(tasks, kernel_initializer=init.GlorotUniform(9))(x)
    return build_scorer(keras.Model(inp, out))


def _edits(X: np.ndarray, widths=(1,), seed: int = 0):
    """Edits at both ends and inside: substitutions (width 1) and zeroed stretches."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(len(X)):
        for w in widths:
            for start in sorted({0, 1, L // 2, int(rng.integers(0, L - w)), L - w - 1, L - w}):
                rows.append((i, start, start + w))
    edits = np.array(rows)
    mutants = X[edits[:, 0]].copy()
    for b, (_, start, end) in enumerate(edits):
        if end - start == 1:  # another base
            mutants[b, start] = np.roll(mutants[b, start], 1 + b % 3)
        else:
            mutants[b, start:end] = 0.0
    return edits, mutants


def _onehot(n: int, seed: int = 0) -> np.ndarray:
    return np.eye(4, dtype=np.float32)[np.random.default_rng(seed).integers(0, 4, (n, L))]


def _scan_block(X: np.ndarray, start: int, end: int) -> dict:
    """The arguments of :func:`dfimx.dfim.kernel.dfim_block` for a per-base scan of
    ``[start, end)`` (every position, its three other bases)."""
    from dfimx.plans import plan_scan
    from dfimx.sequences import from_onehot

    plan = plan_scan(from_onehot(X), start, end).compute()
    names = {"mut_start": "mutation_start", "mut_end": "mutation_end",
             "mut_alt": "mutation_alt", "mut_mask": "mutation_mask",
             "resp_start": "response_start", "resp_end": "response_end",
             "resp_mask": "response_mask"}
    inputs = {name: plan[key].values.copy() for name, key in names.items()}
    inputs.update(onehot=X, seq_ids=plan["seq"].values.astype(str), pair_mask=None)
    return inputs


def _assert_like_plain(got, want):
    for g, w in zip(got, want, strict=True):
        scale = float(np.abs(w).max())
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("kind", ["pooled", "dilated", "valid"])
@pytest.mark.parametrize("times_input", [False, True])
def test_patched_pass_equals_the_plain_gradient_of_each_mutant(kind, times_input):
    scorer = _net(kind)
    assert edit_plan(scorer, L) is not None  # the patched pass serves these models
    X = _onehot(3)
    edits, mutants = _edits(X, widths=(1, 6, 13))
    got = edit_position_sums(scorer, X, edits, mutants, batch_size=64, times_input=times_input)
    want = gradient_position_sums(scorer, mutants, batch_size=64, times_input=times_input)
    _assert_like_plain(got, want)
    # and the map is not trivially the original's: the edits change the gradients
    orig = gradient_position_sums(scorer, X[edits[:, 0]], batch_size=64)[0]
    assert np.abs(want[0] - orig).max() > 100 * np.abs(got[0] - want[0]).max()


def test_several_tasks():
    scorer = _net("pooled", tasks=3)
    X = _onehot(2, seed=1)
    edits, mutants = _edits(X)
    got = edit_position_sums(scorer, X, edits, mutants, times_input=True)
    want = gradient_position_sums(scorer, mutants, times_input=True)
    assert got[0].shape == (len(mutants), L, 3)
    _assert_like_plain(got, want)


def test_a_model_without_convolutions_takes_the_plain_pass():
    scorer = _net("dense")
    assert edit_plan(scorer, L) is None
    X = _onehot(2)
    edits, mutants = _edits(X)
    got = edit_position_sums(scorer, X, edits, mutants, times_input=True)
    want = gradient_position_sums(scorer, mutants, times_input=True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_a_row_gives_the_same_bits_whatever_it_is_batched_with():
    scorer = _net("pooled")
    X = _onehot(4, seed=2)
    edits, mutants = _edits(X, widths=(1, 6))
    whole = edit_position_sums(scorer, X, edits, mutants, batch_size=256)
    order = np.random.default_rng(0).permutation(len(edits))
    parts = [edit_position_sums(scorer, X, edits[part], mutants[part], batch_size=64)
             for part in np.array_split(order, 3)]
    for k in range(3):
        got = np.empty_like(whole[k])
        got[order] = np.concatenate([p[k] for p in parts])
        np.testing.assert_array_equal(got, whole[k])


def _both_routes(monkeypatch, name: str, inputs: dict, settings) -> tuple[dict, dict, list]:
    """The kernel on ``inputs`` with the method's patched pass (and the originals of the
    rows it took) and without it; the scores and predictions agree to round-off."""
    from dataclasses import replace

    from dfimx.dfim.kernel import dfim_block
    from dfimx.models import model_spec_for

    spec = model_spec_for(_net("pooled").model)
    method = METHODS[name]
    rows = []

    def counted(scorer, X, edits, mutants, **kwargs):
        rows.extend(edits[:, 0].tolist())
        return method.edit_sums(scorer, X, edits, mutants, **kwargs)

    monkeypatch.setitem(METHODS, name, replace(method, edit_sums=counted))
    patched = dfim_block(**inputs, spec=spec, settings=settings)
    monkeypatch.setitem(METHODS, name, replace(method, edit_sums=None))
    plain = dfim_block(**inputs, spec=spec, settings=settings)
    for key in ("interaction_score", "mutant_prediction"):
        want = plain[key]
        np.testing.assert_allclose(patched[key], want, rtol=0, equal_nan=True,
                                   atol=1e-5 * float(np.nanmax(np.abs(want))))
    return patched, plain, rows


def test_per_base_scan_takes_the_patched_pass_and_matches_the_plain_one(monkeypatch):
    from dfimx.settings import Settings

    inputs = _scan_block(_onehot(3, seed=3), 40, 70)
    settings = Settings(method="grad_x_input", null="none").validate()
    _, _, rows = _both_routes(monkeypatch, "grad_x_input", inputs, settings)
    assert len(rows) == int(inputs["mut_mask"].sum())  # every mutant, none twice


def test_a_convolution_cheaper_than_its_patch_keeps_its_pass(monkeypatch):
    from dfimx.attribution import edits

    monkeypatch.setattr(edits, "MIN_SAVED_WORK", 50)
    # multiplications saved per copied value, width x channels x (1 - span / length):
    # dilated net, Conv1D(8, 7) over 4 channels 7 x 4 x (1 - 7/120) = 26, its dilated
    # Conv1D(8, 3) over 8 channels below 24
    assert edit_plan(_net("dilated"), L) is None
    # pooled net: Conv1D(16, 9) over 4 channels 9 x 4 x (1 - 9/120) = 33, not patched;
    # Conv1D(16, 5) over 16 channels after a 4-fold pooling 5 x 16 x (1 - 7/30) = 61, patched
    plan = edit_plan(_net("pooled"), L)
    assert plan is not None and len(plan.windows) == 1


@pytest.mark.parametrize("kind", ["pooled", "dilated", "valid"])
@pytest.mark.parametrize("maxpool", ["exact", "gradient"])
def test_patched_deeplift_equals_deeplift_of_each_mutant(kind, maxpool):
    from dfimx.attribution import last_diagnostics
    from dfimx.attribution.deeplift import deeplift_scores
    from dfimx.attribution.edits import edit_deeplift_sums, rescale_edit_plan
    from dfimx.attribution.registry import base_sums
    from dfimx.attribution.rules import Rules

    scorer = _net(kind, tasks=2)
    # the patched pass serves DeepLIFT on these models (no fallback to the plain one)
    assert rescale_edit_plan(scorer, L, Rules("rescale", "deeplift", maxpool)) is not None
    X = _onehot(3, seed=4)
    edits, mutants = _edits(X, widths=(1, 6))
    gc = np.tile(np.array([0.3, 0.2, 0.2, 0.3], np.float32), (L, 1))
    got = edit_deeplift_sums(scorer, X, edits, mutants, gc, batch_size=64, maxpool=maxpool)
    violation = last_diagnostics()
    scores, outputs = deeplift_scores(scorer, mutants, np.broadcast_to(gc, mutants.shape),
                                      batch_size=64, maxpool=maxpool, return_outputs=True)
    _assert_like_plain(got, (*base_sums(scores), outputs))
    # the summation-to-delta check of the patched pass is recorded, as the plain one's
    assert violation["n_pairs"] == len(mutants)
    if maxpool == "exact":
        assert violation["max_rel_violation"] < 1e-4


def test_per_base_deeplift_scan_takes_the_patched_pass(monkeypatch):
    """The default method of per-base scans, DeepLIFT against the GC reference."""
    from dfimx.settings import Settings

    inputs = _scan_block(_onehot(2, seed=5), 50, 70)
    settings = Settings(method="deeplift", reference="gc", null="none").validate()
    _, _, rows = _both_routes(monkeypatch, "deeplift", inputs, settings)
    assert len(rows) == int(inputs["mut_mask"].sum())


def test_only_sequences_with_many_sources_take_the_patched_pass(monkeypatch):
    """A sequence with few sources would pay for its original's extra forward pass: its
    mutants take full passes, decided per sequence (so in any chunking)."""
    from dfimx.dfim import kernel
    from dfimx.settings import Settings

    inputs = _scan_block(_onehot(3, seed=6), 50, 70)
    keep = np.flatnonzero(inputs["mut_mask"][1])[: kernel.MIN_EDITS_PER_SEQUENCE - 1]
    inputs["mut_mask"][1] = False
    inputs["mut_mask"][1, keep] = True  # the middle sequence: too few sources
    monkeypatch.setattr(kernel, "GROUP_BUDGET", 40 * 120 * 16 * 3)  # groups span sequences
    settings = Settings(method="grad_x_input", null="none").validate()
    mixed, plain, rows = _both_routes(monkeypatch, "grad_x_input", inputs, settings)
    assert sorted(set(rows)) == [0, 2]
    assert len(rows) == int(inputs["mut_mask"][[0, 2]].sum())
    # the middle sequence took full passes: the same bits as without the patched pass
    np.testing.assert_array_equal(mixed["interaction_score"][1], plain["interaction_score"][1])


def test_mixed_groups_under_a_null_take_both_routes(monkeypatch):
    """DeepLIFT-GC with a dinucleotide null: null passes keep no predictions, and a group
    that mixes both routes joins them all the same."""
    from dfimx.dfim import kernel
    from dfimx.settings import Settings

    inputs = _scan_block(_onehot(3, seed=7), 50, 70)
    keep = np.flatnonzero(inputs["mut_mask"][1])[: kernel.MIN_EDITS_PER_SEQUENCE - 1]
    inputs["mut_mask"][1] = False
    inputs["mut_mask"][1, keep] = True
    monkeypatch.setattr(kernel, "GROUP_BUDGET", 40 * 120 * 16 * 4)
    settings = Settings(method="deeplift", reference="gc", null="dinuc",
                        null_draws=2).validate()
    mixed, plain, rows = _both_routes(monkeypatch, "deeplift", inputs, settings)
    assert {0, 2} <= set(rows) and 1 not in rows
    want = plain["null_interaction_score"]
    np.testing.assert_allclose(mixed["null_interaction_score"], want, rtol=0, equal_nan=True,
                               atol=1e-5 * float(np.nanmax(np.abs(want))))
