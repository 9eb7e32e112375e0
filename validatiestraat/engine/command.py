"""``validatiestraat run``: lint the scenarios, prepare the target, run, report, exit."""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console

from validatiestraat import exitcodes
from validatiestraat.engine.preflight import preflight
from validatiestraat.engine.runner import Runner
from validatiestraat.errors import Problem, UserError
from validatiestraat.report.console import ConsoleProgress, summary
from validatiestraat.report.readiness import assess
from validatiestraat.report.redact import Redactor
from validatiestraat.report.writers import results_document, write_reports
from validatiestraat.scenario.loader import bundled_scenarios_dir, load_scenarios
from validatiestraat.target import Target, load_target, target_from_dict

EPILOG = """examples:
  validatiestraat run                                 # the DVA suite against the embedded reference DVA
  validatiestraat run --fault code-reusable           # ... with a fault switched on (expect NOT READY)
  validatiestraat run --target my-dva.yaml --report-dir out/
  validatiestraat run --scenarios scenarios/dva/oauth -k '*code*'

exit codes: 0 READY, 3 NOT READY, 4 configuration or scenario error, 5 internal error"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the conformance suite against a DVA (default: the embedded reference DVA)",
        description="Run the bundled scenarios (or your own) against a DVA and report label readiness.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--target", type=Path, help="target file (YAML); default: start the embedded reference DVA")
    p.add_argument("--fault", action="append", default=[], metavar="NAME",
                   help="switch on a fault of the reference DVA (repeatable; see `validatiestraat faults`)")
    p.add_argument("--scenarios", action="append", type=Path, metavar="PATH",
                   help="scenario file or folder (repeatable; default: the bundled scenarios)")
    p.add_argument("-k", dest="select", action="append", default=[], metavar="PATTERN",
                   help="only scenarios whose id matches this glob (repeatable)")
    p.add_argument("--tag", action="append", default=[], help="only scenarios with this tag (repeatable)")
    p.add_argument("--role", default="dva", choices=["dva", "tls", "lists", "all"],
                   help="which scenarios to run (default: dva, which includes TLS and list checks of the DVA)")
    p.add_argument("--report-dir", type=Path, help="write results.json, junit.xml, exchanges.json and report.html here")
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead of the console report")
    p.add_argument("--concurrency", type=int, default=8, help="scenarios run at the same time (default 8)")
    p.add_argument("--no-preflight", action="store_true", help="skip the reachability part of the preflight")
    p.add_argument("-v", "--verbose", action="store_true", help="show check ids with blocking failures")
    p.set_defaults(func=run_command)


def _select(scenarios, args) -> list:
    out = []
    for s in scenarios:
        if args.role != "all" and s.role != args.role and not (args.role == "dva" and s.role in ("tls", "lists")):
            continue
        if args.select and not any(fnmatch.fnmatch(s.id, pat) for pat in args.select):
            continue
        if args.tag and not set(args.tag) & set(s.tags):
            continue
        out.append(s)
    return out


def _reference_target(stack: ExitStack, faults: list[str]) -> Target:
    from validatiestraat.reference.faults import FAULTS
    from validatiestraat.reference.server import ReferenceDVA

    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise UserError(
            f"unknown fault(s): {', '.join(unknown)}",
            [Problem("--fault", None, None, f"{name}: {fault.description}") for name, fault in sorted(FAULTS.items())],
        )
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="validatiestraat-ref-")))
    settings: dict = {}
    for name in faults:  # some faults need a setting of the DVA to be observable (e.g. short tokens)
        settings.update(FAULTS[name].reference)
    dva = ReferenceDVA(workdir=workdir, faults=faults, code_lifetime=2.0, **settings)
    dva.start()
    stack.callback(dva.stop)
    return target_from_dict(dva.target_dict(), workdir, source="embedded reference DVA")


def run_command(args: argparse.Namespace) -> int:
    scenarios = load_scenarios(args.scenarios or [bundled_scenarios_dir()])
    scenarios = _select(scenarios, args)
    if not scenarios:
        raise UserError("no scenario matches the selection (--scenarios, -k, --tag, --role)")
    console = Console(stderr=True) if args.json else Console()
    with ExitStack() as stack:
        if args.target:
            if args.fault:
                raise UserError("--fault applies to the embedded reference DVA only; drop --target or --fault")
            target = load_target(args.target)
            problems = preflight(target, network=not args.no_preflight)
            if problems:
                raise UserError(f"preflight found {len(problems)} problem(s) with the target; nothing was tested", problems)
        else:
            target = _reference_target(stack, args.fault)
        runner = Runner(target, scenarios, concurrency=max(1, args.concurrency), faults=list(args.fault))
        if args.json:
            result = asyncio.run(runner.run())
        else:
            with ConsoleProgress(console, len(scenarios)) as progress:
                runner.handlers.append(progress)
                result = asyncio.run(runner.run())
    readiness = assess(result)
    redactor = Redactor(runner.recorder.secrets | set(target.secrets))
    if args.report_dir:
        paths = write_reports(args.report_dir, result, readiness, redactor)
    if args.json:
        print(json.dumps(results_document(result, readiness, redactor), indent=2, ensure_ascii=False))
    else:
        summary(console, result, readiness, redactor, verbose=args.verbose)
        if args.report_dir:
            console.print(f"reports: {', '.join(str(p) for p in paths.values())}", style="dim")
    sys.stdout.flush()
    return exitcodes.OK if readiness.ready else exitcodes.NOT_READY
