"""`python -m bortnas` (and `torchrun -m bortnas`): the command line."""

from .cli.main import main

raise SystemExit(main())
