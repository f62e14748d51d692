"""``dfim_vs_double_ism``: a per-base map of a 100-bp window by DFIM vs double-mutant ISM.

DFIM: :func:`dfimx.run.run_dfim` with ``scan`` of a 100-bp window, ``grad_x_input``,
``null="none"`` (1 + 3W attribution passes per sequence), timed whole.  Exhaustive
double-mutant ISM of the same window needs the original, the 3W single mutants and the
9·W(W−1)/2 double mutants (all pairs of substitutions at two different positions) —
44,851 forward passes per sequence for W = 100.  A sample of double mutants is built and
scored (same model, batch size) and the time per forward pass extrapolated; the line
says so.

Usage: ``python -m bench.bench_ism [--n 8] [--window 100] [--sample 8192]``
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from bench.common import Timer, bench_line, make_inputs


def double_mutants(x: np.ndarray, start: int, window: int, count: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``count`` random double mutants of one-hot ``x`` inside ``[start, start+window)``."""
    out = np.repeat(x[None].astype(np.float32), count, axis=0)
    ref = x.argmax(-1)
    for k in range(count):
        i, j = rng.choice(window, 2, replace=False) + start
        for pos in (i, j):
            alt = (ref[pos] + rng.integers(1, 4)) % 4
            out[k, pos] = 0.0
            out[k, pos, alt] = 1.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="sequences")
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--sample", type=int, default=8192, help="double mutants timed")
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()

    import dfimx
    from dfimx.attribution import predict_batched
    from dfimx.models import ModelSpec
    from dfimx.run import run_dfim

    tmp = tempfile.mkdtemp(prefix="dfimx-bench-")
    inputs = make_inputs(tmp, args.n)
    warm = make_inputs(tmp, 2, seed=1)
    start = (200 - args.window) // 2
    scan = f"{start}:{start + args.window}"

    def dfim(what, out):
        run_dfim(inputs.model, what.fasta, scan=scan, output=out, null="none",
                 method="grad_x_input", chunk_size=1, batch_size=args.batch_size,
                 progress=False)

    dfim(warm, f"{tmp}/warm.zarr")
    with Timer() as t_dfim:
        dfim(inputs, f"{tmp}/scan.zarr")
    scorer = ModelSpec.from_path(inputs.model).load()
    x = dfimx.from_fasta(inputs.fasta)["seq_onehot"].values[0]
    sample = double_mutants(x, start, args.window, args.sample, np.random.default_rng(0))
    predict_batched(scorer, sample[: args.batch_size], batch_size=args.batch_size)
    with Timer() as t_ism:
        predict_batched(scorer, sample, batch_size=args.batch_size)
    w = args.window
    passes = 1 + 3 * w + 9 * w * (w - 1) // 2
    ism_seconds = t_ism.seconds / args.sample * passes * args.n
    print(f"# DFIM {t_dfim.seconds:.2f} s for {args.n} seqs ({1 + 3 * w} attribution passes "
          f"each); double ISM {passes} forward passes/seq: {args.sample} timed in "
          f"{t_ism.seconds:.2f} s -> {ism_seconds:.1f} s extrapolated", flush=True)
    bench_line(
        "dfim_vs_double_ism", ism_seconds / t_dfim.seconds, "x",
        f"time of exhaustive double-mutant ISM ({passes} forward passes/seq, EXTRAPOLATED "
        f"from {args.sample} timed) / measured DFIM per-base scan (run_dfim --scan, "
        f"grad_x_input, null=none) of a {w}-bp window, {args.n} seqs L=200",
    )


if __name__ == "__main__":
    main()
