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


def test_length_stores_where_each_window_lies_in_its_record(tmp_path):
    """Finding 6: a fitted record keeps its offset (record position of window position 0)."""
    path = _write(tmp_path / "l.fa", ">crop\nTTTTTACGTACGTAC\n>pad\nACG\n>same\nACGTAC\n")
    ds = from_fasta(path, length=6)
    variables.validate(ds, "seq_offset", "seq_length")
    assert ds.seq_offset.values.tolist() == [4, -1, 0]
    assert ds.seq_length.values.tolist() == [15, 3, 6]
    x = ds.seq_onehot.values
    record = "TTTTTACGTACGTAC"
    assert "".join("ACGT"[b] for b in x[0].argmax(-1)) == record[4:10]
    assert "seq_offset" not in from_fasta(_write(tmp_path / "e.fa", ">a\nACGT\n"))
    text = (tmp_path / "l.fa").read_text()
    gz = from_fasta(_write(tmp_path / "l.fa.gz", text, gz=True), length=6)  # read into memory
    assert gz.seq_offset.values.tolist() == [4, -1, 0]
    assert gz.seq_length.values.tolist() == [15, 3, 6]


def test_empty_records_are_refused_with_or_without_length(tmp_path):
    for gz in (False, True):
        path = _write(tmp_path / ("e.fa.gz" if gz else "e.fa"), ">a\nACGT\n>b\n>c\nACGT\n", gz)
        for length in (None, 6):
            with pytest.raises(InputError, match=r"record 'b' is empty \(no bases\)"):
                from_fasta(path, length=length)
    with pytest.raises(InputError, match="record 'seq1' is empty"):
        from_strings(["ACGT", ""], length=4)


def test_truncated_or_damaged_gzip_fasta_is_one_line(tmp_path):
    """Finding 10: a truncated .gz FASTA was an EOFError traceback."""
    text = "".join(f">r{i}\n{'ACGT' * 500}\n" for i in range(20)).encode()
    packed = gzip.compress(text)
    for name, data in (("half.fa.gz", packed[: len(packed) // 2]), ("trailer.fa.gz", packed[:-3]),
                       ("garbled.fa.gz", packed[:40] + bytes(40) + packed[80:])):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError, match=rf"{name}: cannot read the FASTA file: the gzip "
                                             "stream is truncated or damaged") as err:
            from_fasta(tmp_path / name)
        assert "\n" not in str(err.value)


def test_bgzipped_fasta_is_read_and_a_cut_one_refused(tmp_path):
    """Finding 7 for FASTA: a BGZF file cut at a block boundary is not a shorter FASTA."""
    from dfimx.io.compressed import write_bgzf

    text = "".join(f">r{i}\n{'ACGT' * 10}\n" for i in range(30)).encode()
    whole = write_bgzf(tmp_path / "s.fa.gz", text, block=100)
    assert from_fasta(whole).sizes["seq"] == 30
    cut = write_bgzf(tmp_path / "cut.fa.gz", text[:1000], block=100, eof=False)
    with pytest.raises(InputError, match=r"cut\.fa\.gz: the FASTA file is truncated"):
        from_fasta(cut)


def test_stray_bytes_and_line_ends(tmp_path):
    """A non-ASCII byte in a gzip FASTA was a UnicodeDecodeError; a lone carriage return
    made pyfaidx read the whole file as one header (an empty record, silently)."""
    path = tmp_path / "u.fa.gz"
    path.write_bytes(gzip.compress(b">a\nAC\xe9T\n"))
    with pytest.raises(InputError, match=r"record 'a' position 2: invalid character"):
        from_fasta(path)
    for gz in (False, True):
        mac = tmp_path / ("mac.fa.gz" if gz else "mac.fa")
        data = b">a\rACGT\rACGT\r"
        mac.write_bytes(gzip.compress(data) if gz else data)
        with pytest.raises(InputError, match=r"line 1: a carriage return not followed by a "
                                             "line feed"):
            from_fasta(mac)
    crlf = _write(tmp_path / "w.fa", ">a\r\nACGT\r\nAC\r\n>b\r\nTTTTTT\r\n")
    assert from_fasta(crlf).seq_onehot.values[0].argmax(-1).tolist() == [0, 1, 2, 3, 0, 1]


@pytest.mark.parametrize("length", [0, -5, 2.5, True])
def test_length_must_be_a_positive_integer(tmp_path, length):
    """length=-5 was a numpy ValueError traceback; 0 gave sequences without positions."""
    path = _write(tmp_path / "s.fa", ">a\nACGT\n")
    for build in (lambda: from_fasta(path, length=length),
                  lambda: from_strings(["ACGT"], length=length)):
        with pytest.raises(InputError, match="length must be a positive integer") as err:
            build()
        assert err.value.option == "length"
