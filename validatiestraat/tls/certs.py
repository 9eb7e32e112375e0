"""Certificate facts (parsed with ``cryptography``) and hostname matching."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from validatiestraat.tls import suites

_CURVE_NAMES = {
    "secp256r1": "secp256r1", "secp384r1": "secp384r1", "secp521r1": "secp521r1",
    "secp224r1": "secp224r1", "secp192r1": "secp192r1", "secp256k1": "secp256k1",
    "brainpoolP256r1": "brainpoolP256r1", "brainpoolP384r1": "brainpoolP384r1",
    "brainpoolP512r1": "brainpoolP512r1",
}


@dataclass
class CertInfo:
    subject: str
    subject_cn: str | None
    issuer: str
    issuer_cn: str | None
    serial: str
    not_before: str
    not_after: str
    days_left: int
    expired: bool
    not_yet_valid: bool
    key_type: str  # RSA, EC, Ed25519, Ed448, DSA
    key_bits: int
    curve: str | None
    signature_algorithm: str
    signature_hash: str | None
    dns_names: list[str]
    ip_addresses: list[str]
    policies: list[str]
    validation_level: str | None  # EV, OV, IV, DV or None
    wildcard_names: list[str]
    self_signed: bool
    is_ca: bool
    server_auth: bool | None  # EKU contains serverAuth (None: no EKU extension)
    sha256: str
    organization: str | None = None
    problems: list[str] = field(default_factory=list)  # parse problems

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cn(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _org(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else None


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except Exception:
        return False


def analyze(der: bytes, now: dt.datetime | None = None) -> CertInfo:
    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.timezone.utc)
    problems: list[str] = []
    key = cert.public_key()
    curve = None
    if isinstance(key, rsa.RSAPublicKey):
        key_type, bits = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, bits = "EC", key.curve.key_size
        curve = _CURVE_NAMES.get(key.curve.name, key.curve.name)
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, bits = "Ed25519", 256
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type, bits = "Ed448", 448
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, bits = "DSA", key.key_size
    else:
        key_type, bits = type(key).__name__, 0
    dns: list[str] = []
    ips: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    except Exception as exc:  # malformed extension
        problems.append(f"unreadable subjectAltName: {exc}")
    policies: list[str] = []
    try:
        pol = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
        policies = [p.policy_identifier.dotted_string for p in pol]
    except x509.ExtensionNotFound:
        pass
    except Exception as exc:
        problems.append(f"unreadable certificatePolicies: {exc}")
    levels = suites.medmij_profile()["validation_policies"]
    validation = None
    for rank in ("EV", "OV", "IV", "DV"):
        if any(levels.get(p) == rank for p in policies):
            validation = rank
            break
    is_ca = False
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        pass
    server_auth: bool | None = None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        server_auth = ExtendedKeyUsageOID.SERVER_AUTH in list(eku)
    except x509.ExtensionNotFound:
        pass
    try:
        hash_alg = cert.signature_hash_algorithm
        sig_hash = hash_alg.name if hash_alg else None
    except Exception:
        sig_hash = None
    try:
        sig_name = cert.signature_algorithm_oid._name  # e.g. ecdsa-with-SHA256
    except Exception:
        sig_name = cert.signature_algorithm_oid.dotted_string
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        subject_cn=_cn(cert.subject),
        issuer=cert.issuer.rfc4514_string(),
        issuer_cn=_cn(cert.issuer),
        serial=format(cert.serial_number, "x"),
        not_before=not_before.isoformat(),
        not_after=not_after.isoformat(),
        days_left=int((not_after - now).total_seconds() // 86400),
        expired=now > not_after,
        not_yet_valid=now < not_before,
        key_type=key_type,
        key_bits=bits,
        curve=curve,
        signature_algorithm=sig_name,
        signature_hash=sig_hash,
        dns_names=dns,
        ip_addresses=ips,
        policies=policies,
        validation_level=validation,
        wildcard_names=[n for n in dns if n.startswith("*")],
        self_signed=_self_signed(cert),
        is_ca=is_ca,
        server_auth=server_auth,
        sha256=hashlib.sha256(der).hexdigest(),
        organization=_org(cert.subject),
        problems=problems,
    )


def subject_of(der: bytes) -> str:
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except Exception:
        return "<unparsable certificate>"


def name_of_der_name(der_name: bytes) -> str:
    """A DER-encoded X.501 Name (from a TLS CertificateRequest) as text, e.g. ``CN=…,O=…``."""
    try:
        return _name_from_der(der_name)
    except Exception:
        return der_name.hex()


def _read_tlv(buf: bytes, p: int) -> tuple[bytes, int]:
    length = buf[p + 1]
    p += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[p: p + n], "big")
        p += n
    return buf[p: p + length], p + length


def _name_from_der(der_name: bytes) -> str:
    # cryptography has no public loader for a bare Name; a tiny ASN.1 walk is enough here
    out = []
    seq, _ = _read_tlv(der_name, 0)
    p = 0
    while p < len(seq):
        rdn, p = _read_tlv(seq, p)
        q = 0
        while q < len(rdn):
            atv, q = _read_tlv(rdn, q)
            oid_bytes, r = _read_tlv(atv, 0)
            value, _ = _read_tlv(atv, r)
            oid = _decode_oid(oid_bytes)
            label = {"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.6": "C", "2.5.4.11": "OU"}.get(oid, oid)
            out.append(f"{label}={value.decode('utf-8', 'replace')}")
    return ",".join(reversed(out))


def _decode_oid(data: bytes) -> str:
    first = data[0]
    parts = [first // 40, first % 40]
    value = 0
    for b in data[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def hostname_matches(host: str, info: CertInfo) -> bool:
    """RFC 6125 matching against the SAN only (no CN fallback, as browsers do)."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host)
        return any(ipaddress.ip_address(a) == ip for a in info.ip_addresses)
    except ValueError:
        pass
    for name in info.dns_names:
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            # the wildcard covers exactly one left-most label
            if host.split(".", 1)[1] == name[2:] and host.split(".", 1)[0] != "":
                return True
    return False
