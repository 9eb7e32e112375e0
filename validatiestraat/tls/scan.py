"""Scan one endpoint (or many, concurrently) and judge the facts against MedMij's TLS rules.

:func:`scan_endpoint` first *collects* facts (:class:`Facts`) with raw and stdlib probes, then
*judges* them (:func:`judge`) into :class:`~validatiestraat.tls.report.Finding` objects. Keeping the
two apart lets tests judge hand-made facts, and lets a partial scan (timeout) still be judged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from validatiestraat.errors import Problem, UserError
from validatiestraat.report.model import Status
from validatiestraat.tls import certs, suites, wire
from validatiestraat.tls.policy import TlsPolicy
from validatiestraat.tls.probe import (
    ClientContext,
    Handshake,
    Limiter,
    ProbeError,
    http_request,
    raw_probe,
    shared_limiter,
    ssl_probe,
)
from validatiestraat.tls.report import TlsReport

PROBED_VERSIONS = (wire.SSL3, wire.TLS10, wire.TLS11, wire.TLS12, wire.TLS13)
LEGACY_VERSIONS = (wire.SSL3, wire.TLS10, wire.TLS11)
X509_V_FLAG_NO_CHECK_TIME = 0x200000
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Permissions-Policy",
)


def parse_url(url: str) -> tuple[str, int, str]:
    """(host, port, path) of an https URL; a located UserError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise UserError("not an https URL", [Problem(url, None, None, "expected https://host[:port]/path")])
    try:
        port = parts.port or 443
    except ValueError:
        raise UserError("bad port", [Problem(url, None, None, "the port is not a number in 1..65535")]) from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, port, path


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


# -- collected facts ----------------------------------------------------------------------------


@dataclass
class VersionFact:
    accepted: bool | None = None  # None: could not tell (error)
    flight: wire.ServerFlight | None = None
    error: str | None = None

    def answer(self) -> str:
        if self.error:
            return self.error
        if self.flight is None:
            return "not probed"
        if self.flight.hello is not None:
            return f"server answered with {wire.VERSION_NAMES.get(self.flight.hello.version, hex(self.flight.hello.version))}"
        if self.flight.alert is not None:
            return f"alert {self.flight.alert_name}"
        return "connection closed"


@dataclass
class Facts:
    fatal: str | None = None
    negotiation: wire.ServerFlight | None = None
    versions: dict[int, VersionFact] = field(default_factory=dict)
    suites: dict[int, list[int]] = field(default_factory=dict)
    suite_errors: dict[int, str] = field(default_factory=dict)
    groups13: list[int] | None = None
    groups12: list[int] | None = None
    group_error: str | None = None
    dh_bits: int | None = None
    compression: wire.ServerFlight | None = None
    main: Handshake | None = None
    verify: Handshake | None = None
    resumed: Handshake | None = None
    no_cert: Handshake | None = None
    untrusted: Handshake | None = None
    timed_out: bool = False
    internal_error: str | None = None


class _Counted:
    """Counts the connections of one scan through a (possibly shared) limiter."""

    def __init__(self, inner: Limiter):
        self.inner = inner
        self.connections = 0

    def slot(self, host: str, port: int):
        self.connections += 1
        return self.inner.slot(host, port)


# -- contexts -----------------------------------------------------------------------------------

_untrusted_cache: dict[str, tuple[Path, Path]] = {}


def _untrusted_identity(cn: str) -> tuple[Path, Path]:
    """A client certificate from a throw-away CA nobody trusts (created once per process)."""
    if cn not in _untrusted_cache:
        from validatiestraat.reference.pki import issue, make_ca

        directory = Path(tempfile.mkdtemp(prefix="validatiestraat-tls-"))
        rogue_ca = make_ca("validatiestraat untrusted test CA", days=2)
        leaf = issue(rogue_ca, cn, dns_names=[cn] if "." in cn and " " not in cn else None,
                     server=False, client=True, days=2)
        leaf.write(directory, "untrusted-client")
        assert leaf.cert_path and leaf.key_path
        _untrusted_cache[cn] = (leaf.cert_path, leaf.key_path)
    return _untrusted_cache[cn]


def _client_cn(policy: TlsPolicy) -> str:
    if policy.client_cert:
        try:
            from cryptography import x509

            cert = x509.load_pem_x509_certificate(Path(policy.client_cert).read_bytes())
            cn = certs._cn(cert.subject)
            if cn:
                return cn
        except Exception:
            pass
    return "validatiestraat-untrusted-client"


def client_context(policy: TlsPolicy, identity: str, verify: bool) -> ClientContext:
    """A client context offering TLS 1.2 and 1.3 (and every suite the local OpenSSL has)."""
    ctx = ClientContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # servers that ask for the client certificate only for some paths use TLS 1.3 post-handshake auth
    ctx.post_handshake_auth = True
    # SECLEVEL=0: accept weak certificates and suites so that they can be *reported*; trust,
    # key size and suites are judged separately.
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if policy.trust:
            for anchor in policy.trust:
                ctx.load_verify_locations(cafile=str(anchor))
        else:
            ctx.load_default_certs()
        # validity is judged from the certificate itself; here only the path to a trust anchor
        ctx.verify_flags = ctx.verify_flags | X509_V_FLAG_NO_CHECK_TIME
    else:
        ctx.verify_mode = ssl.CERT_NONE
    cert = key = password = None
    if identity == "target":
        cert, key, password = policy.client_cert, policy.client_key, policy.client_key_password
    elif identity == "untrusted":
        if policy.untrusted_cert and policy.untrusted_key:
            cert, key = policy.untrusted_cert, policy.untrusted_key
        else:
            cert, key = _untrusted_identity(_client_cn(policy))
    if cert and key:
        try:
            ctx.load_cert_chain(str(cert), str(key), password=password)
        except (ssl.SSLError, OSError) as exc:
            raise UserError("cannot load client certificate",
                            [Problem(str(cert), None, None, f"cannot load certificate/key: {exc}")]) from None
    return ctx


# -- scanning -----------------------------------------------------------------------------------


def build_contexts(policy: TlsPolicy) -> dict[str, ClientContext | None]:
    """The client contexts one policy needs; they can be shared by concurrent scans.

    Built before any connection: unreadable client files are a usage error, not a finding.
    """
    contexts: dict[str, ClientContext | None] = {
        "main": client_context(policy, "target", verify=False),
        "verify": client_context(policy, "target", verify=True)
        if (policy.trust or policy.channel == "frontchannel") and "certificate" in policy.parts else None,
    }
    if policy.mtls_enabled:
        contexts["none"] = client_context(policy, "none", verify=False)
        contexts["untrusted"] = client_context(policy, "untrusted", verify=False)
    return contexts


async def scan_endpoint(url: str, policy: TlsPolicy, *, limiter: Limiter | None = None,
                        contexts: dict[str, ClientContext | None] | None = None) -> TlsReport:
    """Probe one https endpoint and judge it. Never raises for network trouble."""
    host, port, path = parse_url(url)
    report = TlsReport(url=url, host=host, port=port, channel=policy.channel, path=path)
    report.started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report.policy = policy.describe()
    counted = _Counted(limiter or shared_limiter(policy.per_server))
    facts = Facts()
    t0 = time.perf_counter()
    contexts = contexts if contexts is not None else build_contexts(policy)
    try:
        await asyncio.wait_for(_collect(facts, host, port, path, policy, counted, contexts), policy.total_timeout)
    except asyncio.TimeoutError:
        facts.timed_out = True
    except Exception as exc:  # a bug must become an error finding, not a crash of the whole run
        facts.internal_error = f"{type(exc).__name__}: {exc}"
    report.duration_ms = (time.perf_counter() - t0) * 1000
    report.connections = counted.connections
    judge(report, facts, policy)
    return report


async def scan_many(
    urls: list[tuple[str, TlsPolicy]], *, per_server: int | None = None
) -> list[TlsReport]:
    """Scan several endpoints concurrently (bounded per server by one shared limiter)."""
    limiter = Limiter(per_server or (urls[0][1].per_server if urls else 6))
    contexts: dict[int, dict[str, ClientContext | None]] = {}
    for _, policy in urls:
        if id(policy) not in contexts:
            contexts[id(policy)] = build_contexts(policy)
    return list(await asyncio.gather(*(scan_endpoint(u, p, limiter=limiter, contexts=contexts[id(p)])
                                       for u, p in urls)))


async def _catch(coro: Awaitable[Any]) -> tuple[Any, str | None]:
    try:
        return await coro, None
    except ProbeError as exc:
        return None, str(exc)


async def _collect(facts: Facts, host: str, port: int, path: str, policy: TlsPolicy, lim: _Counted,
                   contexts: dict[str, ClientContext | None]) -> None:
    timeout = policy.timeout
    sni = None if _is_ip(host) else host

    def hello(version: int, suite_list: list[int], **kw: Any) -> bytes:
        return wire.build_client_hello(wire.ClientHelloSpec(version, suite_list, server_name=sni, **kw))

    async def raw(payload: bytes, full: bool = False) -> wire.ServerFlight:
        return await raw_probe(host, port, payload, full=full, timeout=timeout, limiter=lim)  # type: ignore[arg-type]

    async def stdlib(name: str, request: bool = True, **kw: Any) -> Handshake:
        ctx = contexts[name]
        assert ctx is not None
        return await ssl_probe(host, port, ctx, server_hostname=sni, timeout=timeout, limiter=lim,  # type: ignore[arg-type]
                               request=http_request(host, port, path) if request else None, **kw)

    # 1. A client offering TLS 1.3 and 1.2 with every suite: the negotiation fact and a connectivity test.
    all_modern = suites.suites_for(wire.TLS13) + suites.suites_for(wire.TLS12)
    try:
        facts.negotiation = await raw(hello(wire.TLS13, all_modern, supported_versions=[wire.TLS13, wire.TLS12]))
    except ProbeError as exc:
        facts.fatal = str(exc)
        return

    # 2. Everything that does not depend on the version results, concurrently.
    background: list[asyncio.Task] = []

    async def main_then_resume() -> None:
        want_session = "info" in policy.parts
        facts.main = await stdlib("main", keep_session=want_session)
        if facts.main.ok and facts.main.session is not None and want_session:
            # a session can only be resumed through the context that made it ("main")
            facts.resumed = await stdlib("main", request=False, resume=facts.main.session)

    background.append(asyncio.create_task(main_then_resume()))
    if contexts.get("verify") is not None:
        async def verify() -> None:
            facts.verify = await stdlib("verify", request=False)
        background.append(asyncio.create_task(verify()))
    if policy.mtls_enabled:
        async def no_cert() -> None:
            facts.no_cert = await stdlib("none")

        async def untrusted() -> None:
            facts.untrusted = await stdlib("untrusted")
        background += [asyncio.create_task(no_cert()), asyncio.create_task(untrusted())]
    if "info" in policy.parts:
        async def compression() -> None:
            flight, _ = await _catch(raw(hello(wire.TLS12, suites.suites_for(wire.TLS12), compression=[1, 0])))
            facts.compression = flight
        background.append(asyncio.create_task(compression()))

    try:
        # 3. One probe per protocol version (TLS 1.2 reads the whole plaintext flight).
        async def version_probe(version: int) -> None:
            flight, error = await _catch(raw(hello(version, suites.suites_for(version),
                                                    extensions=version != wire.SSL3), full=version == wire.TLS12))
            fact = VersionFact(flight=flight, error=error)
            if flight is not None:
                fact.accepted = flight.hello is not None and flight.hello.version == version
            facts.versions[version] = fact

        await asyncio.gather(*(version_probe(v) for v in PROBED_VERSIONS))

        # 4. Enumerate suites per accepted version and key exchange groups.
        tasks = []
        if "ciphers" in policy.parts:
            for version, fact in facts.versions.items():
                if fact.accepted:
                    tasks.append(_enumerate_suites(facts, version, fact.flight, hello, raw))
        await asyncio.gather(*tasks)
        if "ciphers" in policy.parts:
            await _enumerate_groups(facts, hello, raw)
    except BaseException:
        # cancelled (total timeout) or failed: stop the background probes too, so that no
        # connection outlives the scan
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        raise
    if background:
        await asyncio.gather(*background)


async def _enumerate_suites(facts: Facts, version: int, first: wire.ServerFlight | None,
                            hello: Callable[..., bytes], raw: Callable[..., Awaitable[wire.ServerFlight]]) -> None:
    """Offer all remaining suites; the server picks one; remove it; repeat until it refuses."""
    remaining = suites.suites_for(version)
    accepted: list[int] = []
    flight = first
    while flight is not None and flight.hello is not None and flight.hello.version == version:
        code = flight.hello.cipher_suite
        if code not in remaining:
            facts.suite_errors[version] = (f"the server selected {suites.suite_name(code)}, "
                                           "which the client did not offer")
            break
        accepted.append(code)
        remaining.remove(code)
        if not remaining:
            break
        try:
            flight = await raw(hello(version, remaining, extensions=version != wire.SSL3))
        except ProbeError as exc:
            facts.suite_errors[version] = str(exc)
            break
    facts.suites[version] = accepted


async def _enumerate_groups(facts: Facts, hello: Callable[..., bytes],
                            raw: Callable[..., Awaitable[wire.ServerFlight]]) -> None:
    async def tls13() -> None:
        remaining, found = list(wire.TLS13_GROUPS), []
        offered = facts.suites.get(wire.TLS13) or suites.suites_for(wire.TLS13)
        while remaining:
            try:
                fl = await raw(hello(wire.TLS13, offered, groups=remaining, key_shares=[]))
            except ProbeError as exc:
                facts.group_error = str(exc)
                break
            group = fl.hello.key_share_group if fl.hello else None
            if group is None or group not in remaining:
                break
            found.append(group)
            remaining.remove(group)
        facts.groups13 = found

    async def tls12_ec() -> None:
        ecdhe = [c for c in facts.suites.get(wire.TLS12, []) if suites.registry()[c].kx == "ECDHE"]
        if not ecdhe:
            facts.groups12 = []
            return
        remaining, found = list(wire.TLS12_EC_GROUPS), []
        while remaining:
            try:
                fl = await raw(hello(wire.TLS12, ecdhe, groups=remaining), full=True)
            except ProbeError as exc:
                facts.group_error = str(exc)
                break
            if fl.hello is None or fl.ske_group is None or fl.ske_group not in remaining:
                break
            found.append(fl.ske_group)
            remaining.remove(fl.ske_group)
        facts.groups12 = found

    async def tls12_dhe() -> None:
        dhe = [c for c in facts.suites.get(wire.TLS12, []) if suites.registry()[c].kx == "DHE"]
        if dhe:
            try:
                fl = await raw(hello(wire.TLS12, dhe), full=True)
                facts.dh_bits = fl.dh_bits
            except ProbeError as exc:
                facts.group_error = str(exc)

    jobs = []
    if facts.versions.get(wire.TLS13, VersionFact()).accepted:
        jobs.append(tls13())
    if facts.versions.get(wire.TLS12, VersionFact()).accepted:
        jobs += [tls12_ec(), tls12_dhe()]
    await asyncio.gather(*jobs)


# -- judging ------------------------------------------------------------------------------------

VNAME = wire.VERSION_NAMES


def _vlabel(version: int) -> str:
    return {wire.SSL3: "SSLv3", wire.TLS10: "TLS 1.0", wire.TLS11: "TLS 1.1", wire.TLS12: "TLS 1.2",
            wire.TLS13: "TLS 1.3"}.get(version, hex(version))


def judge(report: TlsReport, facts: Facts, policy: TlsPolicy) -> None:
    """Turn collected facts into findings (and fill the report's fact sections)."""
    if facts.fatal:
        report.add("connect", Status.ERROR, "connect.failed", f"{report.host}:{report.port}: {facts.fatal}")
        return
    if facts.internal_error:
        report.add("connect", Status.ERROR, "scan.internal_error",
                   f"internal error in the TLS scanner (please report): {facts.internal_error}")
    if facts.timed_out:
        report.add("connect", Status.ERROR, "scan.timeout",
                   f"the scan did not finish within {policy.total_timeout:g} s; results below are partial")
    _fill_facts(report, facts)
    all_closed = facts.versions and all(
        f.flight is not None and f.flight.hello is None and f.flight.alert is None for f in facts.versions.values()
    ) and facts.negotiation is not None and facts.negotiation.hello is None and facts.negotiation.alert is None
    if all_closed:
        report.add("connect", Status.ERROR, "connect.dropped",
                   "the server closes every connection without answering the ClientHello")
        return
    if "versions" in policy.parts:
        _judge_versions(report, facts)
    if "ciphers" in policy.parts:
        _judge_ciphers(report, facts, policy)
    if "certificate" in policy.parts:
        _judge_certificate(report, facts, policy)
    if policy.mtls_enabled:
        _judge_mtls(report, facts, policy)
    if "info" in policy.parts:
        _judge_info(report, facts, policy)


def _fill_facts(report: TlsReport, facts: Facts) -> None:
    for version, fact in sorted(facts.versions.items()):
        entry: dict[str, Any] = {
            "accepted": fact.accepted,
            "answer": fact.answer(),
        }
        if fact.error:
            entry["error"] = fact.error
        if version == wire.SSL3:
            entry["probe"] = "raw ClientHello (independent of the local OpenSSL, which has no SSLv3)"
        report.versions[VNAME[version]] = entry
    if facts.negotiation and facts.negotiation.hello:
        report.negotiated["raw_tls12_tls13_offer"] = VNAME.get(facts.negotiation.hello.version)
    if facts.main and facts.main.ok:
        report.negotiated["stdlib_client"] = {"version": facts.main.version, "cipher": facts.main.cipher}
    for version, codes in sorted(facts.suites.items()):
        report.suites[VNAME[version]] = [
            {
                "name": suites.suite_name(c),
                "code": f"0x{c:04X}",
                "openssl": suites.registry()[c].openssl if c in suites.registry() else None,
                "level": suites.suite_level(c) if version != wire.SSL3 else "insufficient",
                "forward_secret": suites.registry()[c].forward_secret if c in suites.registry() else False,
                "weaknesses": suites.registry()[c].weaknesses() if c in suites.registry() else ["unknown suite"],
            }
            for c in codes
        ]
    if facts.groups13 is not None:
        report.groups["TLSv1.3"] = [{"name": wire.GROUPS[g], "level": suites.group_level(wire.GROUPS[g])}
                                    for g in facts.groups13]
    if facts.groups12 is not None:
        report.groups["TLSv1.2"] = [{"name": wire.GROUPS[g], "level": suites.group_level(wire.GROUPS[g])}
                                    for g in facts.groups12]
    if facts.dh_bits:
        report.dh = {"bits": facts.dh_bits, "level": suites.dh_level(facts.dh_bits)}
    tls12 = facts.versions.get(wire.TLS12)
    if tls12 and tls12.flight and tls12.flight.certificates:
        report.chain = [certs.subject_of(der) for der in tls12.flight.certificates]


def _judge_versions(report: TlsReport, facts: Facts) -> None:
    v = facts.versions
    f12, f13 = v.get(wire.TLS12, VersionFact()), v.get(wire.TLS13, VersionFact())
    if f12.error:
        report.add("tls12", Status.ERROR, "version.tls12_error", f"could not probe TLS 1.2: {f12.error}")
    elif f12.accepted:
        report.add("tls12", Status.PASS, "version.tls12_offered", "TLS 1.2 is offered")
    else:
        report.add("tls12", Status.FAIL, "version.tls12_missing",
                   f"TLS 1.2 is not offered ({f12.answer()}); every MedMij endpoint must support TLS 1.2")
    if f13.error:
        report.add("tls13", Status.ERROR, "version.tls13_error", f"could not probe TLS 1.3: {f13.error}")
    elif f13.accepted:
        report.add("tls13", Status.PASS, "version.tls13_offered", "TLS 1.3 is offered")
    else:
        report.add("tls13", Status.WARNING, "version.tls13_missing",
                   f"TLS 1.3 is not offered ({f13.answer()}); MedMij requires TLS 1.3 where reasonably "
                   "possible (core.tls.302 deviation rule)")
    accepted_legacy, errors = [], []
    for version in LEGACY_VERSIONS:
        fact = v.get(version, VersionFact())
        if fact.error:
            errors.append(f"{_vlabel(version)}: {fact.error}")
        elif fact.accepted:
            suite = fact.flight.hello.cipher_suite if fact.flight and fact.flight.hello else None
            accepted_legacy.append(_vlabel(version))
            report.add("legacy_versions", Status.FAIL, f"version.{VNAME[version].lower().replace('.', '')}_accepted",
                       f"{_vlabel(version)} is accepted (negotiated {suites.suite_name(suite) if suite else '?'}); "
                       "SSLv3, TLS 1.0 and TLS 1.1 must be refused (core.tls.301)")
    for error in errors:
        report.add("legacy_versions", Status.ERROR, "version.legacy_error", f"could not probe {error}")
    if not accepted_legacy and not errors:
        report.add("legacy_versions", Status.PASS, "version.legacy_refused",
                   "SSLv3, TLS 1.0 and TLS 1.1 are refused (SSLv3 probed with a raw ClientHello)")
    # highest common version
    modern = [ver for ver in (wire.TLS13, wire.TLS12) if v.get(ver, VersionFact()).accepted]
    if not modern:
        report.add("highest_version", Status.SKIP, "version.no_common",
                   "the server supports neither TLS 1.2 nor TLS 1.3: no common version to negotiate")
        return
    expected = modern[0]
    problems = []
    neg = facts.negotiation
    got = neg.hello.version if neg and neg.hello else None
    if got != expected:
        problems.append(f"a client offering TLS 1.2 and 1.3 got "
                        f"{_vlabel(got) if got else 'no ServerHello (' + (neg.alert_name or 'closed') + ')'}")
    if facts.main is not None and facts.main.ok:
        real = {"TLSv1.3": wire.TLS13, "TLSv1.2": wire.TLS12}.get(facts.main.version or "")
        if real != expected:
            problems.append(f"the Python/OpenSSL client negotiated {facts.main.version}")
    if problems:
        report.add("highest_version", Status.FAIL, "version.not_highest",
                   f"{_vlabel(expected)} is supported, but " + "; ".join(problems) + " (core.tls.304)")
    else:
        report.add("highest_version", Status.PASS, "version.highest",
                   f"a client offering TLS 1.2 and 1.3 gets {_vlabel(expected)}, the highest the server supports")


def _judge_ciphers(report: TlsReport, facts: Facts, policy: TlsPolicy) -> None:
    minimum = policy.min_cipher_level
    total, bad_found = 0, False
    no_fs: list[str] = []
    for version in sorted(facts.suites, reverse=True):
        codes = facts.suites[version]
        total += len(codes)
        bad = []
        for c in codes:
            level = suites.suite_level(c) if version != wire.SSL3 else "insufficient"
            s = suites.registry().get(c)
            if s is not None and not s.forward_secret:
                no_fs.append(f"{s.iana} ({_vlabel(version)})")
            if suites.below(level, minimum):
                why = ", ".join(s.weaknesses()) if s else "unknown suite"
                bad.append(f"{suites.suite_name(c)} ({suites.LEVEL_LABELS[level]}{': ' + why if why else ''})")
        if bad:
            bad_found = True
            report.add("ciphers", Status.FAIL, "ciphers.below_level",
                       f"{_vlabel(version)} accepts {len(bad)} suite(s) below NCSC '{minimum}': " + "; ".join(bad),
                       version=VNAME[version], suites=bad)
    for version, error in sorted(facts.suite_errors.items()):
        report.add("ciphers", Status.ERROR, "ciphers.enumeration_error",
                   f"could not enumerate the {_vlabel(version)} suites: {error}")
    if no_fs:
        report.add("ciphers", Status.FAIL, "ciphers.no_forward_secrecy",
                   "suites without forward secrecy are accepted: " + ", ".join(no_fs), suites=no_fs)
    # key exchange groups
    weak_groups = []
    for version_name, groups in report.groups.items():
        by_level: dict[str, list[str]] = {}
        for g in groups:
            if suites.below(g["level"], minimum):
                by_level.setdefault(g["level"], []).append(g["name"])
        if by_level:
            weak_groups.append(f"{_vlabel(wire.VERSION_CODES[version_name])}: " + "; ".join(
                f"{', '.join(names)} ({suites.LEVEL_LABELS[level]})" for level, names in sorted(
                    by_level.items(), key=lambda kv: suites.level_rank(kv[0]))))
    if report.dh and suites.below(report.dh["level"], minimum):
        weak_groups.append(f"DHE with a {report.dh['bits']}-bit prime ({suites.LEVEL_LABELS[report.dh['level']]})")
    if weak_groups and policy.group_policy != "ignore":
        status = Status.FAIL if policy.group_policy == "fail" else Status.WARNING
        report.add("ciphers", status, "ciphers.weak_groups",
                   f"key exchange groups below NCSC '{minimum}' are accepted — " + "; ".join(weak_groups),
                   groups=weak_groups)
    if facts.group_error:
        report.add("ciphers", Status.ERROR, "ciphers.group_error", f"could not enumerate key exchange groups: {facts.group_error}")
    if total and not bad_found and not no_fs and not facts.suite_errors:
        names = ", ".join(s["name"] for lst in report.suites.values() for s in lst)
        group_names = sorted({g["name"] for lst in report.groups.values() for g in lst})
        report.add("ciphers", Status.PASS, "ciphers.ok",
                   f"all {total} accepted suites are rated NCSC '{minimum}' or better and forward secret: {names}"
                   + (f"; groups: {', '.join(group_names)}" if group_names else ""))
    elif not total and not facts.suite_errors:
        report.add("ciphers", Status.ERROR, "ciphers.none", "no cipher suite could be negotiated")
    report.add("false_start", Status.OMITTED, "false_start.not_testable",
               "not testable from the server side: TLS False Start is client behaviour (core.tls.303); "
               "check the TLS client library of the calling party")


def _judge_certificate(report: TlsReport, facts: Facts, policy: TlsPolicy) -> None:
    main = facts.main
    der = main.peer_der if main and main.ok else None
    if der is None:
        tls12 = facts.versions.get(wire.TLS12)
        if tls12 and tls12.flight and tls12.flight.certificates:
            der = tls12.flight.certificates[0]
    if der is None:
        why = main.error if main and main.error else "no handshake completed"
        report.add("certificate", Status.ERROR, "cert.unavailable", f"could not obtain the server certificate: {why}")
        report.add("hostname", Status.ERROR, "cert.unavailable", f"could not obtain the server certificate: {why}")
        return
    try:
        info = certs.analyze(der)
    except Exception as exc:
        report.add("certificate", Status.FAIL, "cert.unparsable", f"the server certificate cannot be parsed: {exc}")
        report.add("hostname", Status.ERROR, "cert.unparsable", "the server certificate cannot be parsed")
        return
    report.certificate = info.to_dict()
    topic = "certificate"
    before = len(report.findings)
    # trust
    if info.self_signed:
        report.add(topic, Status.FAIL, "cert.self_signed",
                   f"the certificate is self-signed ({info.subject}); it must chain to "
                   + ("the PKIoverheid Private Root CA - G1" if policy.channel == "backchannel" else "a publicly trusted CA"))
    elif policy.channel == "backchannel" and not policy.trust:
        report.add(topic, Status.ERROR, "cert.no_trust_anchor",
                   "no trust anchor configured for the backchannel: give the 'Staat der Nederlanden Private Root "
                   "CA - G1' certificate (tls check --trust FILE, or the target's trust list)")
    elif facts.verify is not None:
        vf = facts.verify
        anchors = ", ".join(p.name for p in policy.trust) or "the system trust store"
        report.trust = {"anchors": anchors, "verified": vf.ok, "error": vf.error, "verify_code": vf.verify_code}
        if vf.ok:
            pass
        elif vf.error_kind == "verify":
            report.add(topic, Status.FAIL, "cert.untrusted",
                       f"the certificate does not chain to the configured trust anchors ({anchors}): {vf.verify_message}")
        elif policy.client_cert is None and policy.channel == "backchannel":
            report.add(topic, Status.WARNING, "cert.verify_incomplete",
                       f"the chain could not be verified: the handshake ended before it completed ({vf.error}); "
                       "the server probably requires a client certificate: give one (--client-cert/--client-key)")
        else:
            report.add(topic, Status.ERROR, "cert.verify_error", f"could not verify the certificate chain: {vf.error}")
    # issuing CA (backchannel profile)
    allowed = policy.allowed_issuers
    if policy.channel == "backchannel" and allowed and not info.self_signed:
        if (info.issuer_cn or "").strip().lower() not in {a.strip().lower() for a in allowed}:
            report.add(topic, Status.FAIL, "cert.issuer_not_allowed",
                       f"issued by '{info.issuer_cn or info.issuer}', not by one of the allowed issuing CAs: "
                       + "; ".join(allowed))
    # validity
    if info.expired:
        report.add(topic, Status.FAIL, "cert.expired",
                   f"the certificate expired on {info.not_after[:10]} ({-info.days_left} days ago)")
    elif info.not_yet_valid:
        report.add(topic, Status.FAIL, "cert.not_yet_valid", f"the certificate is not valid before {info.not_before}")
    elif info.days_left < policy.min_days_left:
        report.add(topic, Status.WARNING, "cert.expires_soon",
                   f"the certificate expires in {info.days_left} days ({info.not_after[:10]})")
    # key
    key_desc = _key_desc(info)
    key_level = _key_level(info)
    if key_level == "insufficient":
        report.add(topic, Status.FAIL, "cert.weak_key",
                   f"weak key: {key_desc} (NCSC: RSA at least 2048 bits, 3072 rated good; "
                   "EC P-256/P-384/P-521)")
    elif key_level == "phase_out":
        report.add(topic, Status.WARNING, "cert.key_phase_out", f"key {key_desc} is rated 'phase out' by the NCSC")
    # signature
    sig_level = _sig_level(info)
    if sig_level == "insufficient":
        report.add(topic, Status.FAIL, "cert.weak_signature",
                   f"the certificate is signed with {info.signature_algorithm} ({info.signature_hash or 'unknown hash'} "
                   "is insufficient; use SHA-256 or better)")
    elif sig_level == "phase_out":
        report.add(topic, Status.WARNING, "cert.signature_phase_out",
                   f"the certificate is signed with {info.signature_algorithm} (rated 'phase out')")
    if info.server_auth is False:
        report.add(topic, Status.WARNING, "cert.no_server_auth_eku",
                   "the extended key usage does not include serverAuth")
    # frontchannel profile
    if policy.channel == "frontchannel":
        if info.wildcard_names and not policy.allow_wildcard:
            report.add(topic, Status.FAIL, "cert.wildcard",
                       f"wildcard certificate ({', '.join(info.wildcard_names)}); wildcards are not allowed on the "
                       "MedMij frontchannel (AF-1273)")
        order = {"DV": 0, "OV": 1, "IV": 1, "EV": 2}
        need = {"DV": 0, "OV": 1, "EV": 2}[policy.min_validation]
        if info.validation_level is None:
            if need > 0:
                report.add(topic, Status.WARNING, "cert.validation_unknown",
                           "the validation level cannot be determined: no CA/Browser Forum policy OID "
                           f"(OV {certs_oid('OV')} or EV {certs_oid('EV')}); MedMij expects at least {policy.min_validation}")
        elif order[info.validation_level] < need:
            report.add(topic, Status.FAIL, "cert.validation_level",
                       f"{info.validation_level} certificate ({_validation_name(info.validation_level)}); the MedMij "
                       f"frontchannel requires at least {policy.min_validation} (AF-1273)")
    if len(report.findings) == before:
        extra = f", {info.validation_level}" if info.validation_level else ""
        report.add(topic, Status.PASS, "cert.ok",
                   f"{info.subject_cn or info.subject}, issued by {info.issuer_cn or info.issuer}, valid until "
                   f"{info.not_after[:10]} ({info.days_left} days), {key_desc}, {info.signature_algorithm}{extra}"
                   + (", chains to " + report.trust["anchors"] if report.trust.get("verified") else ""))
    # hostname
    names = info.dns_names + info.ip_addresses
    if certs.hostname_matches(report.host, info):
        report.add("hostname", Status.PASS, "cert.hostname_ok", f"{report.host} is covered by the certificate's SAN")
    elif not names:
        report.add("hostname", Status.FAIL, "cert.no_san",
                   f"the certificate has no subjectAltName; {report.host} is not covered (CN={info.subject_cn})")
    else:
        report.add("hostname", Status.FAIL, "cert.wrong_host",
                   f"wrong host: the certificate is for {', '.join(names)}, not for {report.host}")


def certs_oid(level: str) -> str:
    for oid, lvl in suites.medmij_profile()["validation_policies"].items():
        if lvl == level:
            return oid
    return "?"


def _validation_name(level: str) -> str:
    return {"DV": "domain validated", "OV": "organisation validated", "IV": "individual validated",
            "EV": "extended validation"}[level]


def _key_desc(info: certs.CertInfo) -> str:
    if info.key_type == "RSA":
        return f"RSA {info.key_bits} bits"
    if info.key_type == "EC":
        return f"EC {info.curve}"
    return f"{info.key_type} {info.key_bits} bits" if info.key_type == "DSA" else info.key_type


def _key_level(info: certs.CertInfo) -> str:
    table = suites.ncsc()["certificates"]
    if info.key_type == "RSA":
        if info.key_bits >= table["rsa_bits"]["good"]:
            return "good"
        return "sufficient" if info.key_bits >= table["rsa_bits"]["sufficient"] else "insufficient"
    if info.key_type == "EC":
        for level in ("good", "sufficient", "phase_out"):
            if info.curve in table["ec_curves"].get(level, []):
                return level
        return "insufficient"
    if info.key_type in ("Ed25519", "Ed448"):
        return table.get("eddsa", "good")
    return "insufficient"


def _sig_level(info: certs.CertInfo) -> str:
    table = suites.ncsc()["certificates"]["signature_hashes"]
    if info.signature_hash is None:
        return "good" if info.signature_algorithm in ("ed25519", "ed448", "Ed25519", "Ed448") else "insufficient"
    for level in ("good", "sufficient", "phase_out"):
        if info.signature_hash in table.get(level, []):
            return level
    return "insufficient"


def _judge_mtls(report: TlsReport, facts: Facts, policy: TlsPolicy) -> None:
    baseline = facts.main if policy.client_cert else None
    tls12 = facts.versions.get(wire.TLS12)
    requested = tls12.flight.certificate_request if tls12 and tls12.flight and tls12.flight.hello else None
    cas = (tls12.flight.certificate_authorities or []) if requested else []
    report.mtls = {
        "tls12_certificate_request": requested,
        "acceptable_cas": [certs.name_of_der_name(n) for n in cas],
        "with_client_certificate": _hs_summary(baseline),
        "without_client_certificate": _hs_summary(facts.no_cert),
        "untrusted_client_certificate": _hs_summary(facts.untrusted),
    }
    base_status = baseline.http.status if baseline and baseline.ok and baseline.http else None
    if baseline is None:
        report.notes.append("mTLS: no client certificate configured, so there is no positive control")
    elif not baseline.ok or baseline.refused_by_peer:
        report.add("mtls", Status.WARNING, "mtls.baseline_refused",
                   f"the connection with the configured client certificate was refused too ({baseline.error}); "
                   "check the client identity (the refusals below may not be about client certificates)")
    for label, hs, code in (("without a client certificate", facts.no_cert, "mtls.no_cert"),
                            ("with a certificate from an untrusted CA", facts.untrusted, "mtls.untrusted_cert")):
        if hs is None:
            continue
        if hs.refused_by_peer:
            where = "in the TLS handshake" if hs.failed_at == "handshake" else "before answering the first request"
            report.add("mtls", Status.PASS, code + "_refused", f"a client {label} is refused {where} ({hs.error})")
        elif hs.ok and hs.http is not None:
            status = hs.http.status
            if base_status is not None and status == base_status and status in (401, 403):
                report.add("mtls", Status.WARNING, code + "_inconclusive",
                           f"a client {label} gets HTTP {status}, but so does the valid client certificate; cannot "
                           "tell whether the refusal is about the certificate (the probe sends no access token)")
            elif base_status is not None and status == base_status:
                report.add("mtls", Status.FAIL, code + "_accepted",
                           f"a client {label} is served: HTTP {status}, the same answer as with the valid client "
                           "certificate (the endpoint does not require mutual TLS)")
            elif status in (401, 403, 495, 496) or (base_status is not None and 400 <= status < 500):
                report.add("mtls", Status.PASS, code + "_refused_http",
                           f"a client {label} is refused at HTTP level (HTTP {status}"
                           + (f"; with the valid certificate: HTTP {base_status}" if base_status else "") + ")")
            else:
                report.add("mtls", Status.FAIL, code + "_accepted",
                           f"a client {label} completes the TLS handshake and gets HTTP {status}; the endpoint must "
                           "refuse it")
        else:
            report.add("mtls", Status.ERROR, code + "_error", f"could not test a client {label}: {hs.error}")
    if requested is False and any(f.code.endswith(("_accepted", "_inconclusive"))
                                  for f in report.findings if f.topic == "mtls"):
        report.add("mtls", Status.FAIL, "mtls.no_certificate_request",
                   "the server does not request a client certificate in the TLS 1.2 handshake")


def _hs_summary(hs: Handshake | None) -> dict[str, Any] | None:
    if hs is None:
        return None
    return {
        "handshake": hs.ok,
        "version": hs.version,
        "http_status": hs.http.status if hs.http else None,
        "failed_at": hs.failed_at,
        "error": hs.error,
    }


def _judge_info(report: TlsReport, facts: Facts, policy: TlsPolicy) -> None:
    info: dict[str, Any] = {}
    comp = facts.compression
    if comp is not None and comp.hello is not None and comp.hello.version <= wire.TLS12:
        enabled = comp.hello.compression != 0
        info["compression"] = "DEFLATE" if enabled else "none"
        report.add("info", Status.PASS, "info.compression",
                   "TLS compression is ENABLED (DEFLATE; vulnerable to CRIME) — NCSC: switch it off" if enabled
                   else "TLS compression is off")
    tls12 = facts.versions.get(wire.TLS12)
    hello = tls12.flight.hello if tls12 and tls12.flight and tls12.flight.hello else None
    if hello is not None and hello.version <= wire.TLS12:
        info["secure_renegotiation"] = hello.secure_renegotiation
        info["extended_master_secret"] = hello.extended_master_secret
        report.add("info", Status.PASS, "info.renegotiation",
                   ("secure renegotiation (RFC 5746) is supported" if hello.secure_renegotiation
                    else "secure renegotiation (RFC 5746) is NOT supported")
                   + "; client-initiated renegotiation was not tested (the ssl module cannot renegotiate)")
    if facts.main is not None and facts.main.ok:
        if facts.resumed is not None:
            resumed = facts.resumed.ok and facts.resumed.session_reused
            info["session_resumption"] = resumed
            report.add("info", Status.PASS, "info.resumption",
                       f"session resumption ({facts.main.version}): "
                       + ("supported" if resumed else "not supported or not offered"))
        http = facts.main.http
        if policy.channel == "frontchannel":
            if http is None:
                report.add("info", Status.PASS, "info.headers",
                           f"HTTP security headers not checked: {facts.main.error or 'no HTTP answer'}")
            else:
                present = {h: http.header(h) for h in SECURITY_HEADERS if http.header(h) is not None}
                missing = [h for h in SECURITY_HEADERS if h not in present]
                info["http_status"] = http.status
                info["security_headers"] = present
                hsts = present.get("Strict-Transport-Security")
                report.add("info", Status.PASS, "info.hsts",
                           f"HSTS: {hsts}" if hsts else "HSTS (Strict-Transport-Security) is not set (NCSC/OWASP advice)")
                report.add("info", Status.PASS, "info.headers",
                           f"HTTP {http.status}; security headers present: {', '.join(present) or 'none'}"
                           + (f"; missing: {', '.join(missing)}" if missing else ""))
    report.info = info
