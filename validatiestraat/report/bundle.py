"""Result bundles: one signed file a MedMij reviewer can verify (`run --bundle`, `verify`).

A bundle is a zip file holding the reports of a run (results.json, junit.xml, report.html, the
redacted exchanges), every scenario and the requirement catalogue the run used, the target
description (redacted), ``meta.json`` (tool and suite versions, Python and platform, start and
end, verdict and scope), a ``manifest.json`` with the SHA-256 of every member, and
``signature.json``: a signature over the manifest's exact bytes, made with the `cryptography`
library, either

- with a key and X.509 certificate the user gives (PEM key + PEM certificate chain, or a PKCS#12
  file, e.g. a PKIoverheid certificate): the certificate chain travels in the bundle, or
- with a per-installation Ed25519 key (created on first use in ``$VALIDATIESTRAAT_HOME`` or
  ``~/.config/validatiestraat``), its public key in the bundle, marked ``self-signed``.

``validatiestraat verify FILE [--trust CA.pem]`` checks every hash and the signature and exits
0 when intact, 3 when anything was altered, added or removed (naming what), 4 when the file
cannot be read as a bundle.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validatiestraat import exitcodes
from validatiestraat.errors import UserError

MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
FORMAT = "validatiestraat-bundle/1"
MAX_MEMBER = 256 * 1024 * 1024  # a member larger than this is not read (a hostile bundle)
MAX_MEMBERS = 20000


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ signing keys
@dataclass
class Signer:
    key: Any  # a cryptography private key
    chain: list[Any] = field(default_factory=list)  # x509.Certificate, leaf first; empty: self-signed

    @property
    def self_signed(self) -> bool:
        return not self.chain

    def sign(self, data: bytes) -> tuple[str, bytes]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return "Ed25519", self.key.sign(data)
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return "ECDSA-SHA256", self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        if isinstance(self.key, rsa.RSAPrivateKey):
            return "RSA-PSS-SHA256", self.key.sign(
                data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
                hashes.SHA256())
        raise UserError(f"signing key type {type(self.key).__name__} is not supported (use RSA, EC or Ed25519)")

    def public_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def installation_key_path() -> Path:
    home = os.environ.get("VALIDATIESTRAAT_HOME")
    base = Path(home) if home else Path.home() / ".config" / "validatiestraat"
    return base / "bundle-signing-key.pem"


def installation_signer() -> Signer:
    """The per-installation Ed25519 key, created (mode 0600) on first use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = installation_key_path()
    if path.is_file():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        return Signer(key)
    key = ed25519.Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return Signer(key)


def load_signer(key: Path | None = None, cert: Path | None = None, p12: Path | None = None,
                password: str | None = None) -> Signer:
    """The user's key and certificate chain (PEM pair or PKCS#12), or the installation key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    secret = password.encode() if password else None
    try:
        if p12 is not None:
            loaded_key, leaf, extra = pkcs12.load_key_and_certificates(p12.read_bytes(), secret)
            if loaded_key is None or leaf is None:
                raise UserError(f"{p12}: the PKCS#12 file holds no key and certificate")
            return Signer(loaded_key, [leaf, *(extra or [])])
        if key is not None or cert is not None:
            if key is None or cert is None:
                raise UserError("--sign-key and --sign-cert go together")
            private = serialization.load_pem_private_key(key.read_bytes(), password=secret)
            chain = x509.load_pem_x509_certificates(cert.read_bytes())
            return Signer(private, chain)
    except OSError as exc:
        raise UserError(f"cannot read the signing key or certificate: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise UserError(f"cannot load the signing key or certificate: {exc}") from None
    return installation_signer()


# ------------------------------------------------------------------ writing
def write_bundle(path: Path, members: dict[str, bytes], meta: dict[str, Any], signer: Signer) -> Path:
    """Write the members, meta.json, the manifest and the signature into one zip file."""
    from cryptography.hazmat.primitives import serialization

    members = dict(members)
    members["meta.json"] = json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True).encode()
    manifest = json.dumps({"format": FORMAT, "members": {name: _sha256(data) for name, data in sorted(members.items())}},
                          indent=2, sort_keys=True).encode()
    algorithm, signature = signer.sign(manifest)
    sig = {
        "format": FORMAT,
        "algorithm": algorithm,
        "signature": base64.b64encode(signature).decode(),
        "signed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "self_signed": signer.self_signed,
        "public_key": signer.public_pem(),
        "certificates": [c.public_bytes(serialization.Encoding.PEM).decode() for c in signer.chain],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(members.items()):
            zf.writestr(name, data)
        zf.writestr(MANIFEST, manifest)
        zf.writestr(SIGNATURE, json.dumps(sig, indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def run_members(report_files: dict[str, Path], scenario_files: list[Path], target: dict[str, Any]) -> dict[str, bytes]:
    """The members of a run's bundle: its reports, the inputs it used, the target (redacted)."""
    from importlib import resources

    members = {f"reports/{p.name}": p.read_bytes() for p in report_files.values()}
    members["inputs/requirements.yaml"] = resources.files("validatiestraat").joinpath("requirements.yaml").read_bytes()
    for path in scenario_files:
        members[f"inputs/scenarios/{_arcname(path)}"] = path.read_bytes()
    members["target.json"] = json.dumps(target, indent=2, ensure_ascii=False, sort_keys=True).encode()
    return members


def _arcname(path: Path) -> str:
    parts = path.resolve().parts
    for marker in ("scenarios",):
        if marker in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(marker) + 1:])
    return path.name


def run_meta(result: Any, readiness: Any) -> dict[str, Any]:
    from validatiestraat import SUITE_VERSION, __version__

    return {
        "tool": {"name": "validatiestraat", "version": __version__},
        "suite_version": SUITE_VERSION,
        "afsprakenstelsel_release": result.scope.get("release") if isinstance(result.scope, dict) else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "started": result.started,
        "finished": result.finished,
        "verdict": readiness.verdict,
        "scope": {k: v for k, v in (readiness.scope or {}).items() if k != "options"},
        "faults": list(result.faults),
    }


# ------------------------------------------------------------------ verifying
@dataclass
class Verification:
    intact: bool
    problems: list[str]
    signer: str = ""
    signed_at: str = ""
    self_signed: bool = True
    verdict: str | None = None
    scope: dict[str, Any] = field(default_factory=dict)
    members: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"intact": self.intact, "problems": self.problems, "signer": self.signer, "signed_at": self.signed_at,
                "self_signed": self.self_signed, "verdict": self.verdict, "scope": self.scope, "members": self.members}


class Unreadable(UserError):
    exit_code = exitcodes.CONFIG_ERROR


def verify_bundle(path: Path, trust: list[Path] | None = None) -> Verification:
    """Check every hash and the signature (and, with ``trust``, the certificate chain)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise Unreadable(f"{path}: not a readable bundle ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS or any(i.file_size > MAX_MEMBER for i in infos):
            raise Unreadable(f"{path}: too many or too large members for a bundle")
        names = [i.filename for i in infos]
        if MANIFEST not in names or SIGNATURE not in names:
            raise Unreadable(f"{path}: no {MANIFEST} or {SIGNATURE}: not a validatiestraat bundle")
        try:
            manifest_bytes = zf.read(MANIFEST)
            manifest = json.loads(manifest_bytes)
            sig = json.loads(zf.read(SIGNATURE))
            listed: dict[str, str] = dict(manifest["members"])
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise Unreadable(f"{path}: the manifest or the signature cannot be read ({exc})") from None
        problems: list[str] = []
        contents: dict[str, bytes] = {}
        for name in names:
            if name in (MANIFEST, SIGNATURE):
                continue
            try:
                contents[name] = zf.read(name)
            except (zipfile.BadZipFile, OSError) as exc:  # e.g. a CRC error after a flipped byte
                problems.append(f"{name}: cannot be read ({exc}): altered")
        for name, digest in sorted(listed.items()):
            if name not in names:
                problems.append(f"{name}: removed (listed in the manifest, not in the bundle)")
            elif name in contents and _sha256(contents[name]) != digest:
                problems.append(f"{name}: altered (its SHA-256 differs from the manifest)")
        for name in sorted(set(names) - set(listed) - {MANIFEST, SIGNATURE}):
            problems.append(f"{name}: added (not in the manifest)")
    # the signature over the manifest's exact bytes
    certificates = []
    try:
        certificates = [x509.load_pem_x509_certificate(c.encode()) for c in sig.get("certificates") or []]
        public = certificates[0].public_key() if certificates else \
            serialization.load_pem_public_key(str(sig["public_key"]).encode())
        signature = base64.b64decode(sig["signature"])
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, manifest_bytes)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, manifest_bytes, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, manifest_bytes,
                          padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
                          hashes.SHA256())
        else:
            problems.append(f"{SIGNATURE}: unsupported key type {type(public).__name__}")
    except InvalidSignature:
        problems.append(f"{SIGNATURE}: the signature does not match {MANIFEST} (altered, or re-signed)")
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{SIGNATURE}: cannot be checked ({exc})")
    if certificates and sig.get("public_key"):
        from cryptography.hazmat.primitives import serialization as ser

        leaf_key = certificates[0].public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
        if leaf_key.decode() != sig["public_key"]:
            problems.append(f"{SIGNATURE}: the public key is not the certificate's")
    if trust:
        problems += _chain_problems(certificates, trust, str(sig.get("public_key", "")))
    meta: dict[str, Any] = {}
    if "meta.json" in contents:
        try:
            meta = json.loads(contents["meta.json"])
        except ValueError:
            pass
    signer = certificates[0].subject.rfc4514_string() if certificates else \
        "self-signed installation key " + _sha256(str(sig.get("public_key", "")).encode())[:16]
    return Verification(intact=not problems, problems=problems, signer=signer, signed_at=str(sig.get("signed_at", "")),
                        self_signed=not certificates, verdict=meta.get("verdict"), scope=meta.get("scope") or {},
                        members=len(listed))


def _chain_problems(certificates: list[Any], trust: list[Path], public_pem: str = "") -> list[str]:
    """Each certificate is signed by the next; the last by one of the trust anchors; all valid now.
    A trust file may also hold a public key (e.g. of a self-signed installation key): then the
    bundle must be signed with exactly that key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    anchors, keys = [], []
    for path in trust:
        try:
            data = path.read_bytes()
            if b"PUBLIC KEY-----" in data:
                key = serialization.load_pem_public_key(data)
                keys.append(key.public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode())
            else:
                anchors += x509.load_pem_x509_certificates(data)
        except (OSError, ValueError) as exc:
            raise UserError(f"--trust {path}: {exc}") from None
    if keys and public_pem in keys:
        return []
    if not certificates:
        return [f"{SIGNATURE}: signed with a key that is not a --trust key (self-signed, no certificate)"]
    if not anchors:
        return [f"{SIGNATURE}: signed with a key that is not a --trust key"]
    now = dt.datetime.now(dt.timezone.utc)
    problems = []
    for cert in certificates:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            problems.append(f"{SIGNATURE}: certificate {cert.subject.rfc4514_string()} is not valid now")
    chain = list(certificates)
    for child, parent in zip(chain, chain[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, Exception):  # InvalidSignature or a name mismatch
            problems.append(f"{SIGNATURE}: certificate {child.subject.rfc4514_string()} is not issued by the next in "
                            "the chain")
    last = chain[-1]
    if not any(_issued_by(last, a) for a in anchors):
        problems.append(f"{SIGNATURE}: certificate {last.subject.rfc4514_string()} does not chain to a --trust "
                        "anchor (re-signed by someone else?)")
    return problems


def _issued_by(cert: Any, anchor: Any) -> bool:
    if cert.fingerprint(_sha256_alg()) == anchor.fingerprint(_sha256_alg()):
        return True
    try:
        cert.verify_directly_issued_by(anchor)
        return True
    except Exception:  # noqa: BLE001 - any failure means: not issued by this anchor
        return False


def _sha256_alg():
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


# ------------------------------------------------------------------ the verify command
EPILOG = """examples:
  validatiestraat run --report-dir out/ --bundle out/run.vsb
  validatiestraat verify out/run.vsb
  validatiestraat verify out/run.vsb --trust pkioverheid-root.pem --json

exit codes: 0 intact, 3 altered (every altered, added or removed member is named), 4 not readable"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a result bundle's hashes and signature (who signed, when, the verdict)",
                       description="Check every hash and the signature of a result bundle (run --bundle).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path, help="the bundle (.vsb)")
    p.add_argument("--trust", action="append", type=Path, default=[], metavar="CA.pem",
                   help="trust anchors the signing certificate must chain to, or public keys (PEM) the bundle "
                        "must be signed with (repeatable)")
    p.add_argument("--json", action="store_true", help="print the verification as JSON")
    p.set_defaults(func=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    result = verify_bundle(args.bundle, args.trust or None)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"{args.bundle}: {'intact' if result.intact else 'ALTERED'}")
        print(f"  signed by  {result.signer}{' (self-signed)' if result.self_signed else ''}")
        print(f"  signed at  {result.signed_at}")
        print(f"  verdict    {result.verdict}   scope {json.dumps(result.scope, ensure_ascii=False)}")
        print(f"  members    {result.members}")
        for problem in result.problems:
            print(f"  - {problem}")
    return exitcodes.OK if result.intact else exitcodes.NOT_READY
