"""``dfimx export``: the tidy interaction table (and pair summary) of a store.

Examples
--------
$ dfimx export out.zarr -o interactions.tsv
$ dfimx export out.zarr -o interactions.parquet
$ dfimx export out.zarr --modisco modisco/run --task AandB
"""

from __future__ import annotations

import argparse
from typing import Any

from dfimx.errors import InputError


def cmd_export(args: argparse.Namespace) -> int:
    """Write the table and the pair summary (and the modisco-lite files); returns the exit
    status."""
    from dfimx.tables import export_table, write_pair_summary  # loads only for this command

    if not args.output and not args.modisco:
        raise InputError("export: give -o TABLE, --modisco PREFIX or both")
    if args.modisco:
        from dfimx.modisco import export_modisco  # only for this option

        files = export_modisco(args.store, args.modisco, task=args.task)
        print(f"wrote {files.sequences} and {files.attributions} (task {files.task}); "
              f"run: {files.command}")
    if args.output:
        rows = export_table(args.store, args.output)
        print(f"wrote {rows} rows to {args.output}")
        summary = write_pair_summary(args.store, args.output)
        if summary is not None:
            print(f"wrote the pair summary to {summary}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``export`` to the subparsers of the ``dfimx`` command."""
    p = sub.add_parser(
        "export", help="tidy interaction table from a store",
        description="One row per (source, target, task): seq_id, source_*, target_*, task, "
        "score, p_value, q_value, prediction, mutant_prediction; and a summary per pair of "
        "names beside it (<output stem>.pair_summary.<suffix>).",
        epilog="examples:\n  dfimx export out.zarr -o interactions.tsv\n"
        "  dfimx export out.zarr -o interactions.parquet\n"
        "  dfimx export out.zarr --modisco modisco/run --task AandB\n"
        "      modisco/run.ohe.npz and modisco/run.attr.npz for `modisco motifs -s ... -a ...`"
        "\n      (the run must have stored seq_importance: --keep-importance)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", help="a finished dfimx store")
    p.add_argument("-o", "--output", default=None,
                   help="table file: .tsv or .txt (tab-separated), .csv or .parquet")
    p.add_argument("--modisco", default=None, metavar="PREFIX",
                   help="also write PREFIX.ohe.npz and PREFIX.attr.npz: sequences and "
                   "attributions in modisco-lite's (N, 4, L) layout")
    p.add_argument("--task", default=None, metavar="NAME|INDEX",
                   help="task of the --modisco attributions (needed with several tasks)")
    p.set_defaults(func=cmd_export)
