"""``dfimx demo``: the embedded default run (simulate, train, DFIM, null, report).

Examples
--------
$ dfimx demo -o dfimx-demo
"""

from __future__ import annotations

import argparse
from typing import Any

from dfimx.cli.options import workers_value


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status."""
    from dfimx.demo import run_demo  # the engine loads only for this command

    run_demo(args.output, workers=args.workers, n=args.n, progress=not args.no_progress)
    return 0


def add_parser(sub: Any) -> None:
    """Add ``demo`` to the subparsers of the ``dfimx`` command."""
    p = sub.add_parser("demo", help="simulate, train, DFIM, null, report (embedded default)")
    p.add_argument("-o", "--output", default="dfimx-demo", help="output directory")
    p.add_argument("--workers", type=workers_value, default="auto",
                   help="local worker processes (0: in this process; default auto)")
    p.add_argument("-n", type=int, default=None, help="number of simulated sequences")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)
