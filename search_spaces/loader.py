"""Search spaces are data (TOML files); this module turns one into validated candidates.

Why data and not code: a user declares a space the way they would write a config, the built-ins
are readable without Python, and one loader validates every space the same way. Every problem is
reported at once, each with the file, the key and the offending value, so a user fixes a file in
one pass instead of one error at a time.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bortnas.core.architecture import (
    CONTEXT_KEYS,
    DIMENSIONS,
    MAX_DIMENSION,
    Architecture,
    count_parameters,
)
from bortnas.core.errors import ArchitectureError, SpaceError

#: Named constraints a space file may set, with what each means.
CONSTRAINTS = {
    "min_head_size": "smallest allowed H / A",
    "max_head_size": "largest allowed H / A",
    "max_parameters": "largest allowed total parameter count",
}
TOP_LEVEL_KEYS = ("description", "dimensions", "context", "constraints")
#: Refuse spaces larger than this: enumeration is eager, and a typo should not eat the memory.
MAX_CANDIDATES = 1_000_000


@dataclass(frozen=True)
class SearchSpace:
    """A validated space: allowed values per dimension, the shared context, and its candidates."""

    name: str
    source: str
    description: str
    dimensions: dict[str, tuple[int, ...]]
    context: dict[str, int]
    constraints: dict[str, int]
    candidates: tuple[Architecture, ...]

    @property
    def size(self) -> int:
        return len(self.candidates)

    def __contains__(self, architecture: object) -> bool:
        return architecture in set(self.candidates)

    def architecture(self, depth: int, heads: int, hidden: int, intermediate: int) -> Architecture:
        """An architecture of these dimensions in this space's context (need not be a candidate)."""
        return Architecture(depth, heads, hidden, intermediate, **self.context)


def builtin_spaces() -> dict[str, Path]:
    """Names of the spaces shipped with bortnas, mapped to their files."""
    folder = resources.files("bortnas.search_spaces")
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


def load_space(name_or_path: str | Path) -> SearchSpace:
    """Load a built-in space by name (`bert-large`, `bert-base`, `tiny`) or a user's TOML file."""
    builtins = builtin_spaces()
    text = str(name_or_path)
    if text in builtins:
        path, name = builtins[text], text
    else:
        path = Path(text).expanduser()
        name = path.stem
        if not path.suffix and not path.exists():
            raise SpaceError(
                f"unknown space {text!r}: built-ins are {', '.join(sorted(builtins))}, "
                "or give the path of a .toml file"
            )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpaceError(f"{path}: no such space file") from None
    except IsADirectoryError:
        raise SpaceError(f"{path}: is a folder, not a space file") from None
    except OSError as exc:
        raise SpaceError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpaceError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpaceError(f"{path}: malformed TOML ({exc})") from None
    return parse_space(data, name=name, source=str(path))


def parse_space(data: dict[str, Any], *, name: str, source: str) -> SearchSpace:
    """Validate a space given as a mapping; report every problem in one `SpaceError`."""
    problems: list[str] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"unknown key {key!r} (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(f"description: must be text, got {description!r}")
        description = ""

    dimensions = _parse_dimensions(data.get("dimensions"), problems)
    context = _parse_table(data.get("context", {}), "context", CONTEXT_KEYS, problems)
    constraints = _parse_table(
        data.get("constraints", {}), "constraints", tuple(CONSTRAINTS), problems
    )
    if problems:
        raise SpaceError(_report(source, problems))

    total = 1
    for values in dimensions.values():
        total *= len(values)
    if total > MAX_CANDIDATES:
        raise SpaceError(
            _report(source, [f"dimensions: {total:,} combinations, more than {MAX_CANDIDATES:,}"])
        )
    candidates = _enumerate(dimensions, context, constraints, source)
    if not candidates:
        raise SpaceError(
            _report(source, ["the constraints leave no candidate (H % A == 0 is always required)"])
        )
    return SearchSpace(
        name=name,
        source=source,
        description=description,
        dimensions=dimensions,
        context=context,
        constraints=constraints,
        candidates=tuple(candidates),
    )


def _report(source: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    return f"{source}: {len(problems)} problems: " + "; ".join(problems)


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_DIMENSION


def _parse_dimensions(table: Any, problems: list[str]) -> dict[str, tuple[int, ...]]:
    if table is None:
        problems.append("missing table [dimensions]")
        return {}
    if not isinstance(table, dict):
        problems.append(f"dimensions: must be a table, got {table!r}")
        return {}
    for key in table:
        if key not in DIMENSIONS:
            problems.append(f"dimensions.{key}: unknown key (allowed: {', '.join(DIMENSIONS)})")
    parsed: dict[str, tuple[int, ...]] = {}
    for key in DIMENSIONS:
        where = f"dimensions.{key}"
        values = table.get(key)
        if values is None:
            problems.append(f"{where}: missing")
        elif not isinstance(values, list):
            problems.append(f"{where}: must be a list of whole numbers, got {values!r}")
        elif not values:
            problems.append(f"{where}: empty list")
        else:
            bad = [v for v in values if not _is_size(v)]
            duplicates = sorted({v for v in values if values.count(v) > 1 and _is_size(v)})
            if bad:
                problems.append(
                    f"{where}: {', '.join(map(repr, bad))} "
                    f"not whole numbers in 1..{MAX_DIMENSION:,}"
                )
            if duplicates:
                problems.append(f"{where}: duplicate value(s) {', '.join(map(str, duplicates))}")
            if not bad and not duplicates:
                parsed[key] = tuple(sorted(values))
    return parsed


def _parse_table(
    table: Any, section: str, allowed: tuple[str, ...], problems: list[str]
) -> dict[str, int]:
    if not isinstance(table, dict):
        problems.append(f"{section}: must be a table, got {table!r}")
        return {}
    parsed: dict[str, int] = {}
    for key, value in table.items():
        where = f"{section}.{key}"
        if key not in allowed:
            problems.append(f"{where}: unknown key (allowed: {', '.join(allowed)})")
        elif not _is_size(value) and not (key == "max_parameters" and _is_count(value)):
            problems.append(f"{where}: must be a positive whole number, got {value!r}")
        else:
            parsed[key] = value
    return parsed


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _enumerate(
    dimensions: dict[str, tuple[int, ...]],
    context: dict[str, int],
    constraints: dict[str, int],
    source: str,
) -> list[Architecture]:
    """Every allowed combination, in the deterministic order depth, heads, hidden, intermediate."""
    candidates = []
    for depth, heads, hidden, intermediate in itertools.product(
        *(dimensions[key] for key in DIMENSIONS)
    ):
        if hidden % heads:
            continue
        head_size = hidden // heads
        if head_size < constraints.get("min_head_size", 0):
            continue
        if head_size > constraints.get("max_head_size", MAX_DIMENSION):
            continue
        try:
            architecture = Architecture(depth, heads, hidden, intermediate, **context)
        except ArchitectureError as exc:
            raise SpaceError(f"{source}: {exc}") from None
        max_parameters = constraints.get("max_parameters")
        if max_parameters is not None and count_parameters(architecture).total > max_parameters:
            continue
        candidates.append(architecture)
    return candidates
