"""`validatiestraat lists ...`: check MedMij lists, resolve endpoints from a ZAL."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from validatiestraat import exitcodes
from validatiestraat.errors import UserError
from validatiestraat.lists import kinds as K
from validatiestraat.lists.checks import CheckOptions, check_lists
from validatiestraat.lists.fetch import FetchOptions, load_list, read_report
from validatiestraat.lists.resolve import resolve_endpoints
from validatiestraat.lists.xmlsafe import DEFAULT_MAX_BYTES, ListReadError

CHECK_EPILOG = """\
examples:
  validatiestraat lists check MedMij_Zorgaanbiederslijst.xml
  validatiestraat lists check zal.xml ocl.xml whitelist.xml gnl.xml      # also checked against each other
  validatiestraat lists check zal.xml --previous zal-yesterday.xml      # Volgnummer must increase
  validatiestraat lists check https://lists.example/MedMij_Whitelist.xml?api=2 --trust ca.pem --json

The kind and release (ZAL release2/release3, OCL, Whitelist 2018/current shape, GNL,
Zorgaanbiederskoppellijst) are taken from the root element and namespace. Findings are printed
as FILE:LINE: SEVERITY REQUIREMENT: MESSAGE; warnings belong to uncertain (⚠) requirements.

exit codes: 0 valid (warnings allowed unless --strict), 1 findings,
            4 usage error or a list that cannot be read (missing, not XML, DOCTYPE, too big)
"""

RESOLVE_EPILOG = """\
examples:
  validatiestraat lists resolve MedMij_Zorgaanbiederslijst.xml --aanbieder umcharderwijk --gegevensdienst 4
  validatiestraat lists resolve zal.xml --aanbieder umcharderwijk@medmij --gegevensdienst 6 --interfaceversie 1.4.0 --json

Prints the authorization, token and resource endpoints a PGO takes from the ZAL.
exit codes: 0 found, 1 the combination is not on the list, 4 usage error / unreadable list
"""


def _size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 50M, 512k, 1000000)")
    factor = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]
    return int(m.group(1)) * factor


def _kind(text: str) -> str:
    kind = K.normalise_kind(text)
    if kind is None:
        raise argparse.ArgumentTypeError(f"unknown list kind {text!r} (zal, ocl, whitelist, gnl, zakl)")
    return kind


def _add_fetch_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fetching lists from URLs")
    g.add_argument("--trust", action="append", default=[], metavar="CA.pem",
                   help="trust anchor(s) for https URLs (replace the system store); repeatable")
    g.add_argument("--cert", metavar="PEM", help="client certificate for list hosts that require mTLS")
    g.add_argument("--key", metavar="PEM", help="key of --cert")
    g.add_argument("--timeout", type=float, default=10.0, metavar="S", help="network timeout in seconds (10)")
    g.add_argument("--max-size", type=_size, default=DEFAULT_MAX_BYTES, metavar="SIZE",
                   help="refuse lists larger than this (default 50M)")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lists", help="check MedMij lists (ZAL, OCL, Whitelist, GNL) and resolve endpoints from a ZAL",
        description="Work with the MedMij lists: Zorgaanbiederslijst, OAuth Client List, Whitelist, "
                    "Gegevensdienstnamenlijst and Zorgaanbiederskoppellijst.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  validatiestraat lists check zal.xml ocl.xml whitelist.xml gnl.xml\n"
               "  validatiestraat lists resolve zal.xml --aanbieder umcharderwijk --gegevensdienst 4",
    )
    sub = parser.add_subparsers(dest="lists_command", metavar="COMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), exitcodes.CONFIG_ERROR)[1])

    check = sub.add_parser("check", help="validate list files or URLs (schema, semantics, cross-list)",
                           description="Validate MedMij lists against the suite's XML Schemas and the semantic "
                                       "rules LIST-SEM-01..06 and LIST-HTTP-01.",
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=CHECK_EPILOG)
    check.add_argument("sources", nargs="+", metavar="FILE|URL")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--previous", action="append", default=[], metavar="FILE|URL",
                       help="a previously seen copy of a list (matched by kind); Volgnummer must not decrease")
    check.add_argument("--kind", type=_kind, help="require every source to be this kind (zal, ocl, whitelist, gnl, zakl)")
    check.add_argument("--strict", action="store_true", help="warnings count as findings (exit 1)")
    check.add_argument("--aanbiedertype", action="append", default=[], metavar="TYPE",
                       help="accept an extra Aanbiedertype (e.g. APD) besides ZA and BAZB; repeatable")
    check.add_argument("--allow-loopback", action="store_true",
                       help="accept localhost/127.0.0.1 hosts with ports (lists of a local test server)")
    _add_fetch_options(check)
    check.set_defaults(func=run_check)

    res = sub.add_parser("resolve", help="find an aanbieder's endpoints in a ZAL, as a PGO does",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=RESOLVE_EPILOG)
    res.add_argument("zal", metavar="ZAL", help="ZAL file or URL")
    res.add_argument("--aanbieder", required=True, help="Zorgaanbiedernaam, with or without @medmij")
    res.add_argument("--gegevensdienst", required=True, help="GegevensdienstId, e.g. 48")
    res.add_argument("--interfaceversie", help="InterfaceversieId; default: the highest that offers the gegevensdienst")
    res.add_argument("--systeemrol", help="Systeemrolcode whose ResourceEndpoint to use; default: the first")
    res.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_fetch_options(res)
    res.set_defaults(func=run_resolve)

    build = sub.add_parser("build", help="write a consistent ZAL, OCL, Whitelist and GNL (optionally faulty)",
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=BUILD_EPILOG)
    build.add_argument("--out", required=True, metavar="DIR", help="directory to write the lists to")
    build.add_argument("--aanbieder", required=True, help="Zorgaanbiedernaam, with or without @medmij")
    build.add_argument("--authorization", required=True, metavar="URL")
    build.add_argument("--token", required=True, metavar="URL")
    build.add_argument("--resource", required=True, metavar="URL")
    build.add_argument("--client", type=_pair, action="append", required=True, metavar="HOSTNAME=NAME",
                       help="an OAuth client for the OCL; repeatable")
    build.add_argument("--gegevensdienst", type=_pair, action="append", required=True, metavar="ID=WEERGAVENAAM",
                       help="a gegevensdienst for the ZAL and GNL; repeatable")
    build.add_argument("--interfaceversie", default="2.2.4")
    build.add_argument("--volgnummer", type=int, default=1)
    build.add_argument("--hostname", action="append", default=[], help="an extra Whitelist hostname; repeatable")
    build.add_argument("--fault", action="append", default=[], choices=FAULTS, help="a fault variant; repeatable")
    build.set_defaults(func=run_build)


BUILD_EPILOG = """\
examples:
  validatiestraat lists build --out lists/ --aanbieder umcvalidatie \\
      --authorization https://inlog.dva.example/oauth/authorize \\
      --token https://api.dva.example:8443/oauth/token --resource https://api.dva.example:8443/fhir \\
      --client "pgo.example.nl=Voorbeeld PGO" --gegevensdienst "48=Basisgegevens zorg"
  validatiestraat lists build --out bad/ ... --fault missing-from-whitelist

Writes MedMij_Zorgaanbiederslijst.xml (release3), MedMij_OAuthclientlist.xml, MedMij_Whitelist.xml
and MedMij_Gegevensdienstnamenlijst.xml that are consistent with each other (for pointing a PGO
under test at them), then checks them. Faults: break-schema, missing-from-whitelist,
decreasing-volgnummer.
exit codes: 0 written, 4 usage error
"""

FAULTS = ("break-schema", "missing-from-whitelist", "decreasing-volgnummer")


def _pair(text: str) -> tuple[str, str]:
    key, sep, val = text.partition("=")
    if not sep or not key.strip() or not val.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), val.strip()


def run_build(args: argparse.Namespace) -> int:
    from validatiestraat.lists.build import build_lists, write_lists
    from validatiestraat.lists.checks import host_of, is_loopback, load_document

    faults = set(args.fault)
    try:
        lists = build_lists(
            args.aanbieder,
            {"authorization": args.authorization, "token": args.token, "resource": args.resource},
            args.client, dict(args.gegevensdienst), interfaceversie=args.interfaceversie,
            volgnummer=args.volgnummer, hostnames=args.hostname,
            break_schema="break-schema" in faults, missing_from_whitelist="missing-from-whitelist" in faults,
            decreasing_volgnummer="decreasing-volgnummer" in faults,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    written = write_lists(lists, Path(args.out))
    loopback = any(is_loopback(host_of(u) or "") for u in (args.authorization, args.token, args.resource))
    report = check_lists([load_document(data, str(written[kind])) for kind, data in lists.items()],
                         options=CheckOptions(allow_loopback=loopback))
    for path in written.values():
        print(f"wrote {path}")
    for f in report.findings:
        print(f"  {f}")
    if report.findings and not faults:
        print("note: the lists have findings; use conformant https hostnames for a clean set")
    return exitcodes.OK


def _fetch_options(args: argparse.Namespace) -> FetchOptions:
    if args.key and not args.cert:
        raise UserError("--key needs --cert")
    return FetchOptions(trust=[Path(t) for t in args.trust], certificate=Path(args.cert) if args.cert else None,
                        key=Path(args.key) if args.key else None, timeout=args.timeout, max_bytes=args.max_size)


def run_check(args: argparse.Namespace) -> int:
    fetch = _fetch_options(args)
    extra = {t.strip().upper() for t in args.aanbiedertype if t.strip()}
    options = CheckOptions(aanbiedertypes=frozenset({"ZA", "BAZB"} | extra),
                           allow_loopback=args.allow_loopback, max_bytes=args.max_size)
    previous = []
    for src in args.previous:
        try:
            previous.append(load_list(src, fetch))
        except ListReadError as exc:
            raise UserError(f"--previous {src}: cannot be used", exc.problems) from None
    documents = [read_report(src, fetch, args.kind) for src in args.sources]
    report = check_lists(documents, previous, options)
    if args.json:
        out = report.to_dict()
        out["ok"] = report.ok(args.strict)
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        _print_report(report, args.strict)
    if report.unreadable:
        return exitcodes.CONFIG_ERROR
    return exitcodes.OK if report.ok(args.strict) else exitcodes.FINDINGS


def _print_report(report: Any, strict: bool) -> None:
    by_source: dict[str, list[Any]] = {}
    for f in report.findings:
        by_source.setdefault(f.source, []).append(f)
    for d in report.documents:
        if d.read_error is not None:
            for problem in d.read_error.problems:
                print(f"{problem}", file=sys.stderr)
            continue
        doc = d.document
        found = by_source.get(d.source, [])
        verdict = "ok" if not found else (
            f"{sum(f.severity == 'error' for f in found)} error(s), {sum(f.severity == 'warning' for f in found)} warning(s)")
        print(f"{d.source}: {doc.describe()}: {verdict}")
        for f in found:
            print(f"  {f}")
    applicable = [r for r in K.ALL_REQUIREMENTS if r in report.applicable or report.for_requirement(r)]
    if applicable:
        print("requirements: " + ", ".join(f"{r} {report.status(r)}" for r in applicable))
    n_err, n_warn, n_bad = len(report.errors), len(report.warnings), len(report.unreadable)
    ok = report.ok(strict)
    summary = f"{len(report.documents)} list(s): {n_err} error(s), {n_warn} warning(s)"
    if n_bad:
        summary += f", {n_bad} unreadable"
    print(("valid: " if ok else "NOT valid: ") + summary)


def run_resolve(args: argparse.Namespace) -> int:
    fetch = _fetch_options(args)
    doc = load_list(args.zal, fetch, kind="zal")
    try:
        result = resolve_endpoints(doc, args.aanbieder, args.gegevensdienst, args.interfaceversie,
                                   systeemrol=args.systeemrol)
    except UserError as exc:
        print(f"validatiestraat: {exc}", file=sys.stderr)
        return exitcodes.FINDINGS
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        width = max(len(k) for k in result)
        for key, val in result.items():
            if val is None:
                continue
            if key == "resources":
                val = ", ".join(f"{c}={u}" for c, u in val.items())
            print(f"{key:<{width}}  {val}")
    return exitcodes.OK
