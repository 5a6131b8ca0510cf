"""Predicted latency: a per-layer table and a few full models, timed together, with a checked fit.

Why it works: a BERT encoder is embeddings, D identical layers and a pooler (the AB^nC structure of
the paper), so its forward time is close to `D x t_layer(H, A, I) + t_overhead(H)`. The bert-large
space has 50 distinct layers and 3 hidden sizes: timing those lets all 300 candidates be scored
by lookups. What the sum misses is absorbed by `scale x sum^exponent`, fitted robustly on a
few full models that span the space, its smallest and largest included (`latency_calibration`).

Why one table timed at once: every entry (layers, overheads, the calibration's full models) is
timed in interleaved rounds and keeps its fastest call (`timing.time_in_rounds`), so drift and
contention hit all entries alike instead of whichever happened to be timed during a burst. The
table covers the whole space (`space`) plus the architectures passed to `prepare`, and is cached
as one record keyed by the hardware fingerprint, the knobs and its entries. When the calibration
fails its gate, the table is timed for more rounds (`retimings` times); a gate still failed is
kept in `quality` with its reasons, for the search to report.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np

from bortnas.core.architecture import Architecture, count_parameters
from bortnas.core.files import content_digest

from .base import Measurement, MeasurementCache, Proxy
from .latency import (
    METHODS,
    LatencyError,
    LatencySettings,
    MeasuredLatencyProxy,
    check_positive_int,
    model_inputs,
    random_weights,
)
from .latency_calibration import assess_calibration, predict
from .timing import contention_probe, time_in_rounds, usable_threads

DEFAULT_SPACE = "bert-large"
#: Bumped when the timing scheme changes, so that no cache or study mixes two schemes.
SCHEME = "rounds-2"


def pick_calibration(candidates: Iterable[Architecture], size: int) -> list[Architecture]:
    """`size` distinct candidates at evenly spaced ranks of encoder size, smallest and largest
    included: the fit then interpolates over the whole space instead of extrapolating."""
    ranked = sorted(
        set(candidates), key=lambda a: (count_parameters(a).without_embeddings, a.shape)
    )
    if len(ranked) < 2:
        raise LatencyError("calibration needs a space with at least two architectures")
    picks = np.linspace(0.0, 1.0, min(size, len(ranked))) * (len(ranked) - 1)
    return sorted({ranked[round(p)] for p in picks})


def layer_key(a: Architecture) -> str:
    return f"layer:{a.hidden}-{a.heads}-{a.intermediate}"


def overhead_key(a: Architecture) -> str:
    return f"overhead:{a.hidden}-{a.vocab_size}-{a.max_positions}-{a.type_vocab_size}"


def model_key(a: Architecture) -> str:
    return f"model:{a.id}"


class PredictedLatencyProxy(Proxy):
    """Latency predicted as `scale x (D x t_layer(H, A, I) + t_overhead(H))^exponent`, in ms.

    Same name and unit as `MeasuredLatencyProxy`, so either can fill the latency objective;
    `provenance()["method"]` tells them apart (and keeps their cache entries apart).
    """

    name = "latency"
    unit = "ms"
    cost = "one timing of each distinct layer and a few full models, in rounds; then ~free"

    def __init__(
        self,
        *,
        space: Any = None,
        calibration_size: int = 7,
        batch_size: int = 1,
        sequence_length: int = 128,
        device: str = "cpu",
        threads: int | None = None,
        warmup: int = 2,
        rounds: int = 6,
        retimings: int = 2,
        patience_s: float = 20.0,
        cache: MeasurementCache | None | Literal["default"] = "default",
        refresh: bool = False,
        runtime: str = "eager",
    ) -> None:
        self.settings = LatencySettings(
            batch_size=batch_size,
            sequence_length=sequence_length,
            device=device,
            threads=threads,
            warmup=warmup,
            repeat=1,
            min_run_time=0.1,
            runtime=runtime,
        )
        self.calibration_size = check_positive_int("calibration_size", calibration_size)
        if self.calibration_size < 2:
            raise LatencyError("calibration_size must be at least 2 (an affine fit has 2 terms)")
        self.rounds = check_positive_int("rounds", rounds)
        if isinstance(retimings, bool) or not isinstance(retimings, int) or retimings < 0:
            raise LatencyError(f"retimings must be a whole number >= 0, got {retimings!r}")
        self.retimings = retimings
        #: How long to wait for a busy machine to quieten before timing on its free cores.
        self.patience_s = patience_s
        self.space = space
        self.cache = MeasurementCache() if cache == "default" else cache
        self.refresh = bool(refresh)
        self._calibration_set: list[Architecture] | None = None
        self._candidates: list[Architecture] | None = None
        self._entries: dict[str, dict[str, float]] = {}
        self.quality: dict[str, Any] | None = None
        #: Called with (round, rounds) while the table is timed (the search's progress bar).
        self.on_round: Callable[[int, int], None] | None = None

    # -- what the values depend on ---------------------------------------------------------

    def _space_candidates(self) -> list[Architecture]:
        """The space's candidates, loaded once (a space given by name is read from its file)."""
        if self._candidates is None:
            space = self.space if self.space is not None else DEFAULT_SPACE
            if isinstance(space, str):
                from bortnas.search_spaces import load_space

                space = load_space(space)
            self._candidates = list(getattr(space, "candidates", space))
        return self._candidates

    def calibration_set(self) -> list[Architecture]:
        """The full models the fit uses (chosen from the space by size, without timing)."""
        if self._calibration_set is None:
            self._calibration_set = pick_calibration(
                self._space_candidates(), self.calibration_size
            )
        return self._calibration_set

    def _base(self) -> dict[str, Any]:
        return {
            **self.settings.fingerprint,
            "warmup": self.settings.warmup,
            "scheme": SCHEME,
            "rounds": self.rounds,
        }

    def provenance(self) -> dict[str, Any]:
        return {
            **self._base(),
            "method": "predicted",
            "calibration_set": sorted(a.id for a in self.calibration_set()),
            "model": "transformers.BertModel (random weights, with pooler)",
        }

    # -- the table ----------------------------------------------------------------------------

    def _needed(self, architectures: Iterable[Architecture]) -> dict[str, Architecture]:
        """Table entry -> an architecture that has it: layers, overheads, calibration models."""
        needed: dict[str, Architecture] = {}
        for a in [*self._space_candidates(), *architectures]:
            needed.setdefault(layer_key(a), a)
            needed.setdefault(overhead_key(a), a)
        for a in self.calibration_set():
            needed[model_key(a)] = a
        return needed

    def _runner(self, key: str, architecture: Architecture) -> Callable[[], Any]:
        """A call of one table entry: an encoder layer, the model without layers, or a model."""
        import torch
        from transformers import BertModel

        s = self.settings
        if key.startswith("layer:"):
            # Taken from a (meta) BertModel so that it gets the model's attention kernel; with a
            # full attention mask, BertModel hands its layers no mask (SDPA): do the same.
            single = architecture.with_shape(depth=1)
            with torch.device("meta"):
                layer = BertModel(single.to_bert_config()).encoder.layer[0]
            layer = random_weights(layer, s.device)
            states = torch.randn(s.batch_size, s.sequence_length, architecture.hidden)
            return s.runner(layer, states.to(s.device))
        depth = 0 if key.startswith("overhead:") else architecture.depth
        with torch.device("meta"):
            model = BertModel(architecture.to_bert_config(num_hidden_layers=depth))
        model = random_weights(model, s.device)
        inputs = model_inputs(architecture, s.batch_size, s.sequence_length, s.device)
        return s.runner(model, **inputs)

    def _time(
        self, needed: dict[str, Architecture], rounds: int, threads: int | None = None
    ) -> tuple[dict, list[float]]:
        """Time `needed` in interleaved rounds; returns per-entry timings and the probe's rounds.
        (Tests override this to feed known or disturbed timings.)"""
        self.settings.warm_up()
        runs = {key: self._runner(key, a) for key, a in needed.items()}
        timings, probes = time_in_rounds(
            runs,
            device=self.settings.device,
            threads=threads or self.settings.threads,
            warmup=self.settings.warmup,
            rounds=rounds,
            on_round=self.on_round,
        )
        return {key: t.to_dict() for key, t in timings.items()}, probes

    def _table_key(self, keys: Sequence[str]) -> str:
        calibration = sorted(a.id for a in self.calibration_set())
        payload = {**self._base(), "entries": sorted(keys), "calibration_set": calibration}
        return f"latency-table-{content_digest(payload, 24)}"

    def prepare(self, architectures: Iterable[Architecture] = ()) -> dict[str, Any]:
        """Make sure the table covers the space, `architectures` and the calibration; returns the
        calibration's quality record. Times (or reads from the cache) only what is missing."""
        needed = self._needed(architectures)
        missing = {key: a for key, a in needed.items() if key not in self._entries}
        if not missing and self.quality is not None:
            return self.quality
        key = self._table_key(list(needed))
        cached = None if self.refresh or self.cache is None else self.cache.get(key)
        if cached is not None:
            self._entries.update(cached.details["entries"])
            self.quality = cached.details["quality"]
            return self.quality
        self.refresh = False  # `--remeasure` re-times once in this proxy's life
        if self.quality is None:
            self._measure(needed)
        else:  # a few entries beyond a calibrated table (an outside reference): time only them
            threads = self.quality.get("threads_used", self.settings.threads)
            self._merge(self._time(missing, self.rounds, threads)[0])
        if self.cache is not None and self.quality.get("threads_used") == self.settings.threads:
            # A table timed on fewer threads (a busy machine) is not kept as this knob's table:
            # the next run times it again, hopefully on a quiet machine.
            entries = {k: self._entries[k] for k in needed}
            record = {"entries": entries, "quality": self.quality}
            self.cache.put(
                key, Measurement("latency-table", len(entries), "entries", details=record)
            )
        return self.quality  # type: ignore[return-value]

    def _measure(self, entries: dict[str, Architecture]) -> None:
        """Time `entries` in rounds, fit the calibration, and re-time while its gate fails."""
        threads, seen = usable_threads(self.settings.threads, self.patience_s)
        all_probes: list[float] = []
        timings, probes = self._time(entries, self.rounds, threads)
        all_probes += probes
        self._merge(timings)
        quality = self._calibrate()
        retimed = 0
        while (not quality["passed"] or quality["outliers"]) and retimed < self.retimings:
            retimed += 1
            extra, probes = self._time(entries, self.rounds, threads)
            all_probes += probes
            self._merge(extra)
            quality = self._calibrate()
        quality["retimed"] = retimed
        quality["rounds"] = self.rounds * (retimed + 1)
        quality["probe"] = contention_probe(self.settings.threads, all_probes)
        quality["threads_used"] = threads
        quality["before_timing"] = seen
        if not quality["passed"]:
            warnings.warn(
                "latency calibration failed its quality gate after "
                f"{retimed} re-timing(s): {'; '.join(quality['reasons'])}; the machine was "
                + ("busy" if quality["probe"]["busy"] else "unsteady")
                + " (latency ratios may be off: re-run with --remeasure on a quiet machine)",
                stacklevel=2,
            )
        self.quality = quality

    def _merge(self, timings: dict[str, dict[str, float]]) -> None:
        """Keep each entry's fastest call over every round it was timed in."""
        for key, timing in timings.items():
            known = self._entries.get(key)
            if known is None or timing["min_ms"] < known["min_ms"]:
                self._entries[key] = dict(timing)

    def _calibrate(self) -> dict[str, Any]:
        archs = self.calibration_set()
        raw = [self.raw_prediction(a) for a in archs]
        measured = [self._entries[model_key(a)]["min_ms"] for a in archs]
        return assess_calibration([a.name for a in archs], raw, measured)

    def raw_prediction(self, architecture: Architecture) -> float:
        """`D x t_layer + t_overhead` in ms, before calibration."""
        layer = self._entries[layer_key(architecture)]["min_ms"]
        return architecture.depth * layer + self._entries[overhead_key(architecture)]["min_ms"]

    def calibrate(self, architectures: Sequence[Architecture] | None = None) -> dict[str, Any]:
        """The calibration's quality record (`architectures`: use them as the calibration set)."""
        if architectures is not None:
            self._calibration_set = sorted(set(architectures))
            self.quality = None
        return self.prepare()

    def evaluate(self, architecture: Architecture) -> Measurement:
        known = (
            layer_key(architecture) in self._entries and overhead_key(architecture) in self._entries
        )
        quality = self.quality if known and self.quality else self.prepare([architecture])
        raw = self.raw_prediction(architecture)
        anchors = [tuple(anchor) for anchor in quality.get("anchors", [])]
        value = predict(raw, quality["scale"], quality["exponent"], anchors)
        loo = [p["loo_relative_error"] for p in quality["points"] if p["loo_relative_error"]]
        relative = float(np.sqrt(np.mean(np.square(loo)))) if loo else 0.0
        return Measurement(
            proxy=self.name,
            value=float(value),
            unit=self.unit,
            spread=float(value * relative),
            details={
                "raw_ms": raw,
                "scale": quality["scale"],
                "exponent": quality["exponent"],
                "spread_kind": "RMS leave-one-out relative error of the calibration, x value",
                "calibration_passed": quality["passed"],
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
