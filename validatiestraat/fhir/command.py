"""``validatiestraat validate``: validate FHIR JSON/XML files against base FHIR and profiles."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from validatiestraat import exitcodes
from validatiestraat.errors import Problem

EPILOG = """\
examples:
  validatiestraat validate patient.json
  validatiestraat validate bundle.xml --fhir-version stu3 --json
  validatiestraat validate obs.json --profile http://nictiz.nl/fhir/StructureDefinition/zib-BloodPressure
  validatiestraat validate *.xml --package ../nictiz.fhir.nl.stu3.zib2017 --format outcome

Profiles applied: those in meta.profile of each resource (also of every Bundle entry) plus
--profile. A --profile for another type than the file's resource is applied to the Bundle
entries of that type. Official packages given with --package take precedence over the bundled
essential profiles.

exit codes: 0 no errors, 1 at least one error, 4 bad usage or a file that is not readable JSON/XML
(the other files are still validated)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="validate FHIR resources and Bundles (JSON or XML) against base FHIR and profiles",
        description="Validate FHIR JSON or XML files holding a resource or a Bundle, offline and without Java.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="FHIR JSON or XML files ('-' reads standard input)")
    p.add_argument("--fhir-version", default="stu3", choices=["stu3", "r4"], help="FHIR version (default: stu3)")
    p.add_argument("--package", action="append", default=[], metavar="PATH",
                   help="extra conformance resources: a directory, file or FHIR npm package tarball (repeatable)")
    p.add_argument("--profile", action="append", default=[], metavar="URL", help="also validate against this profile (repeatable)")
    p.add_argument("--json", action="store_true", help="print the issues as JSON (same as --format json)")
    p.add_argument("--format", choices=["text", "json", "outcome"], default=None,
                   help="text (default), json, or outcome (a FHIR OperationOutcome per file)")
    p.add_argument("-v", "--verbose", action="store_true", help="also show information issues (codes not checked, unknown extensions)")
    p.set_defaults(func=validate_command)


def _load_file(name: str, fhir_version: str) -> tuple[Any, Problem | None]:
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        return None, Problem(name, None, None, f"cannot read: {exc.strerror or exc}")
    return parse_bytes(data, name, fhir_version)


def parse_bytes(data: bytes, name: str, fhir_version: str) -> tuple[Any, Problem | None]:
    """Parse JSON or XML; a located Problem when it is not readable."""
    text = data
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    stripped = text.lstrip()
    if stripped.startswith(b"<"):
        from validatiestraat.fhir.xml import FhirXmlError, xml_to_json

        try:
            return xml_to_json(text, fhir_version), None
        except FhirXmlError as exc:
            return None, Problem(name, exc.line, exc.column, str(exc))
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, Problem(name, None, None, f"not UTF-8: {exc}")
    dups: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, v in pairs:
            if k in d:
                dups.append(k)
            d[k] = v
        return d

    try:
        obj = json.loads(s, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        return None, Problem(name, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}")
    if dups:
        return obj, Problem(name, None, None, "duplicate JSON keys: " + ", ".join(sorted(set(dups))))
    return obj, None


def validate_command(args: argparse.Namespace) -> int:
    from validatiestraat.fhir import get_validator
    from validatiestraat.fhir.conformance import ConformanceError
    from validatiestraat.fhir.model import ERROR, Issue, ValidationResult

    fmt = args.format or ("json" if args.json else "text")
    try:
        validator = get_validator(args.fhir_version, packages=tuple(args.package))
    except (ConformanceError, ValueError) as exc:
        print(f"validatiestraat validate: {exc}", file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    for problem in validator.registry.problems:
        print(f"validatiestraat validate: warning: {problem.location}: {problem.message}", file=sys.stderr)

    reports: list[dict[str, Any]] = []
    bad_input = False
    any_error = False
    for name in args.files:
        resource, problem = _load_file(name, args.fhir_version)
        if resource is None:
            assert problem is not None
            bad_input = True
            if fmt != "text":
                print(str(problem), file=sys.stderr)
            reports.append({"file": name, "readable": False, "problem": str(problem)})
            continue
        result: ValidationResult = validator.validate(resource, profiles=args.profile)
        if problem is not None:  # readable but with duplicate keys
            result.issues.insert(0, Issue(ERROR, "$", problem.message, None, None, "structure"))
        any_error = any_error or not result.ok
        reports.append({"file": name, "readable": True, "result": result})

    if fmt == "json":
        out = []
        for r in reports:
            if not r["readable"]:
                out.append({"file": r["file"], "ok": False, "error": r["problem"]})
            else:
                d = r["result"].to_dict()
                out.append({"file": r["file"], **d})
        print(json.dumps({"ok": not any_error and not bad_input, "files": out}, indent=2, ensure_ascii=False))
    elif fmt == "outcome":
        outcomes = []
        for r in reports:
            if r["readable"]:
                outcomes.append(r["result"].to_operation_outcome())
            else:
                outcomes.append({"resourceType": "OperationOutcome",
                                 "issue": [{"severity": "fatal", "code": "structure", "diagnostics": r["problem"]}]})
        if len(outcomes) == 1:
            print(json.dumps(outcomes[0], indent=2, ensure_ascii=False))
        else:
            print(json.dumps({"resourceType": "Bundle", "type": "collection",
                              "entry": [{"resource": o} for o in outcomes]}, indent=2, ensure_ascii=False))
    else:
        _print_text(reports, args.verbose)

    if bad_input:
        return exitcodes.CONFIG_ERROR
    return exitcodes.FINDINGS if any_error else exitcodes.OK


def _print_text(reports: list[dict[str, Any]], verbose: bool) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    style = {"error": "bold red", "warning": "yellow", "information": "dim"}
    for r in reports:
        if not r["readable"]:
            console.print(f"[bold red]✘ {escape(r['file'])}[/]: {escape(r['problem'])}")
            continue
        res = r["result"]
        errors = [i for i in res.issues if i.severity == "error"]
        warnings = [i for i in res.issues if i.severity == "warning"]
        infos = [i for i in res.issues if i.severity == "information"]
        mark = "[bold green]✔[/]" if not errors else "[bold red]✘[/]"
        by_source: dict[str, list[str]] = {}
        for p in res.profiles_used:
            name = p["url"] if verbose else p["url"].rsplit("/", 1)[-1]
            by_source.setdefault(p["source"], []).append(f"{name}|{p['version']}" if p.get("version") else name)
        profiles = "; ".join(f"{src}: {', '.join(names)}" for src, names in by_source.items()) or "base FHIR only"
        console.print(
            f"{mark} {escape(r['file'])} ({res.resource_type or '?'}, FHIR {res.fhir_version}): "
            f"{len(errors)} error(s), {len(warnings)} warning(s), {len(infos)} information"
        )
        console.print(f"  profiles: {escape(profiles)}", style="dim")
        for i in res.sorted_issues():
            if i.severity == "information" and not verbose:
                continue
            src = f" [{i.source}]" if i.source else ""
            prof = f" ({i.profile})" if i.profile and verbose else ""
            console.print(
                f"  [{style[i.severity]}]{i.severity:<11}[/] {escape(i.path)}: {escape(i.message)}{escape(src)}{escape(prof)}"
            )
        if infos and not verbose:
            console.print(f"  ({len(infos)} information issue(s) hidden; use -v)", style="dim")
