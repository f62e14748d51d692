"""``workers_2v1``: throughput of a ``LocalCluster`` with 2 workers vs 1 on the same job.

Each cluster is started, the model preloaded on its workers and a small warm-up run
made (tracing), then the timed run: :func:`dfimx.store.write_store` of the same lazy
result (``null="none"``).  Cluster start-up is not timed.

Usage: ``python -m bench.bench_workers [--n 1024]``
"""

from __future__ import annotations

import argparse
import tempfile

from bench.common import Timer, bench_line, make_inputs


def timed_run(inputs, warm, workers: int, out: str, chunk_size: int) -> float:
    import dfimx
    from dfimx.cluster import start_client
    from dfimx.models import ModelSpec
    from dfimx.store import write_store

    def result(what):
        ds = dfimx.plan_elements(dfimx.from_fasta(what.fasta, chunk_size=chunk_size),
                                 what.elements)
        return dfimx.compute_dfim(ds, inputs.model, null="none")

    with start_client(workers=workers, spec=ModelSpec.from_path(inputs.model)):
        write_store(result(warm), f"{out}-warm.zarr", progress=False)
        job = result(inputs)
        with Timer() as t:
            write_store(job, f"{out}.zarr", progress=False)
    return t.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--chunk-size", type=int, default=64)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="dfimx-bench-")
    inputs = make_inputs(tmp, args.n)
    warm = make_inputs(tmp, 4 * args.chunk_size, seed=1)
    one = timed_run(inputs, warm, 1, f"{tmp}/w1", args.chunk_size)
    two = timed_run(inputs, warm, 2, f"{tmp}/w2", args.chunk_size)
    print(f"# 1 worker {one:.2f} s, 2 workers {two:.2f} s ({args.n} sequences)", flush=True)
    bench_line(
        "workers_2v1", one / two, "x",
        f"throughput with a 2-worker vs a 1-worker LocalCluster ({args.n} seqs, null=none, "
        "grad_x_input; TF threads = cores/workers; start-up and tracing not timed)",
    )


if __name__ == "__main__":
    main()
