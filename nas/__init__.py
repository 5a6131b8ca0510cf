"""bortnas: optimal subarchitecture extraction for BERT-like encoders.

The public API is what this module exports; the CLI and the notebooks use nothing else.
"""

from bortnas.architecture import BERT_BASE, BERT_LARGE, BORT, Architecture
from bortnas.errors import BortnasError
from bortnas.export import export_architecture, load_architecture
from bortnas.proxies import Measurement, ParameterProxy, Proxy, count_parameters
from bortnas.search_spaces import SearchSpace, load_space

__all__ = [
    "BERT_BASE",
    "BERT_LARGE",
    "BORT",
    "Architecture",
    "BortnasError",
    "Measurement",
    "ParameterProxy",
    "Proxy",
    "SearchSpace",
    "count_parameters",
    "export_architecture",
    "load_architecture",
    "load_space",
]
