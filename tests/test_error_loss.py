"""`error_loss="mlm"`: plain masked-LM error with the head run on the masked positions only."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bortnas.proxies.replicas import masked_positions
from bortnas.proxies.student import encode, initial_weights, masked_lm_logits
from bortnas.proxies.training import ProxySettingError
from tests.test_error_proxy import TINY, _proxy, corpus_file  # noqa: F401  (fixture)


def test_masked_positions_by_hand():
    chosen = torch.tensor([[False, True, False, True], [True, False, False, False]])
    positions, valid = masked_positions(chosen)
    assert positions[0].tolist() == [1, 3]
    assert positions[1, 0].item() == 0
    assert valid.tolist() == [[True, True], [True, False]]


def test_the_masked_head_gives_the_full_heads_loss(corpus_file):  # noqa: F811
    proxy = _proxy(corpus_file, error_loss="mlm", steps=0)
    data = proxy.prepare()
    trainer = proxy.trainer()
    shape = trainer._shape(TINY, data)
    weights = initial_weights(shape, [0, 1], pad_id=proxy.tokenizer.pad_id)
    rows = torch.arange(16).expand(2, -1)
    ours = trainer._losses(
        shape, weights, data["held"], rows, [torch.Generator().manual_seed(5)] * 2
    )
    # By hand, the former way: the head on every position, the loss averaged over masked ones.
    batch = trainer._batch(data["held"], rows)
    masked, chosen = trainer._mask(batch["ids"], [torch.Generator().manual_seed(5)] * 2)
    hidden = encode(shape, weights, masked, batch["attention"])
    logits = masked_lm_logits(shape, weights, hidden.reshape(2, -1, shape.hidden))
    losses = F.cross_entropy(logits.transpose(1, 2), batch["ids"].reshape(2, -1), reduction="none")
    weight = chosen.reshape(2, -1).float()
    expected = (losses.clamp(0, trainer.clip) * weight).sum(1) / weight.sum(1)
    assert ours.tolist() == pytest.approx(expected.tolist(), rel=1e-5)


def test_mlm_is_plain_masked_lm_and_enters_the_provenance_only_when_asked(corpus_file):  # noqa: F811
    plain = _proxy(corpus_file, teacher="none", steps=3)  # the former way to get masked LM
    mlm = _proxy(corpus_file, error_loss="mlm", steps=3)
    assert mlm.mode == "mlm"
    assert mlm.teacher is None
    assert "error_loss" not in plain.provenance()
    assert {k: v for k, v in mlm.provenance().items() if k != "error_loss"} == plain.provenance()
    assert mlm.provenance()["error_loss"] == "mlm"
    assert mlm.evaluate(TINY).value == pytest.approx(plain.evaluate(TINY).value, rel=1e-6)


def test_bad_error_loss_settings_are_user_mistakes(corpus_file):  # noqa: F811
    with pytest.raises(ProxySettingError, match="error loss must be one of"):
        _proxy(corpus_file, error_loss="cross-entropy")
    with pytest.raises(ProxySettingError, match="without a teacher"):
        _proxy(corpus_file, error_loss="mlm", teacher="some/folder")
