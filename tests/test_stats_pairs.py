"""Tests of dfimx.stats.pairs: the pair summary kernel against pandas."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd

from dfimx.stats.pairs import PAIR_KEYS, pair_table


def _arrays(seed=17, n_seq=12):
    rng = np.random.default_rng(seed)
    score = np.round(rng.normal(size=(n_seq, 2, 3, 2)), 1)
    score[rng.uniform(size=score.shape) < 0.2] = np.nan
    q = rng.uniform(size=score.shape)
    names = np.array(["a", "b", "c"], dtype=object)
    mname = names[rng.integers(0, 3, (n_seq, 2))]
    rname = names[rng.integers(0, 3, (n_seq, 3))]
    return score, q, mname, rname


def test_pair_table_matches_pandas_whatever_the_chunks():
    score, q, mname, rname = _arrays()
    tasks = np.array(["t0", "t1"], dtype=object)
    s, m, r, t = np.nonzero(~np.isnan(score))
    frame = pd.DataFrame({"source_name": mname[s, m], "target_name": rname[s, r],
                          "task": tasks[t], "score": score[s, m, r, t],
                          "sig": q[s, m, r, t] < 0.3})
    want = frame.groupby(PAIR_KEYS).agg(
        n_tests=("score", "size"), mean_score=("score", "mean"),
        median_score=("score", "median"), n_significant=("sig", "sum"),
    ).reset_index()
    tables = []
    for chunk in (1, 5, 12):
        args = [da.from_array(a, chunks=(chunk,) + a.shape[1:]) for a in (score, q, mname, rname)]
        table = pair_table(*args, tasks, alpha=0.3)
        assert table.attrs["median_exact"]
        pd.testing.assert_frame_equal(table[want.columns], want, check_dtype=False)
        np.testing.assert_allclose(table.fraction_significant, want.n_significant / want.n_tests)
        tables.append(table)
    for other in tables[1:]:
        pd.testing.assert_frame_equal(other, tables[0])  # bit for bit: chunking-invariant


def test_pair_table_without_q_values():
    score, _, mname, rname = _arrays(seed=18)
    args = [da.from_array(a, chunks=(4,) + a.shape[1:]) for a in (score, mname, rname)]
    table = pair_table(args[0], None, args[1], args[2], np.arange(2))
    assert list(table.columns) == PAIR_KEYS + ["n_tests", "mean_score", "median_score"]
    assert table.n_tests.sum() == np.count_nonzero(~np.isnan(score))
