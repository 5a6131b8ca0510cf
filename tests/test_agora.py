"""Agora on a tiny student and tiny real data: pruning, labels, test isolation, resume, CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import bortnas.finetuning.rounds as rounds_module
from bortnas.cli import main
from bortnas.core.architecture import Architecture
from bortnas.core.errors import DataError, StoreError
from bortnas.extraction.export import export_architecture
from bortnas.finetuning.agora import agora, finetune_plain
from bortnas.finetuning.classification import build_student, classifier_tokenizer, train_classifier
from bortnas.finetuning.config import AgoraConfig
from bortnas.finetuning.tasks import load_task, table_examples
from bortnas.finetuning.teacher import ClassifierTeacher, load_classifier_teacher
from bortnas.finetuning.theta import (
    Hyperparameters,
    ThetaError,
    grid,
    load_theta,
    prune_common_prefix,
    prune_drop_worst,
    prune_halving,
)

ARCH = Architecture(1, 2, 32, 64, vocab_size=512, max_positions=64)
EIGHT = grid(learning_rate=[1e-3, 3e-3], batch_size=[16, 32], seed=[0, 1], epochs=1)
FAST = {"vocab_size": 256, "max_length": 32, "min_teacher_accuracy": 0.0}


def fast(thetas, **settings) -> AgoraConfig:
    """A tiny run's settings: Θ as given, short texts, a small BPE, any teacher accepted."""
    return AgoraConfig(thetas=tuple(thetas), **{**FAST, **settings})


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: two threads contend and run ~10x slower
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def task():
    return load_task("wordnet", train_size=48, eval_size=24, test_size=24)


@pytest.fixture(scope="module")
def teacher(task) -> ClassifierTeacher:
    """A real (tiny) classifier trained a few steps on the train split: loose accuracy is fine."""
    tokenizer = classifier_tokenizer(task.train.texts, 256, cache=False)
    model = build_student(ARCH, tokenizer, 2, seed=0)
    theta = Hyperparameters(learning_rate=3e-3, batch_size=16, epochs=6)
    train_classifier(model, tokenizer, task.train, theta, seed=0, max_length=32)
    return ClassifierTeacher(model, tokenizer, {"source": "tiny test teacher"}, max_length=32)


def test_pruning_rules_as_specified() -> None:
    assert [len(x) for x in _chain(prune_halving, 8)] == [8, 4, 2, 1]
    assert [len(x) for x in _chain(prune_halving, 5)] == [5, 3, 2, 1]
    assert [len(x) for x in _chain(prune_drop_worst, 4)] == [4, 3, 2, 1]
    assert prune_halving(EIGHT) == EIGHT[:4]  # keeps the best (first) half, in rank order
    ranked = grid(learning_rate=[1e-3], batch_size=[8, 16], seed=[0, 1, 2])  # best first
    # worst first: (16, s2), (16, s1), (16, s0), (8, s2)...: the run sharing batch 16 is 3 long
    assert prune_common_prefix(ranked) == ranked[:3]


def _chain(rule, size: int) -> list[list[Hyperparameters]]:
    current, sizes = list(EIGHT[:size]) if size <= 8 else [], []
    while True:
        sizes.append(current)
        if len(current) == 1:
            return sizes
        current = rule(current)


def test_agora_halves_theta_each_round_and_keeps_the_best(task, teacher) -> None:
    result = agora(ARCH, teacher, task.train, task.eval, fast(EIGHT, patience=None), progress=False)
    assert [len(r.results) for r in result.rounds] == [8, 4, 2, 1]
    assert [r.survivors for r in result.rounds] == [4, 2, 1, 1]
    for before, after in zip(result.rounds, result.rounds[1:], strict=False):
        ranked = sorted(before.results, key=lambda r: -r["eval_accuracy"])
        assert [r["name"] for r in after.results] == [
            r["name"] for r in ranked[: len(after.results)]
        ]
    assert result.eval_accuracy == max(r.best_accuracy for r in result.rounds)
    assert result.steps == sum(x["steps"] for r in result.rounds for x in r.results)
    assert result.examples >= result.steps


def test_generated_examples_are_new_and_carry_teacher_labels(task, teacher) -> None:
    settings = fast(EIGHT[:4], patience=None)
    result = agora(ARCH, teacher, task.train, task.eval, settings, progress=False)
    assert result.generated, "a tiny student after one epoch must make eval mistakes"
    texts = [t for t, _ in result.generated]
    assert [y for _, y in result.generated] == teacher.label(texts)[0]
    assert not set(texts) & (set(task.train.texts) | set(task.eval.texts) | set(task.test.texts))
    assert result.rounds[1].train_size == len(task.train) + result.rounds[0].added
    assert sum(r.added for r in result.rounds) == len(result.generated)


def test_the_test_split_never_reaches_training_or_selection(task, teacher, monkeypatch) -> None:
    seen: set[str] = set()
    real_train, real_evaluate, real_label = (
        rounds_module.train_classifier,
        rounds_module.evaluate,
        ClassifierTeacher.label,
    )

    def spy_train(model, tokenizer, data, *args, **kwargs):
        seen.update(data.texts)
        return real_train(model, tokenizer, data, *args, **kwargs)

    def spy_evaluate(model, tokenizer, data, **kwargs):
        seen.update(data.texts)
        return real_evaluate(model, tokenizer, data, **kwargs)

    def spy_label(self, texts):
        seen.update(texts)
        return real_label(self, texts)

    monkeypatch.setattr(rounds_module, "train_classifier", spy_train)
    monkeypatch.setattr(rounds_module, "evaluate", spy_evaluate)
    monkeypatch.setattr(ClassifierTeacher, "label", spy_label)
    settings = fast(EIGHT[:2], patience=None)
    result = agora(ARCH, teacher, task.train, task.eval, settings, progress=False)
    assert seen
    assert set(task.train.texts) <= seen
    assert set(task.eval.texts) <= seen
    assert not seen & set(task.test.texts)
    # the walls themselves
    with pytest.raises(DataError, match="test split"):
        train_classifier(result.model, result.tokenizer, task.test, EIGHT[0], seed=0, max_length=32)
    with pytest.raises(DataError, match="test split"):
        agora(ARCH, teacher, task.train, task.test, fast(EIGHT[:2]), progress=False)
    # the splits are disjoint, and the test split does not move with the train size
    texts = [set(split.texts) for split in task.splits]
    assert not texts[0] & texts[1]
    assert not texts[0] & texts[2]
    assert not texts[1] & texts[2]
    assert load_task("wordnet", train_size=96, eval_size=24, test_size=24).test == task.test


def test_resume_after_a_crash_continues_from_the_last_round(task, teacher, tmp_path) -> None:
    settings = fast(EIGHT, patience=None)
    reference = agora(ARCH, teacher, task.train, task.eval, settings, progress=False)

    def crash_after_second_round(log) -> None:
        if log.round == 1:
            raise RuntimeError("simulated crash")

    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        agora(
            ARCH,
            teacher,
            task.train,
            task.eval,
            settings,
            out=run,
            progress=False,
            on_round_end=crash_after_second_round,
        )
    state = json.loads((run / "state.json").read_text())
    assert state["next_round"] == 2
    assert len(state["survivors"]) == 2
    resumed_rounds = []
    resumed = agora(
        ARCH,
        teacher,
        task.train,
        task.eval,
        settings,
        out=run,
        progress=False,
        on_round_end=resumed_rounds.append,
    )
    assert [log.round for log in resumed_rounds] == [2, 3]  # rounds 0 and 1 were not redone
    assert [r.results for r in resumed.rounds] == [r.results for r in reference.rounds]
    assert resumed.generated == reference.generated
    assert resumed.accuracy(task.test) == reference.accuracy(task.test)
    assert len(list(run.glob("best-round*"))) == 1
    with pytest.raises(StoreError, match="different run"):
        agora(ARCH, teacher, task.train, task.eval, fast(EIGHT, seed=1), out=run, progress=False)


def test_plain_trains_thetas_first_once_with_a_step_budget(task) -> None:
    settings = fast(EIGHT, total_steps=7, replay_rounds=2, min_teacher_accuracy=0.9)
    result = finetune_plain(ARCH, task.train, task.eval, settings, progress=False)
    assert len(result.rounds) == 1
    assert result.steps == 7
    assert not result.generated
    assert result.best_theta == EIGHT[0]
    assert result.algorithm == "plain"


def test_theta_files(tmp_path) -> None:
    toml = tmp_path / "theta.toml"
    toml.write_text("[grid]\nlearning_rate = [1e-3, 5e-4]\nbatch_size = [8, 16]\nepochs = 3\n")
    assert len(load_theta(toml)) == 4
    assert load_theta(toml)[0].epochs == 3
    listed = tmp_path / "theta.json"
    listed.write_text(json.dumps([{"learning_rate": 1e-3}, {"learning_rate": 1e-3}]))
    assert load_theta(listed) == [Hyperparameters(learning_rate=1e-3)]
    assert len(load_theta("bort")) == 480
    listed.write_text(json.dumps({"theta": [{"learning_rat": 1e-3}]}))
    with pytest.raises(ThetaError, match="unknown θ setting"):
        load_theta(listed)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"sentence,label\nhello,a\n", "missing column(s) 'text'"),
        (b"text,label\nhello,a\n\xff\xfe,b\n", "not UTF-8"),
        (b"text,label\nx,a\ny,b\nz,c\n", "a binary task needs 2 labels"),
        (b"text,label\nx,a\ny,a\n", "at least 2 distinct labels"),
        (b"text,label\nx,a\n,b\n", "row 3 has an empty or non-text 'text'"),
    ],
)
def test_bad_csv_files_are_one_line_data_errors(tmp_path, content: bytes, fragment: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_task(path, train_size=1, eval_size=1, test_size=1)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_jsonl_loads_like_csv(tmp_path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"t": f"text {i}", "y": i % 2}) + "\n" for i in range(9)))
    rows = table_examples(path, text_column="t", label_column="y")
    assert len(rows) == 9
    assert {y for _, y in rows} == {"0", "1"}


def test_pickle_teachers_are_refused(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not even a pickle")
    with pytest.raises(DataError, match="pickle"):
        load_classifier_teacher(tmp_path, 2)


def _csv(path: Path, task) -> Path:
    import csv

    names = ("animal", "plant")
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        for split in task.splits:
            writer.writerows((t, names[y]) for t, y in zip(split.texts, split.labels, strict=True))
    return path


def test_cli_agora_end_to_end_with_a_checkpoint_teacher(task, teacher, tmp_path, capsys) -> None:
    data = _csv(tmp_path / "data.csv", task)
    teacher_dir = tmp_path / "teacher"
    teacher.model.save_pretrained(teacher_dir)
    teacher.tokenizer.save_pretrained(teacher_dir)
    student = export_architecture(ARCH, tmp_path / "student")
    theta = tmp_path / "theta.json"
    theta.write_text(json.dumps({"grid": {"learning_rate": [1e-3, 3e-3], "epochs": 1}}))
    out = tmp_path / "run"
    args = [
        "finetune",
        "--data",
        str(data),
        "--student",
        str(student),
        "--teacher",
        str(teacher_dir),
        "--out",
        str(out),
        "--theta",
        str(theta),
        "--train-size",
        "48",
        "--eval-size",
        "24",
        "--test-size",
        "24",
        "--vocab-size",
        "256",
        "--max-length",
        "32",
        "--min-teacher-accuracy",
        "0",
        "--no-progress",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed
    assert "rounds" in printed
    result = json.loads((out / "result.json").read_text())
    assert result["splits"] == {"train": 48, "eval": 24, "test": 24}
    assert 0 <= result["test_accuracy"] <= 1
    assert result["optimizer_steps"] > 0
    assert (out / "student" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--data", "/nonexistent.csv"], "no such data file"),
        (["--data", "wordnet", "--theta", "/nonexistent.toml"], "no such Θ file"),
        (["--data", "wordnet", "--student", "/nonexistent.json"], "no such architecture file"),
        (["--data", "wordnet", "--train-size", "0"], "--train-size must be at least 1"),
        (["--data", "wordnet", "--max-length", "0"], "--max-length must be at least 1"),
        (["--data", "wordnet", "--threads", "0"], "--threads must be at least 1"),
        (["--data", "wordnet", "--per-mistake", "0"], "--per-mistake must be at least 1"),
        (["--data", "wordnet", "--generators", "mlm"], "unknown data generator"),
        (["--data", "wordnet", "--train-size", "100000"], "ask for smaller splits"),
    ],
)
def test_cli_user_mistakes_exit_2_with_one_line(tmp_path, capsys, extra, fragment) -> None:
    student = export_architecture(ARCH, tmp_path / "student")
    args = ["finetune", "--student", str(student), "--out", str(tmp_path / "run"), *extra]
    args += ["--teacher", str(tmp_path)]  # never reached: every mistake is caught before
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert fragment in lines[0], lines


def test_cli_help_and_a_real_subprocess_error(tmp_path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "bortnas.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert "example:" in run("finetune", "--help").stdout
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00")
    result = run("finetune", "--data", str(bad), "--student", "x.json", "--out", str(tmp_path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_cli_plain_from_a_checkpoint_student(task, teacher, tmp_path, capsys) -> None:
    data = _csv(tmp_path / "data.csv", task)
    checkpoint = tmp_path / "pretrained"
    teacher.model.save_pretrained(checkpoint)
    teacher.tokenizer.save_pretrained(checkpoint)
    out = tmp_path / "run"
    args = [
        "finetune",
        "--algorithm",
        "plain",
        "--data",
        str(data),
        "--student",
        str(checkpoint),
        "--out",
        str(out),
        "--train-size",
        "48",
        "--eval-size",
        "24",
        "--test-size",
        "24",
        "--max-length",
        "32",
        "--no-progress",
    ]
    assert main(args) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["algorithm"] == "plain"
    assert result["teacher"] is None
    assert result["optimizer_steps"] == 3 * 10  # 48 examples / batch 16, 10 epochs
    assert main([*args, "--seed", "1"]) == 2  # same folder, different run: refused
    assert "different run" in capsys.readouterr().err
    assert main([*args, "--seed", "1", "--restart"]) == 0


def test_agora_config_is_frozen_keyword_only_and_documented():
    import dataclasses

    from bortnas.finetuning.agora import AgoraConfig

    config = AgoraConfig(seed=3, generators=["swap"])
    assert config.generators == ("swap",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        AgoraConfig("agora")  # type: ignore[misc]
    assert all(f.metadata.get("help") for f in dataclasses.fields(AgoraConfig))


def test_agora_config_checks_its_settings_in_one_line():
    assert AgoraConfig(patience=0).patience is None  # the command line's "never"
    for settings, fragment in [
        ({"max_length": 0}, "--max-length must be at least 1"),
        ({"patience": -1}, "--patience must be at least 0"),
        ({"generators": ("mlm",)}, "unknown data generator"),
        ({"mistakes_from": "test"}, "--mistakes-from must be one of eval, train"),
        ({"min_teacher_accuracy": 2.0}, "--min-teacher-accuracy must be in [0, 1]"),
    ]:
        with pytest.raises(DataError, match=re.escape(fragment)):
            AgoraConfig(**settings)
    with pytest.raises(ThetaError, match="unknown pruning rule"):
        AgoraConfig(prune="best")
    plain = AgoraConfig(thetas=EIGHT, seed=3, replay_rounds=2).plain()
    assert plain.thetas == (EIGHT[0],)
    assert plain.seed == 3
    assert plain.replay_rounds == 0
    assert (plain.generators, plain.per_mistake, plain.patience) == ((), 0, None)


def test_one_lr_schedule_warms_up_then_decays_to_zero():
    from bortnas.core.schedule import linear_warmup_decay

    factors = [linear_warmup_decay(step, 10, 0.2) for step in range(10)]
    assert factors[:2] == [0.5, 1.0]
    assert factors[2] == 1.0
    assert factors[-1] == pytest.approx(1 / 8)
    assert linear_warmup_decay(0, 10, 0.0) == 1.0  # at least one warm-up step


def test_bpe_recipes_never_share_a_cache_file(tmp_path, monkeypatch):
    from bortnas.text.tokenizer import train_bpe

    monkeypatch.setenv("BORTNAS_CACHE", str(tmp_path))
    texts = ["The Cat sat on the Mat.", "A dog barked at the Cat."] * 4
    common = {"vocab_size": 300, "special_tokens": ("<pad>", "<unk>"), "unk_token": "<unk>"}
    cased = train_bpe(texts, lowercase=False, **common)
    lowered = train_bpe(texts, lowercase=True, **common)
    assert len(list((tmp_path / "tokenizers").glob("*.json"))) == 2
    assert cased.encode("Cat").tokens != lowered.encode("Cat").tokens
    assert train_bpe(texts, lowercase=True, **common).to_str() == lowered.to_str()
