"""The closing summary of ``dfimx run`` and ``dfimx scan-variants``: what was tested, what
came out, where it is and what to run next.

Examples
--------
>>> from dfimx.testing import example_store
>>> print(run_summary(example_store(n_seq=6, chunk=4))[0])   # doctest: +ELLIPSIS
6 sequences, ... sources and ... targets, 2 tasks: ... pairs scored
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfimx.variables import as_str

#: q-value under which the summary counts a pair as significant.
SUMMARY_Q = 0.05


def _store_size(path: str) -> str:
    if not os.path.isdir(path):
        return ""
    total = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return f" ({total / 1e6:.1f} MB)"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def top_pairs(ds: Any, *, q: float = SUMMARY_Q) -> pd.DataFrame:
    """Per (source name, target name, task): pairs scored, significant at ``q``, median
    score; sorted most significant first.

    Examples
    --------
    >>> from dfimx.testing import example_result
    >>> top = top_pairs(example_result(n_seq=20))
    >>> top.iloc[0][["source", "target"]].tolist()
    ['GATA', 'TAL1']
    """
    score = np.asarray(ds["interaction_score"].values)
    finite = np.isfinite(score)
    s_idx, m_idx, r_idx, t_idx = np.nonzero(finite)
    src = as_str(ds["mutation_name"].values)[s_idx, m_idx]
    tgt = as_str(ds["response_name"].values)[s_idx, r_idx]
    tasks = as_str(ds["task"].values)[t_idx] if "task" in ds.coords else t_idx.astype(str)
    frame = pd.DataFrame({"source": src, "target": tgt, "task": tasks,
                          "score": score[finite]})
    if "interaction_q_value" in ds:
        qv = np.asarray(ds["interaction_q_value"].values)[finite]
        frame["significant"] = qv < q
        frame["q"] = qv
    else:
        frame["significant"] = False
        frame["q"] = np.nan
    grouped = frame.groupby(["source", "target", "task"], sort=False).agg(
        pairs=("score", "size"), significant=("significant", "sum"),
        median_score=("score", "median"), min_q=("q", "min")).reset_index()
    grouped["abs_median"] = grouped["median_score"].abs()
    grouped = grouped.sort_values(["significant", "abs_median"], ascending=[False, False],
                                  kind="stable")
    return grouped.drop(columns="abs_median").reset_index(drop=True)


def run_summary(path: str | os.PathLike, *, elapsed: float | None = None) -> list[str]:
    """The lines printed when a run has written its store at ``path``.

    What was tested (sequences, sources, targets, tasks, scored pairs), how many pairs
    are significant (BH q < :data:`SUMMARY_Q`), the top name pair, the store, and the
    commands that come next.
    """
    from dfimx.store import open_result  # the store layer loads only once a run is done

    path = str(path)
    ds = open_result(path)
    n_seq = int(ds.sizes["seq"])
    n_src = int(np.asarray(ds["mutation_mask"].values).sum())
    n_tgt = int(np.asarray(ds["response_mask"].values).sum())
    n_task = int(ds.sizes.get("task", 1))
    top = top_pairs(ds)
    n_pairs = int(top["pairs"].sum())
    lines = [f"{_plural(n_seq, 'sequence')}, {n_src:,} sources and {n_tgt:,} targets, "
             f"{_plural(n_task, 'task')}: {n_pairs:,} pairs scored"]
    if "interaction_q_value" in ds and len(top):
        n_sig = int(top["significant"].sum())
        best = top.iloc[0]
        lines.append(f"significant at q < {SUMMARY_Q}: {n_sig:,} of {n_pairs:,} pairs")
        if n_sig:
            task = f" [{best['task']}]" if n_task > 1 else ""
            lines.append(f"top pair: {best['source']} -> {best['target']}{task}: "
                         f"{int(best['significant'])} of {int(best['pairs'])} significant, "
                         f"median score {best['median_score']:.3g}, "
                         f"smallest q {best['min_q']:.2g}")
    elif len(top):
        lines.append("no null was run (--null none): scores without p-values")
    took = f" in {elapsed:.0f} s" if elapsed is not None else ""
    lines.append(f"wrote {path}{_store_size(path)}{took}")
    lines.append(f"next: dfimx export {path} -o interactions.tsv; "
                 f"dfimx report {path} -o report.html")
    return lines


__all__ = ["SUMMARY_Q", "run_summary", "top_pairs"]
