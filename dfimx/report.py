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
>>> from dfimx import plot, report
>>> out = report.write_report(plot.example_dataset(n_seq=8), tempfile.mkdtemp() + "/r.html")
>>> out.stat().st_size > 100_000
True
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr

from dfimx import plot

__all__ = ["pair_summary", "top_interactions", "write_report"]

SIGNIFICANCE = plot.SIGNIFICANCE
HIST_BINS = 4096
_TEST_VARS = ["mutation_name", "mutation_mask", "response_name", "response_mask",
              "interaction_score", "interaction_q_value"]
_TOP_VARS = [*_TEST_VARS, "interaction_p_value", "mutation_start", "mutation_end",
             "mutation_alt", "response_start", "response_end"]


# ---------------------------------------------------------------------------------------------
# run-wide tables, computed chunk by chunk


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


def _tests(block: xr.Dataset) -> pd.DataFrame:
    """Tidy rows of the real tests of a loaded block (all tasks)."""
    score = np.asarray(block["interaction_score"].values, dtype=float)
    valid = (np.asarray(block["mutation_mask"].values, dtype=bool)[:, :, None, None]
             & np.asarray(block["response_mask"].values, dtype=bool)[:, None, :, None]
             & np.isfinite(score))
    s, m, r, t = np.nonzero(valid)
    df = pd.DataFrame({
        "seq": s, "mutation": m, "response": r, "task": t,
        "source_name": plot.as_str(np.asarray(block["mutation_name"].values)[s, m]),
        "target_name": plot.as_str(np.asarray(block["response_name"].values)[s, r]),
        "score": score[s, m, r, t],
    })
    for var, col in (("interaction_p_value", "p_value"), ("interaction_q_value", "q_value")):
        if var in block:
            df[col] = np.asarray(block[var].values, dtype=float)[s, m, r, t]
    for var in ("mutation_start", "mutation_end", "mutation_alt"):
        if var in block:
            df[var] = np.asarray(block[var].values)[s, m]
    for var in ("response_start", "response_end"):
        if var in block:
            df[var] = np.asarray(block[var].values)[s, r]
    return df


def _block_pass1(block: xr.Dataset, offset: int, top: int) -> tuple[float, pd.DataFrame]:
    df = _tests(block)
    df["seq"] += offset
    amax = float(df["score"].abs().max()) if len(df) else 0.0
    if len(df) > top:
        df = df.iloc[np.argpartition(-df["score"].abs().to_numpy(), top - 1)[:top]]
    return amax, df


def _block_pass2(block: xr.Dataset, scale: float, edges: np.ndarray) -> pd.DataFrame:
    """Per (task, source name, target name): counts, sum and a sparse histogram."""
    df = _tests(block)
    keys = ["task", "source_name", "target_name"]
    cols = [*keys, "n", "n_q", "n_sig", "sum", "bins", "counts"]
    if not len(df):
        return pd.DataFrame(columns=cols)
    u = np.arcsinh(df["score"].to_numpy() / scale)
    nb = edges.size - 1
    df["bin"] = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, nb - 1)
    q = df["q_value"].to_numpy() if "q_value" in df else np.full(len(df), np.nan)
    df["has_q"] = np.isfinite(q)
    df["sig"] = q < SIGNIFICANCE
    grouped = df.groupby(keys, sort=False)
    agg = grouped.agg(n=("score", "size"), n_q=("has_q", "sum"), n_sig=("sig", "sum"),
                      sum=("score", "sum")).reset_index()
    code = grouped.ngroup().to_numpy()
    cells, counts = np.unique(code.astype(np.int64) * nb + df["bin"].to_numpy(),
                              return_counts=True)
    split = np.searchsorted(cells // nb, np.arange(len(agg) + 1))
    agg["bins"] = [cells[split[k]:split[k + 1]] % nb for k in range(len(agg))]
    agg["counts"] = [counts[split[k]:split[k + 1]] for k in range(len(agg))]
    return agg[cols]


def _hist_median(bins: np.ndarray, counts: np.ndarray, edges: np.ndarray,
                 scale: float) -> float:
    """Median from a sparse histogram on the arcsinh scale (mean of the two middle order
    statistics for an even count, as :func:`numpy.median`), each located within its bin."""
    n = int(counts.sum())
    if n == 0:
        return float("nan")
    order = np.argsort(bins)
    bins, counts = bins[order], counts[order]
    cum = np.cumsum(counts)

    def order_stat(k: int) -> float:
        i = int(np.searchsorted(cum, k + 1))
        j = k - (cum[i - 1] if i > 0 else 0)
        b = bins[i]
        u = edges[b] + (j + 0.5) / counts[i] * (edges[b + 1] - edges[b])
        return float(scale * np.sinh(u))

    return (order_stat((n - 1) // 2) + order_stat(n // 2)) / 2


def _pass1(ds: xr.Dataset, top: int) -> tuple[float, pd.DataFrame]:
    """(largest |score|, the ``top`` tests of largest |score|) over all chunks."""
    lazy = ds[[v for v in _TOP_VARS if v in ds.variables]]
    first = dask.compute(*[
        dask.delayed(_block_pass1)(lazy.isel(seq=b), b.start, top) for b in _seq_blocks(ds)
    ])
    amax = max((a for a, _ in first), default=0.0)
    tops = [d for _, d in first if len(d)]
    if not tops:
        return amax, _tests(lazy.isel(seq=slice(0, 0)).compute())
    df = pd.concat(tops, ignore_index=True)
    df = df.iloc[np.argsort(-df["score"].abs().to_numpy(), kind="stable")[:top]]
    return amax, df.reset_index(drop=True)


def _scan(ds: xr.Dataset, top: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pair summary, top interactions): two lazy passes over the sequence chunks."""
    amax, top_df = _pass1(ds, top)
    scale = amax / 1e4 if amax > 0 else 1.0
    lim = float(np.arcsinh(amax / scale)) if amax > 0 else 1.0
    grid = np.linspace(-lim, lim, HIST_BINS + 1)
    edges = grid.copy()
    edges[0], edges[-1] = -np.inf, np.inf
    small = ds[[v for v in _TEST_VARS if v in ds.variables]]
    parts = dask.compute(*[
        dask.delayed(_block_pass2)(small.isel(seq=b), scale, edges) for b in _seq_blocks(ds)
    ])
    summary = _combine(list(parts), grid, scale, "interaction_q_value" in ds, ds)
    return summary, top_df


def _combine(parts: list[pd.DataFrame], grid: np.ndarray, scale: float, has_q: bool,
             ds: xr.Dataset) -> pd.DataFrame:
    keys = ["task", "source_name", "target_name"]
    parts = [p for p in parts if len(p)]
    cols = ["task", "source", "target", "n_tests", "mean_score", "median_score"]
    if has_q:
        cols += ["n_significant", "fraction_significant"]
    if not parts:
        return pd.DataFrame(columns=cols)
    allp = pd.concat(parts, ignore_index=True)
    code, uniq = pd.MultiIndex.from_frame(allp[keys]).factorize()
    allp["code"] = code
    agg = allp.groupby("code").agg(n=("n", "sum"), n_q=("n_q", "sum"), n_sig=("n_sig", "sum"),
                                   total=("sum", "sum"))
    sizes = allp["bins"].map(len).to_numpy()
    codes = np.repeat(code, sizes)
    bins = np.concatenate(allp["bins"].to_list())
    counts = np.concatenate(allp["counts"].to_list())
    order = np.lexsort((bins, codes))
    codes, bins, counts = codes[order], bins[order], counts[order]
    split = np.searchsorted(codes, np.arange(len(uniq) + 1))
    rows = []
    for k, (t, src, tgt) in enumerate(uniq):
        n = int(agg.at[k, "n"])
        sl = slice(split[k], split[k + 1])
        row = {"task": plot._task_name(ds, int(t)), "source": src, "target": tgt,
               "n_tests": n, "mean_score": float(agg.at[k, "total"]) / n,
               "median_score": _hist_median(bins[sl], counts[sl], grid, scale)}
        if has_q:
            n_q = int(agg.at[k, "n_q"])
            row["n_significant"] = int(agg.at[k, "n_sig"])
            row["fraction_significant"] = row["n_significant"] / n_q if n_q else float("nan")
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["task", "source", "target"], ignore_index=True)


def pair_summary(ds: plot.DatasetLike) -> pd.DataFrame:
    """Per task, source name and target name: number of tests, mean and median score,
    and (when q-values exist) the number and fraction with q < 0.05.

    Computed lazily, one sequence chunk at a time; the median is read from a fine
    histogram on an ``arcsinh`` scale (relative error below 0.5 %).

    Parameters
    ----------
    ds
        dfimx dataset or store path.

    Returns
    -------
    pandas.DataFrame
        Columns ``task, source, target, n_tests, mean_score, median_score`` and
        ``n_significant, fraction_significant`` when q-values are stored.

    Examples
    --------
    >>> table = pair_summary(plot.example_dataset(n_seq=10))
    >>> int(table["n_tests"].sum())
    120
    """
    ds = plot.open_dataset(ds)
    return _scan(ds, top=1)[0]


def top_interactions(ds: plot.DatasetLike, top: int = 20) -> pd.DataFrame:
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
        One row per test: ``seq, seq_id, mutation, response, task, source_name,
        target_name, score`` (and ``p_value``, ``q_value``, coordinates when stored),
        by decreasing |score|.

    Examples
    --------
    >>> top_interactions(plot.example_dataset(n_seq=10), top=3)["source_name"].tolist()
    ['GATA', 'GATA', 'GATA']
    """
    ds = plot.open_dataset(ds)
    return _with_ids(ds, _pass1(ds, top)[1])


def _with_ids(ds: xr.Dataset, df: pd.DataFrame) -> pd.DataFrame:
    seqs = df["seq"].to_numpy().astype(int)
    ids = (plot.as_str(np.asarray(ds["seq_id"].isel(seq=seqs).values)) if seqs.size
           else np.array([], dtype=str))
    df.insert(1, "seq_id", ids)
    if "task" in ds.coords:
        df["task"] = [plot._task_name(ds, int(t)) for t in df["task"]]
    return df


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
    tasks = ", ".join(html.escape(plot._task_name(ds, t)) for t in range(ds.sizes.get("task", 1)))
    return (f'<p class="note">Dimensions: {sizes}. Tasks: {tasks}.</p>'
            f"<details><summary>Stored variables</summary><p>{stored}</p></details>")


def _is_per_base(ds: xr.Dataset, seq: int) -> bool:
    if "mutation_alt" not in ds:
        return False
    sub = plot._load(ds, ["mutation_alt", "mutation_mask", "response_start", "response_end",
                          "response_mask"], seq=seq)
    alt = np.asarray(sub["mutation_alt"].values)[np.asarray(sub["mutation_mask"].values, bool)]
    rmask = np.asarray(sub["response_mask"].values, bool)
    width = (np.asarray(sub["response_end"].values) - np.asarray(sub["response_start"].values))
    return bool(alt.size and (alt >= 0).all() and (width[rmask] == 1).all())


def _track_window(ds: xr.Dataset, row: pd.Series, max_width: int = 300) -> tuple[int, int] | None:
    n_pos = ds.sizes["position"]
    if n_pos <= max_width:
        return None
    lo = int(min(row.get("mutation_start", 0), row.get("response_start", 0)))
    hi = int(max(row.get("mutation_end", n_pos), row.get("response_end", n_pos)))
    mid = (lo + hi) // 2
    half = max(max_width, hi - lo + 20) // 2
    return (max(0, mid - half), min(n_pos, mid + half))


def write_report(
    store_or_dataset: plot.DatasetLike,
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
    overview, the pair summary table (per source name × target name: tests, mean and
    median score, fraction with q < 0.05), the summary plot, the QQ plot (or a note
    that no null was run), the ``top`` interactions, detail plots of the sequences of
    the first ``max_maps`` of them (element map or per-base map, and Δ tracks) and,
    for variant scans, the variant track.

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
    >>> ds = plot.example_dataset(n_seq=6).drop_vars(
    ...     ["interaction_p_value", "interaction_q_value", "null_interaction_score"])
    >>> out = write_report(ds, tempfile.mkdtemp() + "/report.html", max_maps=1)
    >>> "no null was run" in out.read_text()
    True
    """
    ds = plot.open_dataset(store_or_dataset)
    if title is None:
        name = (Path(os.fspath(store_or_dataset)).name
                if not isinstance(store_or_dataset, xr.Dataset) else "dataset")
        title = f"dfimx report: {name}"
    t = plot._task_index(ds, task)
    has_p = "interaction_p_value" in ds
    has_q = "interaction_q_value" in ds
    summary, top_df = _scan(ds, top)
    top_df = _with_ids(ds, top_df)

    sections: list[tuple[str, str]] = []
    models: list[Any] = []

    def add_plot(obj: Any, name: str) -> None:
        model = plot.to_bokeh(obj)
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
             + ". Medians are read from a fine histogram (relative error &lt; 0.5 %).</p>")
    shown = summary.sort_values("median_score", key=np.abs, ascending=False)
    add_html(_html_table(shown, max_rows=100))
    try:
        add_plot(plot.interaction_summary(ds, "score", t, max_seqs=max_seqs), "summary_score")
        if has_q:
            add_plot(plot.interaction_summary(ds, "neglog10q", t, max_seqs=max_seqs),
                     "summary_q")
    except ValueError as err:
        add_html(f'<p class="warn">Summary plot unavailable: {html.escape(str(err))}</p>')

    add_html("<h2>Calibration</h2>")
    if has_p:
        add_plot(plot.qq_plot(ds), "qq")
    else:
        add_html('<p class="note">No QQ plot: no null was run (the store has no '
                 "<code>interaction_p_value</code>).</p>")

    if "variant_pos" in ds and "variant_chrom" in ds:
        add_html("<h2>Variants</h2>")
        add_plot(plot.variant_track(ds, "neglog10q" if has_q else "score", t), "variants")

    add_html(f"<h2>Top {len(top_df)} interactions</h2><p class=\"note\">Largest |score| over "
             "all tests and tasks.</p>")
    cols = [c for c in ["seq_id", "task", "source_name", "mutation_start", "mutation_end",
                        "target_name", "response_start", "response_end", "score", "p_value",
                        "q_value"] if c in top_df]
    add_html(_html_table(top_df[cols], sig_col="q_value" if has_q else None))

    _details(ds, top_df, max_maps, add_plot, add_html)

    html_text = plot.standalone_html(
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
        seq = int(row["seq"])
        if seq in seen:
            continue
        seen.append(seq)
        task = row["task"]
        add_html(f"<h3>{html.escape(str(row['seq_id']))}: {html.escape(str(row['source_name']))}"
                 f" \u2192 {html.escape(str(row['target_name']))}, task "
                 f"{html.escape(str(task))}, score {_fmt(row['score'])}</h3>")
        k = len(seen)
        if _is_per_base(ds, seq):
            add_plot(plot.per_base_map(ds, seq, task, selector=False), f"map_{k}")
        else:
            add_plot(plot.element_map(ds, seq, task), f"map_{k}")
        add_plot(plot.delta_tracks(ds, seq, int(row["mutation"]), task,
                                   window=_track_window(ds, row)), f"tracks_{k}")
        if len(seen) >= max_maps:
            break
