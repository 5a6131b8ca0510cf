from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModel, BertModel

from bortnas import BORT, Architecture, export_architecture, load_architecture
from bortnas.core.errors import ArchitectureError


def test_export_loads_in_stock_transformers_and_round_trips(tmp_path: Path) -> None:
    path = export_architecture(BORT, tmp_path, {"space": "bert-large", "error": 0.7})
    config = AutoConfig.from_pretrained(tmp_path)
    assert config.model_type == "bert"
    assert Architecture.from_bert_config(config) == BORT
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    assert isinstance(model, BertModel)
    architecture, metadata = load_architecture(path)
    assert architecture == BORT
    assert metadata["space"] == "bert-large"
    assert metadata["error"] == 0.7
    assert metadata["id"] == BORT.id


def test_exported_model_instantiates_and_runs(tmp_path: Path) -> None:
    tiny = Architecture(1, 2, 32, 64, vocab_size=100, max_positions=16)
    export_architecture(tiny, tmp_path)
    model = AutoModel.from_config(AutoConfig.from_pretrained(tmp_path))
    output = model(torch.randint(0, 100, (1, 8))).last_hidden_state
    assert output.shape == (1, 8, 32)


def test_load_rejects_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ArchitectureError, match="no such architecture file"):
        load_architecture(tmp_path / "nothing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ArchitectureError, match="not a JSON architecture file"):
        load_architecture(broken)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"hidden_size": 64}))
    with pytest.raises(ArchitectureError, match="missing num_hidden_layers"):
        load_architecture(partial)
    indivisible = tmp_path / "indivisible.json"
    config = BORT.to_bert_config().to_dict() | {"num_attention_heads": 3}
    indivisible.write_text(json.dumps(config))
    with pytest.raises(ArchitectureError, match="not divisible"):
        load_architecture(indivisible)
