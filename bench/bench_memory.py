"""``memory_10x``: peak RSS of a ``dfimx run`` process tree for 10x the sequences vs 1x.

Each run is a fresh ``python -m dfimx run`` subprocess (dinucleotide null with 2 draws,
so the statistics pass is included); a thread samples the resident memory of the
process and all its children with psutil every 50 ms.

Usage: ``python -m bench.bench_memory [--n 300] [--factor 10]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from bench.common import Timer, TreeMemorySampler, bench_line, make_inputs


def peak_rss(inputs, out: str, extra: list[str]) -> tuple[float, float]:
    """(peak bytes of the process tree, seconds) of one ``dfimx run``."""
    cmd = [sys.executable, "-m", "dfimx", "run", "--model", inputs.model, "--fasta",
           inputs.fasta, "--elements", inputs.elements, "-o", out, "--no-progress", *extra]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with Timer() as t:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with TreeMemorySampler(proc.pid) as sampler:
            _, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"dfimx run failed: {err.decode()[-2000:]}")
    return sampler.peak_bytes, t.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="sequences of the 1x run")
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--chunk-size", type=int, default=64)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="dfimx-bench-")
    extra = ["--null", "dinuc", "--null-draws", "2", "--chunk-size", str(args.chunk_size)]
    small = make_inputs(tmp, args.n)
    large = make_inputs(tmp, args.n * args.factor, seed=3)
    p1, s1 = peak_rss(small, f"{tmp}/small.zarr", extra)
    p10, s10 = peak_rss(large, f"{tmp}/large.zarr", extra)
    print(f"# peak RSS {p1 / 2**20:.0f} MiB ({args.n} seqs, {s1:.1f} s) vs "
          f"{p10 / 2**20:.0f} MiB ({args.n * args.factor} seqs, {s10:.1f} s)", flush=True)
    bench_line(
        f"memory_{args.factor}x", p10 / p1, "x",
        f"peak RSS of the 'dfimx run' process tree (psutil, 50 ms) for {args.n * args.factor} "
        f"vs {args.n} sequences (L=200, dinuc null 2 draws, chunk {args.chunk_size})",
    )


if __name__ == "__main__":
    main()
