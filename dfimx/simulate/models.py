"""Tiny Keras models for demos and tests: the simulation's CNN, training and evaluation,
a model with no interactions (:func:`additive_model`) and random CNNs.

Keras (and TensorFlow) is imported when a model is built, not when this module is
imported, so that commands which need no model stay light.

Examples
--------
>>> sim, model = simulate(n=10, length=80, train=False)
>>> len(sim), model is None
(10, True)
>>> random_cnn(80).output_shape
(None, 1)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfimx.io.meme import default_motifs_path, load_motifs
from dfimx.motifs.pwm import log_odds
from dfimx.simulate.sequences import Simulation, simulate_sequences

__all__ = [
    "ADDITIVE_PSEUDOCOUNT",
    "DEMO_SETTINGS",
    "additive_model",
    "auroc",
    "build_cnn",
    "cached_demo_model",
    "evaluate",
    "random_cnn",
    "save_model",
    "simulate",
    "train_model",
]

#: Settings of :func:`cached_demo_model` (kept next to the model file to detect stale caches).
DEMO_SETTINGS: dict[str, Any] = {"n": 4000, "length": 200, "seed": 0, "epochs": 15}
#: Pseudocount of the log-odds filters of :func:`additive_model` on a uniform background:
#: ``4e-3`` adds 1e-3 to every letter probability.
ADDITIVE_PSEUDOCOUNT = 4e-3


def _keras() -> Any:
    import keras  # imported here: TensorFlow loads only when a model is built

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
        lo = log_odds(pwms[m], "uniform", pseudocount=ADDITIVE_PSEUDOCOUNT)
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
