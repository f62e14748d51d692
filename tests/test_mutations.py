"""Mutation plans and mutants."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dfimx import variables
from dfimx.errors import InputError
from dfimx.mutants import make_mutants
from dfimx.plans import plan_elements, plan_mut_dict, plan_scan
from dfimx.sequences import from_strings

SEQS = ["ACGTACGTACGTACGTACGT", "TTTTGGGGCCCCAAAATTTT"]


@pytest.fixture
def ds():
    return from_strings(SEQS, ids=["s1", "s2"], chunk_size=1)


def test_elements_plan_pads_and_masks(ds):
    el = pd.DataFrame({
        "seq": ["s1", "s1", "s1", "1"],
        "start": [0, 5, 12, 3], "end": [3, 9, 15, 6],
        "name": ["a", "b", "c", "d"], "role": ["source", "both", "target", None],
    })
    plan = plan_elements(ds, el)
    variables.validate(plan, "mutation_start", "mutation_mask", "response_name", "response_mask")
    assert plan.sizes["mutation"] == 2 and plan.sizes["response"] == 2
    assert plan.mutation_name.values[0].tolist() == ["a", "b"]
    assert plan.mutation_mask.values.tolist() == [[True, True], [True, False]]
    assert plan.response_name.values[0].tolist() == ["b", "c"]
    assert plan.response_name.values[1].tolist() == ["d", ""]
    assert (plan.mutation_alt.values == -1).all()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("s9", 0, 3), r"record 1: unknown sequence 's9'"),
        (("s1", 4, 4), r"record 1: empty element \[4, 4\)"),
        (("s1", 6, 2), r"record 1: reversed element \[6, 2\)"),
        (("s1", 15, 21), r"record 1: element \[15, 21\) lies outside the sequence \(length 20\)"),
        (("s1", -1, 2), r"outside the sequence"),
    ],
)
def test_elements_validation(ds, tmp_path, row, message):
    path = tmp_path / "el.tsv"
    pd.DataFrame([row + ("x",)], columns=["seq", "start", "end", "name"]).to_csv(
        path, sep="\t", index=False)
    with pytest.raises(InputError, match=rf"el\.tsv: {message}" if "record" in message
                       else message):
        plan_elements(ds, str(path))


def test_mut_dict_both_shapes_and_pair_mask(ds, tmp_path):
    records = [
        {"seq": "s1", "mut_start": 0, "mut_end": 3, "mut_name": "a",
         "resp_start": [5, 12], "resp_end": [9, 15], "resp_names": ["b", "c"]},
        {"seq": "s1", "mut_start": 5, "mut_end": 9, "mut_name": "b",
         "resp_start": [0], "resp_end": [3], "resp_names": ["a"]},
    ]
    path = tmp_path / "md.json"
    path.write_text(json.dumps(records))
    plan = plan_mut_dict(ds, str(path))
    assert plan.response_name.values[0].tolist() == ["b", "c", "a"]
    pm = plan.pair_mask.values[0]
    assert pm.tolist() == [[True, True, False], [False, False, True]]
    nested = {"s1": {"a": {k: v for k, v in records[0].items() if k not in ("seq", "mut_name")}}}
    plan2 = plan_mut_dict(ds, nested)
    assert plan2.mutation_name.values[0].tolist() == ["a"]
    bad = [dict(records[0], resp_end=[9])]
    with pytest.raises(InputError, match="record 1: resp_start, resp_end and resp_names"):
        plan_mut_dict(ds, bad)


def test_scan_plan_uses_the_three_alternatives(ds):
    plan = plan_scan(ds, 18, 20)
    assert plan.sizes["mutation"] == 6 and plan.sizes["response"] == 2
    assert plan.mutation_name.values[1].tolist() == ["T>A", "T>C", "T>G"] * 2
    alts = plan.mutation_alt.values
    ref = ds.seq_onehot.values[:, 18:20].argmax(-1)
    for i in range(2):
        for p in range(2):
            a = alts[i, 3 * p: 3 * p + 3]
            assert sorted(a.tolist() + [ref[i, p]]) == [0, 1, 2, 3]
    with pytest.raises(InputError, match="scan window"):
        plan_scan(ds, 15, 25)


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
