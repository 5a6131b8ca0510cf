from __future__ import annotations

import re

import pytest

from bortnas import BORT, Architecture
from bortnas.core.architecture import BORT_2_16_512_1024
from bortnas.core.errors import ArchitectureError, BortnasError


def test_bort_round_trips_through_bert_config() -> None:
    config = BORT.to_bert_config()
    assert (config.num_hidden_layers, config.num_attention_heads) == (4, 8)
    assert (config.hidden_size, config.intermediate_size) == (1024, 768)
    assert (config.vocab_size, config.max_position_embeddings, config.type_vocab_size) == (
        50265,
        514,
        1,
    )
    assert Architecture.from_bert_config(config) == BORT
    assert Architecture.from_bert_config(BORT_2_16_512_1024.to_bert_config()) == BORT_2_16_512_1024


def test_architectures_are_hashable_and_ids_depend_on_every_field() -> None:
    same = Architecture(4, 8, 1024, 768)
    assert same == BORT
    assert hash(same) == hash(BORT)
    assert same.id == BORT.id
    assert len({BORT, same}) == 1
    assert BORT.with_shape(vocab_size=8192).id != BORT.id
    assert BORT.with_shape(intermediate=1024).id != BORT.id


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"depth": 0}, "D (depth, encoder layers) must be positive, got 0"),
        ({"heads": -8}, "A (attention heads) must be positive, got -8"),
        ({"hidden": 1020}, "H (hidden size) 1020 is not divisible by A (attention heads) 8"),
        ({"intermediate": 768.5}, "I (intermediate, feed-forward size) must be a whole number"),
        ({"depth": True}, "must be a whole number"),
        ({"vocab_size": 10**9}, "vocabulary size must be at most"),
    ],
)
def test_invalid_architectures_name_the_field_and_value(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ArchitectureError, match=re.escape(fragment)):
        BORT.with_shape(**kwargs)


def test_from_dict_rejects_unknown_and_missing_keys() -> None:
    with pytest.raises(BortnasError, match="unknown architecture key"):
        Architecture.from_dict({**BORT.to_dict(), "layers": 3})
    with pytest.raises(BortnasError, match="missing intermediate"):
        Architecture.from_dict({"depth": 1, "heads": 1, "hidden": 8})
    assert Architecture.from_dict(BORT.to_dict()) == BORT
