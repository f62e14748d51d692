"""``dfimx export``: the tidy interaction table (and pair summary) of a store.

Examples
--------
$ dfimx export out.zarr -o interactions.tsv
$ dfimx export out.zarr -o interactions.parquet
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_export(args: argparse.Namespace) -> int:
    """Write the table and the pair summary; returns the exit status."""
    from dfimx.tables import export_table, write_pair_summary  # loads only for this command

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
        "  dfimx export out.zarr -o interactions.parquet\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", help="a finished dfimx store")
    p.add_argument("-o", "--output", required=True,
                   help="table file: .tsv or .txt (tab-separated), .csv or .parquet")
    p.set_defaults(func=cmd_export)
