"""The ``dfimx`` command line (README, "Command line"): one module per subcommand.

Errors in the input print one line naming the file, record and problem (settings named
by their flags), and exit with status 2.

Examples
--------
$ dfimx run --model m.keras --fasta s.fa --elements el.tsv -o out.zarr
$ dfimx export out.zarr -o interactions.tsv
$ dfimx check out.zarr
"""

from __future__ import annotations

import argparse
import os
import sys

from dfimx.cli import check, demo, export, report, run, variants
from dfimx.cli.options import EXIT_INPUT_ERROR, common_options, flag_message
from dfimx.errors import InputError
from dfimx.logs import quiet_native_logs
from dfimx.version import __version__

#: Settings that messages about a store may name, whichever command reports them.
STORE_HINTS = frozenset({"resume", "overwrite"})


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dfimx`` command.

    Examples
    --------
    >>> build_parser().parse_args(["export", "out.zarr", "-o", "t.tsv"]).output
    't.tsv'
    """
    parser = argparse.ArgumentParser(
        prog="dfimx",
        description="Deep Feature Interaction Maps: interactions between DNA sequence "
        "features from neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"dfimx {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's and absl's own log lines (hidden by default)")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (run, variants, export, report, check, demo):
        command.add_parser(sub)
    for command_parser in sub.choices.values():  # --verbose after the command works too
        command_parser.add_argument("-v", "--verbose", action="store_true",
                                    default=argparse.SUPPRESS,
                                    help="show TensorFlow's and absl's own log lines")
    return parser


def main(argv: list[str] | None = None, *, quiet_logs: bool | None = None) -> int:
    """Run the command line; returns the exit status.

    ``quiet_logs`` filters TensorFlow's and absl's log lines out of stderr
    (:func:`dfimx.logs.quiet_native_logs`) unless ``--verbose`` is given; by default it
    does so when the arguments come from the process's own command line (``argv`` None),
    so that calls from Python keep their stderr as it is.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if (argv is None if quiet_logs is None else quiet_logs) and not args.verbose:
        quiet_native_logs()
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        # hints about a store (rerun with resume=True) name the run's flags from any command
        options = set(vars(args)) | STORE_HINTS
        print(f"dfimx: error: {flag_message(exc, options)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("dfimx: interrupted", file=sys.stderr)
        return 130


__all__ = ["EXIT_INPUT_ERROR", "build_parser", "common_options", "main"]
