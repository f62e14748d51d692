"""Plots of dfimx results with holoviews (bokeh backend).

Every function takes a dfimx dataset (or the path of a Zarr store) and returns a
holoviews object. Only the sequences, sources and tasks a plot shows are read from
the store: selections happen on the lazy dataset before any value is loaded.

In a notebook, call ``hv.extension("bokeh")`` once to display the plots; elsewhere
use :func:`save_figure` (HTML, PNG or SVG) or :func:`dfimx.report.write_report`.

Examples
--------
>>> import holoviews as hv
>>> from dfimx import plot
>>> ds = plot.example_dataset(n_seq=4)
>>> isinstance(plot.element_map(ds, 0), hv.Overlay)
True
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, Literal

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh backend options)
import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "BASE_COLORS",
    "delta_tracks",
    "element_map",
    "example_dataset",
    "interaction_summary",
    "open_dataset",
    "per_base_map",
    "qq_plot",
    "save_figure",
    "variant_detail",
    "variant_track",
]

BASES = ("A", "C", "G", "T")
BASE_COLORS: dict[str, str] = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}
SOURCE_COLOR = "#ff7f0e"
TARGET_COLOR = "#7f7f7f"
SIGNIFICANCE = 0.05
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--hide-scrollbars",
)

DatasetLike = xr.Dataset | str | os.PathLike


# ---------------------------------------------------------------------------------------------
# selection helpers


def open_dataset(ds: DatasetLike) -> xr.Dataset:
    """Return ``ds`` itself, or the dataset of the Zarr store at that path (lazily).

    Parameters
    ----------
    ds
        A dfimx dataset, or the path or URL of a dfimx Zarr store.

    Returns
    -------
    xarray.Dataset
        The dataset; a store is opened with :func:`xarray.open_zarr` (dask-backed).

    Examples
    --------
    >>> ds = example_dataset(n_seq=2)
    >>> open_dataset(ds) is ds
    True
    """
    if isinstance(ds, xr.Dataset):
        return ds
    path = os.fspath(ds)
    try:
        return xr.open_zarr(path, consolidated=True)
    except (KeyError, FileNotFoundError, ValueError):
        return xr.open_zarr(path, consolidated=False)


def as_str(values: Any) -> np.ndarray:
    """Object array of Python ``str`` from any string array (object, ``<U``, StringDType).

    Examples
    --------
    >>> as_str(np.array(["a", "b"])).dtype
    dtype('O')
    """
    arr = np.asarray(values)
    out = np.empty(arr.shape, dtype=object)
    out.ravel()[:] = [str(v) for v in arr.ravel()]
    return out


def _seq_index(ds: xr.Dataset, seq: int | str) -> int:
    if isinstance(seq, (int, np.integer)):
        n = ds.sizes["seq"]
        if not -n <= int(seq) < n:
            raise IndexError(f"sequence index {seq} is out of range for {n} sequences")
        return int(seq) % n
    names = as_str(np.asarray(ds["seq_id"].values))
    hits = np.flatnonzero(names == str(seq))
    if hits.size == 0 and "variant_id" in ds:
        hits = np.flatnonzero(as_str(np.asarray(ds["variant_id"].values)) == str(seq))
    if hits.size == 0:
        raise KeyError(f"no sequence named {seq!r} in the dataset")
    return int(hits[0])


def _task_index(ds: xr.Dataset, task: int | str) -> int:
    n = ds.sizes.get("task", 1)
    if isinstance(task, (int, np.integer)):
        if not -n <= int(task) < n:
            raise IndexError(f"task index {task} is out of range for {n} tasks")
        return int(task) % n
    if "task" in ds.coords:
        names = [str(t) for t in ds["task"].values]
        if str(task) in names:
            return names.index(str(task))
    raise KeyError(f"no task named {task!r} in the dataset")


def _task_name(ds: xr.Dataset, t: int) -> str:
    if "task" in ds.coords:
        return str(ds["task"].values[t])
    return str(t)


def _mutation_index(sub: xr.Dataset, mutation: int | str) -> int:
    mask = np.asarray(sub["mutation_mask"].values, dtype=bool)
    if isinstance(mutation, (int, np.integer)):
        m = int(mutation) % sub.sizes["mutation"]
        if not mask[m]:
            raise IndexError(f"mutation {mutation} is padding for this sequence")
        return m
    names = as_str(np.asarray(sub["mutation_name"].values))
    hits = np.flatnonzero((names == str(mutation)) & mask)
    if hits.size == 0:
        raise KeyError(f"no source named {mutation!r} in this sequence")
    return int(hits[0])


def _load(ds: xr.Dataset, names: Sequence[str], **isel: Any) -> xr.Dataset:
    """Select first, then load only the listed variables that exist."""
    present = [n for n in names if n in ds.variables]
    return ds[present].isel(**isel).compute()


def _element_label(name: str, start: int, end: int, alt: int | None = None) -> str:
    if alt is not None and alt >= 0:
        return f"{name} {start}>{BASES[alt]}"
    if end - start == 1:
        return f"{name} @{start}"
    return f"{name} [{start}-{end})"


def _neglog10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log10(np.clip(np.asarray(x, dtype=float), 1e-300, None))


def _symmetric_clim(values: np.ndarray) -> tuple[float, float]:
    finite = np.abs(values[np.isfinite(values)])
    lim = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return (-lim, lim)


# ---------------------------------------------------------------------------------------------
# sequence logos


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int) -> np.ndarray:
    ang = np.deg2rad(np.linspace(a0, a1, n))
    return np.column_stack([cx + rx * np.cos(ang), cy + ry * np.sin(ang)])


def _letter_shapes() -> dict[str, tuple[np.ndarray, list[np.ndarray]]]:
    """Outlines of A, C, G, T in the unit square: (outer ring, holes)."""
    a_outer = np.array(
        [[0, 0], [0.4, 1], [0.6, 1], [1, 0], [0.8, 0], [0.69, 0.28], [0.31, 0.28], [0.2, 0]]
    )
    a_hole = np.array([[0.37, 0.43], [0.63, 0.43], [0.5, 0.78]])
    c_ring = np.vstack(
        [_arc(0.5, 0.5, 0.5, 0.5, 40, 320, 24), _arc(0.5, 0.5, 0.3, 0.32, 320, 40, 24)]
    )
    g_ring = np.vstack(
        [
            _arc(0.5, 0.5, 0.5, 0.5, 40, 360, 26),
            [[1.0, 0.5], [0.55, 0.5], [0.55, 0.36], [0.8, 0.36]],
            _arc(0.5, 0.5, 0.3, 0.32, 330, 40, 22),
        ]
    )
    t_outer = np.array(
        [[0, 1], [1, 1], [1, 0.83], [0.59, 0.83], [0.59, 0], [0.41, 0], [0.41, 0.83], [0, 0.83]]
    )
    shapes = {"A": (a_outer, [a_hole]), "C": (c_ring, []), "G": (g_ring, []),
              "T": (t_outer, [])}
    out = {}
    for letter, (outer, holes) in shapes.items():
        lo, hi = outer.min(axis=0), outer.max(axis=0)
        out[letter] = ((outer - lo) / (hi - lo), [(h - lo) / (hi - lo) for h in holes])
    return out


_SHAPES = _letter_shapes()


def _logo(
    values: np.ndarray,
    start: int,
    ylabel: str,
    label: str = "",
    width: float = 0.9,
) -> hv.Polygons:
    """Sequence logo of ``values`` (position, base): letters scaled to the values.

    Positive values stack upwards (largest on top), negative ones downwards (letters
    upside down). Position ``p`` occupies ``[p, p + 1)`` on the x axis.
    """
    values = np.nan_to_num(np.asarray(values, dtype=float))
    pad = (1 - width) / 2
    parts: dict[str, tuple[list, list, list]] = {b: ([], [], []) for b in BASES}
    for i, row in enumerate(values):
        x0 = start + i + pad
        for sign in (1, -1):
            order = np.argsort(sign * row)
            base_y = 0.0
            for b in order:
                v = row[b]
                if v * sign <= 0:
                    continue
                letter = BASES[b]
                outer, holes = _SHAPES[letter]
                xs, ys, hs = parts[letter]
                xs.append(x0 + width * outer[:, 0])
                ys.append(base_y + v * outer[:, 1])
                hs.append([np.column_stack([x0 + width * h[:, 0], base_y + v * h[:, 1]])
                           for h in holes])
                base_y += v
    geoms = []
    for letter, (xs, ys, hs) in parts.items():
        if not xs:
            continue
        sep = [np.array([np.nan])] * len(xs)
        x = np.concatenate([a for pair in zip(xs, sep, strict=True) for a in pair][:-1])
        y = np.concatenate([a for pair in zip(ys, sep, strict=True) for a in pair][:-1])
        geoms.append({"position": x, ylabel: y, "holes": hs, "base": letter})
    poly = hv.Polygons(geoms, kdims=["position", ylabel], vdims=["base"], label=label)
    return poly.opts(
        color="base", cmap=BASE_COLORS, line_width=0, show_legend=False, backend="bokeh"
    )


def _track_decor(
    track: hv.Element,
    ydim: str,
    source: tuple[int, int],
    targets: Sequence[tuple[int, int, str]],
) -> hv.Overlay:
    dims = ["position", ydim]
    spans = hv.VSpans([(s, e) for s, e, _ in targets], kdims=dims).opts(
        color=TARGET_COLOR, alpha=0.15, line_alpha=0, backend="bokeh")
    src = hv.VSpan(*source, kdims=dims).opts(color=SOURCE_COLOR, alpha=0.25, line_alpha=0,
                                             backend="bokeh")
    zero = hv.HLine(0, kdims=dims).opts(color="black", line_width=0.5, backend="bokeh")
    return hv.Overlay([spans, src, zero, track])


def delta_tracks(
    ds: DatasetLike,
    seq: int | str,
    mutation: int | str,
    task: int | str = 0,
    *,
    window: tuple[int, int] | None = None,
    width: int = 900,
    height: int = 160,
) -> hv.Layout:
    """Importance of the original and the mutant as sequence logos, with Δ below.

    The source is highlighted in orange and the target elements in grey; the x axes
    are linked. The original importance is ``seq_importance``; the mutant's is
    ``seq_importance - delta``. Tracks whose variables are not stored are replaced by
    the ``interaction_profile`` (Δ summed over bases) with a note in the title.

    Parameters
    ----------
    ds
        dfimx dataset or store path.
    seq
        Sequence index or ``seq_id``.
    mutation
        Source index within the sequence, or source name (first match).
    task
        Task index or name.
    window
        ``(start, end)`` positions to show (default: the whole sequence).
    width, height
        Size of each track in pixels.

    Returns
    -------
    holoviews.Layout
        One column of tracks.

    Examples
    --------
    >>> ds = example_dataset(n_seq=3)
    >>> layout = delta_tracks(ds, 0, 0)
    >>> len(layout)
    3
    """
    ds = open_dataset(ds)
    i = _seq_index(ds, seq)
    t = _task_index(ds, task)
    meta = _load(
        ds,
        ["seq_id", "mutation_start", "mutation_end", "mutation_name", "mutation_alt",
         "mutation_mask", "response_start", "response_end", "response_name", "response_mask",
         "prediction", "mutant_prediction"],
        seq=i,
    )
    m = _mutation_index(meta, mutation)
    n_pos = ds.sizes["position"]
    lo, hi = (0, n_pos) if window is None else (max(0, window[0]), min(n_pos, window[1]))
    pos = slice(lo, hi)
    data = _load(
        ds,
        ["seq_onehot", "seq_importance", "delta", "interaction_profile"],
        seq=i, mutation=m, task=t, position=pos,
    )
    source = (int(meta["mutation_start"].values[m]), int(meta["mutation_end"].values[m]))
    alt = int(meta["mutation_alt"].values[m]) if "mutation_alt" in meta else -1
    name = str(meta["mutation_name"].values[m])
    rmask = np.asarray(meta["response_mask"].values, dtype=bool)
    targets = [
        (int(s), int(e), str(n))
        for s, e, n, ok in zip(
            meta["response_start"].values, meta["response_end"].values,
            meta["response_name"].values, rmask, strict=True,
        )
        if ok
    ]
    title = (
        f"{meta['seq_id'].item()}: source {_element_label(name, *source, alt)}, "
        f"task {_task_name(ds, t)}"
    )
    if "prediction" in meta and "mutant_prediction" in meta:
        pred = float(meta["prediction"].values[t])
        mpred = float(meta["mutant_prediction"].values[m, t])
        title += f" (prediction {pred:.3g} \u2192 {mpred:.3g})"
    common = dict(width=width, height=height, tools=["xwheel_zoom"],
                  active_tools=["xwheel_zoom"], xlim=(lo, hi), backend="bokeh")
    tracks: list[tuple[hv.Element, str, str]] = []
    has_imp = "seq_importance" in data
    has_delta = "delta" in data
    if has_imp:
        orig = np.asarray(data["seq_importance"].values, dtype=float)
        tracks.append((_logo(orig, lo, "importance"), "importance", "original"))
        if has_delta:
            mutant = orig - np.asarray(data["delta"].values, dtype=float)
            tracks.append((_logo(mutant, lo, "mutant importance"), "mutant importance",
                           "mutant (original \u2212 \u0394)"))
    if has_delta:
        tracks.append((_logo(np.asarray(data["delta"].values), lo, "delta"), "delta",
                       "\u0394 = importance(original) \u2212 importance(mutant)"))
    if not (has_imp and has_delta):
        missing = [v for v, ok in (("seq_importance", has_imp), ("delta", has_delta)) if not ok]
        note = (f"{' and '.join(missing)} not stored: interaction profile "
                "(\u0394 summed over bases) shown instead")
        prof = np.asarray(data["interaction_profile"].values, dtype=float)
        area = hv.Area((np.arange(lo, hi) + 0.5, np.nan_to_num(prof)), "position",
                       "interaction profile").opts(
            color="#444444", alpha=0.8, line_width=1, tools=["hover"], backend="bokeh")
        tracks.append((area, "interaction profile", note))
    overlays = []
    for k, (track, ydim, subtitle) in enumerate(tracks):
        ov = _track_decor(track, ydim, source, targets)
        if k == 0:
            ytop = _track_top(track)
            named = [(s, e, n) for s, e, n in targets if e - s > 1]
            named = named if len(named) <= 20 else []
            labels = hv.Labels(
                [((s + e) / 2, ytop, n) for s, e, n in named]
                + [((source[0] + source[1]) / 2, ytop, name)],
                ["position", ydim], "name",
            ).opts(text_font_size="9pt", text_baseline="top", text_color="black",
                   backend="bokeh")
            ov = ov * labels
            subtitle = f"{title}\n{subtitle}"
        overlays.append(ov.opts(title=subtitle, xlabel="position", ylabel=ydim, **common))
    return hv.Layout(overlays).cols(1).opts(shared_axes=True, backend="bokeh")


def _track_top(track: hv.Element) -> float:
    vals = track.dimension_values(1)
    vals = vals[np.isfinite(vals)]
    top = float(vals.max()) if vals.size else 0.0
    return top if top > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# maps


def _element_table(ds: xr.Dataset, i: int, t: int) -> pd.DataFrame:
    names = [
        "mutation_start", "mutation_end", "mutation_name", "mutation_alt", "mutation_mask",
        "response_start", "response_end", "response_name", "response_mask",
        "interaction_score", "interaction_p_value", "interaction_q_value",
    ]
    sub = _load(ds, names, seq=i, task=t)
    mmask = np.asarray(sub["mutation_mask"].values, dtype=bool)
    rmask = np.asarray(sub["response_mask"].values, dtype=bool)
    alts = (sub["mutation_alt"].values if "mutation_alt" in sub
            else np.full(sub.sizes["mutation"], -1))
    src_labels = [
        _element_label(str(n), int(s), int(e), int(a))
        for n, s, e, a in zip(sub["mutation_name"].values, sub["mutation_start"].values,
                              sub["mutation_end"].values, alts, strict=True)
    ]
    tgt_labels = [
        _element_label(str(n), int(s), int(e))
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
    df = pd.DataFrame(rows, columns=cols).astype(
        {"score": float, "p_value": float, "q_value": float})
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
    width, height
        Plot size in pixels.

    Returns
    -------
    holoviews.Overlay
        ``HeatMap * Labels`` (the labels are the significant cells).

    Examples
    --------
    >>> ds = example_dataset(n_seq=3)
    >>> overlay = element_map(ds, "seq0")
    >>> overlay.HeatMap.I.vdims[0].name
    'score'
    """
    ds = open_dataset(ds)
    i = _seq_index(ds, seq)
    t = _task_index(ds, task)
    df = _element_table(ds, i, t)
    seq_name = str(ds["seq_id"].isel(seq=i).values)
    kdims = [
        hv.Dimension("source", values=df.attrs["source_order"]),
        hv.Dimension("target", values=df.attrs["target_order"]),
    ]
    vdims = ["score", "p_value", "q_value", "source_name", "target_name"]
    clim = _symmetric_clim(df["score"].to_numpy())
    heat = hv.HeatMap(df[["source", "target", *vdims]], kdims, vdims).opts(
        cmap="RdBu_r", clim=clim, colorbar=True, tools=["hover"], xrotation=45,
        width=width, height=height, clipping_colors={"NaN": "#f0f0f0"},
        title=f"{seq_name}: interaction scores, task {_task_name(ds, t)}", backend="bokeh",
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
    sub = _load(ds, names, seq=i, task=t)
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


def per_base_map(
    ds: DatasetLike,
    seq: int | str,
    task: int | str = 0,
    alt: str | int = "max",
    *,
    selector: bool = True,
    variable: Literal["interaction_score", "interaction_profile"] = "interaction_score",
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
    variable
        ``"interaction_score"`` (targets are the responses' start positions) or
        ``"interaction_profile"`` (every position is a target).
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
    >>> ds = example_dataset(n_seq=2, per_base=True)
    >>> img = per_base_map(ds, 0, selector=False)
    >>> img.vdims[0].name
    'max |score|'
    """
    ds = open_dataset(ds)
    i = _seq_index(ds, seq)
    t = _task_index(ds, task)
    ys, xs, alts, grid = _per_base_grid(ds, i, t, variable)
    seq_name = str(ds["seq_id"].isel(seq=i).values)
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
            clim = _symmetric_clim(img)
        small, fy, fx = _decimate(img, max_size)
        bounds = (xs[0], ys[0], xs[0] + small.shape[1] * fx, ys[0] + small.shape[0] * fy)
        note = f" (block-reduced {fy}\u00d7{fx})" if fy * fx > 1 else ""
        image = hv.Image(np.flipud(small), bounds=bounds, kdims=["target position",
                         "source position"], vdims=[vdim])
        opts = dict(cmap=cmap, colorbar=True, tools=["hover"], width=width, height=height,
                    title=f"{seq_name}: per-base map ({key}), task {_task_name(ds, t)}{note}",
                    clipping_colors={"NaN": "#f0f0f0"}, backend="bokeh")
        if clim is not None:
            opts["clim"] = clim
        return image.opts(**opts)

    if not selector:
        return frame(first)
    present = {BASES[a] for a in np.unique(alts) if a >= 0}
    order = [first, *[k for k in keys if k != first and k in present]]
    return hv.HoloMap({k: frame(k) for k in order},
                      kdims=[hv.Dimension("alt", values=order)], sort=False)


# ---------------------------------------------------------------------------------------------
# run-wide views


def _spread_indices(n: int, k: int) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def pair_values(
    ds: DatasetLike,
    task: int | str = 0,
    *,
    max_seqs: int | None = 2000,
) -> pd.DataFrame:
    """Tidy table of element-pair scores (one row per real source × target test).

    Parameters
    ----------
    ds
        dfimx dataset or store path.
    task
        Task index or name.
    max_seqs
        Use at most this many sequences, evenly spread over the run (``None``: all).

    Returns
    -------
    pandas.DataFrame
        Columns ``seq``, ``source_name``, ``target_name``, ``score`` and, when stored,
        ``p_value``, ``q_value``; ``attrs["n_seq_used"]`` and ``attrs["n_seq"]``.

    Examples
    --------
    >>> ds = example_dataset(n_seq=5)
    >>> sorted(pair_values(ds).columns)[:3]
    ['p_value', 'q_value', 'score']
    """
    ds = open_dataset(ds)
    t = _task_index(ds, task)
    n = ds.sizes["seq"]
    idx = _spread_indices(n, max_seqs) if max_seqs is not None else np.arange(n)
    names = ["mutation_name", "mutation_mask", "response_name", "response_mask",
             "interaction_score", "interaction_p_value", "interaction_q_value"]
    isel: dict[Hashable, Any] = {"task": t}
    if idx.size < n:
        isel["seq"] = idx
    sub = _load(ds, names, **isel)
    valid = (sub["mutation_mask"].values[:, :, None] & sub["response_mask"].values[:, None, :])
    score = sub["interaction_score"].values
    valid &= np.isfinite(score)
    s_i, m_i, r_i = np.nonzero(valid)
    out = {
        "seq": idx[s_i],
        "source_name": as_str(np.asarray(sub["mutation_name"].values)[s_i, m_i]),
        "target_name": as_str(np.asarray(sub["response_name"].values)[s_i, r_i]),
        "score": score[s_i, m_i, r_i].astype(float),
    }
    for v, col in (("interaction_p_value", "p_value"), ("interaction_q_value", "q_value")):
        if v in sub:
            out[col] = sub[v].values[s_i, m_i, r_i].astype(float)
    df = pd.DataFrame(out)
    df.attrs.update(n_seq=n, n_seq_used=int(idx.size))
    return df


def interaction_summary(
    ds: DatasetLike,
    value: Literal["score", "neglog10q"] = "score",
    task: int | str = 0,
    *,
    kind: Literal["box", "violin"] = "box",
    max_seqs: int | None = 2000,
    max_pairs: int = 30,
    width: int = 800,
    height: int = 380,
) -> hv.BoxWhisker | hv.Violin:
    """Distribution of the scores of each element-name pair across sequences.

    One box (or violin) per ``source name → target name``: in a simulation with one
    truly interacting motif pair, only that pair stands out (the DFIM paper's view).

    Parameters
    ----------
    ds
        dfimx dataset or store path.
    value
        ``"score"`` (``interaction_score``) or ``"neglog10q"`` (−log10 q-value).
    task
        Task index or name.
    kind
        ``"box"`` or ``"violin"``.
    max_seqs
        Sequences used for the distributions, evenly spread over the run.
    max_pairs
        Keep the pairs with the largest median |value|.
    width, height
        Plot size in pixels.

    Returns
    -------
    holoviews.BoxWhisker or holoviews.Violin

    Examples
    --------
    >>> ds = example_dataset(n_seq=20)
    >>> interaction_summary(ds).kdims[0].name
    'pair'
    """
    ds = open_dataset(ds)
    if value == "neglog10q" and "interaction_q_value" not in ds:
        raise ValueError("interaction_q_value is not stored (no null was run): use value='score'")
    if value not in ("score", "neglog10q"):
        raise ValueError(f"value must be 'score' or 'neglog10q', got {value!r}")
    df = pair_values(ds, task, max_seqs=max_seqs)
    if value == "neglog10q":
        df = df[np.isfinite(df["q_value"])].assign(value=lambda d: _neglog10(d["q_value"]))
        vlabel = "-log10 q"
    else:
        df = df.assign(value=df["score"])
        vlabel = "interaction score"
    df["pair"] = df["source_name"] + " \u2192 " + df["target_name"]
    med = df.groupby("pair")["value"].median()
    order = med.abs().sort_values(ascending=False).index[:max_pairs].tolist()
    df = df[df["pair"].isin(order)]
    kdim = hv.Dimension("pair", values=order)
    title = f"interaction {('scores' if value == 'score' else '-log10 q')} per element pair, " \
            f"task {_task_name(ds, _task_index(ds, task))}"
    if df.attrs.get("n_seq_used", 0) < df.attrs.get("n_seq", 0):
        title += f" ({df.attrs['n_seq_used']} of {df.attrs['n_seq']} sequences)"
    el_type = hv.BoxWhisker if kind == "box" else hv.Violin
    el = el_type(df[["pair", "value"]], kdim, hv.Dimension("value", label=vlabel))
    opts: dict[str, Any] = dict(width=width, height=height, xrotation=45, title=title,
                                box_fill_color="#9ecae1" if kind == "box" else None,
                                backend="bokeh")
    if kind != "box":
        opts.pop("box_fill_color")
        opts["violin_fill_color"] = "#9ecae1"
    return el.opts(**opts)


def _qq_points(p: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(expected, observed) −log10 p, all small p kept, the bulk thinned."""
    p = np.sort(p[np.isfinite(p)])
    n = p.size
    if n == 0:
        return np.array([]), np.array([])
    expected = _neglog10((np.arange(1, n + 1) - 0.5) / n)
    observed = _neglog10(p)
    if n > max_points:
        keep_tail = max_points // 2
        idx = np.unique(np.concatenate([
            np.arange(min(keep_tail, n)),
            np.linspace(0, n - 1, max_points - keep_tail).round().astype(int),
        ]))
        expected, observed = expected[idx], observed[idx]
    return expected, observed


def null_p_values(null: np.ndarray) -> np.ndarray:
    """Leave-one-out empirical two-sided p-values of null scores against the pooled null.

    Parameters
    ----------
    null
        Null scores (any shape; NaN are dropped).

    Returns
    -------
    numpy.ndarray
        ``p_i = #{j != i: |null_j| >= |null_i|} + 1) / n`` for each finite score; uniform
        when the null is exchangeable.

    Examples
    --------
    >>> null_p_values(np.array([1.0, -2.0, 3.0, np.nan]))
    array([1.        , 0.66666667, 0.33333333])
    """
    a = np.abs(np.asarray(null, dtype=float).ravel())
    a = a[np.isfinite(a)]
    order = np.sort(a)
    n_ge = a.size - np.searchsorted(order, a, side="left")
    return n_ge / a.size


def qq_plot(
    ds: DatasetLike,
    task: int | str | None = None,
    *,
    max_points: int = 4000,
    max_null_seqs: int = 500,
    width: int = 480,
    height: int = 420,
) -> hv.Overlay:
    """QQ plot of observed −log10 p against the uniform expectation.

    When ``null_interaction_score`` is stored, leave-one-out p-values of the null scores
    (pooled, on |score|) are shown too; they should follow the diagonal.

    Parameters
    ----------
    ds
        dfimx dataset or store path with ``interaction_p_value``.
    task
        Task index or name; ``None`` pools all tasks.
    max_points
        Points drawn per curve (the smallest p-values are always kept).
    max_null_seqs
        Sequences (evenly spread) whose null scores are used.
    width, height
        Plot size in pixels.

    Returns
    -------
    holoviews.Overlay

    Examples
    --------
    >>> ds = example_dataset(n_seq=10)
    >>> sorted(qq_plot(ds).keys())[0][0]
    'Curve'
    """
    ds = open_dataset(ds)
    if "interaction_p_value" not in ds:
        raise ValueError("interaction_p_value is not stored (no null was run)")
    isel: dict[Hashable, Any] = {}
    if task is not None:
        isel["task"] = _task_index(ds, task)
    p = _load(ds, ["interaction_p_value"], **isel)["interaction_p_value"].values
    ex, ob = _qq_points(np.asarray(p, dtype=float).ravel(), max_points)
    top = float(max(ex.max() if ex.size else 1, ob.max() if ob.size else 1)) * 1.05
    diag = hv.Curve(([0, top], [0, top]), "expected -log10 p", "observed -log10 p").opts(
        color="grey", line_dash="dashed", backend="bokeh")
    curves = [diag, hv.Scatter((ex, ob), "expected -log10 p", "observed -log10 p",
                               label="interaction tests").opts(
        color="#1f77b4", size=4, tools=["hover"], backend="bokeh")]
    if "null_interaction_score" in ds:
        nidx = _spread_indices(ds.sizes["seq"], max_null_seqs)
        nisel = dict(isel)
        if nidx.size < ds.sizes["seq"]:
            nisel["seq"] = nidx
        null = _load(ds, ["null_interaction_score"], **nisel)["null_interaction_score"].values
        nex, nob = _qq_points(null_p_values(null), max_points)
        curves.append(hv.Scatter((nex, nob), "expected -log10 p", "observed -log10 p",
                                 label="null (leave-one-out)").opts(
            color="#aaaaaa", size=3, backend="bokeh"))
    tname = "all tasks" if task is None else f"task {_task_name(ds, isel['task'])}"
    return hv.Overlay(curves).opts(
        width=width, height=height, legend_position="top_left",
        title=f"QQ plot of p-values ({tname})", backend="bokeh")


# ---------------------------------------------------------------------------------------------
# variants


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
    >>> ds = example_dataset(n_seq=6, variants=True)
    >>> list(variant_table(ds).columns)[:4]
    ['seq', 'variant_id', 'chrom', 'pos']
    """
    ds = open_dataset(ds)
    _require_variants(ds)
    t = _task_index(ds, task)
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
        df["value"] = _neglog10(df["value"].to_numpy())
    return df


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
    >>> ds = example_dataset(n_seq=6, variants=True)
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
               title=str(chrom), xformatter="%d", backend="bokeh")
    return hv.NdLayout(panels, kdims="chrom").cols(2)


def variant_detail(
    ds: DatasetLike,
    variant: int | str,
    task: int | str = 0,
    *,
    window: int | None = 100,
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

    Returns
    -------
    holoviews.Layout

    Examples
    --------
    >>> ds = example_dataset(n_seq=6, variants=True)
    >>> isinstance(variant_detail(ds, "rs1"), hv.Layout)
    True
    """
    ds = open_dataset(ds)
    i = _seq_index(ds, variant)
    t = _task_index(ds, task)
    meta = _load(ds, ["seq_id", "variant_id", "variant_chrom", "variant_pos", "variant_ref",
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
    tasks = [_task_name(ds, k) for k in range(ds.sizes.get("task", 1))]
    for k, tn in enumerate(tasks):
        rows.append((tn, "ref", float(meta["prediction"].values[k])))
        for mm in np.flatnonzero(mmask):
            rows.append((tn, f"alt {meta['mutation_name'].values[mm]}",
                         float(meta["mutant_prediction"].values[mm, k])))
    bars = hv.Bars(rows, ["task", "allele"], "prediction").opts(
        width=420, height=300, tools=["hover"], multi_level=True, xrotation=45,
        title=f"{vid}{where}: predictions", backend="bokeh")
    plots: list[Any] = [bars, element_map(ds, i, t)]
    win = None
    if window is not None:
        c = int(meta["mutation_start"].values[m])
        win = (c - window // 2, c + window // 2)
    plots.extend(delta_tracks(ds, i, m, t, window=win))
    return hv.Layout(plots).cols(2)


# ---------------------------------------------------------------------------------------------
# export


def _find(candidates: Sequence[str], names: Sequence[str]) -> str | None:
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    for n in names:
        found = shutil.which(n)
        if found:
            return found
    return None


def chrome_webdriver(width: int = 1400, height: int = 1000, **capabilities: Any) -> Any:
    """Headless Chromium driven by the system chromedriver (no download of any browser).

    Parameters
    ----------
    width, height
        Window size.
    **capabilities
        Extra capabilities (e.g. ``{"goog:loggingPrefs": {"browser": "ALL"}}``).

    Returns
    -------
    selenium.webdriver.Chrome

    Raises
    ------
    RuntimeError
        Chromium, chromedriver or selenium is missing, with the command installing them.

    Examples
    --------
    >>> driver = chrome_webdriver()  # doctest: +SKIP
    >>> driver.quit()  # doctest: +SKIP
    """
    browser = os.environ.get("DFIMX_CHROMIUM") or _find(
        CHROMIUM_CANDIDATES, ["chromium", "chromium-browser", "google-chrome"])
    driver_path = os.environ.get("DFIMX_CHROMEDRIVER") or _find(
        CHROMEDRIVER_CANDIDATES, ["chromedriver"])
    if browser is None or driver_path is None:
        raise RuntimeError(
            "PNG/SVG export needs a headless Chromium and its chromedriver, which were not "
            "found (install them with: apt-get install chromium chromium-driver; or set "
            "DFIMX_CHROMIUM / DFIMX_CHROMEDRIVER); HTML export works without them"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:  # pragma: no cover - selenium is a test dependency
        raise RuntimeError("PNG/SVG export needs the selenium package (pip install selenium)") \
            from err
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in HEADLESS_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    for key, val in capabilities.items():
        options.set_capability(key, val)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def to_bokeh(obj: Any, *, output_backend: str | None = "canvas") -> Any:
    """Render a holoviews object (or pass a bokeh model through) to a bokeh model.

    Parameters
    ----------
    obj
        holoviews object or bokeh model. A HoloMap is rendered at its first key.
    output_backend
        Set every plot's bokeh ``output_backend`` (``"canvas"``, ``"svg"``,
        ``"webgl"``); ``None`` keeps holoviews' choice.

    Returns
    -------
    bokeh.model.Model

    Examples
    --------
    >>> to_bokeh(hv.Curve([1, 2])).__class__.__name__
    'figure'
    """
    from bokeh.model import Model
    from bokeh.models import Plot

    if not isinstance(obj, Model):
        if isinstance(obj, hv.HoloMap) and not isinstance(obj, hv.DynamicMap) and len(obj):
            obj = obj[obj.keys()[0]]
        obj = hv.render(obj, backend="bokeh")
    if output_backend is not None:
        for plot in obj.select({"type": Plot}):
            plot.output_backend = output_backend
    return obj


def offline_resources() -> Any:
    """Inline BokehJS resources that never reference a URL.

    bokeh adds the ``__javascript__`` / ``__css__`` URLs of every imported extension
    model (e.g. panel's, which holoviews imports) to any page it writes, even when
    the page does not use them; these resources keep only the inline bundles.

    Returns
    -------
    bokeh.resources.Resources

    Examples
    --------
    >>> offline_resources().js_files
    []
    """
    from bokeh.resources import Resources

    class OfflineResources(Resources):
        def _collect_external_resources(self, resource_attr: Any) -> list[str]:
            return []

        def clone(self, *, components: list[Any] | None = None) -> Resources:
            return OfflineResources(
                mode="inline", minified=self.minified, log_level=self.log_level,
                components=components if components is not None else list(self.components),
            )

    return OfflineResources(mode="inline")


def standalone_html(
    models: Any,
    *,
    title: str = "dfimx",
    template: Any = None,
    template_variables: dict[str, Any] | None = None,
) -> str:
    """HTML page holding ``models`` with BokehJS inline and no external resource.

    Parameters
    ----------
    models
        A holoviews object, a bokeh model, or a list of bokeh models.
    title
        Page title.
    template, template_variables
        Passed to :func:`bokeh.embed.file_html` (a Jinja2 template extending bokeh's
        ``file.html``, and its variables).

    Returns
    -------
    str

    Examples
    --------
    >>> html = standalone_html(hv.Curve([1, 2, 3]))
    >>> "https://" in html.split("<script", 1)[0]
    False
    """
    from bokeh.embed import file_html

    if not isinstance(models, (list, tuple)):
        models = [to_bokeh(models)]
    return file_html(list(models), resources=offline_resources(), title=title,
                     template=template, template_variables=template_variables or {})


def save_figure(
    obj: Any, path: str | os.PathLike, *, title: str = "dfimx", scale_factor: float = 1.0
) -> Path:
    """Save a plot as a self-contained HTML file, or a static PNG or SVG.

    The format follows the suffix of ``path``. HTML inlines BokehJS (viewing it needs
    no network). PNG and SVG are drawn by a headless Chromium through selenium and the
    system chromedriver (Debian: ``apt-get install chromium chromium-driver``); for SVG
    the plots use bokeh's SVG output backend, so the file holds vector graphics.

    Parameters
    ----------
    obj
        holoviews object or bokeh model.
    path
        Output file ending in ``.html``, ``.png`` or ``.svg``.
    title
        HTML page title.
    scale_factor
        PNG resolution multiplier (e.g. 2 or 3 for print).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    RuntimeError
        PNG/SVG requested but Chromium or chromedriver is not installed.

    Examples
    --------
    >>> import tempfile
    >>> out = save_figure(hv.Curve([1, 3, 2]), tempfile.mkdtemp() + "/curve.html")
    >>> out.suffix
    '.html'
    """
    from bokeh.io.export import get_screenshot_as_png, get_svg

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".png", ".svg"):
        raise ValueError(f"{path}: unsupported format {suffix!r} (use .html, .png or .svg)")
    model = to_bokeh(obj, output_backend="svg" if suffix == ".svg" else "canvas")
    if suffix == ".html":
        path.write_text(standalone_html([model], title=title), encoding="utf-8")
        return path
    driver = chrome_webdriver()
    try:
        if suffix == ".png":
            image = get_screenshot_as_png(model, driver=driver, resources=offline_resources(),
                                          scale_factor=scale_factor)
            if image.width == 0 or image.height == 0:
                raise RuntimeError(f"{path}: the browser drew an empty image")
            image.save(os.fspath(path))
        else:
            svgs = get_svg(model, driver=driver, resources=offline_resources())
            if not svgs:
                raise RuntimeError(f"{path}: the browser returned no SVG")
            path.write_text(svgs[0], encoding="utf-8")
    finally:
        driver.quit()
    return path


# ---------------------------------------------------------------------------------------------
# a small synthetic dataset for examples


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of the finite entries of ``p`` (NaN elsewhere)."""
    flat = p.ravel()
    ok = np.flatnonzero(np.isfinite(flat))
    order = ok[np.argsort(flat[ok])]
    n = order.size
    q_sorted = np.minimum.accumulate((flat[order] * n / np.arange(1, n + 1))[::-1])[::-1]
    q = np.full(flat.shape, np.nan, dtype=np.float32)
    q[order] = np.minimum(q_sorted, 1)
    return q.reshape(p.shape)


def example_dataset(
    n_seq: int = 20,
    *,
    length: int = 60,
    n_tasks: int = 2,
    per_base: bool = False,
    variants: bool = False,
    seed: int = 0,
) -> xr.Dataset:
    """A small random dataset with the layout of a dfimx result, for examples.

    Element runs have sources/targets ``GATA``, ``TAL1`` and ``CTCF``; ``GATA → TAL1``
    interacts (large scores, small q-values). ``per_base=True`` builds a per-base scan
    of a 6-position window against 20 single-position targets.

    Parameters
    ----------
    n_seq
        Number of sequences.
    length
        Sequence length.
    n_tasks
        Number of tasks.
    per_base
        Per-base scan layout instead of element pairs.
    variants
        Add variant coordinates on ``seq``.
    seed
        Random seed.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> example_dataset(n_seq=3).sizes["seq"]
    3
    """
    rng = np.random.default_rng(seed)
    strs = object
    onehot = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n_seq, length))]
    if per_base:
        src_pos = np.arange(20, 26)
        ms, ma = [], []
        for p in src_pos:
            for a in range(3):
                ms.append(p)
                ma.append(a)
        n_mut = len(ms)
        mstart = np.tile(np.array(ms, dtype=np.int64), (n_seq, 1))
        mend = mstart + 1
        malt = np.tile(np.array(ma, dtype=np.int8), (n_seq, 1))
        mname = np.array([[f"{p}>{BASES[a]}" for p, a in zip(ms, ma, strict=True)]] * n_seq,
                         dtype=strs)
        rstart = np.tile(np.arange(30, 50, dtype=np.int64), (n_seq, 1))
        rend = rstart + 1
        rname = np.array([[f"pos{p}" for p in range(30, 50)]] * n_seq, dtype=strs)
    else:
        names = ["GATA", "TAL1", "CTCF"]
        starts = np.array([5, 25, 45], dtype=np.int64)
        n_mut = 3
        mstart = np.tile(starts, (n_seq, 1))
        mend = mstart + 8
        malt = np.full((n_seq, n_mut), -1, dtype=np.int8)
        mname = np.array([names] * n_seq, dtype=strs)
        rstart, rend, rname = mstart.copy(), mend.copy(), mname.copy()
    n_resp = rstart.shape[1]
    score = rng.normal(0, 0.3, (n_seq, n_mut, n_resp, n_tasks)).astype(np.float32)
    overlap = (mstart[:, :, None] < rend[:, None, :]) & (rstart[:, None, :] < mend[:, :, None])
    if not per_base:
        score[:, 0, 1, :] += 2.0
    score[overlap] = np.nan
    null = rng.normal(0, 0.3, (*score.shape, 5)).astype(np.float32)
    null[overlap] = np.nan
    ranks = np.abs(null.reshape(-1))
    ranks = np.sort(ranks[np.isfinite(ranks)])
    p = ((ranks.size - np.searchsorted(ranks, np.abs(score), side="left") + 1)
         / (ranks.size + 1)).astype(np.float32)
    p[np.isnan(score)] = np.nan
    q = _bh(p)
    imp = (onehot[..., None] * rng.normal(0, 0.5, (n_seq, length, 4, n_tasks))).astype(
        np.float32)
    delta = np.zeros((n_seq, n_mut, length, 4, n_tasks), np.float32)
    for m in range(n_mut):
        delta[:, m] = imp * rng.uniform(0, 0.6, (n_seq, 1, 1, n_tasks)).astype(np.float32)
        for s in range(n_seq):
            delta[s, m, mstart[s, m]:mend[s, m]] = 0
    profile = delta.sum(axis=3)
    for m in range(n_mut):
        for s in range(n_seq):
            profile[s, m, mstart[s, m]:mend[s, m]] = np.nan
    pred = rng.normal(1, 1, (n_seq, n_tasks)).astype(np.float32)
    ds = xr.Dataset(
        {
            "seq_id": ("seq", np.array([f"seq{k}" for k in range(n_seq)], dtype=strs)),
            "seq_onehot": (("seq", "position", "base"), onehot),
            "mutation_start": (("seq", "mutation"), mstart),
            "mutation_end": (("seq", "mutation"), mend),
            "mutation_name": (("seq", "mutation"), mname),
            "mutation_alt": (("seq", "mutation"), malt),
            "mutation_mask": (("seq", "mutation"), np.ones((n_seq, n_mut), bool)),
            "response_start": (("seq", "response"), rstart),
            "response_end": (("seq", "response"), rend),
            "response_name": (("seq", "response"), rname),
            "response_mask": (("seq", "response"), np.ones((n_seq, n_resp), bool)),
            "prediction": (("seq", "task"), pred),
            "mutant_prediction": (("seq", "mutation", "task"),
                                  pred[:, None, :] - rng.uniform(0, 1, (n_seq, n_mut, n_tasks))
                                  .astype(np.float32)),
            "seq_importance": (("seq", "position", "base", "task"), imp),
            "delta": (("seq", "mutation", "position", "base", "task"), delta),
            "interaction_profile": (("seq", "mutation", "position", "task"), profile),
            "interaction_score": (("seq", "mutation", "response", "task"), score),
            "interaction_p_value": (("seq", "mutation", "response", "task"), p),
            "interaction_q_value": (("seq", "mutation", "response", "task"), q),
            "null_interaction_score": (("seq", "mutation", "response", "task", "null"), null),
        },
        coords={"task": [f"task{k}" for k in range(n_tasks)], "base": list(BASES)},
        attrs={"dfimx_version": "example", "method": "grad_x_input", "reference": "zeros",
               "mutation_mode": "per_base" if per_base else "zeros", "score_reduction": "sum",
               "null": "dinuc", "null_draws": 5, "seed": seed},
    )
    if variants:
        chroms = np.array(["chr1", "chr2"], dtype=object)[np.arange(n_seq) % 2]
        ds = ds.assign(
            variant_chrom=("seq", chroms),
            variant_pos=("seq", (1000 + 137 * np.arange(n_seq)).astype(np.int64)),
            variant_ref=("seq", np.array(["A"] * n_seq, dtype=object)),
            variant_alt=("seq", np.array(["G"] * n_seq, dtype=object)),
            variant_id=("seq", np.array([f"rs{k}" for k in range(n_seq)], dtype=object)),
        )
    return ds
