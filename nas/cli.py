"""The `bortnas` command line: one entry point, one sub-module per group of commands.

Why argparse plus small modules: no extra dependency, `--help` with an example on every command,
and each command group (`cli_space`, later search, finetune, ...) registers itself without
touching the others. User mistakes (`BortnasError`) become one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from rich.console import Console

from bortnas.errors import BortnasError

USER_ERROR_EXIT = 2
INTERRUPTED_EXIT = 130

console = Console()
if not console.is_terminal:  # piped or captured: no terminal to wrap at 80 columns
    console = Console(width=120)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


class _Parser(argparse.ArgumentParser):
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bortnas",
        description="Optimal subarchitecture extraction for BERT-like encoders (Bort's search).",
        epilog="example:\n  bortnas search --space bert-large",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for module in _command_modules():
        module.register(subparsers)
    return parser


def _command_modules() -> list:
    """The modules that register commands, in the order `--help` lists them."""
    import importlib

    names = ["cli_space"]
    for optional in ("cli_search", "cli_finetune"):
        if importlib.util.find_spec(f"bortnas.{optional}") is not None:
            names.append(optional)
    return [importlib.import_module(f"bortnas.{name}") for name in names]


def _warnings_as_one_line() -> None:
    """Warnings reach the user as `bortnas: warning: ...`, like errors, not as `file:line:`."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        error_console.print(f"bortnas: warning: {message}", markup=False)

    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    # Our own progress bars say what is happening; transformers' per-load bars only add noise
    # (and block a worker whose output pipe nobody reads). Read when transformers is imported.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    _warnings_as_one_line()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return USER_ERROR_EXIT
    try:
        return args.handler(args) or 0
    except BortnasError as exc:
        error_console.print(f"bortnas: error: {exc}", markup=False)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        error_console.print("bortnas: interrupted", markup=False)
        return INTERRUPTED_EXIT


if __name__ == "__main__":
    sys.exit(main())
