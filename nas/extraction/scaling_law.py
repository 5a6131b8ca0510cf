"""ê from a published scaling law: converged (or budget-limited) loss as a function of N and D.

Why: W divides by ê, so the pick depends on what "error" means and at which training budget it
is read. A short proxy training favours shallow students; a scaling law says how the loss of a
*trained* model falls with its size N and its training tokens D, at any budget, in microseconds
and without training anything. The coefficient sets are data (`scaling_laws.toml`, each with its
source). They were fitted on decoder-only language models in nats per token, so only the ratios
of their values between candidates are meaningful to W (docs/algorithm.md states the caveat).

N is the candidate's encoder parameters at full width: no embedding tables (as Kaplan et al.
count N) and no pooler (a classification head that a language model has no counterpart of).
`count_parameters(...).without_embeddings` includes the pooler (H² + H); it is not used here.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from ..core.architecture import SYMBOLS, Architecture, count_parameters
from ..core.errors import BortnasError

#: The law used when none is named: Hoffmann et al. 2022 as printed (the best-known set).
DEFAULT_LAW = "hoffmann2022"
#: The budgets (training tokens) of the sensitivity table: short, long, converged.
DEFAULT_BUDGETS: tuple[float, ...] = (1e8, 1e10, math.inf)
FORMS = {
    "chinchilla": ("E", "A", "B", "alpha", "beta"),
    "kaplan": ("N_c", "D_c", "alpha_N", "alpha_D"),
}


@dataclass(frozen=True)
class ScalingLaw:
    """One published coefficient set: its functional form, coefficients and citation."""

    name: str
    form: str
    coefficients: dict[str, float] = field(hash=False)
    source: str
    n_counts: str = ""
    note: str = ""

    def loss(self, parameters: np.ndarray, tokens: float) -> np.ndarray:
        """L(N, D) in the source's units (nats/token); D = inf is the converged loss L(N)."""
        n = np.asarray(parameters, dtype=float)
        c = self.coefficients
        if self.form == "chinchilla":
            data_term = 0.0 if math.isinf(tokens) else c["B"] / tokens ** c["beta"]
            return c["E"] + c["A"] / n ** c["alpha"] + data_term
        ratio = c["alpha_N"] / c["alpha_D"]
        data_term = 0.0 if math.isinf(tokens) else c["D_c"] / tokens
        return ((c["N_c"] / n) ** ratio + data_term) ** c["alpha_D"]

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "form": self.form, **self.coefficients, "source": self.source}


@cache
def load_laws() -> dict[str, ScalingLaw]:
    """Every coefficient set of `scaling_laws.toml`, by name (validated once)."""
    text = resources.files(__package__).joinpath("scaling_laws.toml").read_text(encoding="utf-8")
    laws = {}
    for name, entry in tomllib.loads(text).items():
        form = entry.get("form")
        if form not in FORMS:
            raise ValueError(f"scaling_laws.toml: {name}: unknown form {form!r}")
        coefficients = {key: float(entry[key]) for key in FORMS[form]}
        if not all(value > 0 and math.isfinite(value) for value in coefficients.values()):
            raise ValueError(f"scaling_laws.toml: {name}: coefficients must be positive")
        laws[name] = ScalingLaw(
            name=name,
            form=form,
            coefficients=coefficients,
            source=entry["source"],
            n_counts=entry.get("n_counts", ""),
            note=entry.get("note", ""),
        )
    return laws


def get_law(law: str | ScalingLaw) -> ScalingLaw:
    """The named coefficient set (a user mistake if unknown); a `ScalingLaw` passes through."""
    if isinstance(law, ScalingLaw):
        return law
    laws = load_laws()
    if law not in laws:
        raise BortnasError(f"unknown scaling law {law!r}; choose one of {sorted(laws)}")
    return laws[law]


def check_budget(tokens: float) -> float:
    """A training budget in tokens: positive, or inf for convergence."""
    try:
        value = float(tokens)
    except (TypeError, ValueError):
        raise BortnasError(
            f"a training budget must be a number of tokens, got {tokens!r}"
        ) from None
    if math.isnan(value) or value <= 0:
        raise BortnasError(f"a training budget must be positive tokens (or inf), got {tokens!r}")
    return value


def parse_budgets(text: str | Iterable[float]) -> tuple[float, ...]:
    """`1e8,1e10,inf` (the CLI's --budget) or numbers -> checked budgets, in the given order."""
    items = text.split(",") if isinstance(text, str) else list(text)
    budgets = tuple(check_budget(item.strip() if isinstance(item, str) else item) for item in items)
    if not budgets:
        raise BortnasError("give at least one training budget (tokens, or inf)")
    return budgets


def law_parameters(architectures: Iterable[Architecture]) -> np.ndarray:
    """N of each architecture: its encoder layers' parameters at full width (no embeddings,
    no pooler)."""
    return np.array([count_parameters(a).encoder for a in architectures], dtype=float)


def law_error(
    architectures_or_n: Sequence[Architecture] | np.ndarray | Sequence[float],
    budget_tokens: float,
    law: str | ScalingLaw = DEFAULT_LAW,
) -> np.ndarray:
    """The law's loss of every candidate after `budget_tokens` tokens (inf: converged).

    Takes architectures (N from `law_parameters`) or the N values themselves.
    """
    scaling_law = get_law(law)
    tokens = check_budget(budget_tokens)
    items = list(architectures_or_n)
    if items and isinstance(items[0], Architecture):
        n = law_parameters(items)  # type: ignore[arg-type]
    else:
        n = np.asarray(items, dtype=float)
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise BortnasError("a scaling law needs a positive, finite parameter count N")
    return scaling_law.loss(n, tokens)


def apply_law(
    table: pd.DataFrame, law: str | ScalingLaw = DEFAULT_LAW, budget_tokens: float = math.inf
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The table with `error` replaced by the law's value (the `--error-model law` reading).

    Like `error_model.apply_error_model`: the measured ê, if any, is kept as `error_measured`;
    `error_model_std` is 0 (a law has no seed noise, so the tie band comes from latency alone);
    `error_law` marks the table so that the sensitivity table does not read the law as a fit.
    Reads only the D, A, H, I columns; returns the table and a summary for `summary.json`.
    """
    scaling_law = get_law(law)
    table = table.copy()
    table["error_measured"] = table.get("error_measured", table.get("error", np.nan))
    shapes = table[list(SYMBOLS)].to_numpy(dtype=int)
    table["error"] = law_error([Architecture(*map(int, s)) for s in shapes], budget_tokens, law)
    table["error_law"] = table["error"]  # marks the table: `error` is the law's, not a fit
    table["error_model_std"] = 0.0
    summary = {"model": "law", "budget_tokens": check_budget(budget_tokens)}
    return table, summary | scaling_law.to_dict()


def budget_label(tokens: float) -> str:
    """`1e+08 tokens` / `converged`: how a budget is named in tables and plots."""
    return "converged" if math.isinf(tokens) else f"{tokens:.0e} tokens"
