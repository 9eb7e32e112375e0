"""TLS fault switches for the reference DVA (and for tests).

The reference DVA calls :func:`server_context` (or :func:`apply_server_faults` on a context it
built itself) with the names of the active faults. Each fault makes one TLS check fail;
``TLS_FAULTS[name].breaks`` lists the requirement IDs that a run against the faulty server must
report as failed.

    from validatiestraat.tls.faults import TLS_FAULTS, server_context
    ctx = server_context(pki, faults=[f for f in active_faults if f in TLS_FAULTS])
    # serve every endpoint with ctx; if "tls-no-client-auth" is active, also skip any
    # application-level client certificate check (see skips_client_auth()).
"""

from __future__ import annotations

import datetime as dt
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography import x509

from validatiestraat.reference.pki import Issued, TestPKI, issue, make_ca, new_key

#: what a well-configured MedMij server offers in TLS 1.2 (TLS 1.3 suites are OpenSSL's default three)
GOOD_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
#: the one key exchange group of the good configuration (OpenSSL otherwise also offers ffdhe2048…)
GOOD_GROUP = "prime256v1"


@dataclass(frozen=True)
class TlsFault:
    name: str
    description: str
    breaks: tuple[str, ...]


_FAULTS = [
    TlsFault("tls-allow-tls10", "accept TLS 1.0 and 1.1 next to TLS 1.2 and 1.3 (which also needs the CBC suites "
             "of those versions)", ("TLS-VER-03", "TLS-CIPH-01")),
    TlsFault("tls-no-tls13", "TLS 1.2 only (a warning: TLS 1.3 is required where reasonably possible)",
             ("TLS-VER-02",)),
    TlsFault("tls-cbc-suite", "offer the CBC suite ECDHE-ECDSA-AES128-SHA in TLS 1.2", ("TLS-CIPH-01",)),
    TlsFault("tls-no-forward-secrecy", "offer AES128-GCM-SHA256 (RSA key exchange, no forward secrecy) in TLS 1.2; "
             "serves an RSA server certificate", ("TLS-CIPH-01",)),
    TlsFault("tls-expired-certificate", "serve a server certificate that expired yesterday",
             ("TLS-CERT-01", "TLS-CERT-02", "AS-TLS-01", "RS-TLS-01")),
    TlsFault("tls-wrong-host-certificate", "serve a server certificate for wrong-host.validatiestraat.invalid",
             ("TLS-CERT-03", "AS-TLS-01")),
    TlsFault("tls-self-signed-certificate", "serve a self-signed server certificate",
             ("TLS-CERT-01", "TLS-CERT-02", "AS-TLS-01", "RS-TLS-01")),
    TlsFault("tls-weak-key", "serve a server certificate with a 1024-bit RSA key",
             ("TLS-CERT-01", "TLS-CERT-02", "AS-TLS-01", "RS-TLS-01")),
    TlsFault("tls-wildcard-certificate", "serve a wildcard server certificate (*.validatiestraat.test)",
             ("TLS-CERT-02", "AS-TLS-01")),
    TlsFault("tls-dv-certificate", "serve a domain-validated (DV) server certificate",
             ("TLS-CERT-02", "AS-TLS-01")),
    TlsFault("tls-no-client-auth", "do not request or check client certificates (no mutual TLS)",
             ("TLS-MTLS-01", "AS-TOKEN-01", "RS-TLS-01")),
]

TLS_FAULTS: dict[str, TlsFault] = {f.name: f for f in _FAULTS}

#: faults that replace the server certificate
CERTIFICATE_FAULTS = ("tls-expired-certificate", "tls-wrong-host-certificate", "tls-self-signed-certificate",
                      "tls-weak-key", "tls-wildcard-certificate", "tls-dv-certificate", "tls-no-forward-secrecy")


def unknown_faults(faults: Iterable[str]) -> list[str]:
    return [f for f in faults if f.startswith("tls-") and f not in TLS_FAULTS]


def skips_client_auth(faults: Iterable[str]) -> bool:
    """True when the server must also skip any application-level client certificate check."""
    return "tls-no-client-auth" in set(faults)


def _names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ([str(n) for n in san.get_values_for_type(x509.DNSName)],
            [str(a) for a in san.get_values_for_type(x509.IPAddress)])


def fault_certificate(pki: TestPKI, fault: str, directory: Path | None = None) -> Issued:
    """The server certificate (and key) a certificate fault serves, written to ``directory``.

    Same names as ``pki.server`` unless the fault is about the name; issued by ``pki.ca`` unless
    the fault is about the issuer.
    """
    directory = directory or (pki.directory / "tls-faults")
    dns, ips = _names(pki.server.cert)
    cn = pki.server.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    now = dt.datetime.now(dt.timezone.utc)
    from validatiestraat.reference.pki import POLICY_DV, POLICY_OV

    if fault == "tls-expired-certificate":
        leaf = issue(pki.ca, str(cn), dns_names=dns, ip_addresses=ips, policies=[POLICY_OV],
                     not_before=now - dt.timedelta(days=60), not_after=now - dt.timedelta(days=1))
    elif fault == "tls-wrong-host-certificate":
        leaf = issue(pki.ca, "wrong-host.validatiestraat.invalid", dns_names=["wrong-host.validatiestraat.invalid"],
                     policies=[POLICY_OV])
    elif fault == "tls-self-signed-certificate":
        key = new_key("ec")
        own = make_ca(str(cn), key=key)  # a stand-alone "CA" with the leaf's own key and name
        leaf = issue(own, str(cn), dns_names=dns, ip_addresses=ips, key=key, policies=[POLICY_OV],
                     organization="validatiestraat test PKI")
    elif fault == "tls-weak-key":
        leaf = issue(pki.ca, str(cn), dns_names=dns, ip_addresses=ips, key=new_key("rsa", 1024), policies=[POLICY_OV])
    elif fault == "tls-wildcard-certificate":
        leaf = issue(pki.ca, str(cn), dns_names=["*.validatiestraat.test", *dns], ip_addresses=ips, policies=[POLICY_OV])
    elif fault == "tls-dv-certificate":
        leaf = issue(pki.ca, str(cn), dns_names=dns, ip_addresses=ips, policies=[POLICY_DV])
    elif fault == "tls-no-forward-secrecy":
        leaf = issue(pki.ca, str(cn), dns_names=dns, ip_addresses=ips, key=new_key("rsa", 2048), policies=[POLICY_OV])
    else:
        raise ValueError(f"{fault} is not a certificate fault")
    chain = [] if fault == "tls-self-signed-certificate" else [pki.ca]
    return leaf.write(directory, fault, chain=chain)


def apply_server_faults(
    ctx: ssl.SSLContext,
    faults: Iterable[str],
    pki: TestPKI,
    *,
    directory: Path | None = None,
) -> list[str]:
    """Configure a server-side ``ctx`` for the TLS faults and load its certificate.

    Call it *instead of* ``ctx.load_cert_chain(pki.server...)``, after the server has set its own
    versions, ciphers and client-certificate mode (this function only changes what a fault needs).
    Returns the names of the TLS faults it applied (non-TLS names are ignored).
    """
    active = [f for f in faults if f in TLS_FAULTS]
    extra: list[str] = []
    seclevel0 = False
    if "tls-allow-tls10" in active:
        extra.append("ECDHE+AES")  # TLS 1.0/1.1 have no AEAD suites: this adds the CBC ones
        seclevel0 = True  # OpenSSL 3 disables TLS 1.0/1.1 above security level 0
    if "tls-cbc-suite" in active:
        extra.append("ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA")
    if "tls-no-forward-secrecy" in active:
        extra.append("AES128-GCM-SHA256")
    if "tls-weak-key" in active:
        seclevel0 = True  # OpenSSL refuses to load a 1024-bit key above security level 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if "tls-allow-tls10" in active:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        if "tls-no-tls13" in active:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if extra or seclevel0:
            ctx.set_ciphers(":".join([GOOD_CIPHERS, *extra]) + (":@SECLEVEL=0" if seclevel0 else ""))
    cert_faults = [f for f in active if f in CERTIFICATE_FAULTS]
    if len(cert_faults) > 1:
        raise ValueError(f"only one certificate fault at a time: {', '.join(cert_faults)}")
    if cert_faults:
        leaf = fault_certificate(pki, cert_faults[0], directory)
        ctx.load_cert_chain(str(leaf.cert_path), str(leaf.key_path))
    else:
        assert pki.server.cert_path and pki.server.key_path, "the PKI must be written to disk"
        ctx.load_cert_chain(str(pki.server.cert_path), str(pki.server.key_path))
    if "tls-no-client-auth" in active:
        ctx.verify_mode = ssl.CERT_NONE
    return active


def server_context(
    pki: TestPKI,
    faults: Iterable[str] = (),
    *,
    client_auth: str = "required",
    directory: Path | None = None,
) -> ssl.SSLContext:
    """A complete server context in the MedMij-good configuration, with ``faults`` applied.

    Good configuration: TLS 1.2 and 1.3 only, ECDHE with AES-GCM or ChaCha20-Poly1305, the P-256
    group only, the PKI's server certificate, and client certificates from ``pki.ca``
    (``client_auth``: ``required``, ``optional`` — then the application must refuse requests
    without a certificate itself — or ``none``).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(GOOD_CIPHERS)
    ctx.set_ecdh_curve(GOOD_GROUP)
    ctx.options |= ssl.OP_NO_COMPRESSION | getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    ctx.load_verify_locations(cafile=str(pki.ca_path))
    ctx.verify_mode = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}[client_auth]
    apply_server_faults(ctx, faults, pki, directory=directory)
    return ctx

