"""The closed-form count must equal what transformers actually allocates."""

from __future__ import annotations

import random

import pytest
import torch
from transformers import BertModel

from bortnas import BORT, count_parameters, load_space
from bortnas.proxies import ParameterProxy


def _real_count(architecture) -> int:
    with torch.device("meta"):  # shapes only: BERT-large costs nothing
        model = BertModel(architecture.to_bert_config())
    return sum(p.numel() for p in model.parameters())


def _sample(count: int) -> list:
    rng = random.Random(20201020)
    picked = []
    for name in ("bert-large", "bert-base", "tiny"):
        picked += rng.sample(load_space(name).candidates, count // 3)
    return picked


@pytest.mark.parametrize("architecture", _sample(36), ids=lambda a: a.name)
def test_formula_matches_transformers(architecture) -> None:
    assert count_parameters(architecture).total == _real_count(architecture)


def test_without_embeddings_matches_transformers() -> None:
    with torch.device("meta"):
        model = BertModel(BORT.to_bert_config())
    encoder_and_pooler = sum(
        p.numel() for name, p in model.named_parameters() if not name.startswith("embeddings.")
    )
    assert count_parameters(BORT).without_embeddings == encoder_and_pooler


def test_bort_known_counts() -> None:
    count = count_parameters(BORT)
    assert count.total == 76_158_976
    assert count.without_embeddings == 24_158_208


def test_proxy_reports_the_chosen_count_and_keeps_the_other() -> None:
    full = ParameterProxy().evaluate(BORT)
    bare = ParameterProxy(include_embeddings=False).evaluate(BORT)
    assert full.value == 76_158_976
    assert bare.value == 24_158_208
    assert full.details == bare.details == {"total": 76_158_976, "without_embeddings": 24_158_208}
    assert full.provenance != bare.provenance
