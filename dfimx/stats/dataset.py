"""The xarray layer of :mod:`dfimx.stats`: p-values, q-values and summaries of a result.

Each function reads the variables of the data contract (checked against the registry,
:mod:`dfimx.variables`), runs the array kernels of :mod:`dfimx.stats.pvalues`,
:mod:`dfimx.stats.fdr` and :mod:`dfimx.stats.pairs`, and returns a new Dataset (or a
table) without mutating its input. On Dask-backed inputs the added variables stay lazy
until the caller computes; on numpy inputs they are numpy.

Examples
--------
>>> import numpy as np, xarray as xr
>>> rng = np.random.default_rng(0)
>>> dims = ("seq", "mutation", "response", "task")
>>> ds = xr.Dataset({
...     "interaction_score": (dims, rng.normal(size=(3, 1, 2, 1)).astype("f4")),
...     "null_interaction_score": (dims + ("null",),
...                                rng.normal(size=(3, 1, 2, 1, 20)).astype("f4")),
... })
>>> out = add_q_values(add_p_values(ds))
>>> sorted(set(out.data_vars) - set(ds.data_vars))
['interaction_p_value', 'interaction_q_value']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from dfimx.stats.fdr import DEFAULT_BH_SUMMARY_SIZE, bh_q_values
from dfimx.stats.pairs import pair_table
from dfimx.stats.pvalues import (
    Alternative,
    PValueMethod,
    check_alternative,
    check_distance_bins,
    check_pvalue,
    normalize_level,
    p_values_dask,
)
from dfimx.stats.summaries import DEFAULT_MAX_SUMMARY_SIZE
from dfimx.variables import SPECS, DatasetValidationError, validate

__all__ = ["add_effect_sizes", "add_p_values", "add_q_values", "pair_summary", "pool_inputs",
           "summarize_run"]

_INTERVALS = ("mutation_start", "mutation_end", "response_start", "response_end")
#: The null's own sources (the decoys of ``--null context``), (seq, mutation, null).
_NULL_SOURCES = ("null_decoy_start", "null_decoy_end")


# --------------------------------------------------------------------------------------
# Reading the variables of the contract
# --------------------------------------------------------------------------------------


def _read(ds: xr.Dataset, name: str, like: str, hint: str = "") -> xr.DataArray:
    """``ds[name]`` checked against the registry: its own spec, or that of ``like`` for a
    variable of the same role stored under another name."""
    if name not in ds:
        raise DatasetValidationError(
            f"variable {name!r} is missing from the dataset" + (f" ({hint})" if hint else "")
        )
    if name in SPECS:
        validate(ds, name)
    else:
        dataclasses.replace(SPECS[like], name=name).validate(ds)
    return ds[name]


def _output(name: str, like: str, data: Any, template: xr.DataArray,
            attrs: dict[str, Any]) -> xr.DataArray:
    """A new variable ``name`` shaped like ``template``, with the registry's attrs."""
    spec = SPECS.get(name, SPECS[like])
    return xr.DataArray(data, dims=template.dims, coords=template.coords,
                        attrs={**spec.attrs, **attrs})


def _seq_chunks(var: xr.DataArray) -> tuple[int, ...]:
    if var.chunks is None:
        return (var.sizes["seq"],)
    return var.chunks[var.get_axis_num("seq")]


def _as_dask(var: xr.DataArray, seq_chunks: tuple[int, ...]) -> da.Array:
    """The data of ``var`` as a Dask array chunked like ``seq_chunks`` on seq, whole elsewhere."""
    chunks = {d: (seq_chunks if d == "seq" else -1) for d in var.dims}
    return var.chunk(chunks).data


def _is_lazy(*vars_: xr.DataArray) -> bool:
    return any(v.chunks is not None for v in vars_)


def _task_labels(ds: xr.Dataset, var: xr.DataArray) -> np.ndarray:
    if "task" in ds.coords:
        return np.asarray(ds["task"].values)
    return np.arange(var.sizes["task"])


# --------------------------------------------------------------------------------------
# p- and q-values
# --------------------------------------------------------------------------------------


def _pooled(ds: xr.Dataset, score: str, null: str, level: Any, distance_bins: Any, *,
            method: str, alternative: str, limit: int) -> tuple:
    """Per-pool ``method`` (a p-value kind or ``effect``) of ``score`` against ``null``:
    the statistic (Dask), the pooling factors, both variables, the bin edges and the
    pooling inputs (:func:`pool_inputs`)."""
    factors = normalize_level(level)
    s_var = _read(ds, score, "interaction_score")
    n_var = _read(ds, null, "null_interaction_score")
    edges = check_distance_bins(distance_bins)
    chunks = _seq_chunks(s_var)
    pool_args = pool_inputs(ds, factors, chunks, level, null)
    out = p_values_dask(
        _as_dask(s_var, chunks), _as_dask(n_var, chunks), pool_args["coords"],
        method=method, factors=factors, edges=edges, alternative=alternative, limit=limit,
        names=pool_args["names"], n_names=pool_args["n_names"],
        null_sources=pool_args["null_sources"],
    )
    return out, factors, s_var, n_var, edges, pool_args


def add_p_values(
    ds: xr.Dataset,
    *,
    pvalue: PValueMethod = "empirical",
    level: str | Sequence[str] = "global",
    distance_bins: Sequence[int] | None = None,
    alternative: Alternative = "two-sided",
    score: str = "interaction_score",
    null: str = "null_interaction_score",
    output: str = "interaction_p_value",
    max_null_summary_size: int = DEFAULT_MAX_SUMMARY_SIZE,
) -> xr.Dataset:
    """Add p-values of the interaction scores against the pooled null scores.

    Parameters
    ----------
    ds
        Dataset with ``score`` (seq, mutation, response, task) and ``null`` (the same dims
        plus ``null``), NaN where there is no test; chunked over ``seq`` (other dims are
        made whole per chunk).
    pvalue
        ``"empirical"``: ``(1 + #{null >= x}) / (n + 1)`` over the pool's ``n`` non-NaN
        null scores; ``"gaussian"``: from a normal distribution fitted to the pool
        (mean and ddof=1 sd).
    level
        How null scores are pooled: ``"global"`` (all null scores of the run), ``"task"``
        (per task), ``"map"`` (per sequence and task: the null of that map only),
        ``"distance"`` (per bin of distance between source and target, see
        ``distance_bins``), or a combination of the factors ``"seq"``, ``"task"``,
        ``"distance"`` such as ``("task", "distance")``.
    distance_bins
        Increasing bin edges in bases for the distance (gap between the source and
        target intervals, 0 when adjacent); the last bin is open-ended. Default
        :data:`~dfimx.stats.pvalues.DEFAULT_DISTANCE_BINS`.
    alternative
        ``"two-sided"`` compares ``|score|`` with ``|null|`` (empirical) or uses
        ``2 sf(|x - mean| / sd)`` (Gaussian); ``"greater"`` tests large positive scores.
    score, null, output
        Variable names (registered ones are checked against their own spec, others
        against that of ``interaction_score`` / ``null_interaction_score``).
    max_null_summary_size
        Entries of the exact null summary (distinct null values summed over pools)
        above which it is coarsened to a histogram (see :mod:`dfimx.stats.summaries`):
        empirical p-values then overestimate by at most the null mass of the score's
        bin, divided by ``n + 1``. Not used with ``level`` including ``"seq"`` (always
        exact).

    Returns
    -------
    A new dataset with ``output`` (float32, dims of ``score``, NaN where it is NaN).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(1)
    >>> dims = ("seq", "mutation", "response", "task")
    >>> ds = xr.Dataset({
    ...     "interaction_score": (dims, rng.normal(size=(4, 2, 3, 1)).astype("f4")),
    ...     "null_interaction_score": (dims + ("null",),
    ...                                rng.normal(size=(4, 2, 3, 1, 50)).astype("f4")),
    ... }).chunk(seq=2)
    >>> out = add_p_values(ds, level="task")
    >>> out.interaction_p_value.dtype, out.interaction_p_value.chunks[0]
    (dtype('float32'), (2, 2))
    """
    check_pvalue(pvalue)
    check_alternative(alternative)
    p, factors, s_var, n_var, edges, pool_args = _pooled(
        ds, score, null, level, distance_bins, method=pvalue, alternative=alternative,
        limit=max_null_summary_size)
    attrs: dict[str, Any] = {
        "pvalue": pvalue,
        "null_level": level if isinstance(level, str) else "+".join(level),
        "pool_factors": list(factors),
        "alternative": alternative,
        "score_variable": score,
        "null_variable": null,
        "n_null_draws": int(n_var.sizes["null"]),
    }
    if "distance" in factors:
        attrs["distance_bins"] = [int(e) for e in edges]
        attrs["null_distance"] = "decoy" if pool_args["null_sources"] is not None else "pair"
    if pvalue == "empirical" and "seq" not in factors:
        attrs["max_null_summary_size"] = int(max_null_summary_size)
    out = _output(output, "interaction_p_value", p, s_var, attrs)
    if not _is_lazy(s_var, n_var):
        out = out.compute()
    return ds.assign({output: out})


def pool_inputs(ds: xr.Dataset, factors: tuple[str, ...], chunks: tuple[int, ...],
                level: Any = "", null: str = "null_interaction_score") -> dict[str, Any]:
    """What the pooling ``factors`` need besides the scores, as Dask arrays chunked like
    ``chunks``: the intervals (``distance``) and, when the dataset has them, the decoy
    intervals of the null (``null_decoy_start``, ``null_decoy_end``), the target name codes
    and their number (``name``; codes of the sorted distinct ``response_name`` values of
    the whole run).  The decoy intervals belong to ``null_interaction_score`` only (the
    symmetric null averages two decoys and is binned by the pair's distance).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"response_name": (("seq", "response"),
    ...                                    np.array([["B", "A"], ["A", ""]], object))})
    >>> got = pool_inputs(ds, ("name",), (2,))
    >>> got["names"].compute().tolist(), got["n_names"]
    ([[2, 1], [1, 0]], 3)
    """
    hint = f"needed by level {level!r}"
    out: dict[str, Any] = {"coords": None, "names": None, "n_names": 1, "null_sources": None}
    if "distance" in factors:
        out["coords"] = [_as_dask(_read(ds, n, n, hint), chunks) for n in _INTERVALS]
        if null == "null_interaction_score" and all(n in ds for n in _NULL_SOURCES):
            # context null: its scores are binned by their decoy's distance
            out["null_sources"] = [_as_dask(_read(ds, n, n), chunks) for n in _NULL_SOURCES]
    if "name" in factors:
        var = _read(ds, "response_name", "response_name", hint)
        labels = np.array([str(v) for v in np.asarray(var.values).ravel()],
                          dtype=object).reshape(var.shape)
        vocabulary = np.array(sorted(set(labels.ravel().tolist())), dtype=object)
        codes = np.searchsorted(vocabulary, labels).astype(np.int64)
        out["names"] = da.from_array(codes, chunks=(chunks, -1))
        out["n_names"] = max(1, int(vocabulary.size))
    return out


def add_effect_sizes(
    ds: xr.Dataset,
    *,
    level: str | Sequence[str] = "global",
    distance_bins: Sequence[int] | None = None,
    score: str = "interaction_score",
    null: str = "null_interaction_score",
    output: str = "interaction_effect_size",
) -> xr.Dataset:
    """Add the effect size: each score standardised by its pool's null, ``(x - mean) / sd``.

    The pools are those of :func:`add_p_values` with the same ``level``, so effect
    sizes rank tests across targets on the scale of their own null (NaN where the pool
    has fewer than two null scores).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> dims = ("seq", "mutation", "response", "task")
    >>> ds = xr.Dataset({"interaction_score": (dims, np.full((1, 1, 1, 1), 3.0)),
    ...                  "null_interaction_score": (dims + ("null",),
    ...                                             np.array([-1.0, 1.0]).reshape(1, 1, 1, 1, 2))})
    >>> round(add_effect_sizes(ds).interaction_effect_size.item(), 3)   # 3 / sd(-1, 1)
    2.121
    """
    z, factors, s_var, n_var, _, _ = _pooled(ds, score, null, level, distance_bins,
                                             method="effect", alternative="two-sided",
                                             limit=0)
    attrs = {"null_level": level if isinstance(level, str) else "+".join(level),
             "pool_factors": list(factors), "score_variable": score, "null_variable": null}
    out = _output(output, "interaction_p_value", z, s_var, attrs)
    if not _is_lazy(s_var, n_var):
        out = out.compute()
    return ds.assign({output: out})


def add_q_values(
    ds: xr.Dataset,
    *,
    per_task: bool = False,
    p_value: str = "interaction_p_value",
    output: str = "interaction_q_value",
    max_summary_size: int = DEFAULT_BH_SUMMARY_SIZE,
    n_buckets: int | None = None,
) -> xr.Dataset:
    """Add Benjamini-Hochberg q-values over all tests of the run (NaN excluded).

    Parameters
    ----------
    ds
        Dataset with ``p_value`` (seq, mutation, response, task).
    per_task
        One BH procedure per task instead of one over all tests.
    p_value, output
        Variable names (unregistered ones are checked against the spec of
        ``interaction_p_value``).
    max_summary_size, n_buckets
        See :func:`~dfimx.stats.fdr.bh_q_values`.

    Returns
    -------
    A new dataset with ``output`` (float32, dims of ``p_value``), lazy if the input is.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> p = np.array([[0.01, 0.2], [0.03, np.nan]]).reshape(2, 1, 1, 2)
    >>> ds = xr.Dataset({"interaction_p_value": (("seq", "mutation", "response", "task"), p)})
    >>> q = add_q_values(ds).interaction_q_value.values.astype(float)
    >>> np.round(q, 3).reshape(2, 2).tolist()
    [[0.03, 0.2], [0.045, nan]]
    """
    var = _read(ds, p_value, "interaction_p_value", "run add_p_values first")
    pool_axis = var.get_axis_num("task") if per_task else None
    data = var.data if _is_lazy(var) else np.asarray(var.values)
    q = bh_q_values(data, pool_axis=pool_axis, max_summary_size=max_summary_size,
                    n_buckets=n_buckets).astype(np.float32)
    attrs = {"method": "fdr_bh", "p_value_variable": p_value, "per_task": int(per_task)}
    return ds.assign({output: _output(output, "interaction_q_value", q, var, attrs)})


# --------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------


def pair_summary(
    ds: xr.Dataset,
    *,
    alpha: float = 0.05,
    score: str = "interaction_score",
    q_value: str | None = "interaction_q_value",
    max_summary_size: int = DEFAULT_MAX_SUMMARY_SIZE,
) -> pd.DataFrame:
    """Per (source name, target name, task): tests, mean and median score, fraction significant.

    The one pair summary of dfimx: ``dfimx export`` writes it, the report shows it.
    Partial tables are built chunk by chunk and merged with a tree reduction
    (:mod:`dfimx.stats.pairs`), so the scores are never gathered in one task. The median
    is exact when the scores have at most ``max_summary_size`` distinct values in total,
    else the centre of its histogram bin (``table.attrs["median_exact"]`` says which).

    Parameters
    ----------
    ds
        Dataset with ``score``, ``q_value`` (run :func:`add_q_values` first),
        ``mutation_name`` and ``response_name``.
    alpha
        A test is significant when its q-value is below ``alpha``.
    score, q_value
        Variable names; ``q_value=None`` leaves out the significance columns (for
        results without a null).
    max_summary_size
        Limit of the exact score summary used for medians.

    Returns
    -------
    DataFrame with columns ``source_name, target_name, task, n_tests, mean_score,
    median_score, n_significant, fraction_significant`` (``n_significant / n_tests``),
    sorted by the first three; ``task`` holds the task coordinate labels (or indices
    when there is none).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> dims = ("seq", "mutation", "response", "task")
    >>> ds = xr.Dataset({
    ...     "interaction_score": (dims, np.array([1.0, 3.0]).reshape(2, 1, 1, 1)),
    ...     "interaction_q_value": (dims, np.array([0.01, 0.2]).reshape(2, 1, 1, 1)),
    ...     "mutation_name": (("seq", "mutation"), np.array([["A"], ["A"]], object)),
    ...     "response_name": (("seq", "response"), np.array([["B"], ["B"]], object)),
    ... })
    >>> pair_summary(ds)[["n_tests", "median_score", "fraction_significant"]].values.tolist()
    [[2.0, 2.0, 0.5]]
    """
    s_var = _read(ds, score, "interaction_score")
    q_var = None
    if q_value is not None:
        q_var = _read(ds, q_value, "interaction_q_value", "run add_q_values first")
    names = [_read(ds, n, n) for n in ("mutation_name", "response_name")]
    chunks = _seq_chunks(s_var)
    table = pair_table(
        _as_dask(s_var, chunks),
        _as_dask(q_var, chunks) if q_var is not None else None,
        *(_as_dask(v, chunks) for v in names),
        _task_labels(ds, s_var),
        alpha=alpha,
        limit=max_summary_size,
    )
    effect = score.replace("_score", "_effect_size")
    if q_var is not None and effect != score and effect in ds:
        # the effect sizes' mean and median per pair, beside the significance columns
        e_var = _read(ds, effect, "interaction_p_value")
        eff = pair_table(_as_dask(e_var, chunks), None, *(_as_dask(v, chunks) for v in names),
                         _task_labels(ds, s_var), alpha=alpha, limit=max_summary_size)
        keys = ["source_name", "target_name", "task"]
        eff = eff[keys + ["mean_score", "median_score"]].rename(
            columns={"mean_score": "mean_effect_size", "median_score": "median_effect_size"})
        attrs = dict(table.attrs)
        table = table.merge(eff, on=keys, how="left")
        table.attrs.update(attrs)
    return table


def summarize_run(
    ds: xr.Dataset,
    *,
    alpha: float = 0.05,
    score: str = "interaction_score",
    p_value: str = "interaction_p_value",
    q_value: str = "interaction_q_value",
) -> pd.DataFrame:
    """Per task: number of tests, of p < alpha, of q < alpha, and the BH threshold.

    Computed with Dask reductions (one pass over the chunks).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> dims = ("seq", "mutation", "response", "task")
    >>> x = np.array([1.0, np.nan]).reshape(1, 1, 1, 2)
    >>> ds = xr.Dataset({"interaction_score": (dims, x),
    ...                  "interaction_p_value": (dims, x / 100),
    ...                  "interaction_q_value": (dims, x / 100)})
    >>> summarize_run(ds)["n_significant"].tolist()
    [1, 0]
    """
    s_var = _read(ds, score, "interaction_score")
    p_var = _read(ds, p_value, "interaction_p_value")
    q_var = _read(ds, q_value, "interaction_q_value")
    dims = [d for d in s_var.dims if d != "task"]
    out = xr.Dataset(
        {
            "n_tests": s_var.notnull().astype(np.int64).sum(dims),
            "n_p_below_alpha": (p_var < alpha).astype(np.int64).sum(dims),
            "n_significant": (q_var < alpha).astype(np.int64).sum(dims),
            "largest_significant_p": p_var.where(q_var < alpha).max(dims),
        }
    )
    (out,) = dask.compute(out)
    return out.to_dataframe().reset_index()
