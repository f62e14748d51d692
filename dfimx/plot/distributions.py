"""Run-wide views: score distributions per element-name pair and the QQ plot.

They read at most ``max_seqs`` sequences, evenly spread over the run.

Examples
--------
>>> from dfimx.testing import example_result
>>> str(interaction_summary(example_result(n_seq=10)).kdims[0].values[0])
'GATA → TAL1'
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal

import holoviews as hv
import numpy as np
import pandas as pd

from dfimx.plot.select import (
    DatasetLike,
    load,
    neglog10,
    open_dataset,
    python_strings,
    spread_indices,
    task_index,
    task_name,
)
from dfimx.stats import empirical_p_values
from dfimx.tables import block_rows

__all__ = ["interaction_summary", "null_p_values", "pair_values", "qq_plot"]


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
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=5)
    >>> sorted(pair_values(ds).columns)[:3]
    ['p_value', 'q_value', 'score']
    """
    ds = open_dataset(ds)
    t = task_index(ds, task)
    n = ds.sizes["seq"]
    idx = spread_indices(n, max_seqs) if max_seqs is not None else np.arange(n)
    names = ["mutation_name", "response_name", "interaction_score", "interaction_p_value",
             "interaction_q_value"]
    isel: dict[Hashable, Any] = {"task": [t]}
    if idx.size < n:
        isel["seq"] = idx
    rows = block_rows(load(ds, names, **isel), indices=True)
    cols = [c for c in ("source_name", "target_name", "score", "p_value", "q_value")
            if c in rows and not (c != "score" and rows[c].isna().all())]
    df = rows[cols].astype({c: np.float64 for c in cols if c not in ("source_name",
                                                                      "target_name")})
    df.insert(0, "seq", idx[rows["seq_index"].to_numpy()])
    df.attrs.update(n_seq=n, n_seq_used=int(idx.size))
    return python_strings(df)


def interaction_summary(
    ds: DatasetLike,
    value: Literal["score", "neglog10q"] = "score",
    task: int | str = 0,
    *,
    kind: Literal["box", "violin"] = "box",
    max_seqs: int | None = 2000,
    max_pairs: int = 30,
    width: int = 800,
    height: int | None = None,
) -> hv.BoxWhisker | hv.Violin:
    """Distribution of the scores of each element-name pair across sequences.

    One horizontal box (or violin) per ``source name → target name``, the pair of
    largest median |value| on top: in a simulation with one truly interacting motif
    pair, only that pair stands out (the DFIM paper's view).

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
        Plot size in pixels (default height: 24 pixels per pair, so labels never
        overlap).

    Returns
    -------
    holoviews.BoxWhisker or holoviews.Violin

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=20)
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
        df = df[np.isfinite(df["q_value"])].assign(value=lambda d: neglog10(d["q_value"]))
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
            f"task {task_name(ds, task_index(ds, task))}"
    if df.attrs.get("n_seq_used", 0) < df.attrs.get("n_seq", 0):
        title += f" ({df.attrs['n_seq_used']} of {df.attrs['n_seq']} sequences)"
    el_type = hv.BoxWhisker if kind == "box" else hv.Violin
    el = el_type(df[["pair", "value"]], kdim, hv.Dimension("value", label=vlabel))
    if height is None:
        height = max(220, 24 * len(order) + 110)

    def keep_order(plot: Any, element: Any) -> None:
        # holoviews orders the boxes by itself; pairs read top-down by median |value|
        plot.state.y_range.factors = list(reversed(order))

    opts: dict[str, Any] = dict(width=width, height=height, invert_axes=True, title=title,
                                hooks=[keep_order], tools=["hover"], backend="bokeh")
    opts["box_fill_color" if kind == "box" else "violin_fill_color"] = "#9ecae1"
    return el.opts(**opts)


def _qq_points(p: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(expected, observed) −log10 p, all small p kept, the bulk thinned."""
    p = np.sort(p[np.isfinite(p)])
    n = p.size
    if n == 0:
        return np.array([]), np.array([])
    expected = neglog10((np.arange(1, n + 1) - 0.5) / n)
    observed = neglog10(p)
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
        ``p_i = (#{j != i: |null_j| >= |null_i|} + 1) / n`` for each finite score: the
        empirical p-value (:func:`dfimx.stats.empirical_p_values`) of ``null_i`` against
        the other ``n - 1`` null scores; uniform when the null is exchangeable.

    Examples
    --------
    >>> null_p_values(np.array([1.0, -2.0, 3.0, np.nan])).round(4).tolist()
    [1.0, 0.6667, 0.3333]
    """
    a = np.asarray(null, dtype=float).ravel()
    a = a[np.isfinite(a)]
    n = a.size
    # (1 + #{j: |a_j| >= |a_i|}) / (n + 1) counts a_i itself: leave it out
    return (np.rint((n + 1) * empirical_p_values(a, a)) - 1) / n


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
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=10)
    >>> sorted(qq_plot(ds).keys())[0][0]
    'Curve'
    """
    ds = open_dataset(ds)
    if "interaction_p_value" not in ds:
        raise ValueError("interaction_p_value is not stored (no null was run)")
    isel: dict[Hashable, Any] = {}
    if task is not None:
        isel["task"] = task_index(ds, task)
    p = load(ds, ["interaction_p_value"], **isel)["interaction_p_value"].values
    ex, ob = _qq_points(np.asarray(p, dtype=float).ravel(), max_points)
    top = float(max(ex.max() if ex.size else 1, ob.max() if ob.size else 1)) * 1.05
    diag = hv.Curve(([0, top], [0, top]), "expected -log10 p", "observed -log10 p").opts(
        color="grey", line_dash="dashed", backend="bokeh")
    curves = [diag, hv.Scatter((ex, ob), "expected -log10 p", "observed -log10 p",
                               label="interaction tests").opts(
        color="#1f77b4", size=4, tools=["hover"], backend="bokeh")]
    if "null_interaction_score" in ds:
        nidx = spread_indices(ds.sizes["seq"], max_null_seqs)
        nisel = dict(isel)
        if nidx.size < ds.sizes["seq"]:
            nisel["seq"] = nidx
        null = load(ds, ["null_interaction_score"], **nisel)["null_interaction_score"].values
        nex, nob = _qq_points(null_p_values(null), max_points)
        curves.append(hv.Scatter((nex, nob), "expected -log10 p", "observed -log10 p",
                                 label="null (leave-one-out)").opts(
            color="#aaaaaa", size=3, backend="bokeh"))
    tname = "all tasks" if task is None else f"task {task_name(ds, isel['task'])}"
    return hv.Overlay(curves).opts(
        width=width, height=height, legend_position="top_left",
        title=f"QQ plot of p-values ({tname})", backend="bokeh")
