"""`bortnas search`: the main job on the command line, with progress and the report.

Why generated options: every option is a field of `SearchConfig` with its help text there, so the
command line, the Python API, the worker payload and `summary.json` cannot disagree.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from typing import Any

from bortnas.proxies.latency import METHODS, RUNTIMES
from bortnas.proxies.training import ERROR_LOSSES

from ..core.architecture import SYMBOLS
from ..extraction.config import SearchConfig, load_search_theta
from ..extraction.error_model import ERROR_MODELS
from ..extraction.scaling_law import load_laws
from ..extraction.strategies import STRATEGIES, TRAIN_MODES
from .console import add_command, console
from .options import add_options, config_from

#: The choices of the search's string options (validated again by `SearchConfig`).
CHOICES = {
    "optimizer": sorted(STRATEGIES),
    "train": list(TRAIN_MODES),
    "error_loss": list(ERROR_LOSSES),
    "law": sorted(load_laws()),
    "latency": list(METHODS),
    "runtime": list(RUNTIMES),
    "error_model": list(ERROR_MODELS),
    "device": ["cpu", "cuda", "auto"],
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "search",
        help="find the optimal subarchitecture of a space (de Wynter's algorithm) and its front",
        example="bortnas search --space bert-large          "
        "# cold: minutes on 2 CPU cores; re-run: seconds",
        handler=_search,
    )
    add_options(parser, SearchConfig, skip=("theta", "reference"), choices=CHOICES)
    theta, reference = (f for f in fields(SearchConfig) if f.name in ("theta", "reference"))
    parser.add_argument(
        "--theta", dest="theta_file", default=None, metavar="FILE", help=theta.metadata["help"]
    )
    parser.add_argument(
        "--reference", nargs=4, type=int, default=None, metavar=SYMBOLS,
        help=reference.metadata["help"],
    )  # fmt: skip
    parser.add_argument("--top", type=int, default=10, help="rows of the top table (10)")


def config_from_arguments(args: argparse.Namespace) -> SearchConfig:
    theta = args.theta_file
    return config_from(
        args,
        SearchConfig,
        **({} if theta is None else {"theta": load_search_theta(theta)}),
        reference=args.reference,
    )


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
