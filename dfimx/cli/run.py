"""``dfimx run``: DFIM of sequences with a model -> a Zarr store.

Examples
--------
$ dfimx run --model m.keras --fasta s.fa --elements el.tsv -o out.zarr
$ dfimx run --model m.keras --fasta s.fa --scan 40:60 -o scan.zarr
$ dfimx run --model m.keras --bed peaks.bed --genome hg38.fa --motifs jaspar.meme -o peaks.zarr
$ dfimx run --config run.yaml
"""

from __future__ import annotations

import argparse
import textwrap
import time
from typing import Any

from dfimx.cli.options import (
    command_line,
    common_options,
    config_attrs,
    merge_config,
    require_options,
    settings_from,
)
from dfimx.errors import InputError
from dfimx.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_MOTIF_ELEMENTS,
    DEFAULT_P_VALUE_THRESHOLD,
)

EPILOG = """examples:
  dfimx run --model m.keras --fasta seqs.fa --elements elements.tsv -o out.zarr
      elements.tsv: seq, start (0-based), end (exclusive), name[, role]
  dfimx run --model m.keras --fasta seqs.fa --scan 40:60 -o scan.zarr
      per-base map: every base of 40-60 mutated to each other base
  dfimx run --model m.keras --bed peaks.bed --genome hg38.fa --motifs jaspar.meme -o peaks.zarr
      one window of the model's length per BED interval; motif hits are the elements
  dfimx run --config run.yaml --workers 4
then:
  dfimx export out.zarr -o interactions.tsv
  dfimx report out.zarr -o report.html
"""


def cmd_run(args: argparse.Namespace) -> int:
    """Run DFIM from parsed arguments; returns the exit status."""
    from dfimx.cli.summary import run_summary  # reads the store: loads with the engine
    from dfimx.run import run_dfim  # the engine loads only for the command that needs it

    t0 = time.perf_counter()
    opts = merge_config(args)
    require_options(opts, "run", ("model", "output"))
    if opts.get("bed") or opts.get("genome"):
        if opts.get("fasta"):
            raise InputError("run: give --fasta, or --bed with --genome, not both")
        require_options(opts, "run", ("bed", "genome"))
    else:
        require_options(opts, "run", ("fasta",))
    plans = [k for k in ("elements", "mut_dict", "scan", "motifs") if opts.get(k)]
    if len(plans) != 1:
        raise InputError("run: give exactly one of --elements, --mut-dict, --scan or --motifs")
    settings = settings_from(opts)
    path = run_dfim(
        opts["model"], opts.get("fasta"), output=opts["output"],
        elements=opts.get("elements"), mut_dict=opts.get("mut_dict"), scan=opts.get("scan"),
        motifs=opts.get("motifs"), bed=opts.get("bed"), genome=opts.get("genome"),
        p_value_threshold=_given(opts, "p_value_threshold", DEFAULT_P_VALUE_THRESHOLD),
        max_motif_elements=_given(opts, "max_motif_elements", DEFAULT_MAX_MOTIF_ELEMENTS),
        settings=settings, length=opts.get("length"), chunk_size=opts.get("chunk_size"),
        batch_size=opts.get("batch_size") or DEFAULT_BATCH_SIZE, tasks=opts.get("task"),
        output_layer=opts.get("output_layer") or "logit",
        safe_mode=not opts.get("unsafe_model"), custom_objects=opts.get("custom_objects"),
        workers=opts.get("workers", "auto"),
        scheduler=opts.get("scheduler"), resume=bool(opts.get("resume")),
        overwrite=bool(opts.get("overwrite")),
        progress=not opts.get("no_progress"), command=command_line(),
        config=config_attrs(opts),
    )
    print("\n".join(run_summary(path, elapsed=time.perf_counter() - t0)))
    return 0


def _given(opts: dict[str, Any], name: str, default: Any) -> Any:
    """``opts[name]``, or ``default`` when it is not given (0 is a value, not "unset")."""
    return default if opts.get(name) is None else opts[name]


def add_parser(sub: Any) -> None:
    """Add ``run`` to the subparsers of the ``dfimx`` command."""
    p = sub.add_parser(
        "run", help="DFIM of sequences with a model -> Zarr store",
        description=textwrap.fill(
            "Mutate each source of each sequence, attribute the model's output on "
            "the original and every mutant, and score how much each mutation changes the "
        "importance of each target (the feature interaction score), with p- and q-values "
        "from shuffled sequences."),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help=".keras, .h5 or SavedModel directory")
    seqs = p.add_argument_group("sequences (--fasta, or --bed with --genome)")
    seqs.add_argument("--fasta", default=None, help="FASTA (plain, bgzip or gzip)")
    seqs.add_argument("--bed", default=None,
                      help="BED intervals: one genome window per interval, centred on it "
                      "(seq_id chrom:start-end)")
    seqs.add_argument("--genome", default=None,
                      help="genome FASTA of --bed (a .fai index is built if missing)")
    seqs.add_argument("--length", type=int, default=None,
                      help="centre-crop/pad sequences to this length (--bed: the window "
                      "length; default the model's input length)")
    plan = p.add_argument_group("plan (exactly one)")
    plan.add_argument("--elements", default=None,
                      help="TSV/CSV: seq, start, end, name[, role source|target|both]")
    plan.add_argument("--mut-dict", default=None, help="legacy DFIM mut_dict (JSON/YAML)")
    plan.add_argument("--scan", default=None, metavar="START:END",
                      help="per-base map of a window (0-based, end exclusive)")
    plan.add_argument("--motifs", default=None, metavar="MEME",
                      help="MEME file: the motif hits in each sequence are the elements")
    plan.add_argument("--p-value-threshold", type=float, default=None, metavar="P",
                      help=f"--motifs hit threshold (exact p-value, default "
                      f"{DEFAULT_P_VALUE_THRESHOLD:g})")
    plan.add_argument("--max-motif-elements", type=int, default=None, metavar="N",
                      help=f"--motifs hits kept per sequence, most significant first "
                      f"(default {DEFAULT_MAX_MOTIF_ELEMENTS})")
    p.add_argument("-o", "--output", default=None, help="output Zarr store")
    common_options(p)
    p.set_defaults(func=cmd_run)
