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



def test_scan_window_refers_to_the_record_under_length():
    """Finding 6 for scans: the window START:END is in each record's frame."""
    from dfimx.sequences import from_strings

    ds = from_strings(["GGGGACGTCC", "ACGTCCAA"], ids=["a", "b"], length=6)  # offsets 2, 1
    plan = plan_scan(ds, 4, 6)
    for i, record in enumerate(["GGGGACGTCC", "ACGTCCAA"]):
        starts = plan.mutation_start.values[i][::3]
        x = plan.seq_onehot.values[i]
        assert "".join("ACGT"[x[p].argmax()] for p in starts) == record[4:6]
    assert plan.mutation_start.values[:, ::3].tolist() == [[2, 3], [3, 4]]
    assert plan.response_name.values.tolist() == [["4", "5"], ["4", "5"]]
    assert plan.mutation_name.values[0, :3].tolist() == ["A>C", "A>G", "A>T"]
    with pytest.raises(InputError, match=r"scan: record 0:3: scan window \[0, 3\) of sequence "
                                         "'a' lies outside the window that length=6 keeps"):
        plan_scan(ds, 0, 3)
