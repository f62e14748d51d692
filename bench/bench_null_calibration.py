"""Which null is calibrated?  The context and dinuc nulls on five simulated cases.

Cases (every planted element a source and a target, the logit scored, default settings
except the null):

* ``classifier``: the sigmoid classifier of three classes (A, B, A and B) with decoys in
  every class (:func:`dfimx.simulate.classifier.cached_classifier`);
* ``classifier_gc``: the same trained and tested on GC-rich sequences (GC 0.65);
* ``demo``: the demo CNN (linear head) on its own simulation;
* ``local``: a model with a 25-base receptive field: pairs further apart are exactly zero;
* ``additive``: a model without interactions (no call may pass q < 0.05).

Also the cost: attribution passes per sequence of each null with the same ``K``.

Lines start with ``BENCH``: name, value, unit, what it is compared with.

Usage::

    python bench/bench_null_calibration.py [--n-test 300] [--only classifier local] \
        [--method deepshap]

``--method`` sets the attribution method of every case (default: dfimx's own); the
lines then carry its name (``classifier_deepshap_context_true_q``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from dfimx import simulate
from dfimx.simulate import classifier as clf
from dfimx.stats.pvalues import distance_between


def _line(name: str, value: float, unit: str, what: str) -> None:
    print(f"BENCH {name} {value:.4g} {unit} {what}", flush=True)


def _rates(case: str, model, sim, nulls=("context", "dinuc"), **options) -> None:
    for null in nulls:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = clf.null_calibration(model, sim, null=null, **options)
        took = time.perf_counter() - t0
        print(f"# {case} {null} (level {r['null_level']}): {r} in {took:.0f} s", flush=True)
        _line(f"{case}_{null}_true_q", r["true_q"], "fraction",
              f"true-pair tests at q < 0.05 (n={r['n_true']}; must be >= 0.9 for the default)")
        _line(f"{case}_{null}_true_read_q", r["true_read_q"], "fraction",
              f"true-pair tests at q < 0.05 in the A-and-B sequences the model reads as such "
              f"(output > 1/2: {r['ab_read']:.2f} of them; n={r['n_true_read']})")
        if "true_sym_q" in r:
            _line(f"{case}_{null}_true_sym_q", r["true_sym_q"], "fraction",
                  f"true pairs at q < 0.05 by their symmetric score (read: "
                  f"{r['true_read_sym_q']:.3g}; decoys {r['decoy_sym_q']:.3g})")
        _line(f"{case}_{null}_decoy_q", r["decoy_q"], "fraction",
              f"decoy-pair tests at q < 0.05 (n={r['n_decoy']}; must be <= 0.05)")
        _line(f"{case}_{null}_decoy_p", r["decoy_p"], "fraction",
              "decoy-pair tests at p < 0.05 (nominal 0.05)")


def _local(n_test: int, tmp: Path, tag: str = "", **options) -> None:
    """Pairs beyond the receptive field: never significant, whatever the null."""
    from dfimx.dfim import compute_dfim
    from dfimx.plans import plan_dataset
    from dfimx.sequences import from_onehot
    from dfimx.store import open_result, write_store

    model = simulate.save_model(clf.train_classifier(clf.classifier_simulation(1500), epochs=6,
                                                     kind="local"), tmp / "local.keras")
    test = clf.classifier_simulation(n_test, seed=2, id_prefix="loc")
    for null in ("context", "dinuc"):
        ds = plan_dataset(from_onehot(test.onehot, test.seq_ids, chunk_size=128),
                          elements=test.elements[["seq", "start", "end", "name"]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = open_result(write_store(compute_dfim(ds, model, null=null, **options),
                                          tmp / f"local_{null}.zarr", progress=False))
        gap = distance_between(out.mutation_start.values, out.mutation_end.values,
                               out.response_start.values, out.response_end.values)[..., None]
        q = out.interaction_q_value.values
        tested = ~np.isnan(out.interaction_score.values)
        far = tested & (gap >= clf.LOCAL_FIELD)
        near = tested & (gap < clf.LOCAL_FIELD - 10)
        _line(f"local{tag}_{null}_far_q", float((q[far] < 0.05).mean()), "fraction",
              f"pairs beyond the receptive field at q < 0.05 (n={int(far.sum())}; must be 0)")
        _line(f"local{tag}_{null}_near_q", float((q[near] < 0.05).mean()), "fraction",
              f"pairs well within the receptive field at q < 0.05 (n={int(near.sum())})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--method", default=None, help="attribution method of every case")
    args = ap.parse_args()
    opts = {"method": args.method} if args.method else {}
    tag = f"_{args.method}" if args.method else ""
    want = set(args.only or ["classifier", "classifier_gc", "demo", "local", "additive",
                             "cost"])
    tmp = Path(tempfile.mkdtemp(prefix="dfimx-bench-null-"))
    n = args.n_test
    if "cost" in want:
        k, m = 8, 3  # passes per sequence with M sources
        _line("null_cost_context", 1 + m + k * m, "passes/seq",
              f"attribution passes per sequence, K={k}, M={m} (original once, K x M decoys)")
        _line("null_cost_dinuc", (1 + m) * (1 + k), "passes/seq",
              f"attribution passes per sequence, K={k}, M={m} (K shuffled originals too)")
    if "classifier" in want:
        model = str(clf.cached_classifier())
        _rates(f"classifier{tag}", model, clf.classifier_simulation(n, seed=1, id_prefix="test"),
               **opts)
    if "classifier_gc" in want:
        model = str(clf.cached_classifier(gc=0.65))
        _rates(f"classifier_gc{tag}", model,
               clf.classifier_simulation(n, seed=1, gc=0.65, id_prefix="gc"), **opts)
    if "demo" in want:
        model = simulate.cached_demo_model(tmp / "demo.keras")
        _rates(f"demo{tag}", model,
               simulate.simulate_sequences(n, 200, seed=3, id_prefix="demo"), **opts)
    if "local" in want:
        _local(n, tmp, tag, **opts)
    if "additive" in want:
        sim = simulate.simulate_sequences(n, 200, seed=5, min_gap=14, id_prefix="add")
        _rates(f"additive{tag}", simulate.additive_model(200), sim, **opts)


if __name__ == "__main__":
    main()
