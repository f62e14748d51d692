"""Self-contained HTML report of a dfimx run, answer first.

:func:`write_report` writes one HTML file with every script and style inline (BokehJS
included): opening it makes no network request. It opens with the headline (which
element pairs interact, the effect size, how sure, out of how many tests), then the pair
table with the symmetric score (:func:`dfimx.plot.headline.pair_table`), the plots, the
top interactions and detail logos of a few of them, then details (warnings, stored
variables) and, last and folded, the provenance. Per-base scans get a window map with
the sequence on its axes and a table of the top base pairs; variant scans a table of
variants as ``chrom:pos ref>alt`` with their nearest motif, and a genome track.
Run-wide numbers are computed with dask, one sequence chunk at a time; only the few
sequences shown in detail are loaded whole.

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
from dfimx.plot.headline import (
    base_pair_table,
    headline,
    pair_table,
    result_kind,
    variant_top_table,
)
from dfimx.plot.logos import delta_tracks
from dfimx.plot.maps import element_map, per_base_map
from dfimx.plot.select import (
    SIGNIFICANCE,
    DatasetLike,
    open_dataset,
    task_index,
    task_name,
)
from dfimx.plot.variants import variant_track
from dfimx.stats.summaries import tree_reduce
from dfimx.tables import block_rows

__all__ = ["pair_summary", "run_warnings", "top_interactions", "write_report"]

_TOP_VARS = ["seq_id", "mutation_name", "response_name", "interaction_score",
             "interaction_q_value", "interaction_p_value", "mutation_start", "mutation_end",
             "mutation_alt", "response_start", "response_end", "symmetric_score",
             "variant_id", "target_kind"]


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
main { max-width: 1500px; margin: 0 auto; padding: 8px 28px 60px; }
h1 { font-size: 1.5em; margin: 14px 0 2px; }
h2 { font-size: 1.25em; margin: 30px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 22px 0 6px; }
p.note { color: #555; margin: 4px 0 10px; }
p.warn { background: #fff4e0; border-left: 4px solid #f0a030; padding: 6px 10px; }
section.headline { background: #f3f7fb; border-left: 5px solid #2b6cb0; padding: 8px 16px;
                   margin: 10px 0 14px; }
section.headline p { margin: 6px 0; }
p.verdict { font-size: 1.3em; font-weight: 600; }
p.top { font-size: 1.1em; }
table { border-collapse: collapse; font-size: 0.86em; margin: 6px 0 12px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.sig td { background: #eef7ee; }
details summary { cursor: pointer; color: #335; margin: 6px 0; }
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

#: Columns of the top-interactions table, by kind of result (those present are shown).
_TOP_COLUMNS = ["seq_id", "variant_id", "task", "source_name", "source_start", "source_end",
                "source_alt", "target_name", "target_kind", "target_start", "target_end",
                "score", "symmetric_score", "p_value", "q_value"]


#: Rows of the pair table shown before the fold (all rows are in the fold).
_SHOWN_PAIRS = 12


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "" if np.isnan(v) else str(v)
        return f"{v:.3g}"
    return str(v)


def _html_table(df: pd.DataFrame, *, sig_col: str | None = None, max_rows: int = 200,
                table_id: str = "") -> str:
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
    ident = f' id="{table_id}"' if table_id else ""
    return (f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            f"</table>{more}")


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


def run_warnings(ds: xr.Dataset) -> list[str]:
    """Warnings a store carries: every attribute whose name holds ``warning`` or
    ``violation`` (one line per entry of a list or JSON list).

    Examples
    --------
    >>> ds = xr.Dataset(attrs={"warnings": '["low power"]', "max_violation": 0.2, "seed": 1})
    >>> run_warnings(ds)
    ['warnings: low power', 'max_violation: 0.2']
    """
    out = []
    for key, value in ds.attrs.items():
        if "warning" not in key and "violation" not in key:
            continue
        items = value
        if isinstance(value, str):
            try:
                items = json.loads(value)
            except ValueError:
                items = value
        if isinstance(items, (list, tuple)):
            out += [f"{key}: {_attr_text(v)}" for v in items]
        elif items not in (None, "", [], {}):
            out.append(f"{key}: {_attr_text(items)}")
    return out


def _overview(ds: xr.Dataset) -> str:
    sizes = ", ".join(f"{html.escape(str(k))}: {v}" for k, v in ds.sizes.items())
    stored = ", ".join(f"<code>{html.escape(str(v))}</code>" for v in ds.data_vars)
    tasks = ", ".join(html.escape(task_name(ds, t)) for t in range(ds.sizes.get("task", 1)))
    return (f'<p class="note">Dimensions: {sizes}. Tasks: {tasks}.</p>'
            f"<details><summary>Stored variables</summary><p>{stored}</p></details>")


def _track_window(ds: xr.Dataset, row: pd.Series, max_width: int = 300) -> tuple[int, int] | None:
    n_pos = ds.sizes["position"]
    if n_pos <= max_width:
        return None
    lo = int(min(row.get("source_start", 0), row.get("target_start", 0)))
    hi = int(max(row.get("source_end", n_pos), row.get("target_end", n_pos)))
    mid = (lo + hi) // 2
    half = max(max_width, hi - lo + 20) // 2
    return (max(0, mid - half), min(n_pos, mid + half))


class _Page:
    """Sections of the page: HTML fragments and bokeh roots, in order."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, str]] = []
        self.models: list[Any] = []

    def html(self, text: str) -> None:
        self.sections.append(("html", text))

    def plot(self, obj: Any, name: str) -> None:
        model = to_bokeh(obj)
        model.name = name
        self.models.append(model)
        self.sections.append(("plot", name))


def write_report(
    store_or_dataset: DatasetLike,
    out_html: str | os.PathLike,
    *,
    top: int = 20,
    max_maps: int = 3,
    task: int | str = 0,
    max_seqs: int = 2000,
    title: str | None = None,
    recompute: bool = True,
) -> Path:
    """Write a self-contained HTML report of a dfimx run.

    The page inlines every script and style (BokehJS included) and requests nothing
    from the network when opened. In order: the headline (:func:`dfimx.plot.headline
    .headline`: which pairs interact, effect size, how sure, how many tests); the pair
    table (element plans; per source name × target name and task: tests, mean and
    median score, fraction with q < 0.05, median symmetric score), the top base pairs
    (per-base scans) or the top variants (variant scans: ``chrom:pos ref>alt``, nearest
    motif); the plots (pairs summary, window map with the sequence on its axes, variant
    genome track, QQ plot or a note that no null was run); the ``top`` interactions;
    detail plots of the sequences of the first ``max_maps`` of them (map and logos,
    the logos recomputed from the recorded model when the store has no Δ); details
    (warnings the store carries, its variables); the provenance, folded.

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
    recompute
        Recompute the logos' importance and Δ from the recorded model when the store
        does not hold them (:func:`dfimx.plot.recompute.source_tracks`).

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
    kind = result_kind(ds)
    has_p = "interaction_p_value" in ds
    has_q = "interaction_q_value" in ds
    table = pair_table(ds)
    top_df = _top_tests(ds, top)
    labelled = None
    if kind == "per_base" and len(top_df):
        labelled = base_pair_table(ds, top_df)
    elif kind == "variants" and len(top_df):
        labelled = variant_top_table(ds, top_df)
    words = headline(ds, table, top=labelled)
    warnings = run_warnings(ds)
    page = _Page()

    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    what = {"elements": "Element pairs", "per_base": "Per-base scan",
            "variants": "Variant scan"}[kind]
    page.html(f"<h1>{html.escape(title)}</h1><p class=\"note\">{what} of "
              f"{ds.sizes['seq']:,} sequences; report written {created}.</p>")
    flag = (f'<p class="warn">{len(warnings)} warning(s) about this run: see '
            '<a href="#details">Details</a>.</p>' if warnings else "")
    page.html(f'<section class="headline" id="headline"><p class="verdict">{words["verdict"]}'
              f'</p><p class="top">{words["top"]}</p><p class="note">{words["tests"]}</p>'
              f"{flag}</section>")
    sig_note = f"significant: q &lt; {SIGNIFICANCE}" if has_q else "no null was run"
    if kind == "elements":
        page.html("<h2>Interactions per element pair</h2><p class=\"note\">Per source name "
                  f"\u2192 target name and task, over all sequences ({sig_note}); interacting "
                  "pairs first. The table of <code>dfimx.stats.pair_summary</code> and of "
                  "<code>dfimx export</code> (its <code>.pair_summary.tsv</code>), with the "
                  "median symmetric score (mean of both directions of a pair) when stored; "
                  "medians are " + ("exact" if table.attrs.get("median_exact", True)
                                    else "the centres of fine histogram bins") + ".</p>")
        page.html(_html_table(table.head(_SHOWN_PAIRS), table_id="pairs"))
        if len(table) > _SHOWN_PAIRS:
            page.html(f"<details><summary>All {len(table)} rows of the pair table</summary>"
                      + _html_table(table, max_rows=len(table), table_id="pairs-all")
                      + "</details>")
    elif labelled is not None:
        head = "Top base pairs" if kind == "per_base" else "Top variants"
        note = ("source: original base, position, substitution; target: original base and "
                "position" if kind == "per_base" else
                "variant: chromosome:position (1-based, as in the VCF) ref&gt;alt; distance "
                "from the variant to the target; nearest motif of the window")
        page.html(f"<h2>{head}</h2><p class=\"note\">{note}.</p>")
        page.html(_html_table(labelled, sig_col="q_value" if has_q else None,
                              table_id="top-labelled"))

    page.html("<h2>Plots</h2>")
    if not has_p:
        page.html('<p class="warn">No p-values in this store: no null was run, so the tables '
                  "and plots show scores only.</p>")
    if kind == "per_base" and len(top_df):
        page.plot(per_base_map(ds, int(top_df["seq_index"].iloc[0]), t, selector=False),
                  "window_map")
    if kind == "variants":
        page.plot(variant_track(ds, "neglog10q" if has_q else "score", t), "variants")
    if kind == "elements":
        try:
            page.plot(interaction_summary(ds, "score", t, max_seqs=max_seqs), "summary_score")
        except ValueError as err:
            page.html(f'<p class="warn">Summary plot unavailable: {html.escape(str(err))}</p>')
    if has_p:
        page.plot(qq_plot(ds), "qq")
    else:
        page.html('<p class="note">No QQ plot: no null was run (the store has no '
                  "<code>interaction_p_value</code>).</p>")

    page.html(f"<h2>Top {len(top_df)} interactions</h2><p class=\"note\">Largest |score| over "
              "all tests and tasks; positions are 0-based, ends exclusive.</p>")
    cols = [c for c in _TOP_COLUMNS if c in top_df and not top_df[c].isna().all()
            and not (top_df[c].astype(str) == "").all()]
    page.html(_html_table(top_df[cols], sig_col="q_value" if has_q else None, table_id="top"))

    _details(ds, top_df, max_maps, page, recompute)

    page.html('<h2 id="details">Details</h2>' + _overview(ds))
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        page.html(f'<h3>Warnings</h3><ul class="warnings">{items}</ul>')
    page.html("<details><summary>Provenance (store attributes)</summary>"
              + _provenance(ds) + "</details>")

    html_text = standalone_html(
        page.models, title=title, template=_TEMPLATE,
        template_variables={"sections": page.sections, "css": _CSS},
    )
    out = Path(out_html)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(out)
    return out


def _details(ds: xr.Dataset, top_df: pd.DataFrame, max_maps: int, page: _Page,
             recompute: bool) -> None:
    if max_maps <= 0 or not len(top_df):
        return
    page.html("<h2>Details of the top interactions</h2>")
    seen: list[int] = []
    for _, row in top_df.iterrows():
        seq = int(row["seq_index"])
        if seq in seen:
            continue
        seen.append(seq)
        task = row["task"]
        page.html(f"<h3>{html.escape(str(row['seq_id']))}: "
                  f"{html.escape(str(row['source_name']))} \u2192 "
                  f"{html.escape(str(row['target_name']))}, task {html.escape(str(task))}, "
                  f"score {_fmt(row['score'])}</h3>")
        k = len(seen)
        if result_kind(ds) == "per_base":
            if k > 1:  # the first is the window map of the plots above
                page.plot(per_base_map(ds, seq, task, selector=False), f"map_{k}")
        else:
            page.plot(element_map(ds, seq, task), f"map_{k}")
        page.plot(delta_tracks(ds, seq, int(row["mutation_index"]), task,
                               window=_track_window(ds, row), recompute=recompute),
                  f"tracks_{k}")
        if len(seen) >= max_maps:
            break
