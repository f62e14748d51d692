"""What every plan builder shares: sequence lookup by id or index, interval checks in the
record's frame, and the padded (seq, mutation) / (seq, response) layout of sources and targets.

A plan adds to a sequence dataset the source variables ``mutation_*`` on (seq, mutation)
and the target variables ``response_*`` on (seq, response), padded per sequence with masks.
Their coordinates are window positions (indices of ``position``); the coordinates a user
gives refer to the record, and differ from window positions by ``seq_offset`` when the
records were cropped or padded (``length=``, see :func:`sequence_frame`).

Examples
--------
>>> out = padded_intervals([[(0, 3, "a")], []], "mutation")
>>> out["mutation_mask"][1].tolist()
[[True], [False]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from dfimx.errors import InputError

#: One source or target: ``(start, end, name)``, 0-based half-open.
Interval = tuple[int, int, str]


@dataclass(frozen=True)
class SequenceFrame:
    """How the ``seq`` values and coordinates of a plan table map onto a sequence dataset.

    Attributes
    ----------
    ids
        ``seq_id`` of each sequence, in order; ``lookup`` maps them to their index.
    numeric_ids
        Whether any id looks like a number: then a number in a ``seq`` column is an id
        only, never a 0-based index (see :func:`resolve_seqs`).
    window
        Positions per sequence (``position``).
    offset, record_length
        ``(n,)`` record position of window position 0, and the record's own length:
        ``seq_offset`` and ``seq_length`` of a dataset fitted with ``length=``; 0 and
        ``window`` otherwise (and no bound of its own without ``seq_length``).
    fitted
        Whether the records were cropped or padded (``seq_offset`` present).
    """

    ids: list[str]
    lookup: dict[str, int]
    numeric_ids: bool
    window: int
    offset: np.ndarray
    record_length: np.ndarray
    fitted: bool

    @property
    def n(self) -> int:
        """Number of sequences."""
        return len(self.ids)


def sequence_frame(ds: xr.Dataset) -> SequenceFrame:
    """The :class:`SequenceFrame` of a sequence dataset.

    Examples
    --------
    >>> from dfimx.sequences import from_strings
    >>> frame = sequence_frame(from_strings(["ACGTACGT", "AC"], ids=["a", "7"], length=4))
    >>> frame.numeric_ids, frame.offset.tolist(), frame.record_length.tolist()
    (True, [2, -1], [8, 2])
    """
    ids = [str(s) for s in ds["seq_id"].values]
    n, window = len(ids), int(ds.sizes["position"])
    fitted = "seq_offset" in ds
    if fitted:
        offset = np.asarray(ds["seq_offset"].values, dtype=np.int64)
        # without seq_length (a dataset built by hand) only the window bounds intervals
        record_length = (np.asarray(ds["seq_length"].values, dtype=np.int64)
                         if "seq_length" in ds else np.full(n, 2**62, np.int64))
    else:
        offset, record_length = np.zeros(n, np.int64), np.full(n, window, np.int64)
    numeric = pd.to_numeric(pd.Series(ids, dtype=object), errors="coerce").notna().any()
    return SequenceFrame(ids, {s: i for i, s in enumerate(ids)}, bool(numeric), window,
                         offset, record_length, fitted)


def resolve_seqs(keys: pd.Series, frame: SequenceFrame, source: str) -> np.ndarray:
    """Index of the sequence each ``seq`` value names; ``keys`` holds one value per record.

    The rule, which never attaches a record to the wrong sequence silently: a value is
    looked up as a ``seq_id`` first; it is read as a 0-based index only when it is a whole
    number below the number of sequences *and no id looks like a number*. With numeric ids
    (``1``, ``103``, ...) a number that is not an id is an error, not an index.

    Raises
    ------
    InputError
        Naming the first record (1-based) whose value matches no sequence.

    Examples
    --------
    >>> from dfimx.sequences import from_strings
    >>> frame = sequence_frame(from_strings(["AC", "GT"], ids=["a", "b"]))
    >>> resolve_seqs(pd.Series(["b", "0", " a "]), frame, "el.tsv").tolist()
    [1, 0, 0]
    >>> numeric = sequence_frame(from_strings(["AC", "GT"], ids=["1", "103"]))
    >>> resolve_seqs(pd.Series(["103", "0"]), numeric, "el.tsv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: el.tsv: record 2: unknown sequence '0' (not a sequence id; ...
    """
    keys = pd.Series(keys, dtype=object).reset_index(drop=True)
    missing = keys.isna().to_numpy()
    text = keys.astype(str).str.strip()
    seq = text.map(frame.lookup)
    unknown = seq.isna().to_numpy() | missing
    if unknown.any() and not frame.numeric_ids:
        number = pd.to_numeric(text[unknown], errors="coerce")
        ok = (number >= 0) & (number < frame.n) & (number == number.round())
        seq[unknown] = number.where(ok)
        unknown = seq.isna().to_numpy() | missing
    if unknown.any():
        k = int(np.flatnonzero(unknown)[0])
        raise InputError(f"{source}: record {k + 1}: " + (
            "empty sequence name" if missing[k] else _unknown(text.iloc[k], frame)))
    return seq.to_numpy(np.int64)


def _unknown(key: str, frame: SequenceFrame) -> str:
    if frame.numeric_ids:
        example = next(s for s in frame.ids
                       if pd.notna(pd.to_numeric(pd.Series([s]), errors="coerce")[0]))
        return (f"unknown sequence {key!r} (not a sequence id; with numeric ids such as "
                f"{example!r}, numbers are ids, never 0-based indices)")
    return f"unknown sequence {key!r} (not a sequence id, nor a 0-based index below {frame.n})"


def resolve_seq(value: Any, frame: SequenceFrame, source: str, row: int) -> int:
    """Index of the sequence named ``value`` in record ``row``, by :func:`resolve_seqs`' rule.

    Examples
    --------
    >>> from dfimx.sequences import from_strings
    >>> frame = sequence_frame(from_strings(["AC", "GT"], ids=["a", "b"]))
    >>> resolve_seq("b", frame, "el.tsv", 1), resolve_seq(0, frame, "x", 1)
    (1, 0)
    """
    try:
        return int(resolve_seqs(pd.Series([value], dtype=object), frame, source)[0])
    except InputError as exc:
        raise InputError(str(exc).replace(": record 1: ", f": record {row}: ", 1)) from None


def to_window(
    frame: SequenceFrame,
    seq: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    source: str,
    rows: Any = None,
    what: str = "interval",
) -> tuple[np.ndarray, np.ndarray]:
    """Check record-frame intervals ``[starts, ends)`` of sequences ``seq``; window positions.

    Each interval must be non-empty and lie inside its record (``0 <= start < end <=
    record length``) and, when the records were fitted to a length, inside the part of the
    record that the window keeps. The result is ``(starts - offset, ends - offset)``.

    Raises
    ------
    InputError
        Naming the first bad record (``rows``: 1-based numbers, default 1, 2, ..., or
        labels such as a scan window ``"40:60"``), the interval,
        and, for an interval outside the window, the record positions the window keeps.

    Examples
    --------
    >>> from dfimx.sequences import from_strings
    >>> frame = sequence_frame(from_strings(["AAAAACCCGG"], ids=["r"], length=6))
    >>> [w.tolist() for w in to_window(frame, np.array([0]), np.array([5]), np.array([8]),
    ...                                "el.tsv")]
    [[3], [6]]
    >>> to_window(frame, np.array([0]), np.array([0]), np.array([3]), "el.tsv",
    ...           what="element")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: el.tsv: record 1: element [0, 3) of sequence 'r' lies outside ...
    """
    seq = np.asarray(seq, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    rows = np.arange(1, len(seq) + 1) if rows is None else np.asarray(rows, dtype=object)
    record_length = frame.record_length[seq]
    bad = (ends <= starts) | (starts < 0) | (ends > record_length)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        check_interval(int(starts[k]), int(ends[k]), int(record_length[k]), source,
                       _row(rows[k]), what)
    offset = frame.offset[seq]
    lo, hi = np.maximum(offset, 0), np.minimum(offset + frame.window, record_length)
    bad = (starts < lo) | (ends > hi)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{source}: record {_row(rows[k])}: {what} [{int(starts[k])}, {int(ends[k])}) of "
            f"sequence {frame.ids[int(seq[k])]!r} lies outside the window that "
            f"length={frame.window} keeps of it (record positions [{int(lo[k])}, "
            f"{int(hi[k])})); drop or move the {what}, or choose another length"
        )
    return starts - offset, ends - offset


def check_interval(
    start: int, end: int, length: int, source: str, row: int | str, what: str = "interval"
) -> None:
    """Raise :class:`InputError` unless ``0 <= start < end <= length``.

    Examples
    --------
    >>> check_interval(5, 3, 10, "el.tsv", 2, "element")
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: el.tsv: record 2: reversed element [5, 3)
    """
    if end <= start:
        kind = "empty" if end == start else "reversed"
        raise InputError(f"{source}: record {row}: {kind} {what} [{start}, {end})")
    if start < 0 or end > length:
        raise InputError(
            f"{source}: record {row}: {what} [{start}, {end}) lies outside the sequence "
            f"(length {length})"
        )


def _row(value: Any) -> int | str:
    return value if isinstance(value, str) else int(value)


def padded_intervals(groups: list[list[Interval]], prefix: str) -> dict[str, tuple]:
    """Variables ``{prefix}_start/_end/_name/_mask`` from per-sequence interval lists.

    ``prefix`` is ``"mutation"`` (sources) or ``"response"`` (targets); each sequence's
    list is padded to the longest one (at least 1) and masked.  The arrays stay in memory:
    tables of elements are read whole, so their plans are small, and Zarr writes them once
    with the store's template, not once per region.
    """
    width = max(1, max((len(g) for g in groups), default=0))
    n = len(groups)
    start = np.zeros((n, width), np.int64)
    end = np.zeros((n, width), np.int64)
    name = np.full((n, width), "", dtype=object)
    mask = np.zeros((n, width), bool)
    for i, g in enumerate(groups):
        for j, (s, e, nm) in enumerate(g):
            start[i, j], end[i, j], name[i, j], mask[i, j] = s, e, nm, True
    dim = "mutation" if prefix == "mutation" else "response"
    out = {f"{prefix}_start": start, f"{prefix}_end": end, f"{prefix}_name": name,
           f"{prefix}_mask": mask}
    return {k: (("seq", dim), v) for k, v in out.items()}


def element_alts(ds: xr.Dataset) -> xr.DataArray:
    """``mutation_alt`` of element plans: -1 (element replacement) for every source."""
    return xr.full_like(ds["mutation_start"], -1, dtype=np.int8)


def seq_chunk(ds: xr.Dataset) -> int:
    """Sequences per chunk of ``seq_onehot`` (all of them when it is in memory)."""
    chunks = ds["seq_onehot"].chunks
    return int(chunks[0][0]) if chunks else int(ds.sizes["seq"])
