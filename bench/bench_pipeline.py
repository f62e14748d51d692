"""``pipeline_vs_raw``: whole-pipeline throughput over bare batched attribution throughput.

The pipeline is :func:`dfimx.run.run_dfim` on a simulated FASTA + elements table with
``null="none"`` (mutants, attributions, predictions, deltas, scores, Zarr writes, on
the default threaded scheduler).  The raw rate is ``METHODS[method].kernel`` on a
pre-built array of the same inputs (the originals and every mutant), same model, method
and batch size, in one tight call.  Both count inputs per second; both run after a
warm-up that traces the TensorFlow functions.

``make bench`` runs it twice: on the ``medium`` bench model with the default method
(DeepLIFT, GC reference) as ``pipeline_vs_raw``, and on the ``small`` model with
gradient x input as ``pipeline_vs_raw_small_model`` — the worst case, where the model is
so cheap that per-input bookkeeping shows.

Usage: ``python -m bench.bench_pipeline [--n 2048] [--method deeplift] [--model-size medium]
[--profile]``
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from bench.common import Timer, bench_line, make_inputs


def raw_inputs(inputs, method: str, batch_size: int):
    """The originals and all their mutants, as the pipeline builds them, in one array."""
    import dfimx
    from dfimx.mutants import make_mutants
    from dfimx.settings import Settings

    ds = dfimx.plan_elements(dfimx.from_fasta(inputs.fasta), inputs.elements).compute()
    X = ds["seq_onehot"].values.astype(np.float32)
    mask = ds["mutation_mask"].values
    si, mi = np.nonzero(mask)
    s = Settings(method=method)
    mutants = make_mutants(
        X[si], ds["mutation_start"].values[si, mi], ds["mutation_end"].values[si, mi],
        ds["mutation_alt"].values[si, mi], mode=s.mutation, gc=s.gc, n_shuffles=s.n_shuffles,
        seq_ids=[str(ds["seq_id"].values[i]) for i in si], seed=s.seed,
    ).reshape((-1,) + X.shape[1:])
    return np.concatenate([X, mutants])


def raw_references(allx: np.ndarray, method: str) -> np.ndarray | None:
    """The references the pipeline gives ``method`` by default (None: the method's own)."""
    from dfimx.attribution import make_references
    from dfimx.settings import Settings

    s = Settings(method=method).validate()
    if s.reference not in ("zeros", "gc"):
        return None
    return make_references(allx, s.reference, gc=s.gc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048, help="sequences")
    ap.add_argument("--method", default="deeplift")
    ap.add_argument("--model-size", default="medium", choices=["small", "medium"])
    ap.add_argument("--name", default="pipeline_vs_raw", help="name on the BENCH line")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--chunk-size", type=int, default=None, help="default: automatic")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="cProfile the pipeline run")
    args = ap.parse_args()

    from dfimx.attribution import METHODS
    from dfimx.models import ModelSpec
    from dfimx.run import run_dfim

    tmp = tempfile.mkdtemp(prefix="dfimx-bench-")
    inputs = make_inputs(tmp, args.n, model_size=args.model_size)
    warm = make_inputs(tmp, 64, seed=1, model_size=args.model_size)
    scorer = ModelSpec.from_path(inputs.model).load()
    kernel = METHODS[args.method].kernel
    allx = raw_inputs(inputs, args.method, args.batch_size)

    def pipeline(out: str, what) -> None:
        run_dfim(inputs.model, what.fasta, elements=what.elements, output=out,
                 null="none", method=args.method, chunk_size=args.chunk_size,
                 batch_size=args.batch_size, progress=False)

    pipeline(f"{tmp}/warm.zarr", warm)
    refs = raw_references(allx, args.method)
    kernel(scorer, allx[: 2 * args.batch_size], batch_size=args.batch_size,
           references=None if refs is None else refs[: 2 * args.batch_size])
    raw_s, pipe_s = [], []
    for r in range(args.repeats):  # interleaved, so load on the machine hits both alike
        with Timer() as t:
            kernel(scorer, allx, batch_size=args.batch_size, references=refs)
        raw_s.append(t.seconds)
        with Timer() as t:
            pipeline(f"{tmp}/run{r}.zarr", inputs)
        pipe_s.append(t.seconds)
    if args.profile:
        import cProfile
        import pstats

        import dask

        prof = cProfile.Profile()
        with dask.config.set(scheduler="synchronous"):  # so that the profile sees the tasks
            prof.enable()
            pipeline(f"{tmp}/prof.zarr", inputs)
            prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    n_inputs = len(allx)
    raw_rate, pipe_rate = n_inputs / min(raw_s), n_inputs / min(pipe_s)
    print(f"# {n_inputs} inputs ({args.n} sequences + {n_inputs - args.n} mutants); raw "
          f"{raw_rate:.0f}/s ({min(raw_s):.2f} s), pipeline {pipe_rate:.0f}/s "
          f"({min(pipe_s):.2f} s)", flush=True)
    bench_line(
        args.name, pipe_rate / raw_rate, "x",
        f"run_dfim throughput (null=none, {args.method}, {args.model_size} model, "
        f"{args.n} seqs x L=200, "
        f"{n_inputs} inputs, mutants+attributions+predictions+scores+Zarr) / bare "
        f"METHODS['{args.method}'].kernel on the same {n_inputs} pre-built inputs",
    )


if __name__ == "__main__":
    main()
