"""Sequence datasets: from FASTA files, strings or one-hot arrays.

Every builder returns an :class:`xarray.Dataset` with ``seq_id`` (seq) and a
Dask-backed ``seq_onehot`` (seq, position, base) chunked over ``seq``.  FASTA
files indexed by pyfaidx are read lazily, chunk by chunk, where the chunk is
computed (on a Dask worker); the client only holds record names and lengths.
FASTA files are opened and streamed by :mod:`dfimx.io.fasta`.

With ``length``, every record is centre-cropped or N-padded to that many positions and the
dataset also holds ``seq_offset`` (the record position of window position 0: positive when
cropped, negative when padded) and ``seq_length`` (the record's own length), so that the
plans (:mod:`dfimx.plans`) read coordinates in the record's frame.

Examples
--------
>>> ds = from_strings(["ACGTN", "ttgca"], ids=["a", "b"])
>>> ds.seq_onehot.shape
(2, 5, 4)
>>> int(ds.seq_onehot[0, 4].sum().compute())
0
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from dfimx.alphabet import BASE_LOOKUP, BASES, codes_to_onehot
from dfimx.errors import InputError
from dfimx.io.compressed import bgzf_indexable, check_bgzf_complete, is_bgzf, is_plain_gzip
from dfimx.io.fasta import all_bytes_valid, first_invalid_line, open_fasta, stream_fasta
from dfimx.variables import create_variable, string_array

DEFAULT_CHUNK_SIZE = 256


def encode(seq: str, *, source: str = "<string>", record: str = "?") -> np.ndarray:
    """Base codes of one sequence: 0-3 for ACGT (any case), -1 for N/IUPAC codes.

    Raises
    ------
    InputError
        Naming ``source``, ``record`` and the 0-based position of the first invalid character.

    Examples
    --------
    >>> encode("ACgtN").tolist()
    [0, 1, 2, 3, -1]
    """
    raw = np.frombuffer(seq.encode("latin-1", errors="replace"), dtype=np.uint8)
    codes = BASE_LOOKUP[raw]
    bad = np.flatnonzero(codes == -2)
    if bad.size:
        pos = int(bad[0])
        raise InputError(
            f"{source}: record {record!r} position {pos}: invalid character {seq[pos]!r} "
            "(expected A, C, G, T or an IUPAC ambiguity code)"
        )
    return codes


def fit_offset(n: int, length: int) -> int:
    """Record position of window position 0 when ``n`` bases are centre-fitted to ``length``.

    Positive when the record is cropped (bases cut on the left), negative when it is padded
    (Ns added on the left); a record position ``p`` is window position ``p - offset``.

    Examples
    --------
    >>> fit_offset(10, 4), fit_offset(2, 5), fit_offset(4, 4)
    (3, -1, 0)
    """
    return (n - length) // 2 if n >= length else -((length - n) // 2)


def fit_length(codes: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or centre-pad (with N = -1) a code vector to ``length``.

    Window position ``i`` holds record position ``i + fit_offset(len(codes), length)``.

    Examples
    --------
    >>> fit_length(np.array([0, 1, 2, 3]), 2).tolist()
    [1, 2]
    >>> fit_length(np.array([0, 1]), 4).tolist(), fit_length(np.array([0, 1]), 3).tolist()
    ([-1, 0, 1, -1], [0, 1, -1])
    """
    n = len(codes)
    offset = fit_offset(n, length)
    if n >= length:
        return codes[offset : offset + length]
    out = np.full(length, -1, dtype=codes.dtype)
    out[-offset : -offset + n] = codes
    return out


def _check_length(length: int | None) -> None:
    if length is None:
        return
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise InputError(f"length must be a positive integer, got {length!r}", option="length")


def _fitted(ds: xr.Dataset, lengths: Sequence[int], length: int | None) -> xr.Dataset:
    """Add ``seq_offset`` and ``seq_length`` when the records were fitted to ``length``."""
    if length is None:
        return ds
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.array([fit_offset(int(n), length) for n in lengths], dtype=np.int64)
    return ds.assign(seq_offset=create_variable("seq_offset", offsets),
                     seq_length=create_variable("seq_length", lengths))


def _check_nonempty(lengths: Sequence[int], names: Sequence[str], source: str) -> None:
    empty = np.flatnonzero(np.asarray(lengths) == 0)
    if empty.size:
        raise InputError(f"{source}: record {names[int(empty[0])]!r} is empty (no bases)")


def _check_lengths(lengths: Sequence[int], names: Sequence[str], source: str) -> int:
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        raise InputError(f"{source}: no sequences")
    _check_nonempty(lengths, names, source)
    if (lengths != lengths[0]).any():
        i = int(np.flatnonzero(lengths != lengths[0])[0])
        raise InputError(
            f"{source}: record {names[i]!r} has length {int(lengths[i])} but record "
            f"{names[0]!r} has length {int(lengths[0])}; sequences must have equal lengths "
            "(pass length=... to centre-crop or pad them)",
            option="length",
        )
    return int(lengths[0])


def _check_ids(names: Sequence[str], source: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InputError(f"{source}: duplicate sequence id {n!r}")
        seen.add(n)


def _dataset(onehot: da.Array, ids: Sequence[str], attrs: dict) -> xr.Dataset:
    return xr.Dataset(
        {
            "seq_id": create_variable("seq_id", string_array(ids)),
            "seq_onehot": create_variable("seq_onehot", onehot),
        },
        coords={"base": np.array(BASES, dtype=object)},
        attrs=attrs,
    )


def from_codes(
    codes: np.ndarray, ids: Sequence[str] | None = None, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> xr.Dataset:
    """Dataset from an ``(N, L)`` array of base codes (-1 for N).

    Examples
    --------
    >>> from_codes(np.array([[0, 1, -1]]), ["x"]).seq_onehot.values.sum(-1).tolist()
    [[1, 1, 0]]
    """
    codes = np.asarray(codes)
    ids = [f"seq{i}" for i in range(len(codes))] if ids is None else [str(i) for i in ids]
    _check_ids(ids, "<array>")
    onehot = da.from_array(codes_to_onehot(codes), chunks=(chunk_size, -1, -1))
    return _dataset(onehot, ids, {})


def from_onehot(
    onehot: np.ndarray,
    ids: Sequence[str] | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> xr.Dataset:
    """Dataset from a one-hot array ``(N, L, 4)`` (rows summing to 0 are N).

    Examples
    --------
    >>> x = np.eye(4, dtype="uint8")[[[0, 1, 2]]]
    >>> from_onehot(x).seq_id.values.tolist()
    ['seq0']
    """
    arr = onehot if isinstance(onehot, da.Array) else np.asarray(onehot)
    if arr.ndim != 3 or arr.shape[-1] != 4:
        raise InputError(f"<array>: one-hot input must have shape (N, L, 4), got {arr.shape}")
    if not isinstance(arr, da.Array):
        row = arr.sum(-1)
        if not (np.isin(row, (0, 1)).all() and ((arr == 0) | (arr == 1)).all()):
            raise InputError("<array>: one-hot rows must be all zero (N) or a single 1")
    ids = [f"seq{i}" for i in range(arr.shape[0])] if ids is None else [str(i) for i in ids]
    if len(ids) != arr.shape[0]:
        raise InputError(f"<array>: {len(ids)} ids for {arr.shape[0]} sequences")
    _check_ids(ids, "<array>")
    dask_arr = arr if isinstance(arr, da.Array) else da.from_array(arr)
    dask_arr = dask_arr.rechunk((chunk_size, -1, -1))
    return _dataset(dask_arr, ids, {})


def from_strings(
    seqs: Sequence[str],
    ids: Sequence[str] | None = None,
    *,
    length: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> xr.Dataset:
    """Dataset from DNA strings (case-insensitive; N and IUPAC codes become all-zero rows).

    With ``length``, each string is centre-cropped or N-padded to it, and ``seq_offset`` /
    ``seq_length`` record where each window lies in its string.

    Examples
    --------
    >>> ds = from_strings(["ACGTAC", "A"], length=4)
    >>> ds.seq_onehot.sum(("position", "base")).values.tolist(), ds.seq_offset.values.tolist()
    ([4, 1], [1, -1])
    """
    ids = [f"seq{i}" for i in range(len(seqs))] if ids is None else [str(i) for i in ids]
    if len(ids) != len(seqs):
        raise InputError(f"<strings>: {len(ids)} ids for {len(seqs)} sequences")
    _check_length(length)
    return _from_records(ids, list(seqs), "<strings>", length, chunk_size)


def _from_records(names: list[str], seqs: list[str], source: str, length: int | None,
                  chunk_size: int) -> xr.Dataset:
    """Dataset from sequences held in memory (strings, a streamed gzip FASTA)."""
    _check_ids(names, source)
    if not names:
        raise InputError(f"{source}: no sequences")
    lengths = [len(s) for s in seqs]
    if length is None:
        _check_lengths(lengths, names, source)
    else:
        _check_nonempty(lengths, names, source)
    codes = [encode(s, source=source, record=n) for s, n in zip(seqs, names, strict=True)]
    if length is not None:
        codes = [fit_length(c, length) for c in codes]
    return _fitted(from_codes(np.stack(codes), names, chunk_size=chunk_size), lengths, length)


# --------------------------------------------------------------------------- FASTA


def _read_fasta_block(names: np.ndarray, path: str, length: int, crop: bool) -> np.ndarray:
    fa = open_fasta(path)
    out = np.empty((len(names), length), dtype=np.int8)
    for i, name in enumerate(names):
        seq = str(fa[str(name)][:])
        codes = encode(seq, source=path, record=str(name))
        out[i] = fit_length(codes, length) if crop else codes
    return codes_to_onehot(out)


def from_fasta(
    path: str | os.PathLike,
    *,
    length: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    validate: bool = True,
) -> xr.Dataset:
    """Dataset from a FASTA file (plain, bgzipped or gzipped).

    Plain and bgzipped files are indexed with pyfaidx and read lazily chunk by chunk
    (on the worker that computes the chunk).  A plain-gzip file cannot be read at
    random and is decoded into memory; compress large files with ``bgzip`` (pyfaidx reads
    those with Biopython; without it they are decoded into memory too). A truncated
    compressed file and an empty record are errors.

    Parameters
    ----------
    path
        FASTA file.
    length
        Centre-crop / N-pad every record to this length; without it all records must
        have equal lengths. The dataset then also holds ``seq_offset`` and ``seq_length``
        (see the module docstring).
    chunk_size
        Sequences per Dask chunk.
    validate
        Scan the file once (streaming, bounded memory) so that invalid characters are
        reported before any work starts.

    Examples
    --------
    >>> import tempfile
    >>> from dfimx.io.fasta import write_fasta
    >>> path = write_fasta(tempfile.mkdtemp() + "/s.fa", {"a": "ACGTAC", "b": "TTGCA"})
    >>> ds = from_fasta(path, length=4)
    >>> ds.seq_id.values.tolist(), ds.seq_onehot.shape
    (['a', 'b'], (2, 4, 4))
    """
    path = str(path)
    _check_length(length)
    if not Path(path).is_file():
        raise InputError(f"{path}: FASTA file not found")
    check_bgzf_complete(path, "FASTA file")
    if is_plain_gzip(path) or (is_bgzf(path) and not bgzf_indexable()):
        records = list(stream_fasta(path))
        if not records:
            raise InputError(f"{path}: no FASTA records")
        names, seqs = [n for n, _ in records], [q for _, q in records]
        ds = _from_records(names, seqs, path, length, chunk_size)
        ds.attrs["source_fasta"] = path
        return ds
    try:
        fa = open_fasta(path)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyfaidx raises several types for bad files
        raise InputError(f"{path}: cannot index the FASTA file: {exc}") from exc
    names = list(fa.keys())
    if not names:
        raise InputError(f"{path}: no FASTA records")
    if validate and not all_bytes_valid(path):
        for name in names:  # slow path: finds and names the record and position
            encode(str(fa[name][:]), source=path, record=name)
        where = first_invalid_line(path)  # what no record shows (a lone carriage return)
        if where is not None:
            raise InputError(f"{path}: {where}")
    lengths = [len(fa[n]) for n in names]
    if length is None:
        length = _check_lengths(lengths, names, path)
        crop = False
    else:
        _check_nonempty(lengths, names, path)
        crop = True
    names_arr = da.from_array(string_array(names), chunks=chunk_size)
    onehot = names_arr.map_blocks(
        _read_fasta_block,
        path=str(Path(path).resolve()),
        length=length,
        crop=crop,
        new_axis=[1, 2],
        chunks=(names_arr.chunks[0], (length,), (4,)),
        dtype=np.uint8,
        meta=np.empty((0, 0, 0), np.uint8),
    )
    ds = _dataset(onehot, names, {"source_fasta": path})
    return _fitted(ds, lengths, length if crop else None)


def as_dataset(
    obj: object, *, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> xr.Dataset:
    """Coerce a path, list of strings, one-hot array or dataset to a sequence dataset.

    Examples
    --------
    >>> as_dataset(["ACGT", "TTTT"]).sizes["seq"]
    2
    """
    if isinstance(obj, xr.Dataset):
        if "seq_onehot" not in obj:
            raise InputError("dataset has no 'seq_onehot' variable")
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return from_fasta(obj, length=length, chunk_size=chunk_size)
    if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], str):
        return from_strings(obj, length=length, chunk_size=chunk_size)
    return from_onehot(np.asarray(obj) if not isinstance(obj, da.Array) else obj,
                       chunk_size=chunk_size)
