"""`python -m bortnas.cli`: the same entry point as the `bortnas` command."""

import sys

from .main import main

sys.exit(main())
