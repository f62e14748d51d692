"""``dfimx run``: DFIM of sequences with a model -> a Zarr store.

Examples
--------
$ dfimx run --model m.keras --fasta s.fa --elements el.tsv -o out.zarr
$ dfimx run --model m.keras --fasta s.fa --scan 40:60 -o scan.zarr
$ dfimx run --config run.yaml
"""

from __future__ import annotations

import argparse
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


def cmd_run(args: argparse.Namespace) -> int:
    """Run DFIM from parsed arguments; returns the exit status."""
    from dfimx.run import run_dfim  # the engine loads only for the command that needs it

    opts = merge_config(args)
    require_options(opts, "run", ("model", "fasta", "output"))
    if not any(opts.get(k) for k in ("elements", "mut_dict", "scan")):
        raise InputError("run: give exactly one of --elements, --mut-dict or --scan")
    settings = settings_from(opts)
    path = run_dfim(
        opts["model"], opts["fasta"], output=opts["output"],
        elements=opts.get("elements"), mut_dict=opts.get("mut_dict"), scan=opts.get("scan"),
        settings=settings, length=opts.get("length"), chunk_size=opts.get("chunk_size"),
        batch_size=opts.get("batch_size") or 256, tasks=opts.get("task"),
        output_layer=opts.get("output_layer") or "logit",
        safe_mode=not opts.get("unsafe_model"), custom_objects=opts.get("custom_objects"),
        workers=opts.get("workers", "auto"),
        scheduler=opts.get("scheduler"), resume=bool(opts.get("resume")),
        overwrite=bool(opts.get("overwrite")),
        progress=not opts.get("no_progress"), command=command_line(),
        config=config_attrs(opts),
    )
    print(f"wrote {path}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``run`` to the subparsers of the ``dfimx`` command."""
    p = sub.add_parser("run", help="DFIM of sequences with a model -> Zarr store")
    p.add_argument("--model", default=None, help=".keras, .h5 or SavedModel directory")
    p.add_argument("--fasta", default=None, help="FASTA (plain, bgzip or gzip)")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--elements", default=None, help="TSV/CSV: seq, start, end, name[, role]")
    plan.add_argument("--mut-dict", default=None, help="legacy DFIM mut_dict (JSON/YAML)")
    plan.add_argument("--scan", default=None, help="per-base map of window START:END")
    p.add_argument("--length", type=int, default=None,
                   help="centre-crop/pad sequences to this length")
    p.add_argument("-o", "--output", default=None, help="output Zarr store")
    common_options(p)
    p.set_defaults(func=cmd_run)
