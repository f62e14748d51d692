"""The inventory of a store: every chunk it must hold, with its size and CRC32.

Every chunk dfimx writes is written (``write_empty_chunks``), so a missing chunk file is
damage, never "all fill values".  What was written is recorded in the subgroup
``dfimx_inventory`` (which xarray does not open as variables):

* ``regions`` -- one row per Zarr chunk along ``seq`` and one column per variable that
  the region tasks write: ``(crc32, bytes)`` of the stored chunk, recorded by the task
  that wrote it as it handed the bytes to the store (:class:`RecordingStore`), before it
  marks its region in ``region_complete``.  Each row lies in its own Zarr chunk, so
  region tasks on different workers never write the same object.
* ``index`` -- ``(variable, chunk, crc32, bytes)`` for the chunks the driver writes: the
  in-memory plan variables (recorded when the store is created), then the statistics and
  coordinates (recorded at finalisation, when the rows of the regions are folded in too,
  so a finished store's inventory is one object).  The region marks themselves are not
  tracked: a missing mark reads as "not done", which is what a resume needs.

:func:`problems` checks every recorded chunk against one listing of the store (presence
and size: cheap); :func:`verify` reads the chunks back and compares checksums.  Each
problem names the variable and the region (the sequences) it belongs to.

Examples
--------
>>> checksum(b"dfimx")
2102825476
"""

from __future__ import annotations

import asyncio
import math
import os
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from zarr.api.asynchronous import open_array as open_array_async
from zarr.api.asynchronous import open_group as open_group_async
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import WrapperStore

from dfimx.store.location import StorageOptions, filesystem, is_url, local_path

#: The subgroup that holds the inventory.
INVENTORY = "dfimx_inventory"
ROWS = f"{INVENTORY}/regions"
INDEX = f"{INVENTORY}/index"
#: The region marks: bookkeeping that the inventory does not track (a mark that is gone
#: reads as "not done", which is what a resume needs to know).
MARKS = "region_complete"
#: Chunks read concurrently.
READ_BATCH = 256
#: Row value of a chunk that is not recorded (yet).
UNRECORDED = -1


def checksum(data: Any) -> int:
    """CRC32 of a bytes-like object (unsigned).

    Examples
    --------
    >>> checksum(b"")
    0
    """
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass(frozen=True)
class Layout:
    """Where the chunks of one array are: its shape, chunk shape, dims and key encoding."""

    name: str
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dims: tuple[str, ...]
    meta: Any

    @classmethod
    def of(cls, name: str, arr: Any) -> Layout:
        """The layout of a zarr (async) array."""
        m = arr.metadata
        return cls(name, tuple(int(s) for s in m.shape),
                   tuple(int(c) for c in m.chunk_grid.chunk_shape),
                   tuple(str(d) for d in (m.dimension_names or ())), m)

    @property
    def grid(self) -> tuple[int, ...]:
        """Chunks per dimension."""
        return tuple(math.ceil(s / c) if c else 0 for s, c in zip(self.shape, self.chunks,
                                                                  strict=True))

    @property
    def seq_axis(self) -> int | None:
        """The axis of ``seq``, or None."""
        return self.dims.index("seq") if "seq" in self.dims else None

    def key(self, coords: Sequence[int]) -> str:
        """The store key of the chunk at grid ``coords``."""
        return f"{self.name}/{self.meta.encode_chunk_key(tuple(int(c) for c in coords))}"

    def keys(self) -> list[tuple[int, str]]:
        """``(flat index, key)`` of every chunk of the grid, in C order."""
        return [(i, self.key(c)) for i, c in enumerate(np.ndindex(*self.grid))]

    def coords(self, flat: int) -> tuple[int, ...]:
        """Grid coordinates of the chunk with flat index ``flat``."""
        return tuple(int(c) for c in np.unravel_index(int(flat), self.grid))

    def slab_key(self, k: int) -> str | None:
        """The one chunk key of row ``k`` along ``seq`` (None when the array has none)."""
        axis = self.seq_axis
        grid = self.grid
        if axis is None or any(g == 0 for g in grid):
            return None
        if any(g != 1 for i, g in enumerate(grid) if i != axis):
            raise ValueError(f"{self.name}: chunked along dims other than seq")
        return self.key([k if i == axis else 0 for i in range(len(grid))])

    def seq_start(self, coords: Sequence[int]) -> int | None:
        """First sequence of the chunk at ``coords`` (None without a ``seq`` dim)."""
        axis = self.seq_axis
        return None if axis is None else int(coords[axis]) * self.chunks[axis]


@dataclass(frozen=True)
class Problem:
    """One missing or damaged chunk (or a variable the inventory does not cover)."""

    variable: str
    region: int | None
    key: str
    what: str

    def message(self, path: str, bounds: Sequence[int]) -> str:
        """One line: the store, the variable, the region and its sequences, the problem."""
        where = f"variable {self.variable!r}"
        if self.region is not None and self.region + 1 < len(bounds):
            lo, hi = int(bounds[self.region]), int(bounds[self.region + 1])
            where += f" region {self.region} (sequences {lo}-{hi - 1})"
        chunk = f": chunk {self.key.split('/', 1)[-1]}" if self.key else ""
        return f"{path}: damaged store: {where}{chunk} {self.what}"


class Entry(NamedTuple):
    """One recorded chunk."""

    crc: int
    nbytes: int
    variable: str
    region: int | None
    flat: int


@dataclass
class Inventory:
    """The recorded chunks of a store, by store key."""

    entries: dict[str, Entry]
    layouts: dict[str, Layout]
    bounds: np.ndarray
    token: str
    #: Variables whose every chunk is recorded.
    whole: frozenset[str]

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return max(0, len(self.bounds) - 1)

    def region_of(self, layout: Layout, coords: Sequence[int]) -> int | None:
        """The region that holds the chunk at ``coords`` of ``layout``."""
        start = layout.seq_start(coords)
        if start is None:
            return None
        return int(np.searchsorted(self.bounds, start, side="right")) - 1

    def message(self, path: str, problem: Problem) -> str:
        """The one-line message of ``problem``."""
        return problem.message(path, self.bounds)


# ---------------------------------------------------------------------------------------
# reading chunk bytes, or recording them as they are written


class RecordingStore(WrapperStore):
    """Passes everything to the wrapped store and records ``(crc32, bytes)`` of each key set.

    What a writer records is then exactly what it handed to the store, without reading
    its chunks back.
    """

    def __init__(self, store: Any, seen: dict[str, tuple[int, int]] | None = None) -> None:
        super().__init__(store)
        self.seen: dict[str, tuple[int, int]] = {} if seen is None else seen

    def _with_store(self, store: Any) -> RecordingStore:
        return type(self)(store, self.seen)

    def _record(self, key: str, value: Any) -> None:
        data = value.as_numpy_array()
        self.seen[key] = (checksum(data), int(data.nbytes))

    async def set(self, key: str, value: Any) -> None:
        """Write ``value`` at ``key`` and record it."""
        await self._store.set(key, value)
        self._record(key, value)

    async def _set_many(self, values: Iterable[tuple[str, Any]]) -> None:
        values = list(values)
        await self._store._set_many(values)
        for key, value in values:
            self._record(key, value)

    async def delete(self, key: str) -> None:
        """Delete ``key`` (and forget it)."""
        await self._store.delete(key)
        self.seen.pop(key, None)



async def read_checksums(store: Any, keys: Sequence[str]) -> list[tuple[int, int] | None]:
    """``(crc32, bytes)`` of each stored key (None when missing), ``READ_BATCH`` at a time."""
    proto = default_buffer_prototype()

    async def one(key: str) -> tuple[int, int] | None:
        buf = await store.get(key, prototype=proto)
        if buf is None:
            return None
        data = buf.as_numpy_array()
        return checksum(data), int(data.nbytes)

    out: list[tuple[int, int] | None] = []
    for lo in range(0, len(keys), READ_BATCH):
        out += await asyncio.gather(*[one(k) for k in keys[lo : lo + READ_BATCH]])
    return out


async def _arrays(group: Any) -> dict[str, Any]:
    return {name: arr async for name, arr in group.arrays()}


async def _layouts(store: Any) -> dict[str, Layout]:
    root = await open_group_async(store=store, mode="r", zarr_format=3)
    return {name: Layout.of(name, arr) for name, arr in (await _arrays(root)).items()
            if name != MARKS}


# ---------------------------------------------------------------------------------------
# writing the inventory


def create(group: Any, *, bounds: Sequence[int], zarr_chunk: int, n_seq: int,
           region_vars: Sequence[str]) -> None:
    """Create the empty inventory in the (sync, writable) root ``group`` of a new store."""
    inv = group.require_group(INVENTORY)
    inv.attrs.update({"region_bounds": [int(b) for b in bounds], "zarr_chunk": int(zarr_chunk),
                      "region_variables": list(region_vars)})
    rows = max(1, math.ceil(n_seq / zarr_chunk))
    inv.create_array("regions", shape=(rows, max(1, len(region_vars)), 2), dtype="int64",
                     chunks=(1, max(1, len(region_vars)), 2), fill_value=UNRECORDED,
                     dimension_names=("row", "variable", "field"), overwrite=True)


async def record_region(store: Any, names: Sequence[str], arrays: Sequence[Any],
                        columns: Sequence[int], lo: int, hi: int, zchunk: int,
                        seen: dict[str, tuple[int, int]] | None = None) -> None:
    """Record the chunks that a region task wrote (sequences ``lo..hi``).

    ``arrays`` are the async arrays ``names`` that the task wrote, ``columns`` their
    columns in the ``regions`` table, ``zchunk`` the Zarr chunk along ``seq`` and
    ``seen`` what a :class:`RecordingStore` recorded of the writes (chunks it did not see
    are read back); runs on the worker, after the writes and before the region's mark.
    """
    table = await open_array_async(store=store, path=ROWS, mode="r+", zarr_format=3)
    seen = seen or {}
    k0, k1 = lo // zchunk, math.ceil(hi / zchunk)
    values = np.full((k1 - k0,) + tuple(table.shape[1:]), UNRECORDED, np.int64)
    layouts = [Layout.of(name, arr) for name, arr in zip(names, arrays, strict=True)]
    wanted = [(j, col, k, layout.slab_key(k)) for j, (layout, col) in
              enumerate(zip(layouts, columns, strict=True)) for k in range(k0, k1)]
    unseen = [key for *_, key in wanted if key is not None and key not in seen]
    found = dict(zip(unseen, await read_checksums(store, unseen), strict=True))
    for _, col, k, key in wanted:
        got = (0, 0) if key is None else seen[key] if key in seen else found[key]
        if got is None:
            raise OSError(f"chunk {key} was not written")
        values[k - k0, col] = got
    await table.setitem((slice(k0, k1),), values)


def _index_rows(layouts: dict[str, Layout], names: Sequence[str], store: Any,
                seen: dict[str, tuple[int, int]] | None = None) -> tuple[list[str], np.ndarray]:
    """Index rows ``(variable, chunk, crc, bytes)`` of every chunk of ``names`` (from
    ``seen`` where recorded as written, else read back)."""
    seen = seen or {}
    wanted = [(names.index(n), flat, key) for n in names for flat, key in layouts[n].keys()]
    unseen = [key for *_, key in wanted if key not in seen]
    read = dict(zip(unseen, sync(read_checksums(store, unseen)), strict=True))
    got = [seen[key] if key in seen else read[key] for *_, key in wanted]
    rows = []
    for (v, flat, key), value in zip(wanted, got, strict=True):
        if value is None:
            raise OSError(f"chunk {key} is missing")
        rows.append((v, flat, *value))
    return list(names), np.asarray(rows, np.int64).reshape(-1, 4)


def _write_index(group: Any, names: Sequence[str], rows: np.ndarray, *, template: Sequence[str],
                 covers_regions: bool) -> None:
    inv = group[INVENTORY]
    inv.create_array("index", shape=rows.shape, dtype="int64",
                     chunks=(max(1, rows.shape[0]), 4), fill_value=UNRECORDED,
                     dimension_names=("entry", "field"), overwrite=True)
    if rows.size:
        inv["index"][...] = rows
    inv["index"].attrs.update({"variables": list(names), "template": list(template),
                               "covers_regions": bool(covers_regions)})
    inv.attrs["token"] = uuid.uuid4().hex[:12]


def record_template(group: Any, store: Any, names: Sequence[str],
                    seen: dict[str, tuple[int, int]] | None = None) -> None:
    """Record the chunks the driver wrote when it created the store (``names``; ``seen``:
    what a :class:`RecordingStore` recorded of those writes)."""
    layouts = sync(_layouts(store))
    names, rows = _index_rows(layouts, [n for n in names if n in layouts], store, seen)
    _write_index(group, names, rows, template=names, covers_regions=False)


def record_final(group: Any, store: Any, skip: Iterable[str] = ()) -> Inventory:
    """Fold the region rows into the index and record every other array's chunks.

    The plan variables keep the entries recorded at creation (so damage during the run
    is caught, not recorded); the others (statistics, coordinates) are read now.
    Returns the inventory as written.
    """
    layouts = sync(_layouts(store))
    inv = sync(load_async(store, rows=True))
    template = list(group[INVENTORY]["index"].attrs.get("template", [])) if \
        "index" in group[INVENTORY] else []
    region_vars = set(group[INVENTORY].attrs.get("region_variables", []))
    skip = set(skip)
    kept = [n for n in template if n in layouts]
    fresh = sorted(n for n in layouts if n not in region_vars and n not in kept
                   and n not in skip)
    names = kept + [n for n in sorted(region_vars) if n in layouts] + fresh
    rows = []
    for e in (inv.entries.values() if inv else ()):
        if e.variable in kept or e.variable in region_vars:
            rows.append((names.index(e.variable), e.flat, e.crc, e.nbytes))
    _, new = _index_rows(layouts, fresh, store)
    new[:, 0] += len(names) - len(fresh)
    table = np.concatenate([np.asarray(rows, np.int64).reshape(-1, 4), new])
    _write_index(group, names, table, template=kept, covers_regions=True)
    out = Inventory({}, layouts, inv.bounds if inv else np.zeros(1, np.int64),
                    str(group[INVENTORY].attrs.get("token", "")), frozenset())
    counts: dict[str, int] = {}
    _add_index(out, names, table, counts)
    out.whole = _whole(layouts, counts)
    return out


def _add_index(out: Inventory, names: Sequence[str], table: Any, counts: dict[str, int],
               skip: Iterable[str] = ()) -> None:
    """Entries of the index rows ``table`` (variables ``names``) into ``out``."""
    skip = set(skip)
    for v, flat, crc, nbytes in np.asarray(table, np.int64).tolist():
        name = names[v]
        layout = out.layouts.get(name)
        if layout is None or name in skip:
            continue
        coords = layout.coords(flat)
        out.entries[layout.key(coords)] = Entry(crc, nbytes, name,
                                                out.region_of(layout, coords), flat)
        counts[name] = counts.get(name, 0) + 1


def _whole(layouts: dict[str, Layout], counts: dict[str, int]) -> frozenset[str]:
    return frozenset(n for n, layout in layouts.items()
                     if counts.get(n, 0) == math.prod(layout.grid))


# ---------------------------------------------------------------------------------------
# reading the inventory


async def load_async(store: Any, *, rows: bool | None = None) -> Inventory | None:
    """The inventory of the store (None when it has none: written by an older dfimx).

    The chunks of the region variables come from the ``regions`` rows until they are
    folded into the index at finalisation; ``rows=True`` reads them from the rows anyway
    (a resume that repaired regions of a finished store).
    """
    root = await open_group_async(store=store, mode="r", zarr_format=3)
    try:
        inv = await root.getitem(INVENTORY)
    except KeyError:
        return None
    attrs = dict(inv.attrs)
    layouts = await _layouts(store)
    bounds = np.asarray(attrs.get("region_bounds", [0]), np.int64)
    out = Inventory({}, layouts, bounds, str(attrs.get("token", "")), frozenset())
    members = {name async for name, _ in inv.members()}
    covers_regions = False
    counts: dict[str, int] = {}
    if "index" in members:
        index = await inv.getitem("index")
        names = list(index.attrs.get("variables", []))
        covers_regions = bool(index.attrs.get("covers_regions", False)) and not rows
        region_vars = set(attrs.get("region_variables", [])) if not covers_regions else set()
        table = await index.getitem(slice(None)) if index.shape[0] else np.zeros((0, 4))
        _add_index(out, names, table, counts, skip=region_vars)
    if not covers_regions and "regions" in members:
        table = np.asarray(await (await inv.getitem("regions")).getitem(slice(None)), np.int64)
        for col, name in enumerate(attrs.get("region_variables", [])):
            layout = layouts.get(name)
            if layout is None:
                continue
            for k in np.flatnonzero(table[:, col, 0] >= 0):
                crc, nbytes = (int(x) for x in table[k, col])
                key = layout.slab_key(int(k))
                if key is None:
                    continue
                coords = [int(k) if i == layout.seq_axis else 0 for i in range(len(layout.grid))]
                flat = int(np.ravel_multi_index(coords, layout.grid))
                out.entries[key] = Entry(crc, nbytes, name, out.region_of(layout, coords), flat)
                counts[name] = counts.get(name, 0) + 1
    out.whole = _whole(layouts, counts)
    return out


def load(store: Any) -> Inventory | None:
    """:func:`load_async` from synchronous code."""
    return sync(load_async(store))


def listing(path: str, storage_options: StorageOptions) -> dict[str, int]:
    """Every file of the store with its size, by store key (one walk or one listing)."""
    if is_url(path):
        fs, root = filesystem(path, storage_options)
        found = fs.find(root, detail=True)
        return {name[len(root) + 1:]: int(info.get("size") or 0)
                for name, info in found.items()}
    root = local_path(path)
    out = {}
    for here, _dirs, files in os.walk(root):
        rel = os.path.relpath(here, root)
        for f in files:
            key = f if rel == "." else f"{rel}/{f}".replace(os.sep, "/")
            try:
                out[key] = os.stat(os.path.join(here, f)).st_size
            except FileNotFoundError:
                continue
    return out


def problems(inv: Inventory, files: dict[str, int], names: Iterable[str], *,
             whole: bool) -> list[Problem]:
    """Recorded chunks of ``names`` missing from ``files`` or of another size.

    With ``whole``, a variable whose chunks are not all recorded is a problem too.
    """
    names = set(names) - {MARKS}
    out = []
    for key, e in inv.entries.items():
        if e.variable not in names:
            continue
        size = files.get(key)
        if size is None:
            out.append(Problem(e.variable, e.region, key, "is missing"))
        elif size != e.nbytes:
            out.append(Problem(e.variable, e.region, key,
                               f"has {size} bytes, {e.nbytes} were written"))
    if whole:
        for name in sorted(names - inv.whole):
            out.append(Problem(name, None, "", "is not (entirely) in the store's inventory"))
    return sorted(out, key=lambda p: (p.region if p.region is not None else -1, p.variable,
                                      p.key))


async def verify_async(store: Any, inv: Inventory, names: Iterable[str]) -> list[Problem]:
    """Recorded chunks of ``names`` whose bytes do not match their checksum."""
    names = set(names)
    keys = [k for k, e in inv.entries.items() if e.variable in names]
    out = []
    for key, got in zip(keys, await read_checksums(store, keys), strict=True):
        e = inv.entries[key]
        if got is None:
            out.append(Problem(e.variable, e.region, key, "is missing"))
        elif got != (e.crc, e.nbytes):
            out.append(Problem(e.variable, e.region, key, "does not match its checksum"))
    return sorted(out, key=lambda p: (p.region if p.region is not None else -1, p.variable,
                                      p.key))


def verify(store: Any, inv: Inventory, names: Iterable[str]) -> list[Problem]:
    """:func:`verify_async` from synchronous code."""
    return sync(verify_async(store, inv, names))


__all__ = ["INDEX", "INVENTORY", "MARKS", "ROWS", "Entry", "Inventory", "Layout", "Problem",
           "RecordingStore",
           "checksum", "create", "listing", "load", "load_async", "problems", "read_checksums",
           "record_final", "record_region", "record_template", "verify", "verify_async"]
