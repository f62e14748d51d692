"""Per-base plan of a window: each position x its 3 alternative bases is a source, and every
position of the window is a target.

The window ``START:END`` refers to the record: when the records were cropped or padded to a
length (``seq_offset``), it lies at window positions ``START - seq_offset`` of each
sequence, and its targets keep their record positions as names.

Examples
--------
>>> from dfimx.sequences import from_strings
>>> plan = plan_scan(from_strings(["ACGT"]), 1, 3)
>>> plan.mutation_name.values[0].tolist()
['C>A', 'C>G', 'C>T', 'G>A', 'G>C', 'G>T']
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from dfimx.alphabet import BASES
from dfimx.errors import InputError
from dfimx.plans.common import check_interval, seq_chunk, sequence_frame, to_window

_STRING = np.dtypes.StringDType()


def parse_scan(text: str) -> tuple[int, int]:
    """Parse ``"40:60"`` into a half-open window ``(40, 60)``."""
    try:
        a, b = (int(x) for x in str(text).split(":"))
    except ValueError:
        raise InputError(
            f"scan: expected START:END (0-based, end exclusive), got {text!r}", option="scan"
        ) from None
    return a, b


def _window(onehot: np.ndarray, shifts: np.ndarray, w: int) -> np.ndarray:
    """The ``w`` positions from ``shifts`` (one per sequence, shape (n, 1, 1)) of a block."""
    idx = shifts.reshape(-1, 1) + np.arange(w)
    return np.take_along_axis(onehot, idx[..., None], axis=1)


def _scan_block(onehot: np.ndarray, shifts: np.ndarray, w: int) -> np.ndarray:
    """Alternative base codes (n, 3W) for a per-base scan of the window at ``shifts``."""
    window = _window(onehot, shifts, w)
    ref = np.where(window.max(-1) > 0, window.argmax(-1), -1)  # (n, W)
    alts = np.empty(ref.shape + (3,), np.int8)
    for k in range(3):
        # alternatives in A, C, G, T order, skipping the reference base
        alts[..., k] = np.where(ref < 0, -1, k + (k >= ref))
    return alts.reshape(len(onehot), -1)


def plan_scan(ds: xr.Dataset, start: int, end: int) -> xr.Dataset:
    """Per-base scan of the window ``[start, end)``: each position x 3 alternative bases.

    Sources are single-base substitutions (``mutation_alt`` 0-3, names like ``C>T``);
    targets are every position of the window (``response`` = one position each).
    Positions that are N in a sequence are masked. ``start`` and ``end`` refer to the
    record (see the module docstring); a window outside what a sequence keeps is an error.

    Examples
    --------
    >>> from dfimx.sequences import from_strings
    >>> plan = plan_scan(from_strings(["ACGT"]), 1, 3)
    >>> plan.mutation_name.values[0].tolist()
    ['C>A', 'C>G', 'C>T', 'G>A', 'G>C', 'G>T']
    >>> fitted = plan_scan(from_strings(["TTACGT"], length=4), 2, 4)  # keeps record [1, 5)
    >>> fitted.mutation_start.values[0, ::3].tolist(), fitted.response_name.values[0].tolist()
    ([1, 2], ['2', '3'])
    """
    length = ds.sizes["position"]
    frame = sequence_frame(ds)
    n, w = ds.sizes["seq"], end - start
    label = f"{start}:{end}"
    if frame.fitted:
        shift, _ = to_window(frame, np.arange(n), np.full(n, start), np.full(n, end), "scan",
                             np.full(n, label, dtype=object), "scan window")
    else:
        check_interval(start, end, length, "scan", label, "scan window")
        shift = np.full(n, start, np.int64)
    chunk = seq_chunk(ds)
    seq_chunks = ds["seq_onehot"].chunks[0] if ds["seq_onehot"].chunks else (n,)
    shifts = da.from_array(shift, chunks=(seq_chunks,))
    shifts3 = shifts[:, None, None]
    pos = np.repeat(np.arange(w), 3)
    onehot = ds["seq_onehot"].data
    if not isinstance(onehot, da.Array):
        onehot = da.from_array(onehot, chunks=(seq_chunks, -1, -1))
    alts = da.map_blocks(
        _scan_block, onehot, shifts3, w, drop_axis=[1, 2], new_axis=[1],
        chunks=(seq_chunks, (3 * w,)), dtype=np.int8,
    )

    def bcast(row: np.ndarray) -> da.Array:
        arr = da.from_array(row, chunks=-1)
        return da.broadcast_to(arr, (n, len(row)), chunks=(chunk, len(row)))

    mut_start = (bcast(pos.astype(np.int64)) + shifts[:, None]).rechunk((seq_chunks, -1))
    res_start = (bcast(np.arange(w, dtype=np.int64)) + shifts[:, None]).rechunk(
        (seq_chunks, -1))
    out = ds.assign(
        mutation_start=(("seq", "mutation"), mut_start),
        mutation_end=(("seq", "mutation"), mut_start + 1),
        mutation_alt=(("seq", "mutation"), alts),
        mutation_mask=(("seq", "mutation"), alts >= 0),
        response_start=(("seq", "response"), res_start),
        response_end=(("seq", "response"), res_start + 1),
        response_mask=(("seq", "response"), da.ones((n, w), dtype=bool, chunks=(chunk, w))),
    )
    ref_letters = da.map_blocks(
        _ref_letters, onehot, shifts3, w, drop_axis=[2], chunks=(seq_chunks, (w,)),
        dtype=object, meta=np.empty((0, 0), object),
    )
    # variable-length strings: xarray writes them region by region without loading them
    names = da.map_blocks(
        _scan_names, ref_letters, alts, chunks=alts.chunks, dtype=_STRING,
        meta=np.empty((0, 0), _STRING),
    )
    out["mutation_name"] = (("seq", "mutation"), names)
    # a real (tiled) copy per block: broadcast views of strings do not survive Zarr writes
    window_names = np.array([str(p) for p in range(start, end)], dtype=_STRING)
    out["response_name"] = (("seq", "response"), alts[:, :w].map_blocks(
        lambda block: np.tile(window_names, (len(block), 1)), dtype=_STRING,
        meta=np.empty((0, 0), _STRING)))
    out.attrs["plan"] = "scan"
    out.attrs["scan"] = f"{start}:{end}"
    return out


def _ref_letters(onehot: np.ndarray, shifts: np.ndarray, w: int) -> np.ndarray:
    window = _window(onehot, shifts, w)
    letters = np.array(list(BASES) + ["N"], dtype=object)
    ref = np.where(window.max(-1) > 0, window.argmax(-1), 4)
    return letters[ref]


def _scan_names(ref_letters: np.ndarray, alts: np.ndarray) -> np.ndarray:
    letters = np.array(list(BASES) + ["N"], dtype=object)
    refs = np.repeat(ref_letters, 3, axis=1)
    return (refs + ">" + letters[alts]).astype(str).astype(_STRING)


__all__ = ["parse_scan", "plan_scan"]
