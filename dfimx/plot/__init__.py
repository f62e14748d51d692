"""Plots of dfimx results with holoviews (bokeh backend).

Every function takes a dfimx dataset (or the path of a Zarr store) and returns a
holoviews object. Only the sequences, sources and tasks a plot shows are read from
the store: selections happen on the lazy dataset before any value is loaded.

In a notebook, call ``hv.extension("bokeh")`` once to display the plots; elsewhere
use :func:`save_figure` (HTML, PNG or SVG; PNG, SVG or PDF without a browser with
``backend="matplotlib"``) or :func:`dfimx.report.write_report`.

Modules: :mod:`~dfimx.plot.select` (opening a result, selecting a sequence, task or
source), :mod:`~dfimx.plot.logos` (Δ tracks), :mod:`~dfimx.plot.recompute`
(importance and Δ of one source from the recorded model), :mod:`~dfimx.plot.static`
(matplotlib and logomaker figures), :mod:`~dfimx.plot.maps` (element and
per-base maps), :mod:`~dfimx.plot.distributions` (run-wide: pair distributions, QQ),
:mod:`~dfimx.plot.variants` (variant scans) and :mod:`~dfimx.plot.export` (bokeh
models, offline HTML, PNG/SVG).

Examples
--------
>>> import holoviews as hv
>>> from dfimx import plot
>>> ds = plot.example_dataset(n_seq=4)
>>> isinstance(plot.element_map(ds, 0), hv.Overlay)
True
"""

from __future__ import annotations

import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh backend options)

from dfimx.plot.distributions import interaction_summary, null_p_values, pair_values, qq_plot
from dfimx.plot.export import (
    chrome_webdriver,
    offline_resources,
    save_figure,
    standalone_html,
    static_model,
    to_bokeh,
)
from dfimx.plot.logos import (
    BASE_COLORS,
    SOURCE_COLOR,
    TARGET_COLOR,
    delta_tracks,
    logo_values,
    track_data,
)
from dfimx.plot.maps import element_map, per_base_map
from dfimx.plot.recompute import source_tracks
from dfimx.plot.select import SIGNIFICANCE, DatasetLike, open_dataset
from dfimx.plot.static import logo_figure, to_matplotlib
from dfimx.plot.variants import variant_detail, variant_table, variant_track
from dfimx.testing import example_result as example_dataset
from dfimx.variables import as_str

__all__ = [
    "BASE_COLORS",
    "SIGNIFICANCE",
    "SOURCE_COLOR",
    "TARGET_COLOR",
    "DatasetLike",
    "as_str",
    "chrome_webdriver",
    "delta_tracks",
    "element_map",
    "example_dataset",
    "interaction_summary",
    "logo_figure",
    "logo_values",
    "null_p_values",
    "offline_resources",
    "open_dataset",
    "pair_values",
    "per_base_map",
    "qq_plot",
    "save_figure",
    "source_tracks",
    "standalone_html",
    "static_model",
    "to_bokeh",
    "to_matplotlib",
    "track_data",
    "variant_detail",
    "variant_table",
    "variant_track",
]
