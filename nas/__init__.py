"""bortnas: optimal subarchitecture extraction for BERT-like encoders.

The public API is what this module exports; the CLI and the notebooks use nothing else. Heavy
pieces (the search, the proxies that train or time models, Agora) load on first use.
"""

from __future__ import annotations

from typing import Any

from bortnas.proxies import Measurement, ParameterProxy, Proxy
from bortnas.search_spaces import SearchSpace, load_space

from .core.architecture import BERT_BASE, BERT_LARGE, BORT, Architecture, count_parameters
from .core.errors import BortnasError
from .extraction.config import SearchConfig
from .extraction.export import export_architecture, load_architecture
from .extraction.wcoefficient import Exponents, w_coefficients

_LAZY = {
    "search": "bortnas.extraction.search",
    "SearchResult": "bortnas.extraction.result",
    "print_report": "bortnas.extraction.report",
    "non_dominated_mask": "bortnas.extraction.pareto",
    "hypervolume": "bortnas.extraction.pareto",
    "MeasuredLatencyProxy": "bortnas.proxies.latency",
    "PredictedLatencyProxy": "bortnas.proxies.latency_table",
    "make_latency_proxy": "bortnas.proxies.latency_table",
    "DistillationErrorProxy": "bortnas.proxies.error",
    "hardware_fingerprint": "bortnas.proxies.latency",
    "load_corpus": "bortnas.text.corpus",
    "load_embedding_teacher": "bortnas.proxies.teacher",
    "law_error": "bortnas.extraction.scaling_law",
    "sensitivity_table": "bortnas.extraction.sensitivity",
    "budget_curve": "bortnas.extraction.budget_curve",
    "latency_quality_line": "bortnas.extraction.latency_quality",
    "print_sensitivity": "bortnas.extraction.sensitivity",
    "pretrain": "bortnas.pretraining",
    "PretrainConfig": "bortnas.pretraining",
    "agora": "bortnas.finetuning.agora",
    "AgoraConfig": "bortnas.finetuning.config",
    "finetune_plain": "bortnas.finetuning.agora",
    "FinetuneResult": "bortnas.finetuning.agora",
    "load_task": "bortnas.finetuning.tasks",
    "Task": "bortnas.finetuning.tasks",
    "Split": "bortnas.finetuning.tasks",
    "Hyperparameters": "bortnas.core.theta",
    "load_theta": "bortnas.finetuning.theta",
    "finetuned_teacher": "bortnas.finetuning.classification",
    "load_classifier_teacher": "bortnas.finetuning.teacher",
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
