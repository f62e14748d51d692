import sys

from dfimx.cli import main

sys.exit(main())
