"""``validatiestraat tls check`` and ``validatiestraat tls ratings``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from validatiestraat import __version__, exitcodes
from validatiestraat.errors import Problem, UserError
from validatiestraat.report.model import Status
from validatiestraat.tls import suites
from validatiestraat.tls.policy import GROUP_POLICIES, PARTS, VALIDATION_LEVELS, TlsPolicy
from validatiestraat.tls.report import TOPIC_TITLES, TlsReport, requirements_for
from validatiestraat.tls.scan import parse_url, scan_many

CHECK_EPILOG = """\
examples:
  # a frontchannel endpoint (authorization endpoint), trusted by the system store
  validatiestraat tls check https://inlog.dva.example/oauth/authorize

  # backchannel endpoints with mutual TLS, PKIoverheid Private Root G1 as trust anchor
  validatiestraat tls check --channel backchannel --trust private-root-g1.pem \\
      --client-cert pgo.pem --client-key pgo.key \\
      https://api.dva.example/oauth/token https://api.dva.example/fhir

  # a test PKI instead of PKIoverheid, JSON for CI
  validatiestraat tls check --channel backchannel --trust ca.pem --issuer "My Test CA" --json https://127.0.0.1:8443/token

what is checked (requirement IDs of the domain brief §8.6):
  TLS-VER-01..04  TLS 1.2 offered, TLS 1.3 offered (warning), SSLv3/1.0/1.1 refused, highest version negotiated
  TLS-CIPH-01     every accepted suite rated NCSC v2.1 'good' (--min-cipher-level), forward secrecy;
                  key exchange groups reported (--group-policy)
  TLS-CERT-01/02  chain to --trust (backchannel: issuing CA in --issuer, default the four PKIoverheid
                  Private Services G1 CAs; frontchannel: at least OV, no wildcard), validity, key, signature
  TLS-CERT-03     the host is in the certificate's subjectAltName
  TLS-MTLS-01     backchannel: no client certificate, or one from an untrusted CA, is refused
  TLS-HDR-01      information: compression, renegotiation, resumption, HSTS and security headers

exit codes: 0 no failures (warnings allowed), 1 a check failed or an endpoint could not be tested,
            4 usage error (bad URL, missing file)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    tls = subparsers.add_parser(
        "tls", help="TLS and certificate conformance of MedMij endpoints",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="TLS and certificate conformance of MedMij endpoints (domain brief §4.1-4.3, §8.6).",
        epilog="examples:\n  validatiestraat tls check https://inlog.dva.example/oauth/authorize\n"
               "  validatiestraat tls ratings --json",
    )
    sub = tls.add_subparsers(dest="tls_command", metavar="SUBCOMMAND")
    check = sub.add_parser(
        "check", help="check one or more https endpoints",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Probe https endpoints concurrently and judge them against MedMij's TLS rules.",
        epilog=CHECK_EPILOG,
    )
    check.add_argument("urls", nargs="+", metavar="URL", help="https://host[:port]/path")
    check.add_argument("--channel", choices=["frontchannel", "backchannel"], default="frontchannel",
                       help="frontchannel (browser-facing, default) or backchannel (server-to-server, mTLS)")
    check.add_argument("--trust", action="append", default=[], metavar="FILE",
                       help="CA bundle (PEM) to verify the server certificate against; repeatable "
                            "(frontchannel default: the system store)")
    check.add_argument("--issuer", action="append", default=None, metavar="NAME",
                       help="backchannel: allowed issuing CA common name; repeatable (default: the PKIoverheid "
                            "Private Services G1 CAs)")
    check.add_argument("--any-issuer", action="store_true", help="backchannel: do not check the issuing CA name")
    check.add_argument("--client-cert", metavar="FILE", help="client certificate (PEM) for mutual TLS")
    check.add_argument("--client-key", metavar="FILE", help="its private key (PEM)")
    check.add_argument("--client-key-password-env", metavar="VAR",
                       help="environment variable holding the key's password (never on the command line)")
    check.add_argument("--untrusted-cert", metavar="FILE",
                       help="certificate from a CA the server must not trust (default: a throw-away one)")
    check.add_argument("--untrusted-key", metavar="FILE", help="its private key")
    mtls = check.add_mutually_exclusive_group()
    mtls.add_argument("--mtls", dest="mtls", action="store_true", default=None,
                      help="test that clients without a valid certificate are refused (default on the backchannel)")
    mtls.add_argument("--no-mtls", dest="mtls", action="store_false", help="do not test mutual TLS")
    check.add_argument("--min-cipher-level", choices=list(suites.LEVELS[:3]), default="good",
                       help="lowest acceptable NCSC rating of a cipher suite (default: good)")
    check.add_argument("--group-policy", choices=list(GROUP_POLICIES), default="warn",
                       help="key exchange groups below that level: fail, warn (default) or ignore")
    check.add_argument("--min-validation", choices=list(VALIDATION_LEVELS), default="OV",
                       help="frontchannel: lowest certificate validation level (default: OV)")
    check.add_argument("--allow-wildcard", action="store_true", help="frontchannel: accept wildcard certificates")
    check.add_argument("--only", metavar="PARTS",
                       help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    check.add_argument("--timeout", type=float, default=5.0, metavar="S", help="per network operation (default 5)")
    check.add_argument("--total-timeout", type=float, default=60.0, metavar="S",
                       help="per endpoint (default 60)")
    check.add_argument("--connections", type=int, default=6, metavar="N",
                       help="concurrent connections per host:port (default 6)")
    check.add_argument("--json", action="store_true", help="print the full reports as JSON")
    check.set_defaults(func=run_check)

    ratings = sub.add_parser(
        "ratings", help="print the NCSC TLS guideline v2.1 ratings the checks use",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The NCSC v2.1 ratings shipped with validatiestraat (versions, suites, groups), with their source.",
        epilog="example:\n  validatiestraat tls ratings --json | jq '.suites.good'",
    )
    ratings.add_argument("--json", action="store_true", help="print as JSON")
    ratings.set_defaults(func=run_ratings)
    tls.set_defaults(func=lambda args: (tls.print_help(), exitcodes.CONFIG_ERROR)[1])


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def policy_from_args(args: argparse.Namespace) -> TlsPolicy:
    password = None
    if args.client_key_password_env:
        if args.client_key_password_env not in os.environ:
            raise UserError("missing password", [Problem("--client-key-password-env", None, None,
                                                          f"environment variable {args.client_key_password_env} is not set")])
        password = os.environ[args.client_key_password_env]
    parts = frozenset(PARTS)
    if args.only:
        parts = frozenset(p.strip() for p in args.only.split(",") if p.strip())
    issuing: list[str] | None = [] if args.any_issuer else args.issuer
    policy = TlsPolicy(
        channel=args.channel,
        trust=[Path(t) for t in args.trust],
        issuing_cas=issuing,
        min_cipher_level=args.min_cipher_level,
        group_policy=args.group_policy,
        min_validation=args.min_validation,
        allow_wildcard=args.allow_wildcard,
        client_cert=_path(args.client_cert),
        client_key=_path(args.client_key),
        client_key_password=password,
        untrusted_cert=_path(args.untrusted_cert),
        untrusted_key=_path(args.untrusted_key),
        check_mtls=args.mtls,
        timeout=args.timeout,
        total_timeout=args.total_timeout,
        per_server=args.connections,
        parts=parts,
    )
    policy.validate("command line")
    return policy


def run_check(args: argparse.Namespace) -> int:
    policy = policy_from_args(args)
    for url in args.urls:
        parse_url(url)  # a located usage error before any connection
    reports = asyncio.run(scan_many([(u, policy) for u in args.urls], per_server=policy.per_server))
    if args.json:
        json.dump(json_document(reports), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for report in reports:
            print_report(report, sys.stdout)
        print_summary(reports, sys.stdout)
    failed = any(r.status.blocking for r in reports)
    return exitcodes.FINDINGS if failed else exitcodes.OK


def json_document(reports: list[TlsReport]) -> dict[str, Any]:
    return {
        "tool": "validatiestraat",
        "version": __version__,
        "ncsc": suites.ncsc_source(),
        "summary": _summary(reports),
        "reports": [r.to_dict() for r in reports],
    }


def _summary(reports: list[TlsReport]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    return {"endpoints": len(reports), "by_status": counts,
            "ok": not any(r.status.blocking for r in reports)}


_LABEL = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.WARNING: "WARN", Status.ERROR: "ERROR",
          Status.SKIP: "SKIP", Status.OMITTED: "N/A"}


def print_report(report: TlsReport, out: TextIO) -> None:
    out.write(f"\n{report.url}  [{report.channel}]  {_LABEL[report.status]}  "
              f"({report.duration_ms / 1000:.2f} s, {report.connections} connections)\n")
    for topic in report.topics:
        reqs = ",".join(requirements_for(topic, report.channel)) or "-"
        out.write(f"  {TOPIC_TITLES[topic]}  [{reqs}]\n")
        for f in report.topic_findings(topic):
            out.write(f"    {_LABEL[f.status]:5} {f.message}\n")
    neg = report.negotiated.get("stdlib_client")
    if neg:
        out.write(f"  negotiated: {neg['version']} {neg['cipher']}\n")
    for version, lst in report.suites.items():
        out.write(f"  {version} suites ({len(lst)}): " + ", ".join(f"{s['name']} [{s['level']}]" for s in lst) + "\n")
    for version, lst in report.groups.items():
        out.write(f"  {version} groups: " + ", ".join(f"{g['name']} [{g['level']}]" for g in lst) + "\n")
    if report.chain:
        out.write("  chain (TLS 1.2): " + " <- ".join(report.chain) + "\n")
    for note in report.notes:
        out.write(f"  note: {note}\n")


def print_summary(reports: list[TlsReport], out: TextIO) -> None:
    s = _summary(reports)
    parts = ", ".join(f"{n} {status}" for status, n in sorted(s["by_status"].items()))
    out.write(f"\n{s['endpoints']} endpoint(s): {parts}\n")


def run_ratings(args: argparse.Namespace) -> int:
    data = suites.ncsc()
    if args.json:
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
        return exitcodes.OK
    src = data["source"]
    print(f"{src['title']} — {src['publisher']}, {src['published']}\n  {src['url']}")
    print("\nversions:")
    for name, level in data["versions"].items():
        print(f"  {name:8} {suites.LEVEL_LABELS[level]}")
    for section in ("suites", "groups"):
        print(f"\n{section} (anything not listed: insufficient):")
        for level, names in data[section].items():
            print(f"  {suites.LEVEL_LABELS[level]}:")
            for name in names:
                print(f"    {name}")
    return exitcodes.OK
