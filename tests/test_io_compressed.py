"""Compressed inputs (dfimx.io.compressed): gzip / BGZF detection and the BGZF end check."""

from __future__ import annotations

import gzip

import pytest

from dfimx.errors import InputError
from dfimx.io.compressed import (
    BGZF_EOF,
    check_bgzf_complete,
    is_bgzf,
    is_gzip,
    is_plain_gzip,
    open_bytes,
    write_bgzf,
)


def test_bgzf_writer_round_trips_and_ends_with_the_eof_block(tmp_path):
    data = bytes(range(256)) * 40
    path = write_bgzf(tmp_path / "x.gz", data, block=1000)
    assert gzip.decompress(path.read_bytes()) == data
    assert path.read_bytes().endswith(BGZF_EOF)
    assert is_bgzf(path) and is_gzip(path) and not is_plain_gzip(path)
    with open_bytes(path) as fh:
        assert fh.read() == data
    check_bgzf_complete(path, "VCF")  # whole: passes
    with pytest.raises(ValueError, match="block must be"):
        write_bgzf(tmp_path / "y.gz", data, block=0)


def test_cut_bgzf_is_refused_and_other_files_pass(tmp_path):
    data = b"x" * 5000
    at_boundary = write_bgzf(tmp_path / "a.gz", data, block=1000, eof=False)
    raw = write_bgzf(tmp_path / "b.gz", data, block=1000).read_bytes()
    inside = tmp_path / "c.gz"
    inside.write_bytes(raw[: len(raw) // 2])
    for path in (at_boundary, inside):
        with pytest.raises(InputError, match=r"the genome FASTA is truncated") as err:
            check_bgzf_complete(path, "genome FASTA")
        assert str(path) in str(err.value)
    plain = tmp_path / "p.gz"
    plain.write_bytes(gzip.compress(data))
    text = tmp_path / "t.txt"
    text.write_bytes(b"")
    for path in (plain, text):
        check_bgzf_complete(path)
    assert is_plain_gzip(plain) and not is_gzip(text)
    with pytest.raises(InputError, match="cannot read the VCF"):
        check_bgzf_complete(tmp_path / "missing.gz", "VCF")
