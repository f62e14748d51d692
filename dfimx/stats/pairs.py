"""The pair summary kernel: per (source name, target name, task), tests and median score.

Partial tables are built chunk by chunk (names are per sequence), each holding an exact
:class:`~dfimx.stats.summaries.KeySummary` of its scores per pair, and merged with a tree
reduction, so the scores are never gathered in one task. The median is exact when the
scores have at most ``limit`` distinct values in total, else the centre of its histogram
bin (``table.attrs["median_exact"]`` says which). The xarray entry point is
:func:`dfimx.stats.pair_summary`.

Examples
--------
>>> import numpy as np, dask.array as da
>>> score = da.from_array(np.array([1.0, 3.0, 4.0]).reshape(3, 1, 1, 1), chunks=1)
>>> names = da.from_array(np.array([["A"], ["A"], ["A"]], object), chunks=1)
>>> table = pair_table(score, None, names, names, np.array(["t"]))
>>> table[["source_name", "n_tests", "mean_score", "median_score"]].values.tolist()
[['A', 3, 2.6666666666666665, 3.0]]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import pandas as pd

from dfimx.stats.summaries import DEFAULT_MAX_SUMMARY_SIZE, KeySummary, bin_center, tree_reduce

__all__ = ["PAIR_KEYS", "pair_table"]

#: Columns that identify a pair, in the order of the table.
PAIR_KEYS = ["source_name", "target_name", "task"]


@dataclass(frozen=True)
class _PairPartial:
    groups: pd.DataFrame  # source_name, target_name, task; row i is pool i
    total: np.ndarray  # sum of the scores per pool (float64)
    n_significant: np.ndarray | None  # tests with q < alpha per pool (None without q)
    summary: KeySummary


def _factorize(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    if len(frame) == 0:
        return np.zeros(0, np.int64), frame.iloc[:0].reset_index(drop=True)
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame))
    groups = uniques.to_frame(index=False)
    groups.columns = list(frame.columns)
    return codes.astype(np.int64), groups


def _pair_block(
    score: np.ndarray,
    q: np.ndarray | None,
    mname: np.ndarray,
    rname: np.ndarray,
    tasks: np.ndarray,
    alpha: float,
    limit: int,
) -> _PairPartial:
    s_i, m_i, r_i, t_i = np.nonzero(~np.isnan(score))
    frame = pd.DataFrame(
        {
            "source_name": np.asarray(mname)[s_i, m_i].astype(object),
            "target_name": np.asarray(rname)[s_i, r_i].astype(object),
            "task": tasks[t_i],
        }
    )
    codes, groups = _factorize(frame)
    values = score[s_i, m_i, r_i, t_i].astype(np.float64)
    total = np.bincount(codes, weights=values, minlength=len(groups))
    n_sig = None
    if q is not None:
        sig = (q[s_i, m_i, r_i, t_i] < alpha).astype(np.int64)
        n_sig = np.bincount(codes, weights=sig, minlength=len(groups)).astype(np.int64)
    summary = KeySummary.from_values(values, codes, len(groups), limit=limit)
    return _PairPartial(groups, total, n_sig, summary)


def _pair_merge(parts: list[_PairPartial], limit: int) -> _PairPartial:
    frame = pd.concat([p.groups for p in parts], ignore_index=True)
    codes, groups = _factorize(frame)
    offsets = np.cumsum([0] + [len(p.groups) for p in parts])
    total = np.zeros(len(groups))
    has_q = parts[0].n_significant is not None
    n_sig = np.zeros(len(groups), np.int64) if has_q else None
    summaries = []
    for p, off in zip(parts, offsets[:-1], strict=True):
        remap = codes[off : off + len(p.groups)]
        np.add.at(total, remap, p.total)
        if has_q:
            np.add.at(n_sig, remap, p.n_significant)
        s = p.summary
        summaries.append(
            KeySummary(remap[s.pool], s.key, s.count, s.shift, len(groups), s.ftype)
        )
    return _PairPartial(groups, total, n_sig, KeySummary.merge(summaries, limit))


def _pair_frame(partial: _PairPartial) -> pd.DataFrame:
    s = partial.summary
    n = s.totals()
    cum = np.cumsum(s.count)
    seg_a, _ = s.segments()
    base = np.concatenate([[0], cum])[seg_a]
    med = np.full(n.size, np.nan)
    has = n > 0
    if has.any():
        lo = np.searchsorted(cum, base[has] + (n[has] - 1) // 2, "right")
        hi = np.searchsorted(cum, base[has] + n[has] // 2, "right")
        med[has] = 0.5 * (bin_center(s.key[lo], s.shift, s.ftype)
                          + bin_center(s.key[hi], s.shift, s.ftype))
    if s.shift == 0:  # the exact values, summed in (pool, value) order: chunking-invariant
        total = np.bincount(s.pool, weights=bin_center(s.key, 0, s.ftype) * s.count,
                            minlength=s.n_pools)
    else:
        total = partial.total
    table = partial.groups.copy()
    table["n_tests"] = n
    with np.errstate(invalid="ignore", divide="ignore"):
        table["mean_score"] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    table["median_score"] = med
    if partial.n_significant is not None:
        table["n_significant"] = partial.n_significant
        with np.errstate(invalid="ignore", divide="ignore"):
            table["fraction_significant"] = np.where(
                n > 0, partial.n_significant / np.maximum(n, 1), np.nan
            )
    table.attrs["median_exact"] = s.shift == 0
    return table.sort_values(PAIR_KEYS).reset_index(drop=True)


def pair_table(
    score: da.Array,
    q: da.Array | None,
    mutation_name: da.Array,
    response_name: da.Array,
    tasks: np.ndarray,
    *,
    alpha: float = 0.05,
    limit: int = DEFAULT_MAX_SUMMARY_SIZE,
) -> pd.DataFrame:
    """Compute the pair summary of Dask arrays chunked alike over their first axis (seq).

    Parameters
    ----------
    score, q
        (seq, mutation, response, task) scores (NaN: no test) and their q-values (or None:
        no significance columns).
    mutation_name, response_name
        (seq, mutation) source names and (seq, response) target names.
    tasks
        Label of each task.
    alpha
        A test is significant when its q-value is below ``alpha``.
    limit
        Size limit of the exact score summary behind the medians.

    Returns
    -------
    DataFrame with columns ``source_name, target_name, task, n_tests, mean_score,
    median_score`` and, with ``q``, ``n_significant, fraction_significant``; sorted by
    the first three.
    """
    arrays = [score, q, mutation_name, response_name]
    blocks = [a.to_delayed().ravel() if a is not None else None for a in arrays]
    n_blocks = len(blocks[0])
    parts = [
        dask.delayed(_pair_block, pure=True)(
            *(b[i] if b is not None else None for b in blocks), tasks, alpha, limit
        )
        for i in range(n_blocks)
    ]
    merged = tree_reduce(parts, functools.partial(_pair_merge, limit=limit))
    (table,) = dask.compute(dask.delayed(_pair_frame, pure=True)(merged))
    return table
