"""One call from input files to a finished store: :func:`run_dfim`, :func:`scan_variants`.

:func:`run_dfim` reads the sequences, builds the plan, builds the lazy result
(:func:`dfimx.dfim.compute_dfim`) and hands it to :func:`execute`, which writes it region
by region (:func:`dfimx.store.write_store`), on a loopback Dask cluster when asked, and
adds p- and q-values from the stored null.

:func:`scan_variants` does the same for a VCF and a genome: each SNV allele is one
``seq``, the window of the genome centred on it (read lazily on the workers, see
:func:`dfimx.windows.variant_windows_dataset`); its one source is the variant itself and
its targets are the motif hits of the reference window and the other variant sites in it
(:func:`dfimx.plans.variants.plan_variant_targets`).  The null (by default the
dinucleotide shuffle, :data:`dfimx.settings.DEFAULT_NULLS`) keeps the variant base in
place and shuffles the flanks on each side (``Settings(null_keep_sources=True)``);
p-values pool the null scores by distance between the variant and the target
(``null_level="distance"``) and BH q-values run over the whole scan.

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
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import dask.array as da
import numpy as np
import xarray as xr

from dfimx import sequences
from dfimx.dfim import compute_dfim
from dfimx.dfim.graph import settings_attrs
from dfimx.dfim.kernel import SUMMATION_METHODS
from dfimx.errors import InputError
from dfimx.execution import (
    PROCESS_MIN_CORES,
    PROCESS_MIN_WORK,
    attribution_work,
    local_workers,
)
from dfimx.io.bed import read_bed
from dfimx.io.meme import load_motifs
from dfimx.io.vcf import read_variant_table
from dfimx.models import ModelSpec, file_sha256, model_spec_for
from dfimx.plans import plan_dataset
from dfimx.plans.elements import plan_motifs
from dfimx.plans.variants import variant_scan_dataset
from dfimx.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CIS_VARIANTS,
    DEFAULT_MAX_MOTIF_ELEMENTS,
    DEFAULT_MAX_MOTIF_TARGETS,
    DEFAULT_P_VALUE_THRESHOLD,
    DEFAULT_VARIANT_CHUNK,
    VARIANT_DEFAULTS,
    Settings,
    with_plan_defaults,
)
from dfimx.stats.finalize import result_statistics
from dfimx.store import add_variables, open_result, remove_variables, write_store
from dfimx.version import __version__
from dfimx.windows import bed_windows_dataset

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


def record_summation_delta(path: str, *, storage_options: dict[str, Any] | None = None
                           ) -> float | None:
    """Store the run's largest summation-to-delta violation as ``summation_delta_max``.

    Read from the stored ``summation_delta``; warns above
    :data:`dfimx.attribution.RUN_TOLERANCE` (relative).  Returns the value, None when the
    run's method has no such check.
    """
    import warnings

    # the tolerance lives with the checks; attribution imports no TensorFlow at import
    from dfimx.attribution import RUN_TOLERANCE

    # plain Zarr attrs: the store's own helpers
    from dfimx.store.location import open_group, storage_options_for

    ds = open_result(path, allow_incomplete=True, storage_options=storage_options)
    if "summation_delta" not in ds:
        return None
    values = ds["summation_delta"].values
    worst = float(np.nanmax(values)) if np.isfinite(values).any() else float("nan")
    group = open_group(str(path), storage_options_for(str(path), storage_options), "r+")
    group.attrs["summation_delta_max"] = worst
    if worst > RUN_TOLERANCE:
        warnings.warn(
            f"{path}: the attributions break summation-to-delta by up to {worst:.3g} "
            f"(relative; tolerance {RUN_TOLERANCE:g}): their contributions do not add up to "
            "f(x) - f(reference); see summation_delta", RuntimeWarning, stacklevel=2)
    return worst


def statistics_pass(
    path: str, settings: Settings, *, storage_options: dict[str, Any] | None = None
) -> None:
    """Add p-values, q-values and effect sizes from the stored null to the store at ``path``
    (:func:`dfimx.stats.finalize.result_statistics`, as :func:`dfimx.store.write_store`
    does for a result it is given without a ``finalize``), and the run's largest
    summation-to-delta violation (:func:`record_summation_delta`)."""
    if settings.method in SUMMATION_METHODS:  # other methods store no summation_delta
        record_summation_delta(path, storage_options=storage_options)
    if settings.null == "none":  # no null scores: nothing to add (and no need to open it)
        return
    ds = open_result(path, allow_incomplete=True, storage_options=storage_options)
    if "null_interaction_score" not in ds:
        return
    new, nulls = result_statistics(ds, attrs={**ds.attrs, **settings_attrs(settings)})
    add_variables(path, new, storage_options=storage_options)
    if not settings.keep_null:
        remove_variables(path, nulls, storage_options=storage_options)


#: The former name of :func:`dfimx.settings.with_plan_defaults` (method and null by plan).
with_plan_null = with_plan_defaults


def run_dfim(
    model: Any,
    sequences_input: Any = None,
    *,
    output: str | os.PathLike,
    elements: Any = None,
    mut_dict: Any = None,
    scan: str | tuple[int, int] | None = None,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
    p_value_threshold: float = DEFAULT_P_VALUE_THRESHOLD,
    max_motif_elements: int = DEFAULT_MAX_MOTIF_ELEMENTS,
    bed: str | os.PathLike | None = None,
    genome: str | os.PathLike | None = None,
    settings: Settings | None = None,
    length: int | None = None,
    chunk_size: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    tasks: list[int | str] | None = None,
    output_layer: str = "logit",
    safe_mode: bool = True,
    custom_objects: str | os.PathLike | None = None,
    workers: int | str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
    config: dict[str, Any] | None = None,
    storage_options: dict[str, Any] | None = None,
    **options: Any,
) -> str:
    """Sequences + plan + model -> a finished Zarr store (with p/q-values when a null is run).

    The input files (model, FASTA, elements or mut_dict) are hashed before they are read
    and again before the store is marked complete: if one changed during the run, the
    run refuses to finish (:class:`InputError` naming the file; the store stays
    incomplete and a resume starts it again).

    Parameters
    ----------
    model
        Path to a ``.keras``/``.h5``/SavedModel, or a Keras model.
    sequences_input
        FASTA path, list of strings, one-hot array or a sequence dataset; or None with
        ``bed`` and ``genome``.
    output
        Zarr store to write: a path or an fsspec URL (``s3://bucket/run.zarr``).
    elements, mut_dict, scan, motifs
        The plan, exactly one of: an elements table, a legacy ``mut_dict``, a per-base
        window ``START:END``, or motifs (MEME file or ``{name: pwm}``) whose hits in each
        sequence are the elements (:func:`dfimx.plans.elements.plan_motifs`: hits at
        p < ``p_value_threshold``, the ``max_motif_elements`` most significant per
        sequence).
    bed, genome
        Instead of ``sequences_input``: one window of the genome FASTA per BED interval,
        ``length`` bases (default: the model's input length) centred on it, with
        ``seq_id`` ``chrom:start-end`` (:func:`dfimx.windows.bed_windows_dataset`).
    chunk_size
        Sequences per task (and per Zarr region); by default chosen from the plan so that
        a task's largest output holds about ``CHUNK_BUDGET`` values (at most 512 sequences);
        a dataset passed as ``sequences_input`` keeps its own chunks.
    custom_objects
        A Python file with the model's custom layers, imported to load it (trusted code:
        :func:`dfimx.models.load_custom_objects`).
    workers, scheduler
        Start a loopback ``LocalCluster`` with ``workers`` processes, or connect to an
        existing scheduler; with neither, the active Dask scheduler is used.
        ``workers="auto"`` (the command line's default) runs in this process unless the
        run is large enough to pay for worker processes (:func:`local_workers`).
    resume, overwrite
        Continue an interrupted store (recomputing missing or damaged regions); replace
        an unfinished one.  A finished dfimx store at ``output`` is replaced by a plain
        run, on success only (see :func:`dfimx.store.write_store`).
    storage_options
        fsspec options for a remote ``output`` (credentials, endpoint).
    **options
        :class:`dfimx.settings.Settings` fields (``method``, ``reference``, ...).

    Returns
    -------
    str
        The store path.
    """
    settings = dataclasses.replace(settings or Settings(), **options)
    settings.validate()  # checked now; the default null is the plan's (below)
    if (bed is None) != (genome is None):
        raise InputError("bed and genome go together: the BED intervals are read from the "
                         "genome FASTA", option="bed")
    if (bed is None) == (sequences_input is None):
        raise InputError("give the sequences as a FASTA (or strings, one-hot, a dataset) or "
                         "as a BED file with its genome FASTA, not both", option="bed")
    if sum(x is not None for x in (elements, mut_dict, scan, motifs)) != 1:
        raise InputError("give exactly one of elements, mut_dict, scan or motifs",
                         option="plan")
    spec = model_spec_for(model, output_layer=output_layer, tasks=tasks, safe_mode=safe_mode,
                          custom_objects=custom_objects)
    inputs = {"model": spec.path}
    for key, value in (("fasta", sequences_input), ("elements", elements),
                       ("mut_dict", mut_dict), ("motifs", motifs), ("bed", bed),
                       ("genome", genome)):
        if isinstance(value, (str, os.PathLike)):
            inputs[key] = str(value)
    started = provenance(command, inputs)  # hashed before anything is read
    chunk = chunk_size or sequences.DEFAULT_CHUNK_SIZE
    if bed is not None:
        window = length if length is not None else spec.load().input_length
        ds = bed_windows_dataset(read_bed(bed), genome, window, chunk_size=chunk)
    else:
        ds = sequences.as_dataset(sequences_input, length=length, chunk_size=chunk)
    if motifs is not None:
        ds = plan_motifs(ds, motifs, p_value_threshold=p_value_threshold,
                         max_per_seq=max_motif_elements)
    else:
        ds = plan_dataset(ds, elements=elements, mut_dict=mut_dict, scan=scan)
    if chunk_size is None and not isinstance(sequences_input, xr.Dataset):
        # a dataset given by the caller keeps its chunks
        ds = rechunk_seq(ds, auto_chunk_size(ds.sizes["mutation"], ds.sizes["position"]))
    settings = with_plan_defaults(settings, ds.attrs.get("plan"))
    workers = local_workers(workers, attribution_work(ds, settings))
    result = compute_dfim(ds, spec, settings=settings, batch_size=batch_size)
    result.attrs.update(started)
    if config:
        result.attrs["config"] = json.dumps(config, sort_keys=True, default=str)
    if scan is not None:
        result.attrs["scan"] = scan if isinstance(scan, str) else f"{scan[0]}:{scan[1]}"
    return execute(result, output, spec=spec, settings=settings, workers=workers,
                   scheduler=scheduler, resume=resume, overwrite=overwrite, progress=progress,
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
    overwrite: bool = False,
    progress: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Write a lazy result and its statistics, on a cluster when ``workers``/``scheduler``.

    Starts a loopback ``LocalCluster`` (or connects to ``scheduler``) with the model
    preloaded on every worker; otherwise the active Dask scheduler is used.  Before the
    store is marked complete the input files recorded in ``result.attrs`` are hashed
    again (:func:`check_inputs`).

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
            result, output, resume=resume, overwrite=overwrite, progress=progress,
            finalize=lambda p: statistics_pass(p, settings, storage_options=storage_options),
            before_complete=lambda p: check_inputs(result.attrs),
            storage_options=storage_options,
        )


def check_inputs(attrs: Mapping[str, Any]) -> None:
    """Raise :class:`InputError` if an input file changed since :func:`provenance` hashed it.

    ``attrs`` holds ``inputs`` (role -> path) and ``inputs_sha256`` (role -> hash), as
    :func:`provenance` writes them.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> f = Path(tempfile.mkdtemp()) / "s.fa"
    >>> _ = f.write_text(">a\\nACGT\\n")
    >>> attrs = provenance("dfimx run", {"fasta": str(f)})
    >>> check_inputs(attrs)
    >>> _ = f.write_text(">a\\nTTTT\\n")
    >>> check_inputs(attrs)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dfimx.errors.InputError: ...s.fa: the fasta file changed during the run (...); ...
    """
    inputs = json.loads(attrs.get("inputs") or "{}")
    hashes = json.loads(attrs.get("inputs_sha256") or "{}")
    for role, path in sorted(inputs.items()):
        if role not in hashes:
            continue
        now = file_sha256(path) if Path(path).exists() else None
        if now != hashes[role]:
            state = f"sha256 {now[:12]} now" if now else "it is gone"
            raise InputError(
                f"{path}: the {role} file changed during the run (sha256 {hashes[role][:12]} "
                f"when it started, {state}); refusing to mark the store complete: rerun "
                "once the inputs stay as they are"
            )


def provenance(command: str | None = None, inputs: dict[str, str] | None = None) -> dict:
    """Provenance attrs: version, command, creation time, input files and their hashes.

    Files and SavedModel directories are hashed (:func:`dfimx.models.file_sha256`).
    """
    attrs: dict[str, Any] = {
        "dfimx_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
    }
    if inputs:
        attrs["inputs"] = json.dumps(inputs, sort_keys=True)
        hashes = {k: file_sha256(v) for k, v in inputs.items() if v and Path(v).exists()}
        attrs["inputs_sha256"] = json.dumps(hashes, sort_keys=True)
    return attrs


#: The method of variant scans (see :data:`dfimx.settings.VARIANT_DEFAULTS`).
DEFAULT_VARIANT_METHOD = VARIANT_DEFAULTS["method"]


def _report_attrs(report: Any) -> dict[str, Any]:
    """The VCF reading counts as attrs (JSON, and one line for people)."""
    counts = dataclasses.asdict(report)
    return {
        "variant_read_report": json.dumps(counts, sort_keys=True),
        "variant_read_summary": report.summary(),
    }


def scan_variants(
    model: Any,
    genome: str | os.PathLike,
    vcf: str | os.PathLike,
    *,
    output: str | os.PathLike,
    window: int | None = None,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
    p_value_threshold: float = DEFAULT_P_VALUE_THRESHOLD,
    on_ref_mismatch: Literal["error", "skip"] = "error",
    max_motif_targets: int = DEFAULT_MAX_MOTIF_TARGETS,
    max_cis_variants: int = DEFAULT_MAX_CIS_VARIANTS,
    settings: Settings | None = None,
    chunk_size: int = DEFAULT_VARIANT_CHUNK,
    batch_size: int = DEFAULT_BATCH_SIZE,
    tasks: list[int | str] | None = None,
    output_layer: str = "logit",
    safe_mode: bool = True,
    custom_objects: str | os.PathLike | None = None,
    workers: int | str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
    config: dict[str, Any] | None = None,
    storage_options: dict[str, Any] | None = None,
    **options: Any,
) -> str:
    """DFIM of every SNV of a VCF against the motifs and variants around it -> Zarr store.

    Every input is checked (model, window, motifs, each VCF record against the genome)
    before the store is created; errors are :class:`dfimx.errors.InputError`.

    Parameters
    ----------
    model
        Path to a Keras model (or a Keras model / :class:`dfimx.models.ModelSpec`).
    genome
        Genome FASTA (indexed with pyfaidx on first use).
    vcf
        VCF, plain or bgzipped. SNV alleles are scanned (one ``seq`` per ALT); indels,
        MNVs and symbolic alleles are skipped and counted (see
        :func:`dfimx.io.vcf.read_variant_table`).
    output
        Zarr store to write.
    window
        Window length; default the model's input length (they must agree).
    motifs
        MEME file or ``{name: pwm}`` whose hits in the reference window are targets; None:
        the targets are the other variants in the window only.
    p_value_threshold
        Motif hit threshold (exact p-values, strict).
    on_ref_mismatch
        ``"error"`` (default) stops at the first REF that disagrees with the genome;
        ``"skip"`` drops such alleles and counts them (``variant_read_report`` attr).
    max_motif_targets, max_cis_variants
        Target slots per window (see :func:`dfimx.plans.variants.plan_variant_targets`).
    settings
        :class:`dfimx.settings.Settings`; default
        ``Settings(null_level="distance", method="deepshap")``.
        ``null_keep_sources`` is always set (the null keeps the variant base in place).
    chunk_size, batch_size
        Variants per Dask task; model batch size inside a task.
    tasks, output_layer, safe_mode
        Model output selection and loading (as in :func:`dfimx.run.run_dfim`).
    workers, scheduler
        Start a loopback ``LocalCluster`` with ``workers`` processes, or connect to a
        scheduler; with neither the active Dask scheduler is used.
    resume, overwrite, progress, command, config, storage_options
        As in :func:`dfimx.run.run_dfim` (the genome, VCF, motifs and model are hashed
        at the start and checked again before the store is marked complete).
    **options
        Overrides of :class:`dfimx.settings.Settings` fields (``method``, ``null``,
        ``null_draws``, ``pvalue``, ``null_level``, ``seed``, ...).

    Returns
    -------
    str
        The store path.

    Raises
    ------
    InputError
        On a bad input (REF mismatch, unknown contig, malformed VCF line, window that the
        model does not take, ...), before anything is written.

    Examples
    --------
    >>> import tempfile
    >>> from dfimx.simulate import random_cnn, simulate_variant_genome
        >>> d = tempfile.mkdtemp()
    >>> sim = simulate_variant_genome(d, contig_length=20_000, window=200, n_pairs=3,
    ...                               n_lone_motifs=0, n_decoy_motifs=1,
    ...                               n_random_variants=2, bgzip=False)
    >>> store = scan_variants(random_cnn(200), sim.genome, sim.vcf, motifs=sim.motifs,
    ...                       output=d + "/scan.zarr", null_draws=2, progress=False)
    >>> ds = open_result(store)
    >>> ds.sizes["seq"], ds.attrs["null_level"], ds.attrs["plan"]
    (6, 'distance', 'variants')
    >>> sorted(ds["variant_chrom"].values.tolist())[0]
    'chr1'
    """
    base = settings if settings is not None else Settings(**VARIANT_DEFAULTS)
    settings = with_plan_defaults(dataclasses.replace(base, null_keep_sources=True, **options),
                                  "variants")
    if on_ref_mismatch not in ("error", "skip"):
        raise InputError(f"on_ref_mismatch: choose 'error' or 'skip', not {on_ref_mismatch!r}",
                         option="on_ref_mismatch")
    if not 0.0 < float(p_value_threshold) <= 1.0:
        raise InputError(f"p_value_threshold must lie in (0, 1], got {p_value_threshold}",
                         option="p_value_threshold")
    spec = model_spec_for(model, output_layer=output_layer, tasks=tasks, safe_mode=safe_mode,
                          custom_objects=custom_objects)
    inputs = {"model": spec.path, "genome": os.fspath(genome), "vcf": os.fspath(vcf)}
    if isinstance(motifs, (str, os.PathLike)):
        inputs["motifs"] = os.fspath(motifs)
    started = provenance(command, inputs)  # hashed before anything is read
    scorer = spec.load()
    if window is None:
        if scorer.input_length is None:
            raise InputError(f"{spec.path}: the model takes any length; give a window length",
                             option="window")
        window = int(scorer.input_length)
    window = int(window)
    if window < 1:
        raise InputError(f"window must be a positive length, got {window}", option="window")
    if scorer.input_length is not None and scorer.input_length != window:
        raise InputError(f"window {window}: the model {spec.path} expects sequences of "
                         f"length {scorer.input_length}", option="window")
    motif_set = None
    if motifs is not None:
        motif_set = load_motifs(motifs)
        if not motif_set:
            raise InputError(f"{motifs}: no motifs found")
    table, report = read_variant_table(vcf, genome, on_ref_mismatch=on_ref_mismatch)
    if len(table) == 0:
        raise InputError(f"{vcf}: no SNV to scan ({report.summary()})")
    ds = variant_scan_dataset(
        table, genome, window, motifs=motif_set, p_value_threshold=p_value_threshold,
        max_motif_targets=max_motif_targets, max_cis_variants=max_cis_variants,
        chunk_size=chunk_size,
    )
    workers = local_workers(workers, attribution_work(ds, settings))
    result = compute_dfim(ds, spec, settings=settings, batch_size=batch_size)
    result["interaction_profile"] = result["interaction_profile"].where(result["window_valid"])
    result.attrs.update(started)
    result.attrs.update(_report_attrs(report))
    result.attrs.update({"mutation_mode": "variant", "on_ref_mismatch": on_ref_mismatch})
    if config:
        result.attrs["config"] = json.dumps(config, sort_keys=True, default=str)
    return execute(result, output, spec=spec, settings=settings, workers=workers,
                   scheduler=scheduler, resume=resume, overwrite=overwrite, progress=progress,
                   storage_options=storage_options)


__all__ = [
    "CHUNK_BUDGET", "DEFAULT_VARIANT_METHOD", "PROCESS_MIN_CORES", "PROCESS_MIN_WORK",
    "attribution_work", "auto_chunk_size", "check_inputs", "execute", "local_workers",
    "provenance", "rechunk_seq", "run_dfim", "scan_variants", "statistics_pass",
    "with_plan_null",
]
