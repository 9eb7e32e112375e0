"""Commands ``validatiestraat serve`` (run the reference DVA, or with ``--role pgo`` the PGO
harness) and ``validatiestraat faults``."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Any

from validatiestraat import exitcodes
from validatiestraat.errors import UserError
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

  validatiestraat serve --role pgo --client-id pgo.example.nl \\
      --redirect-uri https://pgo.example.nl/callback --front-port 8443 --back-port 8444 --workdir /tmp/harness
      the PGO harness for your PGO: the DVA (authorization, token, FHIR) and the stelselnode (ZAL,
      OCL, Whitelist, GNL) on fixed ports; prints the ZAL URL, the CA to trust and a client
      certificate issued for your client_id, then every request your PGO makes
  validatiestraat serve --role pgo --client-id pgo.example.nl --redirect-uri https://pgo.example.nl/cb \\
      --client-ca certs/pgo-client-ca.pem
      also accept your own client certificates (CN or DNS name = the client_id) on the backchannel

The DVA listens on 127.0.0.1 only (URLs use https://localhost:PORT; the PGO harness on --host
when given) until Ctrl-C or SIGTERM.
Without --workdir a temporary directory is used and removed on exit. With --role pgo the
authorization endpoint answers without login pages: a valid request gets a code at once.
"""

#: defaults of the options that only the reference DVA (--role dva) takes
DVA_ONLY = {"fault": [], "fault_profile": [], "lenient": False, "login_variant": 1, "code_lifetime": 60.0,
            "access_token_lifetime": 900.0}
#: options that only the PGO harness (--role pgo) takes (default None)
PGO_ONLY = ("client_id", "redirect_uri", "organisation_name", "client_ca", "front_port", "back_port", "host")
DEFAULT_PGO_CLIENT_ID = "pgo.validatiestraat.test"
DEFAULT_PGO_REDIRECT_URI = "https://pgo.validatiestraat.test/callback"

FAULTS_EPILOG = f"""\
examples:
  validatiestraat faults
  validatiestraat faults --json
  validatiestraat faults --role pgo             # the reference PGO's fault switches (run --role pgo --fault NAME)
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
        help="run the embedded reference DVA (authorization + FHIR resource server), or the PGO harness, "
             "in the foreground",
        description="Run the embedded reference DVA: a MedMij authorization server and FHIR STU3 resource "
                    "server for gegevensdienst 48 with real TLS and mutual TLS, on 127.0.0.1. With --role pgo: "
                    "the PGO harness, the same servers playing the DVA and the stelselnode for a PGO under test.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--role", choices=("dva", "pgo"), default="dva",
                       help="dva: the reference DVA (default); pgo: the PGO harness")
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
    serve.add_argument("--json", action="store_true",
                       help="print the start-up information as one JSON object (--role pgo: then one JSON "
                            "object per request the PGO makes)")
    pgo = serve.add_argument_group("PGO harness (--role pgo)")
    pgo.add_argument("--client-id", default=None, metavar="HOSTNAME",
                     help=f"the PGO's client_id, its OCL Hostname (default {DEFAULT_PGO_CLIENT_ID})")
    pgo.add_argument("--redirect-uri", default=None, metavar="URL",
                     help=f"the PGO's registered redirect_uri, accepted exactly (default {DEFAULT_PGO_REDIRECT_URI})")
    pgo.add_argument("--organisation-name", default=None, metavar="NAME",
                     help="the OCL OAuthclientOrganisatienaam (default: Test PGO)")
    pgo.add_argument("--client-ca", type=Path, default=None, metavar="FILE",
                     help="PEM CA of the PGO's own client certificates, trusted on the backchannel next to the "
                          "harness CA")
    pgo.add_argument("--front-port", type=_port, default=None, metavar="PORT",
                     help="port of the frontchannel: authorization endpoint and lists (default: a free port)")
    pgo.add_argument("--back-port", type=_port, default=None, metavar="PORT",
                     help="port of the backchannel: token endpoint and FHIR, mutual TLS (default: a free port)")
    pgo.add_argument("--host", default=None, metavar="ADDRESS",
                     help="IPv4 address or name to listen on and to use in the URLs (default 127.0.0.1, named "
                          "localhost); the server certificate covers it")
    serve.set_defaults(func=run_serve)

    faults = subparsers.add_parser(
        "faults",
        help="list the reference DVA's fault switches and the requirements each one breaks",
        description="List the fault switches of the reference DVA with the requirement IDs each one breaks.",
        epilog=FAULTS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    faults.add_argument("--json", action="store_true", help="print the table as JSON")
    faults.add_argument("--role", choices=["dva", "pgo"], default="dva",
                        help="dva (default): the reference DVA's faults and profiles; pgo: the reference PGO's faults")
    faults.set_defaults(func=run_faults)


def run_faults(args: argparse.Namespace) -> int:
    if getattr(args, "role", "dva") == "pgo":
        from validatiestraat.pgo.faults import PGO_FAULTS

        rows = [describe(f) for f in PGO_FAULTS.values()]
        profiles = []
    else:
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
    if not profiles:
        return exitcodes.OK
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


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not between 1 and 65535")
    return value


def _check_role_options(args: argparse.Namespace) -> None:
    role = getattr(args, "role", "dva")
    if role == "pgo":
        wrong = [name for name, default in DVA_ONLY.items() if getattr(args, name, default) != default]
    else:
        wrong = [name for name in PGO_ONLY if getattr(args, name, None) is not None]
    if wrong:
        options = ", ".join("--" + name.replace("_", "-") for name in wrong)
        other = "the reference DVA (--role dva)" if role == "pgo" else "the PGO harness (--role pgo)"
        raise UserError(f"serve --role {role}: {options} belong(s) to {other}")


def run_serve(args: argparse.Namespace) -> int:
    from validatiestraat.reference.server import ReferenceDVA

    _check_role_options(args)
    if getattr(args, "role", "dva") == "pgo":
        return run_serve_pgo(args)

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


# --------------------------------------------------------------------------- serve --role pgo
def run_serve_pgo(args: argparse.Namespace) -> int:
    """The PGO harness on its own: endpoints and files printed, then every request as it arrives."""
    from validatiestraat.pgo.harness import PGOHarness

    if args.client_ca is not None and not args.client_ca.is_file():
        raise UserError(f"--client-ca {args.client_ca}: no such file")
    owned = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="validatiestraat-pgo-harness-")) if owned else args.workdir.resolve()
    ports = {name: port for name, port in (("front", args.front_port), ("back", args.back_port)) if port}
    try:
        harness = PGOHarness(workdir, args.client_id or DEFAULT_PGO_CLIENT_ID,
                             args.redirect_uri or DEFAULT_PGO_REDIRECT_URI,
                             organisation_name=args.organisation_name or "Test PGO", client_ca=args.client_ca,
                             ports=ports, host=args.host or "127.0.0.1", verbose=args.verbose)
    except ValueError as exc:
        raise UserError(f"serve --role pgo: {exc}") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        try:
            harness.start()
        except OSError as exc:
            raise UserError(f"serve --role pgo: cannot listen ({exc}); is the port in use?") from None
        info = {
            "role": "pgo",
            "client_id": harness.client_id,
            "redirect_uri": harness.redirect_uri,
            "organisation_name": harness.organisation_name,
            "client_ca": str(harness.client_ca) if harness.client_ca else None,
            "workdir": str(workdir),
            "urls": dict(harness.urls),
        }
        info_path = workdir / "harness.json"
        info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        info["info_file"] = str(info_path)
        print(json.dumps(info) if args.json else _describe_pgo(info), flush=True)
        shown = 0
        try:
            while not stop.wait(0.2):
                for seen in harness.seen(shown):
                    shown = seen.index + 1
                    print(_seen_line(seen, args.json), flush=True)
        except KeyboardInterrupt:
            pass
    finally:
        harness.stop()
        signal.signal(signal.SIGTERM, previous)
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
    if not args.json:
        print("PGO harness stopped", file=sys.stderr)
    return exitcodes.OK


def _seen_line(seen: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps({"index": seen.index, "endpoint": seen.endpoint, "method": seen.method, "path": seen.path,
                           "query": seen.raw_query, "status": seen.status, "behaviour": seen.behaviour,
                           "client_certificate": sorted(seen.client_certificate)})
    cert = f"  (client certificate {', '.join(sorted(seen.client_certificate))})" if seen.client_certificate else ""
    return f"  #{seen.index:<4} {seen.endpoint:<9} {seen.describe()}{cert}"


def _describe_pgo(info: dict[str, Any]) -> str:
    u = info["urls"]
    lines = [
        "validatiestraat PGO harness is running (Ctrl-C to stop)",
        f"  the PGO under test      client_id {info['client_id']}  redirect_uri {info['redirect_uri']}",
        f"  ZAL                     {u['zal']}",
        f"  OCL                     {u['ocl']}",
        f"  Whitelist               {u['whitelist']}",
        f"  GNL                     {u['gnl']}",
        f"  aanbieder               {u['aanbieder']}, interfaceversie {u['interfaceversie']}, "
        f"gegevensdienst {u['gegevensdienst']}",
        f"  authorization endpoint  {u['authorization']}   (no login: a valid request gets a code at once)",
        f"  token endpoint          {u['token']}   (mutual TLS)",
        f"  FHIR base (STU3, 48)    {u['resource']}   (mutual TLS)",
        f"  other interfaceversie   {u['other_interfaceversie']} (gegevensdienst {u['other_gegevensdienst']} only) "
        f"under {u['frontchannel']}/other-interfaceversie/ and {u['backchannel']}/other-interfaceversie/ (404)",
        f"  CA certificate          {u['ca']}   (trust it for both channels)",
        f"  client certificate      {u['client_certificate']}   (issued for {info['client_id']})",
        f"  client key              {u['client_key']}",
    ]
    if info["client_ca"]:
        lines.append(f"  also trusted client CA  {info['client_ca']}")
    lines += [
        f"  endpoints as JSON       {info['info_file']}",
        "",
        "requests of the PGO, as they arrive:",
    ]
    return "\n".join(lines)
