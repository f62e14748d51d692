"""Shared fixtures: small models built in code and files written by the tests."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest


def random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, length))]


def onehot_strings(onehot: np.ndarray) -> list[str]:
    letters = np.array(list("ACGT"))
    return ["".join(letters[row.argmax(-1)]) for row in onehot]


def write_fasta(path, ids, seqs) -> str:
    with open(path, "w") as fh:
        for i, s in zip(ids, seqs, strict=True):
            fh.write(f">{i}\n{s}\n")
    return str(path)


def randomize_weights(model, seed: int = 0, *, scale: float = 0.5, nested: bool = True):
    """Random weights (normal, ``scale``); BatchNorm gets plausible statistics."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if nested and isinstance(layer, keras.Model):
            randomize_weights(layer, seed + 1, scale=scale)
            continue
        ws = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            n = ws[0].shape
            layer.set_weights([rng.normal(1, 0.3, n), rng.normal(0, 0.3, n),
                               rng.normal(0, 0.3, n), rng.uniform(0.5, 2, n)])
        elif ws:
            layer.set_weights([rng.normal(0, scale, w.shape).astype("float32") for w in ws])
    return model


def small_cnn(length: int = 40, n_out: int = 1, seed: int = 0, activation: str = "sigmoid"):
    """A small nonlinear CNN with a sigmoid head (random weights, deterministic)."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((length, 4), name="sequence")
    h = keras.layers.Conv1D(6, 5, padding="same", activation="relu")(inp)
    h = keras.layers.Conv1D(4, 3, padding="same", activation="tanh")(h)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(8, activation="relu")(h)
    out = keras.layers.Dense(n_out, activation=activation, name="head")(h)
    return keras.Model(inp, out)


@pytest.fixture
def two_sequences():
    """Two 20-bp sequences ``s1``, ``s2``, one per chunk."""
    from dfimx.sequences import from_strings

    return from_strings(["ACGTACGTACGTACGTACGT", "TTTTGGGGCCCCAAAATTTT"], ids=["s1", "s2"],
                        chunk_size=1)


@pytest.fixture(scope="session")
def cnn_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "cnn.keras"
    small_cnn().save(path)
    return str(path)


@pytest.fixture(scope="session")
def oracle_files(tmp_path_factory, cnn_path):
    """FASTA + elements for 6 random sequences of length 40 (sources at both edges)."""
    d = tmp_path_factory.mktemp("oracle")
    x = random_onehot(6, 40, seed=3)
    ids = [f"s{i}" for i in range(6)]
    fasta = write_fasta(d / "seqs.fa", ids, onehot_strings(x))
    rows = []
    for sid in ids:
        rows += [
            (sid, 0, 4, "edge_left", "both"),
            (sid, 10, 16, "mid", "both"),
            (sid, 14, 20, "overlap_mid", "target"),
            (sid, 25, 30, "right", "target"),
            (sid, 36, 40, "edge_right", "both"),
        ]
    elements = d / "elements.tsv"
    pd.DataFrame(rows, columns=["seq", "start", "end", "name", "role"]).to_csv(
        elements, sep="\t", index=False
    )
    return {"dir": d, "fasta": fasta, "elements": str(elements), "onehot": x, "ids": ids,
            "model": cnn_path}


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory):
    """The demo's A-and-B CNN (same settings as ``dfimx demo``), trained once per session."""
    from dfimx import simulate

    path = tmp_path_factory.mktemp("demo_model") / "model.keras"
    simulate.cached_demo_model(path)
    return str(path)
