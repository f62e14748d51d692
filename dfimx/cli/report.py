"""``dfimx report``: a self-contained HTML report of a store.

Examples
--------
$ dfimx report out.zarr -o report.html
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report; returns the exit status."""
    from dfimx.report import write_report  # plotting loads only for this command

    write_report(args.store, args.output, top=args.top)
    print(f"wrote {args.output}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``report`` to the subparsers of the ``dfimx`` command."""
    p = sub.add_parser(
        "report", help="self-contained HTML report of a store",
        epilog="examples:\n  dfimx report out.zarr -o report.html\n"
        "  dfimx report scan.zarr -o scan.html --top 50\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", help="a finished dfimx store (dfimx run, scan-variants, demo)")
    p.add_argument("-o", "--output", required=True, help="HTML file (plots included, works "
                   "offline)")
    p.add_argument("--top", type=int, default=20, metavar="N",
                   help="top interactions to detail (default 20)")
    p.set_defaults(func=cmd_report)
