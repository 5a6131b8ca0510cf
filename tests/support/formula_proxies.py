"""Closed-form stand-ins for latency and error, for tests of the search's mechanics.

They are deterministic and cheap, so the store's guarantees (each candidate evaluated once,
resume, retries, many workers) can be checked exactly; the real proxies have their own tests.
Each evaluation can be logged to a file (one line per call, O_APPEND) to count calls across
processes, and can sleep to make workers overlap.
"""

from __future__ import annotations

import os
import time

from bortnas.proxies import Measurement, ParameterProxy, Proxy


class FormulaLatency(Proxy):
    name, unit, cost = "latency", "ms", "free"

    def evaluate(self, a):
        value = 1 + a.depth * (a.hidden**2 + a.hidden * a.intermediate) / 1e4
        return Measurement(self.name, value, "ms")


class FormulaError(Proxy):
    name, unit, cost = "error", "loss", "free"

    def __init__(self, fail_on=None, interrupt_after=None, log=None, sleep=0.0):
        self.calls = 0
        self.fail_on = fail_on
        self.interrupt_after = interrupt_after
        self.log = log
        self.sleep = sleep

    def evaluate(self, a):
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        if self.log is not None:
            with open(self.log, "a", encoding="utf-8") as stream:
                stream.write(f"{os.getpid()} {a.id}\n")
        time.sleep(self.sleep)
        if self.fail_on is not None and a.shape == self.fail_on:
            raise RuntimeError("simulated training divergence")
        value = 0.5 + 1 / a.depth**0.5 + 30 / a.hidden + 5 / a.intermediate + 0.01 * a.heads
        # Two θ, as the real proxy reports them: the second is 10 % worse on deep candidates.
        per_theta = [
            {"learning_rate": 1e-3, "batch_size": 16, "value": value, "per_seed": [value]},
            {
                "learning_rate": 3e-3,
                "batch_size": 16,
                "value": value * (1.1 if a.depth > 1 else 0.9),
                "per_seed": [value],
            },
        ]
        best = min(range(2), key=lambda k: per_theta[k]["value"])
        return Measurement(
            self.name,
            per_theta[best]["value"],
            "loss",
            details={"training_steps": 14, "per_theta": per_theta, "theta_best": best},
        )


def formula_proxies(error: Proxy | None = None) -> dict[str, Proxy]:
    return {
        "parameters": ParameterProxy(),
        "latency": FormulaLatency(),
        "error": error or FormulaError(),
    }


def trained_count(space) -> int:  # type: ignore[no-untyped-def]
    """How many candidates a full search trains: all but those of T's size (W = 0 for them)."""
    counter = ParameterProxy()
    sizes = [counter.evaluate(a).value for a in space.candidates]
    return sum(1 for size in sizes if size < max(sizes))
