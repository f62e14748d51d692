"""The context null end to end: local receptive field, validity, one path for p/q-values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dfimx.dfim import compute_dfim
from dfimx.plans import plan_dataset
from dfimx.run import run_dfim
from dfimx.sequences import from_onehot
from dfimx.simulate.classifier import LOCAL_FIELD, local_field_model
from dfimx.stats.pvalues import distance_between
from dfimx.store import open_result, write_store
from dfimx.testing import random_onehot

LENGTH = 160


def _elements(ids, rng, width=6):
    rows = []
    for sid in ids:
        starts = np.sort(rng.choice(np.arange(0, LENGTH - width, width + 2), 4, replace=False))
        rows += [(sid, int(s), int(s) + width, f"el{k}") for k, s in enumerate(starts)]
    return pd.DataFrame(rows, columns=["seq", "start", "end", "name"])


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """A model with a 25-base receptive field on random sequences (untrained, seeded)."""
    d = tmp_path_factory.mktemp("local")
    model = local_field_model(LENGTH, seed=1)
    x = random_onehot(45, LENGTH, seed=3)
    ids = [f"l{i}" for i in range(len(x))]
    elements = _elements(ids, np.random.default_rng(0))
    ds = plan_dataset(from_onehot(x, ids, chunk_size=20), elements=elements)
    store = write_store(compute_dfim(ds, model, null_draws=6, keep_null=True),
                        d / "local.zarr", progress=False)
    return open_result(store).load(), model, x, ids, elements, d


def test_pairs_beyond_the_receptive_field_are_never_significant(local_run):
    out = local_run[0]
    gap = distance_between(out.mutation_start.values, out.mutation_end.values,
                           out.response_start.values, out.response_end.values)[..., None]
    score = out.interaction_score.values
    tested = ~np.isnan(score)
    far, near = tested & (gap >= LOCAL_FIELD), tested & (gap < LOCAL_FIELD - 10)
    assert far.sum() > 150 and near.sum() > 30
    np.testing.assert_array_equal(score[far], 0.0)  # exactly zero beyond the field
    assert (out.interaction_q_value.values[far] >= 0.05).all()
    assert (np.abs(score[near]) > 0).mean() > 0.9
    # near pairs are judged against decoys at their own distance: those are non-zero too
    null = out.null_interaction_score.values
    starts, ends = out.null_decoy_start.values, out.null_decoy_end.values
    s, m, r, _ = np.nonzero(near)
    nonzero = []
    for i, j, k in zip(s, m, r, strict=True):
        dgap = np.maximum(np.maximum(out.response_start.values[i, k] - ends[i, j],
                                     starts[i, j] - out.response_end.values[i, k]), 0)
        close = dgap < LOCAL_FIELD - 10
        values = null[i, j, k, 0][close & ~np.isnan(null[i, j, k, 0])]
        nonzero.extend(np.abs(values) > 0)
    assert len(nonzero) > 30 and np.mean(nonzero) > 0.9


def test_python_path_gives_the_same_p_and_q_values_as_run_dfim(local_run):
    out, model, x, ids, elements, d = local_run
    store = run_dfim(model, from_onehot(x, ids, chunk_size=20), elements=elements,
                     output=str(d / "run.zarr"), progress=False, null_draws=6)
    ran = open_result(store)
    assert "null_interaction_score" not in ran  # dropped by default
    for name in ("interaction_score", "interaction_p_value", "interaction_q_value",
                 "interaction_effect_size"):
        np.testing.assert_array_equal(ran[name].values, out[name].values, err_msg=name)
    assert ran.attrs["null"] == "context" and ran.attrs["null_level"] == "distance"


def test_context_p_and_q_values_do_not_depend_on_chunks(local_run):
    out, model, x, ids, elements, d = local_run
    ds = plan_dataset(from_onehot(x, ids, chunk_size=7), elements=elements)
    other = open_result(write_store(compute_dfim(ds, model, null_draws=6), d / "c7.zarr",
                                    progress=False))
    for name in ("interaction_p_value", "interaction_q_value"):
        np.testing.assert_array_equal(other[name].values, out[name].values, err_msg=name)
    # the scores themselves agree to float32 round-off of the model's batched calls
    np.testing.assert_allclose(other.interaction_score.values, out.interaction_score.values,
                               rtol=1e-3, atol=1e-8)
