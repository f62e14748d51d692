"""Reading a store back: is it complete, which regions are written, and the checked dataset.

:func:`open_result` reopens a store lazily and checks that it is whole.

Examples
--------
>>> is_complete("no-such-store.zarr")
False
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import xarray as xr
import zarr.errors

from dfimx.errors import InputError
from dfimx.store.location import (
    StorageOptions,
    exists,
    open_group,
    storage_options_for,
    zarr_store,
)

#: The store variable recording which regions are written.
REGION_VAR = "region_complete"


def is_complete(path: str | os.PathLike, *, storage_options: StorageOptions = None) -> bool:
    """True when the store at ``path`` was finished (its last region written).

    Examples
    --------
    >>> is_complete("no-such-store.zarr")
    False
    """
    try:
        group = open_group(str(path), storage_options, "r")
        return bool(group.attrs.get("dfimx_complete", False))
    except Exception:  # noqa: BLE001 - missing or unreadable: not complete
        return False


def region_status(path: str | os.PathLike, *,
                  storage_options: StorageOptions = None) -> np.ndarray:
    """Which regions of the store at ``path`` are written (bool array, one per region).

    Examples
    --------
    >>> region_status("out.zarr").sum()  # doctest: +SKIP
    12
    """
    path = str(path)
    try:
        group = open_group(path, storage_options, "r")
        return np.asarray(group[REGION_VAR][:], bool)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: not a readable dfimx store (no {REGION_VAR}): {exc}") from exc


def open_result(
    path: str | os.PathLike,
    *,
    allow_incomplete: bool = False,
    storage_options: StorageOptions = None,
) -> xr.Dataset:
    """Open a dfimx store lazily, checking that it is whole.

    Refuses (with :class:`InputError` naming the store) a missing store, an unfinished
    one unless ``allow_incomplete``, and a damaged one: a variable whose metadata is
    missing or unreadable, or a variable of a finished store that has disappeared.

    Parameters
    ----------
    path
        Local directory or fsspec URL.
    allow_incomplete
        Open a store whose run has not finished (e.g. to inspect it).
    storage_options
        fsspec options for URLs.

    Examples
    --------
    >>> ds = open_result("out.zarr")  # doctest: +SKIP
    >>> ds = open_result("s3://bucket/out.zarr", storage_options={"anon": False})  # doctest: +SKIP
    """
    path = str(path)
    so = storage_options_for(path, storage_options)
    try:
        found = exists(path, so)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot reach the store: {exc}") from exc
    if not found:
        raise InputError(f"{path}: store not found")
    try:
        with warnings.catch_warnings():
            # an array whose zarr.json is gone is otherwise skipped with a warning
            warnings.simplefilter("error", zarr.errors.ZarrUserWarning)
            ds = xr.open_zarr(zarr_store(path, so, read_only=True), consolidated=False,
                              zarr_format=3)
    except zarr.errors.ZarrUserWarning as exc:
        raise InputError(f"{path}: damaged store: {exc} (its metadata file zarr.json is "
                         "missing)") from exc
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: not a readable dfimx Zarr store: "
                         f"{type(exc).__name__}: {exc}") from exc
    expected = ds.attrs.get("dfimx_variables") or []
    missing = [name for name in expected if name not in ds.variables]
    if missing:
        raise InputError(f"{path}: damaged store: variable(s) {missing} are missing")
    if not allow_incomplete and not ds.attrs.get("dfimx_complete", False):
        raise InputError(
            f"{path}: the store is incomplete (the run was interrupted or failed); "
            "rerun with resume=True to finish it"
        )
    return ds


__all__ = ["REGION_VAR", "is_complete", "open_result", "region_status"]
