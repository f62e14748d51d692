"""The statistics of a written result: p-values, q-values, effect sizes, power check.

One function, :func:`result_statistics`, used by every path that writes a result
(``dfimx run``, :func:`dfimx.run.run_dfim` and :func:`dfimx.store.write_store` on a
:func:`dfimx.dfim.compute_dfim` result), so that they give the same p- and q-values.  The
settings come from the result's own attrs (``pvalue``, ``null_level``, ``null``).

Examples
--------
>>> from dfimx.testing import example_result
>>> ds = example_result(n_seq=4)
>>> new, nulls = result_statistics(ds)
>>> sorted(new.data_vars)
['interaction_effect_size', 'interaction_p_value', 'interaction_q_value']
>>> nulls
['null_interaction_score']
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import xarray as xr

from dfimx.settings import DEFAULT_NULL_LEVELS, null_level_for
from dfimx.stats.dataset import add_effect_sizes, add_p_values, add_q_values
from dfimx.stats.power import NullPowerWarning, null_power

__all__ = ["DEFAULT_NULL_LEVELS", "null_level_for", "result_statistics"]


def result_statistics(
    ds: xr.Dataset,
    *,
    attrs: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
) -> tuple[xr.Dataset, list[str]]:
    """p-values, BH q-values and effect sizes of every scored variable with a null.

    For ``interaction_score`` (and ``symmetric_score``) with its null, pooled as the
    attrs say.  With empirical p-values the pools are checked
    (:func:`dfimx.stats.power.null_power`); when some cannot pass BH at the run's number
    of tests a :class:`~dfimx.stats.power.NullPowerWarning` is issued once, naming the
    ``null_draws`` that would suffice, and the p-value variable's attrs record it:
    ``null_pools_short`` (pools that cannot pass), ``null_draws_needed`` (0 when none)
    and ``null_power_warning`` (the message, empty when none).

    Returns
    -------
    The new variables (a Dataset, lazy where ``ds`` is) and the names of the null
    variables they came from.
    """
    attrs = dict(ds.attrs if attrs is None else attrs)
    pvalue = attrs.get("pvalue", "empirical")
    level = null_level_for(attrs.get("null", "dinuc"), attrs.get("null_level"))
    names: list[str] = []
    nulls: list[str] = []
    for score, null, prefix in (("interaction_score", "null_interaction_score", "interaction"),
                                ("symmetric_score", "null_symmetric_score", "symmetric")):
        if null not in ds or score not in ds:
            continue
        p_name, q_name = f"{prefix}_p_value", f"{prefix}_q_value"
        ds = add_p_values(ds, pvalue=pvalue, level=level, score=score, null=null, output=p_name)
        ds = add_q_values(ds, p_value=p_name, output=q_name)
        ds = add_effect_sizes(ds, level=level, score=score, null=null,
                              output=f"{prefix}_effect_size")
        power = {"null_pools_short": 0, "null_draws_needed": 0, "null_power_warning": ""}
        if pvalue == "empirical":
            info = null_power(ds, level=level, alpha=alpha, score=score, null=null)
            if info["n_short"]:
                message = (
                    f"{score}: {info['n_short']} of {info['n_pools']} null pools (level "
                    f"{level!r}) cannot give q < {alpha} at {info['n_tests']} tests with "
                    f"{info['null_draws']} null draws (smallest attainable p "
                    f"{info['smallest_p']:.3g}); --null-draws {info['null_draws_needed']} "
                    "would suffice, or pool more widely (--null-level)")
                power = {"null_pools_short": info["n_short"],
                         "null_draws_needed": info["null_draws_needed"],
                         "null_power_warning": message}
                if prefix == "interaction":  # once per run
                    warnings.warn(message, NullPowerWarning, stacklevel=2)
        ds[p_name].attrs.update(power)
        names += [p_name, q_name, f"{prefix}_effect_size"]
        nulls.append(null)
    nulls += [n for n in ("null_decoy_start", "null_decoy_end") if n in ds]
    return ds[names], nulls
