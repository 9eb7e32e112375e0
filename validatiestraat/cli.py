"""Command line entry point.

Each subcommand lives in the package of its concern and exposes ``register(subparsers)``,
which adds an ``argparse`` parser whose ``func(args) -> int`` returns the exit code.
To add a command, add its module to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from validatiestraat import __version__, exitcodes
from validatiestraat.errors import UserError

COMMAND_MODULES: list[str] = [
    "validatiestraat.engine.command",  # run
    "validatiestraat.scenario.command",  # scenarios lint / list
    "validatiestraat.report.command",  # requirements, report
    "validatiestraat.reference.command",  # serve, faults
    "validatiestraat.lists.command",  # lists check / resolve
    "validatiestraat.fhir.command",  # validate
    "validatiestraat.tls.command",  # tls check / ratings
]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="validatiestraat",
        formatter_class=_Formatter,
        description=(
            "Conformance and validation suite for the MedMij afsprakenstelsel.\n\n"
            "Without a target, `validatiestraat run` tests the embedded reference DVA."
        ),
        epilog=(
            "examples:\n"
            "  validatiestraat run                       # full DVA suite against the embedded reference DVA\n"
            "  validatiestraat run --target my-dva.yaml  # test your own DVA\n"
            "  validatiestraat scenarios lint scenarios/\n"
            "  validatiestraat requirements\n\n"
            "exit codes: 0 ok/ready, 1 findings (validate/check commands), 3 not ready,\n"
            "            4 configuration or usage error, 5 internal error"
        ),
    )
    parser.add_argument("--version", action="version", version=f"validatiestraat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
    except Exception:  # pragma: no cover - import-time bug
        traceback.print_exc()
        return exitcodes.INTERNAL_ERROR
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        code = exc.code if isinstance(exc.code, int) else 0
        return exitcodes.OK if code == 0 else exitcodes.CONFIG_ERROR
    if not getattr(args, "func", None):
        parser.print_help()
        return exitcodes.CONFIG_ERROR
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `validatiestraat faults | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return exitcodes.OK
    except UserError as exc:
        print(f"validatiestraat: {exc}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("validatiestraat: interrupted", file=sys.stderr)
        return exitcodes.INTERNAL_ERROR
    except Exception:
        print("validatiestraat: internal error (this is a bug; please report it with the trace below)", file=sys.stderr)
        traceback.print_exc()
        return exitcodes.INTERNAL_ERROR


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
