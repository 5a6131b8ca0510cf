"""Agora's data-generating functions: new texts near a given text, to be labelled by the teacher.

Why pluggable by name: the paper leaves the transformation function open ("a function that
generates new data"); which perturbation helps depends on the task. Each generator maps
(text, rng) to a new text or None, is deterministic given the rng, and never sees labels — the
teacher labels what it makes.

Registered: `deletion` (drop ~20 % of the words), `synonym` (swap words for WordNet synonyms,
parsed from Debian `wordnet-base`), `swap` (exchange two neighbouring words). Masked-LM infilling
by the teacher's encoder is not offered: the shipped all-MiniLM-L6-v2 has no masked-LM head
(its safetensors hold the encoder and pooler only), and an untrained head would produce noise.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from ..core.errors import DataError
from ..text.wordnet import PARTS, WORDNET_DIR, data_path, synsets

Generator = Callable[[str, random.Random], str | None]
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
#: Words whose "synonyms" in WordNet change the meaning or the grammar more than they help.
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "to",
        "in",
        "on",
        "by",
        "for",
        "with",
        "as",
        "at",
        "is",
        "are",
        "be",
        "was",
        "were",
        "it",
        "its",
        "that",
        "this",
        "which",
        "who",
        "from",
        "not",
        "no",
    ]
)


def deletion(text: str, rng: random.Random, rate: float = 0.2) -> str | None:
    words = text.split()
    if len(words) < 3:
        return None
    kept = [word for word in words if rng.random() >= rate]
    if len(kept) == len(words):
        kept.pop(rng.randrange(len(kept)))
    return " ".join(kept) if kept else None


def swap(text: str, rng: random.Random) -> str | None:
    words = text.split()
    if len(words) < 2:
        return None
    i = rng.randrange(len(words) - 1)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


@lru_cache(maxsize=1)
def wordnet_synonyms() -> dict[str, tuple[str, ...]]:
    """word -> the other lemmas of every synset it belongs to (all four parts of speech)."""
    groups: dict[str, set[str]] = {}
    found = False
    for part in PARTS:
        if not data_path(part).is_file():
            continue
        found = True
        for synset in synsets(part):
            lemmas = [lemma for lemma in synset.lemmas() if " " not in lemma]  # single words only
            for lemma in lemmas:
                groups.setdefault(lemma.lower(), set()).update(
                    other for other in lemmas if other.lower() != lemma.lower()
                )
    if not found:
        raise DataError(f"{WORDNET_DIR}: WordNet is not installed (Debian: wordnet-base)")
    return {word: tuple(sorted(others)) for word, others in groups.items() if others}


def synonym(text: str, rng: random.Random, rate: float = 0.2) -> str | None:
    table = wordnet_synonyms()
    tokens = re.split(r"(\W+)", text)
    candidates = [
        i
        for i, token in enumerate(tokens)
        if _WORD.fullmatch(token) and token.lower() not in _STOP and token.lower() in table
    ]
    if not candidates:
        return None
    chosen = [i for i in candidates if rng.random() < rate] or [rng.choice(candidates)]
    for i in chosen:
        tokens[i] = rng.choice(table[tokens[i].lower()])
    return "".join(tokens)


GENERATORS: dict[str, Generator] = {"deletion": deletion, "synonym": synonym, "swap": swap}


def resolve(names: Iterable[str]) -> list[Generator]:
    names = list(names)
    unknown = [name for name in names if name not in GENERATORS]
    if unknown:
        raise DataError(
            f"unknown data generator(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(GENERATORS)}"
        )
    return [GENERATORS[name] for name in names]


def generate_around(
    texts: Iterable[str],
    generators: list[str] | tuple[str, ...],
    *,
    per_text: int,
    rng: random.Random,
    exclude: Iterable[str] = (),
) -> tuple[list[str], list[str]]:
    """`per_text` new texts around each text, cycling through the generators.

    Returns (new texts, the source text of each). Texts equal to a source, to each other or to
    anything in `exclude` are dropped, so the training set never holds duplicates.
    """
    functions = resolve(generators)
    if not functions:
        return [], []
    seen = set(exclude)
    made, sources = [], []
    for text in texts:
        for k in range(per_text):
            new = functions[k % len(functions)](text, rng)
            if new and new.strip() and new != text and new not in seen:
                seen.add(new)
                made.append(new)
                sources.append(text)
    return made, sources
