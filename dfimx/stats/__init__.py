"""Null pooling, p-values and false discovery rate control for interaction scores.

The package has two layers, as flox does:

* array kernels on numpy blocks and the Dask graphs built from them:
  :mod:`~dfimx.stats.summaries` (order-preserving keys, mergeable summaries of the null
  distribution, the tree reduction), :mod:`~dfimx.stats.pvalues` (empirical and Gaussian
  p-values per pool), :mod:`~dfimx.stats.fdr` (the exact Benjamini-Hochberg procedure, on
  numpy or distributed over Dask chunks) and :mod:`~dfimx.stats.pairs` (the pair summary);
* a thin xarray layer, :mod:`~dfimx.stats.dataset` (:func:`add_p_values`,
  :func:`add_q_values`, :func:`pair_summary`, :func:`summarize_run`), that reads the
  variables of the data contract and returns a new Dataset without mutating its input.
  On Dask-backed inputs everything stays lazy until the caller computes.

Examples
--------
>>> import numpy as np
>>> from dfimx import stats
>>> rng = np.random.default_rng(0)
>>> null = rng.normal(size=999)
>>> p = stats.empirical_p_values(np.array([0.0, 10.0]), null)
>>> float(p[1]) == 1 / 1000
True
>>> stats.bh_q_values(np.array([0.01, 0.04, 0.03])).round(3).tolist()
[0.03, 0.04, 0.04]
"""

from __future__ import annotations

from dfimx.stats.dataset import (
    add_effect_sizes,
    add_p_values,
    add_q_values,
    pair_summary,
    summarize_run,
)
from dfimx.stats.fdr import DEFAULT_BH_SUMMARY_SIZE, bh_q_values
from dfimx.stats.pvalues import (
    DEFAULT_DISTANCE_BINS,
    NULL_LEVELS,
    PVALUE_KINDS,
    distance_between,
    empirical_p_values,
    gaussian_p_values,
)
from dfimx.stats.summaries import DEFAULT_MAX_SUMMARY_SIZE, KeySummary, MomentSummary

__all__ = [
    "DEFAULT_BH_SUMMARY_SIZE",
    "DEFAULT_DISTANCE_BINS",
    "DEFAULT_MAX_SUMMARY_SIZE",
    "NULL_LEVELS",
    "PVALUE_KINDS",
    "KeySummary",
    "MomentSummary",
    "add_effect_sizes",
    "add_p_values",
    "add_q_values",
    "bh_q_values",
    "distance_between",
    "empirical_p_values",
    "gaussian_p_values",
    "pair_summary",
    "summarize_run",
]
