"""bortnas: optimal subarchitecture extraction for BERT-like encoders.

The public API is what this module exports; the CLI and the notebooks use nothing else. Heavy
pieces (the search, the proxies that train or time models, Agora) load on first use.
"""

from __future__ import annotations

from typing import Any

from bortnas.architecture import BERT_BASE, BERT_LARGE, BORT, Architecture
from bortnas.config import SearchConfig
from bortnas.errors import BortnasError
from bortnas.export import export_architecture, load_architecture
from bortnas.proxies import Measurement, ParameterProxy, Proxy, count_parameters
from bortnas.search_spaces import SearchSpace, load_space
from bortnas.wcoefficient import Exponents, w_coefficients

_LAZY = {
    "search": "bortnas.search",
    "SearchResult": "bortnas.search",
    "print_report": "bortnas.report",
    "non_dominated_mask": "bortnas.pareto",
    "hypervolume": "bortnas.pareto",
    "MeasuredLatencyProxy": "bortnas.proxies.latency",
    "PredictedLatencyProxy": "bortnas.proxies.latency_table",
    "make_latency_proxy": "bortnas.proxies.latency",
    "DistillationErrorProxy": "bortnas.proxies.error",
    "TrainingSetting": "bortnas.proxies.error",
    "agora": "bortnas.agora",
    "finetune_plain": "bortnas.agora",
    "FinetuneResult": "bortnas.agora",
    "load_task": "bortnas.tasks",
    "Task": "bortnas.tasks",
    "Split": "bortnas.tasks",
    "Hyperparameters": "bortnas.theta",
    "load_theta": "bortnas.theta",
    "default_teacher": "bortnas.teacher",
    "load_teacher": "bortnas.teacher",
}

__all__ = [
    "BERT_BASE",
    "BERT_LARGE",
    "BORT",
    "Architecture",
    "BortnasError",
    "Exponents",
    "Measurement",
    "ParameterProxy",
    "Proxy",
    "SearchConfig",
    "SearchSpace",
    "count_parameters",
    "export_architecture",
    "load_architecture",
    "load_space",
    "w_coefficients",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bortnas' has no attribute {name!r}")
