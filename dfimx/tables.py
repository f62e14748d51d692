"""The tidy interaction table (README, "Command line"): one iterator over a result, and its files.

:func:`iter_rows` is the one place that turns a result's arrays into rows, one per real
(source, target, task) test, a block of sequences at a time (bounded memory);
:func:`to_dataframe` gathers them, :func:`export_table` writes them (what ``dfimx export``
does) and :func:`write_pair_summary` writes :func:`dfimx.stats.pair_summary` beside them.

Columns: ``seq_id, source_name, source_start, source_end, source_alt, target_name,
target_start, target_end, task, score, p_value, q_value, prediction, mutant_prediction``
(:data:`COLUMNS`), then, when the result has them:

* element plans: ``symmetric_score``, ``symmetric_p_value`` and ``symmetric_q_value``,
  the mean of the scores of ``a -> b`` and ``b -> a``, the same in both rows of a pair,
  and its significance against the null scored the same way;
* per-base scans: ``target_base`` (the base of the original at the target position);
* variant scans (``dfimx scan-variants``): ``variant_chrom``, ``variant_pos``,
  ``variant_ref``, ``variant_alt``, ``variant_id``, ``target_kind`` (``motif`` or
  ``variant``) and the genome coordinates of the target, ``target_chrom``,
  ``target_genome_start``, ``target_genome_end`` (0-based, half-open).

Examples
--------
>>> import numpy as np, xarray as xr
>>> sm, sr = ("seq", "mutation"), ("seq", "response")
>>> score = ("seq", "mutation", "response", "task")
>>> ds = xr.Dataset({
...     "seq_id": ("seq", np.array(["s0"], object)),
...     "mutation_start": (sm, [[2]]), "mutation_end": (sm, [[4]]),
...     "mutation_alt": (sm, np.array([[-1]], np.int8)),
...     "mutation_name": (sm, np.array([["A"]], object)),
...     "response_start": (sr, [[8, 2]]), "response_end": (sr, [[9, 4]]),
...     "response_name": (sr, np.array([["B", "A"]], object)),
...     "prediction": (("seq", "task"), np.array([[1.5]], "f4")),
...     "mutant_prediction": (("seq", "mutation", "task"), np.array([[[0.5]]], "f4")),
...     "interaction_score": (score, np.array([[[[0.25], [np.nan]]]], "f4")),
... })
>>> table = to_dataframe(ds)
>>> table[["source_name", "target_name", "target_start", "score"]].values.tolist()
[['A', 'B', 8, 0.25]]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from dfimx.alphabet import BASES, onehot_to_codes
from dfimx.errors import InputError
from dfimx.stats import pair_summary
from dfimx.stats.pairs import PAIR_KEYS
from dfimx.store import open_result
from dfimx.variables import STR, validate

__all__ = [
    "COLUMNS", "TABLE_FORMATS", "block_rows", "export_table", "iter_rows", "table_format",
    "to_dataframe", "write_pair_summary",
]

#: Table formats by file suffix (any case): tab- or comma-separated text, or Parquet.
TABLE_FORMATS = {".tsv": "tsv", ".txt": "tsv", ".csv": "csv", ".parquet": "parquet"}

#: Store variables every table needs.
_REQUIRED = [
    "interaction_score", "mutation_start", "mutation_end", "mutation_alt", "mutation_name",
    "response_start", "response_end", "response_name", "prediction", "mutant_prediction",
    "seq_id",
]
_STATISTICS = ("interaction_p_value", "interaction_q_value", "interaction_effect_size")
#: Store variables of element plans behind the symmetric_score / symmetric_p_value /
#: symmetric_q_value columns (the mean of both directions of a pair).
_SYMMETRIC = ("symmetric_score", "symmetric_p_value", "symmetric_q_value")
_VARIANT_COLUMNS = ["variant_chrom", "variant_pos", "variant_ref", "variant_alt", "variant_id"]
#: Store variables of variant scans behind the target_kind / target_chrom /
#: target_genome_start / target_genome_end columns.
_VARIANT_TARGETS = ["target_kind", "target_chrom", "target_start", "target_end", "window_start"]
#: Letter of an alternative base code (-1, element replacement: empty).
_ALT_LETTERS = np.array(list(BASES) + [""], dtype=object)
#: Letter of a base code of the original (-1, an all-zero row: N).
_BASE_LETTERS = np.array(list(BASES) + ["N"], dtype=object)


#: The columns in order: (column, store variable, dims the row index picks); the variable
#: is None for the columns derived below (source_alt, task, target_base).
_LAYOUT = [
    ("seq_id", "seq_id", "s"),
    ("source_name", "mutation_name", "sm"),
    ("source_start", "mutation_start", "sm"),
    ("source_end", "mutation_end", "sm"),
    ("source_alt", None, "sm"),
    ("target_name", "response_name", "sr"),
    ("target_start", "response_start", "sr"),
    ("target_end", "response_end", "sr"),
    ("task", None, "t"),
    ("score", "interaction_score", "smrt"),
    ("p_value", "interaction_p_value", "smrt"),
    ("q_value", "interaction_q_value", "smrt"),
    ("prediction", "prediction", "st"),
    ("mutant_prediction", "mutant_prediction", "smt"),
    ("effect_size", "interaction_effect_size", "smrt"),
    *((v, v, "smrt") for v in _SYMMETRIC),
    ("target_base", None, "sr"),
    *((v, v, "s") for v in _VARIANT_COLUMNS),
    ("target_kind", "target_kind", "sr"),
]
#: The columns every tidy table starts with (README, "Command line": `dfimx export`).
COLUMNS = [column for column, _, _ in _LAYOUT[:14]]


def _derived(block: xr.Dataset, column: str, index: tuple[np.ndarray, ...]) -> Any:
    """The value of a derived column at ``index``, or None when ``block`` cannot give it."""
    if column == "task":
        (t,) = index
        return np.asarray(block["task"].values, dtype=object)[t] if "task" in block.coords else t
    if column == "source_alt" and "mutation_alt" in block:
        alt = block["mutation_alt"].values[index].astype(int)
        return _ALT_LETTERS[np.where(alt < 0, 4, alt)]
    if column == "target_base" and block.attrs.get("plan") == "scan" and "seq_onehot" in block:
        s, r = index
        code = onehot_to_codes(block["seq_onehot"].values[s, block["response_start"].values[s, r]])
        return _BASE_LETTERS[np.where(code < 0, 4, code)]
    return None


def block_rows(block: xr.Dataset, *, indices: bool = False) -> pd.DataFrame:
    """The tidy rows of one loaded block of sequences: one per non-NaN ``interaction_score``.

    Each column is there when the variables behind it are in ``block`` (``p_value`` and
    ``q_value`` always, NaN without statistics); :func:`iter_rows` checks that a result
    has all of :data:`COLUMNS`.

    Parameters
    ----------
    block
        Loaded (numpy-backed) selection of a result along ``seq``.
    indices
        Start with the columns ``seq_index, mutation_index, response_index, task_index``
        (positions within ``block``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> dims = ("seq", "mutation", "response", "task")
    >>> block = xr.Dataset({
    ...     "interaction_score": (dims, np.array([np.nan, 2.0]).reshape(1, 1, 2, 1)),
    ...     "mutation_name": (("seq", "mutation"), np.array([["A"]], object)),
    ...     "response_name": (("seq", "response"), np.array([["A", "B"]], object)),
    ... })
    >>> block_rows(block, indices=True).values.tolist()
    [[0, 0, 1, 0, 'A', 'B', 0, 2.0, nan, nan]]
    """
    score = block["interaction_score"].values  # (n, M, R, T)
    s, m, r, t = np.nonzero(~np.isnan(score))
    pick = {"s": (s,), "t": (t,), "sm": (s, m), "sr": (s, r), "st": (s, t),
            "smt": (s, m, t), "smrt": (s, m, r, t)}
    frame: dict[str, Any] = {}
    if indices:
        frame.update(seq_index=s, mutation_index=m, response_index=r, task_index=t)
    for column, name, dims in _LAYOUT:
        if name is None:
            values = _derived(block, column, pick[dims])
        elif name in block:
            values = block[name].values[pick[dims]]
            if values.dtype.kind in STR:
                values = values.astype(object)
        else:
            values = np.full(s.size, np.nan) if column in ("p_value", "q_value") else None
        if values is not None:
            frame[column] = values
    if "seq_offset" in block:  # records fitted to a length: coordinates in the record's frame
        offset = block["seq_offset"].values[s]
        for column in ("source_start", "source_end", "target_start", "target_end"):
            if column in frame:
                frame[column] = frame[column] + offset
    if "target_start" in block.data_vars and "target_chrom" in block:
        frame["target_chrom"] = block["target_chrom"].values[s].astype(object)
        frame["target_genome_start"] = block["target_start"].values[s, r]
        frame["target_genome_end"] = block["target_end"].values[s, r]
    elif "window_start" in block and "variant_chrom" in block:
        ws = block["window_start"].values[s]
        frame["target_chrom"] = block["variant_chrom"].values[s].astype(object)
        frame["target_genome_start"] = ws + frame["target_start"]
        frame["target_genome_end"] = ws + frame["target_end"]
    return pd.DataFrame(frame)


def iter_rows(ds: xr.Dataset, *, rows_per_block: int = 1024) -> Iterator[pd.DataFrame]:
    """Yield the tidy table in blocks of whole sequence chunks (bounded memory).

    Parameters
    ----------
    ds
        A result (see :func:`dfimx.open_result`); lazy variables are computed one block
        of sequences at a time.
    rows_per_block
        About how many sequences a block holds (rounded to whole chunks of
        ``interaction_score``).

    Yields
    ------
    pandas.DataFrame
        The rows of a block (blocks without tests are skipped), columns as in the module
        notes.

    Examples
    --------
    >>> from dfimx.store import open_result                      # doctest: +SKIP
    >>> for frame in iter_rows(open_result("out.zarr")):          # doctest: +SKIP
    ...     print(len(frame))
    """
    names = _table_variables(ds)
    n = ds.sizes["seq"]
    chunks = ds["interaction_score"].chunks
    chunk = chunks[0][0] if chunks else n
    step = max(1, min(n, chunk * max(1, rows_per_block // max(1, chunk))))
    for lo in range(0, n, step):
        block = ds[names].isel(seq=slice(lo, lo + step)).compute()
        if not np.isnan(block["interaction_score"].values).all():
            yield block_rows(block)


def _table_variables(ds: xr.Dataset) -> list[str]:
    """The variables of ``ds`` the table reads (after checking those it needs)."""
    validate(ds, _REQUIRED, [v for v in _STATISTICS + _SYMMETRIC if v in ds])
    names = [v for v in _REQUIRED + list(_STATISTICS + _SYMMETRIC) + _VARIANT_COLUMNS
             + _VARIANT_TARGETS + ["seq_offset"] if v in ds]
    if ds.attrs.get("plan") == "scan":
        names.append("seq_onehot")
    return names


def _no_rows(ds: xr.Dataset) -> pd.DataFrame:
    """The table of ``ds`` without rows: its columns, with their types."""
    if ds.sizes["seq"] == 0:
        return pd.DataFrame(columns=COLUMNS)
    block = ds[_table_variables(ds)].isel(seq=slice(0, 1)).compute()
    block["interaction_score"] = block["interaction_score"] * np.nan
    return block_rows(block)


def to_dataframe(ds: xr.Dataset) -> pd.DataFrame:
    """The whole tidy table as one DataFrame (for small results and notebooks).

    Examples
    --------
    >>> from dfimx.store import open_result                 # doctest: +SKIP
    >>> table = to_dataframe(open_result("out.zarr"))       # doctest: +SKIP
    """
    frames = list(iter_rows(ds, rows_per_block=1 << 30))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def table_format(path: str | os.PathLike) -> str:
    """The format of a table file from its suffix: ``tsv``, ``csv`` or ``parquet``.

    Raises
    ------
    InputError
        For any other suffix (see :data:`TABLE_FORMATS`).

    Examples
    --------
    >>> table_format("t.TSV"), table_format("t.txt"), table_format("t.parquet")
    ('tsv', 'tsv', 'parquet')
    >>> table_format("t.xlsx")
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: t.xlsx: unknown table suffix '.xlsx'; use .tsv, .txt, .csv or .parquet
    """
    suffix = Path(str(path)).suffix.lower()
    if suffix not in TABLE_FORMATS:
        what = f"unknown table suffix {suffix!r}" if suffix else "no table suffix"
        raise InputError(f"{path}: {what}; use .tsv, .txt, .csv or .parquet")
    return TABLE_FORMATS[suffix]


def _write_table(frames: Any, out: str, fmt: str, empty: Any) -> int:
    """Write ``frames`` (an iterable of DataFrames) to ``out`` through ``out.partial``.

    ``empty()`` gives the (row-less) frame written when there are none; returns the rows.
    """
    tmp = out + ".partial"
    rows = 0
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = None
            for frame in frames:
                table = pa.Table.from_pandas(
                    frame, preserve_index=False, schema=None if writer is None else writer.schema)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                rows += len(frame)
            if writer is None:
                pq.write_table(pa.Table.from_pandas(empty(), preserve_index=False), tmp)
            else:
                writer.close()
        else:
            sep = "," if fmt == "csv" else "\t"
            with open(tmp, "w") as fh:
                header = True
                for frame in frames:
                    frame.to_csv(fh, sep=sep, index=False, header=header,
                                 float_format="%.6g", na_rep="")
                    header = False
                    rows += len(frame)
                if header:
                    empty().to_csv(fh, sep=sep, index=False)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{out}: cannot write the table: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rows


def export_table(
    store: str | os.PathLike | xr.Dataset,
    out: str | os.PathLike,
    *,
    rows_per_block: int = 1024,
) -> int:
    """Write the tidy table and return the row count.

    The format follows the suffix of ``out`` (:func:`table_format`): ``.tsv``/``.txt``
    tab-separated, ``.csv`` comma-separated (floats to 6 significant digits in both),
    ``.parquet`` Parquet (pyarrow; the values as stored).  The file is written to a
    temporary name and renamed when complete.

    Raises
    ------
    InputError
        For an unknown suffix, a store that cannot be read, or an output that cannot be
        written.

    Examples
    --------
    >>> export_table("out.zarr", "interactions.tsv")  # doctest: +SKIP
    1200
    >>> export_table("out.zarr", "interactions.parquet")  # doctest: +SKIP
    1200
    """
    ds = store if isinstance(store, xr.Dataset) else open_result(store)
    out = str(out)
    fmt = table_format(out)
    return _write_table(iter_rows(ds, rows_per_block=rows_per_block), out, fmt,
                        lambda: _no_rows(ds))


def write_pair_summary(
    store: str | os.PathLike | xr.Dataset, table_path: str | os.PathLike
) -> str | None:
    """Write ``<table stem>.pair_summary.<suffix>`` beside the tidy table (when q-values exist).

    The file has the table's suffix and format (:func:`table_format`).

    One row per (source name, target name, task): :func:`dfimx.stats.pair_summary` (tests,
    mean and exact median score, tests and fraction with q < 0.05); for element plans
    also the same of the symmetric score (``n_symmetric_tests``, ``mean_symmetric_score``,
    ``median_symmetric_score``, ``n_symmetric_significant``,
    ``fraction_symmetric_significant``). Rows by decreasing ``|median_score|``. Returns
    the path, or None without q-values.

    Examples
    --------
    >>> write_pair_summary("out.zarr", "interactions.tsv")  # doctest: +SKIP
    'interactions.pair_summary.tsv'
    """
    ds = store if isinstance(store, xr.Dataset) else open_result(store)
    fmt = table_format(table_path)
    if "interaction_q_value" not in ds:
        return None
    table_path = Path(table_path)
    stem, suffix = table_path.name.rsplit(".", 1)
    out = table_path.with_name(f"{stem}.pair_summary.{suffix}")
    summary = pair_summary(ds)
    if "symmetric_q_value" in ds:
        sym = pair_summary(ds, score="symmetric_score", q_value="symmetric_q_value")
        sym = sym.rename(columns=lambda c: c.replace("_score", "_symmetric_score")
                         .replace("_tests", "_symmetric_tests")
                         .replace("_significant", "_symmetric_significant"))
        summary = summary.merge(sym, on=PAIR_KEYS, how="left")
    summary = summary.sort_values("median_score", ascending=False, key=abs)
    summary = summary.reset_index(drop=True)
    _write_table([summary] if len(summary) else [], str(out), fmt, lambda: summary)
    return str(out)
