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
    check_interval,
    element_alts,
    padded_intervals,
    resolve_seq,
    seq_lookup,
)


def read_mut_dict(path: str | os.PathLike) -> Any:
    """Load a legacy DFIM ``mut_dict`` from JSON or YAML (never pickle)."""
    path = str(path)
    if not Path(path).is_file():
        raise InputError(f"{path}: mut_dict file not found")
    text = Path(path).read_text()
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot parse mut_dict: {exc}") from exc


def _mut_dict_records(mut_dict: Any) -> list[dict]:
    """Flatten the accepted mut_dict shapes into records with a ``seq`` key."""
    if isinstance(mut_dict, Mapping) and "records" in mut_dict:
        mut_dict = mut_dict["records"]
    if isinstance(mut_dict, Mapping):
        # original DFIM shape: {seq: {mut_key: {mut_start, mut_end, ...}}}
        records = []
        for seq, muts in mut_dict.items():
            if not isinstance(muts, Mapping):
                raise InputError(f"mut_dict: entry for sequence {seq!r} is not a mapping")
            for key, rec in muts.items():
                rec = dict(rec)
                rec.setdefault("seq", seq)
                rec.setdefault("mut_name", key)
                records.append(rec)
        return records
    if isinstance(mut_dict, Sequence):
        return [dict(r) for r in mut_dict]
    raise InputError("mut_dict: expected a list of records or a {seq: {mutation: ...}} mapping")


def plan_mut_dict(
    ds: xr.Dataset, mut_dict: Any, *, source: str | None = None
) -> xr.Dataset:
    """Add a mutation plan from the legacy DFIM ``mut_dict``.

    Each record has ``seq, mut_start, mut_end, mut_name, resp_start, resp_end,
    resp_names`` (the ``resp_*`` lists name the targets of that source).  Targets of a
    sequence are the union over its records; a ``pair_mask`` (seq, mutation, response)
    keeps the pairs that each record asked for.
    """
    if isinstance(mut_dict, (str, os.PathLike)):
        source = source or str(mut_dict)
        mut_dict = read_mut_dict(mut_dict)
    source = source or "<mut_dict>"
    records = _mut_dict_records(mut_dict)
    lookup, n = seq_lookup(ds)
    length = ds.sizes["position"]
    sources: list[list[Interval]] = [[] for _ in range(n)]
    targets: list[list[Interval]] = [[] for _ in range(n)]
    pairs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    need = {"seq", "mut_start", "mut_end", "resp_start", "resp_end"}
    for row, rec in enumerate(records, 1):
        missing = need - set(rec)
        if missing:
            raise InputError(f"{source}: record {row}: missing key(s) {sorted(missing)}")
        i = resolve_seq(rec["seq"], lookup, n, source, row)
        s, e = int(rec["mut_start"]), int(rec["mut_end"])
        check_interval(s, e, length, source, row, "mutation")
        rs, re_ = list(np.atleast_1d(rec["resp_start"])), list(np.atleast_1d(rec["resp_end"]))
        names = rec.get("resp_names") or [f"{a}-{b}" for a, b in zip(rs, re_, strict=False)]
        names = list(np.atleast_1d(names))
        if not len(rs) == len(re_) == len(names):
            raise InputError(
                f"{source}: record {row}: resp_start, resp_end and resp_names differ in length"
            )
        m_index = len(sources[i])
        sources[i].append((s, e, str(rec.get("mut_name", f"{s}-{e}"))))
        for a, b, nm in zip(rs, re_, names, strict=True):
            a, b = int(a), int(b)
            check_interval(a, b, length, source, row, "response")
            key = (a, b, str(nm))
            if key not in targets[i]:
                targets[i].append(key)
            pairs[i].append((m_index, targets[i].index(key)))
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
