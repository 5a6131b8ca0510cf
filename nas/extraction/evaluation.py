"""Scoring one candidate with the three proxies, through the measurement cache.

Why a separate piece: the FPTAS, the baselines and every worker process score candidates the same
way, and the search's cost report needs to know which values were computed now (training steps
paid) and which came from the cache (free).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bortnas.proxies.base import Measurement, MeasurementCache, Proxy, lookup_or_measure

from ..core.architecture import Architecture


@dataclass
class Cost:
    """What a run paid: evaluations computed versus found in the cache, and training steps."""

    computed: dict[str, int] = field(default_factory=dict)
    cached: dict[str, int] = field(default_factory=dict)
    training_steps: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, proxy: str, measurement: Measurement, *, was_cached: bool) -> None:
        bucket = self.cached if was_cached else self.computed
        bucket[proxy] = bucket.get(proxy, 0) + 1
        if not was_cached:
            self.training_steps += int(measurement.details.get("training_steps", 0))

    def to_dict(self) -> dict[str, object]:
        return {
            "computed": self.computed,
            "cached": self.cached,
            "training_steps": self.training_steps,
            "seconds": {key: round(value, 3) for key, value in self.seconds.items()},
        }


class Evaluator:
    """The proxies of a search, keyed by objective name, evaluated through one cache."""

    def __init__(
        self,
        proxies: dict[str, Proxy],
        cache: MeasurementCache | None,
        *,
        refresh: frozenset[str] = frozenset(),
    ) -> None:
        self.proxies = proxies
        self.cache = cache
        self.refresh = refresh
        self.cost = Cost()
        self._refreshed: set[tuple[str, str]] = set()

    def measure(self, objective: str, architecture: Architecture) -> Measurement:
        """One objective of one architecture; cached values are reused unless refreshed."""
        proxy = self.proxies[objective]
        # `--remeasure` re-measures each architecture once per run, not at every call.
        marker = (objective, architecture.id)
        force = objective in self.refresh and marker not in self._refreshed
        # A proxy that keeps its own store (the study's latency table) needs no disk cache.
        cache = None if getattr(proxy, "stores_itself", False) else self.cache
        measurement, was_cached = lookup_or_measure(proxy, architecture, cache, refresh=force)
        self._refreshed.add(marker)
        self.cost.add(objective, measurement, was_cached=was_cached)
        return measurement

    def measure_all(self, architecture: Architecture) -> dict[str, Measurement]:
        return {objective: self.measure(objective, architecture) for objective in self.proxies}

    def provenance(self) -> dict[str, object]:
        return {name: proxy.provenance() for name, proxy in self.proxies.items()}
