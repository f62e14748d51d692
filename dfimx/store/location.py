"""Where a store lives: local paths and fsspec URLs, and the Zarr store objects for them.

Local paths and fsspec URLs (``s3://bucket/run.zarr``, ``gs://…``, ``memory://…``) are
both accepted; ``storage_options`` go to fsspec (endpoint, credentials, …).

Examples
--------
>>> is_url("s3://bucket/run.zarr"), local_path("file:///tmp/a.zarr")
(True, '/tmp/a.zarr')
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fsspec
import zarr
from zarr.storage import FsspecStore

from dfimx.errors import InputError

StorageOptions = Mapping[str, Any] | None

def is_url(path: str | os.PathLike) -> bool:
    """True when ``path`` is an fsspec URL (``scheme://…``) rather than a local path.

    Examples
    --------
    >>> is_url("s3://bucket/run.zarr"), is_url("runs/run.zarr")
    (True, False)
    """
    return "://" in str(path) and not str(path).startswith("file://")


def local_path(path: str) -> str:
    """The local path of ``path`` (a ``file://`` URL or a plain path)."""
    return path[len("file://"):] if path.startswith("file://") else path


def zarr_store(path: str, storage_options: StorageOptions, *, read_only: bool) -> Any:
    """What zarr and xarray are given: the local path, or an ``FsspecStore`` for a URL."""
    if not is_url(path):
        return local_path(path)
    key = (path, json.dumps(dict(storage_options or {}), sort_keys=True, default=str), read_only)
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = FsspecStore.from_url(path, storage_options=dict(storage_options or {}),
                                         read_only=read_only)
            _STORES[key] = store
    # listings of other processes' writes (workers) must not come from a stale cache
    store.fs.invalidate_cache()
    return store


_STORES: dict[tuple[str, str, bool], Any] = {}
_STORES_LOCK = threading.Lock()


def filesystem(path: str, storage_options: StorageOptions) -> tuple[Any, str]:
    """``(fsspec filesystem, root)`` of a URL, with a fresh listing cache."""
    fs, root = fsspec.core.url_to_fs(path, **dict(storage_options or {}))
    fs.invalidate_cache()
    return fs, root.rstrip("/")


def exists(path: str, storage_options: StorageOptions) -> bool:
    """True when something exists at ``path``."""
    if not is_url(path):
        return Path(local_path(path)).exists()
    fs, root = filesystem(path, storage_options)
    return bool(fs.exists(root))


def looks_like_zarr(path: str, storage_options: StorageOptions) -> bool:
    """True for a Zarr v3 group (a ``zarr.json`` at its root) or an empty folder."""
    if not is_url(path):
        p = Path(local_path(path))
        return p.is_dir() and ((p / "zarr.json").exists() or not any(p.iterdir()))
    fs, root = filesystem(path, storage_options)
    return bool(fs.exists(f"{root}/zarr.json")) or not fs.ls(root)


def remove_store(path: str, storage_options: StorageOptions) -> None:
    """Delete an existing store (refusing anything that is not a Zarr store)."""
    if not looks_like_zarr(path, storage_options):
        raise InputError(
            f"{path}: exists and is not a Zarr store; refusing to overwrite it "
            "(remove it or choose another output)"
        )
    if not is_url(path):
        shutil.rmtree(local_path(path))
        return
    fs, root = filesystem(path, storage_options)
    fs.rm(root, recursive=True)
    fs.invalidate_cache()


def open_group(path: str, storage_options: StorageOptions, mode: str = "r") -> Any:
    """The Zarr v3 root group of the store at ``path``."""
    return zarr.open_group(zarr_store(path, storage_options, read_only=mode == "r"), mode=mode,
                           zarr_format=3)


def storage_options_for(path: str, storage_options: StorageOptions) -> dict[str, Any] | None:
    """The fsspec options that apply to ``path``: a dict for URLs, None for local paths."""
    return dict(storage_options or {}) if is_url(path) else None
