"""Latency measured once per study and stored in it, so every worker and machine uses one table.

Why: a latency is a property of the hardware that measured it. If each worker timed its own
candidates, one table would mix calibrations (and machines), and timing noise between processes
would decide close W-coefficients. So the first process of a study measures i for the whole
space (and T) in a quiet phase, before any training, and stores the values as a *latency epoch*
in the study's user attributes; every later process, worker or re-run reads them from there.
`--remeasure` starts a new epoch explicitly; the report names the epoch it used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import optuna

from bortnas.proxies.base import Measurement, Proxy

from ..core.architecture import Architecture

CURRENT = "latency_epoch"


def _key(epoch: int) -> str:
    return f"latency_epoch_{epoch}"


def current_epoch(study: optuna.Study) -> int:
    return int(study.user_attrs.get(CURRENT, 0))


def load_epoch(study: optuna.Study, epoch: int) -> dict[str, Any]:
    return dict(study.user_attrs.get(_key(epoch), {}))


def store_epoch(
    study: optuna.Study,
    epoch: int,
    values: dict[str, list[float]],
    measured_on: dict[str, Any],
    quality: dict[str, Any] | None = None,
) -> None:
    """Write (or extend) an epoch; the pointer to the current epoch moves only forward."""
    record = {"values": values, "measured_on": measured_on, "quality": quality}
    study.set_user_attr(_key(epoch), record)
    if current_epoch(study) < epoch:
        study.set_user_attr(CURRENT, epoch)


class StudyLatency(Proxy):
    """The latency objective read from the study's epoch table; measured on a miss and added."""

    name = "latency"
    unit = "ms"
    cost = "free: read from the study (measured once per study)"
    stores_itself = True

    def __init__(
        self,
        measure: Proxy,
        epoch: int,
        values: dict[str, list[float]],
        quality: dict[str, Any] | None = None,
    ) -> None:
        self.measure = measure
        self.epoch = epoch
        self.values = values
        #: How trustworthy the epoch's timings are: the calibration and the contention probe.
        self.quality = quality

    def provenance(self) -> dict[str, Any]:
        return {"latency_epoch": self.epoch, "method": self.measure.provenance().get("method")}

    def sync(self, study: optuna.Study, measured_on: dict[str, Any] | None = None) -> None:
        """Merge with the epoch as stored: the stored values win (another process may have
        written the epoch first), and only what this process measured beyond them is written."""
        stored = load_epoch(study, self.epoch)
        values = dict(stored.get("values", {}))
        missing = {key: value for key, value in self.values.items() if key not in values}
        if missing:
            values.update(missing)
            store_epoch(
                study,
                self.epoch,
                values,
                stored.get("measured_on", measured_on or {}),
                stored.get("quality", self.quality),
            )
        self.values.update(values)
        self.quality = stored.get("quality", self.quality)

    def evaluate(self, architecture: Architecture) -> Measurement:
        entry = self.values.get(architecture.id)
        if entry is None:
            measured = self.measure.evaluate(architecture)
            entry = [measured.value, measured.spread or 0.0]
            self.values[architecture.id] = entry
        return Measurement(
            self.name,
            float(entry[0]),
            self.unit,
            spread=float(entry[1]),
            details={"latency_epoch": self.epoch},
            provenance=self.provenance(),
        )


def study_latency(
    study: optuna.Study,
    measure: Callable[[Architecture], Measurement],
    proxy: Proxy,
    architectures: Iterable[Architecture],
    *,
    remeasure: bool,
    measured_on: dict[str, Any],
    on_progress: Callable[[int, int], None] | None = None,
) -> StudyLatency:
    """The study's latency table for `architectures`: read, completed, or a new epoch measured.

    An epoch timed by another scheme (`measured_on["scheme"]`) is never mixed with this one: a
    new epoch starts, as with `--remeasure`. A proxy with a table (`prepare`) times everything
    missing in one go, in interleaved rounds, before the values are read off it.
    """
    wanted = list(dict.fromkeys(architectures))
    epoch = current_epoch(study)
    stored = load_epoch(study, epoch) if epoch else {}
    scheme = measured_on.get("scheme")
    if remeasure or not epoch or stored.get("measured_on", {}).get("scheme") != scheme:
        epoch, stored = epoch + 1, {}
    values: dict[str, list[float]] = dict(stored.get("values", {}))
    quality = stored.get("quality")
    missing = [a for a in wanted if a.id not in values]
    prepare = getattr(proxy, "prepare", None)
    if missing and prepare is not None:
        proxy.on_round = on_progress  # type: ignore[attr-defined]
        quality = prepare(missing)
    for done, architecture in enumerate(missing, 1):
        measured = measure(architecture)
        values[architecture.id] = [measured.value, measured.spread or 0.0]
        if on_progress is not None and prepare is None:
            on_progress(done, len(missing))
    if missing and prepare is None:
        quality = getattr(proxy, "quality", None)
    latency = StudyLatency(proxy, epoch, values, quality)
    latency.sync(study, measured_on)  # another process may have written the epoch meanwhile
    return latency
