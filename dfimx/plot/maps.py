"""Interaction maps of one sequence: the element map and the per-base map.

Examples
--------
>>> from dfimx.testing import example_result
>>> element_map(example_result(n_seq=2), 0).HeatMap.I.kdims[0].name
'source'
"""

from __future__ import annotations

import warnings
from typing import Literal

import holoviews as hv
import numpy as np
import pandas as pd
import xarray as xr

from dfimx.alphabet import BASES
from dfimx.plot.select import (
    SIGNIFICANCE,
    DatasetLike,
    element_label,
    genome_offset,
    load,
    open_dataset,
    python_strings,
    seq_index,
    symmetric_clim,
    task_index,
    task_name,
)

__all__ = ["element_map", "per_base_map"]


def _element_table(ds: xr.Dataset, i: int, t: int, offset: int | None = None) -> pd.DataFrame:
    names = [
        "mutation_start", "mutation_end", "mutation_name", "mutation_alt", "mutation_mask",
        "response_start", "response_end", "response_name", "response_mask",
        "interaction_score", "interaction_p_value", "interaction_q_value",
    ]
    sub = load(ds, names, seq=i, task=t)
    mmask = np.asarray(sub["mutation_mask"].values, dtype=bool)
    rmask = np.asarray(sub["response_mask"].values, dtype=bool)
    alts = (sub["mutation_alt"].values if "mutation_alt" in sub
            else np.full(sub.sizes["mutation"], -1))
    src_labels = [
        element_label(str(n), int(s), int(e), int(a), offset=offset)
        for n, s, e, a in zip(sub["mutation_name"].values, sub["mutation_start"].values,
                              sub["mutation_end"].values, alts, strict=True)
    ]
    tgt_labels = [
        element_label(str(n), int(s), int(e), offset=offset)
        for n, s, e in zip(sub["response_name"].values, sub["response_start"].values,
                           sub["response_end"].values, strict=True)
    ]
    rows = []
    score = sub["interaction_score"].values
    p = sub["interaction_p_value"].values if "interaction_p_value" in sub else None
    q = sub["interaction_q_value"].values if "interaction_q_value" in sub else None
    for m in np.flatnonzero(mmask):
        for r in np.flatnonzero(rmask):
            rows.append({
                "source": src_labels[m], "target": tgt_labels[r],
                "mutation": int(m), "response": int(r),
                "source_name": str(sub["mutation_name"].values[m]),
                "target_name": str(sub["response_name"].values[r]),
                "score": float(score[m, r]),
                "p_value": float(p[m, r]) if p is not None else np.nan,
                "q_value": float(q[m, r]) if q is not None else np.nan,
            })
    cols = ["source", "target", "mutation", "response", "source_name", "target_name", "score",
            "p_value", "q_value"]
    df = python_strings(pd.DataFrame(rows, columns=cols).astype(
        {"score": float, "p_value": float, "q_value": float}))
    df.attrs["source_order"] = [src_labels[m] for m in np.flatnonzero(mmask)]
    df.attrs["target_order"] = [tgt_labels[r] for r in np.flatnonzero(rmask)]
    df.attrs["has_q"] = q is not None
    return df


def element_map(
    ds: DatasetLike,
    seq: int | str,
    task: int | str = 0,
    *,
    alpha: float = SIGNIFICANCE,
    genome_axis: bool = True,
    width: int = 520,
    height: int = 420,
) -> hv.Overlay:
    """Source × target heatmap of ``interaction_score`` for one sequence.

    Cells are coloured by the score (diverging colour map, symmetric limits); the hover
    shows names, score, p- and q-value; cells with q < ``alpha`` carry a ``*``.
    Self and overlapping pairs (NaN scores) are left blank.

    Parameters
    ----------
    ds
        dfimx dataset or store path.
    seq
        Sequence index or ``seq_id``.
    task
        Task index or name.
    alpha
        q-value threshold of the significance marks.
    genome_axis
        When the sequence's place in the genome is known (see
        :func:`dfimx.plot.select.genome_window`), label sources and targets with 1-based
        genome coordinates (``GATA 1006-1013``, both ends included, as the variant genome
        axis); False keeps 0-based window positions (``GATA [5-13)``).
    width, height
        Plot size in pixels.

    Returns
    -------
    holoviews.Overlay
        ``HeatMap * Labels`` (the labels are the significant cells).

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=3)
    >>> overlay = element_map(ds, "chr1:0-120")
    >>> overlay.HeatMap.I.vdims[0].name
    'score'
    """
    ds = open_dataset(ds)
    i = seq_index(ds, seq)
    t = task_index(ds, task)
    offset, _ = genome_offset(ds, i, genome_axis)
    df = _element_table(ds, i, t, offset or None)
    seq_name = str(ds["seq_id"].isel(seq=i).values)
    kdims = [
        hv.Dimension("source", values=df.attrs["source_order"]),
        hv.Dimension("target", values=df.attrs["target_order"]),
    ]
    vdims = ["score", "p_value", "q_value", "source_name", "target_name"]
    clim = symmetric_clim(df["score"].to_numpy())
    heat = hv.HeatMap(df[["source", "target", *vdims]], kdims, vdims).opts(
        cmap="RdBu_r", clim=clim, colorbar=True, tools=["hover"], xrotation=45,
        width=width, height=height, clipping_colors={"NaN": "#f0f0f0"},
        title=f"{seq_name}: interaction scores, task {task_name(ds, t)}", backend="bokeh",
        **({"xlabel": "source (bp, 1-based)", "ylabel": "target (bp, 1-based)"}
           if offset else {}),
    )
    sig = df[df["q_value"] < alpha] if df.attrs["has_q"] else df.iloc[:0]
    marks = hv.Labels(
        (sig["source"].to_numpy(), sig["target"].to_numpy(), np.full(len(sig), "\u2605")),
        kdims, "mark",
    ).opts(text_font_size="14pt", text_color="black", text_align="center",
           text_baseline="middle", backend="bokeh")
    return heat * marks


def _per_base_grid(
    ds: xr.Dataset, i: int, t: int, variable: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(source positions, target positions, alt codes, values[alt, source, target])."""
    names = ["mutation_start", "mutation_alt", "mutation_mask", "response_start",
             "response_mask", variable]
    sub = load(ds, names, seq=i, task=t)
    mmask = np.asarray(sub["mutation_mask"].values, dtype=bool)
    src = np.asarray(sub["mutation_start"].values)[mmask].astype(int)
    alts = (np.asarray(sub["mutation_alt"].values)[mmask].astype(int)
            if "mutation_alt" in sub else np.full(src.size, -1))
    vals = np.asarray(sub[variable].values, dtype=float)[mmask]
    if variable == "interaction_profile":
        tgt = np.arange(vals.shape[1])
    else:
        rmask = np.asarray(sub["response_mask"].values, dtype=bool)
        tgt = np.asarray(sub["response_start"].values)[rmask].astype(int)
        vals = vals[:, rmask]
    if src.size == 0 or tgt.size == 0:
        raise ValueError("this sequence has no sources or no targets to map")
    xs = np.arange(tgt.min(), tgt.max() + 1)
    ys = np.arange(src.min(), src.max() + 1)
    grid = np.full((4, ys.size, xs.size), np.nan)
    a_idx = np.where(alts >= 0, alts, 0)
    grid[a_idx[:, None], (src - ys[0])[:, None], (tgt - xs[0])[None, :]] = vals
    return ys, xs, alts, grid


def _decimate(img: np.ndarray, max_size: int) -> tuple[np.ndarray, int, int]:
    """Block-reduce ``img`` (keeping the value of largest magnitude) to at most max_size²."""
    fy = max(1, int(np.ceil(img.shape[0] / max_size)))
    fx = max(1, int(np.ceil(img.shape[1] / max_size)))
    if fy == 1 and fx == 1:
        return img, 1, 1
    ny, nx = -(-img.shape[0] // fy), -(-img.shape[1] // fx)
    padded = np.full((ny * fy, nx * fx), np.nan)
    padded[: img.shape[0], : img.shape[1]] = img
    blocks = padded.reshape(ny, fy, nx, fx).transpose(0, 2, 1, 3).reshape(ny, nx, fy * fx)
    mag = np.where(np.isfinite(blocks), np.abs(blocks), -1.0)
    pick = np.take_along_axis(blocks, mag.argmax(axis=-1)[..., None], axis=-1)[..., 0]
    return pick, fy, fx


def _letter_ticks(ds: xr.Dataset, i: int, xs: np.ndarray, ys: np.ndarray, offset: int = 0):
    """A bokeh hook labelling both axes ``<base><position>`` at the pixel centres
    (``xs``, ``ys`` window positions; the labels and ticks add ``offset``)."""
    onehot = np.asarray(load(ds, ["seq_onehot"], seq=i)["seq_onehot"].values)
    code = np.where(onehot.any(axis=1), onehot.argmax(axis=1), 4)
    letters = np.array([*BASES, "N"])[code]

    def ticks(positions: np.ndarray) -> tuple[list[float], dict[float, str]]:
        step = max(1, int(np.ceil(positions.size / 60)))
        shown = positions[::step]
        return ([float(p + offset) + 0.5 for p in shown],
                {float(p + offset) + 0.5: f"{letters[p]}{p + offset}" for p in shown})

    def hook(plot, element) -> None:
        from bokeh.models import FixedTicker

        for axis, positions in ((plot.state.xaxis, xs), (plot.state.yaxis, ys)):
            where, labels = ticks(positions)
            axis.ticker = FixedTicker(ticks=where)
            axis.major_label_overrides = labels
        plot.state.xaxis.major_label_orientation = np.pi / 2

    return hook


def per_base_map(
    ds: DatasetLike,
    seq: int | str,
    task: int | str = 0,
    alt: str | int = "max",
    *,
    selector: bool = True,
    letters: bool = True,
    variable: Literal["interaction_score", "interaction_profile"] = "interaction_score",
    genome_axis: bool = True,
    max_size: int = 800,
    width: int = 560,
    height: int = 480,
) -> hv.Image | hv.HoloMap:
    """Source position × target position map of a per-base scan.

    ``alt="max"`` shows, at each (source, target), the largest ``|score|`` over the
    alternative bases; a base (``"A"``..``"T"`` or 0-3) shows that substitution's
    signed score. With ``selector=True`` a :class:`holoviews.HoloMap` over all views
    (``alt`` first) is returned, which displays with a selection widget.

    Parameters
    ----------
    ds
        dfimx dataset or store path of a per-base scan (``mutation_alt`` 0-3).
    seq
        Sequence index or ``seq_id``.
    task
        Task index or name.
    alt
        ``"max"`` or an alternative base.
    selector
        Return a HoloMap over ``["max", "A", "C", "G", "T"]`` instead of one image.
    letters
        Label the axes with the sequence: ``G57`` is position 57, a G in the original
        (every position up to 60 per axis, else evenly spaced ticks).
    variable
        ``"interaction_score"`` (targets are the responses' start positions) or
        ``"interaction_profile"`` (every position is a target).
    genome_axis
        When the sequence's place in the genome is known (see
        :func:`dfimx.plot.select.genome_window`), both axes are 1-based genome
        coordinates (``chr1 position (bp, 1-based)``, as the variant genome axis); False
        keeps 0-based window positions.
    max_size
        Maps larger than this on a side are block-reduced (keeping the value of
        largest magnitude in each block).
    width, height
        Plot size in pixels.

    Returns
    -------
    holoviews.Image or holoviews.HoloMap

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=2, per_base=True)
    >>> img = per_base_map(ds, 0, selector=False)
    >>> img.vdims[0].name
    'max |score|'
    """
    ds = open_dataset(ds)
    i = seq_index(ds, seq)
    t = task_index(ds, task)
    ys, xs, alts, grid = _per_base_grid(ds, i, t, variable)
    offset, axis = genome_offset(ds, i, genome_axis)
    seq_name = str(ds["seq_id"].isel(seq=i).values)
    hooks = [_letter_ticks(ds, i, xs, ys, offset)] if letters and "seq_onehot" in ds else []
    x0, y0 = int(xs[0]) + offset, int(ys[0]) + offset
    where = "" if not offset else f" ({axis.split(' ', 1)[0]}, bp, 1-based)"
    keys: list[str] = ["max", *BASES]
    first = alt if isinstance(alt, str) else BASES[int(alt)]
    if first not in keys:
        raise ValueError(f"alt must be 'max' or one of {BASES} (or 0-3), got {alt!r}")

    def frame(key: str) -> hv.Image:
        if key == "max":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                img = np.nanmax(np.abs(grid), axis=0)
            vdim, cmap, clim = "max |score|", "viridis", None
        else:
            img = grid[BASES.index(key)]
            vdim, cmap = f"score ({key})", "RdBu_r"
            clim = symmetric_clim(img)
        small, fy, fx = _decimate(img, max_size)
        bounds = (x0, y0, x0 + small.shape[1] * fx, y0 + small.shape[0] * fy)
        note = f" (block-reduced {fy}\u00d7{fx})" if fy * fx > 1 else ""
        kdims = [hv.Dimension("target position", label=f"target position{where}"),
                 hv.Dimension("source position", label=f"source position{where}")]
        image = hv.Image(np.flipud(small), bounds=bounds, kdims=kdims, vdims=[vdim])
        opts = dict(cmap=cmap, colorbar=True, tools=["hover"], width=width, height=height,
                    title=f"{seq_name}: per-base map ({key}), task {task_name(ds, t)}{note}",
                    clipping_colors={"NaN": "#f0f0f0"}, hooks=hooks, backend="bokeh")
        if clim is not None:
            opts["clim"] = clim
        return image.opts(**opts)

    if not selector:
        return frame(first)
    present = {BASES[a] for a in np.unique(alts) if a >= 0}
    order = [first, *[k for k in keys if k != first and k in present]]
    return hv.HoloMap({k: frame(k) for k in order},
                      kdims=[hv.Dimension("alt", values=order)], sort=False)
