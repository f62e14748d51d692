"""``python -m dfimx``: the command line."""
import sys

from dfimx.cli import main

sys.exit(main())
