"""MEME files (dfimx.io.meme): the shipped motifs, reading, writing and errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dfimx.errors import InputError
from dfimx.io.meme import default_motifs_path, load_motifs, read_meme, write_meme
from dfimx.motifs.pwm import consensus

HEADER = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"


def _write(tmp_path: Path, text: str, name: str = "bad.meme") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_file_contents():
    pwms = read_meme(default_motifs_path())
    assert list(pwms)[:2] == ["GATA_like", "TAL1_like"]
    assert len(pwms) >= 6
    for name, pwm in pwms.items():
        assert pwm.dtype == np.float64
        assert pwm.ndim == 2 and pwm.shape[1] == 4
        assert 6 <= pwm.shape[0] <= 12, name
        np.testing.assert_allclose(pwm.sum(axis=1), 1.0)
        assert (pwm > 0).all()
        # a clear consensus: most positions have one dominant base
        assert (pwm.max(axis=1) >= 0.8).mean() >= 0.6, name
    assert len({consensus(p) for p in pwms.values()}) == len(pwms)


def test_shipped_file_matches_memelite_reader():
    memelite_io = pytest.importorskip("memelite.io")
    ours = read_meme(default_motifs_path(), names="full", normalize=False)
    theirs = memelite_io.read_meme(str(default_motifs_path()))
    assert list(ours) == list(theirs)
    for key, pwm in ours.items():
        np.testing.assert_allclose(pwm, np.asarray(theirs[key]).T)


def test_round_trip(tmp_path):
    pwms = read_meme(default_motifs_path())
    back = read_meme(write_meme(pwms, tmp_path / "copy.meme"))
    assert list(back) == list(pwms)
    for k in pwms:
        np.testing.assert_allclose(back[k], pwms[k], atol=1e-6)


def test_name_choices(tmp_path):
    p = _write(
        tmp_path,
        HEADER + "MOTIF MA0001.1 Foo\nletter-probability matrix: alength= 4 w= 2\n"
        "1 0 0 0\n0 1 0 0\nURL http://example.org\n\nMOTIF MA0002.1\n"
        "letter-probability matrix: alength= 4 w= 1 nsites= 3 E= 0\n0.25 0.25 0.25 0.25\n",
        "ok.meme",
    )
    assert list(read_meme(p)) == ["MA0001.1", "MA0002.1"]
    assert list(read_meme(p, names="alt")) == ["Foo", "MA0002.1"]
    assert list(read_meme(p, names="full")) == ["MA0001.1 Foo", "MA0002.1"]
    with pytest.raises(ValueError, match="names must be one of"):
        read_meme(p, names="bogus")


def test_tolerates_tabs_crlf_and_rounding(tmp_path):
    p = tmp_path / "crlf.meme"
    p.write_bytes(
        b"MEME version 4\r\nALPHABET= ACGT\r\nMOTIF\tm1\r\n"
        b"letter-probability matrix:\talength=\t4\tw=\t2\r\n"
        b"0.333\t0.333\t0.333\t0.0\r\n 0.5  0.5  0.0  0.0\r\n"
    )
    pwm = read_meme(p)["m1"]
    assert pwm.shape == (2, 4)
    np.testing.assert_allclose(pwm.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("MOTIF m1\nletter-probability matrix: alength= 4 w= 3\n1 0 0 0\n0 1 0 0\n"
         "MOTIF m2\nletter-probability matrix: alength= 4 w= 1\n1 0 0 0\n",
         11, "ends after 2 matrix rows, but its header says w= 3"),
        ("MOTIF m1\nletter-probability matrix: alength= 4 w= 2\n1 0 0 0\n0 1 0\n",
         10, "matrix row has 3 values, expected 4"),
        ("MOTIF m1\nletter-probability matrix: alength= 4 w= 2\n1 0 0 0\n0 1 x 0\n",
         10, "expected numbers in a matrix row, found 'x'"),
        ("MOTIF m1\nletter-probability matrix: alength= 4 w= 1\n0.5 0.1 0.1 0.1\n",
         9, "matrix row sums to 0.8, expected 1"),
        ("MOTIF m1\nletter-probability matrix: alength= 4 w= 1\n1.2 -0.2 0 0\n",
         9, "negative or non-finite probability"),
        ("MOTIF m1\nletter-probability matrix: alength= 4 w= 1\n1 0 0 0\n"
         "MOTIF m1\nletter-probability matrix: alength= 4 w= 1\n1 0 0 0\n",
         10, "motif name 'm1' appears more than once"),
        ("MOTIF m1\nletter-probability matrix: alength= 20 w= 1\n1 0 0 0\n",
         8, "alength= 20, expected 4"),
        ("MOTIF m1\nletter-probability matrix: alength= 4\n1 0 0 0\n",
         8, "matrix header has no width"),
        ("MOTIF m1\nMOTIF m2\nletter-probability matrix: alength= 4 w= 1\n1 0 0 0\n",
         7, "motif 'm1' has no 'letter-probability matrix' line"),
        ("MOTIF\n", 7, "MOTIF line without a motif name"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, body, line, message):
    p = _write(tmp_path, HEADER + body)
    with pytest.raises(InputError) as info:
        read_meme(p)
    text = str(info.value)
    assert text.startswith(f"{p}: line {line}: "), text
    assert message in text
    assert "\n" not in text


def test_wrong_alphabet_and_empty_and_missing(tmp_path):
    p = _write(tmp_path, "MEME version 4\n\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n")
    with pytest.raises(InputError, match=r"bad\.meme: line 3: alphabet 'ACDEFGHIKLMNPQRSTVWY'"):
        read_meme(p)
    empty = _write(tmp_path, "just some text\n", "empty.txt")
    with pytest.raises(InputError, match=re.escape(f"{empty}: no motifs found (and no 'MEME")):
        read_meme(empty)
    with pytest.raises(InputError, match="motif file not found"):
        read_meme(tmp_path / "nope.meme")
    binary = tmp_path / "bin.meme"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="not a text file"):
        read_meme(binary)


def test_load_motifs_variants(tmp_path):
    assert list(load_motifs(None)) == list(read_meme(default_motifs_path()))
    out = load_motifs({"m": [[2, 0, 0, 2], [1, 1, 1, 1]]})
    np.testing.assert_allclose(out["m"], [[0.5, 0, 0, 0.5], [0.25] * 4])
    with pytest.raises(ValueError, match="shape"):
        load_motifs({"m": np.ones((3, 5))})
    with pytest.raises(ValueError, match="non-negative"):
        load_motifs({"m": [[1, -1, 0, 0]]})
    path = write_meme({"m": np.full((2, 4), 0.25)}, tmp_path / "m.meme")
    assert list(load_motifs(path)) == ["m"]
    assert list(load_motifs(str(path))) == ["m"]
