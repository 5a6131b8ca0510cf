"""One search in progress: its settings, study, proxies and what is known so far.

Why an object: the pipeline's stages (`search.py`) and the strategies (`strategies.py`) share
the same state — the study, the evaluator, p of every candidate, T, the latency epoch — and the
strategies need a few questions answered from it (train these; what is the ranking now?). One
object holds the state and answers them, so neither side reaches into the other's internals.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from bortnas.proxies.base import Proxy
from bortnas.search_spaces import SearchSpace

from ..core.architecture import SYMBOLS, Architecture, count_parameters
from ..core.errors import BortnasError, StoreError
from .config import SearchConfig
from .error_model import apply_error_model
from .evaluation import Evaluator
from .ranking import ReferencePoint, measurement_rows, rank
from .scaling_law import apply_law, parse_budgets
from .store import completed_trials
from .strategies import Strategy
from .study_latency import StudyLatency
from .trials import evaluate_enqueued, evaluate_sampled
from .wcoefficient import TIE_BAND_Z, Exponents

#: A stage reports (stage name, done, total); the CLI draws progress from it.
StageProgress = Callable[[str, int, int], None]


@dataclass
class SearchRun:
    """The state of one search, filled stage by stage."""

    config: SearchConfig
    space: SearchSpace
    strategy: Strategy
    exponents: Exponents
    proxies: dict[str, Proxy]
    evaluator: Evaluator
    study: optuna.Study
    study_name: str
    storage_url: str
    run_dir: Path
    stage: StageProgress
    message: Callable[[str], None]
    steps: int
    notes: list[str] = field(default_factory=list)
    candidates: list[Architecture] = field(default_factory=list)
    parameters: dict[Architecture, float] = field(default_factory=dict)
    reference: ReferencePoint | None = None  # type: ignore[assignment]
    untrained: dict[str, str] = field(default_factory=dict)
    trainable: list[Architecture] = field(default_factory=list)
    latency: StudyLatency | None = None  # type: ignore[assignment]
    #: Starts the local worker processes, given the pending work (set by the training stage).
    start_workers: Callable[[int], None] | None = None

    def candidate(self, identifier: str) -> Architecture:
        for architecture in self.candidates:
            if architecture.id == identifier:
                return architecture
        trial = next(
            t for t in completed_trials(self.study) if t.user_attrs["architecture_id"] == identifier
        )
        return Architecture.from_dict(trial.user_attrs["architecture"])

    def latency_of(self, architecture: Architecture) -> float:
        return self.latency.evaluate(architecture).value

    def trained_ids(self) -> set[str]:
        return {t.user_attrs["architecture_id"] for t in completed_trials(self.study)}

    # -- training: what the strategies call ------------------------------------------------

    def train(self, batch: list[Architecture]) -> None:
        """Train `batch` through the study: every process sharing it takes its share. Local
        workers start with the first batch that has work for them (a warm re-run starts none)."""
        known = self.trained_ids() & {c.id for c in self.trainable}
        pending = [c for c in batch if c.id not in known]
        if len(pending) > 1 and self.start_workers is not None:
            self.start_workers(len(pending))
            self.start_workers = None
        total = len(known | {c.id for c in batch})
        wanted = {c.id for c in self.trainable}
        evaluate_enqueued(
            self.study,
            self.space,
            self.evaluator,
            batch,
            on_progress=lambda _: self._report_training(wanted, total),
        )

    def _report_training(self, wanted: set[str], total: int) -> None:
        """Progress over every candidate known so far: another worker may already be training
        the next batch, so the count can pass this batch's total."""
        done = len(self.trained_ids() & wanted)
        self.stage("training", done, max(total, done))

    def train_sampled(self) -> None:
        """Let the study's sampler (NSGA-II) propose `--trials` candidates."""
        evaluate_sampled(
            self.study,
            self.space,
            self.evaluator,
            [self.candidate_of(name) for name in self.untrained],
            self.config.trials,
            on_progress=lambda n: self.stage("training", n, self.config.trials),
        )

    def candidate_of(self, name: str) -> Architecture:
        return next(c for c in self.candidates if c.name == name)

    # -- the table: what the ranking stage and the verification read -----------------------

    def table(self) -> pd.DataFrame:
        """One row per candidate of the strategy's table: measured from the study, or to be
        predicted by the error model (error empty), with the epoch's latency for every row."""
        wanted = {c.id: c for c in self.strategy.table_candidates(self)}
        trials = [
            t for t in completed_trials(self.study) if t.user_attrs["architecture_id"] in wanted
        ]
        table = measurement_rows(trials)
        missing = [c for identifier, c in wanted.items() if identifier not in table.index]
        if missing:
            table = pd.concat([table, _predicted_rows(missing, self.parameters)])
        for column in ("theta_learning_rate", "theta_batch_size", "trial"):
            if column not in table:
                table[column] = np.nan  # no candidate trained (a law reading)
        if table.empty:
            raise BortnasError(
                "no candidate could be evaluated; see the failure reasons in the store"
            )
        for identifier in table.index:
            value, spread = self.latency.values.get(identifier) or _fill(self, table, identifier)
            table.loc[identifier, "latency_ms"] = value
            table.loc[identifier, "latency_spread_ms"] = spread
        return table

    def ranked(self, z: float = TIE_BAND_Z) -> pd.DataFrame:
        """The table ranked now; `in_tie_band` at `z` standard deviations of the difference."""
        return self.rank(z)[0]

    def rank(self, z: float = TIE_BAND_Z) -> tuple[pd.DataFrame, dict[str, Any]]:
        """W of every row of `table`, with the error model's ê (or the law's)."""
        if self.config.error_model == "law":
            budget = parse_budgets(self.config.budget)[0]
            table, error_model = apply_law(self.table(), self.config.law, budget)
            table["error_source"] = "law"
        else:
            table, error_model = apply_error_model(self.table(), self.config.error_model)
        ranked = rank(table, self.reference, exponents=self.exponents, z=z)
        return ranked, error_model


def _fill(run: SearchRun, table: pd.DataFrame, identifier: str) -> list[float]:
    """A latency the epoch lacks (NSGA-II visited it): measured now and added to the epoch."""
    run.latency.evaluate(Architecture.from_dict(table.loc[identifier, "architecture"]))
    run.latency.sync(run.study)
    return run.latency.values[identifier]


def _predicted_rows(
    candidates: list[Architecture], parameters: dict[Architecture, float]
) -> pd.DataFrame:
    """Rows for candidates that were not trained: the same columns, the error left empty."""
    rows = []
    for a in candidates:
        count = count_parameters(a)
        rows.append(
            {
                "id": a.id,
                **dict(zip(SYMBOLS, a.shape, strict=True)),
                "parameters": parameters[a],
                "parameters_total": count.total,
                "parameters_without_embeddings": count.without_embeddings,
                "error": np.nan,
                "error_seed_std": np.nan,
                "errors_per_theta": "",
                "training_steps": 0,
                "architecture": a.to_dict(),
            }
        )
    return pd.DataFrame(rows).set_index("id", drop=False)


def check_run_name(name: str) -> None:
    """Run names become folder names: refuse anything that could point outside `runs_dir`."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise BortnasError(f"run name {name!r} must be a plain folder name")


def check_runs_dir(runs_dir: str | Path) -> None:
    """The results folder, or its nearest existing parent, must be a writable folder."""
    path = Path(runs_dir).expanduser()
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir() or not os.access(path, os.W_OK):
        raise StoreError(f"{runs_dir}: cannot write results here ({path} is not a writable folder)")


def make_run_dir(runs_dir: str | Path, name: str) -> Path:
    check_run_name(name)
    run_dir = Path(runs_dir).expanduser() / name
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write-test-"):
            pass  # a probe of its own: workers starting together never share one
    except OSError as exc:
        raise StoreError(f"{run_dir}: cannot write results here ({exc.strerror})") from None
    return run_dir
