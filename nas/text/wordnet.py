"""The one reader of the installed WordNet 3.0 database (Debian `wordnet-base`).

Why one reader: three consumers need different fields of the same `data.{noun,verb,adj,adv}`
lines — the error proxy's corpus (glosses), Agora's `wordnet` task (glosses labelled by
lexicographer class) and Agora's `synonym` generator (the lemmas of each synset). They parse
one line format, so they share one parser and one location.

Line format (wndb(5)): `offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt ...
| gloss`, with `w_cnt` in hexadecimal. The licence header's lines start with two spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
#: The parts of speech, in the order the data files are read.
PARTS = ("noun", "verb", "adj", "adv")
#: WordNet's lexicographer files, in file-number order (the number in each data.* line).
LEXNAMES = (
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
)
_ADJECTIVE_MARKER = re.compile(r"\(.*\)$")


@dataclass(frozen=True)
class Synset:
    """The fields of one data line that this project uses.

    `gloss` is the raw text after ` | ` (definition and examples, not stripped), or None for a
    line without a gloss. `words` are the lemmas as written, underscores and adjective markers
    such as `(a)` included.
    """

    lexfile: int
    words: tuple[str, ...]
    gloss: str | None

    @property
    def lexname(self) -> str:
        return LEXNAMES[self.lexfile]

    def lemmas(self) -> list[str]:
        """The words without adjective markers, underscores read as spaces."""
        return [_ADJECTIVE_MARKER.sub("", word).replace("_", " ") for word in self.words]


def data_path(part: str, folder: Path | None = None) -> Path:
    """`data.{part}` in `folder` (default `WORDNET_DIR`)."""
    return (WORDNET_DIR if folder is None else folder) / f"data.{part}"


def parse_line(line: str) -> Synset | None:
    """One data line as a `Synset`; None for the licence header's lines."""
    if line.startswith("  "):
        return None
    head, bar, gloss = line.partition(" | ")
    fields = head.split()
    count = int(fields[3], 16)
    return Synset(
        lexfile=int(fields[1]),
        words=tuple(fields[4 : 4 + 2 * count : 2]),
        gloss=gloss if bar else None,
    )


def synsets(part: str, folder: Path | None = None) -> Iterator[Synset]:
    """Every synset of `data.{part}`, in file order; raises OSError if the file is missing."""
    with data_path(part, folder).open(encoding="utf-8", errors="replace") as stream:
        for line in stream:
            synset = parse_line(line.rstrip("\n"))
            if synset is not None:
                yield synset
