"""Zarr v3 stores of dfimx results: written region by region, resumable, checked.

:func:`write_store` creates the store from the lazy template (marked incomplete),
fills it region by region along ``seq`` (one region per Dask chunk), records each
finished region in ``region_complete`` and marks the store complete after the last
region and the ``finalize`` step; ``resume=True`` computes only missing regions.
:func:`open_result` reopens a finished store lazily.

Examples
--------
>>> from dfimx.store import write_store, open_result   # doctest: +SKIP
>>> write_store(result, "out.zarr")                     # doctest: +SKIP
>>> ds = open_result("out.zarr")                        # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import xarray as xr

from dfimx.errors import InputError

REGION_VAR = "region_complete"


def _fingerprint(ds: xr.Dataset) -> str:
    keys = ["dfimx_settings", "model_sha256", "output_layer", "inputs_sha256", "plan", "scan"]
    blob = json.dumps({k: ds.attrs.get(k) for k in keys}, sort_keys=True, default=str)
    blob += json.dumps(dict(ds.sizes), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _drop_encodings(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    for v in ds.variables.values():
        v.encoding = {}
    return ds


def _stringify(ds: xr.Dataset) -> xr.Dataset:
    """Object-string variables in memory, so Zarr writes variable-length strings."""
    out = ds.copy()
    for name, var in ds.variables.items():
        if var.dtype.kind in "OUT":
            out[name] = var.copy(data=np.asarray(var.values, dtype=object).astype(str)
                                 .astype(object))
    return out


def _regions(chunks: tuple[int, ...]) -> list[slice]:
    bounds = np.cumsum((0,) + tuple(chunks))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def is_complete(path: str | os.PathLike) -> bool:
    """True when the store at ``path`` was finished (its last region written)."""
    import zarr

    try:
        return bool(zarr.open_group(str(path), mode="r").attrs.get("dfimx_complete", False))
    except Exception:  # noqa: BLE001
        return False


def write_store(
    result: xr.Dataset,
    path: str | os.PathLike,
    *,
    resume: bool = False,
    progress: bool = True,
    parallel_regions: int | None = None,
    finalize: Callable[[str], None] | None = None,
) -> str:
    """Write a lazy result to a Zarr v3 store, region by region along ``seq``.

    The store is created from the lazy template first and marked incomplete
    (``attrs['dfimx_complete'] = False``); each finished region is recorded in
    ``region_complete``; ``finalize`` (e.g. the statistics pass) runs last, then the
    store is marked complete.  With ``resume=True`` an existing store made with the
    same inputs and settings is continued, computing only the missing regions.

    Returns
    -------
    str
        The store path.
    """
    import zarr

    path = str(path)
    chunks = result["seq_onehot"].chunks[0] if result["seq_onehot"].chunks else (
        result.sizes["seq"],)
    regions = _regions(chunks)
    fingerprint = _fingerprint(result)
    seq_vars = [k for k, v in result.data_vars.items() if "seq" in v.dims]
    encoding = {}
    for name in seq_vars:
        var = result[name]
        enc_chunks = tuple(chunks[0] if d == "seq" else s for d, s in zip(var.dims, var.shape,
                                                                           strict=True))
        encoding[name] = {"chunks": enc_chunks}
    lazy = _stringify(_drop_encodings(result))
    # strings and small plan arrays are written with the template (they are in memory)
    for name, var in lazy.data_vars.items():
        if isinstance(var.data, da.Array) and "seq" in var.dims:
            lazy[name] = var.chunk({"seq": chunks})
    done = np.zeros(len(regions), bool)
    exists = Path(path).exists() if "://" not in path else False
    if resume and exists:
        group = zarr.open_group(path, mode="r")
        old = group.attrs.get("dfimx_fingerprint")
        if old != fingerprint:
            raise InputError(
                f"{path}: cannot resume: the store was made with different inputs or settings "
                "(remove it or choose another output)"
            )
        done = np.asarray(group[REGION_VAR][:], bool)
        if group.attrs.get("dfimx_complete", False) and done.all():
            return path
    else:
        if exists:
            shutil.rmtree(path)
        template = lazy.copy()
        template[REGION_VAR] = ("region", np.zeros(len(regions), bool))
        template.attrs.update(
            {"dfimx_complete": False, "dfimx_fingerprint": fingerprint,
             "dfimx_region_size": int(chunks[0])}
        )
        template.to_zarr(path, mode="w", compute=False, encoding=encoding, zarr_format=3,
                         consolidated=False)
        # variables whose data is already in memory (ids, names) are written by the template
    todo = [i for i, d in enumerate(done) if not d]
    computed_vars = [k for k in seq_vars if isinstance(lazy[k].data, da.Array)
                     and not _in_memory(result[k])]
    group = zarr.open_group(path, mode="r+")
    marks = group[REGION_VAR]
    wave = parallel_regions or _default_parallel_regions()
    bar = _progress_bar(len(regions), initial=len(regions) - len(todo), enabled=progress)
    try:
        for lo in range(0, len(todo), wave):
            batch = todo[lo : lo + wave]
            writes = [
                lazy[computed_vars].drop_vars(["base", "task"], errors="ignore")
                .isel(seq=regions[i]).to_zarr(
                    path, region={"seq": regions[i]}, compute=False, zarr_format=3,
                    consolidated=False,
                )
                for i in batch
            ]
            dask.compute(*writes)
            for i in batch:
                marks[i] = True
            bar.update(len(batch))
    finally:
        bar.close()
    if finalize is not None:
        finalize(path)
    group = zarr.open_group(path, mode="r+")
    group.attrs["dfimx_complete"] = True
    return path


def _in_memory(var: xr.DataArray) -> bool:
    return not isinstance(var.data, da.Array)


def _default_parallel_regions() -> int:
    try:
        from distributed import get_client

        client = get_client()
        return max(2, 2 * len(client.scheduler_info()["workers"]))
    except (ImportError, ValueError):
        return max(2, os.cpu_count() or 1)


class _NoBar:
    def update(self, n: int) -> None:  # noqa: D102
        pass

    def close(self) -> None:  # noqa: D102
        pass


def _progress_bar(total: int, *, initial: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="region", desc="dfimx", file=sys.stderr,
                disable=not enabled)


def open_result(path: str | os.PathLike, *, allow_incomplete: bool = False) -> xr.Dataset:
    """Open a dfimx store lazily; refuses an unfinished store unless ``allow_incomplete``.

    Examples
    --------
    >>> ds = open_result("out.zarr")  # doctest: +SKIP
    """
    path = str(path)
    if "://" not in path and not Path(path).exists():
        raise InputError(f"{path}: store not found")
    try:
        ds = xr.open_zarr(path, consolidated=False, zarr_format=3)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: not a readable dfimx Zarr store: {exc}") from exc
    if not allow_incomplete and not ds.attrs.get("dfimx_complete", False):
        raise InputError(
            f"{path}: the store is incomplete (the run was interrupted or failed); "
            "rerun with --resume to finish it"
        )
    return ds
