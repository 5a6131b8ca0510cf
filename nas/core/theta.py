"""θ: one setting of a hyper-parameter set Θ, shared by the search's students and Agora's.

Why in the shared base: the error proxy trains each candidate under every θ of the search's Θ,
and Agora prunes its own Θ between rounds; both read the same Θ files (`[grid]` or `[[theta]]`,
TOML or JSON) with the same one-line errors. One type keeps them from drifting apart. The search
uses four of its fields (`SEARCH_FIELDS`: its training length is `--steps`, its seeds
`--seeds`); Agora uses all six.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .errors import BortnasError

#: The fields a search's θ may vary, and the ones its records and study identity hold.
SEARCH_FIELDS = ("learning_rate", "batch_size", "warmup", "weight_decay")


class ThetaError(BortnasError, ValueError):
    """A hyper-parameter configuration (θ) or a Θ file that cannot be used."""


@dataclass(frozen=True)
class Hyperparameters:
    """One θ of a set Θ. `warmup` is the warm-up fraction of all steps (Bort's "rate")."""

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

    @property
    def label(self) -> str:
        """The search's short form: its fields only."""
        return f"lr={self.learning_rate:g} b={self.batch_size}"

    def to_dict(self, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
        """All fields, or only `keys` (the search's records hold `SEARCH_FIELDS`)."""
        data = asdict(self)
        return data if keys is None else {key: data[key] for key in keys}

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


def read_theta_file(source: str | Path) -> list[Hyperparameters]:
    """Θ from a .toml/.json file.

    A file holds either `[grid]` (settings to lists; their product) or `[[theta]]` (one table
    per θ); JSON the same keys, or a bare list of θ objects. Duplicates are removed.
    """
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ThetaError(f"{path}: no such Θ file") from None
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
