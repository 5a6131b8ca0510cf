"""The vectorised student: the same encoder as transformers' BertModel, torch's AdamW update, and
Θ replicas that train exactly as each θ would alone."""

from __future__ import annotations

import pytest
import torch
from transformers import BertModel

from bortnas.core.architecture import Architecture
from bortnas.core.theta import Hyperparameters
from bortnas.proxies.student import ReplicaAdamW, StudentShape, encode, initial_weights
from tests.test_error_proxy import _proxy, corpus_file  # noqa: F401  (fixture)


def _copy_bert_into(weights: dict[str, torch.Tensor], model: BertModel, replica: int) -> None:
    e = model.embeddings
    with torch.no_grad():
        weights["word"][replica].copy_(e.word_embeddings.weight)
        weights["position"][replica].copy_(e.position_embeddings.weight)
        weights["token_type"][replica].copy_(e.token_type_embeddings.weight[0])
        weights["embed_ln_w"][replica].copy_(e.LayerNorm.weight)
        weights["embed_ln_b"][replica].copy_(e.LayerNorm.bias)
        for index, layer in enumerate(model.encoder.layer):
            p, attention = f"{index}.", layer.attention
            q, k, v = attention.self.query, attention.self.key, attention.self.value
            weights[p + "qkv_w"][replica].copy_(torch.cat([q.weight.T, k.weight.T, v.weight.T], 1))
            weights[p + "qkv_b"][replica].copy_(torch.cat([q.bias, k.bias, v.bias]))
            weights[p + "out_w"][replica].copy_(attention.output.dense.weight.T)
            weights[p + "out_b"][replica].copy_(attention.output.dense.bias)
            weights[p + "ln1_w"][replica].copy_(attention.output.LayerNorm.weight)
            weights[p + "ln1_b"][replica].copy_(attention.output.LayerNorm.bias)
            weights[p + "ff1_w"][replica].copy_(layer.intermediate.dense.weight.T)
            weights[p + "ff1_b"][replica].copy_(layer.intermediate.dense.bias)
            weights[p + "ff2_w"][replica].copy_(layer.output.dense.weight.T)
            weights[p + "ff2_b"][replica].copy_(layer.output.dense.bias)
            weights[p + "ln2_w"][replica].copy_(layer.output.LayerNorm.weight)
            weights[p + "ln2_b"][replica].copy_(layer.output.LayerNorm.bias)


def test_encoder_matches_bert_model_with_the_same_weights() -> None:
    torch.manual_seed(0)
    architecture = Architecture(2, 4, 64, 96, vocab_size=100, max_positions=16)
    config = architecture.to_bert_config(
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, attn_implementation="eager"
    )
    models = [BertModel(config, add_pooling_layer=False).eval() for _ in range(2)]
    shape = StudentShape(2, 4, 64, 96, vocab_size=100, max_positions=16, target_dim=8)
    weights = initial_weights(shape, [0, 1])
    for replica, model in enumerate(models):
        _copy_bert_into(weights, model, replica)
    ids = torch.randint(1, 100, (3, 10))
    attention = torch.ones(3, 10, dtype=torch.long)
    attention[1, 6:] = 0
    out = encode(shape, weights, ids.expand(2, -1, -1), attention.expand(2, -1, -1))
    for replica, model in enumerate(models):
        expected = model(input_ids=ids, attention_mask=attention).last_hidden_state
        assert torch.allclose(out[replica], expected, atol=1e-5)
    assert not torch.allclose(out[0], out[1])


def test_replica_adamw_is_torchs_adamw_per_replica() -> None:
    torch.manual_seed(0)
    start = torch.randn(3, 5, 4)
    ours = start.clone().requires_grad_(True)
    rates, decays = [1e-3, 3e-3, 1e-2], [0.0, 0.01, 0.1]
    optimizer = ReplicaAdamW([ours], learning_rates=rates, weight_decays=decays)
    theirs = [start[r].clone().requires_grad_(True) for r in range(3)]
    references = [
        torch.optim.AdamW([t], lr=rate, weight_decay=decay)
        for t, rate, decay in zip(theirs, rates, decays, strict=True)
    ]
    for step in range(5):
        grad = torch.randn(3, 5, 4)
        ours.grad = grad.clone()
        factor = [0.5 + 0.1 * step] * 3
        optimizer.step(factor)
        for r, (tensor, reference) in enumerate(zip(theirs, references, strict=True)):
            tensor.grad = grad[r].clone()
            reference.param_groups[0]["lr"] = rates[r] * factor[r]
            reference.step()
    for r in range(3):
        assert torch.allclose(ours[r], theirs[r], atol=1e-6)


@pytest.mark.parametrize("mode", ["embeddings", "mlm"])
def test_theta_replicas_give_the_values_of_each_theta_alone(corpus_file, mode) -> None:  # noqa: F811
    theta = (
        Hyperparameters(learning_rate=1e-2),
        Hyperparameters(learning_rate=3e-3),
        Hyperparameters(learning_rate=1e-2, batch_size=4),
    )
    knobs = {"teacher": "none"} if mode == "mlm" else {}
    together = _proxy(corpus_file, theta=theta, seeds=2, **knobs)
    architecture = Architecture(2, 2, 32, 64)
    joint = together.evaluate(architecture).details["per_theta"]
    for index, setting in enumerate(theta):
        alone = _proxy(corpus_file, theta=(setting,), seeds=2, **knobs)
        value = alone.evaluate(architecture).details["per_theta"][0]
        assert value["per_seed"] == pytest.approx(joint[index]["per_seed"], rel=1e-4, abs=1e-5)
    assert joint[0]["value"] != pytest.approx(joint[1]["value"], rel=1e-3)  # θ matters


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_auto_device_falls_back_to_the_cpu_with_a_notice(capsys) -> None:
    from bortnas.core import device
    from bortnas.core.device import resolve_device

    device._NOTICES.clear()
    assert resolve_device("auto") == "cpu"
    assert "no CUDA GPU" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (not in CI)")
def test_auto_device_takes_the_gpu_when_there_is_one() -> None:
    from bortnas.core.device import resolve_device

    assert resolve_device("auto") == "cuda"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (not in CI)")
def test_students_train_on_a_gpu_like_on_the_cpu(corpus_file) -> None:  # noqa: F811
    architecture = Architecture(2, 2, 32, 64)
    on_cpu = _proxy(corpus_file, seeds=2).evaluate(architecture)
    on_gpu = _proxy(corpus_file, seeds=2, device="cuda").evaluate(architecture)
    assert on_gpu.details["device"] == "cuda"
    assert on_gpu.details["per_seed"] == pytest.approx(on_cpu.details["per_seed"], abs=5e-3)
