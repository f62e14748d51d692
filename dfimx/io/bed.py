"""BED files: genome intervals (``chrom``, 0-based ``start``, exclusive ``end``[, ``name``]).

Plain or gzip/bgzip-compressed; ``track``, ``browser`` and ``#`` lines are skipped.  Every
record is checked (three or more tab-separated columns, whole-number coordinates,
``0 <= start < end``); a bad one is an :class:`~dfimx.errors.InputError` naming the file
and the line.

Examples
--------
>>> import tempfile, pathlib
>>> bed = pathlib.Path(tempfile.mkdtemp()) / "peaks.bed"
>>> _ = bed.write_text("track name=peaks\\nchr1\\t100\\t300\\tpeak1\\nchr2\\t5\\t205\\n")
>>> read_bed(bed).values.tolist()
[['chr1', 100, 300, 'peak1'], ['chr2', 5, 205, 'chr2:5-205']]
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd

from dfimx.errors import InputError

#: Columns of the table :func:`read_bed` returns.
BED_COLUMNS = ("chrom", "start", "end", "name")
_SKIP = (b"track", b"browser", b"#")


def interval_id(chrom: str, start: int, end: int) -> str:
    """The id of a genome interval: ``chrom:start-end`` (0-based start, exclusive end, as
    in BED).

    Examples
    --------
    >>> interval_id("chr1", 100, 300)
    'chr1:100-300'
    """
    return f"{chrom}:{int(start)}-{int(end)}"


def read_bed(path: str | os.PathLike) -> pd.DataFrame:
    """The intervals of a BED file: columns ``chrom``, ``start``, ``end``, ``name``.

    ``name`` is the fourth column where given, else :func:`interval_id`.  Raises
    :class:`InputError` naming the file and line for a missing file, a line with fewer
    than three columns, coordinates that are not whole numbers, or ``start >= end``, and
    for a file without intervals.
    """
    path = os.fspath(path)
    if not Path(path).is_file():
        raise InputError(f"{path}: BED file not found")
    with open(path, "rb") as fh:
        opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
    rows = []
    try:
        with opener(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                line = raw.rstrip(b"\r\n")
                if not line.strip() or line.startswith(_SKIP):
                    continue
                rows.append(_record(path, number, line))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the BED file: {exc}") from exc
    if not rows:
        raise InputError(f"{path}: no intervals in the BED file")
    table = pd.DataFrame(rows, columns=list(BED_COLUMNS))
    table["start"] = table["start"].astype(np.int64)
    table["end"] = table["end"].astype(np.int64)
    table.attrs["source"] = path
    return table


def _record(path: str, number: int, line: bytes) -> tuple[str, int, int, str]:
    where = f"{path}: line {number}"
    fields = line.decode("utf-8", errors="replace").split("\t")
    if len(fields) < 3:
        raise InputError(f"{where}: expected at least 3 tab-separated columns (chrom, start, "
                         f"end), got {len(fields)}")
    chrom = fields[0].strip()
    try:
        start, end = int(fields[1]), int(fields[2])
    except ValueError:
        raise InputError(f"{where}: start and end must be whole numbers, got "
                         f"{fields[1]!r} and {fields[2]!r}") from None
    if start < 0 or end <= start:
        raise InputError(f"{where}: need 0 <= start < end, got start {start} and end {end}")
    name = fields[3].strip() if len(fields) > 3 and fields[3].strip() else ""
    return chrom, start, end, name or interval_id(chrom, start, end)


__all__ = ["BED_COLUMNS", "interval_id", "read_bed"]
