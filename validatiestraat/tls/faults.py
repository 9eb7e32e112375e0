"""TLS fault switches for the reference DVA (and for tests).

Each fault makes the server violate specific TLS requirements; ``TLS_FAULTS[name].breaks`` lists
the requirement IDs a run against the faulty server must report as failed (the same shape as
``validatiestraat.reference.faults.Fault``: name, description, breaks, blocks, component).

How a server applies them (``validatiestraat/reference/tlsconfig.py`` style)::

    from validatiestraat.tls.faults import TLS_FAULT_HOOKS, load_server_certificate

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ...                                                     # versions, ciphers, options
    load_server_certificate(ctx, pki, faults, workdir)      # instead of ctx.load_cert_chain(pki.server…)
    ...                                                     # verify_mode, load_verify_locations
    for name in sorted(faults):                             # after the default configuration
        if name in TLS_FAULT_HOOKS:
            TLS_FAULT_HOOKS[name](ctx, channel, pki, workdir)

or, for a server without its own configuration, :func:`server_context` does all of it.
"""

from __future__ import annotations

import datetime as dt
import ssl
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from validatiestraat.reference.pki import POLICY_DV, POLICY_OV, Issued, TestPKI, issue, make_ca, new_key

#: TLS 1.2 suites of a MedMij-good server (TLS 1.3 suites are OpenSSL's default three, all good)
GOOD_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
#: the one key exchange group of the good configuration (OpenSSL otherwise also offers ffdhe2048…)
GOOD_GROUP = "prime256v1"


@dataclass(frozen=True)
class TlsFault:
    name: str
    description: str
    breaks: tuple[str, ...]
    blocks: tuple[str, ...] = ()
    component: str = "tls"
    #: the suite's own HTTPS client (certificate verification, client certificate identification)
    #: cannot use the server any more, so every HTTP-based (OAuth, FHIR) check of a run errors or
    #: fails too: a fault matrix should run only the TLS scenarios with it, or list those as blocks
    blocks_http: bool = False


_CERT_BREAKS = ("TLS-CERT-01", "TLS-CERT-02", "AS-TLS-01", "RS-TLS-01")

TLS_FAULTS: dict[str, TlsFault] = {f.name: f for f in (
    TlsFault("tls-allow-tls10",
             "accept TLS 1.0 and 1.1 next to TLS 1.2 and 1.3 (with the CBC suites those versions need)",
             ("TLS-VER-03", "TLS-CIPH-01")),
    TlsFault("tls-no-tls13", "offer TLS 1.2 only (reported as a warning: TLS 1.3 is a SHOULD)", ("TLS-VER-02",)),
    TlsFault("tls-only-tls13", "offer TLS 1.3 only (MedMij requires TLS 1.2 from every participant)",
             ("TLS-VER-01",)),
    TlsFault("tls-cbc-suite", "also offer the CBC suites ECDHE-ECDSA-AES128-SHA / ECDHE-RSA-AES128-SHA in TLS 1.2",
             ("TLS-CIPH-01",)),
    TlsFault("tls-no-forward-secrecy",
             "also offer AES128-GCM-SHA256 (RSA key exchange, no forward secrecy) in TLS 1.2, with an extra RSA "
             "server certificate", ("TLS-CIPH-01",)),
    TlsFault("tls-expired-certificate", "serve a server certificate that expired yesterday", _CERT_BREAKS,
             blocks_http=True),
    TlsFault("tls-wrong-host-certificate", "serve a server certificate for wrong-host.validatiestraat.invalid only",
             ("TLS-CERT-03", "AS-TLS-01"), blocks_http=True),
    TlsFault("tls-self-signed-certificate", "serve a self-signed server certificate", _CERT_BREAKS, blocks_http=True),
    TlsFault("tls-weak-key", "serve a server certificate with a 1024-bit RSA key", _CERT_BREAKS, blocks_http=True),
    TlsFault("tls-wildcard-certificate",
             "serve a wildcard server certificate (*.validatiestraat.test plus the usual names)",
             ("TLS-CERT-02", "AS-TLS-01")),
    TlsFault("tls-dv-certificate", "serve a domain-validated (DV) server certificate", ("TLS-CERT-02", "AS-TLS-01")),
    TlsFault("tls-no-client-auth", "do not request or check client certificates (no mutual TLS on the backchannel)",
             ("TLS-MTLS-01", "AS-TOKEN-01", "RS-TLS-01"), blocks_http=True),
)}

#: faults that replace the server certificate (applied by :func:`load_server_certificate`)
CERTIFICATE_FAULTS = ("tls-expired-certificate", "tls-wrong-host-certificate", "tls-self-signed-certificate",
                      "tls-weak-key", "tls-wildcard-certificate", "tls-dv-certificate")


def skips_client_auth(faults: Iterable[str]) -> bool:
    """True when the server must also skip any application-level client certificate check."""
    return "tls-no-client-auth" in set(faults)


def _names(cert: x509.Certificate) -> tuple[str, list[str], list[str]]:
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    return (str(cn[0].value) if cn else "localhost"), dns, ips


def fault_certificate(pki: TestPKI, fault: str, directory: Path | None = None) -> Issued:
    """The server certificate (and key) that ``fault`` serves, written to ``directory``.

    Same names as ``pki.server`` unless the fault is about the name, issued by ``pki.ca`` unless
    the fault is about the issuer. Also ``tls-rsa`` (a good RSA-2048 certificate, used by
    ``tls-no-forward-secrecy``).
    """
    directory = directory or (pki.directory / "tls-faults")
    cn, dns, ips = _names(pki.server.cert)
    now = dt.datetime.now(dt.timezone.utc)
    if fault == "tls-expired-certificate":
        leaf = issue(pki.ca, cn, dns_names=dns, ip_addresses=ips, policies=[POLICY_OV],
                     not_before=now - dt.timedelta(days=60), not_after=now - dt.timedelta(days=1))
    elif fault == "tls-wrong-host-certificate":
        leaf = issue(pki.ca, "wrong-host.validatiestraat.invalid", dns_names=["wrong-host.validatiestraat.invalid"],
                     policies=[POLICY_OV])
    elif fault == "tls-self-signed-certificate":
        key = new_key("ec")
        own = make_ca(cn, key=key)  # a stand-alone issuer with the leaf's own key and name
        leaf = issue(own, cn, dns_names=dns, ip_addresses=ips, key=key, policies=[POLICY_OV],
                     organization="validatiestraat test PKI")
    elif fault == "tls-weak-key":
        leaf = issue(pki.ca, cn, dns_names=dns, ip_addresses=ips, key=new_key("rsa", 1024), policies=[POLICY_OV])
    elif fault == "tls-wildcard-certificate":
        leaf = issue(pki.ca, cn, dns_names=["*.validatiestraat.test", *dns], ip_addresses=ips, policies=[POLICY_OV])
    elif fault == "tls-dv-certificate":
        leaf = issue(pki.ca, cn, dns_names=dns, ip_addresses=ips, policies=[POLICY_DV])
    elif fault == "tls-rsa":
        leaf = issue(pki.ca, cn, dns_names=dns, ip_addresses=ips, key=new_key("rsa", 2048), policies=[POLICY_OV])
    else:
        raise ValueError(f"{fault} is not a certificate fault")
    chain = [] if fault == "tls-self-signed-certificate" else [pki.ca]
    return leaf.write(directory, fault, chain=chain)


def _add_ciphers(ctx: ssl.SSLContext, extra: str = "", level0: bool = False) -> None:
    """Add TLS ≤ 1.2 suites to what ``ctx`` already offers (faults compose)."""
    current = [c["name"] for c in ctx.get_ciphers() if c.get("protocol") != "TLSv1.3"]
    level0 = level0 or getattr(ctx, "security_level", 1) == 0
    spec = ":".join([*current, *([extra] if extra else [])]) or GOOD_CIPHERS
    ctx.set_ciphers(spec + (":@SECLEVEL=0" if level0 else ""))


def load_server_certificate(ctx: ssl.SSLContext, pki: TestPKI, faults: Iterable[str],
                            workdir: Path | None = None) -> Path:
    """Load the server certificate into ``ctx``: ``pki.server``, or the one a certificate fault
    serves. Use it *instead of* ``ctx.load_cert_chain(pki.server…)`` (a replacement certificate
    must be the only one of its key type, and a 1024-bit key needs security level 0 before it
    can be loaded). Returns the certificate file loaded."""
    active = [f for f in faults if f in CERTIFICATE_FAULTS]
    if len(active) > 1:
        raise ValueError(f"only one certificate fault at a time: {', '.join(active)}")
    if not active:
        assert pki.server.cert_path and pki.server.key_path, "the PKI must be written to disk"
        ctx.load_cert_chain(str(pki.server.cert_path), str(pki.server.key_path))
        return pki.server.cert_path
    directory = (workdir or pki.directory) / "tls-faults"
    leaf = fault_certificate(pki, active[0], directory)
    if active[0] == "tls-weak-key":
        _add_ciphers(ctx, level0=True)  # OpenSSL refuses a 1024-bit key above security level 0
    assert leaf.cert_path and leaf.key_path
    ctx.load_cert_chain(str(leaf.cert_path), str(leaf.key_path))
    return leaf.cert_path


# -- hooks for the faults that do not replace the certificate ------------------------------------

TlsHook = Callable[[ssl.SSLContext, str, TestPKI, Path], None]


def _allow_tls10(ctx: ssl.SSLContext, channel: str, pki: TestPKI, workdir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    # TLS 1.0/1.1 have no AEAD suites, and OpenSSL 3 disables them above security level 0
    _add_ciphers(ctx, "ECDHE+AES", level0=True)


def _no_tls13(ctx: ssl.SSLContext, channel: str, pki: TestPKI, workdir: Path) -> None:
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2


def _only_tls13(ctx: ssl.SSLContext, channel: str, pki: TestPKI, workdir: Path) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3


def _cbc_suite(ctx: ssl.SSLContext, channel: str, pki: TestPKI, workdir: Path) -> None:
    _add_ciphers(ctx, "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA")


def _no_forward_secrecy(ctx: ssl.SSLContext, channel: str, pki: TestPKI, workdir: Path) -> None:
    # RSA key exchange needs an RSA certificate; OpenSSL keeps it next to the EC one
    rsa = fault_certificate(pki, "tls-rsa", workdir / "tls-faults")
    ctx.load_cert_chain(str(rsa.cert_path), str(rsa.key_path))
    _add_ciphers(ctx, "AES128-GCM-SHA256")


def _no_client_auth(ctx: ssl.SSLContext, channel: str, pki: TestPKI, workdir: Path) -> None:
    ctx.verify_mode = ssl.CERT_NONE


#: fault name -> hook(ctx, channel, pki, workdir), applied after the server's default configuration
TLS_FAULT_HOOKS: dict[str, TlsHook] = {
    "tls-allow-tls10": _allow_tls10,
    "tls-no-tls13": _no_tls13,
    "tls-only-tls13": _only_tls13,
    "tls-cbc-suite": _cbc_suite,
    "tls-no-forward-secrecy": _no_forward_secrecy,
    "tls-no-client-auth": _no_client_auth,
}


def apply_server_faults(ctx: ssl.SSLContext, faults: Iterable[str], pki: TestPKI, *,
                        channel: str = "back", workdir: Path | None = None) -> list[str]:
    """Load the (possibly faulty) certificate and apply every TLS fault hook to ``ctx``.

    Call it where the server would call ``ctx.load_cert_chain(pki.server…)``, *after* setting its
    own versions, ciphers and client-certificate mode. Returns the TLS faults applied.
    """
    active = sorted(f for f in set(faults) if f in TLS_FAULTS)
    workdir = workdir or pki.directory
    load_server_certificate(ctx, pki, active, workdir)
    for name in active:
        hook = TLS_FAULT_HOOKS.get(name)
        if hook is not None:
            hook(ctx, channel, pki, workdir)
    return active


def server_context(pki: TestPKI, faults: Iterable[str] = (), *, client_auth: str = "required",
                   workdir: Path | None = None) -> ssl.SSLContext:
    """A complete server context in the MedMij-good configuration, with ``faults`` applied.

    Good configuration: TLS 1.2 and 1.3 only; ECDHE with AES-GCM or ChaCha20-Poly1305; the P-256
    group only; no compression or renegotiation; the PKI's server certificate; client
    certificates from ``pki.ca`` (``client_auth``: required, optional — the application must then
    refuse requests without a certificate itself — or none).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(GOOD_CIPHERS)
    ctx.set_ecdh_curve(GOOD_GROUP)
    ctx.options |= ssl.OP_NO_COMPRESSION | getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    ctx.load_verify_locations(cafile=str(pki.ca_path))
    ctx.verify_mode = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}[client_auth]
    apply_server_faults(ctx, faults, pki, workdir=workdir)
    return ctx
