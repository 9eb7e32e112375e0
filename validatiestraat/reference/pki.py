"""A throw-away test PKI, generated with cryptography.

Used by the reference DVA (CA, server certificate, client certificates for the suite) and by
tests that need good and deliberately bad certificates (expired, wrong host, wildcard, weak key,
self-signed, other CA).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# Policy OIDs used to mark validation level on frontchannel certificates (CA/Browser Forum).
POLICY_OV = "2.23.140.1.2.2"
POLICY_EV = "2.23.140.1.1"
POLICY_DV = "2.23.140.1.2.1"


def new_key(kind: str = "ec", size: int = 2048) -> PrivateKey:
    """A new private key: ``ec`` (P-256) or ``rsa`` with the given size."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


@dataclass
class Issued:
    """A certificate with its key, and where they were written (if written)."""

    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path | None = None
    key_path: Path | None = None

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write(self, directory: Path, stem: str, chain: list["Issued"] | None = None) -> "Issued":
        """Write ``stem.pem`` (certificate, followed by ``chain``) and ``stem.key``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_path = directory / f"{stem}.pem"
        self.key_path = directory / f"{stem}.key"
        pem = self.cert_pem() + b"".join(c.cert_pem() for c in (chain or []))
        self.cert_path.write_bytes(pem)
        self.key_path.write_bytes(self.key_pem())
        self.key_path.chmod(0o600)
        return self


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        attrs.insert(0, x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"))
    return x509.Name(attrs)


def make_ca(
    common_name: str = "validatiestraat Test Root CA",
    key: PrivateKey | None = None,
    days: int = 30,
    issuer: Issued | None = None,
) -> Issued:
    """A CA certificate: self-signed root, or an intermediate when ``issuer`` is given."""
    key = key or new_key("ec")
    now = dt.datetime.now(dt.timezone.utc)
    subject = _name(common_name, "validatiestraat test PKI")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def issue(
    ca: Issued,
    common_name: str,
    *,
    dns_names: list[str] | None = None,
    ip_addresses: list[str] | None = None,
    server: bool = True,
    client: bool = False,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    days: int = 30,
    policies: list[str] | None = None,
    organization: str | None = "validatiestraat test",
    hash_algorithm: hashes.HashAlgorithm | None = None,
) -> Issued:
    """Issue a leaf certificate signed by ``ca``.

    ``not_before``/``not_after`` allow expired or not-yet-valid certificates; ``policies`` adds
    certificate policy OIDs (e.g. :data:`POLICY_OV`).
    """
    key = key or new_key("ec")
    now = dt.datetime.now(dt.timezone.utc)
    not_before = not_before or now - dt.timedelta(minutes=5)
    not_after = not_after or now + dt.timedelta(days=days)
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in (dns_names or [])]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in (ip_addresses or [])]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if policies:
        builder = builder.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]),
            critical=False,
        )
    return Issued(builder.sign(ca.key, hash_algorithm or hashes.SHA256()), key)


@dataclass
class TestPKI:
    """The reference DVA's PKI: one CA, the server certificate and the suite's client certificates."""

    __test__ = False  # not a pytest test class despite its name

    directory: Path
    ca: Issued
    server: Issued
    client: Issued
    other_client: Issued
    #: a client certificate from a CA the DVA does not trust (for mTLS negatives)
    untrusted_client: Issued

    @classmethod
    def generate(
        cls,
        directory: Path,
        client_id: str = "pgo.validatiestraat.test",
        other_client_id: str = "pgo2.validatiestraat.test",
        server_names: tuple[str, ...] = ("localhost",),
        server_ips: tuple[str, ...] = ("127.0.0.1",),
    ) -> "TestPKI":
        directory.mkdir(parents=True, exist_ok=True)
        ca = make_ca().write(directory, "ca")
        server = issue(ca, "localhost", dns_names=list(server_names), ip_addresses=list(server_ips),
                       policies=[POLICY_OV]).write(directory, "server")
        client = issue(ca, client_id, dns_names=[client_id], server=False, client=True).write(directory, "client")
        other = issue(ca, other_client_id, dns_names=[other_client_id], server=False, client=True).write(
            directory, "other-client"
        )
        rogue_ca = make_ca("validatiestraat Untrusted CA")
        rogue = issue(rogue_ca, client_id, dns_names=[client_id], server=False, client=True).write(
            directory, "untrusted-client"
        )
        return cls(directory, ca, server, client, other, rogue)

    STEMS = ("ca", "server", "client", "other-client", "untrusted-client")

    @classmethod
    def load(cls, directory: Path) -> "TestPKI":
        """A PKI written earlier by :meth:`generate` (so that a PGO configured to trust the harness's
        CA keeps trusting it run after run)."""
        def read(stem: str) -> Issued:
            cert = x509.load_pem_x509_certificates((directory / f"{stem}.pem").read_bytes())[0]
            key = serialization.load_pem_private_key((directory / f"{stem}.key").read_bytes(), password=None)
            return Issued(cert, key, directory / f"{stem}.pem", directory / f"{stem}.key")  # type: ignore[arg-type]

        return cls(directory, *(read(stem) for stem in cls.STEMS))

    @classmethod
    def load_or_generate(cls, directory: Path, **kwargs) -> "TestPKI":
        """Load the PKI in ``directory`` when it is complete and still valid for a day, else generate it."""
        if all((directory / f"{stem}.{ext}").is_file() for stem in cls.STEMS for ext in ("pem", "key")):
            try:
                pki = cls.load(directory)
                soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
                names = pki.client.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
                same_client = not kwargs.get("client_id") or (names and names[0].value == kwargs["client_id"])
                if same_client and all(i.cert.not_valid_after_utc > soon for i in (pki.ca, pki.server, pki.client)):
                    return pki
            except (ValueError, OSError, IndexError):
                pass
        return cls.generate(directory, **kwargs)

    @property
    def ca_path(self) -> Path:
        assert self.ca.cert_path is not None
        return self.ca.cert_path
