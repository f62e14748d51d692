"""Reading a store back: is it complete, which regions are written, and the checked dataset.

:func:`open_result` reopens a store lazily and checks that it is whole: finished, every
variable's metadata readable, and every chunk of its inventory present with the size
it was written with (one listing of the store).  The dataset it returns reads through a
store wrapper that checks each chunk's CRC32 as it is read, so a damaged chunk is an
error naming the variable and the region, never wrong numbers.  ``verify=True`` (and
:func:`check_store`, ``dfimx check``) read every chunk up front.

Examples
--------
>>> is_complete("no-such-store.zarr")
False
"""

from __future__ import annotations

import os
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
import zarr.errors
from zarr.storage import WrapperStore

from dfimx.errors import InputError
from dfimx.store import inventory
from dfimx.store.location import (
    StorageOptions,
    exists,
    open_group,
    root_attrs,
    storage_options_for,
    store_object,
)
from dfimx.store.view import user_view

#: The store variable recording which regions are written.
REGION_VAR = inventory.MARKS
#: Problems named in one error before "and N more".
SHOWN_PROBLEMS = 1


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


_CACHE: dict[tuple[str, str], inventory.Inventory | None] = {}
#: Inventories kept per process (the most recently opened stores).
_CACHE_SIZE = 8


class VerifyingStore(WrapperStore):
    """A read-only zarr store that checks every recorded chunk against the inventory.

    A chunk that is missing, of another size or of another CRC32 than the inventory
    recorded raises :class:`InputError` naming the store, variable and region.  Pickled
    (to Dask workers) it carries the inner store and a token of this opening only; each
    process reads the inventory again, once per opening (never one cached from an
    earlier opening of a store that was repaired since).
    """

    def __init__(self, store: Any, label: str, inv: inventory.Inventory | None = None,
                 token: str | None = None) -> None:
        super().__init__(store)
        self._label = label
        self._inv = inv
        self._token = token or uuid.uuid4().hex

    def _with_store(self, store: Any) -> VerifyingStore:
        return type(self)(store, self._label, self._inv, self._token)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._store, self._label, None, self._token))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyingStore) and self._store == other._store

    def __hash__(self) -> int:
        return hash((type(self), self._label))

    async def _inventory(self) -> inventory.Inventory | None:
        if self._inv is None:
            key = (self._label, self._token)
            if key not in _CACHE:
                while len(_CACHE) >= _CACHE_SIZE:
                    _CACHE.pop(next(iter(_CACHE)))
                _CACHE[key] = await inventory.load_async(self._store)
            self._inv = _CACHE[key]
        return self._inv

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        """The bytes at ``key``, checked when the inventory records that chunk."""
        buf = await self._store.get(key, prototype, byte_range)
        if byte_range is not None or key.endswith("zarr.json"):
            return buf
        inv = await self._inventory()
        entry = inv.entries.get(key) if inv is not None else None
        if entry is None:
            return buf
        if buf is None:
            what = "is missing"
        else:
            data = buf.as_numpy_array()
            if int(data.nbytes) == entry.nbytes and inventory.checksum(data) == entry.crc:
                return buf
            what = "does not match its checksum"
        problem = inventory.Problem(entry.variable, entry.region, key, what)
        raise InputError(inv.message(self._label, problem) + _REPAIR)


_REPAIR = " (a run on this store with resume=True recomputes it)"


def _open_dataset(path: str, so: StorageOptions, inv: inventory.Inventory | None) -> xr.Dataset:
    store = store_object(path, so, read_only=True)
    if inv is not None:
        store = VerifyingStore(store, path, inv)
    try:
        with warnings.catch_warnings():
            # an array whose zarr.json is gone is otherwise skipped with a warning
            warnings.simplefilter("error", zarr.errors.ZarrUserWarning)
            return xr.open_zarr(store, consolidated=False, zarr_format=3)
    except zarr.errors.ZarrUserWarning as exc:
        raise InputError(f"{path}: damaged store: {exc} (its metadata file zarr.json is "
                         "missing)") from exc
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: not a readable dfimx Zarr store: "
                         f"{type(exc).__name__}: {exc}") from exc


def _load_inventory(path: str, so: StorageOptions) -> inventory.Inventory | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", zarr.errors.ZarrUserWarning)
            return inventory.load(store_object(path, so, read_only=True))
    except Exception as exc:  # noqa: BLE001
        _open_dataset(path, so, None)  # a variable's metadata: its own message
        raise InputError(f"{path}: damaged store: its inventory cannot be read "
                         f"({type(exc).__name__}: {exc})") from exc


def _refuse_foreign(path: str, so: StorageOptions) -> None:
    attrs = root_attrs(path, so)
    if attrs is not None and "dfimx_complete" not in attrs:
        raise InputError(f"{path}: a Zarr store that dfimx did not write (no dfimx "
                         "attributes)")


def _raise_problems(path: str, inv: inventory.Inventory, found: list[inventory.Problem]) -> None:
    if not found:
        return
    text = inv.message(path, found[0])
    if len(found) > 1:
        text += f" (and {len(found) - 1} more problem(s))"
    raise InputError(text + _REPAIR)


def open_result(
    path: str | os.PathLike,
    *,
    allow_incomplete: bool = False,
    verify: bool = False,
    storage_options: StorageOptions = None,
) -> xr.Dataset:
    """Open a dfimx store lazily, checking that it is whole.

    Refuses (with :class:`InputError` naming the store) a missing store, an unfinished
    one unless ``allow_incomplete``, and a damaged one: a variable whose metadata is
    missing or unreadable, a variable of a finished store that has disappeared, or a
    chunk of the store's inventory that is missing or has another size (the message
    names the variable and the region).  Every chunk read from the returned dataset is
    checked against its recorded CRC32.

    Parameters
    ----------
    path
        Local directory or fsspec URL.
    allow_incomplete
        Open a store whose run has not finished (e.g. to inspect it); the regions
        written so far are checked.
    verify
        Read every chunk now and compare its CRC32 (as ``dfimx check`` does).
    storage_options
        fsspec options for URLs.

    Examples
    --------
    >>> from dfimx.testing import example_store
    >>> path = example_store(n_seq=6, chunk=4)
    >>> open_result(path, verify=True).attrs["dfimx_complete"]
    True
    """
    path = str(path)
    so = storage_options_for(path, storage_options)
    try:
        found = exists(path, so)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot reach the store: {exc}") from exc
    if not found:
        raise InputError(f"{path}: store not found")
    _refuse_foreign(path, so)
    inv = _load_inventory(path, so)  # a variable's unreadable metadata is named here
    ds = _open_dataset(path, so, inv)
    expected = ds.attrs.get("dfimx_variables") or []
    missing = [name for name in expected if name not in ds.variables]
    if missing:
        raise InputError(f"{path}: damaged store: variable(s) {missing} are missing")
    complete = bool(ds.attrs.get("dfimx_complete", False))
    if not allow_incomplete and not complete:
        raise InputError(
            f"{path}: the store is incomplete (the run was interrupted or failed); "
            "rerun with resume=True to finish it"
        )
    if inv is None:
        if complete:
            warnings.warn(f"{path}: written without an inventory (an older dfimx): its "
                          "chunks cannot be checked", UserWarning, stacklevel=2)
        return user_view(ds)
    names = _checked_names(ds, inv, complete)
    _raise_problems(path, inv, inventory.problems(inv, inventory.listing(path, so), names,
                                                  whole=complete))
    if verify:
        _raise_problems(path, inv, inventory.verify(store_object(path, so, read_only=True),
                                                    inv, names))
    return user_view(ds)


def _checked_names(ds: xr.Dataset, inv: inventory.Inventory, complete: bool) -> list[str]:
    listed = ds.attrs.get("dfimx_variables") if complete else None
    return list(listed) if listed else [n for n in inv.layouts if n in ds.variables]


@dataclass
class CheckReport:
    """What :func:`check_store` found: one line per problem, and a summary."""

    path: str
    problems: list[str] = field(default_factory=list)
    chunks: int = 0
    nbytes: int = 0
    regions: int = 0
    variables: int = 0

    @property
    def ok(self) -> bool:
        """True when the store is whole."""
        return not self.problems

    def summary(self) -> str:
        """One line: whole, with what was checked."""
        return (f"{self.path}: whole: {self.regions} regions, {self.variables} variables, "
                f"{self.chunks} chunks ({self.nbytes / 1e6:.1f} MB) match their checksums")


def check_store(path: str | os.PathLike, *, storage_options: StorageOptions = None
                ) -> CheckReport:
    """Check every chunk of a store: presence, size and CRC32 (``dfimx check``).

    Lists every problem (one line each) rather than stopping at the first; an unfinished
    store is a problem, and the regions it has written are checked too.

    Raises
    ------
    InputError
        When there is no dfimx store at ``path`` or its metadata cannot be read.

    Examples
    --------
    >>> from dfimx.testing import example_store
    >>> path = example_store(n_seq=6, chunk=4)
    >>> report = check_store(path)
    >>> report.ok, report.regions
    (True, 2)
    """
    path = str(path)
    so = storage_options_for(path, storage_options)
    if not exists(path, so):
        raise InputError(f"{path}: store not found")
    _refuse_foreign(path, so)
    ds = _open_dataset(path, so, None)
    attrs = root_attrs(path, so) or {}
    inv = _load_inventory(path, so)
    if inv is None:
        raise InputError(f"{path}: written without an inventory (an older dfimx): its "
                         "chunks cannot be checked")
    report = CheckReport(path)
    complete = bool(attrs.get("dfimx_complete", False))
    if not complete:
        try:
            done = region_status(path, storage_options=so)
            counts = f"{int(done.sum())} of {len(done)} regions written"
        except InputError:
            counts = "its region marks cannot be read"
        report.problems.append(f"{path}: the store is incomplete ({counts})")
    names = _checked_names(ds, inv, complete)
    missing = [n for n in names if n not in ds.variables]
    if missing:
        report.problems.append(f"{path}: damaged store: variable(s) {missing} are missing")
    names = [n for n in names if n in ds.variables]
    found = inventory.problems(inv, inventory.listing(path, so), names, whole=complete)
    seen = {p.key for p in found}
    found += [p for p in inventory.verify(store_object(path, so, read_only=True), inv, names)
              if p.key not in seen]
    report.problems += [inv.message(path, p) for p in found]
    entries = [e for e in inv.entries.values() if e.variable in set(names)]
    report.chunks, report.nbytes = len(entries), sum(e.nbytes for e in entries)
    report.regions = inv.n_regions
    report.variables = len([n for n in names if n != REGION_VAR])
    return report


__all__ = ["REGION_VAR", "CheckReport", "VerifyingStore", "check_store", "is_complete",
           "open_result", "region_status"]
