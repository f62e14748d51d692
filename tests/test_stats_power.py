"""Pools too small to pass BH: counted, the draws that would suffice, and the warning."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from dfimx.stats.finalize import result_statistics
from dfimx.stats.power import NullPowerWarning, null_power

DIMS = ("seq", "mutation", "response", "task")


def _ds(n_seq, n_draws, seed=0):
    rng = np.random.default_rng(seed)
    return xr.Dataset({
        "interaction_score": (DIMS, rng.normal(size=(n_seq, 2, 3, 1))),
        "null_interaction_score": (DIMS + ("null",), rng.normal(size=(n_seq, 2, 3, 1, n_draws))),
    }, attrs={"pvalue": "empirical", "null_level": "map", "null": "dinuc"}).chunk(seq=7)


def test_map_pools_with_few_draws_are_short_and_the_suggested_draws_suffice():
    info = null_power(_ds(40, 8), level="map")
    # 6 tests per map, 48 null scores: p >= 1/49 > 0.05 * 6 / 240
    assert (info["n_tests"], info["n_pools"], info["n_short"]) == (240, 40, 40)
    assert info["smallest_p"] == pytest.approx(1 / 49)
    need = info["null_draws_needed"]
    assert 1 / (6 * need + 1) <= 0.05 * 6 / 240 < 1 / (6 * (need - 1) + 1)  # by hand
    assert null_power(_ds(40, need), level="map")["n_short"] == 0
    assert null_power(_ds(40, need - 1), level="map")["n_short"] == 40
    assert null_power(_ds(40, 8), level="global")["n_short"] == 0


def test_the_statistics_warn_once_and_record_it_in_attrs():
    with pytest.warns(NullPowerWarning, match="--null-draws") as record:
        new, nulls = result_statistics(_ds(40, 8))
    assert len(record) == 1
    attrs = new["interaction_p_value"].attrs
    assert attrs["null_pools_short"] == 40 and attrs["null_draws_needed"] > 8
    assert "--null-draws" in attrs["null_power_warning"]
    assert nulls == ["null_interaction_score"]
    ds = _ds(40, 8)
    ds.attrs["null_level"] = "global"
    new, _ = result_statistics(ds)
    assert new["interaction_p_value"].attrs["null_draws_needed"] == 0
    assert new["interaction_p_value"].attrs["null_power_warning"] == ""
