"""The layering that the folders promise, checked on the source: what each part may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: Path) -> dict[str, set[str]]:
    """Module path → absolute bortnas modules it imports (relative imports resolved)."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        package = (
            ["bortnas", *path.relative_to(ROOT / "nas").parts[:-1]]
            if "nas" in path.parts[len(ROOT.parts) : len(ROOT.parts) + 1]
            else ["bortnas", folder.name]
        )
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    names.add(".".join([*base, *([node.module] if node.module else [])]))
                elif node.module:
                    names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = {n for n in names if n.startswith("bortnas")}
    return found


#: The layering rule, as README.md's layout states it: the shared base (`core`) imports neither
#: side; the shared readers (`text`) import only the base; the search (`extraction`) and the
#: fine-tuning (`finetuning`) never import each other; the proxies never import the search;
#: pretraining needs neither room; only the command line imports the commands.
LAYERS = [
    ("nas/core", ("bortnas.extraction", "bortnas.finetuning", "bortnas.pretraining",
                  "bortnas.cli", "bortnas.proxies", "bortnas.text")),
    ("nas/text", ("bortnas.extraction", "bortnas.finetuning", "bortnas.pretraining",
                  "bortnas.cli", "bortnas.proxies", "bortnas.search_spaces")),
    ("search_spaces", ("bortnas.proxies", "bortnas.extraction", "bortnas.finetuning",
                       "bortnas.pretraining", "bortnas.cli")),
    ("proxies", ("bortnas.extraction", "bortnas.finetuning", "bortnas.pretraining", "bortnas.cli")),
    ("nas/extraction", ("bortnas.finetuning", "bortnas.pretraining", "bortnas.cli")),
    ("nas/finetuning", ("bortnas.extraction", "bortnas.pretraining", "bortnas.cli")),
    ("nas/pretraining", ("bortnas.extraction", "bortnas.finetuning", "bortnas.cli")),
]  # fmt: skip


@pytest.mark.parametrize(("folder", "forbidden"), LAYERS)
def test_each_part_imports_only_what_lies_below_it(folder: str, forbidden: tuple[str, ...]) -> None:
    offending = {
        module: sorted(n for n in names if n.startswith(forbidden))
        for module, names in _imports(ROOT / folder).items()
    }
    assert {m: n for m, n in offending.items() if n} == {}


def test_imports_inside_nas_are_relative() -> None:
    """A static reader can follow them on disk; `bortnas.x` goes through the package mapping."""
    absolute = []
    for path in sorted((ROOT / "nas").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                top = node.module.split(".")
                if top[0] == "bortnas" and (
                    len(top) == 1 or top[1] not in ("proxies", "search_spaces")
                ):
                    absolute.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert absolute == []
