"""Mutation plans: which sources to mutate and which targets to score, per sequence.

Builders: :func:`plan_elements` (an elements table), :func:`plan_mut_dict` (the legacy
DFIM ``mut_dict``), :func:`plan_scan` (a per-base window) and, for variant windows,
:func:`dfimx.plans.variants.plan_variant_targets`; :func:`plan_dataset` picks one of the
first three from the options of a run.

Examples
--------
>>> from dfimx.sequences import from_strings
>>> plan_dataset(from_strings(["ACGT"]), scan="1:3").attrs["plan"]
'scan'
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from dfimx.errors import InputError
from dfimx.plans.elements import ROLES, plan_elements, read_elements
from dfimx.plans.mut_dict import plan_mut_dict, read_mut_dict
from dfimx.plans.scan import parse_scan, plan_scan

#: Plans whose sources are also targets, so that both directions of a pair are scored.
SYMMETRIC_PLANS = ("elements", "mut_dict")


def plan_dataset(
    ds: xr.Dataset,
    *,
    elements: Any = None,
    mut_dict: Any = None,
    scan: str | tuple[int, int] | None = None,
) -> xr.Dataset:
    """Add the mutation plan chosen by exactly one of ``elements``, ``mut_dict``, ``scan``."""
    given = [x is not None for x in (elements, mut_dict, scan)]
    if sum(given) != 1:
        raise InputError("give exactly one of elements, mut_dict or scan", option="plan")
    if elements is not None:
        return plan_elements(ds, elements)
    if mut_dict is not None:
        return plan_mut_dict(ds, mut_dict)
    start, end = parse_scan(scan) if isinstance(scan, str) else scan
    return plan_scan(ds, start, end)


__all__ = [
    "ROLES",
    "SYMMETRIC_PLANS",
    "parse_scan",
    "plan_dataset",
    "plan_elements",
    "plan_mut_dict",
    "plan_scan",
    "read_elements",
    "read_mut_dict",
]
