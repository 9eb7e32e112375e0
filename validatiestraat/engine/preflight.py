"""Preflight: everything about a target that can be known before the first test runs.

Files exist, certificates parse and match their keys, URLs are valid https URLs, hosts answer.
Every problem is collected and reported at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from validatiestraat.errors import Problem
from validatiestraat.target import ClientIdentity, Target


def _check_cert_and_key(label: str, client: ClientIdentity, problems: list[Problem], source: str) -> None:
    if not client.certificate and not client.key:
        problems.append(Problem(source, None, None, f"{label}: no client certificate and key; MedMij backchannel needs mTLS"))
        return
    cert = key = None
    for what, path in (("certificate", client.certificate), ("key", client.key)):
        if path is None:
            problems.append(Problem(source, None, None, f"{label}.{what}: missing"))
        elif not Path(path).is_file():
            problems.append(Problem(source, None, None, f"{label}.{what}: file not found: {path}"))
    if client.certificate and Path(client.certificate).is_file():
        try:
            cert = x509.load_pem_x509_certificate(Path(client.certificate).read_bytes())
        except ValueError as exc:
            problems.append(Problem(source, None, None, f"{label}.certificate: not a PEM certificate ({exc})"))
    if client.key and Path(client.key).is_file():
        try:
            password = client.key_password.encode() if client.key_password else None
            key = serialization.load_pem_private_key(Path(client.key).read_bytes(), password=password)
        except (ValueError, TypeError) as exc:
            problems.append(Problem(source, None, None, f"{label}.key: cannot load the private key ({exc})"))
    if cert is not None and key is not None:
        pub = lambda k: k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # noqa: E731
        if pub(cert.public_key()) != pub(key.public_key()):
            problems.append(Problem(source, None, None, f"{label}: the key does not belong to the certificate"))
    if cert is not None and cert.not_valid_after_utc < dt.datetime.now(dt.timezone.utc):
        problems.append(Problem(source, None, None, f"{label}.certificate: expired on {cert.not_valid_after_utc:%Y-%m-%d}"))


def static_problems(target: Target) -> list[Problem]:
    problems: list[Problem] = []
    src = target.source
    for name, url in (("endpoints.authorization", target.authorization_endpoint),
                      ("endpoints.token", target.token_endpoint),
                      ("endpoints.resource", target.resource_endpoint),
                      ("client.redirect_uri", target.client.redirect_uri)):
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            problems.append(Problem(src, None, None, f"{name}: {url!r} is not an https URL"))
        elif parts.fragment:
            problems.append(Problem(src, None, None, f"{name}: {url!r} must not have a fragment"))
    _check_cert_and_key("client", target.client, problems, src)
    if target.other_client:
        _check_cert_and_key("other_client", target.other_client, problems, src)
    for anchor in target.trust:
        if not anchor.is_file():
            problems.append(Problem(src, None, None, f"trust: file not found: {anchor}"))
            continue
        try:
            x509.load_pem_x509_certificates(anchor.read_bytes())
        except ValueError as exc:
            problems.append(Problem(src, None, None, f"trust: {anchor} holds no PEM certificate ({exc})"))
    if target.login.get("driver") == "manual":
        host = urlsplit(target.client.redirect_uri).hostname
        if host not in ("localhost", "127.0.0.1"):
            problems.append(Problem(src, None, None, "login.driver manual: client.redirect_uri must point at this "
                                                      "machine (https://localhost:PORT/...) to catch the redirect"))
    return problems


async def _reachable(host: str, port: int, timeout: float) -> str | None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return None
    except asyncio.TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)


async def network_problems(target: Target, whitelist=None) -> list[Problem]:
    endpoints = {}
    for name, url in (("authorization", target.authorization_endpoint), ("token", target.token_endpoint),
                      ("resource", target.resource_endpoint)):
        parts = urlsplit(url)
        if parts.hostname:
            endpoints.setdefault((parts.hostname, parts.port or 443), []).append(name)
    results = await asyncio.gather(*(_reachable(h, p, target.connect_timeout) for h, p in endpoints))
    problems = []
    for ((host, port), names), error in zip(endpoints.items(), results):
        if error:
            problems.append(Problem(target.source, None, None,
                                    f"endpoints.{'/'.join(names)}: {host}:{port} does not answer ({error})"))
    return problems


def preflight(target: Target, network: bool = True) -> list[Problem]:
    problems = static_problems(target)
    problems += [Problem(target.source, None, None, f"lists: {p}") for p in target.list_problems]
    if network and not any("is not an https URL" in p.message for p in problems):
        problems += asyncio.run(network_problems(target))
    return problems
