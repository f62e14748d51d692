"""Native DeepLIFT Rescale vs the deeplift package on the same model and inputs.

Prints ``BENCH native_vs_deeplift <ratio> x <what>``: the package's scoring time divided
by the native scoring time, each side at the batch size it runs fastest at (from
``--batches``), both warm (after conversion or tracing and one untimed pass), the best of
``--repeats`` runs each.  The per-batch-size times and ratios are printed too, and the
package's process start-up, conversion and warm-up are reported separately.  Also checks
that both agree.

Usage: ``python bench/bench_native_vs_deeplift.py [--n 2048] [--length 200]
[--batches 128,256,512,1024] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def build_model(length: int, seed: int = 0, filters: int = 32, tasks: int = 2):
    import keras

    K = keras.layers
    model = keras.Sequential([
        keras.Input((length, 4)),
        K.Conv1D(filters, 15, activation="relu", padding="same"),
        K.MaxPooling1D(4),
        K.Conv1D(filters, 7, activation="relu"),
        K.MaxPooling1D(4),
        K.Flatten(),
        K.Dense(32, activation="relu"),
        K.Dense(tasks, activation="sigmoid"),
    ])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.normal(0, 0.2, w.shape).astype("float32") for w in ws])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--batches", default="128,256,512,1024",
                        help="batch sizes tried on each side (comma-separated)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--filters", type=int, default=32, help="filters per convolution")
    parser.add_argument("--tasks", type=int, default=2, help="scored outputs")
    parser.add_argument("--name", default="native_vs_deeplift", help="name on the BENCH lines")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    from dfimx.attribution import deeplift_scores, make_references
    from dfimx.attribution.package import PackageJob, run_package_jobs
    from dfimx.models import build_scorer

    model = build_model(args.length, filters=args.filters, tasks=args.tasks)
    scorer = build_scorer(model)
    rng = np.random.default_rng(1)
    X = np.eye(4, dtype="float32")[rng.integers(0, 4, (args.n, args.length))]
    refs = make_references(X, "gc")[:, 0]

    # repeats go round the batch sizes, so that a slow spell of the machine does not land
    # on one batch size only
    native_s = {batch: float("inf") for batch in batches}
    for batch in batches:
        native = deeplift_scores(scorer, X, refs, batch_size=batch, maxpool="gradient")  # warm
    for _ in range(args.repeats):
        for batch in batches:
            t0 = time.perf_counter()
            native = deeplift_scores(scorer, X, refs, batch_size=batch, maxpool="gradient")
            native_s[batch] = min(native_s[batch], time.perf_counter() - t0)

    # the same in one package process: the best scoring time of each batch size counts
    jobs = {batch: [] for batch in batches}
    order = []
    for _ in range(args.repeats):
        for batch in batches:
            job = PackageJob(model, X, refs, mode="rescale", tasks=tuple(range(args.tasks)),
                             batch_size=batch)
            jobs[batch].append(job)
            order.append(job)
    outputs = run_package_jobs(order)
    package_s = {batch: min(j.timings["score_s"] for j in group) for batch, group in jobs.items()}
    best_native = min(native_s, key=native_s.get)
    best_package = min(package_s, key=package_s.get)
    fastest = min(jobs[best_package], key=lambda j: j.timings["score_s"])
    # one package run from scratch: process start-up (the process time not spent in any
    # job), conversion and warm-up, and scoring
    startup_s = order[0].timings["process_s"] - sum(
        j.timings["convert_s"] + j.timings["score_s"] for j in order)
    one_shot_s = startup_s + fastest.timings["convert_s"] + fastest.timings["score_s"]
    err = float(np.abs(native - outputs[0]).max() / np.abs(outputs[0]).max())
    for batch in batches:
        print(f"batch {batch}: native {native_s[batch]:.3f}s, package {package_s[batch]:.3f}s, "
              f"ratio {package_s[batch] / native_s[batch]:.2f}")
    print(f"package start-up {startup_s:.2f}s, conversion and warm-up "
          f"{fastest.timings['convert_s']:.2f}s; max relative difference {err:.2e}")
    print(
        f"BENCH {args.name} {package_s[best_package] / native_s[best_native]:.2f} x "
        f"DeepLIFT Rescale, {args.n} seqs x {args.length} bp, {args.tasks} tasks, "
        f"{args.filters} filters, GC reference, each "
        f"at its fastest batch size (native {best_native}, package {best_package}), both "
        f"warm, best of {args.repeats}; package scoring time excluding "
        "start-up/conversion/warm-up"
    )
    print(
        f"BENCH {args.name}_same_batch "
        f"{min(package_s[b] / native_s[b] for b in batches):.2f} x same, both at the same "
        f"batch size, the least favourable of {batches}"
    )
    print(
        f"BENCH {args.name}_with_startup {one_shot_s / native_s[best_native]:.2f} x "
        "same, package including process start-up, conversion and warm-up"
    )

if __name__ == "__main__":
    main()
