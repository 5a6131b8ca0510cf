"""The optimizers as objects that own their step: what to time, what to train, what to rank.

Why objects (as Optuna's samplers): the search's pipeline (`search.py`) runs the same stages for
every optimizer and never asks which one it runs; each strategy answers three questions — which
latencies it needs up front, which candidates to train (in rounds, from what is known so far),
and which candidates the final table holds. The algorithm's pieces they use (ε-intervals, the
maximum point, the design) are pure functions in `optimizer.py` and `design.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import optuna

from ..core.architecture import Architecture
from ..core.errors import BortnasError
from .design import d_optimal_design
from .optimizer import REFERENCE_FACTOR, epsilon_representatives, random_sample
from .wcoefficient import TIE_BAND_Z, w_coefficients

if TYPE_CHECKING:
    from .run import SearchRun

#: Verification rounds at most (each trains the untrained members of the pick's tie band).
MAX_VERIFY_ROUNDS = 20
TRAIN_MODES = ("design", "all")
#: The verification trains every untrained candidate within this many standard deviations of
#: the pick (half a σ beyond the band's `TIE_BAND_Z`): what could still reach the band once
#: measured, with a margin so that a re-timed latency does not leave a band member untrained.
VERIFY_Z = TIE_BAND_Z + 0.5


class Strategy:
    """A way of choosing which candidates to train; subclasses override what differs."""

    name = ""
    description = ""
    #: Multiplier on s (the exhaustive reference trains 10x longer).
    steps_factor = 1
    #: Whether local worker processes can share its training (a list of candidates can).
    parallel = True

    def run_name(self, space: str) -> str:
        """The run folder's default name: the space, and the optimizer when not the paper's."""
        return f"{space}-{self.name}"

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.RandomSampler(seed=seed)

    def latency_needed(self, run: SearchRun) -> list[Architecture]:
        """Timed before any training (in one table, so that every value shares one epoch)."""
        return list(run.candidates)

    def batches(self, run: SearchRun) -> Iterator[list[Architecture]]:
        """Candidates to train, a batch at a time; a later batch may depend on earlier results."""
        yield list(run.trainable)

    def train(self, run: SearchRun) -> None:
        """Step 4: every batch trained through the study (all workers share it)."""
        for batch in self.batches(run):
            run.train(batch)

    def table_candidates(self, run: SearchRun) -> list[Architecture]:
        """The candidates of the final table: the trained ones (a predicted ê only where the
        strategy stands behind it)."""
        return [c for c in run.trainable if c.id in run.trained_ids()]


class Fptas(Strategy):
    """de Wynter (2020): ε-intervals of p; at ε = 1, a design fitted, then the top verified."""

    name = "fptas"
    description = (
        "de Wynter (2020): one candidate per ε-interval of p, trained s steps under every θ "
        "(ε = 1: a designed subset, then every candidate inside the pick's tie band)"
    )

    def batches(self, run: SearchRun) -> Iterator[list[Architecture]]:
        config = run.config
        if config.error_model == "law":
            return  # a published law gives ê: nothing to train
        if config.epsilon > 1:
            yield epsilon_representatives(
                run.trainable, config.epsilon, run.parameters.__getitem__, self._cheap_score(run)
            )
            return
        if config.train == "all" or config.error_model == "none":
            yield list(run.trainable)
            return
        yield d_optimal_design(run.trainable)
        for _ in range(MAX_VERIFY_ROUNDS):  # verify: train what could still be the pick
            ranked = run.ranked(z=VERIFY_Z)
            band = ranked[ranked["in_tie_band"] & (ranked["error_source"] == "predicted")]
            if band.empty:
                return
            yield [run.candidate(identifier) for identifier in band.index]
        run.notes.append(f"verification stopped after {MAX_VERIFY_ROUNDS} rounds")

    def table_candidates(self, run: SearchRun) -> list[Architecture]:
        return list(run.trainable)  # untrained ones get the error model's prediction

    def run_name(self, space: str) -> str:
        return space

    @staticmethod
    def _cheap_score(run: SearchRun):  # type: ignore[no-untyped-def]
        """W's parameter and latency factors: W itself with every error set to 1."""
        cheap = w_coefficients(
            np.array([run.parameters[c] for c in run.trainable]),
            np.array([run.latency_of(c) for c in run.trainable]),
            np.ones(len(run.trainable)),
            reference_parameters=run.reference.parameters,
            reference_latency=run.reference.latency_ms,
            exponents=run.exponents,
        )
        return dict(zip(run.trainable, cheap, strict=True)).__getitem__


class Exhaustive(Strategy):
    name = "exhaustive"
    description = f"reference: every candidate at {REFERENCE_FACTOR}x s"
    steps_factor = REFERENCE_FACTOR


class RandomBaseline(Strategy):
    name = "random"
    description = "baseline: a seeded random sample of candidates at s"

    def _sample(self, run: SearchRun) -> list[Architecture]:
        # One spare beyond `trials`, in case a candidate of T's size is drawn.
        drawn = random_sample(run.candidates, run.config.trials + 1, run.config.seed)
        trainable = set(run.trainable)
        return [c for c in drawn if c in trainable][: run.config.trials]

    def latency_needed(self, run: SearchRun) -> list[Architecture]:
        return [run.reference.architecture, *self._sample(run)]

    def batches(self, run: SearchRun) -> Iterator[list[Architecture]]:
        yield self._sample(run)


class Nsga2(Strategy):
    name = "nsga2"
    description = "baseline: Optuna's NSGA-II over (D, A, H, I) at s"
    parallel = False  # its sampler proposes one candidate at a time, from what it has seen

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)

    def latency_needed(self, run: SearchRun) -> list[Architecture]:
        return [run.reference.architecture]  # the rest is timed as NSGA-II visits it

    def train(self, run: SearchRun) -> None:
        run.train_sampled()

    def table_candidates(self, run: SearchRun) -> list[Architecture]:
        return [run.candidate(identifier) for identifier in run.trained_ids()]


STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy for strategy in (Fptas(), Exhaustive(), RandomBaseline(), Nsga2())
}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise BortnasError(
            f"unknown optimizer {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
