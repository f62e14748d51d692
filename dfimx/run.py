"""One call from input files to a finished store: :func:`run_dfim`, :func:`execute`.

:func:`run_dfim` reads the sequences, builds the plan, builds the lazy result
(:func:`dfimx.dfim.compute_dfim`) and hands it to :func:`execute`, which writes it region
by region (:func:`dfimx.store.write_store`), on a loopback Dask cluster when asked, and
adds p- and q-values from the stored null.

Examples
--------
>>> from dfimx.run import run_dfim                       # doctest: +SKIP
>>> run_dfim("model.keras", "seqs.fa", elements="el.tsv", output="out.zarr")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dask.array as da
import xarray as xr

from dfimx import sequences, stats
from dfimx.dfim import compute_dfim
from dfimx.models import ModelSpec, file_sha256, model_spec_for
from dfimx.plans import plan_dataset
from dfimx.settings import Settings
from dfimx.store import add_variables, open_result, remove_variables, write_store
from dfimx.version import __version__

#: Elements of the largest per-chunk output (``interaction_profile``: sequences x sources x
#: positions) that the automatic chunk size aims for: tasks of seconds, tens of MB.
CHUNK_BUDGET = 16_000_000


def auto_chunk_size(n_mutations: int, length: int, *, budget: int = CHUNK_BUDGET) -> int:
    """Sequences per chunk so that a task's largest output stays near ``budget`` values.

    Examples
    --------
    >>> auto_chunk_size(4, 200)      # element maps: large chunks
    512
    >>> auto_chunk_size(300, 1000)   # per-base scan of 100 bp in 1-kb windows
    53
    """
    return int(min(512, max(16, budget // max(1, n_mutations * length))))


def rechunk_seq(ds: xr.Dataset, chunk: int) -> xr.Dataset:
    """Rechunk every Dask variable of ``ds`` along ``seq`` (in-memory ones stay as they are)."""
    out = ds.copy()
    for name, var in ds.data_vars.items():
        if "seq" in var.dims and isinstance(var.data, da.Array):
            out[name] = var.chunk({"seq": chunk})
    return out


def statistics_pass(
    path: str, settings: Settings, *, storage_options: dict[str, Any] | None = None
) -> None:
    """Add p-values and q-values from the stored null to the store at ``path``."""
    ds = open_result(path, allow_incomplete=True, storage_options=storage_options)
    if "null_interaction_score" not in ds:
        return
    added = []
    for score, null, prefix in (("interaction_score", "null_interaction_score", "interaction"),
                                ("symmetric_score", "null_symmetric_score", "symmetric")):
        if null not in ds:
            continue
        ds = stats.add_p_values(ds, pvalue=settings.pvalue, level=settings.null_level,
                                score=score, null=null, output=f"{prefix}_p_value")
        ds = stats.add_q_values(ds, p_value=f"{prefix}_p_value", output=f"{prefix}_q_value")
        added += [f"{prefix}_p_value", f"{prefix}_q_value", null]
    add_variables(path, ds[[a for a in added if not a.startswith("null_")]],
                  storage_options=storage_options)
    if not settings.keep_null:
        remove_variables(path, [a for a in added if a.startswith("null_")],
                         storage_options=storage_options)


def run_dfim(
    model: Any,
    sequences_input: Any,
    *,
    output: str | os.PathLike,
    elements: Any = None,
    mut_dict: Any = None,
    scan: str | tuple[int, int] | None = None,
    settings: Settings | None = None,
    length: int | None = None,
    chunk_size: int | None = None,
    batch_size: int = 256,
    tasks: list[int | str] | None = None,
    output_layer: str = "logit",
    safe_mode: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    config: dict[str, Any] | None = None,
    storage_options: dict[str, Any] | None = None,
    **options: Any,
) -> str:
    """Sequences + plan + model -> a finished Zarr store (with p/q-values when a null is run).

    Parameters
    ----------
    model
        Path to a ``.keras``/``.h5``/SavedModel, or a Keras model.
    sequences_input
        FASTA path, list of strings, one-hot array or a sequence dataset.
    output
        Zarr store to write: a path or an fsspec URL (``s3://bucket/run.zarr``).
    chunk_size
        Sequences per task (and per Zarr region); by default chosen from the plan so that
        a task's largest output holds about ``CHUNK_BUDGET`` values (at most 512 sequences);
        a dataset passed as ``sequences_input`` keeps its own chunks.
    workers, scheduler
        Start a loopback ``LocalCluster`` with ``workers`` processes, or connect to an
        existing scheduler; with neither, the active Dask scheduler is used.
    storage_options
        fsspec options for a remote ``output`` (credentials, endpoint).
    **options
        :class:`dfimx.settings.Settings` fields (``method``, ``reference``, ...).

    Returns
    -------
    str
        The store path.
    """
    settings = dataclasses.replace(settings or Settings(), **options).validate()
    spec = model_spec_for(model, output_layer=output_layer, tasks=tasks, safe_mode=safe_mode)
    ds = sequences.as_dataset(sequences_input, length=length,
                              chunk_size=chunk_size or sequences.DEFAULT_CHUNK_SIZE)
    ds = plan_dataset(ds, elements=elements, mut_dict=mut_dict, scan=scan)
    if chunk_size is None and not isinstance(sequences_input, xr.Dataset):
        # a dataset given by the caller keeps its chunks
        ds = rechunk_seq(ds, auto_chunk_size(ds.sizes["mutation"], ds.sizes["position"]))
    result = compute_dfim(ds, spec, settings=settings, batch_size=batch_size)
    inputs = {"model": spec.path}
    for key, value in (("fasta", sequences_input), ("elements", elements),
                       ("mut_dict", mut_dict)):
        if isinstance(value, (str, os.PathLike)):
            inputs[key] = str(value)
    result.attrs.update(provenance(command, inputs))
    if config:
        result.attrs["config"] = json.dumps(config, sort_keys=True, default=str)
    if scan is not None:
        result.attrs["scan"] = scan if isinstance(scan, str) else f"{scan[0]}:{scan[1]}"
    return execute(result, output, spec=spec, settings=settings, workers=workers,
                   scheduler=scheduler, resume=resume, progress=progress,
                   storage_options=storage_options)


def execute(
    result: xr.Dataset,
    output: str | os.PathLike,
    *,
    spec: ModelSpec,
    settings: Settings,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Write a lazy result and its statistics, on a cluster when ``workers``/``scheduler``.

    Starts a loopback ``LocalCluster`` (or connects to ``scheduler``) with the model
    preloaded on every worker; otherwise the active Dask scheduler is used.

    Examples
    --------
    >>> result = compute_dfim(ds, spec)                                  # doctest: +SKIP
    >>> execute(result, "out.zarr", spec=spec, settings=Settings())      # doctest: +SKIP
    """
    if workers or scheduler:
        from dfimx.cluster import start_client  # distributed is imported only for clusters

        ctx: Any = start_client(workers=workers, scheduler=scheduler, spec=spec)
    else:
        ctx = contextlib.nullcontext()
    with ctx:
        return write_store(
            result, output, resume=resume, progress=progress,
            finalize=lambda p: statistics_pass(p, settings, storage_options=storage_options),
            storage_options=storage_options,
        )


def provenance(command: str | None = None, inputs: dict[str, str] | None = None) -> dict:
    """Provenance attrs: version, command, creation time, input files and their hashes."""
    attrs: dict[str, Any] = {
        "dfimx_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
    }
    if inputs:
        attrs["inputs"] = json.dumps(inputs, sort_keys=True)
        hashes = {k: file_sha256(v) for k, v in inputs.items() if v and Path(v).is_file()}
        attrs["inputs_sha256"] = json.dumps(hashes, sort_keys=True)
    return attrs


__all__ = ["CHUNK_BUDGET", "auto_chunk_size", "execute", "provenance", "rechunk_seq",
           "run_dfim", "statistics_pass"]
