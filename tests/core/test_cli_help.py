"""Every command and subcommand has --help with an example; usage errors exit 4."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from validatiestraat.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


COMMANDS = [c for c, _ in _commands(build_parser())]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_an_example(command):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*command, "--help"]) == 0
    text = out.getvalue()
    assert "example" in text.lower() and "validatiestraat" in text, text


def test_usage_error_exits_4():
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["run", "--no-such-option"]) == 4
        assert main(["no-such-command"]) == 4
