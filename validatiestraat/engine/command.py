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

from typing import TYPE_CHECKING

from validatiestraat.errors import Problem, UserError

if TYPE_CHECKING:  # pragma: no cover
    from validatiestraat.target import Target

# What `run` needs besides argparse is imported when it runs, not for `run --help`.

EPILOG = """examples:
  validatiestraat run                                 # the DVA suite against the embedded reference DVA
  validatiestraat run --fault code-reusable           # ... with a fault switched on (expect NOT READY)
  validatiestraat run --fault-profile realistic-broken-dva-1   # many faults at once
  validatiestraat run --target my-dva.yaml --report-dir out/
  validatiestraat run --scenarios scenarios/dva/oauth -k '*code*'   # a subset: at best INCOMPLETE

verdicts: READY (every in-scope MUST requirement judged and passed), NOT READY (a MUST requirement
failed), INCOMPLETE (nothing failed, but an in-scope MUST requirement was not judged: untested,
omitted, blocked or errored; or a subset run)
exit codes: 0 READY, 3 NOT READY or INCOMPLETE, 4 configuration or scenario error (also: no login
could be completed with the target's login settings), 5 internal error"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the conformance suite against a DVA (default: the embedded reference DVA)",
        description="Run the bundled scenarios (or your own) against a DVA and report label readiness.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--target", type=Path, help="target file (YAML); default: start the embedded reference DVA")
    p.add_argument("--fault", action="append", default=[], metavar="NAME[,NAME...]",
                   help="switch on faults of the reference DVA (repeatable or comma-separated; "
                        "see `validatiestraat faults`)")
    p.add_argument("--fault-profile", action="append", default=[], metavar="NAME",
                   help="switch on a named set of faults of the reference DVA (repeatable; see `validatiestraat faults`)")
    p.add_argument("--lenient", action="store_true",
                   help="the reference DVA answers any query (default: strict, only the gegevensdienst's catalogued "
                        "queries, as real DVAs do)")
    p.add_argument("--scenarios", action="append", type=Path, metavar="PATH",
                   help="scenario file or folder (repeatable; default: the bundled scenarios)")
    p.add_argument("-k", dest="select", action="append", default=[], metavar="PATTERN",
                   help="only scenarios whose id matches this glob (repeatable)")
    p.add_argument("--tag", action="append", default=[], help="only scenarios with this tag (repeatable)")
    p.add_argument("--role", default="dva", choices=["dva", "pgo", "tls", "lists", "all"],
                   help="dva (default): test a DVA, including the TLS and list checks of the DVA; pgo: test a PGO "
                        "(the suite plays the DVA and the stelselnode; default target: the embedded reference PGO); "
                        "tls, lists: only those; all: every DVA-side scenario")
    p.add_argument("--report-dir", type=Path, help="write results.json, junit.xml, exchanges.json and report.html here")
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead of the console report")
    p.add_argument("--waivers", type=Path, metavar="FILE",
                   help="accepted deviations (YAML: requirement, optional check, reason, approved_by, expires): a "
                        "waived failure is reported as waived, not blocking; expired waivers no longer apply")
    p.add_argument("--bundle", type=Path, metavar="FILE.vsb",
                   help="also write one signed file with the reports, the scenarios and catalogue used, the target "
                        "(redacted) and the run's metadata; check it with `validatiestraat verify FILE.vsb`")
    p.add_argument("--sign-key", type=Path, metavar="KEY.pem", help="sign the bundle with this key (with --sign-cert)")
    p.add_argument("--sign-cert", type=Path, metavar="CERT.pem", help="the certificate chain of --sign-key (PEM)")
    p.add_argument("--sign-p12", type=Path, metavar="FILE.p12", help="sign the bundle with a PKCS#12 key and certificate")
    p.add_argument("--sign-password-env", metavar="NAME",
                   help="environment variable holding the password of --sign-key or --sign-p12")
    p.add_argument("--concurrency", type=int, default=8, help="scenarios run at the same time (default 8)")
    p.add_argument("--no-preflight", action="store_true", help="skip the reachability part of the preflight")
    p.add_argument("-v", "--verbose", action="store_true", help="show check ids with blocking failures")
    p.set_defaults(func=run_command)


def _select(scenarios, args) -> list:
    out = []
    for s in scenarios:
        if args.role == "pgo" or s.role == "pgo":  # a PGO run judges a PGO: its own target, its own scenarios
            if args.role != s.role:
                continue
        elif args.role != "all" and s.role != args.role and not (args.role == "dva" and s.role in ("tls", "lists")):
            continue
        if args.select and not any(fnmatch.fnmatch(s.id, pat) for pat in args.select):
            continue
        if args.tag and not set(args.tag) & set(s.tags):
            continue
        out.append(s)
    return out


def _reference_target(stack: ExitStack, faults: list[str], strict: bool = True) -> Target:
    from validatiestraat.reference.faults import FAULTS
    from validatiestraat.reference.server import ReferenceDVA

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="validatiestraat-ref-")))
    settings: dict = {}
    for name in faults:  # some faults need a setting of the DVA to be observable (e.g. short tokens)
        settings.update(FAULTS[name].reference)
    from validatiestraat.target import target_from_dict

    dva = ReferenceDVA(workdir=workdir, faults=faults, code_lifetime=2.0,
                       **({} if strict else {"strict": False}), **settings)
    dva.start()
    stack.callback(dva.stop)
    return target_from_dict(dva.target_dict(), workdir, source="embedded reference DVA")


def _pgo_target(stack: ExitStack, args: argparse.Namespace, faults: list[str]) -> Target:
    """A PGO run: the harness plays the DVA and the stelselnode; the target is the user's PGO (a
    target file with role: pgo) or the embedded reference PGO (with its fault switches)."""
    from validatiestraat.pgo.harness import PGOHarness
    from validatiestraat.pgo.reference import start_with_harness
    from validatiestraat.target import load_target, pgo_target_from_dict

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="validatiestraat-pgo-")))
    if args.target:
        target = load_target(args.target)
        if target.role != "pgo":
            raise UserError(f"{args.target}: --role pgo needs a target file with `role: pgo` and a `pgo:` block "
                            "(see docs/pgo.md)")
        block = target.pgo or {}
        settings = target.harness_settings
        ports = {k: settings[f"{k}_port"] for k in ("front", "back") if settings.get(f"{k}_port")}
        harness = PGOHarness(Path(settings["workdir"]) if settings.get("workdir") else workdir / "harness",
                             block["client_id"], block["redirect_uri"], ports=ports or None,
                             organisation_name=block.get("organisation_name", "Test PGO"),
                             client_ca=Path(block["client_ca"]) if block.get("client_ca") else None,
                             gegevensdienst=str(block.get("gegevensdienst", "48")))
        harness.start()
        stack.callback(harness.stop)
    else:
        harness, pgo = start_with_harness(workdir, faults)
        stack.callback(harness.stop)
        stack.callback(pgo.stop)  # (callbacks run last-in first-out: the PGO stops first)
        target = pgo_target_from_dict(pgo.target_dict(), workdir, source="embedded reference PGO")
    urls = harness.urls
    target.harness = harness
    target.aanbieder = urls["aanbieder"].removesuffix("@medmij")  # the scope a 2.x Verzamelen flow asks for
    target.authorization_endpoint, target.token_endpoint = urls["authorization"], urls["token"]
    target.resource_endpoint = urls["resource"].rstrip("/")
    target.trust = list(target.trust) + [Path(urls["ca"])]
    target.options = {"faults": faults} if faults else {}
    return target


def _faults(args: argparse.Namespace) -> list[str]:
    from validatiestraat.reference.faults import expand

    return expand(args.fault, args.fault_profile)


async def _interruptible(runner):
    """Run; SIGINT and SIGTERM stop the scenarios, and the run still returns what ran (marked
    interrupted) so that every report is written."""
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(runner.run())

    def stop(name: str) -> None:
        runner.interrupted = name
        task.cancel()

    installed = []
    for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
        try:
            loop.add_signal_handler(sig, stop, name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signal
            pass
    try:
        return await task
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _writable_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".validatiestraat-write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--report-dir {path}: cannot write reports there ({exc.strerror or exc}); "
                        "nothing was tested") from None


def scope_of(target: Target, args: argparse.Namespace) -> dict:
    """What READY promises for this run: role, gegevensdiensten, enabled options, what the target
    provides, and whether the bundled suite was narrowed (a subset run can never be READY)."""
    has = []
    if target.other_client is not None:
        has.append("other_client")
    if target.option("untrusted_client_certificate"):
        has.append("untrusted_client")
    if target.option("lists") or getattr(target, "whitelist", None) is not None:
        has.append("lists")
    if getattr(target, "access_token", None):
        has.append("pre_issued_access_token")
    return {
        "role": args.role if args.role != "all" else "dva",
        "gegevensdiensten": list(target.gegevensdiensten),
        "options": {k: v for k, v in target.options.items() if v not in (None, False, "", [], {})
                    and isinstance(v, (str, int, float, bool))} | {k: True for k, v in target.options.items()
                                                                  if isinstance(v, (dict, list)) and v},
        "has": has,
        "not_applicable": dict(getattr(target, "not_applicable", None) or {}),
        "subset": bool(args.select or args.tag or args.scenarios),
        "selection": {"k": list(args.select), "tag": list(args.tag),
                      "scenarios": [str(p) for p in (args.scenarios or [])]},
    }


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from validatiestraat.engine import runner as engine_runner
    from validatiestraat.engine.preflight import preflight
    from validatiestraat.report.console import ConsoleProgress, summary
    from validatiestraat.report.readiness import assess
    from validatiestraat.report.redact import Redactor
    from validatiestraat.report.writers import results_document, write_reports
    from validatiestraat.scenario.loader import bundled_scenarios_dir, load_scenarios
    from validatiestraat.target import load_target

    scenarios = load_scenarios(args.scenarios or [bundled_scenarios_dir()])
    scenarios = _select(scenarios, args)
    if not scenarios:
        raise UserError("no scenario matches the selection (--scenarios, -k, --tag, --role)")
    if args.concurrency < 1:
        raise UserError(f"--concurrency must be at least 1 (got {args.concurrency})")
    if args.report_dir:  # checked before the first request, so that no run's results are lost
        _writable_dir(args.report_dir)
    waivers = None
    if args.waivers:
        from validatiestraat.report.waivers import load_waivers

        waivers = load_waivers(args.waivers)
    signer = None
    if args.bundle:
        import os

        from validatiestraat.report.bundle import load_signer

        _writable_dir(args.bundle.parent if str(args.bundle.parent) else Path("."))
        password = os.environ.get(args.sign_password_env) if args.sign_password_env else None
        if args.sign_password_env and password is None:
            raise UserError(f"--sign-password-env {args.sign_password_env}: that environment variable is not set")
        signer = load_signer(args.sign_key, args.sign_cert, args.sign_p12, password)
    if args.role == "pgo":
        from validatiestraat.pgo.faults import check_pgo_faults

        if args.fault_profile:
            raise UserError("--fault-profile names DVA fault profiles; for the reference PGO use --fault")
        faults = sorted(check_pgo_faults([f for item in args.fault for f in item.split(",")]))
    else:
        faults = _faults(args) if (args.fault or args.fault_profile) else []
    console = Console(stderr=True) if args.json else Console()
    with ExitStack() as stack:
        if args.role == "pgo":
            if args.target and faults:
                raise UserError("--fault applies to the embedded reference PGO only; drop --target or --fault")
            target = _pgo_target(stack, args, faults)
            args.concurrency = 1  # one PGO, one harness: its scenarios change shared state, one at a time
        elif args.target:
            if faults:
                raise UserError("--fault and --fault-profile apply to the embedded reference DVA only; "
                                "drop --target or the faults")
            target = load_target(args.target)
            problems = preflight(target, network=not args.no_preflight and getattr(target, "preflight_network", True))
            if problems:
                raise UserError(f"preflight found {len(problems)} problem(s) with the target; nothing was tested", problems)
        else:
            target = _reference_target(stack, faults, strict=not args.lenient)
        runner = engine_runner.Runner(target, scenarios, concurrency=args.concurrency, faults=faults, scope=scope_of(target, args))
        if target.harness is not None:
            target.harness.attach(runner.recorder)
        if args.json:
            result = asyncio.run(_interruptible(runner))
        else:
            with ConsoleProgress(console, len(scenarios)) as progress:
                runner.handlers.append(progress)
                result = asyncio.run(_interruptible(runner))
    if waivers is not None:
        from validatiestraat.report.waivers import apply_waivers

        result.waivers = apply_waivers(result.checks, waivers)
    readiness = assess(result)
    redactor = Redactor(runner.recorder.secrets | set(target.secrets))
    if args.report_dir:
        paths = write_reports(args.report_dir, result, readiness, redactor)
    if args.bundle:
        from validatiestraat.report.bundle import run_members, run_meta, write_bundle

        with tempfile.TemporaryDirectory(prefix="validatiestraat-bundle-") as tmp:
            files = paths if args.report_dir else write_reports(Path(tmp), result, readiness, redactor)
            members = run_members(files, sorted({Path(s.file) for s in scenarios if Path(s.file).is_file()}),
                                  redactor.json(result.target))
            if args.waivers:
                members["inputs/waivers.yaml"] = args.waivers.read_bytes()
            write_bundle(args.bundle, members, run_meta(result, readiness), signer)
    if args.json:
        print(json.dumps(results_document(result, readiness, redactor), indent=2, ensure_ascii=False))
    else:
        summary(console, result, readiness, redactor, verbose=args.verbose)
        if args.report_dir:
            console.print(f"reports: {', '.join(str(p) for p in paths.values())}", style="dim")
        if args.bundle:
            console.print(f"bundle: {args.bundle} (check it with `validatiestraat verify {args.bundle}`)", style="dim")
    sys.stdout.flush()
    if result.interrupted:
        from validatiestraat import exitcodes

        print(f"validatiestraat: interrupted by {result.interrupted}; the partial results were reported"
              + (f" in {args.report_dir}" if args.report_dir else ""), file=sys.stderr)
        return exitcodes.INTERRUPTED_SIGTERM if result.interrupted == "SIGTERM" else exitcodes.INTERRUPTED_SIGINT
    state = runner.state
    if state.logins and not state.logins_completed and state.login_config_errors:
        what = ("the PGO could not be made to start a flow with the target's `pgo:` block" if target.role == "pgo"
                else "no login could be completed with the target's login settings")
        fix = "the `pgo:` block (start, login, trust)" if target.role == "pgo" else "the `login:` block"
        raise UserError(
            f"{what} ({state.logins} attempted); this is a configuration error, not a failure of the "
            f"{'PGO' if target.role == 'pgo' else 'DVA'}: fix the target's {fix}",
            [Problem(target.source, None, None, msg) for msg in sorted(set(state.login_config_errors))[:5]],
        )
    return readiness.exit_code
