"""The deeplift package (kundajelab, 0.6.13) as an oracle and optional backend.

The package is TensorFlow-1 graph code.  It runs here in a *separate process*
(:mod:`dfimx.attribution.package_worker`) whose ``tensorflow`` import is ``tf.compat.v1`` with
version-2 behaviour disabled, so the calling process keeps eager execution.  The Keras 3
model is translated into the Keras 2 style layer configs the package expects, with the
weights filled in directly (its own h5 reader does not work with h5py 3).  Inputs, references,
weights and results travel as ``.npy`` files in a temporary directory, read without pickle.

Only ``Sequential`` models of Conv1D, Dense, (global) max/average pooling (1D),
BatchNormalization, Dropout, Flatten and Activation layers with relu, sigmoid, tanh, softmax
or linear activations can be converted; anything else raises
:class:`dfimx.errors.InputError`.

This module is a plug-in of the method registry: importing it registers the methods
``deeplift-package:rescale``, ``deeplift-package:revealcancel`` and
``deeplift-package:genomics_default``.

Examples
--------
>>> import numpy as np, keras
>>> m = keras.Sequential([keras.Input((10, 4)), keras.layers.Conv1D(3, 4, activation="relu"),
...                       keras.layers.Flatten(), keras.layers.Dense(1)])
>>> X = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (2, 10))]
>>> deeplift_package_scores(m, X, mode="rescale").shape        # doctest: +SKIP
(2, 10, 4)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dfimx.attribution.registry import register_method
from dfimx.errors import InputError
from dfimx.models import Scorer, activation_name, build_scorer, load_keras_model

PACKAGE_MODES = ("rescale", "revealcancel", "genomics_default", "gradient")
_ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "linear")


@dataclass
class PackageJob:
    """One model and input set to score with the deeplift package.

    ``references`` is ``(N, L, 4)``, ``(N, K, L, 4)`` (scores are averaged over K) or None
    (zeros); ``tasks`` are indices of the last layer's units (pre-activation).
    """

    model: Any
    X: np.ndarray
    references: np.ndarray | None = None
    mode: str = "rescale"
    tasks: Sequence[int] = (0,)
    batch_size: int = 200
    timings: dict[str, float] = field(default_factory=dict)


def _package_activation(act: Any, layer: Any) -> str:
    name = activation_name(act)
    if name not in _ACTIVATIONS:
        raise InputError(
            f"deeplift package: layer {layer.name!r} has activation "
            f"{getattr(act, '__name__', act)!r}; the package supports {list(_ACTIVATIONS)}"
        )
    return name


def _as_int(v: Any) -> int:
    if isinstance(v, (list, tuple)):
        if len(v) != 1:
            raise ValueError(v)
        v = v[0]
    return int(v)


def keras3_to_package_configs(model: Any) -> tuple[list[dict[str, Any]], list[list[np.ndarray]]]:
    """Keras 2 style layer configs (and weights) of a Keras 3 ``Sequential`` model.

    Returns the config list (the first entry an ``InputLayer`` with ``batch_input_shape``)
    and, per entry, the weight arrays to fill into its ``weights`` key.

    Raises
    ------
    InputError
        For a model that is not ``Sequential`` or holds a layer the package cannot take.
    """
    import keras

    if not isinstance(model, keras.Sequential):
        raise InputError(
            f"deeplift package backend: model {model.name!r} is a {type(model).__name__}; "
            "only keras.Sequential models can be converted (use method 'deeplift' instead)"
        )
    shape = [None] + [None if d is None else int(d) for d in model.inputs[0].shape[1:]]
    configs: list[dict[str, Any]] = [
        {"class_name": "InputLayer", "config": {"name": "input", "batch_input_shape": shape}}
    ]
    weights: list[list[np.ndarray]] = [[]]
    for layer in model.layers:
        kind = type(layer).__name__
        cfg: dict[str, Any] = {"name": layer.name}
        w: list[np.ndarray] = []

        def bad(what: str, layer=layer, kind=kind) -> InputError:
            return InputError(
                f"deeplift package: layer {layer.name!r} ({kind}) cannot be converted: {what}"
            )

        if kind == "Conv1D":
            if _as_int(layer.dilation_rate) != 1:
                raise bad("dilation_rate != 1")
            if layer.padding not in ("valid", "same"):
                raise bad(f"padding {layer.padding!r}")
            if layer.data_format != "channels_last" or getattr(layer, "groups", 1) != 1:
                raise bad("only channels_last, ungrouped convolutions")
            cfg.update(
                activation=_package_activation(layer.activation, layer),
                filters=int(layer.filters),
                kernel_size=[_as_int(layer.kernel_size)],
                padding=layer.padding,
                strides=[_as_int(layer.strides)],
                data_format="channels_last",
                dilation_rate=[1],
            )
            w = [np.asarray(v) for v in layer.get_weights()]
        elif kind == "Dense":
            if len(layer.input.shape) != 2:
                raise bad("Dense on a tensor of rank > 2 (add a Flatten)")
            cfg.update(activation=_package_activation(layer.activation, layer),
                       units=int(layer.units))
            w = [np.asarray(v) for v in layer.get_weights()]
        elif kind in ("MaxPooling1D", "AveragePooling1D"):
            if layer.padding not in ("valid", "same") or layer.data_format != "channels_last":
                raise bad("only channels_last pooling with valid/same padding")
            cfg.update(
                pool_size=[_as_int(layer.pool_size)],
                strides=[_as_int(layer.strides or layer.pool_size)],
                padding=layer.padding,
                data_format="channels_last",
            )
        elif kind in ("GlobalMaxPooling1D", "GlobalAveragePooling1D"):
            if getattr(layer, "keepdims", False) or layer.data_format != "channels_last":
                raise bad("keepdims or channels_first")
        elif kind == "BatchNormalization":
            axis = layer.axis if isinstance(layer.axis, int) else _as_int(layer.axis)
            rank = len(layer.input.shape)
            if axis % rank != rank - 1:
                raise bad("normalisation over an axis other than the last")
            cfg.update(axis=-1, epsilon=float(layer.epsilon))
            n = int(layer.input.shape[-1])
            gamma = np.asarray(layer.gamma) if layer.scale else np.ones(n, np.float32)
            beta = np.asarray(layer.beta) if layer.center else np.zeros(n, np.float32)
            w = [gamma, beta, np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)]
        elif kind == "Dropout":
            cfg.update(rate=float(layer.rate))
        elif kind == "Flatten":
            pass
        elif kind == "Activation":
            cfg.update(activation=_package_activation(layer.activation, layer))
        else:
            raise bad("the deeplift package has no conversion for this layer type")
        configs.append({"class_name": kind, "config": cfg})
        weights.append([np.asarray(a, np.float32) for a in w])
    return configs, weights


def _load_model(model: Any) -> Any:
    if isinstance(model, (str, os.PathLike)):
        return load_keras_model(model)
    return model


def run_package_jobs(
    jobs: Sequence[PackageJob], *, timeout: float | None = 900
) -> list[np.ndarray]:
    """Score several jobs with the deeplift package in ONE worker process.

    Returns one array per job, ``(N, L, 4, len(tasks))``; each job's ``timings`` gets
    ``convert_s`` (conversion and graph building) and ``score_s`` (scoring only), and
    ``process_s`` (the worker's whole run, shared by all jobs) is added to every job.

    Raises
    ------
    InputError
        For a model the package cannot take, or bad arguments.
    RuntimeError
        When the worker process fails.
    """
    with tempfile.TemporaryDirectory(prefix="dfimx-deeplift-") as tmp:
        request: dict[str, Any] = {"jobs": []}
        for j, job in enumerate(jobs):
            if job.mode not in PACKAGE_MODES:
                raise InputError(f"deeplift package mode must be one of {PACKAGE_MODES}, "
                                 f"got {job.mode!r}")
            model = _load_model(job.model)
            configs, weights = keras3_to_package_configs(model)
            for i, (cfg, ws) in enumerate(zip(configs, weights, strict=True)):
                if ws:
                    names = []
                    for k, arr in enumerate(ws):
                        name = f"w_{j}_{i}_{k}.npy"
                        np.save(os.path.join(tmp, name), arr, allow_pickle=False)
                        names.append(name)
                    cfg["config"]["weight_files"] = names
            X = np.asarray(job.X, np.float32)
            if X.ndim != 3:
                raise InputError(f"X must have shape (N, L, 4), got {X.shape}")
            refs = job.references
            if refs is None:
                refs = np.zeros_like(X)[:, None]
            refs = np.asarray(refs, np.float32)
            if refs.ndim == 3:
                refs = refs[:, None]
            if refs.shape[0] != X.shape[0] or refs.shape[2:] != X.shape[1:]:
                raise InputError(f"references of shape {refs.shape} do not match X {X.shape}")
            k = refs.shape[1]
            np.save(os.path.join(tmp, f"x_{j}.npy"), np.repeat(X, k, axis=0), allow_pickle=False)
            np.save(os.path.join(tmp, f"r_{j}.npy"), refs.reshape((-1,) + X.shape[1:]),
                    allow_pickle=False)
            last_act = configs[-1]["config"].get("activation", "linear")
            n_out = int(model.outputs[0].shape[-1])
            tasks = [int(t) for t in job.tasks]
            if any(not 0 <= t < n_out for t in tasks):
                raise InputError(f"task indices {tasks} out of range for {n_out} outputs")
            request["jobs"].append({
                "layers": configs,
                "x": f"x_{j}.npy",
                "ref": f"r_{j}.npy",
                "k": k,
                "mode": job.mode,
                "tasks": tasks,
                "batch_size": int(job.batch_size),
                "target_layer_idx": -2 if last_act != "linear" else -1,
            })
        with open(os.path.join(tmp, "request.json"), "w") as fh:
            json.dump(request, fh)
        env = dict(os.environ)
        pkg_root = str(Path(__file__).resolve().parents[2])  # the directory holding dfimx/
        env["PYTHONPATH"] = os.pathsep.join([pkg_root, env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "dfimx.attribution.package_worker", tmp],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        process_s = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"deeplift package worker failed (exit {proc.returncode}):\n{tail}")
        with open(os.path.join(tmp, "result.json")) as fh:
            timings = json.load(fh)["timings"]
        results = []
        for j, job in enumerate(jobs):
            out = np.load(os.path.join(tmp, f"out_{j}.npy"), allow_pickle=False)
            k = request["jobs"][j]["k"]
            out = out.reshape((-1, k) + out.shape[1:]).mean(axis=1)
            job.timings.update(timings[j], process_s=process_s)
            results.append(out.astype(np.float32))
        return results


def deeplift_package_scores(
    model: Any,
    X: np.ndarray,
    references: np.ndarray | None = None,
    *,
    mode: str = "rescale",
    task_index: int | Sequence[int] = 0,
    batch_size: int = 200,
) -> np.ndarray:
    """DeepLIFT contributions from the deeplift package, run in a separate process.

    Parameters
    ----------
    model
        A Keras 3 ``Sequential`` model or a path to one.
    X
        One-hot inputs ``(N, L, 4)``.
    references
        ``(N, L, 4)`` or ``(N, K, L, 4)`` (averaged over K); zeros when None.
    mode
        ``"rescale"``, ``"revealcancel"``, ``"genomics_default"`` (RevealCancel on dense,
        Rescale on conv layers) or ``"gradient"`` (gradient times ``x - ref``).
    task_index
        Unit of the last layer to explain (its pre-activation when the layer has a
        nonlinear activation); a list gives ``(N, L, 4, T)``.

    Returns
    -------
    numpy.ndarray
        ``(N, L, 4)`` float32 (``(N, L, 4, T)`` for a list of tasks).

    Examples
    --------
    >>> scores = deeplift_package_scores("model.keras", X, mode="revealcancel")  # doctest: +SKIP
    """
    multi = not isinstance(task_index, (int, np.integer))
    tasks = list(task_index) if multi else [int(task_index)]
    (out,) = run_package_jobs(
        [PackageJob(model, X, references, mode=mode, tasks=tasks, batch_size=batch_size)]
    )
    return out if multi else out[..., 0]


def scorer_package_scores(
    scorer: Scorer,
    X: np.ndarray,
    references: np.ndarray | None,
    *,
    mode: str,
    batch_size: int = 200,
) -> np.ndarray:
    """Package contributions for the scored tasks of a :class:`dfimx.models.Scorer`.

    The scorer must wrap a ``Sequential`` model whose scored output is the pre-activation
    of its last layer (``output_layer="logit"``) or a linear last layer.
    """
    model = scorer.model
    last = model.layers[-1] if getattr(model, "layers", None) else None
    if scorer.output_layer == "output" and activation_name(
            getattr(last, "activation", None)) != "linear":
        raise InputError(
            "deeplift package backend explains the pre-activation of the last layer; "
            "score the logit (output_layer='logit')",
            option="output_layer",
        )
    full = build_scorer(model, output_layer=scorer.output_layer).task_names
    try:
        tasks = [full.index(t) for t in scorer.task_names]
    except ValueError as exc:
        raise InputError(f"deeplift package backend: cannot map tasks {scorer.task_names} "
                         f"to the model outputs {full}") from exc
    return deeplift_package_scores(
        model, X, references, mode=mode, task_index=tasks, batch_size=batch_size
    )


def _package_kernel(mode: str):
    def kernel(scorer, X, references=None, batch_size=256, **_):
        return scorer_package_scores(scorer, X, references, mode=mode, batch_size=batch_size)

    return kernel


for _mode, _doc in (
    ("rescale", "deeplift package, Rescale rule (Sequential models; separate process)."),
    ("revealcancel", "deeplift package, RevealCancel rule (Sequential models; separate process)."),
    (
        "genomics_default",
        "deeplift package, GenomicsDefault: RevealCancel on dense layers, Rescale on conv "
        "layers (Sequential models; separate process).",
    ),
):
    register_method(f"deeplift-package:{_mode}", uses_reference=True, doc=_doc,
                    concurrent=False)(
        _package_kernel(_mode)
    )
