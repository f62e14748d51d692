"""Selections on a (lazy) dfimx result: open it, find a sequence, task or source, load.

Every plot selects what it shows on the lazy dataset first (:func:`load` selects, then
computes only the listed variables), so plotting one sequence of a large store reads only
the chunk that holds it.

Examples
--------
>>> from dfimx.testing import example_result
>>> ds = example_result(n_seq=3)
>>> seq_index(ds, "chr1:1000-1120"), task_index(ds, "task1"), task_name(ds, 0)
(1, 1, 'task0')
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from dfimx.alphabet import BASES
from dfimx.store import open_result
from dfimx.variables import as_str

__all__ = [
    "python_strings",
    "SIGNIFICANCE",
    "DatasetLike",
    "element_label",
    "genome_offset",
    "genome_window",
    "load",
    "mutation_index",
    "neglog10",
    "open_dataset",
    "seq_index",
    "spread_indices",
    "symmetric_clim",
    "task_index",
    "task_name",
]

#: q-value threshold of the significance marks and counts.
SIGNIFICANCE = 0.05

DatasetLike = xr.Dataset | str | os.PathLike


def open_dataset(ds: DatasetLike, *, allow_incomplete: bool = False) -> xr.Dataset:
    """Return ``ds`` itself, or the dataset of the Zarr store at that path (lazily).

    A store is opened with :func:`dfimx.store.open_result`, with all of its checks: a
    missing, unreadable, unfinished or damaged store is an
    :class:`~dfimx.errors.InputError` (one line naming the store and the problem).

    Parameters
    ----------
    ds
        A dfimx dataset, or the path or URL of a dfimx Zarr store.
    allow_incomplete
        Open a store whose run has not finished, to inspect it (what it shows is
        partial: tests, nulls and p-values of the missing regions are absent).

    Returns
    -------
    xarray.Dataset
        The dataset (dask-backed for a store).

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=2)
    >>> open_dataset(ds) is ds
    True
    >>> open_dataset("no-such-store.zarr")
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: no-such-store.zarr: store not found
    """
    if isinstance(ds, xr.Dataset):
        return ds
    return open_result(os.fspath(ds), allow_incomplete=allow_incomplete)


def seq_index(ds: xr.Dataset, seq: int | str) -> int:
    """Index of a sequence given by index, ``seq_id`` or ``variant_id`` (first match).

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> seq_index(example_result(n_seq=3, variants=True), "rs102")
    2
    """
    if isinstance(seq, (int, np.integer)):
        n = ds.sizes["seq"]
        if not -n <= int(seq) < n:
            raise IndexError(f"sequence index {seq} is out of range for {n} sequences")
        return int(seq) % n
    names = as_str(np.asarray(ds["seq_id"].values))
    hits = np.flatnonzero(names == str(seq))
    if hits.size == 0 and "variant_id" in ds:
        hits = np.flatnonzero(as_str(np.asarray(ds["variant_id"].values)) == str(seq))
    if hits.size == 0:
        raise KeyError(f"no sequence named {seq!r} in the dataset")
    return int(hits[0])


def task_index(ds: xr.Dataset, task: int | str) -> int:
    """Index of a task given by index or by its ``task`` coordinate label.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> task_index(example_result(n_seq=1), -1)
    1
    """
    n = ds.sizes.get("task", 1)
    if isinstance(task, (int, np.integer)):
        if not -n <= int(task) < n:
            raise IndexError(f"task index {task} is out of range for {n} tasks")
        return int(task) % n
    if "task" in ds.coords:
        names = [str(t) for t in ds["task"].values]
        if str(task) in names:
            return names.index(str(task))
    raise KeyError(f"no task named {task!r} in the dataset")


def task_name(ds: xr.Dataset, t: int) -> str:
    """Label of task ``t`` (its index when there is no ``task`` coordinate).

    Examples
    --------
    >>> task_name(xr.Dataset(), 2)
    '2'
    """
    if "task" in ds.coords:
        return str(ds["task"].values[t])
    return str(t)


def mutation_index(sub: xr.Dataset, mutation: int | str) -> int:
    """Index of a real source of one loaded sequence, by index or name (first match).

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> mutation_index(example_result(n_seq=2).isel(seq=1), "TAL1")
    1
    """
    mask = np.asarray(sub["mutation_mask"].values, dtype=bool)
    if isinstance(mutation, (int, np.integer)):
        m = int(mutation) % sub.sizes["mutation"]
        if not mask[m]:
            raise IndexError(f"mutation {mutation} is padding for this sequence")
        return m
    names = as_str(np.asarray(sub["mutation_name"].values))
    hits = np.flatnonzero((names == str(mutation)) & mask)
    if hits.size == 0:
        raise KeyError(f"no source named {mutation!r} in this sequence")
    return int(hits[0])


def load(ds: xr.Dataset, names: Sequence[str], **isel: Any) -> xr.Dataset:
    """Select first, then load only the listed variables that exist.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> sub = load(example_result(n_seq=3), ["seq_id", "absent"], seq=1)
    >>> list(sub.data_vars), str(sub["seq_id"].values)
    (['seq_id'], 'chr1:1000-1120')
    """
    present = [n for n in names if n in ds.variables]
    return ds[present].isel(**isel).compute()


_REGION_ID = re.compile(r"^(?P<chrom>[^\s:]+):(?P<start>-?\d+)-(?P<end>-?\d+)$")


def genome_window(ds: xr.Dataset, i: int) -> tuple[str, int] | None:
    """``(chrom, start)`` of sequence ``i`` in its genome, or None when it is not known.

    ``start`` is the 0-based genome coordinate of window position 0. It comes from the
    ``window_start`` variable (with ``window_chrom``, or ``variant_chrom`` for variant
    scans) when the result has one, else from a ``seq_id`` of the form
    ``chrom:start-end`` (0-based start, exclusive end, as BED and ``dfimx run --bed``
    write them) whose length ``end - start`` is the window length; any other id gives
    None (the plots keep window positions).

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=3)
    >>> genome_window(ds, 2)
    ('chr1', 2000)
    >>> ds["seq_id"] = ("seq", ["a", "chr2:10-20", "chr3:5-125"])
    >>> genome_window(ds, 0), genome_window(ds, 1), genome_window(ds, 2)
    (None, None, ('chr3', 5))
    """
    if "window_start" in ds.variables:
        chrom = next((v for v in ("window_chrom", "variant_chrom") if v in ds.variables), None)
        if chrom is not None:
            got = load(ds, ["window_start", chrom], seq=i)
            return str(as_str(np.asarray(got[chrom].values))), int(got["window_start"].values)
    sid = str(as_str(np.asarray(ds["seq_id"].isel(seq=i).values)))
    hit = _REGION_ID.match(sid)
    if hit is None:
        return None
    start, end = int(hit["start"]), int(hit["end"])
    if end - start != ds.sizes.get("position", -1):
        return None
    return hit["chrom"], start


def element_label(name: str, start: int, end: int, alt: int | None = None, *,
                  offset: int | None = None) -> str:
    """Axis label of a source or target: ``name start>ALT``, ``name @pos`` or ``name [s-e)``.

    Window positions are 0-based with an exclusive end. With ``offset`` (the 1-based
    genome coordinate of window position 0) the label is in 1-based genome coordinates,
    as a genome browser writes them: ``name @pos``, ``name pos>ALT`` or ``name s-e``
    (both ends included).

    Examples
    --------
    >>> element_label("GATA", 5, 13), element_label("p", 7, 8), element_label("C>T", 7, 8, 3)
    ('GATA [5-13)', 'p @7', 'C>T 7>T')
    >>> element_label("GATA", 5, 13, offset=1001), element_label("C>T", 7, 8, 3, offset=1001)
    ('GATA 1006-1013', 'C>T 1008>T')
    """
    if offset is not None:
        first, last = start + offset, end - 1 + offset
        if alt is not None and alt >= 0:
            return f"{name} {first}>{BASES[alt]}"
        return f"{name} @{first}" if first == last else f"{name} {first}-{last}"
    if alt is not None and alt >= 0:
        return f"{name} {start}>{BASES[alt]}"
    if end - start == 1:
        return f"{name} @{start}"
    return f"{name} [{start}-{end})"


def genome_offset(ds: xr.Dataset, i: int, genome_axis: bool = True) -> tuple[int, str]:
    """``(offset, axis label)`` of sequence ``i``'s position axis.

    With ``genome_axis`` and a known genome window (:func:`genome_window`), positions are
    1-based genome coordinates (as on the variant genome axis): offset is
    ``start + 1`` and the label ``"chr1 position (bp, 1-based)"``; else 0 and
    ``"position"`` (0-based window positions).

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=2)
    >>> genome_offset(ds, 1), genome_offset(ds, 1, genome_axis=False)
    ((1001, 'chr1 position (bp, 1-based)'), (0, 'position'))
    """
    where = genome_window(ds, i) if genome_axis else None
    if where is None:
        return 0, "position"
    return where[1] + 1, f"{where[0]} position (bp, 1-based)"


def neglog10(x: np.ndarray) -> np.ndarray:
    """−log10 of ``x``, clipped at 1e-300 (NaN stays NaN).

    Examples
    --------
    >>> neglog10(np.array([0.01, 0.0, np.nan])).tolist()
    [2.0, 300.0, nan]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log10(np.clip(np.asarray(x, dtype=float), 1e-300, None))


def symmetric_clim(values: np.ndarray) -> tuple[float, float]:
    """Colour limits ``(-m, m)`` with ``m`` the largest finite ``|value|`` (1 if none).

    Examples
    --------
    >>> symmetric_clim(np.array([-2.0, 1.0, np.nan]))
    (-2.0, 2.0)
    """
    finite = np.abs(values[np.isfinite(values)])
    lim = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return (-lim, lim)


def spread_indices(n: int, k: int) -> np.ndarray:
    """At most ``k`` indices of ``range(n)``, evenly spread (all when ``n <= k``).

    Examples
    --------
    >>> spread_indices(10, 3).tolist()
    [0, 4, 9]
    """
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def python_strings(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its text columns as Python-object columns, as holoviews and bokeh need
    (pandas 3 with pyarrow stores text as Arrow arrays, which they cannot reshape).

    Examples
    --------
    >>> python_strings(pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})).dtypes.tolist()
    [dtype('O'), dtype('int64')]
    """
    text = [c for c in df.columns
            if df[c].dtype != object and pd.api.types.is_string_dtype(df[c].dtype)]
    if not text:
        return df
    out = df.astype({c: object for c in text})
    out.attrs.update(df.attrs)
    return out

