"""Plan from the legacy DFIM ``mut_dict`` (JSON or YAML; never pickle).

Each record has ``seq, mut_start, mut_end, mut_name, resp_start, resp_end, resp_names``;
a ``pair_mask`` (seq, mutation, response) keeps the pairs each record asked for.

Examples
--------
>>> from dfimx.sequences import from_strings
>>> ds = from_strings(["ACGTACGTAC"], ids=["s"])
>>> rec = {"seq": "s", "mut_start": 0, "mut_end": 3, "mut_name": "a",
...        "resp_start": [6], "resp_end": [9], "resp_names": ["b"]}
>>> plan = plan_mut_dict(ds, [rec])
>>> plan.pair_mask.values.tolist()
[[[True]]]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dfimx.errors import InputError
from dfimx.plans.common import (
    Interval,
    element_alts,
    padded_intervals,
    resolve_seq,
    sequence_frame,
    to_window,
)


def read_mut_dict(path: str | os.PathLike) -> Any:
    """Load a legacy DFIM ``mut_dict`` from JSON or YAML (never pickle)."""
    path = str(path)
    if not Path(path).is_file():
        raise InputError(f"{path}: mut_dict file not found")
    try:
        text = Path(path).read_text(encoding="utf-8")
        if path.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot parse mut_dict: {first}") from None


def _mut_dict_records(mut_dict: Any, source: str) -> list[dict]:
    """Flatten the accepted mut_dict shapes into records with a ``seq`` key."""
    if isinstance(mut_dict, Mapping) and "records" in mut_dict:
        mut_dict = mut_dict["records"]
    if isinstance(mut_dict, Mapping):
        # original DFIM shape: {seq: {mut_key: {mut_start, mut_end, ...}}}
        records = []
        for seq, muts in mut_dict.items():
            if not isinstance(muts, Mapping):
                raise InputError(f"{source}: entry for sequence {seq!r} is not a mapping")
            for key, rec in muts.items():
                if not isinstance(rec, Mapping):
                    raise InputError(f"{source}: record {len(records) + 1} (sequence {seq!r}, "
                                     f"mutation {key!r}) is not a mapping")
                rec = dict(rec)
                rec.setdefault("seq", seq)
                rec.setdefault("mut_name", key)
                records.append(rec)
        return records
    if isinstance(mut_dict, Sequence) and not isinstance(mut_dict, (str, bytes)):
        for row, rec in enumerate(mut_dict, 1):
            if not isinstance(rec, Mapping):
                raise InputError(f"{source}: record {row} is not a mapping (got "
                                 f"{type(rec).__name__})")
        return [dict(r) for r in mut_dict]
    raise InputError(f"{source}: expected a list of records or a {{seq: {{mutation: ...}}}} "
                     "mapping")


def _integer(value: Any, source: str, row: int, key: str) -> int:
    """A coordinate of a record, refused (one line) unless it is a whole number.

    As in the elements table, ``12.0`` and ``"12"`` are 12, while ``12.7``, ``"abc"``,
    ``true`` and lists are errors.
    """
    number = None
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        number = int(value)
    elif isinstance(value, (float, np.floating, str)) and not isinstance(value, bool):
        try:
            f = float(value)
        except ValueError:
            f = float("nan")
        if np.isfinite(f) and f == round(f) and abs(f) < 2**53:
            number = int(f)
    if number is None:
        shown = repr(value) if isinstance(value, (str, int, float)) else \
            f"a {type(value).__name__}"
        raise InputError(f"{source}: record {row}: {key} must be an integer, got {shown}")
    return number


def _integers(value: Any, source: str, row: int, key: str) -> list[int]:
    """One integer or a list of them (``resp_start``, ``resp_end``)."""
    items = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
    return [_integer(v, source, row, key) for v in items]


def plan_mut_dict(
    ds: xr.Dataset, mut_dict: Any, *, source: str | None = None
) -> xr.Dataset:
    """Add a mutation plan from the legacy DFIM ``mut_dict``.

    Each record has ``seq, mut_start, mut_end, mut_name, resp_start, resp_end,
    resp_names`` (the ``resp_*`` lists name the targets of that source).  Targets of a
    sequence are the union over its records; a ``pair_mask`` (seq, mutation, response)
    keeps the pairs that each record asked for. ``seq`` and the coordinates follow the
    rules of the elements table (:func:`dfimx.plans.plan_elements`): an id (or a 0-based
    index when no id looks like a number), whole-number coordinates in the record's frame.

    Raises
    ------
    InputError
        One line naming the source, the record (1-based) and the problem: a missing key, a
        coordinate that is not a whole number, an unknown sequence, an interval outside the
        sequence or outside the window kept by ``length=``.
    """
    if isinstance(mut_dict, (str, os.PathLike)):
        source = source or str(mut_dict)
        mut_dict = read_mut_dict(mut_dict)
    source = source or "<mut_dict>"
    records = _mut_dict_records(mut_dict, source)
    if not records:
        raise InputError(f"{source}: no records")
    frame = sequence_frame(ds)
    n = frame.n
    sources: list[list[Interval]] = [[] for _ in range(n)]
    targets: list[list[Interval]] = [[] for _ in range(n)]
    pairs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    target_index: list[dict[Interval, int]] = [{} for _ in range(n)]  # linear, not quadratic
    need = {"seq", "mut_start", "mut_end", "resp_start", "resp_end"}
    for row, rec in enumerate(records, 1):
        missing = need - set(rec)
        if missing:
            raise InputError(f"{source}: record {row}: missing key(s) {sorted(missing)}")
        i = resolve_seq(rec["seq"], frame, source, row)
        s, e = _integer(rec["mut_start"], source, row, "mut_start"), \
            _integer(rec["mut_end"], source, row, "mut_end")
        mut_name = str(rec.get("mut_name", f"{s}-{e}"))
        (s,), (e,) = to_window(frame, [i], [s], [e], source, [row], "mutation")
        rs = _integers(rec["resp_start"], source, row, "resp_start")
        re_ = _integers(rec["resp_end"], source, row, "resp_end")
        names = rec.get("resp_names")
        if names is None or (isinstance(names, (list, tuple, np.ndarray)) and len(names) == 0):
            names = [f"{a}-{b}" for a, b in zip(rs, re_, strict=False)]
        names = list(names) if isinstance(names, (list, tuple, np.ndarray)) else [names]
        if not len(rs) == len(re_) == len(names):
            raise InputError(
                f"{source}: record {row}: resp_start, resp_end and resp_names differ in length"
            )
        m_index = len(sources[i])
        sources[i].append((int(s), int(e), mut_name))
        if rs:
            ws, we = to_window(frame, [i] * len(rs), rs, re_, source, [row] * len(rs),
                               "response")
        else:
            ws, we = [], []
        for a, b, nm in zip(ws, we, names, strict=True):
            key = (int(a), int(b), str(nm))
            if key not in target_index[i]:
                target_index[i][key] = len(targets[i])
                targets[i].append(key)
            pairs[i].append((m_index, target_index[i][key]))
    out = ds.assign(padded_intervals(sources, "mutation"))
    out = out.assign(padded_intervals(targets, "response"))
    pm = np.zeros((n, out.sizes["mutation"], out.sizes["response"]), bool)
    for i, ps in enumerate(pairs):
        for m, r in ps:
            pm[i, m, r] = True
    out["pair_mask"] = (("seq", "mutation", "response"), pm)
    out["mutation_alt"] = element_alts(out)
    out.attrs["plan"] = "mut_dict"
    return out


__all__ = ["plan_mut_dict", "read_mut_dict"]
