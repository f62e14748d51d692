"""Attributions of a store in TF-MoDISco (modisco-lite) layout: ``modisco motifs -s -a``.

modisco-lite reads two ``.npz`` files (array ``arr_0``) of shape ``(N, 4, L)``: the one-hot
sequences and their attributions, bases A C G T on the second axis.  dfimx stores them as
``seq_onehot`` ``(seq, position, base)`` and ``seq_importance`` ``(seq, position, base,
task)`` (a run with ``--keep-importance``); :func:`export_modisco` writes one task of them,
transposed, and returns the command that runs modisco-lite on them.  The attributions are
those of the run's method as stored (for DeepLIFT/DeepSHAP and gradients they are defined
on every base, as modisco-lite's hypothetical contributions are; it multiplies them by the
one-hot sequence for the observed contributions).

Examples
--------
>>> import tempfile
>>> from dfimx.testing import example_result
>>> out = export_modisco(example_result(n_seq=4), tempfile.mkdtemp() + "/m", task="task1")
>>> np.load(out.sequences)["arr_0"].shape, np.load(out.attributions)["arr_0"].shape
((4, 4, 120), (4, 4, 120))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dfimx.errors import InputError
from dfimx.variables import as_str


@dataclass(frozen=True)
class ModiscoFiles:
    """What :func:`export_modisco` wrote, and the modisco-lite command that reads it."""

    sequences: Path
    attributions: Path
    task: str
    command: str


def _task_index(ds: xr.Dataset, task: Any) -> int:
    names = [str(t) for t in as_str(ds["task"].values)] if "task" in ds.coords \
        else [str(i) for i in range(ds.sizes.get("task", 1))]
    if task is None:
        if len(names) > 1:
            raise InputError(f"the store has {len(names)} tasks ({', '.join(names)}); name the "
                             "one to export", option="task")
        return 0
    if str(task) in names:
        return names.index(str(task))
    if str(task).isdigit() and int(task) < len(names):
        return int(task)
    raise InputError(f"unknown task {task!r}; the store has {', '.join(names)}", option="task")


def export_modisco(
    ds: xr.Dataset | str | os.PathLike,
    prefix: str | os.PathLike,
    *,
    task: str | int | None = None,
) -> ModiscoFiles:
    """Write ``<prefix>.ohe.npz`` and ``<prefix>.attr.npz`` for ``modisco motifs``.

    Parameters
    ----------
    ds
        A result or the path of a store; it must hold ``seq_importance`` (run with
        ``--keep-importance``).
    prefix
        Path prefix of the two files (its folder is created).
    task
        Task name or index; may be left out when there is one task.

    Returns
    -------
    ModiscoFiles
        The two paths, the task, and the ``modisco motifs`` command line for them (its
        ``-w`` is the sequence length, so that the whole window is searched).

    Raises
    ------
    InputError
        When the store has no ``seq_importance``, or the task is unknown or not given for a
        store with several.
    """
    if not isinstance(ds, xr.Dataset):
        from dfimx.store import open_result  # the store layer only when a path is given

        ds = open_result(ds)
    source = ds.attrs.get("source_fasta") or "the result"
    if "seq_importance" not in ds:
        raise InputError(f"{source}: no seq_importance in the store: run it with "
                         "--keep-importance (keep_importance=True) to export attributions",
                         option="keep_importance")
    t = _task_index(ds, task)
    onehot = np.asarray(ds["seq_onehot"].values, dtype=np.float32)
    attributions = np.asarray(ds["seq_importance"].isel(task=t).values, dtype=np.float32)
    attributions = np.nan_to_num(attributions, nan=0.0)
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    seq_path = prefix.with_name(prefix.name + ".ohe.npz")
    attr_path = prefix.with_name(prefix.name + ".attr.npz")
    np.savez_compressed(seq_path, onehot.transpose(0, 2, 1))
    np.savez_compressed(attr_path, attributions.transpose(0, 2, 1))
    names = as_str(ds["task"].values) if "task" in ds.coords else None
    length = int(onehot.shape[1])
    command = (f"modisco motifs -s {seq_path} -a {attr_path} -n 2000 -w {length} "
               f"-o {prefix.with_name(prefix.name + '.modisco.h5')}")
    return ModiscoFiles(seq_path, attr_path, str(names[t]) if names is not None else str(t),
                        command)


__all__ = ["ModiscoFiles", "export_modisco"]
