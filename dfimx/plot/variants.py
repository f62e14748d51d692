"""Views of variant scans: the best interaction per variant, along the genome, in detail.

Examples
--------
>>> from dfimx.testing import example_result
>>> variant_table(example_result(n_seq=4, variants=True))["variant_id"].tolist()
['rs100', 'rs101', 'rs102', 'rs103']
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import holoviews as hv
import numpy as np
import pandas as pd
import xarray as xr

from dfimx.plot.logos import delta_tracks
from dfimx.plot.maps import element_map
from dfimx.plot.select import (
    DatasetLike,
    load,
    neglog10,
    open_dataset,
    python_strings,
    seq_index,
    task_index,
    task_name,
)
from dfimx.variables import as_str

__all__ = ["variant_detail", "variant_table", "variant_track"]


def _require_variants(ds: xr.Dataset) -> None:
    missing = [v for v in ("variant_chrom", "variant_pos") if v not in ds]
    if missing:
        raise ValueError(f"not a variant scan: {', '.join(missing)} missing from the dataset")


def variant_table(
    ds: DatasetLike, value: Literal["score", "neglog10q"] = "score", task: int | str = 0
) -> pd.DataFrame:
    """One row per variant window with its best interaction.

    Parameters
    ----------
    ds
        dfimx dataset or store path of a variant scan.
    value
        ``"score"`` (largest |score| of the window) or ``"neglog10q"`` (−log10 of the
        smallest q-value).
    task
        Task index or name.

    Returns
    -------
    pandas.DataFrame
        Columns ``seq``, ``variant_id``, ``chrom``, ``pos``, ``ref``, ``alt``, ``value``.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=6, variants=True)
    >>> list(variant_table(ds).columns)[:4]
    ['seq', 'variant_id', 'chrom', 'pos']
    """
    ds = open_dataset(ds)
    _require_variants(ds)
    t = task_index(ds, task)
    var = "interaction_score" if value == "score" else "interaction_q_value"
    if var not in ds:
        raise ValueError(f"{var} is not stored (no null was run): use value='score'")
    x = ds[var].isel(task=t)
    if value == "score":
        best = abs(x).max(dim=("mutation", "response"), skipna=True)
    else:
        best = x.min(dim=("mutation", "response"), skipna=True)
    cols = ["variant_id", "variant_chrom", "variant_pos", "variant_ref", "variant_alt"]
    got = xr.merge([ds[[c for c in cols if c in ds]], best.rename("value")]).compute()
    df = pd.DataFrame({
        "seq": np.arange(ds.sizes["seq"]),
        "variant_id": as_str(np.asarray(got["variant_id"].values))
        if "variant_id" in got else as_str(np.asarray(ds["seq_id"].values)),
        "chrom": as_str(np.asarray(got["variant_chrom"].values)),
        "pos": np.asarray(got["variant_pos"].values).astype(np.int64),
        "ref": as_str(np.asarray(got["variant_ref"].values)) if "variant_ref" in got else "",
        "alt": as_str(np.asarray(got["variant_alt"].values)) if "variant_alt" in got else "",
        "value": np.asarray(got["value"].values, dtype=float),
    })
    if value == "neglog10q":
        df["value"] = neglog10(df["value"].to_numpy())
    return python_strings(df)


def variant_track(
    ds: DatasetLike,
    value: Literal["score", "neglog10q"] = "score",
    task: int | str = 0,
    *,
    max_points: int = 20000,
    width: int = 420,
    height: int = 220,
) -> hv.NdLayout:
    """Best interaction of each variant window along the genome, one panel per chromosome.

    Parameters
    ----------
    ds
        dfimx dataset or store path of a variant scan.
    value
        ``"score"`` (largest |score|) or ``"neglog10q"`` (−log10 smallest q).
    task
        Task index or name.
    max_points
        At most this many variants are drawn (those with the largest values).
    width, height
        Size of each panel in pixels.

    Returns
    -------
    holoviews.NdLayout
        Keyed by chromosome.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=6, variants=True)
    >>> variant_track(ds).kdims[0].name
    'chrom'
    """
    df = variant_table(ds, value, task)
    df = df[np.isfinite(df["value"])]
    if len(df) > max_points:
        df = df.nlargest(max_points, "value")
    label = "max |score|" if value == "score" else "-log10 q"
    df = df.sort_values(["chrom", "pos"])
    panels = {}
    for chrom, part in df.groupby("chrom", sort=False):
        panels[chrom] = hv.Scatter(
            part, "pos", [hv.Dimension("value", label=label), "variant_id", "ref", "alt"]
        ).opts(size=5, tools=["hover"], width=width, height=height, color="#1f77b4",
               title=str(chrom), xformatter="%d", xlabel=f"{chrom} position (bp, 1-based)",
               backend="bokeh")
    return hv.NdLayout(panels, kdims="chrom").cols(2)


def variant_detail(
    ds: DatasetLike,
    variant: int | str,
    task: int | str = 0,
    *,
    window: int | None = 100,
    genome_axis: bool = True,
) -> hv.Layout:
    """Detail of one variant window: predictions, interaction map and Δ tracks.

    Parameters
    ----------
    ds
        dfimx dataset or store path of a variant scan.
    variant
        Sequence index, ``seq_id`` or ``variant_id``.
    task
        Task index or name (of the map and tracks).
    window
        Positions shown around the variant in the tracks (``None``: whole window).
    genome_axis
        Genome coordinates on the map and track axes (see
        :func:`dfimx.plot.delta_tracks`); False: window positions.

    Returns
    -------
    holoviews.Layout

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=6, variants=True)
    >>> isinstance(variant_detail(ds, "rs101"), hv.Layout)
    True
    """
    ds = open_dataset(ds)
    i = seq_index(ds, variant)
    t = task_index(ds, task)
    meta = load(ds, ["seq_id", "variant_id", "variant_chrom", "variant_pos", "variant_ref",
                      "variant_alt", "prediction", "mutant_prediction", "mutation_name",
                      "mutation_mask", "mutation_start", "interaction_score"], seq=i)
    mmask = np.asarray(meta["mutation_mask"].values, dtype=bool)
    score = np.abs(np.asarray(meta["interaction_score"].values[:, :, t], dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_mut = np.where(mmask, np.nanmax(np.where(np.isfinite(score), score, -np.inf),
                                            axis=1), -np.inf)
    m = int(np.argmax(per_mut)) if mmask.any() else 0
    vid = str(meta["variant_id"].values) if "variant_id" in meta else str(meta["seq_id"].values)
    where = ""
    if "variant_chrom" in meta:
        where = f" {meta['variant_chrom'].values}:{int(meta['variant_pos'].values)}"
    if "variant_ref" in meta:
        where += f" {meta['variant_ref'].values}>{meta['variant_alt'].values}"
    rows = []
    tasks = [task_name(ds, k) for k in range(ds.sizes.get("task", 1))]
    for k, tn in enumerate(tasks):
        rows.append((tn, "ref", float(meta["prediction"].values[k])))
        for mm in np.flatnonzero(mmask):
            rows.append((tn, f"alt {meta['mutation_name'].values[mm]}",
                         float(meta["mutant_prediction"].values[mm, k])))
    bars = hv.Bars(rows, ["task", "allele"], "prediction").opts(
        width=420, height=300, tools=["hover"], multi_level=True, xrotation=45,
        title=f"{vid}{where}: predictions", backend="bokeh")
    plots: list[Any] = [bars, element_map(ds, i, t, genome_axis=genome_axis)]
    win = None
    if window is not None:
        c = int(meta["mutation_start"].values[m])
        win = (c - window // 2, c + window // 2)
    plots.extend(delta_tracks(ds, i, m, t, window=win, genome_axis=genome_axis))
    return hv.Layout(plots).cols(2)
