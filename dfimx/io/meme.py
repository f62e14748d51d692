"""MEME motif files: reading, writing, and the motif set shipped with dfimx.

PWMs are ``(width, 4)`` float arrays of letter probabilities in the order A C G T
(the order of :data:`dfimx.alphabet.BASES`), one row per motif position.

Examples
--------
>>> pwms = read_meme(default_motifs_path())
>>> list(pwms)[:2]
['GATA_like', 'TAL1_like']
>>> pwms["GATA_like"].shape
(10, 4)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np

from dfimx.alphabet import BASES, N_BASES
from dfimx.errors import InputError

__all__ = ["ROW_SUM_TOLERANCE", "default_motifs_path", "load_motifs", "read_meme", "write_meme"]

#: Largest deviation from 1 allowed for the sum of a PWM row before it is rejected.
ROW_SUM_TOLERANCE = 0.02

_WIDTH_RE = re.compile(r"\bw\s*=\s*(\d+)")
_ALENGTH_RE = re.compile(r"\balength\s*=\s*(\d+)")
_NAME_CHOICES = ("id", "alt", "full")


def default_motifs_path() -> Path:
    """Path of the MEME file shipped with dfimx.

    The file holds two interacting motifs, ``GATA_like`` and ``TAL1_like`` (in that
    order, first in the file), and several decoys (``AP1_like``, ``SP1_like``,
    ``CEBP_like``, ``ETS_like``, ``CTCF_like``).

    Examples
    --------
    >>> default_motifs_path().name
    'motifs.meme'
    """
    return Path(str(resources.files("dfimx") / "data" / "motifs.meme"))


def _parse_floats(fields: list[str], where: str) -> list[float]:
    try:
        return [float(f) for f in fields]
    except ValueError:
        bad = next(f for f in fields if not _is_float(f))
        raise InputError(f"{where}: expected numbers in a matrix row, found {bad!r}") from None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_meme(
    path: str | os.PathLike,
    *,
    names: str = "id",
    normalize: bool = True,
) -> dict[str, np.ndarray]:
    """Read the letter-probability matrices of a MEME (version 4) motif file.

    Parameters
    ----------
    path
        MEME text file (the format of MEME, JASPAR and HOCOMOCO downloads). Only the DNA
        alphabet ``ACGT`` is accepted.
    names
        Which part of each ``MOTIF <id> [<alt>]`` line names the motif: ``"id"`` (default),
        ``"alt"`` (the alternative name, falling back to the id) or ``"full"`` (both,
        joined by one space, as :func:`memelite.io.read_meme` does).
    normalize
        Divide every row by its sum (rows must already sum to 1 within
        :data:`ROW_SUM_TOLERANCE`).

    Returns
    -------
    dict
        Motif name -> ``(width, 4)`` float64 array, in file order.

    Raises
    ------
    InputError
        When the file is missing or malformed; the message names the file, the line number
        and the problem (e.g. a short matrix, a row of the wrong length, a negative
        probability, a row that does not sum to 1, a duplicated motif name).

    Examples
    --------
    >>> pwms = read_meme(default_motifs_path())
    >>> sorted(pwms)[:3]
    ['AP1_like', 'CEBP_like', 'CTCF_like']
    >>> float(pwms["TAL1_like"].sum(axis=1).min())
    1.0
    >>> read_meme(default_motifs_path(), names="full")["TAL1_like E-box"].shape
    (12, 4)
    """
    if names not in _NAME_CHOICES:
        raise ValueError(f"names must be one of {_NAME_CHOICES}, got {names!r}")
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: motif file not found")
    try:
        text = p.read_text()
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not a text file ({exc.reason})") from None

    motifs: dict[str, np.ndarray] = {}
    name: str | None = None
    name_line = 0
    width: int | None = None
    rows: list[list[float]] = []
    seen_version = False

    def finish(lineno: int) -> None:
        nonlocal name, width, rows
        if name is None:
            return
        if width is None:
            raise InputError(
                f"{p}: line {name_line}: motif {name!r} has no 'letter-probability matrix' line"
            )
        if len(rows) < width:
            raise InputError(
                f"{p}: line {lineno}: motif {name!r} ends after {len(rows)} matrix rows, "
                f"but its header says w= {width}"
            )
        pwm = np.asarray(rows, dtype=np.float64)
        if normalize:
            pwm = pwm / pwm.sum(axis=1, keepdims=True)
        motifs[name] = pwm
        name, width, rows = None, None, []

    lines = text.splitlines()
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        where = f"{p}: line {lineno}"
        if not line or line.startswith("#"):
            continue
        if line.startswith("MEME version"):
            seen_version = True
            continue
        if line.startswith("ALPHABET"):
            alphabet = line.split("=", 1)[-1].strip().split()[0] if "=" in line else ""
            if alphabet.upper() != "ACGT":
                raise InputError(
                    f"{where}: alphabet {alphabet!r} is not supported; dfimx needs ACGT (DNA)"
                )
            continue
        if line.startswith("MOTIF"):
            finish(lineno)
            fields = line.split()
            if len(fields) < 2:
                raise InputError(f"{where}: MOTIF line without a motif name")
            ident = fields[1]
            alt = " ".join(fields[2:])
            key = {"id": ident, "alt": alt or ident, "full": " ".join(fields[1:])}[names]
            if key in motifs:
                raise InputError(f"{where}: motif name {key!r} appears more than once")
            name, name_line, width, rows = key, lineno, None, []
            continue
        if name is None:
            continue
        if width is None:
            if line.startswith("letter-probability matrix"):
                m = _WIDTH_RE.search(line)
                if m is None or int(m.group(1)) == 0:
                    raise InputError(f"{where}: motif {name!r}: matrix header has no width w= N")
                width = int(m.group(1))
                a = _ALENGTH_RE.search(line)
                if a is not None and int(a.group(1)) != N_BASES:
                    raise InputError(
                        f"{where}: motif {name!r}: alength= {a.group(1)}, expected {N_BASES}"
                    )
            continue
        if len(rows) == width:
            continue
        fields = line.split()
        values = _parse_floats(fields, f"{where}: motif {name!r}")
        if len(values) != N_BASES:
            raise InputError(
                f"{where}: motif {name!r}: matrix row has {len(values)} values, "
                f"expected {N_BASES} (A C G T)"
            )
        if min(values) < 0 or not all(np.isfinite(values)):
            raise InputError(f"{where}: motif {name!r}: negative or non-finite probability")
        total = sum(values)
        if abs(total - 1.0) > ROW_SUM_TOLERANCE:
            raise InputError(
                f"{where}: motif {name!r}: matrix row sums to {total:.4g}, expected 1"
            )
        rows.append(values)
    finish(len(lines) + 1)
    if not motifs:
        hint = "" if seen_version else " (and no 'MEME version' header: is this a MEME file?)"
        raise InputError(f"{p}: no motifs found{hint}")
    return motifs


def write_meme(
    pwms: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    background: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.25),
) -> Path:
    """Write PWMs as a MEME version 4 file that :func:`read_meme` reads back.

    Examples
    --------
    >>> import tempfile
    >>> pwms = read_meme(default_motifs_path())
    >>> out = write_meme(pwms, tempfile.mkdtemp() + "/copy.meme")
    >>> back = read_meme(out)
    >>> all(np.allclose(back[k], pwms[k], atol=1e-5) for k in pwms)
    True
    """
    out = [
        "MEME version 4",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{b} {f:.4f}" for b, f in zip(BASES, background, strict=True)),
        "",
    ]
    for name, pwm in pwms.items():
        pwm = np.asarray(pwm, dtype=np.float64)
        if pwm.ndim != 2 or pwm.shape[1] != N_BASES:
            raise ValueError(f"motif {name!r}: PWM must have shape (width, 4), got {pwm.shape}")
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"motif name {name!r} must be non-empty without whitespace")
        out.append(f"MOTIF {name}")
        out.append(f"letter-probability matrix: alength= 4 w= {len(pwm)} nsites= 20 E= 0")
        out.extend(" " + "  ".join(f"{v:.6f}" for v in row) for row in pwm)
        out.append("")
    p = Path(path)
    p.write_text("\n".join(out))
    return p


def load_motifs(
    motifs: str | os.PathLike | Mapping[str, np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """Motifs from a MEME path, a ``{name: pwm}`` mapping, or the shipped file (None).

    Examples
    --------
    >>> list(load_motifs(None))[0]
    'GATA_like'
    >>> load_motifs({"x": np.full((3, 4), 0.25)})["x"].shape
    (3, 4)
    """
    if motifs is None:
        return read_meme(default_motifs_path())
    if isinstance(motifs, Mapping):
        out = {}
        for name, pwm in motifs.items():
            arr = np.asarray(pwm, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != N_BASES or arr.shape[0] == 0:
                raise ValueError(f"motif {name!r}: PWM must have shape (width, 4), got {arr.shape}")
            if (arr < 0).any() or (arr.sum(axis=1) <= 0).any():
                raise ValueError(f"motif {name!r}: PWM rows must be non-negative, non-zero")
            out[str(name)] = arr / arr.sum(axis=1, keepdims=True)
        return out
    return read_meme(motifs)
