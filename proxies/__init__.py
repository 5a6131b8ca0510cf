"""Proxies: how a candidate is scored on parameter size, inference latency and error."""

from bortnas.proxies.base import Measurement, Proxy, evaluate_cached
from bortnas.proxies.parameters import ParameterCount, ParameterProxy, count_parameters

__all__ = [
    "Measurement",
    "ParameterCount",
    "ParameterProxy",
    "Proxy",
    "count_parameters",
    "evaluate_cached",
]
