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


COMMANDS = [c for c, _ in _commands(build_parser(everything=True))]


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


def test_the_command_table_matches_what_the_modules_register():
    """`--help` lists commands from cli.COMMANDS without importing their modules; the table must
    name every command each module registers, with that module."""
    import argparse
    import importlib

    from validatiestraat.cli import COMMAND_MODULES
    from validatiestraat.cli import COMMANDS as TABLE

    registered = {}
    for module in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        registered.update({name: module for name in sub.choices})
    assert {name: module for name, (module, _) in TABLE.items()} == registered


def test_help_imports_no_command_module():
    import subprocess
    import sys

    code = ("import sys, io, contextlib\n"
            "from validatiestraat.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    main(['--help'])\n"
            "heavy = [m for m in ('httpx', 'jsonschema', 'cryptography', 'validatiestraat.engine.runner', 'rich')\n"
            "         if m in sys.modules]\n"
            "print(heavy, 'run' in out.getvalue() and 'serve' in out.getvalue())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[] True", proc.stdout + proc.stderr
