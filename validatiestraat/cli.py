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
    "validatiestraat.report.bundle",  # verify
]


#: every command, the module that implements it and its one-line help. Only the module of the
#: command being run is imported (the rest appear in `--help` from this table), so that
#: `validatiestraat --help` does not pay for httpx, jsonschema, cryptography and the engine.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("validatiestraat.engine.command",
            "run the conformance suite against a DVA or, with --role pgo, a PGO (default: the embedded reference)"),
    "scenarios": ("validatiestraat.scenario.command", "lint, list or describe scenario files"),
    "requirements": ("validatiestraat.report.command", "print the requirement catalogue with coverage by scenarios"),
    "serve": ("validatiestraat.reference.command",
              "run the embedded reference DVA (authorization + FHIR resource server), or the PGO harness, in the "
              "foreground"),
    "faults": ("validatiestraat.reference.command",
               "list the reference DVA's (or PGO's) fault switches and the requirements each one breaks"),
    "lists": ("validatiestraat.lists.command",
              "check MedMij lists (ZAL, OCL, Whitelist, GNL) and resolve endpoints from a ZAL"),
    "validate": ("validatiestraat.fhir.command",
                 "validate FHIR resources and Bundles (JSON or XML) against base FHIR and profiles"),
    "tls": ("validatiestraat.tls.command", "TLS and certificate conformance of MedMij endpoints"),
    "verify": ("validatiestraat.report.bundle",
               "check a result bundle's hashes and signature (who signed, when, the verdict)"),
}


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _chosen(argv: list[str] | None) -> str | None:
    """The command named on the command line (the first word that is one), if any."""
    for word in (sys.argv[1:] if argv is None else argv):
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def build_parser(argv: list[str] | None = None, everything: bool = False) -> argparse.ArgumentParser:
    """The parser; with ``everything`` every command module registers itself (tests use that),
    otherwise only the module of the command in ``argv`` is imported and the others are listed."""
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
    chosen = _chosen(argv)
    wanted = COMMAND_MODULES if everything else ([COMMANDS[chosen][0]] if chosen else [])
    for name in wanted:
        importlib.import_module(name).register(sub)
    for name, (_, text) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser(argv)
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
