"""Where a store lives: local paths and fsspec URLs, and the Zarr store objects for them.

Local paths and fsspec URLs (``s3://bucket/run.zarr``, ``gs://…``, ``memory://…``) are
both accepted; ``storage_options`` go to fsspec (endpoint, credentials, …).

Examples
--------
>>> is_url("s3://bucket/run.zarr"), local_path("file:///tmp/a.zarr")
(True, '/tmp/a.zarr')
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fsspec
import zarr
from zarr.storage import FsspecStore, LocalStore

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


def store_object(path: str, storage_options: StorageOptions, *, read_only: bool) -> Any:
    """A zarr ``Store`` object for ``path``: ``LocalStore`` or the cached ``FsspecStore``.

    Examples
    --------
    >>> type(store_object("runs/run.zarr", None, read_only=True)).__name__
    'LocalStore'
    """
    if is_url(path):
        return zarr_store(path, storage_options, read_only=read_only)
    return LocalStore(local_path(path), read_only=read_only)


def partial_path(path: str) -> str:
    """Where a run that replaces the store at ``path`` writes until it succeeds.

    Examples
    --------
    >>> partial_path("runs/run.zarr/")
    'runs/run.zarr.partial'
    """
    return path.rstrip("/") + ".partial"


def root_attrs(path: str, storage_options: StorageOptions) -> dict[str, Any] | None:
    """The attributes in the root ``zarr.json`` of ``path``; None when it has none or is
    unreadable.

    Examples
    --------
    >>> root_attrs("no-such-store.zarr", None) is None
    True
    """
    try:
        if is_url(path):
            fs, root = filesystem(path, storage_options)
            meta = json.loads(fs.cat_file(f"{root}/zarr.json"))
        else:
            meta = json.loads((Path(local_path(path)) / "zarr.json").read_text())
    except Exception:  # noqa: BLE001 - missing, truncated or not JSON
        return None
    return meta.get("attributes", {}) if isinstance(meta, dict) else None


def store_kind(path: str, storage_options: StorageOptions) -> str:
    """What is at ``path``: ``absent``, ``empty`` (an empty folder), ``dfimx`` (a store
    dfimx wrote), ``zarr`` (a Zarr store dfimx did not write) or ``other``.

    Examples
    --------
    >>> store_kind("no-such-store.zarr", None)
    'absent'
    """
    if not exists(path, storage_options):
        return "absent"
    if not is_url(path) and not Path(local_path(path)).is_dir():
        return "other"
    if not looks_like_zarr(path, storage_options):
        return "other"
    attrs = root_attrs(path, storage_options)
    if attrs is None:  # an empty folder, or a root zarr.json that cannot be read
        return "other" if _has_root_meta(path, storage_options) else "empty"
    return "dfimx" if "dfimx_complete" in attrs else "zarr"


def _has_root_meta(path: str, storage_options: StorageOptions) -> bool:
    if not is_url(path):
        return (Path(local_path(path)) / "zarr.json").exists()
    fs, root = filesystem(path, storage_options)
    return bool(fs.exists(f"{root}/zarr.json"))


def remove_store(path: str, storage_options: StorageOptions) -> None:
    """Delete an existing dfimx store (refusing anything else)."""
    kind = store_kind(path, storage_options)
    if kind == "absent":
        return
    if kind == "other":
        raise InputError(
            f"{path}: exists and is not a Zarr store; refusing to overwrite it "
            "(remove it or choose another output)"
        )
    if kind == "zarr":
        raise InputError(f"{path}: a Zarr store that dfimx did not write; refusing to "
                         "delete it (remove it or choose another output)")
    if not is_url(path):
        shutil.rmtree(local_path(path))
        return
    fs, root = filesystem(path, storage_options)
    fs.rm(root, recursive=True)
    fs.invalidate_cache()


def _exchange(a: str, b: str) -> bool:
    """Swap two local paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def replace_store(target: str, new: str, storage_options: StorageOptions) -> None:
    """Put the finished store ``new`` in place of ``target`` (which may not exist).

    Local paths: an atomic exchange where the system has one (Linux), else two renames;
    the old store is deleted afterwards.  fsspec URLs (no rename on object stores): the
    old store is deleted, then every object of ``new`` is copied, the root ``zarr.json``
    last, so ``target`` looks complete only once all of it is there.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> os.makedirs(f"{d}/run.zarr/old"); os.makedirs(f"{d}/run.zarr.partial/new")
    >>> replace_store(f"{d}/run.zarr", f"{d}/run.zarr.partial", None)
    >>> os.listdir(f"{d}/run.zarr"), os.path.exists(f"{d}/run.zarr.partial")
    (['new'], False)
    """
    if not is_url(target):
        t, n = local_path(target), local_path(new)
        if not os.path.exists(t):
            os.rename(n, t)
        elif _exchange(n, t):
            shutil.rmtree(n)
        else:
            trash = f"{t}.replaced-{os.getpid()}"
            os.rename(t, trash)
            os.rename(n, t)
            shutil.rmtree(trash)
        return
    fs, troot = filesystem(target, storage_options)
    _, nroot = filesystem(new, storage_options)
    if fs.exists(troot):
        fs.rm(troot, recursive=True)
    files = sorted(fs.find(nroot))
    root_meta = f"{nroot}/zarr.json"
    for src in [f for f in files if f != root_meta] + [root_meta]:
        fs.copy(src, troot + src[len(nroot):])
    fs.rm(nroot, recursive=True)
    fs.invalidate_cache()


def open_group(path: str, storage_options: StorageOptions, mode: str = "r") -> Any:
    """The Zarr v3 root group of the store at ``path``."""
    return zarr.open_group(zarr_store(path, storage_options, read_only=mode == "r"), mode=mode,
                           zarr_format=3)


def storage_options_for(path: str, storage_options: StorageOptions) -> dict[str, Any] | None:
    """The fsspec options that apply to ``path``: a dict for URLs, None for local paths."""
    return dict(storage_options or {}) if is_url(path) else None
