"""Writing a result to Zarr v3, region by region along ``seq``, resumable, owned, whole.

:func:`write_store` takes the store's lock (one writer: :mod:`~dfimx.store.lock`),
creates the store from the lazy template (marked incomplete), then fills it region by
region along ``seq`` (one region per Dask chunk, Zarr chunks aligned with them).  Each
region's task writes its arrays, records their chunks' sizes and checksums in the
inventory (:mod:`~dfimx.store.inventory`) and then marks itself in
``region_complete``, so a region counts as done only once all of its data is on disk
and accounted for, whichever scheduler or worker ran it.  The store is marked complete
after the last region, the ``finalize`` step, a check of every chunk against the
inventory and the ``before_complete`` check (e.g. that no input file changed).

A run that replaces a store writes beside it and swaps on success
(:mod:`~dfimx.store.resume`); ``resume=True`` computes only the missing or damaged
regions and refuses a store made from other inputs or settings.

Examples
--------
>>> zarr_seq_chunk((64, 64, 64, 10))
64
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
from zarr.api.asynchronous import open_array
from zarr.core.sync import sync

from dfimx.errors import InputError
from dfimx.stats.finalize import result_statistics
from dfimx.store import inventory
from dfimx.store.location import (
    StorageOptions,
    is_url,
    open_group,
    remove_store,
    replace_store,
    storage_options_for,
    store_object,
    zarr_store,
)
from dfimx.store.lock import locked, new_run_id
from dfimx.store.reader import REGION_VAR, open_result, region_status
from dfimx.store.resume import assess, check_resumable, choose_target, write_run_attrs
from dfimx.store.view import consolidate, unconsolidate, with_registry_attrs
from dfimx.variables import names_with_role

#: Codec of the float variables: Zstandard at level 1 writes about 1.7x faster than the
#: Zarr default (level 0, i.e. zstd's 3) at nearly the same size on float32 scores.
FLOAT_COMPRESSOR = {"name": "zstd", "configuration": {"level": 1, "checksum": False}}
_FINGERPRINT_ATTRS = ("dfimx_settings", "model_sha256", "output_layer", "inputs_sha256", "plan",
                      "scan", "batch_size")
#: Regions per submitted graph on a distributed cluster.
DEFAULT_BATCH_REGIONS = 1024


def _fingerprint(ds: xr.Dataset, inputs: Iterable[str] = ()) -> str:
    """Hash of everything that determines the numbers of a store.

    Settings, model hash, input-file hashes, the plan, the sizes, and a content token
    of every input variable (the sequences and the plan arrays: numpy data is hashed,
    Dask data by its deterministic graph name).
    """
    blob = json.dumps({k: ds.attrs.get(k) for k in _FINGERPRINT_ATTRS}, sort_keys=True,
                      default=str)
    blob += json.dumps(dict(ds.sizes), sort_keys=True)
    tokens = {name: dask.base.tokenize(ds[name].data) for name in sorted(inputs)}
    blob += json.dumps(tokens, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _layout_token(chunks: Sequence[int]) -> str:
    return hashlib.sha256(json.dumps([int(c) for c in chunks]).encode()).hexdigest()[:16]


def _drop_encodings(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    for v in ds.variables.values():
        v.encoding = {}
    return ds


def _stringify(ds: xr.Dataset) -> xr.Dataset:
    """Object-string variables in memory, so Zarr writes variable-length strings."""
    out = ds.copy()
    for name, var in ds.variables.items():
        # dask-backed strings (e.g. names found on the workers) are written region by region
        if var.dtype.kind in "OUT" and not isinstance(var.data, da.Array):
            out[name] = var.copy(data=np.asarray(var.values, dtype=object).astype(str)
                                 .astype(object))
    return out


def _regions(chunks: Sequence[int]) -> list[slice]:
    bounds = np.cumsum((0,) + tuple(int(c) for c in chunks))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def zarr_seq_chunk(chunks: Sequence[int]) -> int:
    """Zarr chunk length along ``seq`` for Dask chunks ``chunks``.

    Every region boundary must fall on a Zarr chunk boundary so that no two regions
    ever write the same Zarr chunk: the greatest common divisor of the chunk sizes
    (the last, partial chunk excepted) — the chunk size itself for the usual uniform
    chunking.

    Examples
    --------
    >>> zarr_seq_chunk((64, 64, 64, 10)), zarr_seq_chunk((6, 4, 2)), zarr_seq_chunk((5,))
    (64, 2, 5)
    """
    chunks = [int(c) for c in chunks]
    inner = chunks[:-1] if len(chunks) > 1 else chunks
    g = 0
    for c in inner:
        g = math.gcd(g, c)
    return max(1, g)


def _seq_chunks(result: xr.Dataset) -> tuple[int, ...]:
    for name in ("interaction_score", "seq_onehot"):
        if name in result and result[name].chunks:
            return tuple(int(c) for c in result[name].chunks[result[name].dims.index("seq")])
    return (int(result.sizes["seq"]),)



def _write_region(
    path: str,
    storage_options: dict[str, Any] | None,
    names: Sequence[str],
    axes: Sequence[int],
    columns: Sequence[int],
    zchunk: int,
    region: int,
    lo: int,
    hi: int,
    *blocks: np.ndarray,
) -> int:
    """Write one region's blocks, record them in the inventory, then mark the region done.

    Runs on a worker.  All arrays of the region are written concurrently (one trip
    through zarr's event loop; parallel requests on object stores), every chunk (even
    one of fill values, so that a missing chunk is always damage); their sizes and
    checksums, as handed to the store, go into the region's inventory rows; the mark
    follows.
    """
    inner = store_object(path, storage_options, read_only=False)
    store = inventory.RecordingStore(inner)

    async def write_one(name: str, axis: int, block: np.ndarray) -> Any:
        arr = await open_array(store=store, path=name, mode="r+", zarr_format=3)
        arr = arr.with_config({"write_empty_chunks": True})
        index = [slice(None)] * arr.ndim
        index[axis] = slice(lo, hi)
        await arr.setitem(tuple(index), np.asarray(block).astype(arr.dtype, copy=False))
        return arr

    async def write_all() -> None:
        arrays = await asyncio.gather(*[write_one(n, a, b) for n, a, b in zip(names, axes, blocks,
                                                                                strict=True)])
        await inventory.record_region(inner, names, arrays, columns, lo, hi, zchunk,
                                      store.seen)
        marks = await open_array(store=inner, path=REGION_VAR, mode="r+", zarr_format=3)
        await marks.setitem(region, True)

    sync(write_all())
    return region


def _active_client() -> Any:
    """The distributed Client that dask would compute on now, or None."""
    try:
        sched = dask.base.get_scheduler()
    except Exception:  # noqa: BLE001
        return None
    owner = getattr(sched, "__self__", None)
    if owner is None:
        return None
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return None
    return owner if isinstance(owner, Client) else None


class _NoProgress:
    """Stands in for a progress bar when progress is off (no tqdm import, no output)."""

    def update(self, n: int = 1) -> None:  # noqa: D102
        pass

    def close(self) -> None:  # noqa: D102
        pass


def _progress_bar(total: int, *, initial: int, enabled: bool) -> Any:
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="seq", desc="dfimx", file=sys.stderr,
                disable=not enabled, dynamic_ncols=True)


def write_store(
    result: xr.Dataset,
    path: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    batch_regions: int | None = None,
    finalize: Callable[[str], None] | None = None,
    before_complete: Callable[[str], None] | None = None,
    storage_options: StorageOptions = None,
    run_id: str | None = None,
) -> str:
    """Write a lazy result to a Zarr v3 store, region by region along ``seq``.

    The run holds the store's lock throughout (a second writer is refused with
    :class:`InputError` naming the owner; the lock of a dead process is taken over).
    The store is created from the lazy template first and marked incomplete
    (``attrs['dfimx_complete'] = False``).  Regions are the Dask chunks along ``seq``;
    the Zarr chunks along ``seq`` divide every region, so regions never share a Zarr
    chunk.  Each region task writes its data, records its chunks in the inventory and
    then marks itself in ``region_complete``; ``finalize`` (e.g. the statistics pass)
    runs last, then every chunk is checked against the inventory, ``before_complete``
    runs, and the store is marked complete.

    Where the store goes: a new store is written in place.  An existing complete dfimx
    store is replaced, but only on success: the run writes ``<path>.partial`` and swaps
    it in at the end, so a run that fails leaves the old store untouched.  An
    unfinished dfimx store is continued with ``resume`` or replaced with ``overwrite``
    (otherwise refused); anything dfimx did not write is never deleted.  With
    ``resume`` a store (or the ``.partial`` of an interrupted replacement) made with the
    same inputs, settings and chunking is continued: regions that are not marked, or
    whose chunks are missing or fail their checksums, are computed again.

    Regions run on the active Dask scheduler: on a distributed ``Client`` they are
    submitted as futures (``batch_regions`` at a time) and the progress bar advances as
    each finishes; on the local schedulers a callback advances it.

    Parameters
    ----------
    result
        Lazy result of :func:`dfimx.dfim.compute_dfim` (chunked over ``seq``).
    path
        Local directory or fsspec URL (``s3://bucket/run.zarr``).
    resume
        Continue an interrupted store; raises :class:`InputError` when the store was
        made from different inputs, settings or chunk size.
    overwrite
        Replace an unfinished dfimx store (or discard an interrupted replacement) rather
        than refuse; never deletes a store that dfimx did not write.
    progress
        Show a progress bar (sequences written) on stderr.
    batch_regions
        Regions per submitted graph (default 1024): bounds the size of each graph.
    finalize
        Called with the path written to after the last region, before the checks.
        Default: when ``result`` holds null scores, add their p-values, q-values and
        effect sizes as its attrs say (:func:`dfimx.stats.finalize.result_statistics`,
        the same as ``dfimx run``); the null scores are kept (``dfimx run`` drops them
        unless ``--keep-null``).
    before_complete
        Called with that path just before the store is marked complete; when it raises
        :class:`InputError` the store stays incomplete and a resume starts it again.
    storage_options
        fsspec options for URLs (e.g. ``{"endpoint_url": ...}``); ignored for local paths.
    run_id
        This run's id (default: a new one), in the lock and the store's ``dfimx_runs``.

    Returns
    -------
    str
        The store path.

    Examples
    --------
    >>> import dfimx                                                  # doctest: +SKIP
    >>> ds = dfimx.plan_scan(dfimx.from_fasta("s.fa", chunk_size=32), 40, 60)  # doctest: +SKIP
    >>> write_store(dfimx.compute_dfim(ds, "m.keras"), "out.zarr")   # doctest: +SKIP
    'out.zarr'
    """
    path = str(path)
    so = storage_options_for(path, storage_options)
    job = _Job(result)
    if finalize is None and "null_interaction_score" in result:
        finalize = _statistics(dict(result.attrs), so)
    try:
        with locked(path, so, run_id=run_id or new_run_id()) as lock:
            target = choose_target(path, so, resume=resume, overwrite=overwrite)
            _write(job, target.work, so, lock, fresh=target.fresh, progress=progress,
                   batch_regions=batch_regions or DEFAULT_BATCH_REGIONS, finalize=finalize,
                   before_complete=before_complete)
            if target.swap:
                replace_store(path, target.work, so)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    return path


def _write_error(path: str, exc: OSError) -> InputError:
    """One line for a system error during a run (disk full, read-only folder, ...)."""
    again = "it is left incomplete; once that is fixed, resume=True continues it"
    name = getattr(exc, "filename", None)
    if name and not is_url(path):
        inside = os.path.realpath(str(name)).startswith(os.path.realpath(path).rstrip("/"))
        if not inside:  # e.g. an input file that went away: name it, not the store
            return InputError(f"{name}: {exc.strerror or exc} (while writing {path}; {again})")
    return InputError(f"{path}: cannot write the store: {exc.strerror or exc} ({again})")


class _Job:
    """The lazy result made ready to write: template, Dask variables, encoding, tokens."""

    def __init__(self, result: xr.Dataset) -> None:
        chunks = _seq_chunks(result)
        self.regions = _regions(chunks)
        self.bounds = [0] + [sl.stop for sl in self.regions]
        self.zchunk = zarr_seq_chunk(chunks)
        lazy = with_registry_attrs(_stringify(_drop_encodings(result)))
        self.dask_vars = [name for name, var in lazy.variables.items()
                          if "seq" in var.dims and isinstance(var.data, da.Array)]
        computed = set(names_with_role("output"))
        inputs = [name for name in lazy.data_vars if name not in computed]
        self.fingerprint = _fingerprint(result, inputs)
        self.layout = _layout_token(chunks)
        self.encoding: dict[str, dict[str, Any]] = {}
        for name, var in lazy.variables.items():
            if "seq" in var.dims and name in lazy.data_vars:
                self.encoding[name] = {"chunks": tuple(
                    self.zchunk if d == "seq" else int(s)
                    for d, s in zip(var.dims, var.shape, strict=True))}
                if var.dtype.kind == "f":
                    self.encoding[name]["compressors"] = [FLOAT_COMPRESSOR]
        for name in self.dask_vars:
            axis = lazy[name].dims.index("seq")
            lazy[name] = lazy[name].copy(data=lazy[name].data.rechunk(
                {i: (chunks if i == axis else -1) for i in range(lazy[name].ndim)}))
        self.lazy = lazy


def _statistics(attrs: dict[str, Any], so: StorageOptions) -> Callable[[str], None]:
    """The default ``finalize``: statistics from the written null (see :func:`write_store`)."""

    def finalize(work: str) -> None:
        ds = open_result(work, allow_incomplete=True, storage_options=so)
        new, _ = result_statistics(ds, attrs=attrs)
        add_variables(work, new, storage_options=so)  # the null scores stay as written

    return finalize


def _write(job: _Job, work: str, so: StorageOptions, lock: Any, *, fresh: bool,
           progress: bool, batch_regions: int, finalize: Callable[[str], None] | None,
           before_complete: Callable[[str], None] | None) -> None:
    n = len(job.regions)
    todo, run_finalize = list(range(n)), True
    if not fresh:
        done = check_resumable(work, so, job.fingerprint, job.layout, n)
        complete = bool(open_group(work, so, "r").attrs.get("dfimx_complete", False))
        repair = None if done is None else assess(work, so, done, job.regions,
                                                  complete=complete)
        if repair is None or repair.rebuild:
            fresh = True
        elif repair.nothing:
            return
        else:
            unconsolidate(work, so)
            group = open_group(work, so, "r+")
            group.attrs["dfimx_complete"] = False
            write_run_attrs(group, lock, created=False)
            _rewrite_template(job, work, so, repair.template)
            todo, run_finalize = repair.todo, repair.finalize
    if fresh:
        _create(job, work, so, lock)
    present = set(open_group(work, so, "r").array_keys())
    names = [name for name in job.dask_vars if name in present]
    _compute_regions(job, names, todo, work, so, progress=progress,
                     batch_regions=batch_regions, token=job.fingerprint[:12])
    missing = ~region_status(work, storage_options=so)
    if missing.any():
        raise RuntimeError(f"{work}: regions {np.flatnonzero(missing)[:10].tolist()} were "
                           "not recorded as written")
    if run_finalize and finalize is not None:
        finalize(work)
    _seal(work, so, before_complete)


def _seal(work: str, so: StorageOptions, before_complete: Callable[[str], None] | None) -> None:
    """Record the finished inventory, check every chunk against it, mark complete."""
    group = open_group(work, so, "r+")
    inv = inventory.record_final(group, store_object(work, so, read_only=False))
    names = sorted(name for name in group.array_keys())
    found = inventory.problems(inv, inventory.listing(work, so), names, whole=True)
    if found:
        raise InputError(inv.message(work, found[0]) + " (damaged during the run; "
                         "resume=True recomputes it)")
    if before_complete is not None:
        try:
            before_complete(work)
        except InputError:
            group.attrs["dfimx_fingerprint"] = None  # nothing in it can be trusted
            raise
    group.attrs["dfimx_variables"] = names
    group.attrs["dfimx_complete"] = True
    consolidate(work, so)


def _rewrite_template(job: _Job, work: str, so: StorageOptions, names: Sequence[str]) -> None:
    """Write damaged plan variables again (they are in memory, identical by the fingerprint)."""
    if not names:
        return
    sub = xr.Dataset({name: job.lazy[name].variable for name in names})
    sub.to_zarr(zarr_store(work, so, read_only=False), mode="r+", zarr_format=3,
                consolidated=False, write_empty_chunks=True)
    group = open_group(work, so, "r+")
    template = list(group[inventory.INDEX].attrs.get("template", []))
    inventory.record_template(group, store_object(work, so, read_only=False), template)


def _create(job: _Job, path: str, so: StorageOptions, lock: Any) -> None:
    remove_store(path, so)
    template = job.lazy.copy()
    template[REGION_VAR] = ("region", np.zeros(len(job.regions), bool))
    template = with_registry_attrs(template)
    encoding = dict(job.encoding)
    encoding[REGION_VAR] = {"chunks": (1,)}
    template.attrs.update({
        "dfimx_complete": False,
        "dfimx_fingerprint": None,
        "dfimx_layout": job.layout,
        "dfimx_region_size": int(job.regions[0].stop - job.regions[0].start),
        "dfimx_zarr_chunk": int(job.zchunk),
    })
    store = inventory.RecordingStore(store_object(path, so, read_only=False))
    template.to_zarr(store, mode="w", compute=False, encoding=encoding, zarr_format=3,
                     consolidated=False, write_empty_chunks=True)
    group = open_group(path, so, "r+")
    inventory.create(group, bounds=job.bounds, zarr_chunk=job.zchunk,
                     n_seq=int(job.lazy.sizes["seq"]), region_vars=job.dask_vars)
    written = [name for name in group.array_keys()
               if name not in job.dask_vars and name != REGION_VAR]
    inventory.record_template(group, store_object(path, so, read_only=False), written,
                              store.seen)
    write_run_attrs(group, lock, created=True)
    # the template is whole: only now can a resume trust it
    group.attrs["dfimx_fingerprint"] = job.fingerprint


def _compute_regions(job: _Job, names: list[str], todo: list[int], path: str,
                     so: StorageOptions, *, progress: bool, batch_regions: int,
                     token: str) -> None:
    if not todo:
        return
    lazy, regions = job.lazy, job.regions
    axes = [lazy[name].dims.index("seq") for name in names]
    columns = [job.dask_vars.index(name) for name in names]
    blocks = {name: lazy[name].data.to_delayed(optimize_graph=False).reshape(-1)
              for name in names}
    write = dask.delayed(_write_region, pure=False)

    def job_of(i: int) -> Any:
        sl = regions[i]
        return write(path, so, names, axes, columns, job.zchunk, i, sl.start, sl.stop,
                     *[blocks[name][i] for name in names],
                     dask_key_name=f"dfimx-write-{token}-{i}")

    sizes = [sl.stop - sl.start for sl in regions]
    bar = _progress_bar(sum(sizes), initial=sum(sizes) - sum(sizes[i] for i in todo),
                        enabled=progress)
    try:
        client = _active_client()
        if client is not None:
            _run_distributed(client, job_of, todo, bar, batch_regions, sizes)
        else:
            _run_local(job_of, todo, bar, batch_regions, sizes)
    finally:
        bar.close()


def _run_distributed(client: Any, job: Callable[[int], Any], todo: list[int], bar: Any,
                     batch_regions: int, sizes: Sequence[int]) -> None:
    """Submit regions as futures, ``batch_regions`` per graph, two batches in flight."""
    from distributed import as_completed

    pending = list(reversed(todo))
    done_stream = as_completed()
    submitted: list[Any] = []
    in_flight = 0

    def submit() -> int:
        idx = [pending.pop() for _ in range(min(batch_regions, len(pending)))]
        futures = client.compute([job(i) for i in idx])
        submitted.extend(futures)
        done_stream.update(futures)
        return len(futures)

    while pending and in_flight < 2 * batch_regions:
        in_flight += submit()
    try:
        for future in done_stream:
            bar.update(sizes[future.result()])  # raises the task's error
            in_flight -= 1
            if pending and in_flight <= batch_regions:
                in_flight += submit()
    except BaseException:
        for future in submitted:
            future.cancel()
        raise


def _run_local(job: Callable[[int], Any], todo: list[int], bar: Any, batch_regions: int,
               sizes: Sequence[int]) -> None:
    from dask.callbacks import Callback

    class _Progress(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):  # noqa: ANN001
            name = key[0] if isinstance(key, tuple) else key
            if isinstance(name, str) and name.startswith("dfimx-write-"):
                bar.update(sizes[int(name.rsplit("-", 1)[1])])

    with _Progress():
        for lo in range(0, len(todo), batch_regions):
            dask.compute(*[job(i) for i in todo[lo : lo + batch_regions]])


def add_variables(path: str | os.PathLike, new: xr.Dataset, *,
                  storage_options: StorageOptions = None) -> None:
    """Append the variables of ``new`` (e.g. p- and q-values) to the store at ``path``.

    Coordinates the store already holds (``task``, ``base``) are not written again.
    """
    path = str(path)
    so = storage_options_for(path, storage_options)
    held = set(open_group(path, so, "r").array_keys())
    new = new.drop_vars([n for n in new.coords if n in held or n in ("task", "base")])
    new = with_registry_attrs(new)
    for v in new.variables.values():
        v.encoding = {}
    was = unconsolidate(path, so)
    new.to_zarr(zarr_store(path, so, read_only=False), mode="a", zarr_format=3,
                consolidated=False, write_empty_chunks=True)
    if was:
        consolidate(path, so)


def remove_variables(path: str | os.PathLike, names: Iterable[str], *,
                     storage_options: StorageOptions = None) -> None:
    """Delete the named arrays (e.g. the null scores once p-values exist) from a store."""
    path = str(path)
    so = storage_options_for(path, storage_options)
    was = unconsolidate(path, so)
    group = open_group(path, so, "r+")
    for name in names:
        if name in group:
            del group[name]
    if was:
        consolidate(path, so)


__all__ = ["DEFAULT_BATCH_REGIONS", "FLOAT_COMPRESSOR", "add_variables", "remove_variables",
           "write_store", "zarr_seq_chunk"]
