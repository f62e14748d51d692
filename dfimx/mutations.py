"""Mutation plans (which sources to mutate, which targets to score) and mutants.

A *plan* adds to a sequence dataset the source variables ``mutation_*`` on
(seq, mutation) and the target variables ``response_*`` on (seq, response), padded
per sequence with masks.  Three builders: :func:`plan_elements` (an elements table),
:func:`plan_mut_dict` (the original DFIM ``mut_dict``) and :func:`plan_scan`
(per-base scan of a window: each position x its 3 alternative bases).

:func:`make_mutants` is the array kernel that builds mutants for one chunk.

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

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from dfimx.alphabet import BASES
from dfimx.seeding import sequence_rng
from dfimx.errors import InputError

MUTATION_MODES = ("zeros", "gc", "shuffle")
DEFAULT_GC = 0.46
ROLES = ("source", "target", "both")
_STRING = np.dtypes.StringDType()


def _seq_lookup(ds: xr.Dataset) -> tuple[dict[str, int], int]:
    ids = [str(s) for s in ds["seq_id"].values]
    return {s: i for i, s in enumerate(ids)}, len(ids)


def _resolve_seq(value: Any, lookup: dict[str, int], n: int, source: str, row: int) -> int:
    key = str(value).strip()
    if key in lookup:
        return lookup[key]
    if key.lstrip("-").isdigit() and 0 <= int(key) < n:
        return int(key)
    raise InputError(
        f"{source}: record {row}: unknown sequence {key!r} (not a sequence id, "
        f"nor a 0-based index below {n})"
    )


def _check_interval(
    start: int, end: int, length: int, source: str, row: int | str, what: str = "interval"
) -> None:
    if end <= start:
        kind = "empty" if end == start else "reversed"
        raise InputError(f"{source}: record {row}: {kind} {what} [{start}, {end})")
    if start < 0 or end > length:
        raise InputError(
            f"{source}: record {row}: {what} [{start}, {end}) lies outside the sequence "
            f"(length {length})"
        )


def _padded(groups: list[list[tuple[int, int, str]]], n: int, chunk: int, prefix: str) -> dict:
    width = max((len(g) for g in groups), default=0)
    width = max(width, 1)
    start = np.zeros((n, width), np.int64)
    end = np.zeros((n, width), np.int64)
    name = np.full((n, width), "", dtype=object)
    mask = np.zeros((n, width), bool)
    for i, g in enumerate(groups):
        for j, (s, e, nm) in enumerate(g):
            start[i, j], end[i, j], name[i, j], mask[i, j] = s, e, nm, True
    dim = "mutation" if prefix == "mutation" else "response"
    out = {
        f"{prefix}_start": start,
        f"{prefix}_end": end,
        f"{prefix}_name": name,
        f"{prefix}_mask": mask,
    }
    return {k: (("seq", dim), _chunked(v, chunk)) for k, v in out.items()}


def _chunked(arr: np.ndarray, chunk: int) -> Any:
    # tables of elements are read into memory whole, so their plans are small: they stay
    # in memory and Zarr writes them once with the store's template, not once per region
    del chunk
    return arr


def _seq_chunk(ds: xr.Dataset) -> int:
    chunks = ds["seq_onehot"].chunks
    return int(chunks[0][0]) if chunks else int(ds.sizes["seq"])


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


def _checked_element_rows(
    elements: pd.DataFrame, lookup: dict[str, int], n: int, length: int, source: str
) -> zip:
    """``(seq index, start, end, name, role)`` per record, checked column-wise.

    Raises :class:`InputError` naming the first bad record (1-based).
    """
    count = len(elements)
    records = np.arange(1, count + 1)
    starts = pd.to_numeric(elements["start"], errors="coerce").to_numpy(np.float64)
    ends = pd.to_numeric(elements["end"], errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(starts) & np.isfinite(ends) & (starts == np.round(starts))
            & (ends == np.round(ends)))
    if bad.any():
        raise InputError(f"{source}: record {records[bad][0]}: start/end must be integers")
    starts, ends = starts.astype(np.int64), ends.astype(np.int64)
    keys = elements["seq"].astype(str).str.strip()
    seq = keys.map(lookup)
    unknown = seq.isna().to_numpy()
    if unknown.any():  # 0-based indices are accepted where no id matches
        numeric = pd.to_numeric(keys[unknown], errors="coerce")
        ok = (numeric >= 0) & (numeric < n) & (numeric == numeric.round())
        seq[unknown] = numeric.where(ok)
        for rec in records[seq.isna().to_numpy()][:1]:
            _resolve_seq(keys.iloc[rec - 1], lookup, n, source, int(rec))  # raises
    seq_idx = seq.to_numpy(np.int64)
    bad = (ends <= starts) | (starts < 0) | (ends > length)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        _check_interval(int(starts[k]), int(ends[k]), length, source, k + 1, "element")
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
    names = elements["name"].astype(str).tolist()
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
        DataFrame or TSV/CSV path with columns ``seq`` (id or 0-based index), ``start``
        (0-based), ``end`` (exclusive), ``name`` and optionally ``role``.
    """
    if not isinstance(elements, pd.DataFrame):
        elements = read_elements(elements)
    source = source or elements.attrs.get("source", "<elements>")
    missing = {"seq", "start", "end", "name"} - set(elements.columns)
    if missing:
        raise InputError(f"{source}: missing column(s) {sorted(missing)}")
    lookup, n = _seq_lookup(ds)
    length = ds.sizes["position"]
    rows = _checked_element_rows(elements, lookup, n, length, source)
    sources: list[list[tuple[int, int, str]]] = [[] for _ in range(n)]
    targets: list[list[tuple[int, int, str]]] = [[] for _ in range(n)]
    for i, s, e, name, role in rows:
        if role in ("source", "both"):
            sources[i].append((s, e, name))
        if role in ("target", "both"):
            targets[i].append((s, e, name))
    chunk = _seq_chunk(ds)
    out = ds.assign(_padded(sources, n, chunk, "mutation"))
    out = out.assign(_padded(targets, n, chunk, "response"))
    out["mutation_alt"] = out["mutation_start"].astype(np.int8) * 0 - 1
    out.attrs["plan"] = "elements"
    return out


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
    lookup, n = _seq_lookup(ds)
    length = ds.sizes["position"]
    sources: list[list[tuple[int, int, str]]] = [[] for _ in range(n)]
    targets: list[list[tuple[int, int, str]]] = [[] for _ in range(n)]
    pairs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    need = {"seq", "mut_start", "mut_end", "resp_start", "resp_end"}
    for row, rec in enumerate(records, 1):
        missing = need - set(rec)
        if missing:
            raise InputError(f"{source}: record {row}: missing key(s) {sorted(missing)}")
        i = _resolve_seq(rec["seq"], lookup, n, source, row)
        s, e = int(rec["mut_start"]), int(rec["mut_end"])
        _check_interval(s, e, length, source, row, "mutation")
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
            _check_interval(a, b, length, source, row, "response")
            key = (a, b, str(nm))
            if key not in targets[i]:
                targets[i].append(key)
            pairs[i].append((m_index, targets[i].index(key)))
    chunk = _seq_chunk(ds)
    out = ds.assign(_padded(sources, n, chunk, "mutation"))
    out = out.assign(_padded(targets, n, chunk, "response"))
    pm = np.zeros((n, out.sizes["mutation"], out.sizes["response"]), bool)
    for i, ps in enumerate(pairs):
        for m, r in ps:
            pm[i, m, r] = True
    out["pair_mask"] = (("seq", "mutation", "response"), _chunked(pm, chunk))
    out["mutation_alt"] = out["mutation_start"].astype(np.int8) * 0 - 1
    out.attrs["plan"] = "mut_dict"
    return out


def parse_scan(text: str) -> tuple[int, int]:
    """Parse ``"40:60"`` into a half-open window ``(40, 60)``."""
    try:
        a, b = (int(x) for x in str(text).split(":"))
    except ValueError:
        raise InputError(
            f"--scan: expected START:END (0-based, end exclusive), got {text!r}"
        ) from None
    return a, b


def _scan_block(onehot: np.ndarray, start: int, end: int) -> np.ndarray:
    """Alternative base codes (n, 3W) for a per-base scan of [start, end)."""
    window = onehot[:, start:end]
    ref = np.where(window.max(-1) > 0, window.argmax(-1), -1)  # (n, W)
    alts = np.empty(ref.shape + (3,), np.int8)
    for k in range(3):
        # alternatives in A, C, G, T order, skipping the reference base
        alts[..., k] = np.where(ref < 0, -1, k + (k >= ref))
    return alts.reshape(len(onehot), -1)


def plan_scan(ds: xr.Dataset, start: int, end: int) -> xr.Dataset:
    """Per-base scan of the window ``[start, end)``: each position x 3 alternative bases.

    Sources are single-base substitutions (``mutation_alt`` 0-3, names like ``C>T``);
    targets are every position of the window (``response`` = one position each).
    Positions that are N in a sequence are masked.

    Examples
    --------
    >>> from dfimx.sequences import from_strings
    >>> plan = plan_scan(from_strings(["ACGT"]), 1, 3)
    >>> plan.mutation_name.values[0].tolist()
    ['C>A', 'C>G', 'C>T', 'G>A', 'G>C', 'G>T']
    """
    length = ds.sizes["position"]
    _check_interval(start, end, length, "--scan", f"{start}:{end}", "scan window")
    n, w = ds.sizes["seq"], end - start
    chunk = _seq_chunk(ds)
    pos = np.repeat(np.arange(start, end), 3)
    alts = ds["seq_onehot"].data.map_blocks(
        _scan_block, start, end, drop_axis=[1, 2], new_axis=[1],
        chunks=(ds["seq_onehot"].chunks[0], (3 * w,)), dtype=np.int8,
    )

    def bcast(row: np.ndarray) -> da.Array:
        arr = da.from_array(row, chunks=-1)
        return da.broadcast_to(arr, (n, len(row)), chunks=(chunk, len(row)))

    out = ds.assign(
        mutation_start=(("seq", "mutation"), bcast(pos.astype(np.int64))),
        mutation_end=(("seq", "mutation"), bcast(pos.astype(np.int64) + 1)),
        mutation_alt=(("seq", "mutation"), alts),
        mutation_mask=(("seq", "mutation"), alts >= 0),
        response_start=(("seq", "response"), bcast(np.arange(start, end, dtype=np.int64))),
        response_end=(("seq", "response"), bcast(np.arange(start, end, dtype=np.int64) + 1)),
        response_mask=(("seq", "response"), da.ones((n, w), dtype=bool, chunks=(chunk, w))),
    )
    ref_letters = ds["seq_onehot"].data.map_blocks(
        _ref_letters, start, end, drop_axis=[2], chunks=(ds["seq_onehot"].chunks[0], (w,)),
        dtype=object, meta=np.empty((0, 0), object),
    )
    # variable-length strings: xarray writes them region by region without loading them
    names = da.map_blocks(
        _scan_names, ref_letters, alts, chunks=alts.chunks, dtype=_STRING,
        meta=np.empty((0, 0), _STRING),
    )
    out["mutation_name"] = (("seq", "mutation"), names)
    # a real (tiled) copy per block: broadcast views of strings do not survive Zarr writes
    window_names = np.array([str(p) for p in range(start, end)], dtype=_STRING)
    out["response_name"] = (("seq", "response"), alts[:, :w].map_blocks(
        lambda block: np.tile(window_names, (len(block), 1)), dtype=_STRING,
        meta=np.empty((0, 0), _STRING)))
    out.attrs["plan"] = "scan"
    out.attrs["scan"] = f"{start}:{end}"
    return out


def _ref_letters(onehot: np.ndarray, start: int, end: int) -> np.ndarray:
    window = onehot[:, start:end]
    letters = np.array(list(BASES) + ["N"], dtype=object)
    ref = np.where(window.max(-1) > 0, window.argmax(-1), 4)
    return letters[ref]


def _scan_names(ref_letters: np.ndarray, alts: np.ndarray) -> np.ndarray:
    letters = np.array(list(BASES) + ["N"], dtype=object)
    refs = np.repeat(ref_letters, 3, axis=1)
    return (refs + ">" + letters[alts]).astype(str).astype(_STRING)


# --------------------------------------------------------------------------- kernels


def background_row(gc: float = DEFAULT_GC) -> np.ndarray:
    """Expected one-hot of a background with GC fraction ``gc`` (A, C, G, T)."""
    at, cg = (1.0 - gc) / 2.0, gc / 2.0
    return np.array([at, cg, cg, at], np.float32)


def n_draws(mode: str, n_shuffles: int) -> int:
    """Mutants per source: ``n_shuffles`` for shuffle mode, else 1."""
    return int(n_shuffles) if mode == "shuffle" else 1


def make_mutants(
    X: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    alts: np.ndarray,
    *,
    mode: str = "zeros",
    gc: float = DEFAULT_GC,
    n_shuffles: int = 5,
    seq_ids: Sequence[str] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Mutants for the listed sources, ``(B, K, L, 4)`` float32.

    Parameters
    ----------
    X
        Originals ``(B, L, 4)``, one row per (sequence, source) pair to mutate.
    starts, ends, alts
        ``(B,)`` source interval and alternative base (``-1`` = element replacement).
    mode
        Element replacement: ``zeros``, ``gc`` (background expectation) or ``shuffle``
        (``n_shuffles`` random permutations of the element's bases, K = n_shuffles).
    seq_ids
        Sequence id of each row, to seed shuffles per sequence (chunking-independent).

    Examples
    --------
    >>> X = np.eye(4, dtype="float32")[[[0, 1, 2, 3]]]
    >>> make_mutants(X, np.array([1]), np.array([2]), np.array([3]))[0, 0, 1].tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    if mode not in MUTATION_MODES:
        raise InputError(f"unknown mutation mode {mode!r}; choose one of {list(MUTATION_MODES)}")
    X = np.asarray(X, np.float32)
    k = n_draws(mode, n_shuffles)
    out = np.repeat(X[:, None], k, axis=1)
    bg = background_row(gc)
    for b in range(len(X)):
        s, e, alt = int(starts[b]), int(ends[b]), int(alts[b])
        if alt >= 0:
            out[b, :, s:e] = 0.0
            out[b, :, s:e, alt] = 1.0
        elif mode == "zeros":
            out[b, :, s:e] = 0.0
        elif mode == "gc":
            out[b, :, s:e] = bg
        else:
            sid = seq_ids[b] if seq_ids is not None else str(b)
            for draw in range(k):
                rng = sequence_rng(seed, sid, "mutation", s, e, draw)
                out[b, draw, s:e] = X[b, s + rng.permutation(e - s)]
    return out
