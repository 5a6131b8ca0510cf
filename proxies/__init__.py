"""Proxies: how a candidate is scored on parameter size, inference latency and error.

The package's public names are exported once, by `bortnas` itself (its `__init__`); this one
exports only the light base every proxy shares. Heavy modules (latency timing, distillation
training) are imported where they are used, so `import bortnas` stays fast.
"""

from __future__ import annotations

from .base import Measurement, Proxy, evaluate_cached
from .parameters import ParameterProxy

__all__ = ["Measurement", "ParameterProxy", "Proxy", "evaluate_cached"]
