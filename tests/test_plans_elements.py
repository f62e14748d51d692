"""Plans from an elements table."""

from __future__ import annotations

import pandas as pd
import pytest

from dfimx import variables
from dfimx.errors import InputError
from dfimx.plans import plan_elements


def test_elements_plan_pads_and_masks(two_sequences):
    el = pd.DataFrame({
        "seq": ["s1", "s1", "s1", "1"],
        "start": [0, 5, 12, 3], "end": [3, 9, 15, 6],
        "name": ["a", "b", "c", "d"], "role": ["source", "both", "target", None],
    })
    plan = plan_elements(two_sequences, el)
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
def test_elements_validation(two_sequences, tmp_path, row, message):
    path = tmp_path / "el.tsv"
    pd.DataFrame([row + ("x",)], columns=["seq", "start", "end", "name"]).to_csv(
        path, sep="\t", index=False)
    with pytest.raises(InputError, match=rf"el\.tsv: {message}" if "record" in message
                       else message):
        plan_elements(two_sequences, str(path))
