"""Sequence datasets from FASTA, strings and one-hot arrays, and their errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from dfimx import variables
from dfimx.errors import InputError
from dfimx.sequences import from_fasta, from_onehot, from_strings


def _write(path, text, gz=False):
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return str(path)


@pytest.mark.parametrize("gz", [False, True])
def test_fasta_roundtrip_iupac_and_case(tmp_path, gz):
    path = _write(tmp_path / ("s.fa.gz" if gz else "s.fa"),
                  ">a desc\nACGTN\nacgtR\n>b\nTTTTT\nGGGGG\n", gz)
    ds = from_fasta(path, chunk_size=1)
    variables.validate(ds, "seq_id", "seq_onehot")
    assert ds.seq_id.values.tolist() == ["a", "b"]
    x = ds.seq_onehot.values
    assert x.shape == (2, 10, 4)
    assert x[0, :4].argmax(-1).tolist() == [0, 1, 2, 3]
    assert x[0, 4].sum() == 0 and x[0, 9].sum() == 0  # N and R are all-zero rows
    assert x[0, 5:9].argmax(-1).tolist() == [0, 1, 2, 3]  # lowercase accepted
    assert ds.seq_onehot.chunks[0] == (1, 1)


def test_fasta_is_read_lazily_per_chunk(tmp_path):
    path = _write(tmp_path / "s.fa", "".join(f">r{i}\nACGTACGT\n" for i in range(10)))
    ds = from_fasta(path, chunk_size=4)
    assert ds.seq_onehot.data.npartitions == 3
    part = ds.seq_onehot[4:8].values
    assert part.shape == (4, 8, 4)


def test_invalid_character_names_file_record_position(tmp_path):
    path = _write(tmp_path / "bad.fa", ">ok\nACGT\n>broken\nACZT\n")
    with pytest.raises(InputError, match=r"bad\.fa: record 'broken' position 2: invalid "
                                         r"character 'Z'"):
        from_fasta(path)


def test_unequal_lengths_error_and_length_option(tmp_path):
    path = _write(tmp_path / "u.fa", ">a\nACGTACGT\n>b\nACG\n")
    with pytest.raises(InputError, match=r"u\.fa: record 'b' has length 3 .*length=") as err:
        from_fasta(path)
    assert err.value.option == "length"
    ds = from_fasta(path, length=5)
    x = ds.seq_onehot.values
    # 8 -> 5: centre crop keeps positions 1..5; 3 -> 5: one N on each side
    assert x[0].argmax(-1).tolist() == [1, 2, 3, 0, 1]
    assert x[1].sum(-1).tolist() == [0, 1, 1, 1, 0]


def test_duplicate_ids_and_missing_file(tmp_path):
    path = _write(tmp_path / "d.fa", ">a\nAC\n>a\nGT\n")
    with pytest.raises(InputError, match="duplicate sequence id 'a'"):
        from_fasta(path)
    with pytest.raises(InputError, match="not found"):
        from_fasta(tmp_path / "nope.fa")


def test_strings_and_onehot_builders():
    ds = from_strings(["ACGT", "tgca"], ids=["x", "y"])
    assert ds.seq_onehot.values[1].argmax(-1).tolist() == [3, 2, 1, 0]
    again = from_onehot(ds.seq_onehot.values, ids=["x", "y"])
    np.testing.assert_array_equal(again.seq_onehot.values, ds.seq_onehot.values)
    with pytest.raises(InputError, match="record 'y' position 1"):
        from_strings(["ACGT", "A-GT"], ids=["x", "y"])
    with pytest.raises(InputError, match="must have shape"):
        from_onehot(np.zeros((2, 3)))
    with pytest.raises(InputError, match="single 1"):
        from_onehot(np.ones((1, 3, 4)))
