"""What every plan builder shares: sequence lookup by id or index, interval checks, and
the padded (seq, mutation) / (seq, response) layout of sources and targets.

A plan adds to a sequence dataset the source variables ``mutation_*`` on (seq, mutation)
and the target variables ``response_*`` on (seq, response), padded per sequence with masks.

Examples
--------
>>> out = padded_intervals([[(0, 3, "a")], []], "mutation")
>>> out["mutation_mask"][1].tolist()
[[True], [False]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from dfimx.errors import InputError

#: One source or target: ``(start, end, name)``, 0-based half-open.
Interval = tuple[int, int, str]


def seq_lookup(ds: xr.Dataset) -> tuple[dict[str, int], int]:
    """``({seq_id: index}, n)`` of a sequence dataset."""
    ids = [str(s) for s in ds["seq_id"].values]
    return {s: i for i, s in enumerate(ids)}, len(ids)


def resolve_seq(value: Any, lookup: dict[str, int], n: int, source: str, row: int) -> int:
    """Index of the sequence named ``value`` (an id, or a 0-based index below ``n``).

    Examples
    --------
    >>> resolve_seq("b", {"a": 0, "b": 1}, 2, "el.tsv", 1), resolve_seq("0", {"a": 0}, 1, "x", 1)
    (1, 0)
    """
    key = str(value).strip()
    if key in lookup:
        return lookup[key]
    if key.lstrip("-").isdigit() and 0 <= int(key) < n:
        return int(key)
    raise InputError(
        f"{source}: record {row}: unknown sequence {key!r} (not a sequence id, "
        f"nor a 0-based index below {n})"
    )


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
