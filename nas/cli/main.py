"""The `bortnas` command line: one entry point, one sub-module per group of commands.

Why argparse plus small modules: no extra dependency, `--help` with an example on every command,
and each command group (`space`, `search`, `finetune`) registers itself without touching the
others. User mistakes (`BortnasError`) become one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from ..core.errors import BortnasError
from .console import INTERRUPTED_EXIT, USER_ERROR_EXIT, Parser, error_console


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bortnas",
        description="Optimal subarchitecture extraction for BERT-like encoders (Bort's search).",
        epilog="example:\n  bortnas search --space bert-large",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    for module in _command_modules():
        module.register(subparsers)
    return parser


def _command_modules() -> list:
    """The modules that register commands, in the order `--help` lists them."""
    from . import finetune, pretrain, search, space

    return [space, search, pretrain, finetune]


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
