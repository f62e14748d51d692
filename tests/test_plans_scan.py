"""Per-base plans of a window."""

from __future__ import annotations

import pytest

from dfimx.errors import InputError
from dfimx.plans import plan_dataset, plan_scan


def test_scan_plan_uses_the_three_alternatives(two_sequences):
    plan = plan_scan(two_sequences, 18, 20)
    assert plan.sizes["mutation"] == 6 and plan.sizes["response"] == 2
    assert plan.mutation_name.values[1].tolist() == ["T>A", "T>C", "T>G"] * 2
    alts = plan.mutation_alt.values
    ref = two_sequences.seq_onehot.values[:, 18:20].argmax(-1)
    for i in range(2):
        for p in range(2):
            a = alts[i, 3 * p: 3 * p + 3]
            assert sorted(a.tolist() + [ref[i, p]]) == [0, 1, 2, 3]
    with pytest.raises(InputError, match="scan window"):
        plan_scan(two_sequences, 15, 25)


def test_plan_dataset_takes_exactly_one_plan(two_sequences):
    assert plan_dataset(two_sequences, scan="2:4").sizes["mutation"] == 6
    assert plan_dataset(two_sequences, scan=(2, 4)).attrs["scan"] == "2:4"
    with pytest.raises(InputError, match="exactly one") as err:
        plan_dataset(two_sequences)
    assert err.value.option == "plan"
    with pytest.raises(InputError, match="expected START:END") as err:
        plan_dataset(two_sequences, scan="2-4")
    assert err.value.option == "scan"

