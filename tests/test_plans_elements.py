"""Plans from an elements table."""

from __future__ import annotations

import numpy as np
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


def test_length_keeps_element_coordinates_in_the_record_frame(tmp_path):
    """Finding 6: with a record cropped on the left, the element's scored interval holds the
    same bases as without cropping (it was shifted by the crop)."""
    from dfimx.sequences import from_fasta

    record = "TTTTTGGGGG" + "ACGTACGTAC" + "CCCCC" + "GATTACAGAT" + "TTTTTAAAAA"  # 45 bp
    fa = tmp_path / "r.fa"
    fa.write_text(f">r\n{record}\n")
    el = pd.DataFrame({"seq": ["r", "r"], "start": [10, 25], "end": [20, 35],
                       "name": ["acgt", "gatt"]})
    whole = plan_elements(from_fasta(fa), el)
    cropped_ds = from_fasta(fa, length=31)  # keeps record positions [7, 38)
    cropped = plan_elements(cropped_ds, el)
    assert int(cropped_ds.seq_offset[0]) == 7
    for plan in (whole, cropped):
        x = plan.seq_onehot.values[0]
        got = ["".join("ACGT"[b] for b in x[s:e].argmax(-1))
               for s, e in zip(plan.mutation_start.values[0], plan.mutation_end.values[0],
                               strict=True)]
        assert got == ["ACGTACGTAC", "GATTACAGAT"]
    assert cropped.mutation_start.values[0].tolist() == [3, 18]  # window positions
    assert (cropped.response_start.values + 7).tolist() == [[10, 25]]
    # an element that the window does not keep is an error naming the row and the window
    outside = pd.DataFrame({"seq": ["r"], "start": [2], "end": [6], "name": ["t"]})
    with pytest.raises(InputError, match=r"<elements>: record 1: element \[2, 6\) of sequence "
                       r"'r' lies outside the window that length=31 keeps of it \(record "
                       r"positions \[7, 38\)\)") as err:
        plan_elements(cropped_ds, outside)
    assert err.value.option is None
    padded_ds = from_fasta(fa, length=51)  # three Ns on each side
    padded = plan_elements(padded_ds, el)
    assert padded.mutation_start.values[0].tolist() == [13, 28]
    with pytest.raises(InputError, match=r"element \[40, 48\) lies outside the sequence "
                                         r"\(length 45\)"):
        plan_elements(padded_ds, el.assign(start=[10, 40], end=[20, 48]))


def test_numeric_ids_are_never_read_as_indices():
    """Finding 9: with ids 1, 2, 103, 5, seq '3' attached to the fourth record ('5')."""
    from dfimx.sequences import from_strings

    ds = from_strings(["ACGT"] * 4, ids=["1", "2", "103", "5"])
    el = pd.DataFrame({"seq": ["103", "1", "3"], "start": [0, 0, 0], "end": [2, 2, 2],
                       "name": ["a", "b", "c"]})
    with pytest.raises(InputError, match=r"record 3: unknown sequence '3' \(not a sequence id; "
                                         r"with numeric ids such as '1', numbers are ids"):
        plan_elements(ds, el)
    plan = plan_elements(ds, el.iloc[:2])
    assert plan.mutation_mask.values[:, 0].tolist() == [True, False, True, False]
    assert plan.mutation_name.values[2, 0] == "a"
    # with no numeric id, a number is a 0-based index (as documented)
    named = from_strings(["ACGT"] * 2, ids=["x", "y"])
    idx = plan_elements(named, pd.DataFrame({"seq": ["1"], "start": [0], "end": [2],
                                             "name": ["a"]}))
    assert idx.mutation_mask.values[:, 0].tolist() == [False, True]


def test_blank_seq_and_name_cells_are_refused(tmp_path, two_sequences):
    path = tmp_path / "blank.tsv"
    path.write_text("seq\tstart\tend\tname\ns1\t0\t3\ta\n\t0\t3\tb\n")
    with pytest.raises(InputError, match=r"blank\.tsv: record 2: empty sequence name"):
        plan_elements(two_sequences, str(path))
    path.write_text("seq\tstart\tend\tname\ns1\t0\t3\t\n")
    with pytest.raises(InputError, match=r"blank\.tsv: record 1: empty name"):
        plan_elements(two_sequences, str(path))
    path.write_text("seq\tstart\tend\tname\ns1\t1e30\t3\ta\n")
    with pytest.raises(InputError, match=r"record 1: start/end must be integers"):
        plan_elements(two_sequences, str(path))


def test_cropped_records_give_the_scores_of_the_uncropped_ones(cropped_runs):
    """Finding 6 end to end: records widened by 5 bases on each side and cropped back with
    length=40 (elements given in the record's frame) score exactly as the originals."""
    base, crop = cropped_runs
    assert crop.seq_offset.values.tolist() == [5] * 6
    for name in ("mutation_start", "response_end", "interaction_score", "mutant_prediction"):
        np.testing.assert_array_equal(crop[name].values, base[name].values, err_msg=name)


def test_an_empty_table_is_refused(two_sequences, tmp_path):
    """A header without rows ran to a complete store with nothing in it (exit 0)."""
    path = tmp_path / "empty.tsv"
    path.write_text("seq\tstart\tend\tname\n")
    with pytest.raises(InputError, match=r"empty\.tsv: no elements"):
        plan_elements(two_sequences, str(path))
