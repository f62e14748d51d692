"""Plan from an elements table: each source element mutated, each target element scored.

The elements can also come from motif hits (:func:`motif_elements`, :func:`plan_motifs`):
each hit of a MEME motif in a sequence is an element, both source and target, named
after its motif, as ``dfimx run --motifs`` does.

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
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from dfimx.errors import InputError
from dfimx.io.meme import load_motifs
from dfimx.motifs.scan import scan_motifs
from dfimx.plans.common import (
    Interval,
    SequenceFrame,
    element_alts,
    padded_intervals,
    resolve_seqs,
    sequence_frame,
    to_window,
)
from dfimx.settings import DEFAULT_MAX_MOTIF_ELEMENTS

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


def motif_elements(
    ds: xr.Dataset,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike,
    *,
    p_value_threshold: float = 1e-4,
    max_per_seq: int = DEFAULT_MAX_MOTIF_ELEMENTS,
) -> pd.DataFrame:
    """An elements table from the motif hits in the sequences of ``ds``.

    Hits come from :func:`dfimx.motifs.scan.scan_motifs` (exact p-values, both strands);
    a motif found on both strands at one start counts once (the more significant);
    each sequence keeps its ``max_per_seq`` most significant hits.  Elements are named
    after their motif and have role ``both``; overlapping hits of different motifs are
    both kept (their pair is not scored, as for any overlapping elements).  The table
    also has the columns ``strand`` and ``p_value``.

    Examples
    --------
    >>> from dfimx.sequences import from_strings
    >>> pwm = np.eye(4)[[0, 2, 0, 3, 0, 0, 2, 0]] * 0.9 + 0.025     # AGATAAGA
    >>> ds = from_strings(["CCAGATAAGACCCCTCTTATCTCC"], ids=["s"])
    >>> motif_elements(ds, {"GATA": pwm})[["seq", "start", "end", "name", "strand"]]
    ...                                                   # doctest: +NORMALIZE_WHITESPACE
      seq  start  end  name strand
    0   s      2   10  GATA      +
    1   s     14   22  GATA      -
    """
    if int(max_per_seq) < 1:
        raise InputError(f"max_motif_elements must be at least 1, got {max_per_seq}",
                         option="max_motif_elements")
    if not 0.0 < float(p_value_threshold) <= 1.0:
        raise InputError(f"p_value_threshold must lie in (0, 1], got {p_value_threshold}",
                         option="p_value_threshold")
    motif_set = motifs if isinstance(motifs, Mapping) else load_motifs(motifs)
    if not motif_set:
        raise InputError(f"{motifs}: no motifs found")
    hits = scan_motifs(np.asarray(ds["seq_onehot"].values), motif_set,
                       p_value_threshold=float(p_value_threshold))
    hits = hits.sort_values("p_value", kind="stable").drop_duplicates(
        ["seq_index", "name", "start"])
    hits = hits.groupby("seq_index", sort=False).head(int(max_per_seq))
    hits = hits.sort_values(["seq_index", "start", "name"], kind="stable")
    ids = np.asarray(ds["seq_id"].values).astype(str)
    table = pd.DataFrame({
        "seq": ids[hits["seq_index"].to_numpy(np.int64)] if len(hits) else [],
        "start": hits["start"].to_numpy(np.int64),
        "end": hits["end"].to_numpy(np.int64),
        "name": hits["name"].astype(str).to_numpy(),
        "role": "both",
        "strand": hits["strand"].astype(str).to_numpy(),
        "p_value": hits["p_value"].to_numpy(np.float64),
    }).reset_index(drop=True)
    table.attrs["source"] = str(motifs) if not isinstance(motifs, Mapping) else "<motifs>"
    return table


def plan_motifs(
    ds: xr.Dataset,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike,
    *,
    p_value_threshold: float = 1e-4,
    max_per_seq: int = DEFAULT_MAX_MOTIF_ELEMENTS,
) -> xr.Dataset:
    """The element plan of the motif hits in ``ds`` (:func:`motif_elements`).

    Raises :class:`InputError` naming the motif file when no sequence has a hit.
    """
    table = motif_elements(ds, motifs, p_value_threshold=p_value_threshold,
                           max_per_seq=max_per_seq)
    if len(table) == 0:
        raise InputError(f"{table.attrs['source']}: no motif hit at p < {p_value_threshold} in "
                         f"any of the {ds.sizes['seq']} sequences", option="p_value_threshold")
    out = plan_elements(ds, table, source=table.attrs["source"])
    out.attrs["elements_from"] = "motifs"  # the plan stays "elements": symmetric pairs
    out.attrs["motif_p_value_threshold"] = float(p_value_threshold)
    out.attrs["motif_hits"] = int(len(table))
    return out


__all__ = ["DEFAULT_MAX_MOTIF_ELEMENTS", "ROLES", "motif_elements", "plan_elements",
           "plan_motifs", "read_elements"]
