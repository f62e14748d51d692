"""Can a pool of null scores give a significant result at all?  (No silent loss of power.)

An empirical p-value is at least ``1 / (n + 1)`` for a pool of ``n`` null scores.  With
``m`` tests in the run, Benjamini-Hochberg calls a test with p-value ``p`` only if
``p <= alpha * R / m`` where ``R`` is the number of calls; the tests of one pool can be
called on their own (without help from calls elsewhere) only if
``1 / (n + 1) <= alpha * m_pool / m``.  :func:`null_power` counts the pools that fail this
and the number of null draws that would let every pool pass (the null scores of a pool
grow in proportion to the draws).

Examples
--------
>>> import numpy as np, xarray as xr
>>> dims = ("seq", "mutation", "response", "task")
>>> ds = xr.Dataset({"interaction_score": (dims, np.ones((50, 1, 1, 1))),
...                  "null_interaction_score": (dims + ("null",), np.ones((50, 1, 1, 1, 8)))})
>>> info = null_power(ds, level="map")      # 8 null scores per map: p >= 1/9, 50 tests
>>> info["n_short"], info["null_draws_needed"]
(50, 999)
>>> null_power(ds, level="global")["n_short"]
0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dask
import numpy as np
import xarray as xr

from dfimx.stats.dataset import pool_inputs
from dfimx.stats.pvalues import check_distance_bins, normalize_level, null_pool_ids, pool_ids

__all__ = ["NullPowerWarning", "null_power"]

_INTERVALS = ("mutation_start", "mutation_end", "response_start", "response_end")


class NullPowerWarning(UserWarning):
    """Some pools of null scores are too small for any of their tests to pass BH."""


def _block_counts(score, null, ms, me, rs, re, names, ds, de, *, factors, edges, n_names):
    pools, n_pools = pool_ids(score.shape, factors, edges, ms, me, rs, re, names, n_names)
    tests = np.bincount(pools[~np.isnan(score)], minlength=n_pools)
    npools, _ = null_pool_ids(null.shape, factors, edges, ms, me, rs, re, names, n_names, ds, de)
    nulls = np.bincount(npools[~np.isnan(null)], minlength=n_pools)
    if "seq" in factors:  # block-local pools: keep the pools that hold tests
        keep = tests > 0
        return tests[keep], nulls[keep]
    return tests, nulls


def null_power(
    ds: xr.Dataset,
    *,
    level: str | Sequence[str] = "global",
    alpha: float = 0.05,
    score: str = "interaction_score",
    null: str = "null_interaction_score",
    distance_bins: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Pools whose smallest empirical p-value cannot pass BH at the run's number of tests.

    Returns
    -------
    dict with ``n_tests``, ``n_pools`` (pools holding tests), ``n_short`` (pools that
    cannot pass), ``smallest_p`` (the smallest attainable p-value over pools with tests),
    ``null_draws`` (draws of the run) and ``null_draws_needed`` (draws with which every
    pool could pass; 0 when none is short).
    """
    factors = normalize_level(level)
    edges = check_distance_bins(distance_bins)
    s_var, n_var = ds[score], ds[null]
    chunks = s_var.chunks[0] if s_var.chunks else (s_var.sizes["seq"],)
    args = pool_inputs(ds, factors, chunks, level, null)
    s_blocks = s_var.chunk({"seq": chunks}).data.rechunk((chunks, -1, -1, -1)).to_delayed()
    n_blocks = n_var.chunk({"seq": chunks}).data.rechunk((chunks, -1, -1, -1, -1)).to_delayed()
    coords = args["coords"] or [None] * 4
    extra = [[None] * len(chunks) if c is None else list(c.to_delayed().ravel())
             for c in coords + [args["names"]] + (args["null_sources"] or [None, None])]
    parts = [dask.delayed(_block_counts)(sb, nb, *(e[i] for e in extra), factors=factors,
                                         edges=edges, n_names=args["n_names"])
             for i, (sb, nb) in enumerate(zip(s_blocks.ravel(), n_blocks.ravel(), strict=True))]
    (parts,) = dask.compute(parts)
    if "seq" in factors:
        tests = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        nulls = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    else:
        tests, nulls = sum(p[0] for p in parts), sum(p[1] for p in parts)
    keep = (tests > 0) & (nulls > 0)
    tests, nulls = tests[keep].astype(float), nulls[keep].astype(float)
    m = float(tests.sum())
    k = int(n_var.sizes["null"])
    short = 1.0 / (nulls + 1.0) > alpha * tests / max(m, 1.0)
    needed = 0
    if short.any():
        want = m / (alpha * tests[short]) - 1.0  # null scores each short pool needs
        needed = int(math.ceil(float(np.max(k * want / nulls[short]))))
    return {"n_tests": int(m), "n_pools": int(keep.sum()), "n_short": int(short.sum()),
            "smallest_p": float(1.0 / (nulls.max() + 1.0)) if nulls.size else float("nan"),
            "null_draws": k, "null_draws_needed": needed}
