"""Where a run writes and what it must (re)compute: new store, replacement, resume, repair.

:func:`choose_target` decides where a run writes.  A new store is written in place; a
run that replaces a dfimx store writes ``<store>.partial`` beside it and swaps only on
success, so a failed run leaves the old store as it was.  What dfimx did not write is
never deleted, an unfinished dfimx run is only continued (``resume``) or discarded
(``overwrite``) when asked, and ``resume`` continues the interrupted replacement when
there is one.

:func:`assess` is what ``resume`` trusts: not the region marks alone, but the store's
inventory -- every chunk present, of its size and checksum -- so a region whose data was
deleted or damaged is computed again, and a damaged plan variable is rewritten.

Examples
--------
>>> choose_target("no-such-store.zarr", None, resume=False, overwrite=False)
Target(work='no-such-store.zarr', swap=False, fresh=True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dfimx.errors import InputError
from dfimx.store import inventory
from dfimx.store.location import (
    StorageOptions,
    open_group,
    partial_path,
    remove_store,
    root_attrs,
    store_kind,
    store_object,
)
from dfimx.store.reader import region_status


@dataclass(frozen=True)
class Target:
    """Where a run writes: ``work`` (the store or ``<store>.partial``), whether it is swapped
    into place at the end, and whether it starts from nothing."""

    work: str
    swap: bool
    fresh: bool


def _regions_written(path: str, so: StorageOptions) -> str:
    try:
        done = region_status(path, storage_options=so)
    except InputError:
        return "its regions cannot be read"
    return f"{int(done.sum())} of {len(done)} regions written"


def choose_target(path: str, so: StorageOptions, *, resume: bool, overwrite: bool) -> Target:
    """Where a run on ``path`` writes, or :class:`InputError` when it must not write at all.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> choose_target(d, None, resume=False, overwrite=False).fresh  # an empty folder
    True
    """
    kind, partial = store_kind(path, so), partial_path(path)
    pkind = store_kind(partial, so)
    if kind == "other":
        raise InputError(f"{path}: exists and is not a Zarr store; refusing to overwrite it "
                         "(remove it or choose another output)")
    if kind == "zarr":
        raise InputError(f"{path}: a Zarr store that dfimx did not write; refusing to replace "
                         "it (remove it or choose another output)")
    if pkind in ("other", "zarr"):
        raise InputError(f"{partial}: exists and was not written by dfimx; refusing to use it "
                         "(remove it)")
    if resume:
        if pkind == "dfimx":
            return Target(partial, True, False)
        return Target(path, False, kind != "dfimx")
    if pkind == "dfimx" and not overwrite:
        raise InputError(f"{path}: an interrupted run that was replacing this store left "
                         f"{partial} ({_regions_written(partial, so)}); resume=True continues "
                         "it, overwrite=True starts again")
    if kind == "dfimx" and not overwrite and not (root_attrs(path, so) or {}).get(
            "dfimx_complete", False):
        raise InputError(f"{path}: an unfinished dfimx run ({_regions_written(path, so)}); "
                         "resume=True continues it, overwrite=True starts again")
    if pkind in ("dfimx", "empty"):
        remove_store(partial, so)
    if kind in ("absent", "empty"):
        return Target(path, False, True)
    return Target(partial, True, True)


def check_resumable(path: str, so: StorageOptions, fingerprint: str, layout: str,
                    n_regions: int) -> np.ndarray | None:
    """The region marks of a store that ``resume`` may continue (None: start it again).

    Refuses a store made from other inputs, settings or chunking, and one without an
    inventory (an older dfimx).
    """
    try:
        attrs = dict(open_group(path, so, "r").attrs)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot resume: not a readable Zarr store ({exc})") from exc
    if "dfimx_complete" not in attrs:
        raise InputError(f"{path}: cannot resume: not a dfimx store (remove it or choose "
                         "another output)")
    if attrs.get("dfimx_fingerprint") is None:
        return None  # the template was interrupted, or the inputs changed: start again
    if attrs.get("dfimx_layout") != layout:
        raise InputError(
            f"{path}: cannot resume: the store was written in regions of "
            f"{attrs.get('dfimx_region_size')} sequences; rerun with "
            f"chunk_size={attrs.get('dfimx_region_size')}"
        )
    if attrs["dfimx_fingerprint"] != fingerprint:
        raise InputError(
            f"{path}: cannot resume: the store was made with different inputs or settings "
            "(remove it or choose another output)"
        )
    if not attrs.get("dfimx_run_id"):
        raise InputError(f"{path}: cannot resume: written by an older dfimx without an "
                         "inventory; overwrite=True starts again")
    done = region_status(path, storage_options=so)
    if len(done) != n_regions:  # pragma: no cover - the layout token covers this
        raise InputError(f"{path}: cannot resume: {len(done)} regions stored, {n_regions} "
                         "expected")
    return done


@dataclass
class Repair:
    """What a resume must do: regions to compute, plan variables to rewrite, finalize."""

    todo: list[int]
    template: list[str] = field(default_factory=list)
    finalize: bool = False
    rebuild: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        """True when the store is whole and finished: nothing to do."""
        return not (self.todo or self.template or self.finalize or self.rebuild)


def _slab_keys(layout: inventory.Layout, lo: int, hi: int) -> list[str]:
    axis = layout.seq_axis
    if axis is None:
        return []
    step = layout.chunks[axis]
    keys = [layout.slab_key(k) for k in range(lo // step, math.ceil(hi / step))]
    return [k for k in keys if k is not None]


def assess(path: str, so: StorageOptions, done: np.ndarray, regions: Sequence[slice],
           *, complete: bool) -> Repair:
    """Check a store that ``resume`` continues: which regions and variables are damaged.

    Every recorded chunk is read back and compared with its checksum; a region marked
    done whose chunks are not all recorded is computed again too.
    """
    store = store_object(path, so, read_only=True)
    inv = inventory.load(store)
    if inv is None:
        raise InputError(f"{path}: cannot resume: written by an older dfimx without an "
                         "inventory; overwrite=True starts again")
    inv_attrs = dict(open_group(path, so, "r")[inventory.INVENTORY].attrs)
    region_vars = [n for n in inv_attrs.get("region_variables", []) if n in inv.layouts]
    index_attrs = dict(open_group(path, so, "r")[inventory.INDEX].attrs)
    template = set(index_attrs.get("template", []))
    names = [n for n in inv.layouts if not n.startswith(inventory.INVENTORY)]
    found = inventory.problems(inv, inventory.listing(path, so), names, whole=False)
    seen = {p.key for p in found}
    found += [p for p in inventory.verify(store, inv, names) if p.key not in seen]
    redo = {i for i, d in enumerate(done) if not d}
    damaged_template: set[str] = set()
    final_damage = False
    for p in found:
        if p.variable in region_vars and p.region is not None:
            redo.add(p.region)
        elif p.variable in template:
            damaged_template.add(p.variable)
        else:
            final_damage = True
    for i in np.flatnonzero(done):  # marked done, but not all of its chunks recorded
        sl = regions[int(i)]
        if any(key not in inv.entries for name in region_vars
               for key in _slab_keys(inv.layouts[name], sl.start, sl.stop)):
            redo.add(int(i))
    repair = Repair(sorted(redo), sorted(damaged_template),
                    problems=[inv.message(path, p) for p in found])
    removed = set(inv_attrs.get("region_variables", [])) - set(inv.layouts)
    if not complete:
        repair.finalize = True
    elif final_damage:
        # statistics can be computed again only while everything they came from is stored
        repair.finalize, repair.rebuild = (True, False) if not removed else (False, True)
    return repair


def write_run_attrs(group: Any, lock: Any, *, created: bool) -> None:
    """Record the run in the store's root ``group``: ``dfimx_run_id`` when it creates the
    store, and one entry per run in ``dfimx_runs`` (the chain of runs that wrote it)."""
    runs = list(group.attrs.get("dfimx_runs", []) or []) if not created else []
    entry = {k: lock.info[k] for k in ("run_id", "pid", "host", "started")}
    entry["resumed"] = not created
    if lock.previous:
        entry["took_over"] = lock.previous.get("run_id")
    runs.append(entry)
    update: dict[str, Any] = {"dfimx_runs": runs}
    if created:
        update["dfimx_run_id"] = lock.run_id
    group.attrs.update(update)


__all__ = ["Repair", "Target", "assess", "check_resumable", "choose_target", "write_run_attrs"]
