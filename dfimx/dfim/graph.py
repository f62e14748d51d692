"""The lazy, labeled DFIM graph: a planned sequence dataset in, a Dask-backed result out.

:func:`compute_dfim` builds one :func:`dfimx.dfim.kernel.dfim_block` task per chunk of
sequences; nothing is computed until the result is written (:func:`dfimx.store.write_store`)
or loaded.  The shapes, dims and attrs of its outputs come from the variable registry
(:mod:`dfimx.variables`).  The model travels through the graph as a
:class:`dfimx.models.ModelSpec` (path and hash) and is loaded once per process.

Examples
--------
>>> from dfimx import plans, sequences                                       # doctest: +SKIP
>>> ds = plans.plan_elements(sequences.from_fasta("s.fa"), "elements.tsv")   # doctest: +SKIP
>>> result = compute_dfim(ds, "model.keras")                                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from dfimx import variables
from dfimx.dfim.kernel import SUMMATION_METHODS, dfim_block_with_violations
from dfimx.models import model_spec_for
from dfimx.plans import SYMMETRIC_PLANS
from dfimx.settings import Settings, check_execution, with_plan_defaults

#: Plan variables that :func:`compute_dfim` reads.
PLAN_VARIABLES = ("seq_onehot", "seq_id", "mutation_start", "mutation_end", "mutation_alt",
                  "mutation_mask", "response_start", "response_end", "response_mask")


def output_variables(settings: Settings, *, symmetric: bool) -> list[str]:
    """Names of the variables a run with ``settings`` (validated) computes, in store order.

    Examples
    --------
    >>> output_variables(Settings(null="none", method="grad_x_input"), symmetric=False)
    ['prediction', 'mutant_prediction', 'interaction_profile', 'interaction_score']
    >>> output_variables(Settings(null="none").validate(), symmetric=False)[-1]
    'summation_delta'
    """
    names = ["prediction", "mutant_prediction", "interaction_profile", "interaction_score"]
    if settings.method in SUMMATION_METHODS:
        names.append("summation_delta")
    if settings.keep_importance:
        names.append("seq_importance")
    if settings.keep_delta:
        names.append("delta")
    if settings.null != "none":
        names.append("null_interaction_score")
    if settings.null == "context":
        names += ["null_decoy_start", "null_decoy_end", "null_decoy_widening"]
    if symmetric:
        names.append("symmetric_score")
        if settings.null != "none":
            names.append("null_symmetric_score")
    return names


def settings_attrs(settings: Settings) -> dict[str, Any]:
    """The attrs a result carries for its settings: every field under its own name, all of
    them as JSON in ``dfimx_settings``, and the 0.1 names ``mutation_mode`` and
    ``score_reduction`` (kept for readers of older stores).

    Examples
    --------
    >>> attrs = settings_attrs(Settings(null="none").validate())
    >>> attrs["mutation"], attrs["score"], attrs["null_draws"], attrs["mutation_mode"]
    ('gc', 'sum', 0, 'gc')
    """
    fields = settings.as_attrs()
    attrs: dict[str, Any] = {k: v for k, v in fields.items()
                             if isinstance(v, (str, int, float, bool))}
    if settings.null == "none":
        attrs["null_draws"] = 0
    attrs["dfimx_settings"] = json.dumps(fields, sort_keys=True)
    attrs["mutation_mode"] = settings.mutation
    attrs["score_reduction"] = settings.score
    return attrs


def _as_block_list(arr: Any, chunks: tuple[int, ...]) -> list[Any]:
    if isinstance(arr, xr.DataArray):
        arr = arr.data
    if not isinstance(arr, da.Array):
        arr = da.from_array(np.asarray(arr), chunks=(chunks,) + tuple(-1 for _ in arr.shape[1:]))
    else:
        arr = arr.rechunk((chunks,) + tuple(-1 for _ in arr.shape[1:]))
    return list(arr.to_delayed().ravel())


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
        Sequence dataset with a mutation plan (see :mod:`dfimx.plans`).
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
    settings = dataclasses.replace(settings or Settings(), **options)
    settings = with_plan_defaults(settings, ds.attrs.get("plan"))  # method and null by plan
    check_execution(batch_size=batch_size)
    variables.validate(ds, PLAN_VARIABLES, source="a planned dataset (build one with dfimx.plans)")
    spec = model_spec_for(model, output_layer=output_layer, tasks=tasks, safe_mode=safe_mode)
    scorer = spec.load()
    n, length = ds.sizes["seq"], ds.sizes["position"]
    scorer.check_input(length, ds.sizes.get("base", 4), source=ds.attrs.get("source_fasta",
                                                                             "sequences"))
    chunks = ds["seq_onehot"].chunks[0] if ds["seq_onehot"].chunks else (n,)
    blocks = [_as_block_list(ds[name], chunks) for name in PLAN_VARIABLES]
    pair = _as_block_list(ds["pair_mask"], chunks) if "pair_mask" in ds else [None] * len(chunks)
    symmetric = ds.attrs.get("plan") in SYMMETRIC_PLANS
    names = output_variables(settings, symmetric=symmetric)
    sizes = {"mutation": ds.sizes["mutation"], "response": ds.sizes["response"],
             "position": length, "base": 4, "task": scorer.n_tasks, "null": settings.null_draws}
    parts: dict[str, list[da.Array]] = {k: [] for k in names}
    token = dask.base.tokenize(spec, settings, batch_size)
    for i, size in enumerate(chunks):
        res = dask.delayed(dfim_block_with_violations, pure=True)(
            *[b[i] for b in blocks], pair[i], spec=spec, settings=settings,
            batch_size=batch_size, symmetric=symmetric, dask_key_name=f"dfim-block-{token}-{i}",
        )
        for name in names:
            spec_ = variables.SPECS[name]
            shape = tuple(size if d == "seq" else sizes[d] for d in spec_.dims)
            parts[name].append(da.from_delayed(res[name], shape=shape, dtype=spec_.dtype))
    out = ds.copy()
    for name in names:
        out[name] = variables.create_variable(name, da.concatenate(parts[name], axis=0))
    out = out.assign_coords(task=np.array(scorer.task_names, dtype=object))
    out.attrs.update(settings_attrs(settings))
    out.attrs.update({"model_path": spec.path, "model_sha256": spec.sha256,
                      "output_layer": spec.output_layer, "batch_size": batch_size})
    return out


__all__ = ["PLAN_VARIABLES", "compute_dfim", "output_variables", "settings_attrs"]
