"""Sequence logos of importance and Δ, with the source and targets marked.

:func:`delta_tracks` draws the importance of the original and of the mutant and their
difference Δ as sequence logos (letters scaled to the values) on linked x axes. By
default each position shows one letter, the observed base, as tall as the position's
total contribution (the sum over the four bases, as tangermeme and CREsted draw
contributions); ``bases="hypothetical"`` draws the four stored values per position.
Original and mutant share one y axis; Δ has its own, labelled scale.

Examples
--------
>>> from dfimx.testing import example_result
>>> len(delta_tracks(example_result(n_seq=2), 0, 0))
3
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import holoviews as hv
import numpy as np

from dfimx.alphabet import BASES
from dfimx.plot.recompute import source_tracks
from dfimx.plot.select import (
    DatasetLike,
    element_label,
    genome_offset,
    load,
    mutation_index,
    open_dataset,
    seq_index,
    task_index,
    task_name,
)

__all__ = ["BASE_COLORS", "SOURCE_COLOR", "TARGET_COLOR", "delta_tracks", "logo_values",
           "mutant_onehot"]

#: What a logo shows per position: the observed base only, or all four stored values.
LogoBases = Literal["observed", "hypothetical"]

BASE_COLORS: dict[str, str] = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}
SOURCE_COLOR = "#ff7f0e"
TARGET_COLOR = "#7f7f7f"


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


def logo_values(values: np.ndarray, onehot: np.ndarray,
                bases: LogoBases = "observed") -> np.ndarray:
    """The (position, base) heights a logo draws.

    ``"observed"``: at each position the sum of the four values, put on the observed
    base (0 elsewhere and at ``N`` positions, whose one-hot row is all zero); the totals
    are what a position contributes, so they add up to the prediction difference of
    methods that sum to Δ. ``"hypothetical"``: the values themselves.

    Examples
    --------
    >>> imp = np.array([[0.1, 0.5, 0.2, 0.2], [-0.3, 0.0, 0.1, 0.0], [1.0, 1.0, 1.0, 1.0]])
    >>> onehot = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    >>> logo_values(imp, onehot).round(2).tolist()
    [[0.0, 0.0, 1.0, 0.0], [-0.2, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    >>> logo_values(imp, onehot, "hypothetical")[0].tolist()
    [0.1, 0.5, 0.2, 0.2]
    """
    values = np.nan_to_num(np.asarray(values, dtype=float))
    if bases == "hypothetical":
        return values
    if bases != "observed":
        raise ValueError(f"bases must be 'observed' or 'hypothetical', got {bases!r}")
    return np.where(np.asarray(onehot) > 0, values.sum(axis=-1, keepdims=True), 0.0)


def mutant_onehot(onehot: np.ndarray, start: int, end: int, alt: int) -> np.ndarray:
    """One-hot of the mutant for its logo: the alternative base of a substitution
    (``alt`` 0-3); an element replacement keeps the original letters.

    Examples
    --------
    >>> mutant_onehot(np.eye(4)[[0, 1]], 1, 2, 3).argmax(axis=1).tolist()
    [0, 3]
    """
    out = np.array(onehot, dtype=float, copy=True)
    if alt >= 0:
        out[start:end] = 0
        out[start:end, alt] = 1
    return out


def _limits(*arrays: np.ndarray) -> tuple[float, float]:
    """y limits holding the stacked logos of every array (5% margin)."""
    lo = min(float(np.where(a < 0, a, 0).sum(axis=1).min(initial=0)) for a in arrays)
    hi = max(float(np.where(a > 0, a, 0).sum(axis=1).max(initial=0)) for a in arrays)
    if hi - lo <= 0:
        return (-1.0, 1.0)
    pad = 0.05 * (hi - lo)
    return (lo - pad, hi + pad)


def track_data(
    ds: DatasetLike,
    seq: int | str,
    mutation: int | str,
    task: int | str = 0,
    *,
    window: tuple[int, int] | None = None,
    bases: LogoBases = "observed",
    recompute: bool = True,
    genome_axis: bool = True,
) -> dict:
    """What :func:`delta_tracks` draws, as arrays (the matplotlib figures use it too).

    Returns a dict with ``title``, ``start``/``end`` (the window), ``source``
    ``(start, end)``, ``source_name``, ``targets`` ``[(start, end, name)]``,
    ``tracks`` ``[(heights (L, 4), y label, subtitle, y limits)]`` (original and mutant
    share their limits, Δ has its own), ``origin`` and ``note`` (see
    :func:`dfimx.plot.recompute.source_tracks`), and ``profile`` (the interaction
    profile, for when Δ is unavailable), ``offset`` (what to add to a window position to
    draw it: the 1-based genome coordinate of position 0, or 0; see
    :func:`dfimx.plot.select.genome_offset`) and ``xlabel``. ``start``, ``end``,
    ``source`` and ``targets`` are window positions (0-based).

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> data = track_data(example_result(n_seq=2), 0, 0)
    >>> [t[1] for t in data["tracks"]], data["tracks"][0][3] == data["tracks"][1][3]
    (['importance', 'importance', 'Δ importance'], True)
    """
    ds = open_dataset(ds)
    i = seq_index(ds, seq)
    t = task_index(ds, task)
    meta = load(
        ds,
        ["seq_id", "mutation_start", "mutation_end", "mutation_name", "mutation_alt",
         "mutation_mask", "response_start", "response_end", "response_name", "response_mask",
         "prediction", "mutant_prediction"],
        seq=i,
    )
    m = mutation_index(meta, mutation)
    n_pos = ds.sizes["position"]
    lo, hi = (0, n_pos) if window is None else (max(0, window[0]), min(n_pos, window[1]))
    source = (int(meta["mutation_start"].values[m]), int(meta["mutation_end"].values[m]))
    alt = int(meta["mutation_alt"].values[m]) if "mutation_alt" in meta else -1
    name = str(meta["mutation_name"].values[m])
    rmask = np.asarray(meta["response_mask"].values, dtype=bool)
    targets = [
        (int(s), int(e), str(n))
        for s, e, n, ok in zip(meta["response_start"].values, meta["response_end"].values,
                               meta["response_name"].values, rmask, strict=True)
        if ok
    ]
    offset, xlabel = genome_offset(ds, i, genome_axis)
    title = (f"{meta['seq_id'].item()}: source "
             f"{element_label(name, *source, alt, offset=offset or None)}, "
             f"task {task_name(ds, t)}")
    if "prediction" in meta and "mutant_prediction" in meta:
        pred = float(meta["prediction"].values[t])
        mpred = float(meta["mutant_prediction"].values[m, t])
        title += f" (prediction {pred:.3g} \u2192 {mpred:.3g})"
    got = source_tracks(ds, i, m, recompute=recompute)
    onehot = got.onehot[lo:hi]
    tracks = []
    if got.importance is not None:
        orig = got.importance[lo:hi, :, t]
        shown = [logo_values(orig, onehot, bases)]
        labels = [("importance", "original")]
        if got.delta is not None:
            mut_oh = mutant_onehot(got.onehot, *source, alt)[lo:hi]
            shown.append(logo_values(orig - got.delta[lo:hi, :, t], mut_oh, bases))
            labels.append(("importance", "mutant (original \u2212 \u0394)"))
        ylim = _limits(*shown)
        tracks += [(v, y, sub, ylim) for v, (y, sub) in zip(shown, labels, strict=True)]
    if got.delta is not None:
        dv = logo_values(got.delta[lo:hi, :, t], onehot, bases)
        tracks.append((dv, "\u0394 importance",
                       "\u0394 = importance(original) \u2212 importance(mutant)", _limits(dv)))
    profile = np.asarray(load(ds, ["interaction_profile"], seq=i, mutation=m, task=t,
                              position=slice(lo, hi))["interaction_profile"].values, float)
    return {"title": title, "start": lo, "end": hi, "source": source, "source_name": name,
            "targets": targets, "tracks": tracks, "origin": got.origin, "note": got.note,
            "profile": profile, "bases": bases, "offset": offset, "xlabel": xlabel}


def delta_tracks(
    ds: DatasetLike,
    seq: int | str,
    mutation: int | str,
    task: int | str = 0,
    *,
    window: tuple[int, int] | None = None,
    bases: LogoBases = "observed",
    recompute: bool = True,
    genome_axis: bool = True,
    width: int = 900,
    height: int = 160,
) -> hv.Layout:
    """Importance of the original and the mutant as sequence logos, with Δ below.

    The source is highlighted in orange and the target elements in grey; the x axes
    are linked, original and mutant share one y axis and Δ has its own. The original
    importance is ``seq_importance``; the mutant's is ``seq_importance - delta``. A
    store without them (the default of a run) has them recomputed for this one source
    from the model it records (:func:`dfimx.plot.recompute.source_tracks`); when that
    is impossible the ``interaction_profile`` (Δ summed over bases) is drawn instead,
    with the reason in the title.

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
    bases
        ``"observed"`` (one letter per position, the observed base, as tall as the
        position's total) or ``"hypothetical"`` (the four stored values).
    recompute
        Recompute missing importance and Δ from the recorded model.
    genome_axis
        When the sequence's place in the genome is known (``window_start`` of a
        ``--bed``/``--genome`` or variant run, or a ``chrom:start-end`` id of the window's
        length), draw the x axis in 1-based genome coordinates (``chr1 position (bp,
        1-based)``, as the variant genome axis); False keeps 0-based window positions.
        ``window`` is in window positions either way.
    width, height
        Size of each track in pixels.

    Returns
    -------
    holoviews.Layout
        One column of tracks.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=3)
    >>> layout = delta_tracks(ds, 0, 0)
    >>> len(layout), layout[0].opts.get().kwargs["ylim"] == layout[1].opts.get().kwargs["ylim"]
    (3, True)
    """
    data = track_data(ds, seq, mutation, task, window=window, bases=bases, recompute=recompute,
                      genome_axis=genome_axis)
    off = data["offset"]
    lo, hi = data["start"] + off, data["end"] + off
    source = (data["source"][0] + off, data["source"][1] + off)
    targets = [(s + off, e + off, n) for s, e, n in data["targets"]]
    common = dict(width=width, height=height, tools=["xwheel_zoom"],
                  active_tools=["xwheel_zoom"], xlim=(lo, hi), backend="bokeh")
    tracks: list[tuple[hv.Element, str, str, tuple[float, float] | None]] = [
        (_logo(v, lo, y), y, sub, ylim) for v, y, sub, ylim in data["tracks"]]
    if data["origin"] == "recomputed" and tracks:
        tracks[0] = (*tracks[0][:2], f"{tracks[0][2]} ({data['note']})", tracks[0][3])
    if data["origin"] == "unavailable":
        note = f"{data['note']}: interaction profile (\u0394 summed over bases) shown instead"
        area = hv.Area((np.arange(lo, hi) + 0.5, np.nan_to_num(data["profile"])), "position",
                       "interaction profile").opts(
            color="#444444", alpha=0.8, line_width=1, tools=["hover"], backend="bokeh")
        tracks.append((area, "interaction profile", note, None))
    overlays = []
    for k, (track, ydim, subtitle, ylim) in enumerate(tracks):
        ov = _track_decor(track, ydim, source, targets)
        if k == 0:
            ytop = ylim[1] if ylim is not None else _track_top(track)
            named = [(s, e, n) for s, e, n in targets if e - s > 1]
            named = named if len(named) <= 20 else []
            labels = hv.Labels(
                [((s + e) / 2, ytop, n) for s, e, n in named]
                + [((source[0] + source[1]) / 2, ytop, data["source_name"])],
                ["position", ydim], "name",
            ).opts(text_font_size="9pt", text_baseline="top", text_color="black",
                   backend="bokeh")
            ov = ov * labels
            subtitle = f"{data['title']}\n{subtitle}"
        extra = {"ylim": ylim} if ylim is not None else {}
        overlays.append(ov.opts(title=subtitle, xlabel=data["xlabel"], ylabel=ydim,
                                **common, **extra))
    return hv.Layout(overlays).cols(1).opts(shared_axes=True, backend="bokeh")


def _track_top(track: hv.Element) -> float:
    vals = track.dimension_values(1)
    vals = vals[np.isfinite(vals)]
    top = float(vals.max()) if vals.size else 0.0
    return top if top > 0 else 1.0
