"""Agora's hyper-parameter set Θ: one configuration θ, grids, Θ files, and the pruning rules.

Why its own module: Θ is declared by users (TOML or JSON files, or the built-in grids), checked
once with one-line errors, and pruned between Agora rounds by a rule that is a named parameter.

Pruning (the paper's rule is not published in full):
- `halving` (default): keep the better half, rounded up. The issue and the paper's stated ratio
  2(1 - 2^-|Θ|) correspond to this; |Θ| = 8 runs rounds of 8, 4, 2, 1 configurations.
- `common-prefix`: our reading of the author's blog ("removes the hyperparameters belonging to
  the longest common sequence, rooted at the first element"): with Θ sorted worst first, drop the
  longest run, starting at the worst θ, whose members share one setting with that worst θ
  (settings that all of Θ shares are ignored).
- `drop-worst`: drop the single worst θ (|Θ| rounds; the slowest, most careful rule).
Every rule keeps at least one θ; ties keep Θ's declared order.
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..core.errors import BortnasError


class ThetaError(BortnasError, ValueError):
    """A hyper-parameter configuration (θ) or a Θ file that cannot be used."""


@dataclass(frozen=True)
class Hyperparameters:
    """One θ of Agora's set Θ. `warmup` is the warm-up fraction of all steps (Bort's "rate")."""

    learning_rate: float = 5e-4
    batch_size: int = 16
    epochs: int = 10
    warmup: float = 0.1
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "learning_rate": self.learning_rate > 0,
            "batch_size": isinstance(self.batch_size, int) and self.batch_size >= 1,
            "epochs": isinstance(self.epochs, int) and self.epochs >= 1,
            "warmup": 0 <= self.warmup < 1,
            "weight_decay": self.weight_decay >= 0,
            "seed": isinstance(self.seed, int) and self.seed >= 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise ThetaError(f"θ {key} = {getattr(self, key)!r} is out of range")

    @property
    def name(self) -> str:
        return (
            f"lr={self.learning_rate:g} b={self.batch_size} ep={self.epochs} "
            f"wu={self.warmup:g} wd={self.weight_decay:g} s={self.seed}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Hyperparameters:
        if not isinstance(data, dict):
            raise ThetaError(f"a θ must be a table of settings, got {type(data).__name__}")
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ThetaError(
                f"unknown θ setting(s) {', '.join(map(repr, unknown))}; expected {', '.join(known)}"
            )
        values = {}
        for key, value in data.items():
            integer = key in ("batch_size", "epochs", "seed")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ThetaError(f"θ {key} must be a number, got {value!r}")
            if integer and value != int(value):
                raise ThetaError(f"θ {key} must be a whole number, got {value!r}")
            values[key] = int(value) if integer else float(value)
        return cls(**values)


def grid(**values: Any) -> list[Hyperparameters]:
    """The Cartesian product of the given settings (scalars or lists), in declaration order."""
    keys = list(values)
    lists = [v if isinstance(v, list | tuple) else [v] for v in values.values()]
    for key, options in zip(keys, lists, strict=True):
        if not options:
            raise ThetaError(f"Θ grid setting {key!r} has no values")
    return [
        Hyperparameters.from_dict(dict(zip(keys, combo, strict=True)))
        for combo in itertools.product(*lists)
    ]


#: Default Θ for a small student trained from random weights at a few hundred examples (8 θ).
#: Bort's own grid (below) targets a pretrained Bort; its learning rates of 1e-5 barely move a
#: randomly initialised student in a few hundred steps.
DEFAULT_THETA = grid(learning_rate=[5e-4, 1e-3], batch_size=[16, 32], seed=[0, 1])
#: The grid alexa/bort recommends for Agora (docs/algorithm.md, sources): 5 x 3 x 4 x 4 x 2 = 480 θ.
BORT_THETA = grid(
    seed=[0, 1, 2, 3, 4],
    learning_rate=[1e-4, 1e-5, 9e-6],
    weight_decay=[0, 10, 100, 350],
    warmup=[0.35, 0.40, 0.45, 0.50],
    batch_size=[8, 16],
)
BUILTIN_THETAS = {"default": DEFAULT_THETA, "bort": BORT_THETA}


def load_theta(source: str | Path) -> list[Hyperparameters]:
    """Θ from `default`, `bort`, or a .toml/.json file.

    A file holds either `[grid]` (settings to lists; their product) or `[[theta]]` (one table
    per θ); JSON the same keys, or a bare list of θ objects. Duplicates are removed.
    """
    if str(source) in BUILTIN_THETAS:
        return list(BUILTIN_THETAS[str(source)])
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ThetaError(f"{path}: no such Θ file (or use default | bort)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ThetaError(f"{path}: cannot read the Θ file ({exc})") from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ThetaError(f"{path}: a Θ file must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ThetaError(f"{path}: not valid {path.suffix[1:].upper()} ({exc})") from None
    if isinstance(data, list):
        data = {"theta": data}
    if not isinstance(data, dict) or not ({"grid", "theta"} & set(data)):
        raise ThetaError(f"{path}: expected a [grid] table or [[theta]] entries")
    thetas: list[Hyperparameters] = []
    if "grid" in data:
        if not isinstance(data["grid"], dict):
            raise ThetaError(f"{path}: [grid] must be a table of settings")
        try:
            thetas += grid(**data["grid"])
        except ThetaError as exc:
            raise ThetaError(f"{path}: {exc}") from None
    entries = data.get("theta", [])
    if not isinstance(entries, list):
        raise ThetaError(f"{path}: 'theta' must be a list of tables")
    for number, entry in enumerate(entries, 1):
        try:
            thetas.append(Hyperparameters.from_dict(entry))
        except ThetaError as exc:
            raise ThetaError(f"{path}: θ #{number}: {exc}") from None
    unique = list(dict.fromkeys(thetas))
    if not unique:
        raise ThetaError(f"{path}: Θ is empty")
    return unique


PruningRule = Callable[[Sequence[Hyperparameters]], list[Hyperparameters]]


def prune_halving(ranked: Sequence[Hyperparameters]) -> list[Hyperparameters]:
    return list(ranked[: math.ceil(len(ranked) / 2)])


def prune_drop_worst(ranked: Sequence[Hyperparameters]) -> list[Hyperparameters]:
    return list(ranked[: max(1, len(ranked) - 1)])


def prune_common_prefix(ranked: Sequence[Hyperparameters]) -> list[Hyperparameters]:
    worst_first = list(reversed(ranked))
    longest = 1
    for field in fields(Hyperparameters):
        value = getattr(worst_first[0], field.name)
        if all(getattr(theta, field.name) == value for theta in worst_first):
            continue  # a setting all of Θ shares distinguishes nothing
        run = 1
        while run < len(worst_first) and getattr(worst_first[run], field.name) == value:
            run += 1
        longest = max(longest, run)
    return list(ranked[: max(1, len(ranked) - longest)])


PRUNING_RULES: dict[str, PruningRule] = {
    "halving": prune_halving,
    "common-prefix": prune_common_prefix,
    "drop-worst": prune_drop_worst,
}


def pruning_rule(name: str) -> PruningRule:
    if name not in PRUNING_RULES:
        raise ThetaError(f"unknown pruning rule {name!r}; choose from {', '.join(PRUNING_RULES)}")
    return PRUNING_RULES[name]
