"""The `bortnas` command line: `main` parses, one module per group of commands registers."""

from .main import main

__all__ = ["main"]
