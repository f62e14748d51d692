"""The tidy interaction table (DESIGN section 4), written region by region.

Stores of element plans add ``symmetric_score``, ``symmetric_p_value`` and
``symmetric_q_value``: the mean of the scores of ``a -> b`` and ``b -> a``, the same in
both rows of a pair, and its significance against the null scored the same way.

Stores of variant scans (``dfimx scan-variants``) get the columns ``variant_chrom``,
``variant_pos``, ``variant_ref``, ``variant_alt``, ``variant_id``, ``target_kind``
(``motif`` or ``variant``) and the genome coordinates of the target, ``target_chrom``,
``target_genome_start``, ``target_genome_end`` (0-based, half-open), after the standard
columns.

Examples
--------
>>> from dfimx.export import export_table     # doctest: +SKIP
>>> export_table("out.zarr", "interactions.tsv")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pandas as pd
import xarray as xr

from dfimx.alphabet import BASES

COLUMNS = [
    "seq_id", "source_name", "source_start", "source_end", "source_alt",
    "target_name", "target_start", "target_end", "task", "score", "p_value", "q_value",
    "prediction", "mutant_prediction",
]
_VARIANT_COLUMNS = ["variant_chrom", "variant_pos", "variant_ref", "variant_alt", "variant_id"]
#: Store variables of variant scans behind the target_kind / target_chrom /
#: target_genome_start / target_genome_end columns.
_VARIANT_TARGETS = ["target_kind", "target_chrom", "target_start", "target_end", "window_start"]
_LETTERS = np.array(list(BASES) + [""], dtype=object)
#: Store variables of element plans behind the symmetric_score / symmetric_p_value /
#: symmetric_q_value columns (the mean of both directions of a pair).
_SYMMETRIC = ("symmetric_score", "symmetric_p_value", "symmetric_q_value")


def _frames(ds: xr.Dataset, rows_per_block: int) -> Iterator[pd.DataFrame]:
    n = ds.sizes["seq"]
    chunk = ds["interaction_score"].chunks[0][0] if ds["interaction_score"].chunks else n
    step = max(1, min(n, chunk * max(1, rows_per_block // max(1, chunk))))
    tasks = np.asarray(ds["task"].values, dtype=object) if "task" in ds.coords else None
    per_base = ds.attrs.get("plan") == "scan"
    for lo in range(0, n, step):
        part = ds.isel(seq=slice(lo, lo + step))
        names = ["interaction_score", "mutation_start", "mutation_end", "mutation_alt",
                 "mutation_name", "response_start", "response_end", "response_name",
                 "prediction", "mutant_prediction", "seq_id"]
        names += [v for v in ("interaction_p_value", "interaction_q_value") + _SYMMETRIC
                  if v in part]
        names += [v for v in _VARIANT_COLUMNS + _VARIANT_TARGETS if v in part]
        if per_base:
            names.append("seq_onehot")
        part = part[names].compute()
        score = part["interaction_score"].values  # (n, M, R, T)
        s, m, r, t = np.nonzero(~np.isnan(score))
        if s.size == 0:
            continue
        alt = part["mutation_alt"].values[s, m].astype(int)
        frame = {
            "seq_id": part["seq_id"].values[s].astype(object),
            "source_name": part["mutation_name"].values[s, m].astype(object),
            "source_start": part["mutation_start"].values[s, m],
            "source_end": part["mutation_end"].values[s, m],
            "source_alt": _LETTERS[np.where(alt < 0, 4, alt)],
            "target_name": part["response_name"].values[s, r].astype(object),
            "target_start": part["response_start"].values[s, r],
            "target_end": part["response_end"].values[s, r],
            "task": tasks[t] if tasks is not None else t,
            "score": score[s, m, r, t],
            "p_value": (part["interaction_p_value"].values[s, m, r, t]
                        if "interaction_p_value" in part else np.full(s.size, np.nan)),
            "q_value": (part["interaction_q_value"].values[s, m, r, t]
                        if "interaction_q_value" in part else np.full(s.size, np.nan)),
            "prediction": part["prediction"].values[s, t],
            "mutant_prediction": part["mutant_prediction"].values[s, m, t],
        }
        for v in _SYMMETRIC:
            if v in part:
                frame[v] = part[v].values[s, m, r, t]
        if per_base:
            onehot = part["seq_onehot"].values
            tpos = part["response_start"].values[s, r]
            row = onehot[s, tpos]
            code = np.where(row.max(-1) > 0, row.argmax(-1), 4)
            frame["target_base"] = _LETTERS[code]
            frame["target_base"] = np.where(code == 4, "N", frame["target_base"])
        for v in _VARIANT_COLUMNS:
            if v in part:
                frame[v] = part[v].values[s]
        if "target_kind" in part:
            frame["target_kind"] = part["target_kind"].values[s, r].astype(object)
        if "target_start" in part.data_vars and "target_chrom" in part:
            frame["target_chrom"] = part["target_chrom"].values[s].astype(object)
            frame["target_genome_start"] = part["target_start"].values[s, r]
            frame["target_genome_end"] = part["target_end"].values[s, r]
        elif "window_start" in part and "variant_chrom" in part:
            ws = part["window_start"].values[s]
            frame["target_chrom"] = part["variant_chrom"].values[s].astype(object)
            frame["target_genome_start"] = ws + frame["target_start"]
            frame["target_genome_end"] = ws + frame["target_end"]
        yield pd.DataFrame(frame)


def iter_table(ds: xr.Dataset, *, rows_per_block: int = 1024) -> Iterator[pd.DataFrame]:
    """Yield the tidy table in blocks of sequences (bounded memory)."""
    yield from _frames(ds, rows_per_block)


def to_dataframe(ds: xr.Dataset) -> pd.DataFrame:
    """The whole tidy table as one DataFrame (for small results and notebooks).

    Examples
    --------
    >>> table = to_dataframe(open_result("out.zarr"))  # doctest: +SKIP
    """
    frames = list(_frames(ds, 1 << 30))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def export_table(
    store: str | os.PathLike | xr.Dataset,
    out: str | os.PathLike,
    *,
    rows_per_block: int = 1024,
) -> int:
    """Write the tidy table (TSV, or CSV when ``out`` ends in .csv) and return the row count.

    The file is written to a temporary name and renamed when complete.
    """
    from dfimx.store import open_result

    ds = store if isinstance(store, xr.Dataset) else open_result(store)
    out = str(out)
    sep = "," if out.endswith(".csv") else "\t"
    tmp = out + ".partial"
    rows = 0
    header = True
    with open(tmp, "w") as fh:
        for frame in _frames(ds, rows_per_block):
            frame.to_csv(fh, sep=sep, index=False, header=header, float_format="%.6g",
                         na_rep="")
            header = False
            rows += len(frame)
        if header:
            fh.write(sep.join(COLUMNS) + "\n")
    os.replace(tmp, out)
    return rows


def write_pair_summary(
    store: str | os.PathLike | xr.Dataset, table_path: str | os.PathLike
) -> str | None:
    """Write ``<table stem>.pair_summary.tsv`` beside the tidy table (when q-values exist).

    One row per (source name, target name, task): tests, median score, fraction with
    q < 0.05 (:func:`dfimx.stats.pair_summary`); for element plans also the same of the
    symmetric score (``n_symmetric_tests``, ``median_symmetric_score``,
    ``n_symmetric_significant``, ``fraction_symmetric_significant``). Returns the path, or
    None without q-values.
    """
    from pathlib import Path

    from dfimx.stats import pair_summary
    from dfimx.store import open_result

    ds = store if isinstance(store, xr.Dataset) else open_result(store)
    if "interaction_q_value" not in ds:
        return None
    table_path = Path(table_path)
    stem = table_path.name.rsplit(".", 1)[0]
    out = table_path.with_name(f"{stem}.pair_summary.tsv")
    summary = pair_summary(ds)
    if "symmetric_q_value" in ds:
        sym = pair_summary(ds, score="symmetric_score", q_value="symmetric_q_value")
        sym = sym.rename(columns=lambda c: c.replace("_score", "_symmetric_score")
                         .replace("_tests", "_symmetric_tests")
                         .replace("_significant", "_symmetric_significant"))
        summary = summary.merge(sym, on=["source_name", "target_name", "task"], how="left")
    summary = summary.sort_values("median_score", ascending=False, key=abs)
    tmp = out.with_name(out.name + ".partial")
    summary.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    os.replace(tmp, out)
    return str(out)
