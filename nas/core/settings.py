"""What every command's config shares: its field metadata and the checks of its values.

Why one home: `search`, `pretrain` and `finetune` generate their options from their config's
fields (`bortnas.cli.options`), so a config's errors must name the option a user typed
(`--max-length must be at least 1, got 0`), the same way in all three.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from .errors import BortnasError


def setting(help: str, **metadata: Any) -> dict[str, Any]:
    """A field's metadata: its `help` (required), and `choices`, `metavar`, `cli`, `identity`…"""
    return {"help": help, **metadata}


def option(name: str) -> str:
    """The command-line spelling of a field name."""
    return "--" + name.replace("_", "-")


def whole_at_least(
    config: object, minimum: int, names: Iterable[str], error: type[BortnasError]
) -> None:
    """Each named field a whole number ≥ `minimum` (None passes: it means "not set")."""
    for name in names:
        value = getattr(config, name)
        if value is None:
            continue
        whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not whole or value < minimum:
            raise error(f"{option(name)} must be at least {minimum}, got {value!r}")


def one_of(config: object, name: str, choices: Iterable[str], error: type[BortnasError]) -> None:
    choices = tuple(choices)
    if getattr(config, name) not in choices:
        raise error(
            f"{option(name)} must be one of {', '.join(choices)}, got {getattr(config, name)!r}"
        )


def in_range(
    config: object,
    names: Iterable[str],
    error: type[BortnasError],
    *,
    low: float = -math.inf,
    high: float = math.inf,
    interval: str = "[]",
) -> None:
    """Each named field a finite number in the interval written `interval` ("[)", "(]"…)."""
    for name in names:
        value = getattr(config, name)
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        inside = (
            number
            and math.isfinite(value)
            and (value >= low if interval[0] == "[" else value > low)
            and (value <= high if interval[1] == "]" else value < high)
        )
        if not inside:
            if high == math.inf:
                shown = f"{'>=' if interval[0] == '[' else '>'} {low:g}"
            else:
                shown = f"in {interval[0]}{low:g}, {high:g}{interval[1]}"
            raise error(f"{option(name)} must be {shown}, got {value!r}")
