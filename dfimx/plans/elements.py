"""Plan from an elements table: each source element mutated, each target element scored.

Examples
--------
>>> import pandas as pd
>>> from dfimx.sequences import from_strings
>>> ds = from_strings(["ACGTACGTAC"], ids=["s"])
>>> el = pd.DataFrame({"seq": ["s", "s"], "start": [0, 6], "end": [3, 9], "name": ["a", "b"]})
>>> plan = plan_elements(ds, el)
>>> plan.mutation_name.values.tolist(), plan.response_name.values.tolist()
([['a', 'b']], [['a', 'b']])
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from dfimx.errors import InputError
from dfimx.plans.common import (
    Interval,
    SequenceFrame,
    element_alts,
    padded_intervals,
    resolve_seqs,
    sequence_frame,
    to_window,
)

#: Largest coordinate accepted (exactly representable as a float).
_MAX_COORD = 2**53

#: Roles of an element: mutated (source), scored (target) or both (the default).
ROLES = ("source", "target", "both")


def read_elements(path: str | os.PathLike) -> pd.DataFrame:
    """Read an elements table (TSV or CSV) with columns seq, start, end, name[, role].

    Examples
    --------
    >>> read_elements("elements.tsv")  # doctest: +SKIP
    """
    path = str(path)
    if not Path(path).is_file():
        raise InputError(f"{path}: elements file not found")
    sep = "," if path.endswith(".csv") else "\t"
    try:
        df = pd.read_csv(path, sep=sep, dtype={"seq": str, "name": str, "role": str})
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot parse elements table: {exc}") from exc
    df.attrs["source"] = path
    return df


def _checked_element_rows(elements: pd.DataFrame, frame: SequenceFrame, source: str) -> zip:
    """``(seq index, window start, window end, name, role)`` per record, checked column-wise.

    Raises :class:`InputError` naming the first bad record (1-based).
    """
    count = len(elements)
    records = np.arange(1, count + 1)
    starts = pd.to_numeric(elements["start"], errors="coerce").to_numpy(np.float64)
    ends = pd.to_numeric(elements["end"], errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(starts) & np.isfinite(ends) & (starts == np.round(starts))
            & (ends == np.round(ends)) & (np.abs(starts) < _MAX_COORD)
            & (np.abs(ends) < _MAX_COORD))
    if bad.any():
        raise InputError(f"{source}: record {records[bad][0]}: start/end must be integers")
    starts, ends = starts.astype(np.int64), ends.astype(np.int64)
    seq_idx = resolve_seqs(elements["seq"], frame, source)
    starts, ends = to_window(frame, seq_idx, starts, ends, source, records, "element")
    if "role" in elements:
        roles = elements["role"].astype(object).where(elements["role"].notna(), "both")
        roles = roles.astype(str).str.strip().str.lower()
    else:
        roles = pd.Series(["both"] * count)
    bad = ~roles.isin(ROLES).to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"{source}: record {k + 1}: role {roles.iloc[k]!r} is not one of "
                         f"{ROLES}")
    name_col = elements["name"]
    if name_col.isna().any():
        k = int(np.flatnonzero(name_col.isna().to_numpy())[0])
        raise InputError(f"{source}: record {k + 1}: empty name")
    names = name_col.astype(str).tolist()
    return zip(seq_idx.tolist(), starts.tolist(), ends.tolist(), names, roles.tolist(),
               strict=True)


def plan_elements(
    ds: xr.Dataset, elements: pd.DataFrame | str | os.PathLike, *, source: str | None = None
) -> xr.Dataset:
    """Add a mutation plan from an elements table.

    Each element with role ``source`` or ``both`` (the default) is mutated; each
    element with role ``target`` or ``both`` is a response of its sequence.

    Parameters
    ----------
    ds
        Sequence dataset (``seq_id``, ``seq_onehot``).
    elements
        DataFrame or TSV/CSV path with columns ``seq`` (id, or 0-based index when no id
        looks like a number: see :func:`dfimx.plans.common.resolve_seqs`), ``start``
        (0-based), ``end`` (exclusive), ``name`` and optionally ``role``. Coordinates refer
        to the record; when ``ds`` was fitted to a length (``seq_offset``), they are moved
        to window positions, and an element outside the window is an error.
    source
        What the table is, for error messages (default: its path).

    Returns
    -------
    xarray.Dataset
        ``ds`` with the ``mutation_*`` and ``response_*`` variables (window positions).

    Raises
    ------
    InputError
        Naming the file, the record (1-based data row) and the problem.
    """
    if not isinstance(elements, pd.DataFrame):
        elements = read_elements(elements)
    source = source or elements.attrs.get("source", "<elements>")
    missing = {"seq", "start", "end", "name"} - set(elements.columns)
    if missing:
        raise InputError(f"{source}: missing column(s) {sorted(missing)}")
    if len(elements) == 0:
        raise InputError(f"{source}: no elements (a header but no rows)")
    frame = sequence_frame(ds)
    n = frame.n
    rows = _checked_element_rows(elements, frame, source)
    sources: list[list[Interval]] = [[] for _ in range(n)]
    targets: list[list[Interval]] = [[] for _ in range(n)]
    for i, s, e, name, role in rows:
        if role in ("source", "both"):
            sources[i].append((s, e, name))
        if role in ("target", "both"):
            targets[i].append((s, e, name))
    out = ds.assign(padded_intervals(sources, "mutation"))
    out = out.assign(padded_intervals(targets, "response"))
    out["mutation_alt"] = element_alts(out)
    out.attrs["plan"] = "elements"
    return out


__all__ = ["ROLES", "plan_elements", "read_elements"]
