"""PWM scanning of one-hot windows, and DFIM targets from motif hits and nearby variants.

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
from typing import Any

import numpy as np
import pandas as pd

from dfimx.alphabet import N_BASES, onehot_to_codes
from dfimx.variables import string_array

__all__ = [
    "DEFAULT_BACKGROUND",
    "HIT_COLUMNS",
    "Responses",
    "log_odds",
    "motif_targets",
    "pvalue_table",
    "scan_motifs",
    "variants_in_windows",
]

#: Background of a genome with GC fraction 0.46 (A C G T).
DEFAULT_BACKGROUND = (0.27, 0.23, 0.23, 0.27)
#: Columns of the table returned by :func:`scan_motifs`.
HIT_COLUMNS = ("seq_index", "start", "end", "name", "strand", "score", "p_value")


def _background(background: Sequence[float] | str) -> tuple[float, ...]:
    if isinstance(background, str):
        if background != "uniform":
            raise ValueError(f"background must be 'uniform' or 4 frequencies, got {background!r}")
        return (0.25, 0.25, 0.25, 0.25)
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (N_BASES,) or (bg <= 0).any():
        raise ValueError(f"background must be 4 positive frequencies (A C G T), got {background}")
    return tuple(float(x) for x in bg / bg.sum())


def log_odds(
    pwm: np.ndarray,
    background: Sequence[float] | str = DEFAULT_BACKGROUND,
    *,
    pseudocount: float = 0.1,
) -> np.ndarray:
    """Log2-odds weights of a ``(width, 4)`` PWM against a background, FIMO-style.

    ``log2(((p + pseudocount * bg) / (1 + pseudocount)) / bg)`` per column.

    Examples
    --------
    >>> w = log_odds(np.array([[1.0, 0, 0, 0]]), "uniform")
    >>> np.round(w, 3).tolist()
    [[1.898, -3.459, -3.459, -3.459]]
    """
    bg = np.asarray(_background(background))
    p = np.asarray(pwm, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != N_BASES or p.shape[0] == 0:
        raise ValueError(f"a PWM must have shape (width, 4), got {p.shape}")
    p = p / p.sum(axis=1, keepdims=True)
    return np.log2((p + pseudocount * bg) / (1 + pseudocount) / bg)


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
    return _table_cached(w.tobytes(), w.shape[0], _background(background), float(resolution))


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
            strands.append(("-", pwm[::-1, ::-1]))
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
    if isinstance(motifs, Mapping):
        return motifs
    from dfimx.motifs import load_motifs

    return load_motifs(motifs)


def scan_motifs(
    onehot: np.ndarray,
    motifs: Mapping[str, np.ndarray] | str | os.PathLike,
    *,
    p_value_threshold: float = 1e-4,
    background: Sequence[float] | str = DEFAULT_BACKGROUND,
    both_strands: bool = True,
    pseudocount: float = 0.1,
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
        A C G T frequencies (default GC 0.46) or ``"uniform"``: used for the log-odds and
        for the p-values.
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
    :func:`dfimx.variants.extract_windows` (the variant itself at ``window // 2``). Sites
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
