"""Importance and Δ of one source, recomputed from the model a store records.

A run keeps ``seq_importance`` and ``delta`` only on request (``--keep-importance``,
``--keep-delta``): they are the largest arrays of a result. The logos of a few top
interactions need them for one sequence and one source only, which is one attribution
of the original and one of the mutant. :func:`source_tracks` returns them: from the
store when it holds them, else recomputed with the run's own settings from the model at
``attrs["model_path"]`` (when that file still has the hash ``attrs["model_sha256"]``),
else ``None`` with the reason.

Examples
--------
>>> from dfimx.testing import example_result
>>> tracks = source_tracks(example_result(n_seq=2), 0, 0)
>>> tracks.origin, tracks.delta.shape
('stored', (120, 4, 2))
>>> lean = example_result(n_seq=2, keep_delta=False)
>>> source_tracks(lean, 0, 0).delta is None
True
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

import numpy as np
import xarray as xr

from dfimx.plot.select import load

__all__ = ["SourceTracks", "source_tracks"]


@dataclass
class SourceTracks:
    """Arrays of one sequence and source over all positions: (L, 4) one-hot, (L, 4, T)
    importance and Δ (``None`` when unavailable), where they came from, and why not."""

    onehot: np.ndarray
    importance: np.ndarray | None
    delta: np.ndarray | None
    origin: str  # "stored", "recomputed" or "unavailable"
    note: str = ""


def _model_problem(attrs: dict) -> str | None:
    """Why the model of ``attrs`` cannot be used, or None."""
    path = attrs.get("model_path")
    if not path:
        return "the store records no model path"
    if not os.path.exists(path):
        return f"the recorded model {path} is not there"
    from dfimx.models import file_sha256  # function-level: imports TensorFlow only when needed

    want = attrs.get("model_sha256")
    if want and file_sha256(path) != want:
        return f"the model at {path} no longer has the recorded hash"
    if "dfimx_settings" not in attrs:
        return "the store records no settings"
    return None


def _recompute(ds: xr.Dataset, seq: int, mutation: int) -> tuple[np.ndarray, np.ndarray]:
    """(importance (L, 4, T), delta (L, 4, T)) of one source, with the run's settings."""
    # function-level: the kernel imports TensorFlow, which plotting does not need otherwise
    from dfimx.dfim.kernel import dfim_block  # TensorFlow: only when recomputing
    from dfimx.models import ModelSpec  # TensorFlow: only when recomputing
    from dfimx.settings import Settings  # the attribution registry: only when recomputing

    fields = json.loads(ds.attrs["dfimx_settings"])
    names = {f.name for f in dataclasses.fields(Settings)}
    fields = {k: v for k, v in fields.items() if k in names}
    settings = Settings(**{**fields, "null": "none", "keep_delta": True,
                           "keep_importance": True}).validate()
    tasks = [str(t) for t in ds["task"].values] if "task" in ds.coords else None
    spec = ModelSpec.from_path(ds.attrs["model_path"],
                               output_layer=ds.attrs.get("output_layer", "logit"), tasks=tasks)
    sub = load(ds, ["seq_onehot", "seq_id", "mutation_start", "mutation_end", "mutation_alt",
                    "response_start", "response_end", "response_mask"], seq=seq)
    one = lambda name: np.asarray(sub[name].values)[None]  # noqa: E731
    m = slice(mutation, mutation + 1)
    alt = (np.asarray(sub["mutation_alt"].values)[None, m] if "mutation_alt" in sub
           else np.full((1, 1), -1, np.int8))
    out = dfim_block(
        one("seq_onehot"), np.array([str(sub["seq_id"].values)], object),
        one("mutation_start")[:, m], one("mutation_end")[:, m], alt, np.ones((1, 1), bool),
        one("response_start"), one("response_end"), one("response_mask").astype(bool), None,
        spec=spec, settings=settings, batch_size=int(ds.attrs.get("batch_size", 256)),
    )
    if "delta" not in out:
        raise ValueError("this method scores element replacements without attributions")
    return out["seq_importance"][0], out["delta"][0, 0]


def source_tracks(ds: xr.Dataset, seq: int, mutation: int, *,
                  recompute: bool = True) -> SourceTracks:
    """One-hot, importance and Δ of sequence ``seq`` and source ``mutation`` (indices).

    Parameters
    ----------
    ds
        dfimx dataset.
    seq, mutation
        Sequence and source index.
    recompute
        When the store lacks ``seq_importance`` or ``delta``, recompute both from the
        model recorded in the store's attributes (settings as in the run, no null).

    Returns
    -------
    SourceTracks
        ``origin`` says ``"stored"``, ``"recomputed"`` or ``"unavailable"`` (with the
        reason in ``note``).
    """
    data = load(ds, ["seq_onehot", "seq_importance", "delta"], seq=seq)
    onehot = np.asarray(data["seq_onehot"].values, dtype=float)
    imp = np.asarray(data["seq_importance"].values, float) if "seq_importance" in data else None
    delta = (np.asarray(data["delta"].isel(mutation=mutation).values, float)
             if "delta" in data else None)
    if imp is not None and delta is not None:
        return SourceTracks(onehot, imp, delta, "stored")
    missing = " and ".join(v for v, a in (("seq_importance", imp), ("delta", delta)) if a is None)
    problem = _model_problem(ds.attrs) if recompute else "recomputing was not requested"
    if problem is None:
        try:
            imp, delta = _recompute(ds, seq, mutation)
        except Exception as err:  # noqa: BLE001 - any failure of the model becomes a note
            problem = f"recomputing failed ({type(err).__name__}: {err})"
        else:
            return SourceTracks(onehot, imp, delta, "recomputed",
                                f"{missing} not stored: recomputed from the recorded model")
    return SourceTracks(onehot, imp, None, "unavailable", f"{missing} not stored and {problem}")
