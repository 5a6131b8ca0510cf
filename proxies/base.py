"""The interface every proxy implements, and the measured value it returns.

Why one interface: the optimizer, the store and the report treat parameters, latency and error
alike — a name, a unit, a cost, and `evaluate(architecture)` returning a `Measurement` that
carries what the number depends on (never a bare number). Caching is generic too:
a proxy's `provenance()` plus the architecture's id is the cache key, so changing a fidelity knob
or the hardware can never return a stale value. The `MeasurementCache` keeps one checksummed
JSON file per entry: shareable between processes without locks (all values of one key are
equivalent), and a damaged entry is discarded and recomputed, with a warning.
"""

from __future__ import annotations

import json
import os
import warnings
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from bortnas.core.errors import StoreError
from bortnas.core.files import content_digest, default_cache_dir, write_json_atomic

if TYPE_CHECKING:
    from bortnas.core.architecture import Architecture


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
        payload = {"proxy": self.name, "architecture": architecture.to_dict(), **self.provenance()}
        return f"{self.name}-{content_digest(payload, 24)}"


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


def _checksum(payload: Any) -> str:
    return content_digest(payload)


class MeasurementCache:
    """Measurements keyed by `Proxy.cache_key`, under one folder."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir() / "measurements"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.folder}: cannot create cache folder ({exc.strerror})"
            ) from None
        if not os.access(self.folder, os.W_OK):
            raise StoreError(f"{self.folder}: cache folder is not writable")

    def _path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"invalid cache key {key!r}")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Measurement | None:
        """The stored measurement, or None when absent or damaged (damaged ones are removed)."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            payload = entry["measurement"]
            if entry["sha256"] != _checksum(payload):
                raise ValueError("checksum mismatch")
            return Measurement.from_dict(payload)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            warnings.warn(
                f"discarding damaged cache entry {path} ({exc}); recomputing", stacklevel=2
            )
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, measurement: Measurement) -> None:
        payload = json.loads(json.dumps(measurement.to_dict(), default=str))
        write_json_atomic(self._path(key), {"sha256": _checksum(payload), "measurement": payload})

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))
