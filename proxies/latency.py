"""Inference latency i(ξ) of a candidate: measured on this machine, or predicted from a layer table.

Why two methods: Bort's claim is speed on a CPU, so the number must come from real forward passes
of transformers' `BertModel` on the user's hardware (`MeasuredLatencyProxy`, ~1 s per bert-large
candidate). Scoring a whole space that way takes minutes, so `PredictedLatencyProxy`
(`latency_table.py`) exploits the AB^nC structure instead: it times each distinct encoder layer
once, plus the embeddings and pooler per H, all interleaved in rounds with a few full models, and
maps `D x layer + overhead` onto the full models with a robust fit whose quality is checked.

This module holds what both share: the settings (the fidelity of a latency), the hardware
fingerprint that keys every value, and how a model is built and fed. How timing itself is done
(threads, warm-up, rounds, the contention probe) is in `timing.py`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import platform
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bortnas.core.checks import positive_float, positive_int
from bortnas.core.device import resolve_device
from bortnas.core.errors import BortnasError

from .base import Measurement, Proxy
from .onnx_runtime import onnx_runner, onnx_versions
from .timing import time_callable, warm_up_process

if TYPE_CHECKING:
    import torch

    from bortnas.core.architecture import Architecture

#: Weights are drawn from one seeded pool of this many normal values, tiled over every parameter:
#: timing does not depend on the values, and drawing BERT-large's 335 M normals costs seconds.
_POOL_SIZE = 1 << 20
METHODS = ("measured", "predicted")
#: How a timed model runs: PyTorch eager, or exported to ONNX and run by ONNX Runtime (CPU).
RUNTIMES = ("eager", "onnxruntime")


class LatencyError(BortnasError, ValueError):
    """A latency setting that cannot be used (bad knob, unavailable device, sequence too long)."""


def check_positive_int(name: str, value: object) -> int:
    return positive_int(name, value, LatencyError)


@lru_cache(maxsize=1)
def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as stream:
        for line in stream:
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def hardware_fingerprint(
    device: str, threads: int, batch_size: int, sequence_length: int
) -> dict[str, Any]:
    """What a latency depends on besides the architecture: hardware, libraries and input shape."""
    import torch
    import transformers

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    device_name = _cpu_model() if device == "cpu" else torch.cuda.get_device_name(device)
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "machine": platform.machine(),
        "threads": threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": device,
        "device_name": device_name,
        "batch_size": batch_size,
        "sequence_length": sequence_length,
    }


def random_weights(module: torch.nn.Module, device: str, seed: int = 0) -> torch.nn.Module:
    """Allocate `module` (built on the meta device) on `device` and fill it with random values.

    Why not the usual init: initialising BERT-large's weights draws 335 M normals (seconds on two
    cores); tiling a seeded pool costs a memory copy and times the same. Buffers (position ids,
    token types) are rebuilt by hand: this is why only modules with known buffers are accepted.
    """
    import torch

    module = module.to_empty(device=device)
    pool = torch.randn(_POOL_SIZE, generator=torch.Generator().manual_seed(seed)).mul_(0.02)
    pool = pool.to(device)
    with torch.no_grad():
        for parameter in module.parameters():
            flat = parameter.view(-1)
            for start in range(0, flat.numel(), _POOL_SIZE):
                stop = min(start + _POOL_SIZE, flat.numel())
                flat[start:stop].copy_(pool[: stop - start])
        for name, buffer in module.named_buffers():
            if name.endswith("position_ids"):
                buffer.copy_(torch.arange(buffer.shape[-1], device=device).expand_as(buffer))
            elif name.endswith("token_type_ids"):
                buffer.zero_()
            else:  # an internal bug, not a user mistake: a new transformers buffer to rebuild
                raise RuntimeError(f"random_weights does not know how to fill buffer {name!r}")
    return module.eval()


def build_model(architecture: Architecture, device: str, **overrides: Any) -> torch.nn.Module:
    """`transformers.BertModel` of `architecture` on `device`, random weights, eval mode."""
    import torch
    from transformers import BertModel

    with torch.device("meta"):
        model = BertModel(architecture.to_bert_config(**overrides))
    return random_weights(model, device)


def model_inputs(
    architecture: Architecture, batch_size: int, sequence_length: int, device: str
) -> dict[str, torch.Tensor]:
    """Real-shaped random token ids and a full attention mask, as a tokenizer would produce."""
    import torch

    if sequence_length > architecture.max_positions:
        raise LatencyError(
            f"sequence length {sequence_length} exceeds {architecture.name}'s "
            f"{architecture.max_positions} positions"
        )
    generator = torch.Generator().manual_seed(1)
    shape = (batch_size, sequence_length)
    ids = torch.randint(0, architecture.vocab_size, shape, generator=generator)
    return {
        "input_ids": ids.to(device),
        "attention_mask": torch.ones(shape, dtype=torch.long, device=device),
    }


class LatencySettings:
    """The knobs shared by both latency proxies, validated once (the fidelity of a latency)."""

    def __init__(
        self,
        *,
        batch_size: int,
        sequence_length: int,
        device: str,
        threads: int | None,
        warmup: int,
        repeat: int,
        min_run_time: float,
        runtime: str = "eager",
    ) -> None:
        import torch

        if runtime not in RUNTIMES:
            expected = ", ".join(RUNTIMES)
            raise LatencyError(f"unknown runtime {runtime!r}; expected one of {expected}")
        cpu_only = "runtime 'onnxruntime' times on the CPU provider; use device 'cpu'"
        if runtime == "onnxruntime" and device not in ("cpu", "auto"):
            raise LatencyError(cpu_only)
        self.runtime = runtime
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.device = resolve_device(device)
        self.threads = check_positive_int(
            "threads", torch.get_num_threads() if threads is None else threads
        )
        self.warmup = check_positive_int("warmup", warmup)
        self.repeat = check_positive_int("repeat", repeat)
        self.min_run_time = positive_float("min_run_time", min_run_time, LatencyError)
        self.fingerprint = hardware_fingerprint(
            self.device, self.threads, self.batch_size, self.sequence_length
        )
        if runtime == "onnxruntime":  # eager keys stay as they were: existing caches stay valid
            if self.device != "cpu":  # 'auto' found a GPU
                raise LatencyError(cpu_only)
            self.fingerprint |= onnx_versions()

    def knobs(self) -> dict[str, Any]:
        return {"warmup": self.warmup, "repeat": self.repeat, "min_run_time": self.min_run_time}

    def with_min_run_time(self, min_run_time: float) -> LatencySettings:
        """The same settings timed for at least `min_run_time` seconds per repeat."""
        settings = copy.copy(self)
        settings.min_run_time = positive_float("min_run_time", min_run_time, LatencyError)
        return settings

    def runner(self, module: Any, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        """`module(*args, **kwargs)` as one call in this settings' runtime (eager or ONNX)."""
        if self.runtime == "onnxruntime":
            return onnx_runner(module, args, kwargs, self.threads)
        return lambda: module(*args, **kwargs)

    def warm_up(self) -> None:
        """Once per process and device: a throw-away model, since the first one timed runs slow."""
        from bortnas.core.architecture import Architecture

        def throw_away() -> tuple[Any, dict[str, Any]]:
            arch = Architecture(depth=2, heads=8, hidden=512, intermediate=2048, vocab_size=1024)
            return build_model(arch, self.device), model_inputs(arch, 1, 128, self.device)

        warm_up_process(self.device, self.threads, throw_away)

    def time_module(self, module: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        """Time `module(*args, **kwargs)` alone in this settings' runtime (median of runs)."""
        run = self.runner(module, *args, **kwargs)
        self.warm_up()
        return time_callable(
            run,
            device=self.device,
            threads=self.threads,
            warmup=self.warmup,
            repeat=self.repeat,
            min_run_time=self.min_run_time,
        )


class MeasuredLatencyProxy(Proxy):
    """Median forward latency of the full `BertModel` (random weights) on this machine, in ms.

    Defaults: batch 1, sequence 128, CPU, all of torch's threads.
    """

    name = "latency"
    unit = "ms"
    cost = "about 1 s per bert-large candidate (model build, warm-up, timed runs)"

    def __init__(
        self,
        *,
        batch_size: int = 1,
        sequence_length: int = 128,
        device: str = "cpu",
        threads: int | None = None,
        warmup: int = 2,
        repeat: int = 5,
        min_run_time: float = 0.3,
        runtime: str = "eager",
    ) -> None:
        self.settings = LatencySettings(
            batch_size=batch_size,
            sequence_length=sequence_length,
            device=device,
            threads=threads,
            warmup=warmup,
            repeat=repeat,
            min_run_time=min_run_time,
            runtime=runtime,
        )

    @property
    def quality(self) -> dict[str, Any]:
        """No calibration to check (every candidate is timed), but the machine's load is told."""
        from .timing import contention_probe

        probe = contention_probe(self.settings.threads, [])
        return {"fit": None, "passed": True, "reasons": [], "probe": probe}

    def provenance(self) -> dict[str, Any]:
        return {
            **self.settings.fingerprint,
            "method": "measured",
            **self.settings.knobs(),
            "model": "transformers.BertModel (random weights, with pooler)",
        }

    def evaluate(self, architecture: Architecture) -> Measurement:
        s = self.settings
        inputs = model_inputs(architecture, s.batch_size, s.sequence_length, s.device)
        started = time.perf_counter()
        model = build_model(architecture, s.device)
        built = time.perf_counter()
        timing = s.time_module(model, **inputs)
        return Measurement(
            proxy=self.name,
            value=timing["median_ms"],
            unit=self.unit,
            spread=timing["iqr_ms"],
            details={
                **timing,
                "spread_kind": "IQR",
                "build_seconds": round(built - started, 3),
                "seconds": round(time.perf_counter() - started, 3),
            },
            provenance=self.provenance(),
        )
