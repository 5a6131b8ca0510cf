"""What a search returns: one table of trained candidates, best W first, and how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bortnas.search_spaces import SearchSpace

from ..core.architecture import Architecture
from .config import SearchConfig
from .evaluation import Cost
from .ranking import ReferencePoint


@dataclass
class SearchResult:
    """Everything a search produced; `table` holds one row per trained candidate, best W first."""

    config: SearchConfig
    space: SearchSpace
    optimizer: str
    table: pd.DataFrame
    reference: ReferencePoint
    pick: Architecture
    steps_per_candidate: int
    selected: int
    cost: Cost
    failed: dict[str, str]
    run_dir: Path
    storage: str
    study_name: str
    seconds: float
    bort: dict[str, Any] | None = None
    alternative: dict[str, Any] | None = None
    latency_epoch: int = 0
    #: The latency table's calibration and contention probe (`latency_quality` reads it).
    latency_quality: dict[str, Any] | None = None
    #: Candidates not trained because they cannot score above 0, with the reason.
    untrained: dict[str, str] = field(default_factory=dict)
    error_model: dict[str, Any] = field(default_factory=lambda: {"model": "none"})
    notes: list[str] = field(default_factory=list)
    #: One row per reading of ê x reading of T: the pick, its band, Bort's rank (`sensitivity`).
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def study_training_steps(self) -> int:
        """Training steps (per replica) the study's trials paid, across workers and runs."""
        return int(self.table["training_steps"].sum())

    @property
    def front(self) -> pd.DataFrame:
        return self.table[self.table["on_front"]].sort_values("parameters")

    @property
    def tie_band(self) -> pd.DataFrame:
        return self.table[self.table["in_tie_band"]]

    def references(self) -> list[ReferencePoint]:
        """Both readings of T the run ranks against: its own, and BERT-large where it applies."""
        extra = self.alternative
        return [self.reference] + (
            [] if extra is None else [ReferencePoint.from_dict(extra["reference"])]
        )

    def row(self, architecture: Architecture) -> pd.Series:
        return self.table.loc[architecture.id]
