"""``python -m dfimx``: the ``dfimx`` command line (:func:`dfimx.cli.main`)."""

import sys

from dfimx.cli import main

if __name__ == "__main__":
    sys.argv[0] = "dfimx"
    sys.exit(main())
