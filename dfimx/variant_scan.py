"""Variant interaction scans: a VCF, a genome and a model -> a DFIM store (``scan-variants``).

Each SNV allele of the VCF is one ``seq``: the window of the genome centred on it (read
lazily on the Dask workers, see :func:`dfimx.variants.variant_windows_dataset`). Its one
source is the variant itself, a single-base substitution to the ALT allele at window index
``window // 2``. Its targets (``response``) are

* the motif instances found by scanning the *reference* window with the PWMs of
  ``motifs`` (hits overlapping the variant are not targets: that motif is what the variant
  breaks), at most ``max_motif_targets`` per window, the most significant kept; the scan
  runs on the workers, once per chunk, in the same task graph as the DFIM pass;
* the other variant sites of the VCF inside the window (variant x variant in cis), at most
  ``max_cis_variants``, the nearest kept.

Window positions off a contig end are N (all-zero one-hot rows): no target lies there
(motif windows overlapping an N are never hits, and every variant site is on its contig),
and ``interaction_profile`` is NaN there.

The null keeps the variant base in place and shuffles the flanks on each side
(``Settings(null_keep_sources=True)``); p-values pool the null scores by distance between
the variant and the target (``null_level="distance"``) and BH q-values run over the whole
scan.

Examples
--------
>>> from dfimx.variant_scan import scan_variants                      # doctest: +SKIP
>>> scan_variants("model.keras", "genome.fa", "variants.vcf.gz", window=1000,
...               motifs="motifs.meme", output="scan.zarr")          # doctest: +SKIP
'scan.zarr'
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from dfimx.errors import InputError
from dfimx.motif_scan import DEFAULT_BACKGROUND, motif_targets, variants_in_windows
from dfimx.pipeline import Settings, compute_dfim, model_spec_for, provenance
from dfimx.variables import string_array
from dfimx.variants import read_variant_table, variant_windows_dataset, window_center

__all__ = [
    "DEFAULT_MAX_CIS_VARIANTS",
    "DEFAULT_MAX_MOTIF_TARGETS",
    "TARGET_KINDS",
    "plan_variant_targets",
    "scan_variants",
    "variant_scan_dataset",
]

#: Default largest number of motif targets per window.
DEFAULT_MAX_MOTIF_TARGETS = 16
#: Default largest number of other variant sites (in cis) per window.
DEFAULT_MAX_CIS_VARIANTS = 16
#: Values of ``target_kind``: a motif hit, or another variant site of the VCF.
TARGET_KINDS = ("motif", "variant")

_STR = np.dtypes.StringDType()
_RESPONSE_VARS = ("response_start", "response_end", "response_name", "response_mask",
                  "target_kind")


#: A single-base source moves a piecewise-linear model too little for local methods
#: (gradient x input, DeepLIFT with one reference): on the simulated genome DeepSHAP found
#: 95% of motif-breaking variants' partners against 63% for DeepLIFT (see the README).
DEFAULT_VARIANT_METHOD = "deepshap"

def _strings(values: np.ndarray) -> np.ndarray:
    """Variable-length strings that xarray writes to Zarr without loading the Dask array."""
    return np.asarray(values, dtype=object).astype(str).astype(_STR)


def _targets_block(
    onehot: np.ndarray | None,
    valid: np.ndarray,
    cis_start: np.ndarray,
    cis_end: np.ndarray,
    cis_name: np.ndarray,
    cis_mask: np.ndarray,
    *,
    motifs: Mapping[str, np.ndarray] | None,
    p_value_threshold: float,
    background: Sequence[float] | str,
    max_motif_targets: int,
    center: int,
) -> dict[str, np.ndarray]:
    """Targets of one chunk of windows: motif hits of the reference window, then cis sites."""
    n = valid.shape[0]
    starts, ends, names, masks, kinds = [], [], [], [], []
    found = np.zeros(n, np.int64)
    if motifs is not None and onehot is not None:
        hits = motif_targets(onehot, motifs, p_value_threshold, exclude_positions=center,
                             max_responses=max_motif_targets, background=background)
        starts.append(hits.start)
        ends.append(hits.end)
        names.append(hits.name)
        masks.append(hits.mask)
        kinds.append(np.where(hits.mask, TARGET_KINDS[0], ""))
        found = hits.n_found
    starts.append(np.asarray(cis_start, np.int64))
    ends.append(np.asarray(cis_end, np.int64))
    names.append(np.asarray(cis_name, object))
    masks.append(np.asarray(cis_mask, bool))
    kinds.append(np.where(cis_mask, TARGET_KINDS[1], ""))
    start = np.concatenate(starts, axis=1)
    end = np.concatenate(ends, axis=1)
    mask = np.concatenate(masks, axis=1)
    # no target may cover a position off the contig (those are N, not sequence)
    length = valid.shape[1]
    pos = np.arange(length)
    inside = (pos >= start[..., None]) & (pos < end[..., None])
    mask &= ~(inside & ~valid[:, None, :]).any(axis=-1) & (start >= 0) & (end <= length)
    name = np.where(mask, np.concatenate(names, axis=1), "")
    kind = np.where(mask, np.concatenate(kinds, axis=1), "")
    return {
        "response_start": np.where(mask, start, 0),
        "response_end": np.where(mask, end, 0),
        "response_name": _strings(name),
        "response_mask": mask,
        "target_kind": _strings(kind),
        "motif_targets_found": found.astype(np.int64),
    }


def plan_variant_targets(
    ds: xr.Dataset,
    table: pd.DataFrame,
    *,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
    p_value_threshold: float = 1e-4,
    max_motif_targets: int = DEFAULT_MAX_MOTIF_TARGETS,
    max_cis_variants: int = DEFAULT_MAX_CIS_VARIANTS,
    background: Sequence[float] | str = DEFAULT_BACKGROUND,
) -> xr.Dataset:
    """Add the targets of a variant scan to a variant-window dataset (lazily).

    Parameters
    ----------
    ds
        Dataset from :func:`dfimx.variants.variant_windows_dataset` built from ``table``.
    table
        The variant table (rows aligned with ``ds.seq``): the other variant sites in each
        window are targets.
    motifs
        Motif name -> ``(width, 4)`` PWM, or a MEME file; None: no motif targets.
    p_value_threshold
        Motif hits have a p-value strictly below this (see
        :func:`dfimx.motif_scan.scan_motifs`).
    max_motif_targets
        Motif targets per window (the most significant kept); ``motif_targets_found``
        counts the hits before truncation.
    max_cis_variants
        Variant sites per window (the nearest kept); ``cis_variants_found`` counts them all.
    background
        Background of the motif log-odds and p-values.

    Returns
    -------
    xarray.Dataset
        ``ds`` plus ``response_start``, ``response_end``, ``response_name``,
        ``response_mask``, ``target_kind`` (``motif``/``variant``/``""``) on
        (seq, response): the ``max_motif_targets`` motif slots first (when ``motifs`` is
        given), then the cis sites; ``target_chrom`` (seq), ``target_start``,
        ``target_end`` (seq, response; 0-based half-open genome coordinates, -1 on
        padding); ``motif_targets_found`` and ``cis_variants_found`` (seq). The motif
        variables are Dask arrays: one task per chunk scans its windows once, and the DFIM
        pass of the chunk reads the same task's result.

    Examples
    --------
    >>> import tempfile
    >>> from dfimx.genome_sim import simulate_variant_genome
    >>> from dfimx.variants import read_variant_table, variant_windows_dataset
    >>> sim = simulate_variant_genome(tempfile.mkdtemp(), contig_length=20_000, window=200,
    ...                               n_pairs=4, n_lone_motifs=0, n_decoy_motifs=0,
    ...                               n_random_variants=0, bgzip=False)
    >>> table, _ = read_variant_table(sim.vcf, sim.genome)
    >>> ds = variant_windows_dataset(table, sim.genome, 200, chunk_size=2)
    >>> ds = plan_variant_targets(ds, table, motifs=sim.motifs, max_motif_targets=4)
    >>> ds.sizes["response"], ds["response_name"].chunks[0]
    (5, (2, 2))
    >>> row = ds.isel(seq=0).compute()
    >>> partner = sim.truth["partner_motif"].iloc[0]
    >>> partner in row["response_name"].values.tolist()
    True
    """
    n = ds.sizes["seq"]
    if len(table) != n:
        raise ValueError(f"the table has {len(table)} rows but the dataset {n} sequences")
    max_motif_targets = int(max_motif_targets)
    max_cis_variants = int(max_cis_variants)
    if max_motif_targets < 1 or max_cis_variants < 0:
        raise InputError("--max-motif-targets must be at least 1 and --max-cis-variants "
                         "at least 0")
    if motifs is not None and not isinstance(motifs, Mapping):
        from dfimx.motifs import load_motifs

        motifs = load_motifs(motifs)
    window = int(ds.sizes["position"])
    center = window_center(window)
    chunks = ds["seq_onehot"].chunks[0] if ds["seq_onehot"].chunks else (n,)

    if max_cis_variants > 0:
        cis = variants_in_windows(table, window, max_responses=max_cis_variants)
        cis_found = cis.n_found
        width = max(1, int(cis.mask.sum(axis=1).max()) if n else 1)
        cis_arrays = [cis.start[:, :width], cis.end[:, :width], cis.name[:, :width],
                      cis.mask[:, :width]]
    else:
        cis_found = np.zeros(n, np.int64)
        width = 0
        cis_arrays = [np.zeros((n, 0), np.int64), np.zeros((n, 0), np.int64),
                      np.zeros((n, 0), object), np.zeros((n, 0), bool)]
    if motifs is None and width == 0:
        width = 1
        cis_arrays = [np.zeros((n, 1), np.int64), np.zeros((n, 1), np.int64),
                      np.full((n, 1), "", object), np.zeros((n, 1), bool)]
    n_resp = (max_motif_targets if motifs is not None else 0) + width

    def blocks(arr: Any) -> list[Any]:
        if isinstance(arr, xr.DataArray):
            arr = arr.data
        if not isinstance(arr, da.Array):
            arr = da.from_array(arr, chunks=(chunks,) + arr.shape[1:])
        return list(arr.rechunk((chunks,) + arr.shape[1:]).to_delayed().ravel())

    # without motifs the windows themselves are not needed to place the targets
    onehot_blocks = blocks(ds["seq_onehot"]) if motifs is not None else [None] * len(chunks)
    inputs = [onehot_blocks, blocks(ds["window_valid"])]
    inputs += [blocks(a) for a in cis_arrays]
    motifs_d = dask.delayed(dict(motifs), pure=True) if motifs is not None else None
    options = dict(motifs=motifs_d, p_value_threshold=float(p_value_threshold),
                   background=background, max_motif_targets=max_motif_targets, center=center)
    token = dask.base.tokenize(ds["seq_onehot"].data.name, [b.key for b in inputs[2]],
                               {k: v for k, v in options.items() if k != "motifs"},
                               motifs_d.key if motifs_d is not None else None)
    dtypes = {"response_start": np.int64, "response_end": np.int64, "response_name": _STR,
              "response_mask": bool, "target_kind": _STR, "motif_targets_found": np.int64}
    parts: dict[str, list[da.Array]] = {k: [] for k in dtypes}
    for i, size in enumerate(chunks):
        res = dask.delayed(_targets_block, pure=True)(
            *[b[i] for b in inputs], **options,
            dask_key_name=f"dfimx-variant-targets-{token}-{i}",
        )
        for name, dtype in dtypes.items():
            shape = (size,) if name == "motif_targets_found" else (size, n_resp)
            parts[name].append(da.from_delayed(res[name], shape=shape, dtype=dtype,
                                               meta=np.empty((0,) * len(shape), dtype)))
    out = ds.copy()
    for name in _RESPONSE_VARS:
        out[name] = (("seq", "response"), da.concatenate(parts[name], axis=0))
    out["motif_targets_found"] = ("seq", da.concatenate(parts["motif_targets_found"]))
    out["cis_variants_found"] = ("seq", da.from_array(cis_found.astype(np.int64),
                                                      chunks=(chunks,)))
    start0 = out["window_start"]
    out["target_chrom"] = ("seq", string_array(out["variant_chrom"].values))
    out["target_start"] = (start0 + out["response_start"]).where(out["response_mask"], -1)
    out["target_end"] = (start0 + out["response_end"]).where(out["response_mask"], -1)
    docs = {
        "response_name": "motif name, or the variant_id of the other variant site",
        "target_kind": "motif (PWM hit in the reference window) or variant (site in cis)",
        "target_chrom": "contig of the targets (the variant's)",
        "target_start": "0-based genome start of the target (window_start + response_start)",
        "target_end": "0-based exclusive genome end of the target (window_start + response_end)",
        "motif_targets_found": "motif hits in the window before truncation to the slots",
        "cis_variants_found": "other variant sites in the window before truncation",
    }
    for name, doc in docs.items():
        out[name].attrs["doc"] = doc
    plan = {
        "window": window,
        "window_center": center,
        "motifs": sorted(motifs) if motifs is not None else [],
        "p_value_threshold": float(p_value_threshold),
        "max_motif_targets": max_motif_targets if motifs is not None else 0,
        "max_cis_variants": max_cis_variants,
        "background": background if isinstance(background, str) else list(background),
    }
    out.attrs.update({"plan": "variants", "variant_plan": json.dumps(plan, sort_keys=True)})
    return out


def variant_scan_dataset(
    table: pd.DataFrame,
    genome: str | os.PathLike,
    window: int,
    *,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
    p_value_threshold: float = 1e-4,
    max_motif_targets: int = DEFAULT_MAX_MOTIF_TARGETS,
    max_cis_variants: int = DEFAULT_MAX_CIS_VARIANTS,
    chunk_size: int = 64,
) -> xr.Dataset:
    """The lazy, planned dataset of a variant scan (windows, source, targets).

    :func:`dfimx.variants.variant_windows_dataset` followed by
    :func:`plan_variant_targets`; nothing is read from the genome or scanned here.

    Examples
    --------
    >>> import tempfile
    >>> from dfimx.genome_sim import simulate_variant_genome
    >>> from dfimx.variants import read_variant_table
    >>> sim = simulate_variant_genome(tempfile.mkdtemp(), contig_length=20_000, window=200,
    ...                               n_pairs=2, n_lone_motifs=0, n_decoy_motifs=0,
    ...                               n_random_variants=1, bgzip=False)
    >>> table, _ = read_variant_table(sim.vcf, sim.genome)
    >>> ds = variant_scan_dataset(table, sim.genome, 200, chunk_size=2)
    >>> ds["target_kind"].dims, ds.attrs["plan"]
    (('seq', 'response'), 'variants')
    """
    window = int(window)
    if window < 1:
        raise InputError(f"--window must be a positive length, got {window}")
    if int(chunk_size) < 1:
        raise InputError(f"--chunk-size must be positive, got {chunk_size}")
    ds = variant_windows_dataset(table, genome, window, chunk_size=chunk_size)
    return plan_variant_targets(
        ds, table, motifs=motifs, p_value_threshold=p_value_threshold,
        max_motif_targets=max_motif_targets, max_cis_variants=max_cis_variants,
    )


def _report_attrs(report: Any) -> dict[str, Any]:
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
    p_value_threshold: float = 1e-4,
    on_ref_mismatch: Literal["error", "skip"] = "error",
    max_motif_targets: int = DEFAULT_MAX_MOTIF_TARGETS,
    max_cis_variants: int = DEFAULT_MAX_CIS_VARIANTS,
    settings: Settings | None = None,
    chunk_size: int = 64,
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
        :func:`dfimx.variants.read_variant_table`).
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
        Target slots per window (see :func:`plan_variant_targets`).
    settings
        :class:`dfimx.pipeline.Settings`; default
        ``Settings(null_level="distance", method="deepshap")``.
        ``null_keep_sources`` is always set (the null keeps the variant base in place).
    chunk_size, batch_size
        Variants per Dask task; model batch size inside a task.
    tasks, output_layer, safe_mode
        Model output selection and loading (as in :func:`dfimx.api.run_dfim`).
    workers, scheduler
        Start a loopback ``LocalCluster`` with ``workers`` processes, or connect to a
        scheduler; with neither the active Dask scheduler is used.
    resume, progress, command, config, storage_options
        As in :func:`dfimx.api.run_dfim`.
    **options
        Overrides of :class:`dfimx.pipeline.Settings` fields (``method``, ``null``,
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
    >>> from dfimx.genome_sim import simulate_variant_genome
    >>> from dfimx.simulate import random_cnn
    >>> from dfimx.store import open_result
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
    base = settings if settings is not None else Settings(
        null_level="distance", method=DEFAULT_VARIANT_METHOD)
    settings = dataclasses.replace(base, null_keep_sources=True, **options).validate()
    if on_ref_mismatch not in ("error", "skip"):
        raise InputError(f"--on-ref-mismatch: choose 'error' or 'skip', not {on_ref_mismatch!r}")
    if not 0.0 < float(p_value_threshold) <= 1.0:
        raise InputError(f"--p-value-threshold must lie in (0, 1], got {p_value_threshold}")
    spec = model_spec_for(model, output_layer=output_layer, tasks=tasks, safe_mode=safe_mode)
    scorer = spec.load()
    if window is None:
        if scorer.input_length is None:
            raise InputError(f"{spec.path}: the model takes any length; give --window")
        window = int(scorer.input_length)
    window = int(window)
    if window < 1:
        raise InputError(f"--window must be a positive length, got {window}")
    if scorer.input_length is not None and scorer.input_length != window:
        raise InputError(f"--window {window}: the model {spec.path} expects sequences of "
                         f"length {scorer.input_length}")
    motif_set = None
    if motifs is not None:
        from dfimx.motifs import load_motifs

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
    result = compute_dfim(ds, spec, settings=settings, batch_size=batch_size)
    result["interaction_profile"] = result["interaction_profile"].where(result["window_valid"])
    inputs = {"model": spec.path, "genome": os.fspath(genome), "vcf": os.fspath(vcf)}
    if isinstance(motifs, (str, os.PathLike)):
        inputs["motifs"] = os.fspath(motifs)
    result.attrs.update(provenance(command, inputs))
    result.attrs.update(_report_attrs(report))
    result.attrs.update({"mutation_mode": "variant", "on_ref_mismatch": on_ref_mismatch})
    if config:
        result.attrs["config"] = json.dumps(config, sort_keys=True, default=str)
    from dfimx.api import execute

    return execute(result, output, spec=spec, settings=settings, workers=workers,
                   scheduler=scheduler, resume=resume, progress=progress,
                   storage_options=storage_options)
