"""High-level entry points: one call from input files to a finished store.

Examples
--------
>>> from dfimx.api import run_dfim                       # doctest: +SKIP
>>> run_dfim("model.keras", "seqs.fa", elements="el.tsv", output="out.zarr")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from typing import Any

import xarray as xr

from dfimx import mutations, sequences
from dfimx.errors import InputError
from dfimx.models import ModelSpec
from dfimx.pipeline import Settings, compute_dfim, model_spec_for, provenance
from dfimx.store import write_store


def plan_dataset(
    ds: xr.Dataset,
    *,
    elements: Any = None,
    mut_dict: Any = None,
    scan: str | tuple[int, int] | None = None,
) -> xr.Dataset:
    """Add the mutation plan chosen by exactly one of ``elements``, ``mut_dict``, ``scan``."""
    given = [x is not None for x in (elements, mut_dict, scan)]
    if sum(given) != 1:
        raise InputError("give exactly one of --elements, --mut-dict or --scan")
    if elements is not None:
        return mutations.plan_elements(ds, elements)
    if mut_dict is not None:
        return mutations.plan_mut_dict(ds, mut_dict)
    start, end = mutations.parse_scan(scan) if isinstance(scan, str) else scan
    return mutations.plan_scan(ds, start, end)


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
    import dask.array as da

    out = ds.copy()
    for name, var in ds.data_vars.items():
        if "seq" in var.dims and isinstance(var.data, da.Array):
            out[name] = var.chunk({"seq": chunk})
    return out


def statistics_pass(
    path: str, settings: Settings, *, storage_options: dict[str, Any] | None = None
) -> None:
    """Add p-values and q-values from the stored null to the store at ``path``."""
    import zarr

    from dfimx import stats
    from dfimx.store import open_result

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
    new = ds[[a for a in added if not a.startswith("null_")]].drop_vars(
        ["task", "base"], errors="ignore")
    for v in new.variables.values():
        v.encoding = {}
    new.to_zarr(path, mode="a", zarr_format=3, consolidated=False,
                storage_options=storage_options)
    if not settings.keep_null:
        group = zarr.open_group(path, mode="r+", storage_options=storage_options)
        for name in added:
            if name.startswith("null_"):
                del group[name]


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
        :class:`dfimx.pipeline.Settings` fields (``method``, ``reference``, ...).

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
        from dfimx.cluster import start_client

        ctx: Any = start_client(workers=workers, scheduler=scheduler, spec=spec)
    else:
        ctx = contextlib.nullcontext()
    with ctx:
        return write_store(
            result, output, resume=resume, progress=progress,
            finalize=lambda p: statistics_pass(p, settings, storage_options=storage_options),
            storage_options=storage_options,
        )
