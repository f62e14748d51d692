"""Run every dfimx benchmark (``python -m bench`` / ``make bench``), each in a subprocess.

Each prints ``BENCH <name> <value> <unit> <what was compared>`` lines; this runner
passes their output through and repeats the ``BENCH`` lines at the end.

Usage: ``python -m bench [--only NAME ...] [--timeout SECONDS]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# (name, command after the python executable)
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("pipeline", ["-m", "bench.bench_pipeline", "--n", "8192"]),
    ("pipeline_small_model", ["-m", "bench.bench_pipeline", "--n", "8192", "--model-size",
                              "small", "--method", "grad_x_input", "--name",
                              "pipeline_vs_raw_small_model"]),
    ("memory", ["-m", "bench.bench_memory"]),
    ("workers", ["-m", "bench.bench_workers"]),
    ("ism", ["-m", "bench.bench_ism"]),
    ("native_vs_deeplift", [str(HERE / "bench_native_vs_deeplift.py")]),
    ("native_vs_deeplift_1_task", [str(HERE / "bench_native_vs_deeplift.py"), "--tasks", "1",
                                   "--name", "native_vs_deeplift_1_task"]),
    ("stats", [str(HERE / "bench_stats.py"), "--n", "1e7", "--chunk", "1e6"]),
    ("variants", [str(HERE / "bench_variants.py")]),
    ("null_calibration", [str(HERE / "bench_null_calibration.py")]),
    ("tasks", ["-m", "bench.bench_tasks"]),
    ("peers", ["-m", "bench.bench_peers"]),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help=f"names among {[n for n, _ in BENCHMARKS]}")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per benchmark")
    args = ap.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                        os.environ.get("PYTHONPATH")])))
    lines: list[str] = []
    failed = []
    for name, cmd in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        if not Path(cmd[0]).exists() and cmd[0] != "-m":
            print(f"# {name}: {cmd[0]} not found, skipped", flush=True)
            continue
        print(f"# --- {name}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, text=True,
                                  capture_output=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"# {name}: timed out after {args.timeout:.0f} s", flush=True)
            failed.append(name)
            continue
        for line in proc.stdout.splitlines():
            print(line, flush=True)
            if line.startswith("BENCH "):
                lines.append(line)
        if proc.returncode:
            failed.append(name)
            print(f"# {name}: exit status {proc.returncode}\n{proc.stderr[-3000:]}", flush=True)
        print(f"# {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print("# --- summary")
    for line in lines:
        print(line)
    if failed:
        print(f"# failed: {' '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
