"""PWM scanning of one-hot windows with exact p-values.

Scores are log2-odds ``log2(p'[j, b] / bg[b])`` summed over the motif columns, with the
FIMO pseudocount ``p' = (p + a * bg) / (1 + a)`` (``a = 0.1``). p-values are exact for the
score rounded to a grid of ``resolution`` bits (1e-3 by default, as FIMO rounds scores to
integers before its dynamic programming): the distribution of the rounded score of a random
background sequence is computed column by column (a convolution per motif column), and the
p-value of a window is the probability of a score at least as large. Windows that overlap an
N (or a position off the contig) are not scored.

memelite's FIMO kernel was not used: it hard-codes a uniform background and bins scores at
0.1 bits, and runs numba-parallel scans sized for genome-scale inputs; the few thousand short
windows of one Dask chunk are scanned here with plain numpy, with any background.

Examples
--------
>>> from dfimx.alphabet import codes_to_onehot, BASE_LOOKUP
>>> gata = np.eye(4)[[0, 2, 0, 3, 0, 0]] * 0.9 + 0.025     # AGATAA
>>> seq = "CCCCCCAGATAACCCCTTATCTCC"
>>> onehot = codes_to_onehot(BASE_LOOKUP[np.frombuffer(seq.encode(), np.uint8)])[None]
>>> hits = scan_motifs(onehot, {"gata": gata}, p_value_threshold=1e-3)
>>> hits[["seq_index", "start", "end", "name", "strand"]].values.tolist()
[[0, 6, 12, 'gata', '+'], [0, 16, 22, 'gata', '-']]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from dfimx.alphabet import N_BASES, onehot_to_codes
from dfimx.io.meme import load_motifs
from dfimx.motifs.pwm import (
    DEFAULT_BACKGROUND,
    DEFAULT_PSEUDOCOUNT,
    as_background,
    log_odds,
    reverse_complement_pwm,
)
from dfimx.variables import string_array

__all__ = ["HIT_COLUMNS", "pvalue_table", "scan_motifs"]

#: Columns of the table returned by :func:`scan_motifs`.
HIT_COLUMNS = ("seq_index", "start", "end", "name", "strand", "score", "p_value")


@lru_cache(maxsize=256)
def _table_cached(
    weights: bytes, width: int, background: tuple[float, ...], resolution: float
) -> tuple[np.ndarray, np.ndarray, int]:
    w = np.frombuffer(weights, dtype=np.float64).reshape(width, N_BASES)
    ints = np.rint(w / resolution).astype(np.int64)
    low = ints.min(axis=1)
    shifted = ints - low[:, None]
    pmf = np.ones(1)
    bg = np.asarray(background)
    for j in range(width):
        out = np.zeros(len(pmf) + int(shifted[j].max()))
        for b in range(N_BASES):
            out[shifted[j, b] : shifted[j, b] + len(pmf)] += bg[b] * pmf
        pmf = out
    # Survival function P(S >= s), summed from the top so small tails keep their precision.
    sf = np.cumsum(pmf[::-1])[::-1]
    return ints, np.minimum(sf, 1.0), int(low.sum())


def pvalue_table(
    weights: np.ndarray,
    background: Sequence[float] | str = DEFAULT_BACKGROUND,
    *,
    resolution: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact score distribution of a log-odds matrix rounded to ``resolution``.

    Parameters
    ----------
    weights
        ``(width, 4)`` log-odds matrix (:func:`log_odds`).
    background
        Base frequencies under which the p-values hold.
    resolution
        Score grid in bits.

    Returns
    -------
    int_weights : numpy.ndarray
        ``(width, 4)`` int64, ``rint(weights / resolution)``.
    survival : numpy.ndarray
        ``survival[k]`` = P(rounded score >= ``offset + k``) for a background sequence.
    offset : int
        Smallest possible rounded score.

    Examples
    --------
    >>> iw, sf, off = pvalue_table(np.log2(np.array([[0.7, 0.1, 0.1, 0.1]]) / 0.25), "uniform")
    >>> float(sf[iw[0, 0] - off])
    0.25
    """
    w = np.ascontiguousarray(weights, dtype=np.float64)
    return _table_cached(w.tobytes(), w.shape[0], as_background(background), float(resolution))


@dataclass(frozen=True)
class _Prepared:
    name: str
    strand: str
    weights: np.ndarray
    ints: np.ndarray
    survival: np.ndarray
    offset: int
    cut: int  # smallest rounded score whose p-value is below the threshold


def _prepare(
    motifs: Mapping[str, np.ndarray],
    threshold: float,
    background: Sequence[float] | str,
    both_strands: bool,
    pseudocount: float,
    resolution: float,
) -> list[_Prepared]:
    out = []
    for name, pwm in motifs.items():
        pwm = np.asarray(pwm, dtype=np.float64)
        strands = [("+", pwm)]
        if both_strands:
            strands.append(("-", reverse_complement_pwm(pwm)))
        for strand, p in strands:
            w = log_odds(p, background, pseudocount=pseudocount)
            ints, sf, offset = pvalue_table(w, background, resolution=resolution)
            passing = np.flatnonzero(sf < threshold)
            cut = offset + int(passing[0]) if len(passing) else np.iinfo(np.int64).max
            out.append(_Prepared(str(name), strand, w, ints, sf, offset, cut))
    return out


def _as_codes(onehot: np.ndarray) -> np.ndarray:
    onehot = np.asarray(onehot)
    if onehot.ndim != 3 or onehot.shape[-1] != N_BASES:
        raise ValueError(f"onehot must have shape (n, length, 4), got {onehot.shape}")
    return onehot_to_codes(onehot)


def _load(motifs: Mapping[str, np.ndarray] | str | os.PathLike) -> Mapping[str, np.ndarray]:
    return motifs if isinstance(motifs, Mapping) else load_motifs(motifs)


def scan_motifs(
    onehot: np.ndarray,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike,
    *,
    p_value_threshold: float = 1e-4,
    background: Sequence[float] | str = DEFAULT_BACKGROUND,
    both_strands: bool = True,
    pseudocount: float = DEFAULT_PSEUDOCOUNT,
    resolution: float = 1e-3,
) -> pd.DataFrame:
    """Find PWM matches in one-hot windows, with exact p-values.

    Parameters
    ----------
    onehot
        ``(n, L, 4)`` one-hot windows (A C G T); all-zero rows (N) are never inside a hit.
    motifs
        Motif name -> ``(width, 4)`` letter probabilities, or a MEME file path.
    p_value_threshold
        Report windows with p-value strictly below this (as FIMO's ``--thresh``).
    background
        A C G T frequencies (default :data:`dfimx.motifs.pwm.DEFAULT_BACKGROUND`) or
        ``"uniform"``: used for the log-odds and for the p-values.
    both_strands
        Also scan the reverse complement of each motif (reported with strand ``-``).
    pseudocount
        FIMO's motif pseudocount, weighted by the background.
    resolution
        Score grid (bits) of the exact p-value computation.

    Returns
    -------
    pandas.DataFrame
        One row per hit, columns :data:`HIT_COLUMNS`: ``seq_index`` (row of ``onehot``),
        ``start``/``end`` (0-based, half-open, forward-strand window coordinates),
        ``name``, ``strand``, ``score`` (log2-odds, bits) and ``p_value``; sorted by
        ``seq_index``, ``start``, ``name``, ``strand``.

    Examples
    --------
    >>> from dfimx.alphabet import codes_to_onehot
    >>> pwm = np.eye(4)[[0, 2, 0, 3, 0, 0, 2, 0]] * 0.9 + 0.025     # AGATAAGA
    >>> x = np.zeros((1, 20), np.int8) + 1                 # CCCC...
    >>> x[0, 5:13] = [0, 2, 0, 3, 0, 0, 2, 0]               # AGATAAGA at 5
    >>> hits = scan_motifs(codes_to_onehot(x), {"GATA": pwm})
    >>> hits[["start", "end", "strand"]].values.tolist()
    [[5, 13, '+']]
    >>> bool(hits["p_value"].iloc[0] < 1e-4)
    True
    """
    codes = _as_codes(onehot)
    prepared = _prepare(
        _load(motifs), float(p_value_threshold), background, both_strands, pseudocount, resolution
    )
    n, length = codes.shape
    is_n = codes < 0
    safe = np.where(is_n, 0, codes).astype(np.intp)
    n_before = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(is_n, axis=1)], axis=1)
    frames = []
    for m in prepared:
        width = m.ints.shape[0]
        n_win = length - width + 1
        if n_win <= 0 or m.cut == np.iinfo(np.int64).max:
            continue
        total = np.zeros((n, n_win), dtype=np.int64)
        for j in range(width):
            total += m.ints[j][safe[:, j : j + n_win]]
        clean = n_before[:, width:] - n_before[:, :n_win] == 0
        rows, starts = np.nonzero((total >= m.cut) & clean)
        if len(rows) == 0:
            continue
        cols = starts[:, None] + np.arange(width)
        score = m.weights[np.arange(width), safe[rows[:, None], cols]].sum(axis=1)
        frames.append(
            pd.DataFrame(
                {
                    "seq_index": rows.astype(np.int64),
                    "start": starts.astype(np.int64),
                    "end": (starts + width).astype(np.int64),
                    "name": string_array([m.name] * len(rows)),
                    "strand": string_array([m.strand] * len(rows)),
                    "score": score,
                    "p_value": m.survival[total[rows, starts] - m.offset],
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {
                "seq_index": np.zeros(0, np.int64),
                "start": np.zeros(0, np.int64),
                "end": np.zeros(0, np.int64),
                "name": np.zeros(0, object),
                "strand": np.zeros(0, object),
                "score": np.zeros(0),
                "p_value": np.zeros(0),
            }
        )
    hits = pd.concat(frames, ignore_index=True)
    return hits.sort_values(["seq_index", "start", "name", "strand"], kind="stable").reset_index(
        drop=True
    )
