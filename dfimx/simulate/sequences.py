"""Simulated regulatory sequences with planted motifs, for demos and tests.

The simulation follows the DFIM paper's: every sequence is a GC background in which
motif instances (sampled from PWMs) are planted at random, non-overlapping positions.
Each sequence belongs to one class: motif A only (``"A"``), motif B only (``"B"``),
both (``"AB"``) or neither (``"none"``), and decoy motifs are planted in every class.
The label is 1 exactly when A *and* B are both present, so a model that fits the labels
must learn an AND rule: A and B interact, decoys do not.

Examples
--------
>>> sim = simulate_sequences(n=8, length=100, seed=1)
>>> sim.onehot.shape, sim.true_pair_names
((8, 100, 4), ('GATA_like', 'TAL1_like'))
>>> sim.elements.columns.tolist()[:5]
['seq', 'start', 'end', 'name', 'role']
>>> bool(((sim.classes == "AB") == (sim.labels == 1)).all())
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from dfimx.alphabet import BASES, DEFAULT_GC, codes_to_onehot, gc_background, onehot_to_strings
from dfimx.io.fasta import write_fasta
from dfimx.io.meme import load_motifs
from dfimx.motifs.pwm import reverse_complement_pwm, sample_motif
from dfimx.seeding import sequence_rng, stable_key

__all__ = [
    "CLASSES",
    "DEFAULT_CLASS_FRACTIONS",
    "ELEMENT_COLUMNS",
    "SEQUENCE_REVCOMP",
    "Simulation",
    "choose_motifs",
    "place_elements",
    "simulate_sequences",
]

#: Simulation classes: which of the interacting motifs A and B a sequence holds.
CLASSES = ("AB", "A", "B", "none")
#: Default share of each class (40 % positives).
DEFAULT_CLASS_FRACTIONS: dict[str, float] = {"AB": 0.4, "A": 0.25, "B": 0.25, "none": 0.1}
#: Columns of :attr:`Simulation.elements` written by :meth:`Simulation.elements_tsv`.
ELEMENT_COLUMNS = ("seq", "start", "end", "name", "role")
#: Default probability that :func:`simulate_sequences` plants a motif on the minus strand.
SEQUENCE_REVCOMP = 0.0


@dataclass
class Simulation:
    """Simulated sequences with the ground truth of what was planted where.

    Attributes
    ----------
    onehot
        ``(N, L, 4)`` uint8 one-hot sequences (A C G T).
    seq_ids
        Sequence names, ``"sim0000"``, ``"sim0001"``, ...
    labels
        ``(N,)`` int64, 1 when both interacting motifs are present.
    classes
        ``(N,)`` object array of class names from :data:`CLASSES`.
    elements
        One row per planted motif: ``seq`` (sequence id), ``start``, ``end`` (0-based,
        half-open), ``name`` (motif name), ``role`` (``"both"``), ``kind`` (``"A"``,
        ``"B"`` or ``"decoy"``), ``is_pair_member`` (bool), ``strand`` (``"+"``/``"-"``),
        ``site`` (the planted bases as read on the + strand).
    motifs
        The PWMs used, name -> ``(width, 4)``.
    pair
        Names of motifs A and B.
    decoys
        Names of the decoy motifs that could be planted.
    seed, gc
        Settings that produced the simulation.
    """

    onehot: np.ndarray
    seq_ids: list[str]
    labels: np.ndarray
    classes: np.ndarray
    elements: pd.DataFrame
    motifs: dict[str, np.ndarray] = field(repr=False)
    pair: tuple[str, str]
    decoys: tuple[str, ...]
    seed: int = 0
    gc: float = DEFAULT_GC

    def __len__(self) -> int:
        return len(self.seq_ids)

    @property
    def length(self) -> int:
        """Sequence length ``L``."""
        return int(self.onehot.shape[1])

    @property
    def true_pair_names(self) -> tuple[str, str]:
        """Names of the two interacting motifs (A, B).

        Examples
        --------
        >>> simulate_sequences(n=2, length=80).true_pair_names
        ('GATA_like', 'TAL1_like')
        """
        return self.pair

    @property
    def decoy_names(self) -> tuple[str, ...]:
        """Names of the decoy motifs (which do not affect the label).

        Examples
        --------
        >>> simulate_sequences(n=2, length=80).decoy_names[:2]
        ('AP1_like', 'SP1_like')
        """
        return self.decoys

    @property
    def sequences(self) -> list[str]:
        """The sequences as strings.

        Examples
        --------
        >>> len(simulate_sequences(n=2, length=80).sequences[0])
        80
        """
        return onehot_to_strings(self.onehot)

    def subset(self, index: Sequence[int] | np.ndarray | slice) -> Simulation:
        """A new :class:`Simulation` with the sequences at ``index`` (and their elements).

        Examples
        --------
        >>> sim = simulate_sequences(n=10, length=80)
        >>> sub = sim.subset(slice(0, 3))
        >>> len(sub), sorted(set(sub.elements["seq"])) == sub.seq_ids
        (3, True)
        """
        idx = np.arange(len(self))[index]
        ids = [self.seq_ids[i] for i in idx]
        order = {s: i for i, s in enumerate(ids)}
        el = self.elements[self.elements["seq"].isin(order)].copy()
        el["_o"] = el["seq"].map(order)
        el = el.sort_values(["_o", "start"], kind="stable").drop(columns="_o")
        return Simulation(
            onehot=self.onehot[idx],
            seq_ids=ids,
            labels=self.labels[idx],
            classes=self.classes[idx],
            elements=el.reset_index(drop=True),
            motifs=self.motifs,
            pair=self.pair,
            decoys=self.decoys,
            seed=self.seed,
            gc=self.gc,
        )

    def to_fasta(self, path: str | os.PathLike, *, line_width: int | None = 80) -> Path:
        """Write the sequences as FASTA (ids from :attr:`seq_ids`).

        Examples
        --------
        >>> import tempfile
        >>> p = simulate_sequences(n=2, length=100).to_fasta(tempfile.mkdtemp() + "/s.fa")
        >>> p.read_text().splitlines()[0]
        '>sim0000'
        """
        return write_fasta(path, zip(self.seq_ids, self.sequences, strict=True),
                           line_width=line_width)

    def elements_tsv(self, path: str | os.PathLike, *, truth: bool = False) -> Path:
        """Write the planted elements as the TSV that ``dfimx run --elements`` reads.

        Parameters
        ----------
        path
            Output file.
        truth
            Also write the ground-truth columns (``kind``, ``is_pair_member``, ``strand``,
            ``site``); by default only ``seq, start, end, name, role``.

        Examples
        --------
        >>> import tempfile
        >>> sim = simulate_sequences(n=2, length=60)
        >>> p = sim.elements_tsv(tempfile.mkdtemp() + "/e.tsv")
        >>> p.read_text().splitlines()[0]
        'seq\\tstart\\tend\\tname\\trole'
        """
        p = Path(path)
        cols = list(self.elements.columns) if truth else list(ELEMENT_COLUMNS)
        self.elements[cols].to_csv(p, sep="\t", index=False)
        return p

    def save(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write ``sequences.fa``, ``elements.tsv`` (with truth columns) and ``labels.tsv``.

        Examples
        --------
        >>> import tempfile
        >>> files = simulate_sequences(n=3, length=60).save(tempfile.mkdtemp())
        >>> sorted(files)
        ['elements', 'fasta', 'labels']
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        labels = pd.DataFrame({"seq": self.seq_ids, "label": self.labels, "class": self.classes})
        labels.to_csv(d / "labels.tsv", sep="\t", index=False)
        return {
            "fasta": self.to_fasta(d / "sequences.fa"),
            "elements": self.elements_tsv(d / "elements.tsv", truth=True),
            "labels": d / "labels.tsv",
        }

    def to_dataset(self) -> Any:
        """An :class:`xarray.Dataset` with ``seq_id`` and ``seq_onehot`` (plus labels).

        The truth travels as ``sim_label`` and ``sim_class`` on ``seq``; the elements stay
        in :attr:`elements` (mutation plans are built from them).

        Examples
        --------
        >>> ds = simulate_sequences(n=3, length=50).to_dataset()
        >>> dict(ds.sizes)
        {'seq': 3, 'position': 50, 'base': 4}
        """
        return xr.Dataset(
            {
                "seq_id": ("seq", np.array(self.seq_ids, dtype=object)),
                "seq_onehot": (("seq", "position", "base"), self.onehot),
                "sim_label": ("seq", self.labels),
                "sim_class": ("seq", np.asarray(self.classes, dtype=object)),
            },
            attrs={
                "simulation_seed": int(self.seed),
                "simulation_gc": float(self.gc),
                "simulation_pair": list(self.pair),
            },
        )


def _class_counts(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    unknown = set(fractions) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown class(es) {sorted(unknown)}; classes are {CLASSES}")
    total = float(sum(fractions.values()))
    if total <= 0 or any(v < 0 for v in fractions.values()):
        raise ValueError("class fractions must be non-negative with a positive sum")
    exact = {c: n * fractions.get(c, 0.0) / total for c in CLASSES}
    counts = {c: int(np.floor(v)) for c, v in exact.items()}
    rest = n - sum(counts.values())
    for c in sorted(CLASSES, key=lambda c: -(exact[c] - counts[c]))[:rest]:
        counts[c] += 1
    return counts


def place_elements(
    widths: Sequence[int], gaps: int | Sequence[int], length: int, rng: np.random.Generator
) -> list[int] | None:
    """Random starts in ``[0, length)`` for elements laid out in the given order.

    ``gaps[i]`` is the smallest number of bases between element ``i`` and ``i + 1`` (one
    int for all). The offsets are uniform over all such layouts' sorted draws; None when
    the elements do not fit.

    Examples
    --------
    >>> starts = place_elements([3, 4], 2, 12, np.random.default_rng(0))
    >>> starts[1] - (starts[0] + 3) >= 2 and starts[1] + 4 <= 12
    True
    >>> place_elements([8, 8], 1, 12, np.random.default_rng(0)) is None
    True
    """
    k = len(widths)
    if isinstance(gaps, (int, np.integer)):
        gaps = [int(gaps)] * max(k - 1, 0)
    free = length - sum(widths) - sum(gaps)
    if free < 0:
        return None
    offsets = np.sort(rng.integers(0, free + 1, size=k))
    starts, used = [], 0
    for i, w in enumerate(widths):
        starts.append(int(offsets[i]) + used)
        used += w + (gaps[i] if i < len(gaps) else 0)
    return starts


def choose_motifs(
    motifs: str | os.PathLike | Mapping[str, np.ndarray] | None,
    pair: tuple[str, str] | None = None,
    decoys: Sequence[str] | None = None,
) -> tuple[dict[str, np.ndarray], tuple[str, str], tuple[str, ...]]:
    """The PWMs, the interacting pair (A, B) and the decoys of a simulation.

    ``motifs`` is a MEME path, a ``{name: pwm}`` mapping or None (the shipped file); the
    pair defaults to its first two motifs and the decoys to all the others.

    Examples
    --------
    >>> pwms, pair, decoys = choose_motifs(None)
    >>> pair, decoys[:2]
    (('GATA_like', 'TAL1_like'), ('AP1_like', 'SP1_like'))
    """
    pwms = load_motifs(motifs)
    names = list(pwms)
    if pair is None:
        if len(names) < 2:
            raise ValueError("the motif set needs at least two motifs for the pair (A, B)")
        pair = (names[0], names[1])
    pair = (str(pair[0]), str(pair[1]))
    if pair[0] == pair[1]:
        raise ValueError(f"the two interacting motifs must differ, got {pair}")
    if decoys is None:
        decoys = [m for m in names if m not in pair]
    decoys = tuple(str(d) for d in decoys)
    for m in (*pair, *decoys):
        if m not in pwms:
            raise ValueError(f"motif {m!r} not in the motif set {names}")
    if set(decoys) & set(pair):
        raise ValueError("a decoy cannot also be one of the interacting pair")
    return pwms, pair, decoys


def _decoy_range(n_decoys: int | tuple[int, int], available: int) -> tuple[int, int]:
    lo, hi = (n_decoys, n_decoys) if isinstance(n_decoys, (int, np.integer)) else n_decoys
    lo, hi = int(lo), int(hi)
    if lo < 0 or hi < lo:
        raise ValueError(f"n_decoys must be an int >= 0 or a range (lo, hi), got {n_decoys!r}")
    return min(lo, available), min(hi, available)


def simulate_sequences(
    n: int = 1000,
    length: int = 200,
    *,
    seed: int = 0,
    motifs: str | os.PathLike | Mapping[str, np.ndarray] | None = None,
    pair: tuple[str, str] | None = None,
    decoys: Sequence[str] | None = None,
    n_decoys: int | tuple[int, int] = (1, 2),
    class_fractions: Mapping[str, float] | None = None,
    gc: float = DEFAULT_GC,
    min_gap: int = 1,
    revcomp: float = SEQUENCE_REVCOMP,
    id_prefix: str = "sim",
) -> Simulation:
    """Simulate sequences with planted interacting motifs A, B and decoys.

    Parameters
    ----------
    n
        Number of sequences.
    length
        Sequence length.
    seed
        Random seed. Sequence ``i`` depends only on ``seed``, its id and its class, so
        changing ``seed`` or ``id_prefix`` gives independent data (e.g. a test set).
    motifs
        MEME file path, a ``{name: (width, 4) pwm}`` mapping, or None for the shipped
        :func:`dfimx.io.meme.default_motifs_path`.
    pair
        Names of the interacting motifs (A, B). Default: the first two motifs
        (``GATA_like``, ``TAL1_like`` in the shipped file).
    decoys
        Names of the decoy motifs. Default: every other motif.
    n_decoys
        Number of distinct decoys planted in each sequence, or an inclusive range
        ``(lo, hi)`` drawn uniformly per sequence.
    class_fractions
        Share of each class in :data:`CLASSES` (default :data:`DEFAULT_CLASS_FRACTIONS`).
        Counts are exact (largest remainder), and classes are shuffled over sequences.
    gc
        GC fraction of the background.
    min_gap
        Smallest number of background bases between two planted elements.
    revcomp
        Probability that an instance is planted on the minus strand.
    id_prefix
        Prefix of the sequence ids.

    Returns
    -------
    Simulation

    Examples
    --------
    >>> sim = simulate_sequences(n=20, length=120, seed=3)
    >>> sim.seq_ids[:2]
    ['sim0000', 'sim0001']
    >>> sorted(set(sim.elements["kind"]))
    ['A', 'B', 'decoy']
    >>> row = sim.elements.iloc[0]
    >>> sim.sequences[0][row.start:row.end] == row.site
    True
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= gc <= 1.0:
        raise ValueError(f"gc must be in [0, 1], got {gc}")
    if not 0.0 <= revcomp <= 1.0:
        raise ValueError(f"revcomp must be in [0, 1], got {revcomp}")
    if min_gap < 0:
        raise ValueError(f"min_gap must be >= 0, got {min_gap}")
    pwms, pair, decoys = choose_motifs(motifs, pair, decoys)
    lo, hi = _decoy_range(n_decoys, len(decoys))
    widths = {m: len(pwms[m]) for m in pwms}
    worst = (
        widths[pair[0]]
        + widths[pair[1]]
        + sum(sorted((widths[d] for d in decoys), reverse=True)[:hi])
    )
    n_worst = 2 + hi
    if worst + min_gap * (n_worst - 1) > length:
        raise ValueError(
            f"length {length} is too short for {n_worst} elements of up to {worst} bases "
            f"with min_gap={min_gap}"
        )

    counts = _class_counts(n, class_fractions or DEFAULT_CLASS_FRACTIONS)
    classes = np.array([c for c in CLASSES for _ in range(counts[c])], dtype=object)
    class_rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, stable_key(id_prefix, "classes")])
    classes = classes[class_rng.permutation(n)]
    digits = max(4, len(str(max(n - 1, 0))))
    seq_ids = [f"{id_prefix}{i:0{digits}d}" for i in range(n)]
    background = gc_background(gc)
    rc_pwms = {m: reverse_complement_pwm(p) for m, p in pwms.items()}

    codes = np.empty((n, length), dtype=np.int8)
    records: list[tuple] = []
    for i, (sid, cls) in enumerate(zip(seq_ids, classes, strict=True)):
        rng = sequence_rng(seed, sid, "simulate")
        codes[i] = rng.choice(4, size=length, p=background)
        planted = [(m, k) for m, k in ((pair[0], "A"), (pair[1], "B")) if k in cls]
        k = int(rng.integers(lo, hi + 1)) if decoys else 0
        if k:
            planted += [(str(m), "decoy") for m in rng.choice(decoys, size=k, replace=False)]
        planted = [planted[j] for j in rng.permutation(len(planted))]
        starts = place_elements([widths[m] for m, _ in planted], min_gap, length, rng)
        for (m, kind), start in zip(planted, starts, strict=True):
            minus = revcomp > 0 and rng.random() < revcomp
            site = sample_motif(rc_pwms[m] if minus else pwms[m], rng)
            end = start + len(site)
            codes[i, start:end] = site
            records.append(
                (sid, start, end, m, "both", kind, kind != "decoy", "-" if minus else "+",
                 "".join(BASES[c] for c in site))
            )
    elements = pd.DataFrame.from_records(
        records,
        columns=["seq", "start", "end", "name", "role", "kind", "is_pair_member", "strand",
                 "site"],
    )
    elements = elements.astype(
        {"start": np.int64, "end": np.int64, "is_pair_member": bool}
    )
    order = {s: j for j, s in enumerate(seq_ids)}
    elements = (
        elements.assign(_o=elements["seq"].map(order))
        .sort_values(["_o", "start"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )
    labels = (classes == "AB").astype(np.int64)
    return Simulation(
        onehot=codes_to_onehot(codes),
        seq_ids=seq_ids,
        labels=labels,
        classes=classes,
        elements=elements,
        motifs=pwms,
        pair=pair,
        decoys=decoys,
        seed=int(seed),
        gc=float(gc),
    )
