"""Variant-scan plans: the targets of each variant window (motif hits, variants in cis).

Each SNV allele is one ``seq``: the genome window centred on it
(:func:`dfimx.windows.variant_windows_dataset`), whose one source is the variant itself.
Its targets (``response``) are

* the motif instances found by scanning the *reference* window with the PWMs of
  ``motifs`` (hits overlapping the variant are not targets: that motif is what the variant
  breaks), at most ``max_motif_targets`` per window, the most significant kept; the scan
  runs on the workers, once per chunk, in the same task graph as the DFIM pass
  (:func:`motif_targets`);
* the other variant sites of the VCF inside the window (variant x variant in cis), at most
  ``max_cis_variants``, the nearest kept (:func:`variants_in_windows`).

Window positions off a contig end are N (all-zero one-hot rows): no target lies there.

Examples
--------
>>> from dfimx.testing import example_variants
>>> sim, table = example_variants(n_pairs=2)
>>> ds = variant_scan_dataset(table, sim.genome, 200, motifs=sim.motifs, chunk_size=2)
>>> ds.attrs["plan"], "motif" in ds["target_kind"].values.ravel().tolist()
('variants', True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from dfimx.errors import InputError
from dfimx.io.meme import load_motifs
from dfimx.motifs.pwm import DEFAULT_BACKGROUND
from dfimx.motifs.scan import scan_motifs
from dfimx.settings import DEFAULT_MAX_CIS_VARIANTS, DEFAULT_MAX_MOTIF_TARGETS
from dfimx.variables import create_variable, string_array, validate, variable_strings
from dfimx.windows import variant_windows_dataset, window_center

__all__ = [
    "DEFAULT_MAX_CIS_VARIANTS",
    "DEFAULT_MAX_MOTIF_TARGETS",
    "TARGET_KINDS",
    "Responses",
    "motif_targets",
    "plan_variant_targets",
    "variant_scan_dataset",
    "variants_in_windows",
]

#: Values of ``target_kind``: a motif hit, or another variant site of the VCF.
TARGET_KINDS = ("motif", "variant")

_RESPONSE_VARS = ("response_start", "response_end", "response_name", "response_mask",
                  "target_kind")
#: Variables of the window dataset that :func:`plan_variant_targets` reads.
_WINDOW_VARS = ("seq_onehot", "window_valid", "window_start", "variant_chrom")


@dataclass(frozen=True)
class Responses:
    """Padded target elements of a chunk of sequences, dims ``(seq, response)``.

    Attributes
    ----------
    start, end
        ``(n, R)`` int64, 0-based half-open window coordinates (0 on padding).
    name
        ``(n, R)`` object strings (``""`` on padding).
    mask
        ``(n, R)`` bool, True where a real target exists.
    n_found
        ``(n,)`` int64, targets found before truncation to ``R`` (more than ``mask.sum(1)``
        where ``max_responses`` cut some).
    """

    start: np.ndarray
    end: np.ndarray
    name: np.ndarray
    mask: np.ndarray
    n_found: np.ndarray

    def variables(self) -> dict[str, tuple[tuple[str, str], np.ndarray]]:
        """The data contract variables ``response_start``, ``_end``, ``_name``, ``_mask``.

        Examples
        --------
        >>> r = Responses(np.zeros((1, 1), np.int64), np.ones((1, 1), np.int64),
        ...               np.array([["a"]], object), np.ones((1, 1), bool), np.ones(1, np.int64))
        >>> sorted(r.variables())
        ['response_end', 'response_mask', 'response_name', 'response_start']
        """
        dims = ("seq", "response")
        return {
            "response_start": (dims, self.start),
            "response_end": (dims, self.end),
            "response_name": (dims, self.name),
            "response_mask": (dims, self.mask),
        }


def _ranks(rows: np.ndarray, n: int) -> np.ndarray:
    """Rank of each element within its row, for ``rows`` sorted ascending."""
    counts = np.bincount(rows, minlength=n)
    return np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]


def _pad(
    n: int,
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    names: np.ndarray,
    priority: np.ndarray,
    max_responses: int | None,
) -> Responses:
    """Pad per-row targets to ``(n, R)``; keep the ``R`` of lowest priority value per row."""
    rows = np.asarray(rows, dtype=np.int64)
    found = np.bincount(rows, minlength=n).astype(np.int64)
    if max_responses is not None:
        width = int(max_responses)
    else:
        width = int(found.max()) if n and len(rows) else 0
    width = max(width, 1)
    order = np.lexsort((priority, rows))
    rows, starts, ends, names = rows[order], starts[order], ends[order], names[order]
    kept = _ranks(rows, n) < width
    rows, starts, ends, names = rows[kept], starts[kept], ends[kept], names[kept]
    order = np.lexsort((names.astype(str), starts, rows))
    rows, starts, ends, names = rows[order], starts[order], ends[order], names[order]
    rank = _ranks(rows, n)
    out_start = np.zeros((n, width), np.int64)
    out_end = np.zeros((n, width), np.int64)
    out_name = np.full((n, width), "", dtype=object)
    out_mask = np.zeros((n, width), bool)
    out_start[rows, rank] = starts
    out_end[rows, rank] = ends
    out_name[rows, rank] = names
    out_mask[rows, rank] = True
    return Responses(out_start, out_end, out_name, out_mask, found)


def motif_targets(
    onehot_chunk: np.ndarray,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike,
    threshold: float = 1e-4,
    *,
    exclude_positions: int | np.ndarray | Sequence[Any] | None = None,
    max_responses: int | None = None,
    background: Sequence[float] | str = DEFAULT_BACKGROUND,
    both_strands: bool = True,
) -> Responses:
    """Motif hits of a chunk of windows as padded DFIM target arrays.

    Hits of the same motif at the same start on both strands count once (the more
    significant strand). Hits that overlap an excluded position (e.g. the variant at
    ``window // 2``, whose own motif is the source, not a target) are dropped.

    Parameters
    ----------
    onehot_chunk
        ``(n, L, 4)`` one-hot windows of one chunk.
    motifs
        Motif name -> ``(width, 4)`` PWM, or a MEME file path.
    threshold
        p-value threshold of :func:`scan_motifs`.
    exclude_positions
        A window position for all rows (int), one per row (``(n,)``), or several per row
        (``(n, k)``, negative values ignored).
    max_responses
        Width ``R`` of the output. None: the largest count in this chunk (at least 1). Give
        a fixed value when chunks must agree on ``R`` (Dask); rows with more hits keep the
        ``R`` most significant ones.
    background, both_strands
        As in :func:`scan_motifs`.

    Returns
    -------
    Responses
        ``(n, R)`` ``start``, ``end``, ``name``, ``mask`` (sorted by start within a row) and
        ``n_found``.

    Examples
    --------
    >>> from dfimx.alphabet import codes_to_onehot
    >>> pwm = np.eye(4)[[0, 2, 0, 3, 0, 0, 2, 0]] * 0.9 + 0.025     # AGATAAGA
    >>> x = np.zeros((2, 30), np.int8) + 1
    >>> x[:, 5:13] = [0, 2, 0, 3, 0, 0, 2, 0]
    >>> r = motif_targets(codes_to_onehot(x), {"GATA": pwm}, exclude_positions=[15, 8])
    >>> r.start.tolist(), r.mask.tolist()
    ([[5], [0]], [[True], [False]])
    """
    onehot_chunk = np.asarray(onehot_chunk)
    n = onehot_chunk.shape[0]
    hits = scan_motifs(
        onehot_chunk,
        motifs,
        p_value_threshold=threshold,
        background=background,
        both_strands=both_strands,
    )
    if len(hits):
        hits = hits.sort_values("p_value", kind="stable").drop_duplicates(
            ["seq_index", "name", "start"]
        )
    if exclude_positions is not None and len(hits):
        excl = np.asarray(exclude_positions, dtype=np.int64)
        if excl.ndim == 0:
            excl = np.full((n, 1), int(excl))
        elif excl.ndim == 1:
            excl = excl[:, None]
        if excl.shape[0] != n:
            raise ValueError("exclude_positions must have one row per window")
        rows = hits["seq_index"].to_numpy()
        per_row = excl[rows]
        s = hits["start"].to_numpy()[:, None]
        e = hits["end"].to_numpy()[:, None]
        overlaps = ((per_row >= s) & (per_row < e) & (per_row >= 0)).any(axis=1)
        hits = hits[~overlaps]
    return _pad(
        n,
        hits["seq_index"].to_numpy(np.int64),
        hits["start"].to_numpy(np.int64),
        hits["end"].to_numpy(np.int64),
        hits["name"].to_numpy(object),
        hits["p_value"].to_numpy(np.float64),
        max_responses,
    )


def variants_in_windows(
    table: pd.DataFrame,
    window: int,
    *,
    max_responses: int | None = None,
) -> Responses:
    """For each variant, the other variant sites of the table inside its window (in cis).

    Each site is a one-base target ``[p, p + 1)`` in the window coordinates of
    :func:`dfimx.windows.extract_windows` (the variant itself at ``window // 2``). Sites
    are positions: the alleles of a multi-allelic site, and the variant's own position,
    give one target, named by the ``variant_id`` of its rows (joined with ``,`` when they
    differ).

    Parameters
    ----------
    table
        Variant table (columns ``variant_chrom``, ``variant_pos``, ``variant_id``).
    window
        Window length.
    max_responses
        Width ``R`` of the output; None gives the largest count. Rows with more sites keep
        the ``R`` nearest ones.

    Returns
    -------
    Responses
        ``(n, R)`` arrays aligned with the rows of ``table``.

    Examples
    --------
    >>> t = pd.DataFrame({"variant_chrom": ["c1", "c1", "c1", "c2"],
    ...                   "variant_pos": [100, 103, 103, 101],
    ...                   "variant_id": ["a", "b", "b", "c"]})
    >>> r = variants_in_windows(t, 10)
    >>> r.start.tolist(), r.name.tolist(), r.mask.tolist()
    ([[8], [2], [2], [0]], [['b'], ['a'], ['a'], ['']], [[True], [True], [True], [False]])
    """
    window = int(window)
    center = window // 2
    n = len(table)
    chroms = table["variant_chrom"].astype(str).to_numpy()
    pos = table["variant_pos"].to_numpy(np.int64)
    ids = table["variant_id"].astype(str).to_numpy()
    sites = (
        pd.DataFrame({"chrom": chroms, "pos": pos, "id": ids})
        .drop_duplicates()
        .groupby(["chrom", "pos"], sort=True)["id"]
        .agg(lambda s: ",".join(dict.fromkeys(s)))
        .reset_index()
    )
    all_rows, all_starts, all_names, all_dist = [], [], [], []
    for chrom, group in sites.groupby("chrom", sort=False):
        site_pos = group["pos"].to_numpy(np.int64)
        site_name = group["id"].to_numpy(object)
        rows = np.flatnonzero(chroms == chrom)
        first = pos[rows] - center  # 1-based position at window index 0
        lo = np.searchsorted(site_pos, first, side="left")
        hi = np.searchsorted(site_pos, first + window, side="left")
        counts = hi - lo
        rep = np.repeat(rows, counts)
        j = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        other = site_pos[j]
        own = other == pos[rep]
        rep, j, other = rep[~own], j[~own], other[~own]
        all_rows.append(rep)
        all_starts.append(other - (pos[rep] - center))
        all_names.append(site_name[j])
        all_dist.append(np.abs(other - pos[rep]))
    if all_rows:
        rows = np.concatenate(all_rows)
        starts = np.concatenate(all_starts)
        names = np.concatenate(all_names)
        dist = np.concatenate(all_dist)
    else:
        rows = starts = dist = np.zeros(0, np.int64)
        names = np.zeros(0, object)
    return _pad(n, rows, starts, starts + 1, names, dist.astype(np.float64), max_responses)


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
        "response_name": variable_strings(name),
        "response_mask": mask,
        "target_kind": variable_strings(kind),
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
        Dataset from :func:`dfimx.windows.variant_windows_dataset` built from ``table``.
    table
        The variant table (rows aligned with ``ds.seq``): the other variant sites in each
        window are targets.
    motifs
        Motif name -> ``(width, 4)`` PWM, or a MEME file; None: no motif targets.
    p_value_threshold
        Motif hits have a p-value strictly below this (see
        :func:`dfimx.motifs.scan.scan_motifs`).
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
    >>> from dfimx.testing import example_variants
    >>> from dfimx.windows import variant_windows_dataset
    >>> sim, table = example_variants(n_pairs=4, n_random_variants=0)
    >>> ds = variant_windows_dataset(table, sim.genome, 200, chunk_size=2)
    >>> ds = plan_variant_targets(ds, table, motifs=sim.motifs, max_motif_targets=4)
    >>> ds.sizes["response"], ds["response_name"].chunks[0]
    (5, (2, 2))
    >>> row = ds.isel(seq=0).compute()
    >>> partner = sim.truth["partner_motif"].iloc[0]
    >>> partner in row["response_name"].values.tolist()
    True
    """
    validate(ds, _WINDOW_VARS, source="a variant window dataset (dfimx.windows)")
    n = ds.sizes["seq"]
    if len(table) != n:
        raise ValueError(f"the table has {len(table)} rows but the dataset {n} sequences")
    max_motif_targets = int(max_motif_targets)
    max_cis_variants = int(max_cis_variants)
    if max_motif_targets < 1 or max_cis_variants < 0:
        raise InputError(
            "max_motif_targets must be at least 1 and max_cis_variants at least 0",
            option="max_motif_targets" if max_motif_targets < 1 else "max_cis_variants",
        )
    if motifs is not None and not isinstance(motifs, Mapping):
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
    strings = np.dtypes.StringDType()
    dtypes = {"response_start": np.int64, "response_end": np.int64, "response_name": strings,
              "response_mask": bool, "target_kind": strings, "motif_targets_found": np.int64}
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
        out[name] = create_variable(name, da.concatenate(parts[name], axis=0))
    out["motif_targets_found"] = create_variable(
        "motif_targets_found", da.concatenate(parts["motif_targets_found"]))
    out["cis_variants_found"] = create_variable(
        "cis_variants_found", da.from_array(cis_found.astype(np.int64), chunks=(chunks,)))
    start0, mask = out["window_start"], out["response_mask"]
    out["target_chrom"] = create_variable("target_chrom",
                                          string_array(out["variant_chrom"].values))
    for name, rel in (("target_start", "response_start"), ("target_end", "response_end")):
        out[name] = create_variable(name, (start0 + out[rel]).where(mask, -1).data)
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

    :func:`dfimx.windows.variant_windows_dataset` followed by
    :func:`plan_variant_targets`; nothing is read from the genome or scanned here.

    Examples
    --------
    >>> from dfimx.testing import example_variants
    >>> sim, table = example_variants(n_pairs=2)
    >>> ds = variant_scan_dataset(table, sim.genome, 200, chunk_size=2)
    >>> ds["target_kind"].dims, ds.attrs["plan"]
    (('seq', 'response'), 'variants')
    """
    window = int(window)
    if window < 1:
        raise InputError(f"window must be a positive length, got {window}", option="window")
    if int(chunk_size) < 1:
        raise InputError(f"chunk_size must be positive, got {chunk_size}", option="chunk_size")
    ds = variant_windows_dataset(table, genome, window, chunk_size=chunk_size)
    return plan_variant_targets(
        ds, table, motifs=motifs, p_value_threshold=p_value_threshold,
        max_motif_targets=max_motif_targets, max_cis_variants=max_cis_variants,
    )
