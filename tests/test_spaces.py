from __future__ import annotations

from pathlib import Path

import pytest

from bortnas import BERT_LARGE, BORT, load_space
from bortnas.core.architecture import BORT_2_16_512_1024
from bortnas.core.errors import SpaceError
from bortnas.search_spaces import builtin_spaces


def test_builtins_exist_and_bert_large_holds_the_paper_points() -> None:
    assert {"bert-large", "bert-base", "tiny"} <= set(builtin_spaces())
    space = load_space("bert-large")  # the Bort paper's table
    assert space.size == 300
    assert space.dimensions["depth"] == (2, 4, 6, 8, 10, 12)
    assert space.dimensions["intermediate"] == (256, 512, 768, 1024, 3072)
    for point in (BORT, BORT_2_16_512_1024):
        assert point in space
    assert BERT_LARGE not in space
    wide = load_space("bert-large-wide")
    assert wide.size == 630
    assert BERT_LARGE in wide
    assert BORT in wide
    assert BORT in load_space("bort-neighbourhood")
    assert all(a.hidden % a.heads == 0 for a in space.candidates)


def test_enumeration_is_deterministic_and_sorted() -> None:
    first = load_space("bert-base").candidates
    assert first == load_space("bert-base").candidates
    assert [a.shape for a in first] == sorted(a.shape for a in first)
    assert len(set(first)) == len(first)


def test_tiny_is_small_and_respects_its_constraint() -> None:
    space = load_space("tiny")
    assert 10 <= space.size <= 60
    assert all(a.hidden <= 128 and a.hidden // a.heads >= 16 for a in space.candidates)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


VALID = """
[dimensions]
depth = [1, 2]
heads = [2]
hidden = [32]
intermediate = [64]
"""


def test_user_file_loads_with_default_context(tmp_path: Path) -> None:
    space = load_space(_write(tmp_path, VALID))
    assert space.size == 2
    assert space.candidates[0].vocab_size == 50265


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("foo = 1\n" + VALID, ["unknown key 'foo'"]),
        (VALID + "\nfoo = 1\n", ["dimensions.foo: unknown key"]),
        (VALID.replace("depth = [1, 2]", "depth = []"), ["dimensions.depth: empty list"]),
        (VALID.replace("depth = [1, 2]", "depth = [1, 1]"), ["dimensions.depth: duplicate"]),
        (VALID.replace("heads = [2]", 'heads = ["two"]'), ["dimensions.heads: 'two'"]),
        (VALID.replace("hidden = [32]", "hidden = [-32]"), ["dimensions.hidden: -32"]),
        (VALID.replace("heads = [2]", "heads = [3]"), ["leave no candidate"]),
        (VALID.replace("depth = [1, 2]", "layers = [1]"), ["dimensions.layers: unknown key"]),
        (VALID + "[context]\nvocab_size = 0\n", ["context.vocab_size: must be a positive"]),
        ("[dimensions\n", ["malformed TOML"]),
        (
            VALID.replace("depth = [1, 2]", "depth = []").replace("heads = [2]", "heads = 2"),
            ["2 problems", "dimensions.depth: empty list", "dimensions.heads: must be a list"],
        ),
    ],
)
def test_bad_files_report_file_key_and_value(tmp_path: Path, text: str, fragments: list) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SpaceError) as error:
        load_space(path)
    message = str(error.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message


def test_unknown_name_and_missing_file_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="unknown space 'bert-huge'"):
        load_space("bert-huge")
    with pytest.raises(SpaceError, match="no such space file"):
        load_space(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpaceError, match="not UTF-8"):
        load_space(tmp_path / "bad.toml")
