"""The interface every proxy implements, and the measured value it returns.

Why one interface: the optimizer, the store and the report treat parameters, latency and error
alike — a name, a unit, a cost, and `evaluate(architecture)` returning a `Measurement` that
carries what the number depends on (never a bare number). Caching is generic too:
a proxy's `provenance()` plus the architecture's id is the cache key, so changing a fidelity knob
or the hardware can never return a stale value.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from bortnas.architecture import Architecture
    from bortnas.cache import MeasurementCache


@dataclass(frozen=True)
class Measurement:
    """One proxy value of one architecture, with its spread, extras and provenance."""

    proxy: str
    value: float
    unit: str
    spread: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(**data)


class Proxy(ABC):
    """A way to score an architecture on one objective (smaller is better for every proxy)."""

    #: Short identifier, used as column name and cache namespace.
    name: ClassVar[str]
    #: Unit of `Measurement.value`.
    unit: ClassVar[str]
    #: What one evaluation costs, in words a user can plan with.
    cost: ClassVar[str]

    @abstractmethod
    def evaluate(self, architecture: Architecture) -> Measurement:
        """Score one architecture (no caching here: see `evaluate_cached`)."""

    def provenance(self) -> dict[str, Any]:
        """Everything a value depends on besides the architecture (fidelity, hardware, data)."""
        return {}

    def cache_key(self, architecture: Architecture) -> str:
        payload = json.dumps(
            {"proxy": self.name, "architecture": architecture.to_dict(), **self.provenance()},
            sort_keys=True,
            default=str,
        )
        return f"{self.name}-{hashlib.sha256(payload.encode()).hexdigest()[:24]}"


def evaluate_cached(
    proxy: Proxy,
    architecture: Architecture,
    cache: MeasurementCache | None,
    *,
    refresh: bool = False,
) -> Measurement:
    """Return the cached measurement when one exists (and `refresh` is off), else measure and store.

    Why here and not in each proxy: every proxy gets the same guarantees — keys that include the
    provenance, checksummed entries, atomic writes — from one place.
    """
    return lookup_or_measure(proxy, architecture, cache, refresh=refresh)[0]


def lookup_or_measure(
    proxy: Proxy,
    architecture: Architecture,
    cache: MeasurementCache | None,
    *,
    refresh: bool = False,
) -> tuple[Measurement, bool]:
    """`evaluate_cached`, also saying whether the value came from the cache (cost accounting)."""
    if cache is None:
        return proxy.evaluate(architecture), False
    key = proxy.cache_key(architecture)
    if not refresh:
        cached = cache.get(key)
        if cached is not None:
            return cached, True
    measurement = proxy.evaluate(architecture)
    cache.put(key, measurement)
    return measurement, False
