"""Sequence datasets: from FASTA files, strings or one-hot arrays.

Every builder returns an :class:`xarray.Dataset` with ``seq_id`` (seq) and a
Dask-backed ``seq_onehot`` (seq, position, base) chunked over ``seq``.  FASTA
files indexed by pyfaidx are read lazily, chunk by chunk, where the chunk is
computed (on a Dask worker); the client only holds record names and lengths.
FASTA files are opened and streamed by :mod:`dfimx.io.fasta`.

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
from dfimx.io.fasta import all_bytes_valid, is_plain_gzip, open_fasta, stream_fasta
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


def fit_length(codes: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or centre-pad (with N = -1) a code vector to ``length``.

    Examples
    --------
    >>> fit_length(np.array([0, 1, 2, 3]), 2).tolist()
    [1, 2]
    >>> fit_length(np.array([0, 1]), 4).tolist()
    [-1, 0, 1, -1]
    """
    n = len(codes)
    if n >= length:
        start = (n - length) // 2
        return codes[start : start + length]
    out = np.full(length, -1, dtype=codes.dtype)
    left = (length - n) // 2
    out[left : left + n] = codes
    return out


def _check_lengths(lengths: Sequence[int], names: Sequence[str], source: str) -> int:
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        raise InputError(f"{source}: no sequences")
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

    Examples
    --------
    >>> from_strings(["ACGT", "A"], length=4).seq_onehot.sum(("position", "base")).values.tolist()
    [4, 1]
    """
    ids = [f"seq{i}" for i in range(len(seqs))] if ids is None else [str(i) for i in ids]
    if len(ids) != len(seqs):
        raise InputError(f"<strings>: {len(ids)} ids for {len(seqs)} sequences")
    codes = [encode(s, record=i) for s, i in zip(seqs, ids, strict=True)]
    if length is None:
        _check_lengths([len(c) for c in codes], ids, "<strings>")
    else:
        codes = [fit_length(c, length) for c in codes]
    return from_codes(np.stack(codes), ids, chunk_size=chunk_size)


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
    random and is decoded into memory; compress large files with ``bgzip``.

    Parameters
    ----------
    path
        FASTA file.
    length
        Centre-crop / N-pad every record to this length; without it all records must
        have equal lengths.
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
    if not Path(path).is_file():
        raise InputError(f"{path}: FASTA file not found")
    if is_plain_gzip(path):
        names, seqs = [], []
        for name, seq in stream_fasta(path):
            names.append(name)
            seqs.append(seq)
        _check_ids(names, path)
        if not names:
            raise InputError(f"{path}: no FASTA records")
        if length is None:
            _check_lengths([len(s) for s in seqs], names, path)
        codes = [encode(s, source=path, record=n) for s, n in zip(seqs, names, strict=True)]
        if length is not None:
            codes = [fit_length(c, length) for c in codes]
        ds = from_codes(np.stack(codes), names, chunk_size=chunk_size)
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
    lengths = [len(fa[n]) for n in names]
    if length is None:
        length = _check_lengths(lengths, names, path)
        crop = False
    else:
        crop = True
    if validate and not all_bytes_valid(path):
        for name in names:  # slow path: finds and names the record and position
            encode(str(fa[name][:]), source=path, record=name)
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
    return _dataset(onehot, names, {"source_fasta": path})


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
