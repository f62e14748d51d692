"""FASTA files (dfimx.io.fasta): the one opener and its cache, streaming and validity
readers, interval reads, and the one writer."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from dfimx.errors import InputError
from dfimx.io.fasta import (
    all_bytes_valid,
    contig_lengths,
    first_invalid_line,
    gather_codes,
    open_fasta,
    stream_fasta,
    write_fasta,
)
from dfimx.sequences import from_fasta


@pytest.mark.parametrize("line_width", [None, 7, 60])
def test_writer_round_trips_and_its_index_matches_pyfaidx(tmp_path, line_width):
    rng = np.random.default_rng(line_width or 1)
    records = {
        "a first": "".join(rng.choice(list("ACGTN"), 61)),
        "b": rng.integers(-1, 4, 7),  # base codes, -1 = N
        "c": "acgt" * 5,
    }
    path = write_fasta(tmp_path / "s.fa", records, line_width=line_width, index=True)
    expect = {"a": records["a first"], "b": "".join("NACGT"[c + 1] for c in records["b"]),
              "c": records["c"]}
    assert dict(stream_fasta(path)) == expect
    lines = path.read_text().splitlines()
    assert lines[0] == ">a first"
    assert max(len(x) for x in lines if not x.startswith(">")) == (line_width or 61)
    ours = Path(str(path) + ".fai").read_text()
    plain = write_fasta(tmp_path / "t.fa", records, line_width=line_width)
    assert not Path(str(plain) + ".fai").exists()
    assert {k: str(v[:]) for k, v in open_fasta(plain).items()} == expect  # pyfaidx indexes
    assert Path(str(plain) + ".fai").read_text() == ours
    assert contig_lengths(path) == {"a": 61, "b": 7, "c": 20}


def test_writer_gzip_and_errors(tmp_path):
    path = write_fasta(tmp_path / "s.fa.gz", [("x", "ACGT"), ("y", "TTGA")])
    assert gzip.decompress(path.read_bytes()) == b">x\nACGT\n>y\nTTGA\n"
    assert from_fasta(path).seq_id.values.tolist() == ["x", "y"]
    with pytest.raises(ValueError, match="plain FASTA"):
        write_fasta(tmp_path / "i.fa.gz", {"x": "A"}, index=True)
    with pytest.raises(ValueError, match="one non-empty line"):
        write_fasta(tmp_path / "n.fa", {"a\nb": "A"})


def test_open_fasta_caches_until_the_file_changes(tmp_path):
    path = write_fasta(tmp_path / "g.fa", {"c1": "ACGTACGT"})
    first = open_fasta(path)
    assert open_fasta(str(path)) is first
    write_fasta(path, {"c1": "TTTTTTTTTTTT", "c2": "GG"})
    again = open_fasta(path)
    assert again is not first and str(again["c1"][:3]) == "TTT"
    assert list(again.keys()) == ["c1", "c2"]
    codes, valid = gather_codes(again, "c1", np.array([10, -2]), 4, 12)
    assert codes.tolist() == [[3, 3, -1, -1], [-1, -1, 3, 3]]
    assert valid.tolist() == [[True, True, False, False], [False, False, True, True]]


def test_duplicate_record_names_and_missing_files(tmp_path):
    path = write_fasta(tmp_path / "d.fa", [("a", "AC"), ("a", "GT")])
    with pytest.raises(InputError, match=r"d\.fa: duplicate sequence id 'a'"):
        open_fasta(path)
    with pytest.raises(InputError, match="nope.fa: genome FASTA not found"):
        open_fasta(tmp_path / "nope.fa", role="genome FASTA")


def test_genome_index_goes_to_cache_when_folder_is_read_only(tmp_path, monkeypatch):
    import dfimx.io.fasta as v

    folder = tmp_path / "ro"
    folder.mkdir()
    fa = write_fasta(folder / "g.fa", {"c1 description": "ACGTTGCA"})
    monkeypatch.setattr(v.os, "access", lambda path, mode: False)
    fasta = open_fasta(fa)
    assert fasta["c1"][1:4] == "CGT"
    assert not (folder / "g.fa.fai").exists()
    assert Path(fasta.faidx.indexname).parent.name == "dfimx-fai"


def test_malformed_genome_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">c1\nACGTACGT\nACG\nACGTACGT\n")
    with pytest.raises(InputError, match="bad.fa"):
        open_fasta(bad)


@pytest.mark.parametrize("block", [3, 1 << 20])
def test_fast_fasta_byte_check_agrees_with_per_record_check(tmp_path, block):
    """The streaming byte check lets valid files through and sends bad ones to the
    per-record check, whatever the block boundaries (headers are not checked)."""
    cases = {
        ">a desc X!\nACGTN\nacgt\n>b\nRYKM\n": True,
        ">a\nACGT\n>b X\nAC": True,
        ">a\r\nACGT\r\n": True,
        ">a\nACGT\n>b\nACXT\n": False,
        ">a\nACGT\n>b\nAC T": False,
        ">a\nAC-T\n": False,
    }
    for i, (text, ok) in enumerate(cases.items()):
        plain = tmp_path / f"{i}.fa"
        plain.write_text(text)
        packed = tmp_path / f"{i}.fa.gz"
        packed.write_bytes(gzip.compress(text.encode()))
        assert all_bytes_valid(str(plain), block) is ok, text
        assert all_bytes_valid(str(packed), block) is ok, text


def test_streaming_readers_refuse_damaged_gzip_in_one_line(tmp_path):
    packed = gzip.compress(b">a\n" + b"ACGT" * 4000 + b"\n")
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    for read in (lambda p: list(stream_fasta(p)), all_bytes_valid, first_invalid_line):
        with pytest.raises(InputError, match=r"cut\.fa\.gz: cannot read the FASTA file: the "
                                             "gzip stream is truncated or damaged"):
            read(cut)


def test_lone_carriage_returns_and_the_slow_byte_check(tmp_path):
    mac = tmp_path / "mac.fa"
    mac.write_bytes(b">a\rACGT\r")
    assert all_bytes_valid(mac) is False
    assert first_invalid_line(mac).startswith("line 1: a carriage return not followed")
    with pytest.raises(InputError, match=r"line 1: a carriage return"):
        list(stream_fasta(mac))
    dos = tmp_path / "dos.fa"
    dos.write_bytes(b">a\r\nACGT\r\nAC\r")  # CRLF, last line without its line feed
    assert all_bytes_valid(dos) and first_invalid_line(dos) is None
    assert list(stream_fasta(dos)) == [("a", "ACGTAC")]
    bad = tmp_path / "bad.fa"
    bad.write_bytes(b">a Z!\nACGT\nAC-T\n")
    assert first_invalid_line(bad) == "line 3: invalid byte b'-'"


def test_a_cut_bgzipped_genome_is_refused_before_indexing(tmp_path):
    from dfimx.io.compressed import write_bgzf

    cut = write_bgzf(tmp_path / "g.fa.gz", b">c1\n" + b"ACGT" * 100 + b"\n", block=50, eof=False)
    with pytest.raises(InputError, match=r"g\.fa\.gz: the genome FASTA is truncated"):
        open_fasta(cut, role="genome FASTA")
