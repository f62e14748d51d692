"""Genome windows centred on variants or BED intervals: the array kernel and the Datasets.

* :func:`extract_windows` is the array kernel that Dask workers run: it opens the genome
  itself (once per process, :func:`dfimx.io.fasta.open_fasta`) and reads the windows of
  one chunk of variants.
* :func:`variant_windows_dataset` wraps it in a lazy :class:`xarray.Dataset` that follows
  the dfimx data contract (``seq`` = one variant allele), from the variant table of
  :func:`dfimx.io.vcf.read_variant_table`.
* :func:`bed_windows_dataset` does the same for the intervals of a BED file
  (:func:`dfimx.io.bed.read_bed`): one ``seq`` per interval, a window of the model's
  length centred on it, ``seq_id`` its genome coordinates ``chrom:start-end``.

Window convention: a window of length ``W`` centred on a variant at 1-based position ``pos``
starts at the 0-based genome coordinate ``pos - 1 - W // 2`` and the variant sits at window
index ``W // 2``. For even ``W`` the window holds ``W // 2`` bases before the variant and
``W // 2 - 1`` after it; for odd ``W``, ``W // 2`` on each side. Positions that fall off a
contig are N (all-zero one-hot rows) and ``False`` in the validity mask.

Examples
--------
>>> from dfimx.testing import example_variants
>>> sim, table = example_variants(n_pairs=4, n_lone_motifs=1, n_decoy_motifs=2,
...                               n_random_variants=3, bgzip=True)
>>> ds = variant_windows_dataset(table, sim.genome, 200, chunk_size=4)
>>> ds["seq_onehot"].shape
(10, 200, 4)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from dfimx.alphabet import BASE_LOOKUP, BASES, N_BASES, codes_to_onehot
from dfimx.errors import InputError
from dfimx.io.fasta import gather_codes, missing_contig_error, open_fasta
from dfimx.io.vcf import TABLE_COLUMNS
from dfimx.variables import create_variable, string_array

__all__ = [
    "bed_windows_dataset",
    "extract_windows",
    "unique_seq_ids",
    "variant_windows_dataset",
    "window_center",
    "window_starts",
]

#: How the genome is named in error messages.
_GENOME = "genome FASTA"


def window_center(window: int) -> int:
    """Index of the variant inside a window of length ``window`` (``window // 2``).

    Examples
    --------
    >>> window_center(1000), window_center(1001)
    (500, 500)
    """
    return int(window) // 2


def window_starts(positions: np.ndarray | Sequence[int], window: int) -> np.ndarray:
    """0-based genome coordinate of window position 0 for 1-based variant positions.

    Examples
    --------
    >>> window_starts([1, 600], 1000).tolist()
    [-500, 99]
    """
    return np.asarray(positions, dtype=np.int64) - 1 - window_center(window)


def _allele_codes(alleles: np.ndarray | Sequence[Any]) -> np.ndarray:
    arr = np.asarray(alleles)
    if arr.dtype.kind in "iu":
        codes = arr.astype(np.int8)
    else:
        text = "".join(str(a).upper() for a in arr)
        if len(text) != len(arr):
            raise ValueError("alleles must be single bases (A, C, G or T)")
        codes = BASE_LOOKUP[np.frombuffer(text.encode("ascii"), np.uint8)]
    if ((codes < 0) | (codes >= N_BASES)).any():
        raise ValueError("alleles must be single bases (A, C, G or T)")
    return codes


def extract_windows(
    genome_path: str | os.PathLike,
    chroms: np.ndarray | Sequence[str],
    positions: np.ndarray | Sequence[int],
    window: int,
    *,
    alts: np.ndarray | Sequence[Any] | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot genome windows centred on variants (the kernel run on Dask workers).

    The genome is opened with pyfaidx inside the call and cached per process (see
    :func:`dfimx.io.fasta.open_fasta`); only the windows asked for are read, nearby ones in
    one read.

    Parameters
    ----------
    genome_path
        Genome FASTA.
    chroms, positions
        Contig and 1-based position of each variant, shape ``(n,)``.
    window
        Window length ``W``; the variant is at index ``W // 2`` and the window starts at the
        0-based genome coordinate ``pos - 1 - W // 2``.
    alts
        Optional alternate bases (letters or codes 0-3), shape ``(n,)``: also return the
        windows with the alternate allele at the centre.

    Returns
    -------
    onehot : numpy.ndarray
        ``(n, W, 4)`` uint8, bases A C G T; N, other ambiguous bases and positions off the
        contig are all-zero rows.
    valid_mask : numpy.ndarray
        ``(n, W)`` bool, False where the window runs off its contig.
    alt_onehot : numpy.ndarray
        Only with ``alts``: ``onehot`` with the centre replaced by the alternate base.

    Raises
    ------
    InputError
        When a contig is not in the genome.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGTAC\\n")
    >>> onehot, valid = extract_windows(fa, ["c1", "c1"], [5, 1], 4)
    >>> from dfimx.alphabet import onehot_to_strings
    >>> onehot_to_strings(onehot), valid.tolist()
    (['GTAC', 'NNAC'], [[True, True, True, True], [False, False, True, True]])
    >>> ref, valid, alt = extract_windows(fa, ["c1"], [5], 4, alts=["G"])
    >>> onehot_to_strings(alt)
    ['GTGC']
    """
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be a positive length, got {window}")
    genome = os.fspath(genome_path)
    fasta = open_fasta(genome, role=_GENOME)
    chroms_a = np.asarray(chroms, dtype=object)
    pos = np.asarray(positions, dtype=np.int64)
    if chroms_a.shape != pos.shape or pos.ndim != 1:
        raise ValueError("chroms and positions must be 1-d arrays of the same length")
    starts = window_starts(pos, window)
    codes = np.full((len(pos), window), -1, dtype=np.int8)
    valid = np.zeros((len(pos), window), dtype=bool)
    index = fasta.faidx.index
    for chrom in dict.fromkeys(chroms_a.tolist()):
        if chrom not in index:
            raise missing_contig_error(chrom, fasta, "variant windows", genome)
        rows = np.flatnonzero(chroms_a == chrom)
        codes[rows], valid[rows] = gather_codes(
            fasta, chrom, starts[rows], window, index[chrom].rlen
        )
    onehot = codes_to_onehot(codes)
    if alts is None:
        return onehot, valid
    alt_codes = _allele_codes(alts)
    if alt_codes.shape != pos.shape:
        raise ValueError("alts must have one base per variant")
    alt_onehot = onehot.copy()
    center = window_center(window)
    alt_onehot[:, center, :] = 0
    alt_onehot[np.arange(len(pos)), center, alt_codes] = 1
    return onehot, valid, alt_onehot


def _onehot_block(chroms: np.ndarray, positions: np.ndarray, *, genome: str, window: int):
    onehot, _ = extract_windows(genome, chroms, positions, window)
    return onehot


def _valid_block(starts: np.ndarray, lengths: np.ndarray, *, window: int) -> np.ndarray:
    pos = starts[:, None] + np.arange(window, dtype=np.int64)
    return (pos >= 0) & (pos < lengths[:, None])


def unique_seq_ids(table: pd.DataFrame) -> np.ndarray:
    """Unique sequence ids for a variant table: ``variant_id``, made unique where needed.

    Repeated ids get ``:ALT`` appended (the alleles of a multi-allelic record share its ID),
    then ``:record_index`` and finally ``#k`` if they still repeat.

    Examples
    --------
    >>> t = pd.DataFrame({"variant_id": ["rs1", "rs1", "rs2"], "variant_alt": ["A", "T", "G"],
    ...                   "record_index": [0, 0, 1]})
    >>> unique_seq_ids(t).tolist()
    ['rs1:A', 'rs1:T', 'rs2']
    """
    ids = table["variant_id"].astype(str).reset_index(drop=True)
    for suffix in (
        table["variant_alt"].astype(str).reset_index(drop=True),
        table["record_index"].astype(str).reset_index(drop=True),
    ):
        dup = ids.duplicated(keep=False)
        if not dup.any():
            return string_array(ids)
        ids = ids.where(~dup, ids + ":" + suffix)
    dup = ids.duplicated(keep=False)
    if dup.any():
        rank = ids.groupby(ids).cumcount().astype(str)
        ids = ids.where(~dup, ids + "#" + rank)
    return string_array(ids)


def _chunked(arr: np.ndarray, chunk_size: int) -> da.Array:
    return da.from_array(arr, chunks=(chunk_size,) + arr.shape[1:])


def variant_windows_dataset(
    table: pd.DataFrame,
    genome_path: str | os.PathLike,
    window: int,
    *,
    chunk_size: int = 256,
) -> xr.Dataset:
    """Lazy dataset of variant windows, one ``seq`` per variant allele (SNVs).

    Nothing is read from the genome here beyond its index: ``seq_onehot`` is a Dask array
    whose tasks each call :func:`extract_windows` on one chunk of variants, so the windows
    are read on the workers. The single-base source of each window (its alternate allele at
    index ``window // 2``) is filled in as the mutation plan.

    Parameters
    ----------
    table
        Variant table from :func:`read_variant_table` (SNV rows only).
    genome_path
        Genome FASTA (passed to the tasks by absolute path).
    window
        Window length ``W``; see :func:`extract_windows` for the convention.
    chunk_size
        Variants per chunk along ``seq``.

    Returns
    -------
    xarray.Dataset
        Data contract variables ``seq_id`` (unique, see :func:`unique_seq_ids`),
        ``seq_onehot`` (seq, position, base) uint8, ``mutation_start``/``mutation_end``
        (seq, mutation) = ``W // 2``/``W // 2 + 1``, ``mutation_alt`` (int8 code of ALT),
        ``mutation_name`` (``REF>ALT``), ``mutation_mask``; and ``variant_chrom``,
        ``variant_pos``, ``variant_ref``, ``variant_alt``, ``variant_id`` (seq),
        ``window_start`` (seq) 0-based genome coordinate of window position 0, and
        ``window_valid`` (seq, position) False off the contig ends. Numeric variables are
        Dask arrays chunked by ``chunk_size``; strings are in memory.

    Raises
    ------
    InputError
        When a contig of the table is not in the genome.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGTAC\\n")
    >>> t = pd.DataFrame({"variant_chrom": ["c1"], "variant_pos": [5], "variant_ref": ["A"],
    ...                   "variant_alt": ["G"], "variant_id": ["v1"], "record_index": [0]})
    >>> ds = variant_windows_dataset(t, fa, 4, chunk_size=1)
    >>> ds["mutation_name"].values.tolist(), int(ds["mutation_start"][0, 0])
    ([['A>G']], 2)
    >>> ds["seq_onehot"].values.argmax(-1).tolist()
    [[2, 3, 0, 1]]
    """
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be a positive length, got {window}")
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"variant table lacks columns {missing}")
    genome = os.path.abspath(os.fspath(genome_path))
    fasta = open_fasta(genome, role=_GENOME)
    chroms = string_array(table["variant_chrom"])
    pos = table["variant_pos"].to_numpy(dtype=np.int64)
    refs = string_array(table["variant_ref"])
    alts = string_array(table["variant_alt"])
    if any(len(r) != 1 for r in refs) or any(len(a) != 1 for a in alts):
        raise InputError(
            f"{table.attrs.get('vcf', 'variant table')}: variant windows need SNVs; "
            "read the VCF with snvs_only=True"
        )
    index = fasta.faidx.index
    for chrom in dict.fromkeys(chroms.tolist()):
        if chrom not in index:
            raise missing_contig_error(chrom, fasta, "variant table", genome)
    n = len(pos)
    center = window_center(window)
    starts = window_starts(pos, window)
    clen = np.array([index[c].rlen for c in chroms], dtype=np.int64)

    chunks = min(chunk_size, max(n, 1))
    chrom_d = da.from_array(chroms, chunks=chunks)
    pos_d = da.from_array(pos, chunks=chunks)
    seq_chunks = chrom_d.chunks[0]
    onehot = da.map_blocks(
        _onehot_block,
        chrom_d,
        pos_d,
        genome=genome,
        window=window,
        new_axis=[1, 2],
        chunks=(seq_chunks, (window,), (N_BASES,)),
        dtype=np.uint8,
        meta=np.empty((0, 0, 0), dtype=np.uint8),
        name="dfimx-variant-windows",
    )
    valid = da.map_blocks(
        _valid_block,
        da.from_array(starts, chunks=chunks),
        da.from_array(clen, chunks=chunks),
        window=window,
        new_axis=[1],
        chunks=(seq_chunks, (window,)),
        dtype=bool,
        meta=np.empty((0, 0), dtype=bool),
        name="dfimx-window-valid",
    )
    alt_codes = _allele_codes(alts)
    mut_start = np.full((n, 1), center, dtype=np.int64)
    names = string_array(f"{r}>{a}" for r, a in zip(refs, alts, strict=True)).reshape(n, 1)
    data = {
        "seq_id": unique_seq_ids(table),
        "seq_onehot": onehot,
        "window_valid": valid,
        "window_start": _chunked(starts, chunks),
        "variant_chrom": chroms,
        "variant_pos": _chunked(pos, chunks),
        "variant_ref": refs,
        "variant_alt": alts,
        "variant_id": string_array(table["variant_id"]),
        "mutation_start": _chunked(mut_start, chunks),
        "mutation_end": _chunked(mut_start + 1, chunks),
        "mutation_alt": _chunked(alt_codes[:, None], chunks),
        "mutation_name": names,
        "mutation_mask": _chunked(np.ones((n, 1), bool), chunks),
    }
    ds = xr.Dataset(
        {name: create_variable(name, value) for name, value in data.items()},
        coords={"base": np.array(BASES, dtype=object)},
        attrs={
            "genome": os.fspath(genome_path),
            "vcf": str(table.attrs.get("vcf", "")),
            "window": window,
            "window_center": center,
            "mutation_mode": "variant",
        },
    )
    return ds


def bed_windows_dataset(
    table: pd.DataFrame,
    genome_path: str | os.PathLike,
    length: int | None = None,
    *,
    chunk_size: int = 256,
) -> xr.Dataset:
    """Lazy dataset of genome windows, one ``seq`` per BED interval (read on the workers).

    Each window has ``length`` bases centred on its interval (the interval's midpoint at
    window index ``length // 2``, the larger half before it); ``length=None`` takes the
    intervals as they are, which must then all have one length.  Positions off a contig
    are N (all-zero rows) and False in ``window_valid``.

    Parameters
    ----------
    table
        Intervals from :func:`dfimx.io.bed.read_bed` (``chrom``, ``start``, ``end``,
        ``name``).
    genome_path
        Genome FASTA (indexed with pyfaidx on first use).
    length
        Window length (the model's input length); None: the intervals' own length.
    chunk_size
        Windows per chunk along ``seq``.

    Returns
    -------
    xarray.Dataset
        ``seq_id`` (the window's ``chrom:start-end``, 0-based start, exclusive end),
        ``seq_onehot``, ``window_chrom``, ``window_start`` (0-based genome
        coordinate of window position 0), ``window_valid`` and ``interval_name`` (the
        BED name).  Attrs ``genome``, ``bed`` and ``window``.

    Raises
    ------
    InputError
        When a contig is not in the genome, the intervals differ in length and no
        ``length`` is given, or two intervals give the same window.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fa = pathlib.Path(tempfile.mkdtemp()) / "g.fa"
    >>> _ = fa.write_text(">c1\\nACGTACGTAC\\n")
    >>> t = pd.DataFrame({"chrom": ["c1", "c1"], "start": [4, 0], "end": [6, 2],
    ...                   "name": ["p1", "p2"]})
    >>> ds = bed_windows_dataset(t, fa, 4)
    >>> ds["seq_id"].values.tolist(), int(ds["window_start"][1])
    (['c1:3-7', 'c1:-1-3'], -1)
    >>> from dfimx.alphabet import onehot_to_strings
    >>> onehot_to_strings(ds["seq_onehot"].values)
    ['TACG', 'NACG']
    """
    source = str(table.attrs.get("source", "BED intervals"))
    starts_in = table["start"].to_numpy(np.int64)
    ends_in = table["end"].to_numpy(np.int64)
    if length is None:
        sizes = np.unique(ends_in - starts_in)
        if len(sizes) != 1:
            raise InputError(f"{source}: the intervals have {len(sizes)} different lengths "
                             f"({', '.join(map(str, sizes[:4]))}, ...); give the window "
                             "length the model takes", option="length")
        length = int(sizes[0])
    length = int(length)
    if length < 1:
        raise InputError(f"length must be a positive number of bases, got {length}",
                         option="length")
    chunk_size = max(1, int(chunk_size))
    genome = os.path.abspath(os.fspath(genome_path))
    fasta = open_fasta(genome, role=_GENOME)
    chroms = string_array(table["chrom"])
    index = fasta.faidx.index
    for chrom in dict.fromkeys(chroms.tolist()):
        if chrom not in index:
            raise missing_contig_error(chrom, fasta, "BED intervals", genome)
    mids = (starts_in + ends_in) // 2
    starts = mids - window_center(length)
    ids = string_array(f"{c}:{a}-{a + length}" for c, a in zip(chroms, starts, strict=True))
    seen = pd.Series(ids).duplicated()
    if seen.any():
        k = int(np.flatnonzero(seen.to_numpy())[0])
        first = int(np.flatnonzero(ids == ids[k])[0])
        raise InputError(f"{source}: interval {k + 1} ({table['name'].iloc[k]}) gives the same "
                         f"window {ids[k]} as interval {first + 1}")
    n = len(ids)
    clen = np.array([index[c].rlen for c in chroms], dtype=np.int64)
    chunks = min(chunk_size, max(n, 1))
    chrom_d = da.from_array(chroms, chunks=chunks)
    # extract_windows centres on 1-based positions: the one whose window starts at `starts`
    pos_d = da.from_array(starts + 1 + window_center(length), chunks=chunks)
    seq_chunks = chrom_d.chunks[0]
    onehot = da.map_blocks(
        _onehot_block, chrom_d, pos_d, genome=genome, window=length, new_axis=[1, 2],
        chunks=(seq_chunks, (length,), (N_BASES,)), dtype=np.uint8,
        meta=np.empty((0, 0, 0), dtype=np.uint8), name="dfimx-bed-windows",
    )
    valid = da.map_blocks(
        _valid_block, da.from_array(starts, chunks=chunks), da.from_array(clen, chunks=chunks),
        window=length, new_axis=[1], chunks=(seq_chunks, (length,)), dtype=bool,
        meta=np.empty((0, 0), dtype=bool), name="dfimx-bed-window-valid",
    )
    data = {
        "seq_id": ids,
        "seq_onehot": onehot,
        "window_valid": valid,
        "window_chrom": chroms,
        "window_start": _chunked(starts, chunks),
        "interval_name": string_array(table["name"]),
    }
    return xr.Dataset(
        {name: create_variable(name, value) for name, value in data.items()},
        coords={"base": np.array(BASES, dtype=object)},
        attrs={"genome": os.fspath(genome_path), "bed": source, "window": length,
               "source_fasta": os.fspath(genome_path)},
    )
