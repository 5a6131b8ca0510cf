"""What every command shares: the consoles, one-line usage errors, and sub-command registration.

Why apart from `main`: the command modules register through it, and `main` imports them; one
module under both keeps the import graph free of circles.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from rich.console import Console

USER_ERROR_EXIT = 2
INTERRUPTED_EXIT = 130

console = Console()
if not console.is_terminal:  # piped or captured: no terminal to wrap at 80 columns
    console = Console(width=120)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line, like every other user mistake."""

    def error(self, message: str) -> None:  # type: ignore[override]
        error_console.print(f"bortnas: error: {message} (see `{self.prog} --help`)", markup=False)
        raise SystemExit(USER_ERROR_EXIT)


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    *,
    help: str,
    example: str,
    handler: Callable[[argparse.Namespace], int | None],
) -> argparse.ArgumentParser:
    """Add a sub-command whose `--help` ends with a worked example."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser
