"""The DNA alphabet, one-hot conventions and the GC background shared by all modules."""

from __future__ import annotations

import numpy as np

BASES = ("A", "C", "G", "T")
N_BASES = 4
#: GC fraction of the default background (mutant replacements, references, motif
#: log-odds): 0.46, as in the original DFIM code and close to the human genome's 0.41-0.46.
DEFAULT_GC = 0.46
#: IUPAC codes accepted in input; anything not A/C/G/T becomes an all-zero row.
IUPAC = frozenset("ACGTNRYSWKMBDHV")

_LOOKUP = np.full(256, -2, dtype=np.int8)
for _i, _b in enumerate(BASES):
    _LOOKUP[ord(_b)] = _i
    _LOOKUP[ord(_b.lower())] = _i
for _b in IUPAC - set(BASES):
    _LOOKUP[ord(_b)] = -1
    _LOOKUP[ord(_b.lower())] = -1
#: byte -> base index (0-3), -1 for ambiguous (N...), -2 for invalid.
BASE_LOOKUP = _LOOKUP


def codes_to_onehot(codes: np.ndarray, dtype=np.uint8) -> np.ndarray:
    """One-hot encode base codes (-1 → all-zero row).

    Examples
    --------
    >>> codes_to_onehot(np.array([0, 3, -1])).tolist()
    [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    """
    codes = np.asarray(codes)
    out = np.zeros(codes.shape + (N_BASES,), dtype=dtype)
    valid = codes >= 0
    idx = np.where(valid, codes, 0)
    np.put_along_axis(out, idx[..., None].astype(np.intp), valid[..., None].astype(dtype), axis=-1)
    return out


def onehot_to_codes(onehot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`codes_to_onehot` (-1 where the row is all zero)."""
    onehot = np.asarray(onehot)
    codes = onehot.argmax(-1).astype(np.int8)
    codes[onehot.max(-1) <= 0] = -1
    return codes


def onehot_to_strings(onehot: np.ndarray) -> list[str]:
    """Decode (N, L, 4) one-hot to strings, N for all-zero rows."""
    letters = np.array(list("ACGTN"))
    codes = onehot_to_codes(onehot)
    return ["".join(letters[c]) for c in np.where(codes < 0, 4, codes)]


def gc_background(gc: float = DEFAULT_GC) -> np.ndarray:
    """Expected one-hot of a background with GC fraction ``gc``: ``(A, C, G, T)`` float32.

    Examples
    --------
    >>> [round(float(x), 2) for x in gc_background(0.46)]
    [0.27, 0.23, 0.23, 0.27]
    """
    if not 0.0 <= gc <= 1.0:
        raise ValueError(f"GC fraction must lie between 0 and 1, got {gc}")
    at, cg = (1.0 - gc) / 2.0, gc / 2.0
    return np.array([at, cg, cg, at], np.float32)
