"""How a store looks to its readers: attrs from the registry, a stable order, ``seq_id`` as
an index, consolidated metadata, and the store's own bookkeeping out of the way.

:func:`with_registry_attrs` gives every registered variable its ``long_name`` and
``description`` (and ``units``) before it is written; :func:`user_view` is what
:func:`~dfimx.store.reader.open_result` returns: the variables in the registry's order,
``seq_id`` an indexed coordinate (``ds.sel(seq_id="chr1:100-300")``) and the per-region
marks (``region_complete``, the ``region`` dim) left out.  :func:`consolidate` writes
Zarr's consolidated metadata once a store is finished (so that a plain ``xr.open_zarr``
opens it in one read, without a warning); :func:`unconsolidate` removes it before a
store is changed again.

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"mutation_start": (("seq", "mutation"), np.zeros((2, 1), int)),
...                  "seq_id": ("seq", np.array(["a", "b"], dtype=object))})
>>> view = user_view(with_registry_attrs(ds))
>>> list(view.variables)[:2], view["mutation_start"].attrs["units"]
(['seq_id', 'mutation_start'], 'bp (0-based)')
>>> int(view.sel(seq_id="b")["mutation_start"][0])
0
"""

from __future__ import annotations

import warnings
from typing import Any

import xarray as xr
import zarr

from dfimx.store.location import StorageOptions, store_object
from dfimx.variables import SPECS, as_str

#: Variables and dims of the store's own bookkeeping, left out of what readers see.
BOOKKEEPING_VARS = ("region_complete",)
BOOKKEEPING_DIMS = ("region",)
#: Coordinates without a registry entry of their own: their attrs.
COORD_ATTRS = {
    "task": {"long_name": "model task",
             "description": "Model output (task) the scores belong to: its name or index."},
    "base": {"long_name": "base",
             "description": "Base of the one-hot encoding, in the order A C G T."},
    "null": {"long_name": "null draw", "description": "Index of the shuffled null draw."},
}


def attrs_for(name: str) -> dict[str, str]:
    """``long_name``, ``description`` (and ``units``) of a variable or coordinate; {} if
    dfimx does not know it.

    Examples
    --------
    >>> attrs_for("interaction_score")["long_name"]
    'feature interaction score'
    >>> attrs_for("task")["long_name"]
    'model task'
    """
    if name in SPECS:
        return SPECS[name].attrs
    return dict(COORD_ATTRS.get(name, {}))


def with_registry_attrs(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with the registry's attrs on each variable it knows (attrs already set win).

    Examples
    --------
    >>> import numpy as np
    >>> ds = xr.Dataset({"response_mask": (("seq", "response"), np.ones((1, 2), bool))})
    >>> sorted(with_registry_attrs(ds)["response_mask"].attrs)
    ['description', 'long_name']
    """
    out = ds.copy()
    for name, var in out.variables.items():
        for key, value in attrs_for(str(name)).items():
            var.attrs.setdefault(key, value)
    return out


def registry_order(names: Any) -> list[str]:
    """``names`` in the registry's order (the data contract's), unknown ones after, sorted.

    Examples
    --------
    >>> registry_order(["interaction_q_value", "zz", "seq_id", "prediction"])
    ['seq_id', 'prediction', 'interaction_q_value', 'zz']
    """
    rank = {n: i for i, n in enumerate(SPECS)}
    return sorted((str(n) for n in names), key=lambda n: (rank.get(n, len(rank)), n))


def user_view(ds: xr.Dataset) -> xr.Dataset:
    """What readers of a store see: bookkeeping dropped, registry order, ``seq_id`` indexed.

    ``seq_id`` becomes a coordinate on ``seq`` with an index (loaded: one string per
    sequence), so ``ds.sel(seq_id=...)`` works; ids repeated in a store (two alleles of
    one variant) select all of their sequences.
    """
    ds = ds.drop_vars([n for n in BOOKKEEPING_VARS if n in ds.variables])
    ds = ds.drop_dims([d for d in BOOKKEEPING_DIMS if d in ds.dims])
    ds = with_registry_attrs(ds)
    order = registry_order(ds.data_vars)
    ds = ds[order]
    if "seq_id" in ds.data_vars and ds["seq_id"].dims == ("seq",):
        ids = ds["seq_id"]
        ds = ds.assign_coords(seq_id=ids.copy(data=as_str(ids.values)))
        ds = ds.set_xindex("seq_id")
    return ds


def consolidate(path: str, so: StorageOptions) -> None:
    """Write Zarr's consolidated metadata of the store at ``path`` (a finished store)."""
    with warnings.catch_warnings():
        # Zarr v3 consolidated metadata is a zarr-python extension; xarray reads it
        warnings.filterwarnings("ignore", message="Consolidated metadata",
                                category=UserWarning)
        zarr.consolidate_metadata(store_object(path, so, read_only=False), zarr_format=3)


def unconsolidate(path: str, so: StorageOptions) -> bool:
    """Remove the consolidated metadata of the store at ``path`` before it changes again.

    Returns True when there was some (so that the caller can consolidate again).
    """
    group = zarr.open_group(store_object(path, so, read_only=False), mode="r+",
                            zarr_format=3, use_consolidated=None)
    if group.metadata.consolidated_metadata is None:
        return False
    plain = zarr.open_group(store_object(path, so, read_only=False), mode="r+",
                            zarr_format=3, use_consolidated=False)
    plain.update_attributes({})  # rewrites the root zarr.json without it
    return True


__all__ = ["BOOKKEEPING_DIMS", "BOOKKEEPING_VARS", "COORD_ATTRS", "attrs_for", "consolidate",
           "registry_order", "unconsolidate", "user_view", "with_registry_attrs"]
