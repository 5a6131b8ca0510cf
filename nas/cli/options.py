"""Command-line options generated from a typed, frozen dataclass: defaults and help live once.

Why: a command's options, its Python API and its saved settings must not disagree, so the
dataclass is the single description and argparse is derived from it (as litgpt and whittle derive
theirs from typed signatures). Each field gives one option `--field-name`:
- metadata `help` (required), and optionally `choices`, `metavar`, `cli` (another option name);
- `bool`: a flag (`--name` when the default is False, `--no-name` when it is True);
- `int`, `float`, `str` and `X | None` of them: a typed value, default shown in the help;
- `tuple[str, ...]`: one comma-separated value (`a,b`; empty gives `()`), whose `choices` are
  listed in the help and checked by the dataclass (argparse would check the whole tuple);
- a field without a default: a required option.
Any other type is a programming error (raised at registration, not at the user).
"""

from __future__ import annotations

import argparse
import types
import typing
from dataclasses import MISSING, Field, fields
from typing import Any, TypeVar

from ..core.settings import option

T = TypeVar("T")
SCALARS = (int, float, str)
METAVARS = {int: "N", float: "X", str: "TEXT", tuple: "A,B"}


def _scalar(cls: type, spec: Field) -> type:
    """bool, int, float, str or tuple (`tuple[str, ...]`) from the field's annotation
    (`int | None` gives int)."""
    hint = typing.get_type_hints(cls)[spec.name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = options[0] if len(options) == 1 else None
    if hint is bool or hint in SCALARS:
        return hint
    if hint == tuple[str, ...]:
        return tuple
    raise TypeError(f"{cls.__name__}.{spec.name}: no command-line form for {hint!r}")


def comma_separated(text: str) -> tuple[str, ...]:
    """`a, b` gives ('a', 'b'); an empty text gives ()."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def option_name(spec: Field) -> str:
    return spec.metadata.get("cli", option(spec.name))


def add_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    skip: tuple[str, ...] = (),
    choices: dict[str, list[str]] | None = None,
) -> list[str]:
    """Add one option per field of the dataclass `cls` (but `skip`); return the field names.
    `choices` adds choices to fields whose metadata has none (lists known elsewhere)."""
    names = []
    for spec in fields(cls):
        if spec.name in skip:
            continue
        kind = _scalar(cls, spec)
        help_text = spec.metadata["help"]
        default = spec.default if spec.default is not MISSING else None
        name = option_name(spec)
        if kind is bool:
            if default:
                flag = "--no-" + name.removeprefix("--")
                parser.add_argument(flag, dest=spec.name, action="store_false", help=help_text)
            else:
                parser.add_argument(name, dest=spec.name, action="store_true", help=help_text)
        else:
            required = spec.default is MISSING and spec.default_factory is MISSING
            listed = spec.metadata.get("choices", (choices or {}).get(spec.name))
            notes = []
            if kind is tuple:  # argparse would check the whole tuple: the dataclass checks
                notes.append("comma-separated" + (f", from {', '.join(listed)}" if listed else ""))
                listed, default_text = None, ",".join(default or ()) or "none"
            else:
                default_text = f"{default:g}" if isinstance(default, float) else str(default)
            if not required and default is not None:
                notes.append(f"default {default_text}")
            shown = f" ({'; '.join(notes)})" if notes else ""
            parser.add_argument(
                name,
                dest=spec.name,
                type=comma_separated if kind is tuple else kind,
                default=default,
                required=required,
                choices=listed,
                metavar=spec.metadata.get("metavar", None if listed else METAVARS[kind]),
                help=help_text + shown,
            )
        names.append(spec.name)
    return names


def config_from(args: argparse.Namespace, cls: type[T], **extra: Any) -> T:
    """An instance of `cls` from the parsed options (and `extra` for skipped fields)."""
    values = {
        spec.name: getattr(args, spec.name) for spec in fields(cls) if hasattr(args, spec.name)
    }
    return cls(**{**values, **extra})
