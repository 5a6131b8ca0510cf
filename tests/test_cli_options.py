"""Every command's options come from its typed config: each field an option, with its help."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields

import pytest

from bortnas.cli.main import build_parser
from bortnas.cli.options import option_name
from bortnas.extraction.config import SearchConfig
from bortnas.finetuning.config import AgoraConfig, FinetuneConfig

#: Fields set by the command from something else (the task, the --theta file), not options.
NOT_OPTIONS = {"search": (), "finetune": ("thetas", "num_labels")}
#: Fields whose option is hand-written (search's Θ file: `--theta FILE`, dest theta_file).
HAND_WRITTEN = {"search": ("theta",), "finetune": ()}
#: What the required options need to parse at all.
REQUIRED = {"search": [], "finetune": ["--data", "D", "--student", "S", "--out", "O"]}


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize(
    ("command", "config"), [("search", SearchConfig), ("finetune", FinetuneConfig)]
)
def test_each_field_of_the_config_is_an_option_with_its_help(command: str, config: type) -> None:
    options = {a.dest: a for a in _subparser(command)._actions}
    options["theta"] = options.pop("theta_file", None) or options.get("theta")
    for spec in fields(config):
        if spec.name in NOT_OPTIONS[command]:
            assert spec.name not in options, f"{spec.name} is set by `bortnas {command}` itself"
            continue
        assert spec.name in options, f"--{spec.name} missing from `bortnas {command}`"
        assert options[spec.name].help.startswith(spec.metadata["help"].split(" (")[0])


def test_finetune_has_no_option_but_its_configs_fields(monkeypatch) -> None:
    """Generated, not hand-written: the options are the fields, and --help shows each with its
    help and default on an 80-column terminal."""
    monkeypatch.setenv("COLUMNS", "80")
    parser = _subparser("finetune")
    names = {f.name for f in fields(FinetuneConfig)}
    options = [a for a in parser._actions if a.dest != "help"]
    assert {a.dest for a in options} == names - set(NOT_OPTIONS["finetune"])
    text = "".join(parser.format_help().split())  # wrapped anywhere, hyphens included
    for spec in fields(FinetuneConfig):
        if spec.name in NOT_OPTIONS["finetune"]:
            continue
        flag = option_name(spec)
        if spec.default is True:  # the flag that turns it off
            flag = "--no-" + flag.removeprefix("--")
        assert flag in text, spec.name
        assert "".join(spec.metadata["help"].split()) in text, spec.name
        if spec.default is MISSING or spec.default is None or isinstance(spec.default, bool):
            continue
        shown = f"{spec.default:g}" if isinstance(spec.default, float) else spec.default
        if isinstance(spec.default, tuple):
            shown = ",".join(spec.default)
        assert f"default{shown})" in text, spec.name
    assert max(len(line) for line in parser.format_help().splitlines()) <= 80


@pytest.mark.parametrize(
    ("command", "config"), [("search", SearchConfig), ("finetune", FinetuneConfig)]
)
def test_parsed_defaults_come_from_the_config_alone(command: str, config: type) -> None:
    args = _subparser(command).parse_args(REQUIRED[command])
    checked = 0
    for spec in fields(config):
        if spec.name in (*HAND_WRITTEN[command], *NOT_OPTIONS[command]) or spec.default is MISSING:
            continue
        assert getattr(args, spec.name) == spec.default, spec.name
        checked += 1
    assert checked >= 20


def test_finetune_options_give_the_same_settings_as_the_python_api() -> None:
    """`bortnas finetune` without options runs what `AgoraConfig()` describes."""
    args = _subparser("finetune").parse_args(REQUIRED["finetune"])
    parsed = FinetuneConfig(**{k: v for k, v in vars(args).items() if k != "handler"})
    for spec in fields(AgoraConfig):
        assert getattr(parsed, spec.name) == getattr(AgoraConfig(), spec.name), spec.name
    generators = _subparser("finetune").parse_args([*REQUIRED["finetune"], "--generators", ""])
    assert generators.generators == ()
