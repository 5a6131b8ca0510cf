"""Predicted latency: a per-layer lookup table plus an affine calibration against full measurements.

Why it works: a BERT encoder is embeddings, D identical layers and a pooler (the AB^nC structure of
the paper), so its forward time is close to `D x t_layer(H, A, I) + t_overhead(H)`. The bert-large
space has only 70 distinct layers and 3 hidden sizes: timing those once (~25 s on two cores) lets
the whole space of 630 candidates be scored by lookups. What the sum misses (the cost of calling
the model, memory effects of a deep stack, timing drift) is absorbed by an affine fit
`measured ~ slope x sum + intercept` on a few full measurements spread over the space.

Calibration set: `calibration_size` candidates of the space at evenly spaced ranks of their
encoder parameter count, from the 5th to the 90th percentile. Ranking by parameters needs no
timing, covers small and large models, and skips the most expensive ones (an affine fit
extrapolates well, and each of them costs seconds to time). The space is
the `space` given to the constructor (a `SearchSpace`, its name, or a list of architectures),
else `bert-large`; `calibrate(architectures)` sets the calibration set explicitly.

Caching: layer timings, overheads and the calibration's full measurements all go through a
`MeasurementCache`, keyed by the hardware fingerprint and the knobs, so a second process re-uses
them. `refresh=True` re-times each of them once in this proxy's life (`--remeasure`).

Why table entries use the fastest timed run, not the median: the entries are timed one after the
other while other work comes and goes on a shared machine, and contention only ever adds time, so
the minimum is the figure least disturbed by when an entry happened to be timed. The calibration
maps the sum onto medians of full measurements, so predictions are medians all the same.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np

from bortnas.core.architecture import Architecture, count_parameters

from .base import Measurement, MeasurementCache, Proxy, evaluate_cached
from .latency import (
    METHODS,
    LatencyError,
    MeasuredLatencyProxy,
    check_positive_int,
    model_inputs,
    random_weights,
)

DEFAULT_SPACE = "bert-large"


def fit_affine(raw: Sequence[float], measured: Sequence[float]) -> tuple[float, float]:
    """Least-squares `measured ~ slope x raw + intercept`; proportional when the fit is unphysical.

    A non-positive slope would invert the ranking; it only happens when noise swamps a set of
    near-identical calibration points. A negative intercept is unphysical too: the raw sum already
    counts every layer and the embeddings and pooler, so what it misses can only add time. It comes
    from one disturbed timing (measured: a table entry timed 118 ms against a 73 ms model, giving
    intercept -14 ms), and it predicts negative latencies for the smallest candidates of the space.
    In both cases a fit through the origin is the safe fallback.
    """
    x = np.asarray(raw, dtype=float)
    y = np.asarray(measured, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0:
        raise LatencyError("calibration needs at least two architectures of different latency")
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0 or intercept < 0:
        warnings.warn(
            f"latency calibration slope {slope:.3g}, intercept {intercept:.3g} ms: "
            "fitting a proportional model instead (a timing was likely disturbed)",
            stacklevel=2,
        )
        return float(x @ y / (x @ x)), 0.0
    return float(slope), float(intercept)


def pick_calibration(candidates: Iterable[Architecture], size: int) -> list[Architecture]:
    """`size` distinct candidates at evenly spaced ranks (5th-90th percentile) of encoder size."""
    ranked = sorted(
        set(candidates), key=lambda a: (count_parameters(a).without_embeddings, a.shape)
    )
    if len(ranked) < 2:
        raise LatencyError("calibration needs a space with at least two architectures")
    picks = np.linspace(0.05, 0.9, min(size, len(ranked))) * (len(ranked) - 1)
    return sorted({ranked[round(p)] for p in picks})


def _key(kind: str, payload: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return f"latency-{kind}-{digest[:24]}"


class PredictedLatencyProxy(Proxy):
    """Latency predicted as `slope x (D x t_layer(H, A, I) + t_overhead(H)) + intercept`, in ms.

    Same name and unit as `MeasuredLatencyProxy`, so either can fill the latency objective;
    `provenance()["method"]` tells them apart (and keeps their cache entries apart).
    """

    name = "latency"
    unit = "ms"
    cost = "one layer timing per distinct (H, A, I) and a few full measurements, then ~free"

    def __init__(
        self,
        *,
        space: Any = None,
        calibration_size: int = 5,
        batch_size: int = 1,
        sequence_length: int = 128,
        device: str = "cpu",
        threads: int | None = None,
        warmup: int = 2,
        repeat: int = 5,
        min_run_time: float = 0.1,
        cache: MeasurementCache | None | Literal["default"] = "default",
        refresh: bool = False,
        runtime: str = "eager",
    ) -> None:
        # Full measurements share the measured proxy's knobs and cache entries; the per-layer
        # table differs only in how long each repeat runs.
        self.measured = MeasuredLatencyProxy(
            batch_size=batch_size,
            sequence_length=sequence_length,
            device=device,
            threads=threads,
            warmup=warmup,
            repeat=repeat,
            runtime=runtime,
        )
        self.settings = self.measured.settings.with_min_run_time(min_run_time)
        self.calibration_size = check_positive_int("calibration_size", calibration_size)
        if self.calibration_size < 2:
            raise LatencyError("calibration_size must be at least 2 (an affine fit has 2 terms)")
        self.space = space
        self.cache = MeasurementCache() if cache == "default" else cache
        self.refresh = bool(refresh)
        self._calibration_set: list[Architecture] | None = None
        self._calibration: dict[str, Any] | None = None
        self._table: dict[str, Measurement] = {}

    # -- what the values depend on ---------------------------------------------------------

    def calibration_set(self) -> list[Architecture]:
        """The architectures the affine fit uses (chosen from the space, without timing)."""
        if self._calibration_set is None:
            space = self.space if self.space is not None else DEFAULT_SPACE
            if isinstance(space, str):
                from bortnas.search_spaces import load_space

                space = load_space(space)
            candidates = getattr(space, "candidates", space)
            self._calibration_set = pick_calibration(candidates, self.calibration_size)
        return self._calibration_set

    def _base(self) -> dict[str, Any]:
        return {**self.settings.fingerprint, **self.settings.knobs()}

    def provenance(self) -> dict[str, Any]:
        return {
            **self._base(),
            "method": "predicted",
            "calibration_set": sorted(a.id for a in self.calibration_set()),
            "model": "transformers.BertModel (random weights, with pooler)",
        }

    # -- the table ----------------------------------------------------------------------------

    def _cached(self, key: str, compute: Any) -> Measurement:
        """One table entry: from memory, else the disk cache (unless refreshing), else timed."""
        if key in self._table:
            return self._table[key]
        entry = None if self.refresh or self.cache is None else self.cache.get(key)
        if entry is None:
            entry = compute()
            if self.cache is not None:
                self.cache.put(key, entry)
        self._table[key] = entry
        return entry

    def layer_time(self, hidden: int, heads: int, intermediate: int) -> Measurement:
        """Median time (ms) of one `BertLayer` of shape (H, A, I) at the batch and sequence."""
        shape = {"hidden": hidden, "heads": heads, "intermediate": intermediate}
        key = _key("layer", {**self._base(), **shape})
        return self._cached(key, lambda: self._time_layer(hidden, heads, intermediate))

    def _time_layer(self, hidden: int, heads: int, intermediate: int) -> Measurement:
        import torch
        from transformers import BertModel

        s = self.settings
        arch = Architecture(depth=1, heads=heads, hidden=hidden, intermediate=intermediate)
        # Take the layer from a (meta) BertModel so that it gets the model's attention kernel.
        with torch.device("meta"):
            layer = BertModel(arch.to_bert_config()).encoder.layer[0]
        layer = random_weights(layer, s.device)
        states = torch.randn(s.batch_size, s.sequence_length, hidden, device=s.device)
        # With a full attention mask, BertModel hands its layers no mask (SDPA): do the same.
        timing = s.time_module(layer, states)
        return Measurement(
            proxy="latency-layer",
            value=timing["min_ms"],
            unit="ms",
            spread=timing["iqr_ms"],
            details={**timing, "shape": [hidden, heads, intermediate]},
            provenance=self._base(),
        )

    def overhead_time(self, architecture: Architecture) -> Measurement:
        """Median time (ms) of the model without layers: embeddings, mask, pooler (depends on H)."""
        context = {
            "hidden": architecture.hidden,
            "vocab_size": architecture.vocab_size,
            "max_positions": architecture.max_positions,
            "type_vocab_size": architecture.type_vocab_size,
        }
        key = _key("overhead", {**self._base(), **context})
        return self._cached(key, lambda: self._time_overhead(architecture))

    def _time_overhead(self, architecture: Architecture) -> Measurement:
        import torch
        from transformers import BertModel

        s = self.settings
        with torch.device("meta"):
            model = BertModel(architecture.to_bert_config(num_hidden_layers=0))
        model = random_weights(model, s.device)
        inputs = model_inputs(architecture, s.batch_size, s.sequence_length, s.device)
        timing = s.time_module(model, **inputs)
        return Measurement(
            proxy="latency-overhead",
            value=timing["min_ms"],
            unit="ms",
            spread=timing["iqr_ms"],
            details=timing,
            provenance=self._base(),
        )

    def raw_prediction(self, architecture: Architecture) -> float:
        """`D x t_layer + t_overhead` in ms, before calibration."""
        a = architecture
        layer = self.layer_time(a.hidden, a.heads, a.intermediate).value
        return a.depth * layer + self.overhead_time(a).value

    # -- calibration --------------------------------------------------------------------------

    def calibrate(self, architectures: Sequence[Architecture] | None = None) -> dict[str, Any]:
        """Fit the affine correction on full measurements of `architectures` (default: the set
        picked from the space). Cached on disk under the fingerprint and the set's ids."""
        if architectures is not None:
            self._calibration_set = sorted(set(architectures))
            self._calibration = None
        archs = self.calibration_set()
        key = _key("calibration", {**self._base(), "set": sorted(a.id for a in archs)})

        def compute() -> Measurement:
            raw = [self.raw_prediction(a) for a in archs]
            measured = [
                evaluate_cached(self.measured, a, self.cache, refresh=self.refresh).value
                for a in archs
            ]
            slope, intercept = fit_affine(raw, measured)
            residual = np.asarray(measured) - (slope * np.asarray(raw) + intercept)
            return Measurement(
                proxy="latency-calibration",
                value=slope,
                unit="ms/ms",
                spread=float(np.sqrt(np.mean(residual**2))),
                details={
                    "slope": slope,
                    "intercept": intercept,
                    "raw_ms": raw,
                    "measured_ms": measured,
                    "architectures": [a.name for a in archs],
                },
                provenance=self._base(),
            )

        entry = self._cached(key, compute)
        self._calibration = {**entry.details, "rms_ms": entry.spread}
        return self._calibration

    def evaluate(self, architecture: Architecture) -> Measurement:
        calibration = self._calibration or self.calibrate()
        raw = self.raw_prediction(architecture)
        value = calibration["slope"] * raw + calibration["intercept"]
        return Measurement(
            proxy=self.name,
            value=float(value),
            unit=self.unit,
            spread=calibration["rms_ms"],
            details={
                "raw_ms": raw,
                "slope": calibration["slope"],
                "intercept": calibration["intercept"],
                "spread_kind": "calibration RMS residual",
                "layer_ms": self.layer_time(
                    architecture.hidden, architecture.heads, architecture.intermediate
                ).value,
                "overhead_ms": self.overhead_time(architecture).value,
            },
            provenance=self.provenance(),
        )


def make_latency_proxy(method: str = "measured", **knobs: Any) -> Proxy:
    """The latency proxy for `method` ("measured" or "predicted"), built with `knobs`."""
    if method == "measured":
        return MeasuredLatencyProxy(**knobs)
    if method == "predicted":
        return PredictedLatencyProxy(**knobs)
    raise LatencyError(f"unknown latency method {method!r}; expected one of {', '.join(METHODS)}")
