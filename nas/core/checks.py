"""Checks of numeric knobs that every proxy and command shares, with errors that name the knob."""

from __future__ import annotations

import math

from .errors import BortnasError


def positive_int(name: str, value: object, error: type[BortnasError] = BortnasError) -> int:
    """`value` as a positive int, or `error` naming the knob."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{name} must be a whole number, got {value!r}")
    if value <= 0:
        raise error(f"{name} must be positive, got {value}")
    return value


def positive_float(name: str, value: object, error: type[BortnasError] = BortnasError) -> float:
    """`value` as a positive finite float, or `error` naming the knob."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {value!r}")
    if value <= 0:
        raise error(f"{name} must be positive, got {value}")
    return float(value)
