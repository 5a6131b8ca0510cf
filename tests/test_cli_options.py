"""Every command's options come from its typed config: each field an option, with its help."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from bortnas.cli.main import build_parser
from bortnas.extraction.config import SearchConfig


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize(("command", "config"), [("search", SearchConfig)])
def test_each_field_of_the_config_is_an_option_with_its_help(command: str, config: type) -> None:
    options = {a.dest: a for a in _subparser(command)._actions}
    options["theta"] = options.pop("theta_file", None) or options.get("theta")
    for spec in fields(config):
        assert spec.name in options, f"--{spec.name} missing from `bortnas {command}`"
        assert options[spec.name].help.startswith(spec.metadata["help"].split(" (")[0])


def test_search_defaults_come_from_the_config_alone() -> None:
    args = _subparser("search").parse_args([])
    for spec in fields(SearchConfig):
        if spec.name not in ("theta",):
            assert getattr(args, spec.name) == spec.default, spec.name
