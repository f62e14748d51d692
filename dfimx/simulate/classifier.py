"""Trained classifiers for measuring nulls: where the shuffled null fails, and why.

* :func:`classifier_simulation`: three classes as in the DFIM paper (A only, B only,
  A and B) with decoy motifs in every class; the label is "A and B".
* :func:`train_classifier`: the small CNN with a sigmoid head trained on it (dfimx scores
  the logit).  On a real sequence the network is in an active regime, so mutating any
  region moves the importance of the true motifs a little: decoy -> true-motif pairs get
  small non-zero scores that shuffled sequences (no active motifs) never reach.
* :func:`local_field_model`: two stacked convolutions, then average pooling: positions
  further apart than its receptive field (:data:`LOCAL_FIELD`) never interact.
* :func:`cached_classifier`: a trained model kept on disk, retrained when its settings
  change (tests and benchmarks share it).
* :func:`null_calibration`: run DFIM with a null on a simulation and count the tests at
  ``q < alpha`` among true pairs (A -> B, B -> A in A-and-B sequences; also only in those
  the model reads as A and B) and decoy pairs (any pair with a decoy motif), plus
  ``p < alpha`` rates and the rates of the symmetric (pair) score.

Keras (and TensorFlow) is imported when a model is built.

Examples
--------
>>> sim = classifier_simulation(n=30, length=120)
>>> sorted(set(sim.classes)), bool((sim.elements.groupby("seq").kind.apply(
...     lambda k: (k == "decoy").any())).all())
(['A', 'AB', 'B'], True)
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfimx.alphabet import DEFAULT_GC
from dfimx.simulate.models import save_model, train_model
from dfimx.simulate.sequences import Simulation, simulate_sequences

__all__ = [
    "CLASSIFIER_FRACTIONS",
    "CLASSIFIER_SETTINGS",
    "LOCAL_FIELD",
    "LOGIT_SCALE",
    "cached_classifier",
    "classifier_simulation",
    "local_field_model",
    "null_calibration",
    "train_classifier",
]

#: The three classes of the DFIM paper's simulation: A only, B only, A and B.
CLASSIFIER_FRACTIONS: dict[str, float] = {"AB": 1 / 3, "A": 1 / 3, "B": 1 / 3, "none": 0.0}
#: Training settings of :func:`cached_classifier` (seconds on two cores).
CLASSIFIER_SETTINGS: dict[str, Any] = {"n": 3000, "length": 200, "seed": 0, "epochs": 12,
                                       "gc": DEFAULT_GC, "kind": "sigmoid"}
#: Logit of the sigmoid classifier per unit of the fitted activity (0 = none, 1 = A and B).
LOGIT_SCALE = 8.0
#: Receptive field (bases) of :func:`local_field_model`: widths 11 + 15 - 1.
LOCAL_FIELD = 25


def classifier_simulation(n: int = 2000, length: int = 200, *, seed: int = 0,
                          gc: float = DEFAULT_GC, id_prefix: str = "clf") -> Simulation:
    """Sequences of the three classes A, B, AB with one or two decoy motifs in each.

    Examples
    --------
    >>> classifier_simulation(n=6, length=120).labels.tolist()
    [1, 0, 1, 0, 0, 0]
    """
    return simulate_sequences(n, length, seed=seed, gc=gc, n_decoys=(1, 2),
                              class_fractions=CLASSIFIER_FRACTIONS, id_prefix=id_prefix)


def train_classifier(sim: Simulation, *, epochs: int = 12, seed: int = 0,
                     kind: str = "sigmoid", finetune_epochs: int = 0,
                     logit_scale: float = LOGIT_SCALE) -> Any:
    """Train the sigmoid classifier (``kind="sigmoid"``) or the local-field model (``"local"``).

    The sigmoid classifier is the CNN of :func:`dfimx.simulate.train_model` fitted to the
    label (A and B) with a linear output for ``epochs``, whose output then goes through a
    sigmoid with logit ``logit_scale * (activity - 1/2)``, optionally fine-tuned with
    binary cross-entropy for ``finetune_epochs``.  Trained with cross-entropy from the
    start, a CNN this small implements "A and B" as an additive logit cut by the sigmoid
    (A -> B pairs reach p < 0.05 in 43-69 % of tests, see the README), so the logit has
    little interaction to find; fitted to the label first, the AND lives in the hidden
    ReLU layer, as in the trained models the null must work on.

    Examples
    --------
    >>> model = train_classifier(classifier_simulation(n=64, length=120), epochs=1)
    >>> model.layers[-1].activation.__name__
    'sigmoid'
    """
    import keras  # imported here: TensorFlow loads only when a model is built

    if kind == "local":
        keras.utils.set_random_seed(int(seed))
        model = local_field_model(sim.length, seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="mse")
        model.fit(sim.onehot.astype(np.float32), sim.labels.astype(np.float32)[:, None],
                  epochs=epochs, batch_size=32, shuffle=True, verbose=0)
        return model
    if kind != "sigmoid":
        raise ValueError(f"kind must be 'sigmoid' or 'local', got {kind!r}")
    linear = train_model(sim, epochs=epochs, seed=seed, head="linear")
    w, b = linear.layers[-1].get_weights()
    out = keras.layers.Dense(1, activation="sigmoid", name="AandB")(linear.layers[-2].output)
    model = keras.Model(linear.input, out, name="dfimx_sim_classifier")
    model.layers[-1].set_weights([w * logit_scale, b * logit_scale - logit_scale / 2])
    if finetune_epochs:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        model.fit(sim.onehot.astype(np.float32), sim.labels.astype(np.float32)[:, None],
                  epochs=finetune_epochs, batch_size=32, shuffle=True, verbose=0)
    return model


def local_field_model(length: int | None = 200, *, seed: int = 0) -> Any:
    """Conv(11) -> ReLU -> Conv(15) -> ReLU -> average pooling -> linear (untrained).

    Two positions interact only through a second-layer unit that sees both, so pairs
    further apart than :data:`LOCAL_FIELD` bases have exactly zero interaction.

    Examples
    --------
    >>> local_field_model(100).output_shape
    (None, 1)
    """
    import keras  # imported here: TensorFlow loads only when a model is built

    init = keras.initializers
    inp = keras.Input(shape=(length, 4), name="sequence")
    x = keras.layers.Conv1D(16, 11, activation="relu", name="conv",
                            kernel_initializer=init.GlorotUniform(seed=seed))(inp)
    x = keras.layers.Conv1D(8, LOCAL_FIELD - 10, activation="relu", name="conv2",
                            kernel_initializer=init.GlorotUniform(seed=seed + 1))(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    out = keras.layers.Dense(1, name="AandB",
                             kernel_initializer=init.GlorotUniform(seed=seed + 2))(x)
    return keras.Model(inp, out, name="dfimx_local_field")


def cached_classifier(path: str | os.PathLike | None = None, **settings: Any) -> Path:
    """Path of a trained classifier (:data:`CLASSIFIER_SETTINGS` updated by ``settings``),
    trained and saved on first use, reused while its settings match (``<path>.json``).

    By default the file lives in the temporary directory, named by its settings.
    """
    wanted = {**CLASSIFIER_SETTINGS, **settings}
    if path is None:
        tag = "-".join(f"{k}{wanted[k]}" for k in sorted(wanted))
        path = Path(tempfile.gettempdir()) / "dfimx-models" / f"classifier-{tag}.keras"
    p = Path(path)
    meta = p.with_name(p.name + ".json")
    if p.exists() and meta.exists():
        try:
            if json.loads(meta.read_text()) == wanted:
                return p
        except ValueError:
            pass
    sim = classifier_simulation(wanted["n"], wanted["length"], seed=wanted["seed"],
                                gc=wanted["gc"])
    model = train_classifier(sim, epochs=wanted["epochs"], seed=wanted["seed"],
                             kind=wanted["kind"])
    save_model(model, p)
    meta.write_text(json.dumps(wanted))
    return p


def _pair_kinds(sim: Simulation, ds: Any) -> np.ndarray:
    """``(seq, mutation, response)`` codes: 1 true pair, 2 decoy pair, 0 other."""
    kinds = {(r.seq, int(r.start)): r.kind for r in sim.elements.itertuples()}
    ids = [str(s) for s in ds["seq_id"].values]
    ms, rs = ds["mutation_start"].values, ds["response_start"].values
    out = np.zeros(ms.shape + rs.shape[1:], np.int8)
    for i, sid in enumerate(ids):
        src = [kinds.get((sid, int(a))) for a in ms[i]]
        tgt = [kinds.get((sid, int(b))) for b in rs[i]]
        for m, a in enumerate(src):
            for r, b in enumerate(tgt):
                if a is None or b is None:
                    continue
                if {a, b} == {"A", "B"}:
                    out[i, m, r] = 1
                elif "decoy" in (a, b):
                    out[i, m, r] = 2
    return out


def null_calibration(
    model: Any,
    sim: Simulation,
    *,
    alpha: float = 0.05,
    output: str | os.PathLike | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run DFIM with a null on ``sim`` and measure its calls on true and decoy pairs.

    Every planted element is a source and a target.  ``options`` are
    :class:`dfimx.settings.Settings` fields (``null``, ``null_draws``, ...) and
    ``chunk_size`` / ``batch_size``.

    Returns
    -------
    dict with ``true_q`` / ``decoy_q`` (fraction of true-pair / decoy-pair tests at
    ``q < alpha``), ``true_p`` / ``decoy_p`` (at ``p < alpha``), the test counts and the
    settings' ``null`` and ``null_level``; ``true_read_q`` (``n_true_read`` tests): the
    true-pair tests of the A-and-B sequences the model reads as such (output > 1/2,
    ``ab_read`` of them), where the model encodes the pair at all (in the others a planted
    motif is a weak draw from its PWM the model does not see, and the exact double-mutant
    epistasis is near 0); ``true_sym_q``, ``true_read_sym_q``, ``decoy_sym_q``: the same
    rates with the pair tested by its symmetric score (the mean of both directions).
    """
    from dfimx.dfim import compute_dfim  # imported here: the simulation modules stay light
    from dfimx.plans import plan_dataset  # imported here, as above
    from dfimx.sequences import from_onehot  # imported here, as above
    from dfimx.store import open_result, write_store  # imported here, as above

    chunk = int(options.pop("chunk_size", 128))
    batch = int(options.pop("batch_size", 256))
    elements = sim.elements[["seq", "start", "end", "name"]].copy()
    ds = plan_dataset(from_onehot(sim.onehot, sim.seq_ids, chunk_size=chunk),
                      elements=elements)
    result = compute_dfim(ds, model, batch_size=batch, **options)
    path = output or Path(tempfile.mkdtemp(prefix="dfimx-calibration-")) / "run.zarr"
    out = open_result(write_store(result, path, progress=False))
    kinds = _pair_kinds(sim, out)[..., None]
    score = out["interaction_score"].values
    p, q = out["interaction_p_value"].values, out["interaction_q_value"].values
    tested = ~np.isnan(score)
    res: dict[str, Any] = {"null": out.attrs["null"], "null_level": out.attrs["null_level"]}
    for code, name in ((1, "true"), (2, "decoy")):
        sel = tested & (kinds == code)
        res[f"n_{name}"] = int(sel.sum())
        res[f"{name}_q"] = float((q[sel] < alpha).mean()) if sel.any() else float("nan")
        res[f"{name}_p"] = float((p[sel] < alpha).mean()) if sel.any() else float("nan")
    # the true pairs of the sequences the model itself reads as "A and B" (output > 1/2):
    # in the others the planted A or B is too weak for the model to see
    called = _model_output(model, sim.onehot) > 0.5
    sel = tested & (kinds == 1) & called[:, None, None, None]
    res["n_true_read"] = int(sel.sum())
    res["true_read_q"] = float((q[sel] < alpha).mean()) if sel.any() else float("nan")
    # the pair tested as a pair: the symmetric score (mean of both directions)
    if "symmetric_q_value" in out:
        sq = out["symmetric_q_value"].values
        for code, name, extra in ((1, "true", None), (1, "true_read", called),
                                  (2, "decoy", None)):
            sel = tested & (kinds == code) & ~np.isnan(sq)
            if extra is not None:
                sel &= extra[:, None, None, None]
            res[f"{name}_sym_q"] = float((sq[sel] < alpha).mean()) if sel.any() else float("nan")
    ab = np.asarray(sim.classes) == "AB"
    res["ab_read"] = float(called[ab].mean()) if ab.any() else float("nan")
    res["null_draws_needed"] = int(out["interaction_p_value"].attrs.get("null_draws_needed", 0))
    return res


def _model_output(model: Any, onehot: np.ndarray) -> np.ndarray:
    """The model's output (after its last activation) on ``onehot``, first task."""
    from dfimx.models import load_keras_model  # imported here: TensorFlow loads on use

    if isinstance(model, (str, os.PathLike)):
        model = load_keras_model(model)
    out = model.predict(np.asarray(onehot, np.float32), batch_size=256, verbose=0)
    out = out[0] if isinstance(out, (list, tuple)) else out
    return np.asarray(out, np.float64).reshape(len(onehot), -1)[:, 0]


def calibration_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows of :func:`null_calibration` as a table (one line per case and null)."""
    return pd.DataFrame(rows)
