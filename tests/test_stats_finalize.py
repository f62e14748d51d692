"""Pooling by target name and distance, per target element, and effect sizes, by hand."""

from __future__ import annotations

import numpy as np
import xarray as xr

from dfimx import stats
from dfimx.stats.pvalues import DEFAULT_DISTANCE_BINS, distance_between, empirical_p_values

DIMS = ("seq", "mutation", "response", "task")


def _ds(seed=0, n=12):
    rng = np.random.default_rng(seed)
    ms = rng.integers(0, 150, (n, 2))
    rs = rng.integers(0, 150, (n, 3))
    names = rng.choice(np.array(["GATA", "TAL1", "SP1"], object), (n, 3))
    score = rng.normal(size=(n, 2, 3, 2))
    null = rng.normal(size=(n, 2, 3, 2, 6)) * rng.uniform(0.5, 2, (1, 1, 3, 1, 1))
    null[rng.random(null.shape) < 0.3] = np.nan
    return xr.Dataset({
        "interaction_score": (DIMS, score),
        "null_interaction_score": (DIMS + ("null",), null),
        "mutation_start": (("seq", "mutation"), ms), "mutation_end": (("seq", "mutation"), ms + 5),
        "response_start": (("seq", "response"), rs), "response_end": (("seq", "response"), rs + 5),
        "response_name": (("seq", "response"), names),
    }).chunk(seq=5)


def _bins(ds):
    gap = distance_between(ds.mutation_start.values, ds.mutation_end.values,
                           ds.response_start.values, ds.response_end.values)
    return np.searchsorted(np.asarray(DEFAULT_DISTANCE_BINS), gap, "right") - 1


def test_target_level_pools_by_name_task_and_distance_bin():
    ds = _ds()
    got = stats.add_p_values(ds, level="target").interaction_p_value.values
    z = stats.add_effect_sizes(ds, level="target").interaction_effect_size.values
    score, null = ds.interaction_score.values, ds.null_interaction_score.values
    names = np.broadcast_to(ds.response_name.values[:, None, :], score.shape[:3])
    bins = _bins(ds)
    for idx in np.ndindex(score.shape):
        s, m, r, t = idx
        pool = (names == names[s, m, r]) & (bins == bins[s, m, r])
        values = null[..., t, :][pool].ravel()
        want = empirical_p_values(np.array([score[idx]]), values)[0]
        assert got[idx] == np.float32(want)
        values = values[~np.isnan(values)]
        assert z[idx] == np.float32((score[idx] - values.mean()) / values.std(ddof=1))


def test_element_level_pools_each_target_element_alone():
    ds = _ds(1)
    got = stats.add_p_values(ds, level="element").interaction_p_value.values
    score, null = ds.interaction_score.values, ds.null_interaction_score.values
    for s, m, r, t in np.ndindex(score.shape):
        want = empirical_p_values(np.array([score[s, m, r, t]]), null[s, :, r, t])[0]
        assert got[s, m, r, t] == np.float32(want)
