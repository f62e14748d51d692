"""Zarr v3 stores of dfimx results: written region by region, resumable, checked.

This package is the only code that opens or writes Zarr: :mod:`~dfimx.store.location`
(paths, URLs, store objects), :mod:`~dfimx.store.writer` (:func:`write_store`, resume,
appending statistics) and :mod:`~dfimx.store.reader` (:func:`open_result`, completeness).

:func:`write_store` creates the store from the lazy template (marked incomplete), then
fills it region by region along ``seq`` (one region per Dask chunk, Zarr chunks aligned
with them).  Each region's task writes its arrays and then records itself in
``region_complete``, so a region counts as done only once all of its data is on disk,
whichever scheduler or worker ran it.  The store is marked complete after the last
region and the ``finalize`` step; ``resume=True`` computes only the missing regions and
refuses a store made from other inputs or settings.  :func:`open_result` reopens a
finished store lazily and checks that it is whole.

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
from dfimx.store.reader import REGION_VAR, is_complete, open_result, region_status
from dfimx.store.writer import add_variables, remove_variables, write_store, zarr_seq_chunk

__all__ = [
    "REGION_VAR",
    "StorageOptions",
    "add_variables",
    "is_complete",
    "is_url",
    "open_result",
    "region_status",
    "remove_variables",
    "write_store",
    "zarr_seq_chunk",
]
