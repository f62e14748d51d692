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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mut_start": 12.7}, r"record 1: mut_start must be an integer, got 12\.7"),
        ({"mut_start": "abc"}, r"record 1: mut_start must be an integer, got 'abc'"),
        ({"mut_end": [3, 4]}, r"record 1: mut_end must be an integer, got a list"),
        ({"mut_start": True}, r"record 1: mut_start must be an integer, got True"),
        ({"resp_start": ["x"]}, r"record 1: resp_start must be an integer, got 'x'"),
        ({"resp_end": [{"a": 1}]}, r"record 1: resp_end must be an integer, got a dict"),
        ({"seq": "9"}, r"record 1: unknown sequence '9'"),
    ],
)
def test_mut_dict_type_errors_are_one_line(two_sequences, change, message):
    """Finding 10: these were ValueError / TypeError tracebacks, and 12.7 was read as 12."""
    rec = {"seq": "s1", "mut_start": 0, "mut_end": 3, "resp_start": [5], "resp_end": [9]}
    with pytest.raises(InputError, match=rf"<mut_dict>: {message}") as err:
        plan_mut_dict(two_sequences, [dict(rec, **change)])
    assert "\n" not in str(err.value)


def test_mut_dict_shapes_that_are_not_records(two_sequences, tmp_path):
    with pytest.raises(InputError, match=r"record 2 is not a mapping \(got int\)"):
        plan_mut_dict(two_sequences, [{"seq": "s1"}, 5])
    with pytest.raises(InputError, match=r"record 1 \(sequence 's1', mutation 'a'\) is not a "
                                         "mapping"):
        plan_mut_dict(two_sequences, {"s1": {"a": [0, 3]}})
    with pytest.raises(InputError, match="expected a list of records"):
        plan_mut_dict(two_sequences, {"records": "abc"})
    binary = tmp_path / "md.json"
    binary.write_bytes(b"\xff\xfe[1]")
    with pytest.raises(InputError, match=r"md\.json: cannot parse mut_dict"):
        plan_mut_dict(two_sequences, str(binary))
    # whole numbers written as 3.0 or "3" are accepted, as in the elements table
    rec = {"seq": "s1", "mut_start": 0.0, "mut_end": "3", "resp_start": 5, "resp_end": 9}
    assert plan_mut_dict(two_sequences, [rec]).mutation_end.values.tolist() == [[3], [0]]


def test_mut_dict_coordinates_refer_to_the_record_under_length():
    from dfimx.sequences import from_strings

    ds = from_strings(["TTTTTACGTAGGGGG"], ids=["r"], length=9)  # keeps record [3, 12)
    rec = {"seq": "r", "mut_start": 5, "mut_end": 9, "resp_start": [10], "resp_end": [12]}
    plan = plan_mut_dict(ds, [rec])
    s, e = plan.mutation_start.values[0, 0], plan.mutation_end.values[0, 0]
    assert "".join("ACGT"[b] for b in plan.seq_onehot.values[0, s:e].argmax(-1)) == "ACGT"
    assert plan.mutation_name.values[0, 0] == "5-9"
    assert plan.response_name.values[0, 0] == "10-12"
    with pytest.raises(InputError, match=r"record 1: response \[12, 14\) of sequence 'r' lies "
                                         "outside the window that length=9 keeps"):
        plan_mut_dict(ds, [dict(rec, resp_start=[12], resp_end=[14])])


def test_an_empty_mut_dict_is_refused(two_sequences, tmp_path):
    for text in ("[]", "{}", '{"records": []}'):
        path = tmp_path / "md.json"
        path.write_text(text)
        with pytest.raises(InputError, match=r"md\.json: no records"):
            plan_mut_dict(two_sequences, str(path))
