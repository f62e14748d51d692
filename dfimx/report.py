"""Self-contained HTML report of a dfimx run.

:func:`write_report` writes one HTML file with every script and style inline (BokehJS
included): opening it makes no network request. It holds the run's provenance, a
summary of the interactions per element-name pair, the summary and QQ plots, the top
interactions and detail plots of a few of them. Run-wide numbers are computed with
dask, one sequence chunk at a time; only the few sequences shown in detail are loaded
whole.

Examples
--------
>>> import tempfile
>>> from dfimx import report
>>> from dfimx.testing import example_result
>>> out = report.write_report(example_result(n_seq=8), tempfile.mkdtemp() + "/r.html")
>>> out.stat().st_size > 100_000
True
"""

from __future__ import annotations

import datetime as _dt
import functools
import html
import json
import os
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr

from dfimx import stats
from dfimx.plot.distributions import interaction_summary, qq_plot
from dfimx.plot.export import standalone_html, to_bokeh
from dfimx.plot.logos import delta_tracks
from dfimx.plot.maps import element_map, per_base_map
from dfimx.plot.select import (
    SIGNIFICANCE,
    DatasetLike,
    load,
    open_dataset,
    task_index,
    task_name,
)
from dfimx.plot.variants import variant_track
from dfimx.stats.summaries import tree_reduce
from dfimx.tables import block_rows

__all__ = ["pair_summary", "top_interactions", "write_report"]

_TOP_VARS = ["seq_id", "mutation_name", "response_name", "interaction_score",
             "interaction_q_value", "interaction_p_value", "mutation_start", "mutation_end",
             "mutation_alt", "response_start", "response_end"]


# ---------------------------------------------------------------------------------------------
# run-wide tables, computed chunk by chunk


def pair_summary(ds: DatasetLike, *, alpha: float = SIGNIFICANCE) -> pd.DataFrame:
    """The report's pair table: :func:`dfimx.stats.pair_summary` of a dataset or store.

    Per source name, target name and task: the number of tests, mean and median score
    and, when q-values are stored, the number and fraction with q < ``alpha``. The same
    table as :func:`dfimx.stats.pair_summary` and ``dfimx export``'s
    ``.pair_summary.tsv``; computed lazily, one sequence chunk at a time.

    Parameters
    ----------
    ds
        dfimx dataset or store path.
    alpha
        q-value threshold of the significance columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``source_name, target_name, task, n_tests, mean_score, median_score``
        and ``n_significant, fraction_significant`` when q-values are stored.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> table = pair_summary(example_result(n_seq=10))
    >>> int(table["n_tests"].sum())
    120
    """
    ds = open_dataset(ds)
    q_value = "interaction_q_value" if "interaction_q_value" in ds else None
    return stats.pair_summary(ds, alpha=alpha, q_value=q_value)


def _seq_blocks(ds: xr.Dataset, default: int = 2000) -> list[slice]:
    """Sequence slices following the dask chunks of the score (or ``default`` rows)."""
    n = ds.sizes["seq"]
    chunks = ds["interaction_score"].chunks
    sizes = list(chunks[0]) if chunks is not None else [default] * (-(-n // default))
    out, start = [], 0
    for size in sizes:
        stop = min(n, start + size)
        if stop > start:
            out.append(slice(start, stop))
        start = stop
    return out


def _largest(frames: list[pd.DataFrame], top: int) -> pd.DataFrame:
    """The ``top`` rows of largest |score| of ``frames``, by decreasing |score|."""
    df = pd.concat(frames, ignore_index=True)
    order = np.argsort(-df["score"].abs().to_numpy(), kind="stable")[:top]
    return df.iloc[order].reset_index(drop=True)


def _block_top(block: xr.Dataset, offset: int, top: int) -> pd.DataFrame:
    df = block_rows(block, indices=True)
    df["seq_index"] += offset
    return _largest([df], top)


def _top_tests(ds: xr.Dataset, top: int) -> pd.DataFrame:
    """The ``top`` tests of largest |score| over all chunks (a tree reduction)."""
    lazy = ds[[v for v in _TOP_VARS if v in ds.variables]]
    parts = [dask.delayed(_block_top, pure=True)(lazy.isel(seq=b), b.start, top)
             for b in _seq_blocks(ds)]
    if not parts:
        return block_rows(lazy.isel(seq=slice(0, 0)).compute(), indices=True)
    (df,) = dask.compute(tree_reduce(parts, functools.partial(_largest, top=top)))
    return df


def top_interactions(ds: DatasetLike, top: int = 20) -> pd.DataFrame:
    """The ``top`` tests of largest |score| over the whole run (all tasks).

    Parameters
    ----------
    ds
        dfimx dataset or store path.
    top
        Number of rows.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`dfimx.tables.block_rows` (``seq_index, mutation_index,
        response_index, task_index``, then the export columns: ``seq_id, source_name,
        source_start, ..., target_name, ..., task, score, p_value, q_value``), by
        decreasing |score|.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> top_interactions(example_result(n_seq=10), top=3)["source_name"].tolist()
    ['GATA', 'GATA', 'GATA']
    """
    return _top_tests(open_dataset(ds), top)


# ---------------------------------------------------------------------------------------------
# HTML


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #222; background: #fff; }
main { max-width: 1500px; margin: 0 auto; padding: 12px 28px 60px; }
h1 { font-size: 1.6em; margin: 18px 0 4px; }
h2 { font-size: 1.25em; margin: 34px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 22px 0 6px; }
p.note { color: #555; margin: 4px 0 10px; }
p.warn { background: #fff4e0; border-left: 4px solid #f0a030; padding: 6px 10px; }
table { border-collapse: collapse; font-size: 0.86em; margin: 6px 0 12px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.sig td { background: #eef7ee; }
details summary { cursor: pointer; color: #335; }
.plot { margin: 8px 0 18px; }
code { background: #f4f4f4; padding: 0 3px; }
"""

_TEMPLATE = """{% from macros import embed %}
{% block postamble %}<style>{{ css }}</style>{% endblock %}
{% block contents %}
<main>
{% for kind, item in sections %}
{% if kind == "html" %}{{ item }}
{% else %}<div class="plot">{{ embed(roots[item]) }}</div>{% endif %}
{% endfor %}
</main>
{% endblock %}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "" if np.isnan(v) else str(v)
        return f"{v:.3g}"
    return str(v)


def _html_table(df: pd.DataFrame, *, sig_col: str | None = None, max_rows: int = 200) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, row in df.head(max_rows).iterrows():
        cells = []
        for c in df.columns:
            v = row[c]
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            cls = ' class="num"' if num else ""
            cells.append(f"<td{cls}>{html.escape(_fmt(v))}</td>")
        sig = sig_col is not None and sig_col in df and row[sig_col] < SIGNIFICANCE
        tr = '<tr class="sig">' if sig else "<tr>"
        body.append(f"{tr}{''.join(cells)}</tr>")
    more = ""
    if len(df) > max_rows:
        more = f'<p class="note">{len(df) - max_rows} more rows not shown.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _attr_text(v: Any) -> str:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, indent=1, default=str)
    return str(v)


def _provenance(ds: xr.Dataset) -> str:
    if not ds.attrs:
        return '<p class="warn">This store carries no provenance attributes.</p>'
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(_attr_text(v))}</code></td></tr>"
        for k, v in ds.attrs.items()
    )
    return f"<table>{rows}</table>"


def _overview(ds: xr.Dataset) -> str:
    sizes = ", ".join(f"{html.escape(str(k))}: {v}" for k, v in ds.sizes.items())
    stored = ", ".join(f"<code>{html.escape(str(v))}</code>" for v in ds.data_vars)
    tasks = ", ".join(html.escape(task_name(ds, t)) for t in range(ds.sizes.get("task", 1)))
    return (f'<p class="note">Dimensions: {sizes}. Tasks: {tasks}.</p>'
            f"<details><summary>Stored variables</summary><p>{stored}</p></details>")


def _is_per_base(ds: xr.Dataset, seq: int) -> bool:
    if "mutation_alt" not in ds:
        return False
    sub = load(ds, ["mutation_alt", "mutation_mask", "response_start", "response_end",
                          "response_mask"], seq=seq)
    alt = np.asarray(sub["mutation_alt"].values)[np.asarray(sub["mutation_mask"].values, bool)]
    rmask = np.asarray(sub["response_mask"].values, bool)
    width = (np.asarray(sub["response_end"].values) - np.asarray(sub["response_start"].values))
    return bool(alt.size and (alt >= 0).all() and (width[rmask] == 1).all())


def _track_window(ds: xr.Dataset, row: pd.Series, max_width: int = 300) -> tuple[int, int] | None:
    n_pos = ds.sizes["position"]
    if n_pos <= max_width:
        return None
    lo = int(min(row.get("source_start", 0), row.get("target_start", 0)))
    hi = int(max(row.get("source_end", n_pos), row.get("target_end", n_pos)))
    mid = (lo + hi) // 2
    half = max(max_width, hi - lo + 20) // 2
    return (max(0, mid - half), min(n_pos, mid + half))


def write_report(
    store_or_dataset: DatasetLike,
    out_html: str | os.PathLike,
    *,
    top: int = 20,
    max_maps: int = 3,
    task: int | str = 0,
    max_seqs: int = 2000,
    title: str | None = None,
) -> Path:
    """Write a self-contained HTML report of a dfimx run.

    The page inlines every script and style (BokehJS included) and requests nothing
    from the network when opened. It holds: the provenance (store attributes), an
    overview, the pair summary table (:func:`pair_summary`: per source name × target
    name and task: tests, mean and median score, fraction with q < 0.05), the summary
    plot, the QQ plot (or a note that no null was run), the ``top`` interactions, detail
    plots of the sequences of the first ``max_maps`` of them (element map or per-base
    map, and Δ tracks) and, for variant scans, the variant track.

    Parameters
    ----------
    store_or_dataset
        Path of a dfimx Zarr store, or a dataset.
    out_html
        Output file.
    top
        Rows of the top-interactions table.
    max_maps
        Number of sequences shown in detail.
    task
        Task of the plots (tables cover all tasks).
    max_seqs
        Sequences (evenly spread) drawn in the distribution plots.
    title
        Page title (default: derived from the store name).

    Returns
    -------
    pathlib.Path
        ``out_html``.

    Examples
    --------
    >>> import tempfile
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=6).drop_vars(
    ...     ["interaction_p_value", "interaction_q_value", "null_interaction_score"])
    >>> out = write_report(ds, tempfile.mkdtemp() + "/report.html", max_maps=1)
    >>> "no null was run" in out.read_text()
    True
    """
    ds = open_dataset(store_or_dataset)
    if title is None:
        name = (Path(os.fspath(store_or_dataset)).name
                if not isinstance(store_or_dataset, xr.Dataset) else "dataset")
        title = f"dfimx report: {name}"
    t = task_index(ds, task)
    has_p = "interaction_p_value" in ds
    has_q = "interaction_q_value" in ds
    summary = pair_summary(ds)
    top_df = _top_tests(ds, top)

    sections: list[tuple[str, str]] = []
    models: list[Any] = []

    def add_plot(obj: Any, name: str) -> None:
        model = to_bokeh(obj)
        model.name = name
        models.append(model)
        sections.append(("plot", name))

    def add_html(text: str) -> None:
        sections.append(("html", text))

    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    add_html(f"<h1>{html.escape(title)}</h1><p class=\"note\">Report written {created} by "
             f"dfimx.report from a run with {ds.sizes['seq']} sequences.</p>")
    add_html("<h2>Run</h2>" + _overview(ds) + "<h3>Provenance</h3>" + _provenance(ds))
    if not has_p:
        add_html('<p class="warn">No p-values in this store: no null was run, so the tables '
                 "and plots show scores only.</p>")

    add_html("<h2>Interactions per element pair</h2><p class=\"note\">Per source name \u00d7 "
             "target name over all sequences"
             + (f"; significant: q &lt; {SIGNIFICANCE}" if has_q else "")
             + (". The table of <code>dfimx.stats.pair_summary</code> and of "
                "<code>dfimx export</code> (its <code>.pair_summary.tsv</code>); medians are "
                + ("exact" if summary.attrs.get("median_exact", True)
                   else "the centres of fine histogram bins") + ".</p>"))
    shown = summary.sort_values("median_score", ascending=False, key=abs)
    add_html(_html_table(shown, max_rows=100))
    try:
        add_plot(interaction_summary(ds, "score", t, max_seqs=max_seqs), "summary_score")
        if has_q:
            add_plot(interaction_summary(ds, "neglog10q", t, max_seqs=max_seqs),
                     "summary_q")
    except ValueError as err:
        add_html(f'<p class="warn">Summary plot unavailable: {html.escape(str(err))}</p>')

    add_html("<h2>Calibration</h2>")
    if has_p:
        add_plot(qq_plot(ds), "qq")
    else:
        add_html('<p class="note">No QQ plot: no null was run (the store has no '
                 "<code>interaction_p_value</code>).</p>")

    if "variant_pos" in ds and "variant_chrom" in ds:
        add_html("<h2>Variants</h2>")
        add_plot(variant_track(ds, "neglog10q" if has_q else "score", t), "variants")

    add_html(f"<h2>Top {len(top_df)} interactions</h2><p class=\"note\">Largest |score| over "
             "all tests and tasks.</p>")
    cols = [c for c in ["seq_id", "task", "source_name", "source_start", "source_end",
                        "target_name", "target_start", "target_end", "score", "p_value",
                        "q_value"] if c in top_df and not top_df[c].isna().all()]
    add_html(_html_table(top_df[cols], sig_col="q_value" if has_q else None))

    _details(ds, top_df, max_maps, add_plot, add_html)

    html_text = standalone_html(
        models, title=title, template=_TEMPLATE,
        template_variables={"sections": sections, "css": _CSS},
    )
    out = Path(out_html)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(out)
    return out


def _details(ds: xr.Dataset, top_df: pd.DataFrame, max_maps: int, add_plot: Any,
             add_html: Any) -> None:
    if max_maps <= 0 or not len(top_df):
        return
    add_html("<h2>Details of the top interactions</h2>")
    seen: list[int] = []
    for _, row in top_df.iterrows():
        seq = int(row["seq_index"])
        if seq in seen:
            continue
        seen.append(seq)
        task = row["task"]
        add_html(f"<h3>{html.escape(str(row['seq_id']))}: {html.escape(str(row['source_name']))}"
                 f" \u2192 {html.escape(str(row['target_name']))}, task "
                 f"{html.escape(str(task))}, score {_fmt(row['score'])}</h3>")
        k = len(seen)
        if _is_per_base(ds, seq):
            add_plot(per_base_map(ds, seq, task, selector=False), f"map_{k}")
        else:
            add_plot(element_map(ds, seq, task), f"map_{k}")
        add_plot(delta_tracks(ds, seq, int(row["mutation_index"]), task,
                                   window=_track_window(ds, row)), f"tracks_{k}")
        if len(seen) >= max_maps:
            break
