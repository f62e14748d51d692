"""``dfimx demo``: the embedded default run (simulate, train, DFIM, null, report).

Examples
--------
$ dfimx demo -o dfimx-demo
"""

from __future__ import annotations

import argparse
from typing import Any

from dfimx.cli.options import workers_value
from dfimx.settings import DEMO_N, DEMO_WORKERS


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status."""
    from dfimx.demo import run_demo  # the engine loads only for this command

    run_demo(args.output, workers=args.workers, n=args.n, progress=not args.no_progress)
    return 0


def add_parser(sub: Any) -> None:
    """Add ``demo`` to the subparsers of the ``dfimx`` command."""
    p = sub.add_parser(
        "demo", help="simulate, train, DFIM, null, report (embedded default)",
        epilog="examples:\n  dfimx demo -o dfimx-demo\n  dfimx demo -n 60 --workers 0\n"
        "then open dfimx-demo/report.html\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", default="dfimx-demo",
                   help="output directory (default dfimx-demo)")
    p.add_argument("--workers", type=workers_value, default=DEMO_WORKERS, metavar="N|auto",
                   help=f"local worker processes (default {DEMO_WORKERS}: in this process "
                   "unless the run is large; 0: this process)")
    p.add_argument("-n", type=int, default=None,
                   help=f"number of simulated sequences (default {DEMO_N})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
