"""``dfimx check``: is a store whole?  Every chunk's presence, size and checksum.

Prints one line per problem (a missing or damaged chunk names the variable and the
region; an unfinished run says how many regions are written) and exits with status 2,
or prints a one-line summary and exits 0 when the store is whole.

Examples
--------
$ dfimx check out.zarr
out.zarr: whole: 16 regions, 21 variables, 352 chunks (41.3 MB) match their checksums
"""

from __future__ import annotations

import argparse
from typing import Any

from dfimx.cli.options import EXIT_INPUT_ERROR


def cmd_check(args: argparse.Namespace) -> int:
    """Check the store; returns the exit status (2 when anything is wrong).

    Examples
    --------
    >>> from dfimx.testing import example_store
    >>> path = example_store(n_seq=6, chunk=4)
    >>> cmd_check(argparse.Namespace(store=path))  # doctest: +ELLIPSIS
    /...example.zarr: whole: 2 regions, ... variables, ... chunks (... MB) match their checksums
    0
    """
    from dfimx.store import check_store  # zarr loads only for the command that needs it

    report = check_store(args.store)
    for line in report.problems:
        print(line)
    if not report.ok:
        return EXIT_INPUT_ERROR
    print(report.summary())
    return 0


def add_parser(sub: Any) -> None:
    """Add ``check`` to the subparsers of the ``dfimx`` command."""
    p = sub.add_parser(
        "check", help="check that a store is whole (every chunk and checksum)",
        epilog="examples:\n  dfimx check out.zarr\n  dfimx check s3://bucket/run.zarr\n"
        "exit status 0: whole; 2: a problem (each listed on one line)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", help="a dfimx store (path or fsspec URL)")
    p.set_defaults(func=cmd_check)
