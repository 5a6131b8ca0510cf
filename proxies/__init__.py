"""Proxies: how a candidate is scored on parameter size, inference latency and error.

Heavy modules (latency timing, distillation training) are imported on first use, so that
`import bortnas` and the cheap commands stay fast.
"""

from __future__ import annotations

from typing import Any

from bortnas.core.architecture import ParameterCount, count_parameters

from .base import Measurement, Proxy, evaluate_cached
from .parameters import ParameterProxy

_LAZY = {
    "MeasuredLatencyProxy": "bortnas.proxies.latency",
    "make_latency_proxy": "bortnas.proxies.latency_table",
    "hardware_fingerprint": "bortnas.proxies.latency",
    "PredictedLatencyProxy": "bortnas.proxies.latency_table",
    "DistillationErrorProxy": "bortnas.proxies.error",
    "load_corpus": "bortnas.proxies.corpus",
    "load_embedding_teacher": "bortnas.core.teacher",
}

__all__ = [
    "Measurement",
    "ParameterCount",
    "ParameterProxy",
    "Proxy",
    "count_parameters",
    "evaluate_cached",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bortnas.proxies' has no attribute {name!r}")
