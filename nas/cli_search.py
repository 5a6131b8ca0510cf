"""`bortnas search`: the main job on the command line, with progress bars and the report."""

from __future__ import annotations

import argparse
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bortnas.cli import add_command, console
from bortnas.optimizer import DEFAULT_EPSILON, DEFAULT_INTERVAL, STRATEGIES
from bortnas.wcoefficient import Exponents


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "search",
        help="find the optimal subarchitecture of a space (de Wynter's FPTAS) and its Pareto front",
        example="bortnas search --space bert-large          "
        "# cold: ~15 min on 2 CPU cores; re-run: instant",
        handler=_search,
    )
    parser.add_argument("--space", default="bert-large", metavar="NAME|PATH")
    parser.add_argument("--optimizer", default="fptas", choices=sorted(STRATEGIES))
    parser.add_argument(
        "--epsilon",
        type=float,
        default=DEFAULT_EPSILON,
        help="FPTAS ε in (0, 1]: training steps per candidate grow as 1/(ε s^1.5); halving ε "
        f"doubles the training cost (default {DEFAULT_EPSILON})",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help=f"FPTAS s (default {DEFAULT_INTERVAL})",
    )
    parser.add_argument(
        "--base-steps",
        type=int,
        default=None,
        metavar="N",
        help="training steps per candidate at ε = s = 1 (default: the error proxy's default "
        "budget times the default ε)",
    )
    parser.add_argument("--alpha", type=float, default=1.0, help="W exponent of parameters")
    parser.add_argument("--beta", type=float, default=1.0, help="W exponent of latency")
    parser.add_argument("--gamma", type=float, default=1.0, help="W exponent of error")
    parser.add_argument(
        "--without-embeddings",
        action="store_true",
        help="count parameters without the embedding tables in p",
    )
    parser.add_argument("--latency", default="predicted", choices=("predicted", "measured"))
    parser.add_argument("--device", default="cpu", help="latency device: cpu or cuda")
    parser.add_argument("--latency-batch", type=int, default=None, metavar="N")
    parser.add_argument("--latency-sequence", type=int, default=None, metavar="N")
    parser.add_argument("--threads", type=int, default=None, metavar="N")
    parser.add_argument("--corpus", default=None, metavar="PATH", help="your text file/folder")
    parser.add_argument(
        "--teacher", default=None, metavar="default|none|PATH", help="distillation teacher"
    )
    parser.add_argument("--width-scale", type=int, default=None, metavar="K")
    parser.add_argument("--seeds", type=int, default=None, metavar="N")
    parser.add_argument(
        "--trials", type=int, default=60, help="candidates for the random and nsga2 baselines"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="run folder name (default: the space name)")
    parser.add_argument("--runs-dir", default="runs", metavar="DIR")
    parser.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="any Optuna storage URL (postgresql://…, sqlite:///…, journal:PATH); several "
        "processes running the same command share the work",
    )
    parser.add_argument(
        "--remeasure", action="store_true", help="measure latency again instead of the cache"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local processes that train candidates side by side (default: one per core, "
        "at most 2, for fptas/exhaustive; 1 otherwise)",
    )
    parser.add_argument("--top", type=int, default=10, help="rows of the top table")


def _options(args: argparse.Namespace, mapping: dict[str, str]) -> dict[str, Any]:
    return {
        target: getattr(args, source)
        for source, target in mapping.items()
        if getattr(args, source) is not None
    }


def _search(args: argparse.Namespace) -> int:
    from bortnas.report import print_report
    from bortnas.search import search

    latency_options = _options(
        args,
        {
            "latency_batch": "batch_size",
            "latency_sequence": "sequence_length",
            "threads": "threads",
        },
    )
    if args.device != "cpu":
        latency_options["device"] = args.device
    if args.remeasure and args.latency == "predicted":
        latency_options["refresh"] = True  # the layer table and calibration, timed again
    error_options = _options(
        args,
        {
            "corpus": "corpus",
            "teacher": "teacher",
            "width_scale": "width_scale",
            "seeds": "seeds",
        },
    )
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, Any] = {}
        labels = {"latency": "latency (step 1)", "error": "training (step 3)"}

        def on_stage(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            result = search(
                args.space,
                optimizer=args.optimizer,
                epsilon=args.epsilon,
                interval=args.interval,
                base_steps=args.base_steps,
                exponents=Exponents(args.alpha, args.beta, args.gamma),
                latency=args.latency,
                latency_options=latency_options,
                error_options=error_options,
                include_embeddings=not args.without_embeddings,
                trials=args.trials,
                seed=args.seed,
                name=args.name,
                runs_dir=args.runs_dir,
                storage=args.storage,
                remeasure=frozenset({"latency"}) if args.remeasure else frozenset(),
                workers=args.workers,
                on_stage=on_stage,
            )
        except KeyboardInterrupt:
            console.print(
                "[yellow]interrupted[/]: every finished evaluation is stored; run the same "
                "command again to resume"
            )
            raise
    print_report(result, console, top=args.top)
    return 0
