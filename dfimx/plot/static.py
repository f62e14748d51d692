"""Publication figures without a browser: holoviews' matplotlib backend and logomaker.

:func:`to_matplotlib` renders any dfimx plot (a holoviews object) with holoviews'
matplotlib backend; :func:`logo_figure` draws the Δ tracks of one source with logomaker
(the logos of :func:`dfimx.plot.delta_tracks`: observed base by default, original and
mutant on one y axis, Δ on its own). Save either with
``dfimx.plot.save_figure(fig, "f.pdf")`` or ``fig.savefig``; nothing here needs Chromium.

Examples
--------
>>> from dfimx.testing import example_result
>>> fig = logo_figure(example_result(n_seq=2), 0, 0, window=(0, 60))
>>> [ax.get_ylabel() for ax in fig.axes]
['importance', 'importance', 'Δ importance']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dfimx.alphabet import BASES
from dfimx.plot.logos import BASE_COLORS, SOURCE_COLOR, TARGET_COLOR, LogoBases, track_data
from dfimx.plot.select import DatasetLike

__all__ = ["logo_figure", "to_matplotlib"]


def to_matplotlib(obj: Any) -> Any:
    """A matplotlib figure of a holoviews object (or the figure itself, passed through).

    Examples
    --------
    >>> import holoviews as hv
    >>> to_matplotlib(hv.Curve([1, 3, 2])).__class__.__name__
    'Figure'
    """
    if type(obj).__module__.startswith("matplotlib"):
        return obj
    import holoviews as hv
    import holoviews.plotting.mpl  # noqa: F401  (registers the matplotlib backend)

    if isinstance(obj, hv.HoloMap) and not isinstance(obj, hv.DynamicMap) and len(obj):
        obj = obj[obj.keys()[0]]
    return hv.render(obj, backend="matplotlib")


def logo_figure(
    ds: DatasetLike,
    seq: int | str,
    mutation: int | str,
    task: int | str = 0,
    *,
    window: tuple[int, int] | None = None,
    bases: LogoBases = "observed",
    recompute: bool = True,
    genome_axis: bool = True,
    width: float = 10.0,
    track_height: float = 1.6,
) -> Any:
    """The Δ tracks of one source as a matplotlib figure drawn with logomaker.

    Parameters are those of :func:`dfimx.plot.delta_tracks`; ``width`` and
    ``track_height`` are in inches. With ``genome_axis`` (and a known genome window) the
    x axis is in 1-based genome coordinates, as in :func:`~dfimx.plot.delta_tracks`.

    Returns
    -------
    matplotlib.figure.Figure
        One axis per track (original, mutant, Δ), x axes shared; original and mutant
        share their y axis. When importance and Δ are unavailable the single axis
        shows the interaction profile and the reason.
    """
    import logomaker
    from matplotlib.figure import Figure

    data = track_data(ds, seq, mutation, task, window=window, bases=bases, recompute=recompute,
                      genome_axis=genome_axis)
    off = data["offset"]
    lo, hi = data["start"] + off, data["end"] + off
    tracks = data["tracks"]
    n = max(1, len(tracks))
    # a Figure of its own (no pyplot): nothing global changes, nothing pops up
    fig = Figure(figsize=(width, track_height * n + 0.6))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)
    axes = axes[:, 0]
    index = pd.RangeIndex(lo, hi, name="pos")
    if not tracks:
        ax = axes[0]
        ax.fill_between(np.arange(lo, hi), np.nan_to_num(data["profile"]), step="mid",
                        color="#444444")
        ax.set_ylabel("interaction profile")
        ax.set_title(f"{data['title']}\n{data['note']}", fontsize=9)
    for k, (values, ylabel, subtitle, ylim) in enumerate(tracks):
        ax = axes[k]
        frame = pd.DataFrame(values, index=index, columns=list(BASES))
        logomaker.Logo(frame, ax=ax, color_scheme=BASE_COLORS, flip_below=True,
                       show_spines=False)
        ax.set_ylim(*ylim)
        ax.set_ylabel(ylabel)
        ax.set_title(subtitle if k else f"{data['title']}\n{subtitle}", fontsize=9, loc="left")
    if len(tracks) > 1 and tracks[0][3] == tracks[1][3]:
        axes[1].sharey(axes[0])
    for ax in axes:
        for s, e, _ in data["targets"]:
            ax.axvspan(s + off - 0.5, e + off - 0.5, color=TARGET_COLOR, alpha=0.15, lw=0)
        ax.axvspan(data["source"][0] + off - 0.5, data["source"][1] + off - 0.5,
                   color=SOURCE_COLOR, alpha=0.25, lw=0)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xlim(lo - 0.5, hi - 0.5)
    axes[-1].set_xlabel(data["xlabel"])
    fig.tight_layout()
    return fig
