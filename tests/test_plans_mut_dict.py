"""Plans from the legacy DFIM mut_dict."""

from __future__ import annotations

import json

import pytest

from dfimx.errors import InputError
from dfimx.plans import plan_mut_dict


def test_mut_dict_both_shapes_and_pair_mask(two_sequences, tmp_path):
    records = [
        {"seq": "s1", "mut_start": 0, "mut_end": 3, "mut_name": "a",
         "resp_start": [5, 12], "resp_end": [9, 15], "resp_names": ["b", "c"]},
        {"seq": "s1", "mut_start": 5, "mut_end": 9, "mut_name": "b",
         "resp_start": [0], "resp_end": [3], "resp_names": ["a"]},
    ]
    path = tmp_path / "md.json"
    path.write_text(json.dumps(records))
    plan = plan_mut_dict(two_sequences, str(path))
    assert plan.response_name.values[0].tolist() == ["b", "c", "a"]
    pm = plan.pair_mask.values[0]
    assert pm.tolist() == [[True, True, False], [False, False, True]]
    nested = {"s1": {"a": {k: v for k, v in records[0].items() if k not in ("seq", "mut_name")}}}
    plan2 = plan_mut_dict(two_sequences, nested)
    assert plan2.mutation_name.values[0].tolist() == ["a"]
    bad = [dict(records[0], resp_end=[9])]
    with pytest.raises(InputError, match="record 1: resp_start, resp_end and resp_names"):
        plan_mut_dict(two_sequences, bad)
