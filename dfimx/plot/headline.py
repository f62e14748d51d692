"""What a report says first: the pair table, the answer in words, and readable top tables.

A result is one of three kinds (:func:`result_kind`): element pairs (named sources and
targets), a per-base scan (every substitution of a window against every position) or
a variant scan. :func:`pair_table` is the pair summary with the symmetric score beside
it; :func:`headline` turns it into the sentences a report opens with (which pairs
interact, how strongly, how sure, out of how many tests); :func:`base_pair_table` and
:func:`variant_top_table` label the top tests of the other two kinds the way people
name them (``A34>C → G57``; ``chr2:6000 A>G``, its nearest motif).

A pair *interacts* when most of its tests are significant: ``fraction_significant >=
0.5`` at q < ``alpha``. Without a null there are no q-values, and the headline reports
the largest median score without a verdict.

Examples
--------
>>> from dfimx.testing import example_result
>>> ds = example_result(n_seq=30)
>>> table = pair_table(ds)
>>> table[["source_name", "target_name"]].iloc[0].tolist()
['GATA', 'TAL1']
>>> headline(ds, table)["verdict"]
'1 of 16 element pairs interacts: GATA → TAL1 (task0, task1).'

"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import xarray as xr

from dfimx import stats
from dfimx.alphabet import BASES
from dfimx.plot.select import SIGNIFICANCE, DatasetLike, load, open_dataset
from dfimx.stats.pairs import PAIR_KEYS
from dfimx.variables import as_str

__all__ = ["INTERACTING_FRACTION", "base_pair_table", "headline", "pair_table", "result_kind",
           "variant_top_table"]

#: A pair interacts when at least this fraction of its tests is significant.
INTERACTING_FRACTION = 0.5

_SYMMETRIC = {"median_score": "median_symmetric_score",
              "fraction_significant": "fraction_significant_symmetric"}


def result_kind(ds: xr.Dataset) -> str:
    """``"variants"``, ``"per_base"`` or ``"elements"``.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> result_kind(example_result(2, per_base=True)), result_kind(example_result(2))
    ('per_base', 'elements')
    """
    if "variant_pos" in ds and "variant_chrom" in ds:
        return "variants"
    if ds.attrs.get("plan") == "scan":
        return "per_base"
    if "mutation_alt" not in ds or ds.sizes.get("seq", 0) == 0:
        return "elements"
    sub = load(ds, ["mutation_alt", "mutation_mask", "response_start", "response_end",
                    "response_mask"], seq=0)
    alt = np.asarray(sub["mutation_alt"].values)[np.asarray(sub["mutation_mask"].values, bool)]
    rmask = np.asarray(sub["response_mask"].values, bool)
    width = np.asarray(sub["response_end"].values) - np.asarray(sub["response_start"].values)
    per_base = alt.size and (alt >= 0).all() and (width[rmask] == 1).all()
    return "per_base" if per_base else "elements"


def pair_table(ds: DatasetLike, *, alpha: float = SIGNIFICANCE) -> pd.DataFrame:
    """The pair summary, symmetric score beside it, interacting pairs first.

    The columns of :func:`dfimx.stats.pair_summary` (whatever it returns), then, when
    the result has ``symmetric_score`` (element plans), ``median_symmetric_score`` and
    ``fraction_significant_symmetric`` (against ``symmetric_q_value``). Rows are sorted
    by decreasing fraction significant, then by decreasing |median score|.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> ds = example_result(n_seq=12)
    >>> ds["symmetric_score"] = ds["interaction_score"]
    >>> "median_symmetric_score" in pair_table(ds)
    True
    """
    ds = open_dataset(ds)
    q = "interaction_q_value" if "interaction_q_value" in ds else None
    table = stats.pair_summary(ds, alpha=alpha, q_value=q)
    if "symmetric_score" in ds:
        sq = "symmetric_q_value" if "symmetric_q_value" in ds else None
        sym = stats.pair_summary(ds, alpha=alpha, score="symmetric_score", q_value=sq)
        sym = sym[PAIR_KEYS + [c for c in _SYMMETRIC if c in sym]].rename(columns=_SYMMETRIC)
        table = table.merge(sym, on=PAIR_KEYS, how="left")
    keys = pd.DataFrame({"abs": table["median_score"].abs()})
    by = ["abs"]
    if "fraction_significant" in table:
        keys["frac"] = table["fraction_significant"]
        by = ["frac", "abs"]
    order = keys.sort_values(by, ascending=False, kind="stable").index
    out = table.loc[order].reset_index(drop=True)
    out.attrs.update(table.attrs)
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _effect_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if "effect" in c]


def headline(ds: xr.Dataset, table: pd.DataFrame, *, alpha: float = SIGNIFICANCE,
             top: pd.DataFrame | None = None) -> dict[str, str]:
    """The answer in words (HTML-escaped): ``verdict``, ``top`` and ``tests``.

    ``table`` is :func:`pair_table`; ``top`` the labelled top tests of a per-base or
    variant scan (:func:`base_pair_table`, :func:`variant_top_table`), whose first row
    the ``top`` sentence describes instead of the best pair.
    """
    e = html.escape
    kind = result_kind(ds)
    n_tests = int(table["n_tests"].sum()) if len(table) else 0
    has_q = "fraction_significant" in table
    n_seq = ds.sizes["seq"]
    tests = f"{n_tests:,} tests (source \u00d7 target \u00d7 task) in {n_seq:,} sequences"
    if has_q:
        n_sig = int(table["n_significant"].sum())
        tests += (f"; {n_sig:,} significant at q < {alpha} (Benjamini\u2013Hochberg false "
                  "discovery rate)")
    else:
        tests += "; no null was run, so there are no p- or q-values"
    out = {"tests": e(tests) + "."}
    if kind == "elements":
        if not len(table):
            return {"verdict": "No tests.", "top": "", "tests": out["tests"]}
        best = table.iloc[0]
        pair = f"{best['source_name']} \u2192 {best['target_name']}"
        if has_q:
            hits = table[table["fraction_significant"] >= INTERACTING_FRACTION]
            n_pairs = len(table[["source_name", "target_name"]].drop_duplicates())
            if len(hits):
                groups = hits.groupby(["source_name", "target_name"], sort=False)["task"]
                named = [f"{a} \u2192 {b} ({', '.join(sorted(str(t) for t in tasks))})"
                         for (a, b), tasks in groups]
                more = f" and {len(named) - 3} more" if len(named) > 3 else ""
                verb = "interacts" if len(named) == 1 else "interact"
                verdict = (f"{len(named)} of {n_pairs} element pairs {verb}: "
                           f"{', '.join(named[:3])}{more}.")
            else:
                verdict = (f"No element pair interacts: in none of the {n_pairs} pairs "
                           f"are most tests significant at q < {alpha}.")
        else:
            verdict = (f"Largest median score: {pair} ({best['task']}); without a null "
                       "this run cannot say which pairs interact.")
        sentence = f"Top pair {pair}, task {best['task']}: median score " \
                   f"{best['median_score']:.3g}"
        if "median_symmetric_score" in best and np.isfinite(best["median_symmetric_score"]):
            sentence += f" (symmetric {best['median_symmetric_score']:.3g})"
        for col in _effect_columns(table):
            sentence += f", {col.replace('_', ' ')} {best[col]:.3g}"
        if has_q:
            sentence += (f"; {_pct(best['fraction_significant'])} of its "
                         f"{int(best['n_tests'])} tests significant at q < {alpha}")
        else:
            sentence += f" over {int(best['n_tests'])} tests"
        return {"verdict": e(verdict), "top": e(sentence) + ".", "tests": out["tests"]}
    label = "base pair" if kind == "per_base" else "variant interaction"
    if top is None or not len(top):
        return {"verdict": "No tests.", "top": "", "tests": out["tests"]}
    row = top.iloc[0]
    if kind == "per_base":
        what = f"{row['source']} \u2192 {row['target']} ({row['distance']} bp apart)"
    else:
        kind_word = f" {row['target_kind']}" if "target_kind" in row else ""
        what = (f"{row['variant']} ({row['variant_id']}) \u2192 {row['target_name']}"
                f"{kind_word}, {row['distance']} bp away")
    sentence = f"Top {label}: {what}, task {row['task']}, score {row['score']:.3g}"
    if has_q and np.isfinite(row.get("q_value", np.nan)):
        sentence += f", q = {row['q_value']:.2g}"
    if kind == "variants":
        verdict = _variant_verdict(ds, alpha) if has_q else (
            "No null was run: variants are ranked by |score| only.")
    else:
        n_sig = int(table["n_significant"].sum()) if has_q else 0
        verdict = (f"{n_sig:,} of {n_tests:,} base pairs interact at q < {alpha}."
                   if has_q else "No null was run: base pairs are ranked by |score| only.")
    return {"verdict": e(verdict), "top": e(sentence) + ".", "tests": out["tests"]}


def _variant_verdict(ds: xr.Dataset, alpha: float) -> str:
    q = ds["interaction_q_value"]
    any_sig = (q < alpha).any(dim=[d for d in q.dims if d != "seq"])
    n_sig = int(any_sig.sum().compute())
    return (f"{n_sig:,} of {ds.sizes['seq']:,} variants interact with a motif or variant "
            f"around them (a test at q < {alpha}).")


def _letters(ds: xr.Dataset, seqs: np.ndarray) -> dict[int, np.ndarray]:
    """Base letters (``N`` for all-zero rows) of the given sequences."""
    out = {}
    for s in np.unique(seqs):
        oh = np.asarray(load(ds, ["seq_onehot"], seq=int(s))["seq_onehot"].values)
        code = np.where(oh.any(axis=1), oh.argmax(axis=1), 4)
        out[int(s)] = np.array(list(BASES) + ["N"])[code]
    return out


def base_pair_table(ds: xr.Dataset, top: pd.DataFrame) -> pd.DataFrame:
    """Top tests of a per-base scan as base pairs: ``A34>C`` (source), ``G57`` (target).

    ``top`` is :func:`dfimx.report.top_interactions`. Columns ``seq_id, source,
    target, distance, task, score, q_value`` (``q_value`` when stored).

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> from dfimx.report import top_interactions
    >>> ds = example_result(3, per_base=True, n_tasks=1)
    >>> bool(base_pair_table(ds, top_interactions(ds, 2))["source"].str.match(r"[ACGT]3\\d>").all())
    True
    """
    letters = _letters(ds, top["seq_index"].to_numpy())
    src = [f"{letters[s][p]}{p}>{a}" for s, p, a in
           zip(top["seq_index"], top["source_start"], top["source_alt"], strict=True)]
    tgt = [f"{letters[s][p]}{p}" for s, p in zip(top["seq_index"], top["target_start"],
                                                   strict=True)]
    out = pd.DataFrame({"seq_id": top["seq_id"].to_numpy(), "source": src, "target": tgt,
                        "distance": (top["target_start"] - top["source_start"]).abs(),
                        "task": top["task"].to_numpy(), "score": top["score"].to_numpy()})
    if "target_kind" in top:
        out.insert(3, "target_kind", top["target_kind"].to_numpy())
    if "q_value" in top and not top["q_value"].isna().all():
        out["q_value"] = top["q_value"].to_numpy()
    return out


def _nearest_motifs(ds: xr.Dataset, seqs: np.ndarray) -> dict[int, tuple[str, int]]:
    """(name, distance in bp) of the motif target nearest each variant (by window)."""
    out = {}
    for s in np.unique(seqs):
        sub = load(ds, ["mutation_start", "mutation_mask", "response_start", "response_end",
                        "response_name", "response_mask", "target_kind"], seq=int(s))
        mm = np.asarray(sub["mutation_mask"].values, bool)
        pos = int(np.asarray(sub["mutation_start"].values)[mm][0]) if mm.any() else 0
        ok = np.asarray(sub["response_mask"].values, bool)
        if "target_kind" in sub:
            ok &= as_str(np.asarray(sub["target_kind"].values)) == "motif"
        start = np.asarray(sub["response_start"].values)
        end = np.asarray(sub["response_end"].values)
        dist = np.maximum(0, np.maximum(start - pos, pos - (end - 1)))
        if not ok.any():
            out[int(s)] = ("", -1)
            continue
        j = np.flatnonzero(ok)[np.argmin(dist[ok])]
        out[int(s)] = (str(sub["response_name"].values[j]), int(dist[j]))
    return out


def variant_top_table(ds: xr.Dataset, top: pd.DataFrame, *, per_variant: bool = True
                      ) -> pd.DataFrame:
    """Top tests of a variant scan with the variant spelt out and its nearest motif.

    Columns ``variant`` (``chrom:pos ref>alt``, 1-based ``pos`` as in the VCF),
    ``variant_id``, ``target_name``, ``target_kind`` (when stored), ``distance`` (bp
    from the variant to the target), ``nearest_motif`` (``name (d bp)``), ``task``, ``score`` and
    ``q_value`` when stored; with ``per_variant`` the best row of each variant only.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> from dfimx.report import top_interactions
    >>> ds = example_result(4, variants=True)
    >>> variant_top_table(ds, top_interactions(ds, 5))["variant"].iloc[0]
    'chr2:6000 A>G'
    """
    if per_variant:
        top = top.drop_duplicates("seq_index")
    meta = load(ds, ["variant_chrom", "variant_pos", "variant_ref", "variant_alt",
                     "variant_id", "seq_id"], seq=top["seq_index"].to_numpy())
    # seq_id is a coordinate of a reopened store, a data variable of a computed result
    text = {k: as_str(np.asarray(meta[k].values)) for k in meta.variables
            if k in ("variant_chrom", "variant_ref", "variant_alt", "variant_id", "seq_id")}
    pos = np.asarray(meta["variant_pos"].values).astype(np.int64)
    nearest = _nearest_motifs(ds, top["seq_index"].to_numpy())
    ids = text.get("variant_id", text["seq_id"])
    variant = [f"{c}:{p} {r}>{a}" for c, p, r, a in zip(
        text["variant_chrom"], pos, text.get("variant_ref", [""] * len(pos)),
        text.get("variant_alt", [""] * len(pos)), strict=True)]
    out = pd.DataFrame({
        "variant": variant, "variant_id": ids, "target_name": top["target_name"].to_numpy(),
        "distance": np.maximum(0, np.maximum(top["target_start"] - top["source_start"],
                                             top["source_start"] - (top["target_end"] - 1))
                               ).to_numpy(),
        "nearest_motif": [f"{n} ({d} bp)" if n else "" for n, d in
                          (nearest[int(s)] for s in top["seq_index"])],
        "task": top["task"].to_numpy(), "score": top["score"].to_numpy(),
    })
    if "target_kind" in top:
        out.insert(3, "target_kind", top["target_kind"].to_numpy())
    if "q_value" in top and not top["q_value"].isna().all():
        out["q_value"] = top["q_value"].to_numpy()
    return out
