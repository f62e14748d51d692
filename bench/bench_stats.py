"""Benchmarks of dfimx.stats: Benjamini-Hochberg q-values at scale, and p-values.

Each case runs in its own subprocess so that its peak resident memory (``ru_maxrss``) is
its own. The p-values are generated chunk by chunk inside the Dask graph, so no process
ever holds all of them unless the algorithm gathers them.

Usage::

    python bench/bench_stats.py                 # 1e8 p-values (both BH paths), 1e6 ratio
    python bench/bench_stats.py --n 1e7         # smaller
    python bench/bench_stats.py --case continuous --n 1e7 --chunk 1e6

Lines start with ``BENCH``: name, seconds, and what the number is compared with.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import dask
import dask.array as da
import numpy as np


def _p_values(kind: str, n: int, chunk: int, seed: int = 0) -> da.Array:
    """Lazy float32 p-values: 5% signal (tiny p) in uniform noise, or empirical-like."""
    rng = da.random.default_rng(seed)
    u = rng.uniform(size=n, chunks=chunk)
    v = rng.uniform(size=n, chunks=chunk)
    if kind == "continuous":
        p = da.where(v < 0.05, u * 1e-6, u)
    else:  # empirical p-values against a pool of 9999 null scores: 10^4 distinct values
        n1 = 10_000
        p = da.where(v < 0.05, 1.0, da.ceil(u * n1)) / n1
    return p.astype(np.float32)


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_case(kind: str, n: int, chunk: int, workers: int) -> dict:
    """BH q-values of ``n`` lazily generated p-values; only reductions of q are kept."""
    from dfimx import stats

    p = _p_values(kind, n, chunk)
    with dask.config.set(scheduler="threads", num_workers=workers):
        if kind == "baseline":  # generation and a reduction only: the floor of the others
            p = _p_values("continuous", n, chunk)
            t0 = time.perf_counter()
            total, n_sig = dask.compute(p.sum(), (p < 0.05).sum())
        else:
            t0 = time.perf_counter()
            q = stats.bh_q_values(p)
            total, n_sig = dask.compute(da.nansum(q.astype(np.float64)), (q < 0.05).sum())
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_gib": _peak_gib(), "n_sig": int(n_sig),
            "checksum": float(total)}


def run_ratio(n: int, chunk: int) -> dict:
    """Ours (lazy, chunked) against statsmodels (in memory) on the same n p-values."""
    from statsmodels.stats.multitest import multipletests

    from dfimx import stats

    out = {}
    for kind in ("continuous", "discrete"):
        p = _p_values(kind, n, chunk).compute()
        t0 = time.perf_counter()
        want = multipletests(p, method="fdr_bh")[1]
        t_sm = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = stats.bh_q_values(da.from_array(p, chunks=chunk)).compute(scheduler="threads")
        t_ours = time.perf_counter() - t0
        out[kind] = {
            "statsmodels": t_sm,
            "ours": t_ours,
            "equal": bool(np.array_equal(got, want.astype(np.float32))),
        }
    return out


def run_pvalues(n_tests: int, n_null: int, chunk_seq: int) -> dict:
    """add_p_values (empirical, global pool) on a synthetic run."""
    import xarray as xr

    from dfimx import stats

    n_seq = n_tests // 40
    dims = ("seq", "mutation", "response", "task")
    rng = da.random.default_rng(1)
    score = rng.normal(size=(n_seq, 4, 10, 1), chunks=(chunk_seq, 4, 10, 1)).astype("f4")
    null = rng.normal(size=(n_seq, 4, 10, 1, n_null),
                      chunks=(chunk_seq, 4, 10, 1, n_null)).astype("f4")
    ds = xr.Dataset({"interaction_score": (dims, score),
                     "null_interaction_score": (dims + ("null",), null)})
    out = {}
    for level in ("global", "map"):
        t0 = time.perf_counter()
        p = stats.add_p_values(ds, level=level).interaction_p_value
        with dask.config.set(scheduler="threads"):
            (m,) = dask.compute(p.mean())
        out[level] = time.perf_counter() - t0
    return out


def _child(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--child", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=1e8, help="number of p-values")
    ap.add_argument("--chunk", type=float, default=5e6, help="chunk size")
    ap.add_argument("--workers", type=int, default=2, help="threads")
    ap.add_argument("--ratio-n", type=float, default=1e6, help="n of the statsmodels ratio")
    ap.add_argument("--case", default="all",
                    choices=["all", "baseline", "continuous", "discrete", "ratio", "pvalues"])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    n, chunk = int(a.n), int(a.chunk)
    if a.child:
        if a.case == "ratio":
            res = run_ratio(int(a.ratio_n), max(int(a.ratio_n) // 8, 1))
        elif a.case == "pvalues":
            res = run_pvalues(int(a.ratio_n), 10, 1000)
        else:
            res = run_case(a.case, n, chunk, a.workers)
        print(json.dumps(res))
        return
    label = f"1e{round(np.log10(n))}" if n == 10 ** round(np.log10(n)) else str(n)
    cases = ["baseline", "continuous", "discrete", "ratio", "pvalues"] if a.case == "all" \
        else [a.case]
    common = ["--n", str(n), "--chunk", str(chunk), "--workers", str(a.workers),
              "--ratio-n", str(int(a.ratio_n))]
    base = None
    for case in cases:
        res = _child(["--case", case, *common])
        if case == "baseline":
            base = res
            print(f"BENCH generate_and_reduce_{label} {res['seconds']:.2f} s "
                  f"(lazy generation of the p-values + one reduction; the floor) "
                  f"peak_rss {res['peak_gib']:.2f} GiB")
        elif case in ("continuous", "discrete"):
            path = "bucketed exact 2nd pass" if case == "continuous" else "distinct-value table"
            extra = ""
            if base is not None:
                extra = f"; {res['seconds'] / base['seconds']:.1f}x the generation floor"
            print(f"BENCH bh_qvalues_{label}_{case} {res['seconds']:.2f} s "
                  f"(float32 p-values, chunks of {chunk}, {a.workers} threads, {path}{extra}) "
                  f"peak_rss {res['peak_gib']:.2f} GiB "
                  f"(p-values alone: {n * 4 / 2**30:.2f} GiB float32) n_q_lt_0.05 "
                  f"{res['n_sig']}")
        elif case == "ratio":
            rl = f"1e{round(np.log10(a.ratio_n))}"
            for kind, r in res.items():
                print(f"BENCH bh_qvalues_{rl}_{kind}_vs_statsmodels "
                      f"{r['ours']:.3f} s vs {r['statsmodels']:.3f} s statsmodels fdr_bh "
                      f"ratio {r['ours'] / r['statsmodels']:.2f} equal={r['equal']}")
        else:
            rl = f"1e{round(np.log10(a.ratio_n))}"
            for level, s in res.items():
                print(f"BENCH add_p_values_{rl}_tests_x10_null_{level} {s:.2f} s "
                      f"(empirical, lazily generated scores, 2 threads)")


if __name__ == "__main__":
    main()
