"""Commands ``validatiestraat serve`` (run the reference DVA) and ``validatiestraat faults``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from validatiestraat import exitcodes
from validatiestraat.reference.faults import (
    FAULTS,
    PROFILES,
    SLOW_SECONDS_ENV,
    describe,
    describe_profile,
    expand,
)

SERVE_EPILOG = """\
examples:
  validatiestraat serve --workdir /tmp/dva
      run the reference DVA; writes /tmp/dva/target.yaml, certificates and keys
  validatiestraat run --target /tmp/dva/target.yaml
      (in another shell) test it
  validatiestraat serve --workdir /tmp/dva --fault code-reusable --fault no-include
      run it with two fault switches on (see `validatiestraat faults`)
  validatiestraat serve --fault code-reusable,no-include --fault-profile realistic-broken-dva-1
      comma-separated faults plus every fault of a profile
  validatiestraat serve --lenient
      the resource server answers any search, not only the gegevensdienst's queries
  validatiestraat serve --login-variant 2
      DigiD look-alike login pages (fields bsn / wachtwoord)

The DVA listens on 127.0.0.1 only (URLs use https://localhost:PORT) until Ctrl-C or SIGTERM.
Without --workdir a temporary directory is used and removed on exit.
"""

FAULTS_EPILOG = f"""\
examples:
  validatiestraat faults
  validatiestraat faults --json
  validatiestraat serve --fault state-not-echoed
  validatiestraat serve --fault-profile token

'breaks' lists the requirement IDs that must FAIL with the fault on; 'blocks' lists requirements
whose checks can no longer obtain what they need (an access token) and so cannot pass.
slow-token sleeps ${SLOW_SECONDS_ENV} seconds (default 11).
Profiles are named sets of faults switched on together (--fault-profile NAME).
"""


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the embedded reference DVA (authorization + FHIR resource server) in the foreground",
        description="Run the embedded reference DVA: a MedMij authorization server and FHIR STU3 resource "
                    "server for gegevensdienst 48 with real TLS and mutual TLS, on 127.0.0.1.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="switch a fault on (repeatable or comma-separated; list them with "
                            "`validatiestraat faults`)")
    serve.add_argument("--fault-profile", action="append", default=[], metavar="NAME",
                       help="switch every fault of a profile on (repeatable or comma-separated)")
    serve.add_argument("--lenient", action="store_true",
                       help="the resource server answers any search, not only the gegevensdienst's queries "
                            "(default: strict, as real DVAs)")
    serve.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                       help="directory for certificates, keys and target.yaml (default: a temporary directory)")
    serve.add_argument("--login-variant", type=int, choices=(1, 2), default=1,
                       help="1: username/password form (default); 2: DigiD look-alike (bsn/wachtwoord)")
    serve.add_argument("--code-lifetime", type=float, default=60.0, metavar="SECONDS",
                       help="authorization code lifetime (default 60)")
    serve.add_argument("--access-token-lifetime", type=float, default=900.0, metavar="SECONDS",
                       help="access token lifetime (default 900)")
    serve.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
    serve.add_argument("--json", action="store_true", help="print the start-up information as one JSON object")
    serve.set_defaults(func=run_serve)

    faults = subparsers.add_parser(
        "faults",
        help="list the reference DVA's fault switches and the requirements each one breaks",
        description="List the fault switches of the reference DVA with the requirement IDs each one breaks.",
        epilog=FAULTS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    faults.add_argument("--json", action="store_true", help="print the table as JSON")
    faults.set_defaults(func=run_faults)


def run_faults(args: argparse.Namespace) -> int:
    rows = [describe(f) for f in FAULTS.values()]
    profiles = [describe_profile(p) for p in PROFILES.values()]
    if args.json:
        print(json.dumps({"faults": rows, "profiles": profiles}, indent=2))
        return exitcodes.OK
    width = max(len(r["name"]) for r in rows)  # type: ignore[arg-type]
    for r in rows:
        breaks = ", ".join(r["breaks"])  # type: ignore[arg-type]
        print(f"{r['name']:<{width}}  breaks {breaks}")
        for line in textwrap.wrap(str(r["description"]), 88):
            print(f"{'':<{width}}    {line}")
        if r["blocks"]:
            print(f"{'':<{width}}    blocks {len(r['blocks'])} more requirement(s) it leaves nothing to judge with: "  # type: ignore[arg-type]
                  + ", ".join(r["blocks"]))  # type: ignore[arg-type]
    print()
    print("profiles (--fault-profile NAME):")
    pwidth = max(len(str(p["name"])) for p in profiles)
    for p in profiles:
        print(f"{p['name']:<{pwidth}}  {len(p['faults'])} faults")  # type: ignore[arg-type]
        for line in textwrap.wrap(str(p["description"]), 88, break_on_hyphens=False):
            print(f"{'':<{pwidth}}    {line}")
        for line in textwrap.wrap(", ".join(p["faults"]), 88, break_on_hyphens=False):  # type: ignore[arg-type]
            print(f"{'':<{pwidth}}    {line}")
    return exitcodes.OK


def run_serve(args: argparse.Namespace) -> int:
    from validatiestraat.reference.server import ReferenceDVA

    # unknown fault or profile: UserError, exit 4, with the list of known names
    faults = expand(args.fault, args.fault_profile)
    dva = ReferenceDVA(args.workdir, faults, code_lifetime=args.code_lifetime, login_variant=args.login_variant,
                       access_token_lifetime=args.access_token_lifetime, strict=not args.lenient,
                       verbose=args.verbose)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    dva.start()
    try:
        assert dva.workdir is not None
        target_path = dva.write_target(dva.workdir / "target.yaml")
        target = dva.target_dict()
        from validatiestraat.lists.build import write_lists

        list_files = write_lists(dva.lists(), dva.workdir / "lists")
        info = {
            "frontchannel": dva.frontchannel_url,
            "backchannel": dva.backchannel_url,
            "endpoints": target["endpoints"],
            "target": str(target_path),
            "workdir": str(dva.workdir),
            "ca": target["trust"][0],
            "client_certificate": target["client"]["certificate"],
            "client_key": target["client"]["key"],
            "other_client_certificate": target["other_client"]["certificate"],
            "faults": sorted(faults),
            "strict": not args.lenient,
            "login_variant": args.login_variant,
            "persons": target["options"]["persons"],
            "lists": target["options"]["lists"],
            "list_files": {kind: str(path) for kind, path in list_files.items()},
        }
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(_describe(info), flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        dva.stop()
        signal.signal(signal.SIGTERM, previous)
    if not args.json:
        print("reference DVA stopped", file=sys.stderr)
    return exitcodes.OK


def _describe(info: dict[str, Any]) -> str:
    faults = ", ".join(info["faults"]) or "none"
    field_names = "bsn / wachtwoord" if info["login_variant"] == 2 else "username / password"
    return "\n".join([
        "validatiestraat reference DVA is running (Ctrl-C to stop)",
        f"  authorization endpoint  {info['endpoints']['authorization']}",
        f"  token endpoint          {info['endpoints']['token']}   (mutual TLS)",
        f"  FHIR base (STU3, 48)    {info['endpoints']['resource']}   (mutual TLS)",
        f"  consents                {info['frontchannel']}/oauth/consents",
        f"  CA certificate          {info['ca']}",
        f"  client certificate      {info['client_certificate']}",
        f"  client key              {info['client_key']}",
        f"  other client cert       {info['other_client_certificate']}",
        f"  test persons            {', '.join(info['persons'])}  (login fields {field_names}; "
        "credentials in target.yaml)",
        "  pre-issued token        in target.yaml (resource.access_token: test person 1, gegevensdienst 48)",
        f"  MedMij lists (ZAL ...)  {info['lists']['zal']}",
        f"                          written to {Path(info['list_files']['zal']).parent}",
        f"  faults                  {faults}",
        "  queries                 " + ("only the gegevensdienst's (strict)" if info["strict"]
                                         else "any search (lenient)"),
        f"  target file             {info['target']}",
        "",
        f"  validatiestraat run --target {info['target']}",
    ])
