"""Commands about spaces and single architectures: `spaces`, `space show`, `params`, `export`."""

from __future__ import annotations

import argparse

from rich.table import Table

from bortnas.search_spaces import builtin_spaces, load_space

from ..core.architecture import DIMENSIONS, SYMBOLS, count_parameters
from ..extraction.export import export_architecture
from .console import add_command, console


def register(subparsers: argparse._SubParsersAction) -> None:
    add_command(
        subparsers,
        "spaces",
        help="list the built-in search spaces and their sizes",
        example="bortnas spaces",
        handler=_spaces,
    )
    space = add_command(
        subparsers,
        "space",
        help="inspect a search space",
        example="bortnas space show bert-large",
        handler=lambda args: space.print_help() or 2,
    )
    space_commands = space.add_subparsers(title="commands", metavar="COMMAND")
    show = add_command(
        space_commands,
        "show",
        help="show the dimensions, context and candidate count of a space",
        example="bortnas space show bert-large    # or a path: bortnas space show my_space.toml",
        handler=_space_show,
    )
    show.add_argument("space", metavar="NAME|PATH", help="built-in name or path to a .toml file")

    params = add_command(
        subparsers,
        "params",
        help="exact parameter counts of one architecture (total, without embeddings)",
        example="bortnas params 4 8 1024 768      # Bort",
        handler=_params,
    )
    _add_shape_arguments(params)

    export = add_command(
        subparsers,
        "export",
        help="write a transformers config.json for one architecture",
        example='bortnas export 4 8 1024 768 -o bort/ && python -c "import transformers; '
        "print(transformers.AutoConfig.from_pretrained('bort'))\"",
        handler=_export,
    )
    _add_shape_arguments(export)
    export.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write")


def _add_shape_arguments(parser: argparse.ArgumentParser) -> None:
    for name, meaning in (
        ("D", "depth (layers)"),
        ("A", "attention heads"),
        ("H", "hidden size"),
        ("I", "intermediate size"),
    ):
        parser.add_argument(name, type=int, help=meaning)
    parser.add_argument(
        "--space",
        default="bert-large",
        metavar="NAME|PATH",
        help="take the fixed context (vocabulary, positions, types) from this space "
        "(default: bert-large, Bort's context)",
    )


def _spaces(args: argparse.Namespace) -> int:
    table = Table(title="built-in search spaces")
    for column in ("name", "candidates", "description"):
        table.add_column(column)
    for name in sorted(builtin_spaces()):
        space = load_space(name)
        table.add_row(name, str(space.size), space.description)
    console.print(table)
    return 0


def _space_show(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    table = Table(title=f"space {space.name}: {space.size} candidates", title_justify="left")
    table.add_column("dimension")
    table.add_column("values")
    labels = dict(zip(DIMENSIONS, SYMBOLS, strict=True))
    for key, values in space.dimensions.items():
        table.add_row(f"{labels[key]} ({key})", ", ".join(map(str, values)))
    for key, value in space.context.items():
        table.add_row(key, str(value))
    for key, value in space.constraints.items():
        table.add_row(f"constraint {key}", str(value))
    table.add_row("constraint", "H % A == 0")
    console.print(table)
    console.print(f"source: {space.source}", markup=False, highlight=False)
    console.print(f"candidates: {space.size}")
    return 0


def _architecture(args: argparse.Namespace):
    return load_space(args.space).architecture(args.D, args.A, args.H, args.I)


def _params(args: argparse.Namespace) -> int:
    count = count_parameters(_architecture(args))
    table = Table(show_header=False, box=None)
    table.add_row("total", str(count.total))
    table.add_row("without_embeddings", str(count.without_embeddings))
    console.print(table)
    return 0


def _export(args: argparse.Namespace) -> int:
    architecture = _architecture(args)
    count = count_parameters(architecture)
    path = export_architecture(
        architecture,
        args.output,
        {
            "space": args.space,
            "parameters": {"total": count.total, "without_embeddings": count.without_embeddings},
        },
    )
    console.print(f"wrote {path}", markup=False, highlight=False)
    return 0
