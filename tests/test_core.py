"""The shared base: atomic folder writes, content identities of checkpoints, the BertConfig map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bortnas.core.architecture import BORT, Architecture
from bortnas.core.errors import ArchitectureError
from bortnas.core.files import atomic_directory
from bortnas.core.hf import checkpoint_fingerprint
from bortnas.finetuning.classification import TEACHER_THETA, finetuned_teacher_identity
from bortnas.finetuning.tasks import Split


def _tiny_encoder(folder: Path, seed: int) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=50,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
    )
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


def test_atomic_directory_replaces_the_folder_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "student"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
        assert (target / "old.txt").is_file()  # readers still see the old folder meanwhile
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["student"]  # no staging left behind


def test_atomic_directory_keeps_the_old_folder_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "student"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "half.txt").write_text("half")
        raise RuntimeError("crash mid-save")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["student"]


def test_atomic_directory_has_ordinary_permissions(tmp_path: Path) -> None:
    """mkdtemp makes 0700 folders; a saved model must be as readable as one made by mkdir."""
    import os

    (tmp_path / "reference").mkdir()
    with atomic_directory(tmp_path / "student") as staging:
        (staging / "config.json").write_text("{}")
    mode = (tmp_path / "student").stat().st_mode & 0o777
    assert mode == (tmp_path / "reference").stat().st_mode & 0o777
    assert os.access(tmp_path / "student", os.R_OK | os.X_OK)


def test_a_failure_between_the_two_renames_puts_the_old_folder_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import bortnas.core.files as files

    target = tmp_path / "student"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real_replace, calls = os.replace, []

    def second_rename_fails(source, destination):  # type: ignore[no-untyped-def]
        calls.append((source, destination))
        if len(calls) == 2:
            raise OSError("disk gone")
        return real_replace(source, destination)

    monkeypatch.setattr(files.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="disk gone"), atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["student"]


def test_atomic_directory_can_keep_an_equivalent_folder_written_first(tmp_path: Path) -> None:
    target = tmp_path / "teacher"
    with atomic_directory(target, keep_existing=True) as staging:
        (staging / "mine.txt").write_text("mine")
        target.mkdir()
        (target / "theirs.txt").write_text("theirs")  # another process finished first
    assert sorted(p.name for p in target.iterdir()) == ["theirs.txt"]


def test_a_teacher_is_identified_by_its_content_not_its_folder_name(tmp_path: Path) -> None:
    """Agora's teacher cache used to key on the folder name: every base named `model` collided."""
    first = _tiny_encoder(tmp_path / "a" / "model", seed=0)
    second = _tiny_encoder(tmp_path / "b" / "model", seed=1)
    renamed = _tiny_encoder(tmp_path / "c" / "other-name", seed=0)
    assert checkpoint_fingerprint(first) != checkpoint_fingerprint(second)
    assert checkpoint_fingerprint(first) == checkpoint_fingerprint(renamed)
    train = Split(("a text", "another"), (0, 1), "train")
    identities = [
        finetuned_teacher_identity(train, 2, TEACHER_THETA, 64, base)
        for base in (first, second, renamed)
    ]
    assert identities[0] != identities[1]
    assert identities[0] == identities[2]


def test_one_mapping_to_and_from_bert_config() -> None:
    config = BORT.to_bert_config()
    assert Architecture.from_bert_config(config) == BORT
    assert Architecture.from_bert_config(config.to_dict()) == BORT
    with pytest.raises(ArchitectureError, match="missing num_hidden_layers"):
        Architecture.from_bert_config({"hidden_size": 8})


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(0.5, True), (np.float32(0.5), True), (1, True), (None, False), (True, False), ("0.5", False),
     (float("nan"), False), (1.5, False)],
)  # fmt: skip
def test_a_range_check_accepts_numbers_only_and_never_raises_a_traceback(value, accepted) -> None:
    from types import SimpleNamespace

    from bortnas.core.errors import BortnasError
    from bortnas.core.settings import in_range

    config = SimpleNamespace(min_confidence=value)
    if accepted:
        in_range(config, ("min_confidence",), BortnasError, low=0, high=1)
    else:
        with pytest.raises(BortnasError, match=r"--min-confidence must be in \[0, 1\]"):
            in_range(config, ("min_confidence",), BortnasError, low=0, high=1)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(1, True), (np.int64(3), True), (None, True), (0, False), (True, False), (2.0, False)],
)
def test_a_whole_number_check_takes_any_integer_type_but_bool(value, accepted) -> None:
    from types import SimpleNamespace

    from bortnas.core.errors import BortnasError
    from bortnas.core.settings import whole_at_least

    config = SimpleNamespace(max_length=value)
    if accepted:
        whole_at_least(config, 1, ("max_length",), BortnasError)
    else:
        with pytest.raises(BortnasError, match="--max-length must be at least 1"):
            whole_at_least(config, 1, ("max_length",), BortnasError)
