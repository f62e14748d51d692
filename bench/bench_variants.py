"""Benchmark of ``dfimx scan-variants``: bounded memory at 10^5 variants, and throughput.

Inputs are written to a temporary folder: a random genome (2 contigs), VCFs of 10^4 and
10^5 SNVs (REF from the genome), a small random CNN on windows of 100 bases, and, for the
plain-sequence pipeline, the same 10^4 windows as a FASTA with an elements table that makes
the centre base the source (one mutant per window, as in the scan).

Every case runs as its own ``python -m dfimx`` process; the parent samples the resident
memory of that process and its children (the whole process tree) every 50 ms and reads its
CPU time from ``getrusage``. The memory cases use ``--null none`` (the null multiplies the
compute, not the memory held at once); the throughput lines compare the scan with
``dfimx run`` on the same windows, both with ``--null none``, per CPU-second.

Usage::

    python bench/bench_variants.py                  # 10^4 and 10^5 variants (~2-3 min, 2 cores)
    python bench/bench_variants.py --large 30000    # a smaller "large" case

Lines start with ``BENCH``: name, value, unit, what was compared.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dfimx.io.fasta import write_fasta

WINDOW = 100
CONTIG = 6_000_000
LETTERS = np.frombuffer(b"ACGT", np.uint8)


def bench_line(name: str, value: float, unit: str, what: str) -> str:
    """Print and return one ``BENCH`` line.

    Examples
    --------
    >>> bench_line("x", 1.2345, "s", "x alone")
    BENCH x 1.23 s x alone
    'BENCH x 1.23 s x alone'
    """
    line = f"BENCH {name} {value:.3g} {unit} {what}"
    print(line, flush=True)
    return line


def write_inputs(folder: Path, sizes: list[int], seed: int = 0) -> dict[str, str]:
    """Genome, one VCF per size (first ``n`` of the same sorted SNVs), FASTA, model."""
    from dfimx.simulate import random_cnn, save_model

    rng = np.random.default_rng(seed)
    contigs = {f"chr{i + 1}": rng.integers(0, 4, CONTIG).astype(np.uint8) for i in range(2)}
    genome = write_fasta(folder / "genome.fa", contigs)
    n_max = max(sizes)
    per = n_max // 2 + 1
    rows = []
    for name, codes in contigs.items():
        pos = np.sort(rng.choice(np.arange(WINDOW, CONTIG - WINDOW), per, replace=False)) + 1
        ref = codes[pos - 1]
        alt = (ref + rng.integers(1, 4, per)) % 4
        rows.append((name, pos, ref, alt))
    # interleave the contigs' SNVs so that every prefix has variants of both
    order = []
    for k in range(per):
        for c in range(2):
            order.append((c, k))
    header = "##fileformat=VCFv4.2\n" + "".join(
        f"##contig=<ID={name},length={CONTIG}>\n" for name in contigs
    ) + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    paths: dict[str, str] = {"genome": str(genome)}
    for n in sizes:
        chosen = sorted(order[:n])
        lines = []
        for c, k in chosen:
            name, pos, ref, alt = rows[c]
            lines.append(f"{name}\t{pos[k]}\tv{c}_{k}\t{chr(LETTERS[ref[k]])}\t"
                         f"{chr(LETTERS[alt[k]])}\t.\t.\t.\n")
        vcf = folder / f"v{n}.vcf"
        vcf.write_text(header + "".join(lines))
        paths[f"vcf{n}"] = str(vcf)
    for n_plain in sorted(sizes)[:2]:
        fasta, elements = _plain_inputs(folder, contigs, rows, order[:n_plain])
        paths[f"fasta{n_plain}"] = str(fasta)
        paths[f"elements{n_plain}"] = str(elements)
    model = save_model(random_cnn(WINDOW, seed=1), folder / "model.keras")
    paths["model"] = str(model)
    return paths


def _plain_inputs(folder: Path, contigs: dict, rows: list, chosen: list) -> tuple[Path, Path]:
    """The windows of ``chosen`` SNVs as a FASTA, and elements (centre base = source)."""
    elements = folder / f"elements{len(chosen)}.tsv"
    center = WINDOW // 2
    records = {}
    with open(elements, "w") as el:
        el.write("seq\tstart\tend\tname\trole\n")
        for c, k in sorted(chosen):
            name, pos, _, _ = rows[c]
            start = int(pos[k]) - 1 - center
            sid = f"v{c}_{k}"
            records[sid] = contigs[name][start : start + WINDOW]
            el.write(f"{sid}\t{center}\t{center + 1}\tvariant\tsource\n")
            el.write(f"{sid}\t{center + 10}\t{center + 20}\ttarget\ttarget\n")
    fasta = write_fasta(folder / f"windows{len(chosen)}.fa", records, line_width=None)
    return fasta, elements


def run_measured(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``; wall time, CPU time and peak RSS of its process tree."""
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            procs = [root] + root.children(recursive=True)
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = max(peak, after.ru_maxrss * 1024)
    return {"wall": wall, "cpu": cpu, "rss": peak / 2**20}


def main(argv: list[str] | None = None) -> None:
    """Run the cases and print the BENCH lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", type=int, default=200,
                        help="variants of the run that measures process startup")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=1000)
    args = parser.parse_args(argv)
    common = ["--null", "none", "--no-progress", "--chunk-size", str(args.chunk_size),
              "--batch-size", "1000"]
    dfimx = [sys.executable, "-m", "dfimx"]
    with tempfile.TemporaryDirectory(prefix="dfimx-bench-variants-") as tmp:
        folder = Path(tmp)
        sizes = [args.tiny, args.small, args.large]
        paths = write_inputs(folder, sizes)
        res, plain = {}, {}
        for n in sizes:
            res[n] = run_measured(dfimx + [
                "scan-variants", "--model", paths["model"], "--genome", paths["genome"],
                "--vcf", paths[f"vcf{n}"], "--window", str(WINDOW),
                "-o", str(folder / f"scan{n}.zarr")] + common)
        for n in (args.tiny, args.small):
            plain[n] = run_measured(dfimx + [
                "run", "--model", paths["model"], "--fasta", paths[f"fasta{n}"], "--elements",
                paths[f"elements{n}"], "-o", str(folder / f"plain{n}.zarr")] + common)
    small, large = res[args.small], res[args.large]
    bench_line(f"scan_variants_peak_rss_{args.large}", large["rss"], "MiB",
               f"peak RSS of the process tree, {args.large} variants, window {WINDOW}, "
               "--null none")
    bench_line(f"scan_variants_peak_rss_{args.small}", small["rss"], "MiB",
               f"the same with {args.small} variants")
    bench_line("scan_variants_rss_ratio_large_vs_small", large["rss"] / small["rss"], "x",
               f"peak RSS {args.large} over {args.small} variants "
               f"({args.large / args.small:.0f}x the variants)")
    base = res[args.tiny]
    for n in (args.small, args.large):
        r = res[n]
        bench_line(f"scan_variants_throughput_{n}", (n - args.tiny) / (r["cpu"] - base["cpu"]),
                   "variants/cpu-s",
                   f"scan-variants, {n} variants in {r['wall']:.1f} s wall, {r['cpu']:.1f} s "
                   f"CPU; startup (a {args.tiny}-variant run, {base['cpu']:.1f} s CPU) "
                   "subtracted")
    p_small, p_base = plain[args.small], plain[args.tiny]
    scan_rate = (args.small - args.tiny) / (small["cpu"] - base["cpu"])
    plain_rate = (args.small - args.tiny) / (p_small["cpu"] - p_base["cpu"])
    bench_line(f"run_dfim_throughput_{args.small}", plain_rate, "windows/cpu-s",
               f"dfimx run on the same {args.small} windows as FASTA + elements, "
               f"{p_small['wall']:.1f} s wall, {p_small['cpu']:.1f} s CPU; startup "
               f"({p_base['cpu']:.1f} s CPU) subtracted")
    bench_line("scan_variants_vs_run_dfim_throughput", scan_rate / plain_rate, "x",
               f"scan-variants over dfimx run, windows per CPU-second, {args.small} windows "
               "each (>1: the scan is faster)")


if __name__ == "__main__":
    main()
