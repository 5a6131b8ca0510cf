"""How a forward pass is timed on a shared machine: fixed threads, warm-up, rounds, a probe.

Why rounds: on a small shared machine, other work comes and goes while a table of models is timed.
Timed one after another, a burst of contention lands on whichever entries happened to be timed
then, and the table's ratios (all that W sees of latency) shift. Timed in interleaved rounds (every
entry once per round, the rounds repeated), a burst hits every entry alike, and the lowest time
per entry over all rounds is the one least disturbed: contention only ever adds time.

Why a probe: a fixed matrix product timed at the start of every round tells the user how busy the
machine was. Its spread across rounds measures drift; its speed-up from one thread to `threads`
falls when another process holds a core (measured: about 1.8x quiet on two cores, about 1x with
one core busy). Both go into the latency's quality record, so a disturbed table is never silent.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: Target time of one entry's burst inside a round: fast entries run several calls per round so
#: that their minimum is taken over enough calls; slow ones run once.
BURST_MS = 30.0
MAX_CALLS_PER_ROUND = 8
#: The probe: a square matrix product of this size, repeated, at `threads` and at one thread.
#: Long enough (~5 ms on two cores) for a busy core to show: a shorter kernel slips in between
#: the other process's time slices (measured: a 0.3 ms probe saw no busy core at all).
PROBE_SIZE = 768
PROBE_REPEATS = 3
#: Below this share of the ideal speed-up (threads x), another process is taken to hold a core.
BUSY_SPEEDUP_SHARE = 0.7
#: Above this ratio between the slowest and the fastest probe round, the machine drifted.
DRIFT_LIMIT = 1.3

_WARM_DEVICES: set[str] = set()


@contextlib.contextmanager
def fixed_threads(threads: int) -> Iterator[None]:
    """Run with exactly `threads` intra-op threads, restoring the caller's setting afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _synchronise(device: str) -> None:
    if device != "cpu":
        import torch

        torch.cuda.synchronize(device)


def time_callable(
    run: Callable[[], Any],
    *,
    device: str,
    threads: int,
    warmup: int,
    repeat: int,
    min_run_time: float,
) -> dict[str, float]:
    """Median, IQR and minimum (ms) of `run()` after `warmup` untimed calls (one model alone).

    `blocked_autorange` keeps running until `min_run_time` seconds are spent; we stretch that to
    `repeat` times the warm-up duration so that slow models still get several timed runs.
    """
    import torch
    from torch.utils.benchmark import Timer

    with fixed_threads(threads), torch.inference_mode():
        started = time.perf_counter()
        for _ in range(warmup):
            run()
        _synchronise(device)
        per_call = (time.perf_counter() - started) / warmup
        timer = Timer(stmt="run()", globals={"run": run}, num_threads=threads)
        result = timer.blocked_autorange(min_run_time=max(min_run_time, 0.95 * repeat * per_call))
    return {
        "median_ms": result.median * 1e3,
        "iqr_ms": result.iqr * 1e3,
        "mean_ms": result.mean * 1e3,
        "min_ms": min(result.times) * 1e3,
        "runs": len(result.times),
        "calls_per_run": result.number_per_run,
    }


@dataclass(frozen=True)
class RoundTiming:
    """One entry timed in interleaved rounds: its lowest call and the spread of round minima."""

    min_ms: float
    median_round_ms: float
    spread_ms: float
    rounds: int
    calls: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _probe(threads: int) -> float:
    """Milliseconds of the fixed probe kernel at `threads` threads (lowest of a few repeats)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(PROBE_SIZE, PROBE_SIZE, generator=generator)
    best = math.inf
    with fixed_threads(threads):
        for _ in range(PROBE_REPEATS):
            started = time.perf_counter()
            torch.mm(a, a)
            best = min(best, time.perf_counter() - started)
    return best * 1e3


def _speedup(threads: int) -> tuple[float, bool, float]:
    """The probe's speed-up from one thread to `threads`, whether it shows a busy core, and the
    single-thread time (ms)."""
    single, multi = _probe(1), _probe(threads)
    speedup = single / multi if multi > 0 else 0.0
    return speedup, threads > 1 and speedup < BUSY_SPEEDUP_SHARE * threads, single


def usable_threads(threads: int, patience_s: float = 20.0) -> tuple[int, dict[str, Any]]:
    """The threads to time with: `threads` on a quiet machine; on a busy one (another process
    holds a core), wait up to `patience_s` for it to quieten, then as many threads as cores are
    free. Why: with a busy core, a multi-threaded forward pass waits at every operator for the
    thread that shares that core (measured: a sub-millisecond model timed at ~80 ms), which
    wrecks the ratios W reads; on the free cores alone the ratios stay close to the quiet ones.
    Returns the thread count and what the probe saw (for the quality record)."""
    waited = 0.0
    while True:
        speedup, busy, _ = _speedup(threads)
        if not busy or waited >= patience_s:
            break
        time.sleep(2.0)
        waited += 2.0
    free = max(1, min(threads, math.floor(speedup + 0.25))) if busy else threads
    seen = {"speedup": round(speedup, 3), "busy": busy, "waited_s": waited}
    return free, seen | {"threads_used": free}


def contention_probe(threads: int, round_probes: list[float]) -> dict[str, Any]:
    """How busy the machine was while a table was timed, from the probe kernel.

    `round_probes` are the probe's times at the start of each round (at `threads` threads); one
    more single-thread and multi-thread pair is taken now, for the speed-up.
    """
    speedup, busy, single = _speedup(threads)
    drift = max(round_probes) / min(round_probes) if round_probes else 1.0
    return {
        "kernel": f"{PROBE_SIZE}x{PROBE_SIZE} fp32 matrix product",
        "threads": threads,
        "round_ms": [round(value, 4) for value in round_probes],
        "single_thread_ms": round(single, 4),
        "speedup": round(speedup, 3),
        "drift": round(drift, 3),
        "busy": bool(busy),
        "drifted": bool(drift > DRIFT_LIMIT),
    }


def time_in_rounds(
    runs: Mapping[str, Callable[[], Any]],
    *,
    device: str,
    threads: int,
    warmup: int,
    rounds: int,
    on_round: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, RoundTiming], list[float]]:
    """Time every entry of `runs` once per round, `rounds` times; return each entry's timing and
    the probe's time at the start of each round (ms). Calls per round per entry: enough to fill
    `BURST_MS` (1 to `MAX_CALLS_PER_ROUND`), fixed after the warm-up."""
    import statistics

    import torch

    calls: dict[str, int] = {}
    per_round: dict[str, list[float]] = {key: [] for key in runs}
    probes: list[float] = []
    with fixed_threads(threads), torch.inference_mode():
        for key, run in runs.items():
            started = time.perf_counter()
            for _ in range(warmup):
                run()
            _synchronise(device)
            estimate = 1e3 * (time.perf_counter() - started) / warmup
            calls[key] = max(1, min(MAX_CALLS_PER_ROUND, round(BURST_MS / max(estimate, 1e-3))))
        for number in range(rounds):
            probes.append(_probe(threads))
            for key, run in runs.items():
                best = math.inf
                for _ in range(calls[key]):
                    started = time.perf_counter()
                    run()
                    _synchronise(device)
                    best = min(best, time.perf_counter() - started)
                per_round[key].append(best * 1e3)
            if on_round is not None:
                on_round(number + 1, rounds)
    timings = {}
    for key, minima in per_round.items():
        quartiles = statistics.quantiles(minima, n=4) if len(minima) > 1 else [minima[0]] * 3
        timings[key] = RoundTiming(
            min_ms=min(minima),
            median_round_ms=statistics.median(minima),
            spread_ms=quartiles[2] - quartiles[0],
            rounds=len(minima),
            calls=calls[key] * len(minima),
        )
    return timings, probes


def warm_up_process(device: str, threads: int, model_and_inputs: Callable[[], Any]) -> None:
    """Run a throw-away model once per process and device: the first model timed runs slow."""
    if device in _WARM_DEVICES:
        return
    model, inputs = model_and_inputs()
    time_callable(
        lambda: model(**inputs),
        device=device,
        threads=threads,
        warmup=3,
        repeat=5,
        min_run_time=0.3,
    )
    _WARM_DEVICES.add(device)
