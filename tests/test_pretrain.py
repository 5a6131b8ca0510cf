"""`bortnas pretrain` in process: options from the config, the three losses, the HF output, and
one-line errors for bad inputs (tiny shapes, a 1,500-line corpus, ~20 steps)."""

from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from bortnas.cli.main import main
from bortnas.cli.options import add_options, config_from
from bortnas.core.errors import StoreError
from bortnas.pretraining import PretrainConfig, PretrainError, pretrain
from bortnas.pretraining.data import BatchSource

TINY = dict(arch="2 2 32 64", steps=12, batch_size=8, sequence_length=32, vocab_size=600)
TINY |= dict(device="cpu", threads=1, learning_rate=1e-3, checkpoint_every=5)


def genesis(folder: Path) -> Path:
    """1,533 verses of Genesis, one per line (Debian's bible-kjv): a small real corpus."""
    path = folder / "genesis.txt"
    verses = subprocess.run(
        ["bible", "-f", "Gen1:1-Gen50:26"], capture_output=True, text=True, check=True
    ).stdout
    path.write_text("\n".join(line.split(" ", 1)[-1] for line in verses.splitlines()))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return genesis(tmp_path_factory.mktemp("corpus"))


def run(tmp_path: Path, corpus: Path, name: str = "run", **changes) -> object:
    config = PretrainConfig(**{**TINY, "corpus": str(corpus), "out": str(tmp_path / name)})
    return pretrain(PretrainConfig(**{**config.to_dict(), **changes}), on_message=lambda m: None)


# --- the option generator -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Toy:
    name: str = field(metadata={"help": "required text"})
    size: int | None = field(default=None, metadata={"help": "optional whole number"})
    rate: float = field(default=0.5, metadata={"help": "a rate"})
    mode: str = field(default="a", metadata={"help": "a choice", "choices": ("a", "b")})
    fast: bool = field(default=False, metadata={"help": "a flag"})
    show: bool = field(default=True, metadata={"help": "on unless --no-show"})


def test_options_come_from_the_dataclass_fields() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser, Toy)
    parsed = config_from(parser.parse_args(["--name", "x", "--size", "3", "--fast"]), Toy)
    assert parsed == Toy(name="x", size=3, fast=True)
    assert config_from(parser.parse_args(["--name", "y", "--no-show"]), Toy).show is False
    assert "(default 0.5)" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--name", "x", "--mode", "c"])
    with pytest.raises(SystemExit):
        parser.parse_args([])  # --name is required: the field has no default


def test_config_defaults_are_borts_recipe_and_tokens_set_the_steps() -> None:
    config = PretrainConfig(arch="2 2 32 64", out="x")
    assert (config.mlm_weight, config.distillation_weight, config.temperature) == (0.1, 0.5, 2.0)
    assert config.learning_rate == 1e-4
    assert PretrainConfig(arch="a", out="x", tokens=10_000, batch_size=8).total_steps == 10
    assert "out" not in config.identity()
    assert "seed" in config.identity()
    with pytest.raises(PretrainError, match="warmup"):
        PretrainConfig(arch="a", out="x", warmup=1.5)


# --- data ------------------------------------------------------------------------------------


def test_shards_of_a_global_batch_are_the_whole_batch(corpus: Path) -> None:
    from bortnas.text.corpus import load_corpus
    from bortnas.text.tokenizer import train_tokenizer

    documents = load_corpus(corpus).train
    tokenizer = train_tokenizer(load_corpus(corpus), vocab_size=600)
    common = dict(batch_size=8, sequence_length=32, mask_probability=0.15, seed=3)
    whole = BatchSource(documents, tokenizer, **common).batch(7)
    halves = [BatchSource(documents, tokenizer, rank=r, world=2, **common).batch(7) for r in (0, 1)]
    assert [t for h in halves for t in h.texts] == whole.texts
    for half, rows in zip(halves, (slice(0, 4), slice(4, 8)), strict=True):
        width = half.ids.shape[1]
        assert torch.equal(half.ids, whole.ids[rows, :width])
        assert torch.equal(half.chosen, whole.chosen[rows, :width])
    assert whole.chosen.any(1).all()  # every document has a masked-LM term
    again = BatchSource(documents, tokenizer, **common).batch(7)
    assert torch.equal(again.ids, whole.ids)  # a pure function of (seed, step)


# --- runs --------------------------------------------------------------------------------------


def test_default_teacher_run_writes_a_folder_transformers_and_finetune_load(
    tmp_path, corpus
) -> None:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    result = run(tmp_path, corpus)
    assert result.mode == "embeddings"
    assert result.steps == 12
    out = tmp_path / "run"
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, 13))
    assert lines[-1]["loss"] < lines[0]["loss"]
    assert (out / "loss.png").stat().st_size > 1000
    model = AutoModelForMaskedLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.num_hidden_layers == 2
    assert model.config.vocab_size == len(tokenizer)
    inputs = tokenizer(["In the beginning"], return_tensors="pt", return_token_type_ids=False)
    assert inputs["input_ids"][0, 0] == tokenizer.cls_token_id  # framed as in pretraining
    assert model(**inputs).logits.shape[-1] == len(tokenizer)
    # ... and that `bortnas finetune --student` fine-tunes, keeping the pretrained tokenizer.
    theta = tmp_path / "theta.json"
    theta.write_text(json.dumps([{"learning_rate": 1e-3, "batch_size": 8, "epochs": 1}]))
    args = ["finetune", "--algorithm", "plain", "--data", "wordnet", "--student", str(out)]
    args += ["--out", str(tmp_path / "tuned"), "--theta", str(theta), "--train-size", "16"]
    args += ["--eval-size", "8", "--test-size", "8", "--max-length", "32", "--no-progress"]
    assert main(args) == 0
    tuned = AutoTokenizer.from_pretrained(tmp_path / "tuned" / "student")
    assert tuned.get_vocab() == tokenizer.get_vocab()


def test_teacher_with_a_masked_lm_head_gets_borts_kl_recipe(tmp_path, corpus) -> None:
    from transformers import BertConfig, BertForMaskedLM

    first = run(tmp_path, corpus, "student", teacher="none", steps=3)
    assert first.mode == "mlm"
    assert first.metrics[0]["distillation"] is None
    teacher = tmp_path / "teacher"
    config = BertConfig.from_pretrained(tmp_path / "student")
    BertForMaskedLM(config).save_pretrained(teacher)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (teacher / name).write_bytes((tmp_path / "student" / name).read_bytes())
    result = run(tmp_path, corpus, "kl", teacher=str(teacher), steps=3, tokenizer="auto")
    assert result.mode == "logits"
    record = result.metrics[0]
    assert record["distillation"] > 0
    assert record["loss"] == pytest.approx(0.1 * record["mlm"] + 0.5 * record["distillation"])


def test_a_changed_setting_does_not_resume_another_run(tmp_path, corpus) -> None:
    run(tmp_path, corpus, teacher="none", steps=2)
    with pytest.raises(StoreError, match="changed: seed"):
        run(tmp_path, corpus, teacher="none", steps=2, seed=1)
    again = run(tmp_path, corpus, teacher="none", steps=2, seed=1, restart=True)
    assert again.resumed_from == 0


# --- user mistakes: one line, exit code 2 ---------------------------------------------------


def _damaged_checkpoint(tmp_path: Path, corpus: Path) -> list[str]:
    run(tmp_path, corpus, "damaged", teacher="none", steps=2, checkpoint_every=1)
    (tmp_path / "damaged" / "checkpoint" / "state.pt").write_bytes(b"not a checkpoint")
    return ["--teacher", "none", "--steps", "2", "--checkpoint-every", "1"]


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("teacher", "teacher folder not found"),
        ("corpus", "corpus not found"),
        ("arch", "not divisible"),
        ("checkpoint", "damaged checkpoint"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(tmp_path, corpus, capsys, case, fragment) -> None:
    args = ["pretrain", "--out", str(tmp_path / "damaged"), "--corpus", str(corpus)]
    args += ["--arch", "2 2 32 64", "--batch-size", "8", "--sequence-length", "32"]
    args += ["--vocab-size", "600", "--device", "cpu", "--threads", "1", "--learning-rate", "1e-3"]
    extra = {
        "teacher": ["--teacher", str(tmp_path / "nowhere")],
        "corpus": ["--corpus", str(tmp_path / "missing.txt")],
        "arch": ["--arch", "2 3 32 64"],
    }.get(case) or _damaged_checkpoint(tmp_path, corpus)
    assert main(args + extra) == 2
    error = capsys.readouterr().err.strip()
    assert fragment in error
    assert len(error.splitlines()) == 1
    assert "Traceback" not in error
