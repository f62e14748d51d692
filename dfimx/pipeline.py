"""The lazy, chunked DFIM graph and its region-by-region Zarr store.

:func:`compute_dfim` turns a planned sequence dataset into a Dask-backed result
dataset (nothing is computed); :func:`write_store` writes it to Zarr region by region
along ``seq``, recording finished regions so that an interrupted run resumes with
only the missing regions; :func:`open_result` reopens a finished store.

The model travels through the graph as a :class:`dfimx.models.ModelSpec` (path and
hash) and is loaded once per process.

Examples
--------
>>> from dfimx import pipeline, sequences, mutations          # doctest: +SKIP
>>> ds = mutations.plan_elements(sequences.from_fasta("s.fa"), "elements.tsv")  # doctest: +SKIP
>>> result = pipeline.compute_dfim(ds, "model.keras")         # doctest: +SKIP
>>> pipeline.write_store(result, "out.zarr")                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from dfimx import maps
from dfimx.errors import InputError
from dfimx.models import ModelSpec
from dfimx.mutations import MUTATION_MODES, make_mutants, n_draws

NULL_KINDS = ("dinuc", "shuffle", "none")
#: Reference used when none is given: DeepLIFT with a GC background separated the true
#: motif pair most robustly across trained models (see the README), DeepSHAP averages
#: over dinucleotide shuffles by definition.
DEFAULT_REFERENCES = {"deeplift": "gc", "deepshap": "dinuc"}
PVALUE_KINDS = ("empirical", "gaussian")
NULL_LEVELS = ("global", "task", "map", "distance")
SEQ_VARIABLES_COMPUTED = (
    "prediction",
    "mutant_prediction",
    "interaction_profile",
    "interaction_score",
    "symmetric_score",
)
#: Plans whose sources are also targets, so that both directions of a pair are scored.
SYMMETRIC_PLANS = ("elements", "mut_dict")


@dataclass(frozen=True)
class Settings:
    """Every choice that changes the numbers of a run (stored in the store's attrs).

    Examples
    --------
    >>> Settings().validate().method, Settings().validate().reference
    ('deeplift', 'gc')
    >>> Settings(method="deepshap").validate().reference
    'dinuc'
    """

    method: str = "deeplift"
    reference: str | None = None
    n_references: int = 10
    mutation: str = "gc"
    n_shuffles: int = 5
    gc: float = 0.46
    score: str = "sum"
    null: str = "dinuc"
    null_draws: int = 8
    pvalue: str = "empirical"
    null_level: str = "global"
    seed: int = 0
    keep_delta: bool = False
    keep_importance: bool = False
    keep_null: bool = False
    null_keep_sources: bool = False
    method_options: tuple[tuple[str, Any], ...] = ()

    def validate(self) -> Settings:
        """Check every field; returns the settings with the method's default reference."""
        from dfimx.attribution import METHODS, REFERENCES

        if self.method not in METHODS:
            raise InputError(f"--method: unknown method {self.method!r}; choose one of "
                             f"{sorted(METHODS)}")
        if self.reference is None:
            default = DEFAULT_REFERENCES.get(self.method)
            default = default or METHODS[self.method].default_reference or "zeros"
            return dataclasses.replace(self, reference=default).validate()
        if self.reference not in REFERENCES:
            raise InputError(f"--reference: unknown reference {self.reference!r}; choose one "
                             f"of {list(REFERENCES)}")
        if self.mutation not in MUTATION_MODES:
            raise InputError(f"--mutation: unknown mode {self.mutation!r}; choose one of "
                             f"{list(MUTATION_MODES)}")
        if self.score not in maps.REDUCTIONS:
            raise InputError(f"--score: unknown reduction {self.score!r}; choose one of "
                             f"{list(maps.REDUCTIONS)}")
        if self.null not in NULL_KINDS:
            raise InputError(f"--null: unknown null {self.null!r}; choose one of "
                             f"{list(NULL_KINDS)}")
        if self.pvalue not in PVALUE_KINDS:
            raise InputError(f"--pvalue: choose one of {list(PVALUE_KINDS)}")
        if self.null_level not in NULL_LEVELS:
            raise InputError(f"--null-level: choose one of {list(NULL_LEVELS)}")
        if self.null != "none" and self.null_draws < 1:
            raise InputError("--null-draws must be at least 1")
        if not 0.0 <= self.gc <= 1.0:
            raise InputError("--gc must lie between 0 and 1")
        return self

    def as_attrs(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["method_options"] = dict(self.method_options)
        return out


def _scorer_and_kernel(spec: ModelSpec, settings: Settings):
    from dfimx.attribution import METHODS

    scorer = spec.load()
    return scorer, METHODS[settings.method]


def _references(X: np.ndarray, seq_ids: list[str], settings: Settings, uses: bool):
    if not uses:
        return None
    from dfimx.attribution import make_references

    return make_references(
        X, settings.reference, gc=settings.gc, n_references=settings.n_references,
        seq_ids=seq_ids, seed=settings.seed,
    )


def _group_size(n_draw: int, n_ref: int, length: int, batch_size: int) -> int:
    per_pair = max(1, n_draw * max(1, n_ref) * length * 4 * 4)
    return int(max(1, min(batch_size * 4, (256 << 20) // per_pair)))


def dfim_block(
    onehot: np.ndarray,
    seq_ids: np.ndarray,
    mut_start: np.ndarray,
    mut_end: np.ndarray,
    mut_alt: np.ndarray,
    mut_mask: np.ndarray,
    resp_start: np.ndarray,
    resp_end: np.ndarray,
    resp_mask: np.ndarray,
    pair_mask: np.ndarray | None,
    *,
    spec: ModelSpec,
    settings: Settings,
    batch_size: int = 256,
    symmetric: bool = False,
) -> dict[str, np.ndarray]:
    """DFIM for one chunk of sequences (numpy in, numpy out).

    Returns a dict with ``prediction`` (n, T), ``mutant_prediction`` (n, M, T),
    ``interaction_profile`` (n, M, L, T), ``interaction_score`` (n, M, R, T) and, as
    requested, ``seq_importance``, ``delta`` and ``null_interaction_score``
    (n, M, R, T, K); with ``symmetric``, also ``symmetric_score`` (and
    ``null_symmetric_score`` with a null), the mean of both directions of each pair.
    """
    scorer, method = _scorer_and_kernel(spec, settings)
    X = np.asarray(onehot, np.float32)
    ids = [str(s) for s in seq_ids]
    valid = (
        mut_mask[:, :, None]
        & resp_mask[:, None, :]
        & ~maps.overlaps(mut_start, mut_end, resp_start, resp_end)
    )
    if pair_mask is not None:
        valid &= pair_mask
    out = _dfim_arrays(
        X, ids, mut_start, mut_end, mut_alt, mut_mask, resp_start, resp_end, valid,
        scorer=scorer, method=method, settings=settings, batch_size=batch_size, full=True,
    )
    if settings.null != "none":
        kept = _source_positions(mut_start, mut_end, mut_mask, X.shape[1])
        shuffled = null_shuffles(X, settings.null_draws, ids, settings, kept=kept)
        draws = []
        for k in range(settings.null_draws):
            null_ids = [f"{s}#null{k}" for s in ids]
            res = _dfim_arrays(
                np.asarray(shuffled[:, k], np.float32), null_ids, mut_start, mut_end, mut_alt,
                mut_mask, resp_start, resp_end, valid, scorer=scorer, method=method,
                settings=settings, batch_size=batch_size, full=False,
            )
            draws.append(res["interaction_score"])
        out["null_interaction_score"] = np.stack(draws, axis=-1)
    if symmetric:
        rev = maps.reverse_pairs(mut_start, mut_end, mut_mask, resp_start, resp_end, resp_mask)
        out["symmetric_score"] = maps.symmetric_scores(out["interaction_score"], *rev)
        if "null_interaction_score" in out:
            out["null_symmetric_score"] = maps.symmetric_scores(
                out["null_interaction_score"], *rev)
    return out


_MODEL_LOCK = threading.Lock()


def _source_positions(
    mut_start: np.ndarray, mut_end: np.ndarray, mut_mask: np.ndarray, length: int
) -> np.ndarray:
    """``(n, L)`` True at positions covered by a real source."""
    pos = np.arange(length)
    inside = (pos >= mut_start[..., None]) & (pos < mut_end[..., None]) & mut_mask[..., None]
    return inside.any(axis=1)


def null_shuffles(
    X: np.ndarray,
    n_draws: int,
    seq_ids: list[str],
    settings: Settings,
    *,
    kept: np.ndarray | None = None,
) -> np.ndarray:
    """Null sequences ``(n, K, L, 4)``: shuffled copies seeded per sequence id.

    With ``settings.null_keep_sources`` the source positions (``kept``) stay in place and
    the flanks between them are shuffled separately (variant scans keep the variant base).
    """
    from dfimx import shuffle

    shuffler = (shuffle.dinucleotide_shuffle if settings.null == "dinuc"
                else shuffle.mononucleotide_shuffle)
    if not settings.null_keep_sources or kept is None or not kept.any():
        return shuffler(X, n_draws, seq_ids=seq_ids, seed=settings.seed, purpose="null")
    # all-zero rows are never moved by the shufflers: blank the kept positions, shuffle
    # the runs between them, and put the kept bases back
    blanked = np.where(kept[..., None], 0, X).astype(X.dtype)
    out = shuffler(blanked, n_draws, seq_ids=seq_ids, seed=settings.seed, purpose="null")
    return np.where(kept[:, None, :, None], X[:, None], out).astype(X.dtype)


def _dfim_arrays(
    X, ids, mut_start, mut_end, mut_alt, mut_mask, resp_start, resp_end, valid, *,
    scorer, method, settings: Settings, batch_size: int, full: bool,
) -> dict[str, np.ndarray]:
    from dfimx.attribution import attribute_and_predict

    n, length, _ = X.shape
    m, r, t = mut_start.shape[1], resp_start.shape[1], scorer.n_tasks
    if method.name == "ism" and not (mut_alt[mut_mask] >= 0).any():
        return _element_epistasis(X, mut_start, mut_end, mut_mask, resp_start, resp_end, valid,
                                  scorer=scorer, settings=settings, batch_size=batch_size,
                                  full=full)
    opts = dict(settings.method_options)
    refs = _references(X, ids, settings, method.uses_reference)

    def attribute(inputs, references):
        # one model call at a time per process: TensorFlow already uses every core for
        # one call, and concurrent calls from scheduler threads only compete for them
        with _MODEL_LOCK:
            if full:  # the scored outputs come from the attribution's own forward pass
                return attribute_and_predict(method.name, scorer, inputs,
                                             references=references, batch_size=batch_size,
                                             **opts)
            return method.kernel(scorer, inputs, references=references,
                                 batch_size=batch_size, **opts), None

    imp0, pred0 = attribute(X, refs)
    scores = np.full((n, m, r, t), np.nan, np.float32)
    out: dict[str, np.ndarray] = {"interaction_score": scores}
    if full:
        out["prediction"] = pred0
        out["mutant_prediction"] = np.full((n, m, t), np.nan, np.float32)
        out["interaction_profile"] = np.full((n, m, length, t), np.nan, np.float32)
        if settings.keep_importance:
            out["seq_importance"] = imp0.astype(np.float32)
        if settings.keep_delta:
            out["delta"] = np.full((n, m, length, 4, t), np.nan, np.float32)
    seq_idx, mut_idx = np.nonzero(mut_mask)
    abs0 = maps.sum_over_bases(imp0, absolute=True)  # (n, L, T), shared by all sources
    kd = n_draws(settings.mutation, settings.n_shuffles)
    n_ref = 0 if refs is None else refs.shape[1]
    group = _group_size(kd, n_ref, length, batch_size)
    for lo in range(0, len(seq_idx), group):
        si, mi = seq_idx[lo : lo + group], mut_idx[lo : lo + group]
        starts, ends = mut_start[si, mi], mut_end[si, mi]
        mutants = make_mutants(
            X[si], starts, ends, mut_alt[si, mi], mode=settings.mutation, gc=settings.gc,
            n_shuffles=settings.n_shuffles, seq_ids=[ids[i] for i in si], seed=settings.seed,
        )
        flat = mutants.reshape((-1, length, 4))
        if refs is None:
            mrefs = None
        elif refs.strides[0] == 0:  # one reference for all (zeros, gc): a view, no copy
            mrefs = np.broadcast_to(refs[:1], (len(si) * kd,) + refs.shape[1:])
        else:
            mrefs = np.repeat(refs[si], kd, axis=0)
        imp, pred = attribute(flat, mrefs)
        imp = imp.reshape((len(si), kd) + imp.shape[1:])
        imp = imp[:, 0] if kd == 1 else imp.mean(axis=1)
        mutant_abs = maps.sum_over_bases(imp, absolute=True)
        delta = maps.mask_source(np.subtract(imp0[si], imp, out=imp), starts, ends)
        signed = maps.sum_over_bases(delta)  # (B, L, T): the profile and the `sum` score
        values = signed if settings.score == "sum" else maps.position_values(delta,
                                                                              settings.score)
        sc = maps.interval_scores(values, resp_start[si], resp_end[si], settings.score)
        # the magnitudes a score is a difference of, for the round-off tolerance
        scale = maps.interval_scores(abs0[si] + mutant_abs, resp_start[si],
                                     resp_end[si], "abs_sum")
        sc = maps.zero_round_off(sc, scale)
        sc[~valid[si, mi]] = np.nan
        scores[si, mi] = sc
        if full:
            out["mutant_prediction"][si, mi] = pred.reshape(len(si), kd, t).mean(axis=1)
            out["interaction_profile"][si, mi] = maps.profile_from_sums(signed, starts, ends)
            if settings.keep_delta:
                out["delta"][si, mi] = delta
    return out


def _element_epistasis(
    X, mut_start, mut_end, mut_mask, resp_start, resp_end, valid, *,
    scorer, settings: Settings, batch_size: int, full: bool,
) -> dict[str, np.ndarray]:
    """``--method ism`` on element plans: exact double-mutant epistasis as the score.

    ``f(x) - f(x-a) - f(x-b) + f(x-a-b)`` with the run's replacement (zeros or gc); there
    is no attribution, so ``interaction_profile`` stays NaN.
    """
    from dfimx.attribution import predict_batched
    from dfimx.epistasis import double_mutant_epistasis

    if settings.mutation == "shuffle":
        raise InputError("--method ism on elements supports --mutation zeros or gc, not shuffle")
    n, length, _ = X.shape
    m, t = mut_start.shape[1], scorer.n_tasks
    scores = double_mutant_epistasis(
        scorer, X, mut_start, mut_end, resp_start, resp_end, source_mask=mut_mask,
        target_mask=_targets_in_use(valid), replacement=settings.mutation, gc=settings.gc,
        batch_size=batch_size,
    ).astype(np.float32)
    f0 = np.abs(predict_batched(scorer, X, batch_size=batch_size))  # (n, T)
    scores = maps.zero_round_off(scores, 4.0 * f0[:, None, None, :] + np.abs(scores))
    scores[~valid] = np.nan
    out: dict[str, np.ndarray] = {"interaction_score": scores}
    if full:
        out["prediction"] = predict_batched(scorer, X, batch_size=batch_size)
        si, mi = np.nonzero(mut_mask)
        mutants = make_mutants(X[si], mut_start[si, mi], mut_end[si, mi], np.full(len(si), -1),
                               mode=settings.mutation, gc=settings.gc)[:, 0]
        mp = np.full((n, m, t), np.nan, np.float32)
        mp[si, mi] = predict_batched(scorer, mutants, batch_size=batch_size)
        out["mutant_prediction"] = mp
        out["interaction_profile"] = np.full((n, m, length, t), np.nan, np.float32)
        if settings.keep_importance:
            out["seq_importance"] = np.full((n, length, 4, t), np.nan, np.float32)
        if settings.keep_delta:
            out["delta"] = np.full((n, m, length, 4, t), np.nan, np.float32)
    return out


def _targets_in_use(valid: np.ndarray) -> np.ndarray:
    """Targets that take part in at least one valid pair, ``(n, R)``."""
    return valid.any(axis=1)


def _as_block_list(arr: Any, chunks: tuple[int, ...]) -> list[Any]:
    if isinstance(arr, xr.DataArray):
        arr = arr.data
    if not isinstance(arr, da.Array):
        arr = da.from_array(np.asarray(arr), chunks=(chunks,) + tuple(-1 for _ in arr.shape[1:]))
    else:
        arr = arr.rechunk((chunks,) + tuple(-1 for _ in arr.shape[1:]))
    return list(arr.to_delayed().ravel())


def model_spec_for(
    model: Any, *, output_layer: str = "logit", tasks: list[int | str] | None = None,
    safe_mode: bool = True,
) -> ModelSpec:
    """A :class:`ModelSpec` for a path, or for an in-memory Keras model (saved to a temp file)."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, (str, os.PathLike)):
        return ModelSpec.from_path(model, output_layer=output_layer, tasks=tasks,
                                   safe_mode=safe_mode)
    tmp = Path(tempfile.mkdtemp(prefix="dfimx-model-")) / "model.keras"
    model.save(tmp)
    return ModelSpec.from_path(tmp, output_layer=output_layer, tasks=tasks, safe_mode=safe_mode)


def compute_dfim(
    ds: xr.Dataset,
    model: Any,
    *,
    settings: Settings | None = None,
    output_layer: str = "logit",
    tasks: list[int | str] | None = None,
    batch_size: int = 256,
    safe_mode: bool = True,
    **options: Any,
) -> xr.Dataset:
    """Lazy DFIM result for a planned dataset.

    Parameters
    ----------
    ds
        Sequence dataset with a mutation plan (see :mod:`dfimx.mutations`).
    model
        Path to a model, a Keras model, or a :class:`ModelSpec`.
    settings
        :class:`Settings`; keyword ``options`` override its fields.

    Returns
    -------
    xarray.Dataset
        The input variables plus ``prediction``, ``mutant_prediction``,
        ``interaction_profile``, ``interaction_score`` (and the optional ones), all
        Dask-backed and chunked like ``seq_onehot``; nothing has been computed.
    """
    settings = dataclasses.replace(settings or Settings(), **options).validate()
    spec = model_spec_for(model, output_layer=output_layer, tasks=tasks, safe_mode=safe_mode)
    scorer = spec.load()
    n, length = ds.sizes["seq"], ds.sizes["position"]
    scorer.check_input(length, ds.sizes.get("base", 4), source=ds.attrs.get("source_fasta",
                                                                             "sequences"))
    chunks = ds["seq_onehot"].chunks[0] if ds["seq_onehot"].chunks else (n,)
    names = ["seq_onehot", "seq_id", "mutation_start", "mutation_end", "mutation_alt",
             "mutation_mask", "response_start", "response_end", "response_mask"]
    for name in names:
        if name not in ds:
            raise InputError(f"dataset has no {name!r}: build a plan with dfimx.mutations first")
    blocks = [_as_block_list(ds[name], chunks) for name in names]
    pair = _as_block_list(ds["pair_mask"], chunks) if "pair_mask" in ds else [None] * len(chunks)
    m, r, t = ds.sizes["mutation"], ds.sizes["response"], scorer.n_tasks
    shapes = {
        "prediction": (("seq", "task"), ()),
        "mutant_prediction": (("seq", "mutation", "task"), (m,)),
        "interaction_profile": (("seq", "mutation", "position", "task"), (m, length)),
        "interaction_score": (("seq", "mutation", "response", "task"), (m, r)),
    }
    if settings.keep_importance:
        shapes["seq_importance"] = (("seq", "position", "base", "task"), (length, 4))
    if settings.keep_delta:
        shapes["delta"] = (("seq", "mutation", "position", "base", "task"), (m, length, 4))
    if settings.null != "none":
        shapes["null_interaction_score"] = (
            ("seq", "mutation", "response", "task", "null"), (m, r), settings.null_draws)
    symmetric = ds.attrs.get("plan") in SYMMETRIC_PLANS
    if symmetric:
        shapes["symmetric_score"] = shapes["interaction_score"]
        if settings.null != "none":
            shapes["null_symmetric_score"] = shapes["null_interaction_score"]
    parts: dict[str, list[da.Array]] = {k: [] for k in shapes}
    token = dask.base.tokenize(spec, settings, batch_size)
    for i, size in enumerate(chunks):
        res = dask.delayed(dfim_block, pure=True)(
            *[b[i] for b in blocks], pair[i], spec=spec, settings=settings,
            batch_size=batch_size, symmetric=symmetric, dask_key_name=f"dfim-block-{token}-{i}",
        )
        for name, (_, inner, *extra) in shapes.items():
            shape = (size,) + inner + (t,) + tuple(extra)
            parts[name].append(da.from_delayed(res[name], shape=shape, dtype=np.float32))
    out = ds.copy()
    for name, (dims, *_rest) in shapes.items():
        out[name] = (dims, da.concatenate(parts[name], axis=0))
    out = out.assign_coords(task=np.array(scorer.task_names, dtype=object))
    out.attrs.update(
        {
            "dfimx_settings": json.dumps(settings.as_attrs(), sort_keys=True),
            "method": settings.method,
            "reference": settings.reference,
            "mutation_mode": settings.mutation,
            "score_reduction": settings.score,
            "null": settings.null,
            "null_draws": settings.null_draws if settings.null != "none" else 0,
            "pvalue": settings.pvalue,
            "null_level": settings.null_level,
            "seed": settings.seed,
            "model_path": spec.path,
            "model_sha256": spec.sha256,
            "output_layer": spec.output_layer,
            "batch_size": batch_size,
        }
    )
    return out


def provenance(command: str | None = None, inputs: dict[str, str] | None = None) -> dict:
    """Provenance attrs: version, command, creation time, input files and their hashes."""
    from dfimx import __version__
    from dfimx.models import file_sha256

    attrs: dict[str, Any] = {
        "dfimx_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
    }
    if inputs:
        attrs["inputs"] = json.dumps(inputs, sort_keys=True)
        hashes = {k: file_sha256(v) for k, v in inputs.items() if v and Path(v).is_file()}
        attrs["inputs_sha256"] = json.dumps(hashes, sort_keys=True)
    return attrs


__all__ = [
    "Settings",
    "compute_dfim",
    "dfim_block",
    "model_spec_for",
    "provenance",
]
