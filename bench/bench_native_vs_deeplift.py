"""Native DeepLIFT Rescale vs the deeplift package on the same model and inputs.

Prints ``BENCH native_vs_deeplift <ratio> x <what>``: the package's scoring time divided
by the native scoring time, both warm (after conversion or tracing and one untimed batch)
and the best of ``--repeats`` runs each; the package's process start-up, conversion and
warm-up are reported separately.  Also checks that both agree.

Usage: ``python bench/bench_native_vs_deeplift.py [--n 2048] [--length 200] [--batch 128]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def build_model(length: int, seed: int = 0):
    import keras

    K = keras.layers
    model = keras.Sequential([
        keras.Input((length, 4)),
        K.Conv1D(32, 15, activation="relu", padding="same"),
        K.MaxPooling1D(4),
        K.Conv1D(32, 7, activation="relu"),
        K.MaxPooling1D(4),
        K.Flatten(),
        K.Dense(32, activation="relu"),
        K.Dense(2, activation="sigmoid"),
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
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from dfimx.attribution import deeplift_scores, make_references
    from dfimx.deeplift_backend import PackageJob, run_package_jobs
    from dfimx.models import build_scorer

    model = build_model(args.length)
    scorer = build_scorer(model)
    rng = np.random.default_rng(1)
    X = np.eye(4, dtype="float32")[rng.integers(0, 4, (args.n, args.length))]
    refs = make_references(X, "gc")[:, 0]

    deeplift_scores(scorer, X[: args.batch], refs[: args.batch], batch_size=args.batch)  # trace
    native_times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        native = deeplift_scores(scorer, X, refs, batch_size=args.batch)
        native_times.append(time.perf_counter() - t0)
    native_s = min(native_times)

    # the same job several times in one package process: the best scoring time counts
    jobs = [PackageJob(model, X, refs, mode="rescale", tasks=(0, 1), batch_size=args.batch)
            for _ in range(args.repeats)]
    pkg = run_package_jobs(jobs)[0]
    job = min(jobs, key=lambda j: j.timings["score_s"])
    pkg_s = job.timings["score_s"]
    err = float(np.abs(native - pkg).max() / np.abs(pkg).max())
    print(
        f"native {native_s:.3f}s; package scoring {pkg_s:.3f}s, conversion and warm-up "
        f"{job.timings['convert_s']:.3f}s, whole process {job.timings['process_s']:.3f}s; "
        f"max relative difference {err:.2e}"
    )
    print(
        f"BENCH native_vs_deeplift {pkg_s / native_s:.2f} x DeepLIFT Rescale, "
        f"{args.n} seqs x {args.length} bp, 2 tasks, GC reference, batch {args.batch}, "
        f"both warm, best of {args.repeats}; package scoring time excluding "
        "start-up/conversion/warm-up"
    )
    print(
        f"BENCH native_vs_deeplift_with_startup {job.timings['process_s'] / native_s:.2f} x "
        "same, package including process start-up and conversion"
    )


if __name__ == "__main__":
    main()
