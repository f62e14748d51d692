"""Zarr v3 stores of dfimx results: written region by region, owned, resumable, checked.

This package is the only code that opens or writes Zarr: :mod:`~dfimx.store.location`
(paths, URLs, store objects, the atomic swap), :mod:`~dfimx.store.lock` (one writer per
store), :mod:`~dfimx.store.writer` (:func:`write_store`, appending statistics),
:mod:`~dfimx.store.resume` (where a run writes; what a resume recomputes),
:mod:`~dfimx.store.inventory` (every chunk's size and checksum) and
:mod:`~dfimx.store.reader` (:func:`open_result`, :func:`check_store`, completeness).

:func:`write_store` takes the store's lock, creates the store from the lazy template
(marked incomplete), then fills it region by region along ``seq`` (one region per Dask
chunk, Zarr chunks aligned with them).  Each region's task writes its arrays, records
their chunks in the inventory and then marks itself in ``region_complete``, so a region
counts as done only once all of its data is on disk and accounted for, whichever
scheduler or worker ran it.  The store is marked complete after the last region, the
``finalize`` step and a check of every chunk; a run that replaces a store writes beside
it and swaps on success.  ``resume=True`` computes only the missing or damaged regions
and refuses a store made from other inputs or settings.  :func:`open_result` reopens a
finished store lazily, checks that every chunk is there, and checks each chunk's
checksum as it is read.

Local paths and fsspec URLs (``s3://bucket/run.zarr``, ``gs://…``, ``memory://…``) are
both accepted; ``storage_options`` go to fsspec (endpoint, credentials, …).

Examples
--------
>>> from dfimx.store import write_store, open_result   # doctest: +SKIP
>>> write_store(result, "out.zarr")                     # doctest: +SKIP
>>> ds = open_result("out.zarr")                        # doctest: +SKIP
>>> write_store(result, "s3://bucket/out.zarr",         # doctest: +SKIP
...             storage_options={"endpoint_url": "http://127.0.0.1:9000"})
"""

from __future__ import annotations

from dfimx.store.location import StorageOptions, is_url
from dfimx.store.lock import acquire_lock, lock_path
from dfimx.store.reader import (
    REGION_VAR,
    CheckReport,
    check_store,
    is_complete,
    open_result,
    region_status,
)
from dfimx.store.writer import add_variables, remove_variables, write_store, zarr_seq_chunk

__all__ = [
    "REGION_VAR",
    "CheckReport",
    "StorageOptions",
    "acquire_lock",
    "add_variables",
    "check_store",
    "is_complete",
    "is_url",
    "lock_path",
    "open_result",
    "region_status",
    "remove_variables",
    "write_store",
    "zarr_seq_chunk",
]
