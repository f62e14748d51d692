"""Per-base plan of a window: each position x its 3 alternative bases is a source, and every
position of the window is a target.

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
from dfimx.plans.common import check_interval, seq_chunk

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


def _scan_block(onehot: np.ndarray, start: int, end: int) -> np.ndarray:
    """Alternative base codes (n, 3W) for a per-base scan of [start, end)."""
    window = onehot[:, start:end]
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
    Positions that are N in a sequence are masked.

    Examples
    --------
    >>> from dfimx.sequences import from_strings
    >>> plan = plan_scan(from_strings(["ACGT"]), 1, 3)
    >>> plan.mutation_name.values[0].tolist()
    ['C>A', 'C>G', 'C>T', 'G>A', 'G>C', 'G>T']
    """
    length = ds.sizes["position"]
    check_interval(start, end, length, "scan", f"{start}:{end}", "scan window")
    n, w = ds.sizes["seq"], end - start
    chunk = seq_chunk(ds)
    pos = np.repeat(np.arange(start, end), 3)
    alts = ds["seq_onehot"].data.map_blocks(
        _scan_block, start, end, drop_axis=[1, 2], new_axis=[1],
        chunks=(ds["seq_onehot"].chunks[0], (3 * w,)), dtype=np.int8,
    )

    def bcast(row: np.ndarray) -> da.Array:
        arr = da.from_array(row, chunks=-1)
        return da.broadcast_to(arr, (n, len(row)), chunks=(chunk, len(row)))

    out = ds.assign(
        mutation_start=(("seq", "mutation"), bcast(pos.astype(np.int64))),
        mutation_end=(("seq", "mutation"), bcast(pos.astype(np.int64) + 1)),
        mutation_alt=(("seq", "mutation"), alts),
        mutation_mask=(("seq", "mutation"), alts >= 0),
        response_start=(("seq", "response"), bcast(np.arange(start, end, dtype=np.int64))),
        response_end=(("seq", "response"), bcast(np.arange(start, end, dtype=np.int64) + 1)),
        response_mask=(("seq", "response"), da.ones((n, w), dtype=bool, chunks=(chunk, w))),
    )
    ref_letters = ds["seq_onehot"].data.map_blocks(
        _ref_letters, start, end, drop_axis=[2], chunks=(ds["seq_onehot"].chunks[0], (w,)),
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


def _ref_letters(onehot: np.ndarray, start: int, end: int) -> np.ndarray:
    window = onehot[:, start:end]
    letters = np.array(list(BASES) + ["N"], dtype=object)
    ref = np.where(window.max(-1) > 0, window.argmax(-1), 4)
    return letters[ref]


def _scan_names(ref_letters: np.ndarray, alts: np.ndarray) -> np.ndarray:
    letters = np.array(list(BASES) + ["N"], dtype=object)
    refs = np.repeat(ref_letters, 3, axis=1)
    return (refs + ">" + letters[alts]).astype(str).astype(_STRING)


__all__ = ["parse_scan", "plan_scan"]
