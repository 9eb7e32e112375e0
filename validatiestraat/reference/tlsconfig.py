"""TLS configuration of the reference DVA's two listeners.

:func:`build_ssl_context` is the only place where an ``ssl.SSLContext`` is made. The default is
what MedMij asks of a DVA (domain brief §4.1): TLS 1.2 minimum, TLS 1.3 offered, forward-secret
AEAD cipher suites only, no compression, no renegotiation. The backchannel (token endpoint and
FHIR) additionally requires a client certificate chained to the test CA (mutual TLS).

TLS fault switches plug in through :data:`TLS_FAULT_HOOKS`: a hook gets the context after the
default configuration and may change it (e.g. allow TLS 1.0, add a CBC suite, load an expired
certificate, stop requiring client certificates). Add the fault to ``faults.py`` and its hook
here; nothing else needs to change.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

from validatiestraat.reference.pki import TestPKI
from validatiestraat.tls import faults as tls_faults

FRONT = "front"
BACK = "back"

#: TLS 1.2 suites: ECDHE key exchange (forward secrecy) with AES-GCM or ChaCha20-Poly1305 (AEAD).
#: TLS 1.3 suites are all AEAD with (EC)DHE and are left at OpenSSL's defaults.
TLS12_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-GCM-SHA256",
])

#: fault name -> hook(context, channel, pki, workdir); applied after the default configuration
TlsHook = Callable[[ssl.SSLContext, str, TestPKI, Path], None]
TLS_FAULT_HOOKS: dict[str, TlsHook] = dict(tls_faults.TLS_FAULT_HOOKS)


def build_ssl_context(pki: TestPKI, faults: frozenset[str], channel: str, workdir: Path | None = None) -> ssl.SSLContext:
    """The server-side context of the ``front`` or ``back`` listener for the given fault set."""
    if channel not in (FRONT, BACK):
        raise ValueError(f"channel must be {FRONT!r} or {BACK!r}, not {channel!r}")
    assert pki.server.cert_path and pki.server.key_path
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ciphers(TLS12_CIPHERS)
    # one good group only: OpenSSL would otherwise also accept ffdhe2048 in TLS 1.3 (NCSC: "phase out")
    ctx.set_ecdh_curve(tls_faults.GOOD_GROUP)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    # the server certificate, or the faulty one a certificate fault serves instead
    tls_faults.load_server_certificate(ctx, pki, faults, workdir or pki.directory)
    if channel == BACK:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(pki.ca_path))
    else:
        ctx.verify_mode = ssl.CERT_NONE
    for name in sorted(faults):
        hook = TLS_FAULT_HOOKS.get(name)
        if hook is not None:
            hook(ctx, channel, pki, workdir or pki.directory)
    return ctx


def peer_names(peercert: dict | None) -> frozenset[str]:
    """DNS subjectAltNames and the common name of a verified peer certificate (``getpeercert()``)."""
    if not peercert:
        return frozenset()
    names: set[str] = set()
    for kind, value in peercert.get("subjectAltName", ()):
        if kind == "DNS":
            names.add(str(value))
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.add(str(value))
    return frozenset(names)


def require_client_certificate(ctx: ssl.SSLContext, pki: TestPKI) -> None:
    """Demand a client certificate chained to the test CA (fault frontchannel-client-cert-required)."""
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(pki.ca_path))
