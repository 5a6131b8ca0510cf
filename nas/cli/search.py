"""`bortnas search`: the main job on the command line, with progress and the report.

Why generated options: every option is a field of `SearchConfig` with its help text there, so the
command line, the Python API, the worker payload and `summary.json` cannot disagree.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
import typing
from dataclasses import MISSING
from typing import Any

from bortnas.proxies.latency import METHODS, RUNTIMES

from ..extraction.config import SearchConfig, config_fields, load_search_theta
from ..extraction.error_model import ERROR_MODELS
from ..extraction.strategies import STRATEGIES, TRAIN_MODES
from .console import add_command, console

CHOICES = {
    "optimizer": sorted(STRATEGIES),
    "train": list(TRAIN_MODES),
    "latency": list(METHODS),
    "runtime": list(RUNTIMES),
    "error_model": list(ERROR_MODELS),
    "device": ["cpu", "cuda", "auto"],
}


def _scalar_type(annotation: Any) -> type:
    """int, float or str from a field annotation such as `int | None`."""
    hint = eval(annotation, vars(typing)) if isinstance(annotation, str) else annotation
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint if hint in (int, float, str) else str


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "search",
        help="find the optimal subarchitecture of a space (de Wynter's algorithm) and its front",
        example="bortnas search --space bert-large          "
        "# cold: minutes on 2 CPU cores; re-run: seconds",
        handler=_search,
    )
    for spec in config_fields():
        option = spec.metadata.get("cli", "--" + spec.name.replace("_", "-"))
        default = spec.default if spec.default is not MISSING else None
        help_text = spec.metadata["help"]
        if spec.name == "theta":
            parser.add_argument(option, dest="theta", default=None, metavar="FILE", help=help_text)
        elif spec.name == "reference":
            parser.add_argument(
                option, dest=spec.name, nargs=4, type=int, default=None,
                metavar=("D", "A", "H", "I"), help=help_text,
            )  # fmt: skip
        elif isinstance(default, bool):
            parser.add_argument(option, dest=spec.name, action="store_true", help=help_text)
        else:
            shown = f" (default {default})" if default is not None else ""
            parser.add_argument(
                option,
                dest=spec.name,
                type=_scalar_type(spec.type),
                default=default,
                choices=CHOICES.get(spec.name),
                metavar=None if spec.name in CHOICES else spec.name.split("_")[-1].upper(),
                help=help_text + shown,
            )
    parser.add_argument("--top", type=int, default=10, help="rows of the top table (10)")


def config_from_arguments(args: argparse.Namespace) -> SearchConfig:
    values = {spec.name: getattr(args, spec.name) for spec in config_fields()}
    if values["theta"] is None:
        values.pop("theta")
    else:
        values["theta"] = load_search_theta(values["theta"])
    return SearchConfig(**values)


class _PlainProgress:
    """Progress without a terminal (CI logs, nohup): one line per stage about every 10 %."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        tenth = (10 * done) // max(total, 1)
        if done == total or tenth > self.last.get(stage, -1):
            self.last[stage] = tenth
            elapsed = time.perf_counter() - self.started
            print(f"{stage}: {done}/{total} ({elapsed:.0f} s)", file=sys.stderr, flush=True)


def _search(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..extraction.report import print_report
    from ..extraction.search import search

    config = config_from_arguments(args)
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    try:
        if console.is_terminal:
            with Progress(*columns, console=console, transient=False) as progress:
                tasks: dict[str, Any] = {}

                def on_stage(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = progress.add_task(stage, total=total)
                    progress.update(tasks[stage], completed=done, total=total)

                result = search(config, on_stage=on_stage, on_message=console.print)
        else:
            result = search(
                config, on_stage=_PlainProgress(), on_message=lambda m: print(m, flush=True)
            )
    except KeyboardInterrupt:
        console.print(
            "[yellow]interrupted[/]: every finished evaluation is stored; run the same "
            "command again to resume"
        )
        raise
    print_report(result, console, top=args.top)
    return 0
