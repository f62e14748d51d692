"""Simulated regulatory sequences with planted motifs, and tiny models for demos and tests.

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

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfimx.alphabet import BASES, codes_to_onehot, onehot_to_strings
from dfimx.seeding import sequence_rng, stable_key
from dfimx.motifs import load_motifs, pwm_log_odds, reverse_complement_pwm, sample_motif

__all__ = [
    "CLASSES",
    "DEFAULT_CLASS_FRACTIONS",
    "Simulation",
    "additive_model",
    "auroc",
    "build_cnn",
    "cached_demo_model",
    "evaluate",
    "random_cnn",
    "save_model",
    "simulate",
    "simulate_sequences",
    "train_model",
]

#: Simulation classes: which of the interacting motifs A and B a sequence holds.
CLASSES = ("AB", "A", "B", "none")
#: Default share of each class (40 % positives).
DEFAULT_CLASS_FRACTIONS: dict[str, float] = {"AB": 0.4, "A": 0.25, "B": 0.25, "none": 0.1}
#: Columns of :attr:`Simulation.elements` written by :meth:`Simulation.elements_tsv`.
ELEMENT_COLUMNS = ("seq", "start", "end", "name", "role")
#: Settings of :func:`cached_demo_model` (kept next to the model file to detect stale caches).
DEMO_SETTINGS: dict[str, Any] = {"n": 4000, "length": 200, "seed": 0, "epochs": 15}


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
    gc: float = 0.46

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
        p = Path(path)
        with open(p, "w") as fh:
            for sid, s in zip(self.seq_ids, self.sequences, strict=True):
                fh.write(f">{sid}\n")
                step = line_width or len(s) or 1
                for i in range(0, len(s), step):
                    fh.write(s[i : i + step] + "\n")
        return p

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
        import xarray as xr

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


def _place(widths: list[int], length: int, gap: int, rng: np.random.Generator) -> list[int]:
    """Random non-overlapping starts for elements laid out in the given order."""
    k = len(widths)
    free = length - sum(widths) - gap * max(k - 1, 0)
    offsets = np.sort(rng.integers(0, free + 1, size=k))
    starts, used = [], 0
    for i, w in enumerate(widths):
        starts.append(int(offsets[i]) + used + gap * i)
        used += w
    return starts


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
    gc: float = 0.46,
    min_gap: int = 1,
    revcomp: float = 0.0,
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
        :func:`dfimx.motifs.default_motifs_path`.
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
    background = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
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
        starts = _place([widths[m] for m, _ in planted], length, min_gap, rng)
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


# ----------------------------------------------------------------------------- models


def _keras() -> Any:
    import keras

    return keras


def build_cnn(
    length: int | None = 200,
    *,
    n_filters: int = 16,
    width: int = 11,
    hidden: int = 16,
    output_name: str = "AandB",
    seed: int = 0,
    pooling: str = "max",
    head: str = "linear",
) -> Any:
    """The small CNN trained by :func:`train_model` (untrained).

    ``Conv1D`` (ReLU) → ``GlobalMaxPooling1D`` → ``Dense`` (ReLU) → ``Dense(1)`` named
    ``output_name``. With ``head="linear"`` (the default) the output is a regression of the
    label (an "activity"), so the A-and-B rule must be computed by the hidden layer and
    shows up in the scored output; with ``head="sigmoid"`` it is a classifier whose logit
    dfimx scores, and such a classifier may implement AND as an additive logit followed by
    the sigmoid threshold (then the logit has no interaction to find).
    Every layer is one that DeepLIFT (and the deeplift package) supports.

    Examples
    --------
    >>> m = build_cnn(100)
    >>> [l.__class__.__name__ for l in m.layers][1:]
    ['Conv1D', 'GlobalMaxPooling1D', 'Dense', 'Dense']
    >>> m.output_shape
    (None, 1)
    """
    keras = _keras()
    init = keras.initializers
    inp = keras.Input(shape=(length, 4), name="sequence")
    x = keras.layers.Conv1D(
        n_filters, width, activation="relu", name="conv",
        kernel_initializer=init.GlorotUniform(seed=seed),
    )(inp)
    if pooling == "max":
        x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
    elif pooling == "average":
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    else:
        raise ValueError(f"pooling must be 'max' or 'average', got {pooling!r}")
    x = keras.layers.Dense(
        hidden, activation="relu", name="hidden",
        kernel_initializer=init.GlorotUniform(seed=seed + 1),
    )(x)
    if head not in ("sigmoid", "linear"):
        raise ValueError(f"head must be 'sigmoid' or 'linear', got {head!r}")
    out = keras.layers.Dense(
        1, activation=head, name=output_name,
        kernel_initializer=init.GlorotUniform(seed=seed + 2),
    )(x)
    return keras.Model(inp, out, name="dfimx_sim_cnn")


def train_model(
    sim: Simulation,
    *,
    epochs: int = 15,
    seed: int = 0,
    batch_size: int = 32,
    learning_rate: float = 5e-3,
    n_filters: int = 16,
    width: int = 11,
    hidden: int = 16,
    output_name: str = "AandB",
    fixed_length: bool = True,
    verbose: int = 0,
    pooling: str = "max",
    head: str = "linear",
) -> Any:
    """Train :func:`build_cnn` on a simulation's labels (the A-and-B rule).

    Training is deterministic for a given ``seed`` on a given machine and thread count:
    the weights are initialized from seeded initializers and
    :func:`keras.utils.set_random_seed` seeds the shuffling (note that it also reseeds
    Python's, NumPy's and TensorFlow's global generators).

    Parameters
    ----------
    sim
        Training data.
    epochs, batch_size, learning_rate
        Adam optimization settings.
    seed
        Seed of initialization and shuffling.
    n_filters, width, hidden, output_name
        Architecture (see :func:`build_cnn`).
    fixed_length
        Give the model a fixed input length (the simulation's); otherwise any length.
    verbose
        Passed to :meth:`keras.Model.fit`.

    Returns
    -------
    keras.Model
        Compiled model with an output named ``output_name`` (linear regression of the
        label by default, trained with mean squared error; ``head="sigmoid"`` trains a
        classifier with binary cross-entropy).

    Examples
    --------
    >>> sim = simulate_sequences(n=4000, seed=0)                    # doctest: +SKIP
    >>> model = train_model(sim)                                     # doctest: +SKIP
    >>> test = simulate_sequences(n=500, seed=1, id_prefix="test")   # doctest: +SKIP
    >>> evaluate(model, test)["auroc"] > 0.95                        # doctest: +SKIP
    True
    """
    keras = _keras()
    keras.utils.set_random_seed(int(seed))
    model = build_cnn(
        sim.length if fixed_length else None,
        n_filters=n_filters, width=width, hidden=hidden, output_name=output_name, seed=seed,
        pooling=pooling, head=head,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy" if head == "sigmoid" else "mse",
        metrics=["accuracy"] if head == "sigmoid" else [],
    )
    x = sim.onehot.astype(np.float32)
    y = sim.labels.astype(np.float32)[:, None]
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose)
    return model


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), NaN when one class is missing.

    Examples
    --------
    >>> auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(model: Any, sim: Simulation, *, batch_size: int = 256) -> dict[str, float]:
    """AUROC and accuracy (threshold 0.5) of a model's output on a simulation.

    Examples
    --------
    >>> sim = simulate_sequences(n=20, length=60)
    >>> sorted(evaluate(random_cnn(60), sim))
    ['accuracy', 'auroc']
    """
    x = sim.onehot.astype(np.float32)
    p = np.asarray(model.predict(x, batch_size=batch_size, verbose=0)).reshape(len(sim), -1)[:, 0]
    return {
        "auroc": auroc(sim.labels, p),
        "accuracy": float(((p > 0.5).astype(np.int64) == sim.labels).mean()),
    }


def simulate(
    n: int = 4000,
    length: int = 200,
    *,
    seed: int = 0,
    train: bool = True,
    epochs: int = 15,
    **kwargs: Any,
) -> tuple[Simulation, Any]:
    """Simulate sequences and (optionally) train the CNN on them.

    Parameters
    ----------
    n, length, seed
        See :func:`simulate_sequences`; ``seed`` also seeds training.
    train
        Train a model (else the second item is None).
    epochs
        Training epochs.
    **kwargs
        Further arguments of :func:`simulate_sequences`.

    Examples
    --------
    >>> sim, model = simulate(n=10, length=80, train=False)
    >>> len(sim), model is None
    (10, True)
    """
    sim = simulate_sequences(n, length, seed=seed, **kwargs)
    model = train_model(sim, epochs=epochs, seed=seed) if train else None
    return sim, model


def save_model(model: Any, path: str | os.PathLike) -> Path:
    """Save a Keras model as ``.keras`` atomically (temporary file, then rename).

    Examples
    --------
    >>> import tempfile
    >>> save_model(random_cnn(50), tempfile.mkdtemp() + "/m.keras").suffix
    '.keras'
    """
    p = Path(path)
    if p.suffix != ".keras":
        raise ValueError(f"{p}: the model file name must end in .keras")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def _motif_file_digest() -> str:
    import hashlib

    from dfimx.motifs import default_motifs_path

    return hashlib.sha256(Path(default_motifs_path()).read_bytes()).hexdigest()[:16]


def cached_demo_model(
    path: str | os.PathLike,
    *,
    n: int = DEMO_SETTINGS["n"],
    length: int = DEMO_SETTINGS["length"],
    seed: int = DEMO_SETTINGS["seed"],
    epochs: int = DEMO_SETTINGS["epochs"],
) -> Any:
    """The demo model: loaded from ``path`` if there, else trained and saved there.

    The model is trained on ``simulate_sequences(n, length, seed=seed)`` (call it again
    to get the training data). The settings are kept in ``<path>.json``; a file trained
    with other settings is retrained.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> model = cached_demo_model("demo/model.keras")   # doctest: +SKIP
    >>> model.output_names                              # doctest: +SKIP
    ['AandB']
    """
    keras = _keras()
    p = Path(path)
    meta = p.with_name(p.name + ".json")
    settings = {"n": n, "length": length, "seed": seed, "epochs": epochs,
                "model": "cnn-linear-head", "motifs": _motif_file_digest()}
    if p.exists() and meta.exists():
        try:
            stored = json.loads(meta.read_text())
        except ValueError:
            stored = None
        if stored == settings:
            return keras.saving.load_model(p, compile=False)
    _, model = simulate(n, length, seed=seed, epochs=epochs)
    save_model(model, p)
    meta.write_text(json.dumps(settings))
    return model


def additive_model(
    length: int | None,
    motifs: str | os.PathLike | Mapping[str, np.ndarray] | None = None,
    *,
    names: Sequence[str] | None = None,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    both_strands: bool = True,
    threshold: float = 0.5,
    output_activation: str = "linear",
    output_name: str = "additive",
) -> Any:
    """A model whose output is a sum of local PWM-match contributions (no interactions).

    ``Conv1D`` with fixed log-odds PWM filters (zero-padded to the widest motif, width
    ``w``; both strands by default) and a ReLU that fires on matches scoring above
    ``threshold`` × the motif's best score, then a *sum* over positions
    (``GlobalAveragePooling1D`` followed by a linear ``Dense`` scaled by the number of
    windows), weighted per motif. The output is ``sum_p g(x[p:p+w])``: two sources whose
    gap (bases between them) is at least ``w - 1`` share no window, so the double-mutant
    epistasis ``f(x) - f(x-a) - f(x-b) + f(x-a-b)`` is exactly 0 (up to float rounding)
    for any kind of mutation. With ``output_activation="sigmoid"`` the *logit* is additive.

    Parameters
    ----------
    length
        Input length (``None`` is not allowed: the sum needs the number of windows).
    motifs
        MEME path, mapping, or None for the shipped motifs.
    names
        Motifs to use (default all).
    weights
        Per-motif output weight (mapping or sequence in ``names`` order; default 1).
    both_strands
        Add reverse-complement filters.
    threshold
        Fraction of a motif's best log-odds score subtracted as the filter bias.
    output_activation
        Activation of the output layer (``"linear"`` or ``"sigmoid"``).
    output_name
        Name of the output layer.

    Examples
    --------
    >>> m = additive_model(100)
    >>> m.get_layer("pwm_scan").kernel_size
    (12,)
    >>> x = simulate_sequences(n=2, length=100).onehot.astype("float32")
    >>> m.predict(x, verbose=0).shape
    (2, 1)
    """
    keras = _keras()
    if length is None:
        raise ValueError("additive_model needs a fixed input length")
    pwms = load_motifs(motifs)
    names = list(pwms) if names is None else [str(m) for m in names]
    missing = [m for m in names if m not in pwms]
    if missing:
        raise ValueError(f"motif(s) {missing} not in the motif set {list(pwms)}")
    if weights is None:
        w_out = np.ones(len(names))
    elif isinstance(weights, Mapping):
        w_out = np.array([float(weights.get(m, 1.0)) for m in names])
    else:
        w_out = np.asarray(weights, dtype=np.float64)
        if w_out.shape != (len(names),):
            raise ValueError(f"weights must have one value per motif ({len(names)})")
    width = max(len(pwms[m]) for m in names)
    if width > length:
        raise ValueError(f"length {length} is shorter than the widest motif ({width})")
    filters, biases, outs = [], [], []
    for m, wo in zip(names, w_out, strict=True):
        lo = pwm_log_odds(pwms[m])
        variants = [lo, lo[::-1, ::-1]] if both_strands else [lo]
        for v in variants:
            k = np.zeros((width, 4))
            k[: len(v)] = v
            filters.append(k)
            biases.append(-threshold * v.max(axis=1).sum())
            outs.append(wo)
    kernel = np.stack(filters, axis=-1).astype(np.float32)
    n_windows = length - width + 1
    inp = keras.Input(shape=(length, 4), name="sequence")
    conv = keras.layers.Conv1D(
        kernel.shape[-1], width, activation="relu", name="pwm_scan", trainable=False
    )
    x = conv(inp)
    x = keras.layers.GlobalAveragePooling1D(name="sum_pool")(x)
    dense = keras.layers.Dense(1, activation=output_activation, name=output_name, trainable=False)
    out = dense(x)
    conv.set_weights([kernel, np.asarray(biases, dtype=np.float32)])
    dense.set_weights(
        [(np.asarray(outs) * n_windows).astype(np.float32)[:, None], np.zeros(1, np.float32)]
    )
    return keras.Model(inp, out, name="dfimx_additive")


def random_cnn(
    length: int | None = 200,
    seed: int = 0,
    *,
    n_filters: int = 8,
    width: int = 9,
    pool: int = 4,
    hidden: int = 8,
    n_tasks: int = 1,
    output_name: str = "random",
) -> Any:
    """A randomly initialized nonlinear CNN (deterministic for ``seed``), for calibration.

    ``Conv1D`` (ReLU) → ``MaxPooling1D`` → ``Flatten`` → ``Dense`` (ReLU) →
    ``Dense(n_tasks)`` with a sigmoid. Weights come from seeded initializers only, so
    the same ``seed`` gives the same model without touching global random state.

    Examples
    --------
    >>> a, b = random_cnn(60, seed=4), random_cnn(60, seed=4)
    >>> all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    True
    >>> random_cnn(60, n_tasks=3).output_shape
    (None, 3)
    """
    keras = _keras()
    init = keras.initializers
    if length is None:
        raise ValueError("random_cnn needs a fixed input length")
    inp = keras.Input(shape=(length, 4), name="sequence")
    x = keras.layers.Conv1D(
        n_filters, width, activation="relu", name="conv",
        kernel_initializer=init.GlorotUniform(seed=seed),
        bias_initializer=init.RandomNormal(0.0, 0.1, seed=seed + 1),
    )(inp)
    x = keras.layers.MaxPooling1D(pool, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(
        hidden, activation="relu", name="hidden",
        kernel_initializer=init.GlorotUniform(seed=seed + 2),
        bias_initializer=init.RandomNormal(0.0, 0.1, seed=seed + 3),
    )(x)
    out = keras.layers.Dense(
        n_tasks, activation="sigmoid", name=output_name,
        kernel_initializer=init.GlorotUniform(seed=seed + 4),
    )(x)
    return keras.Model(inp, out, name="dfimx_random_cnn")
