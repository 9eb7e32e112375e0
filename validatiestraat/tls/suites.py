"""Cipher suite registry and the NCSC TLS guideline v2.1 ratings (shipped as data in ``data/``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from validatiestraat.tls import wire

LEVELS = ("good", "sufficient", "phase_out", "insufficient")
LEVEL_LABELS = {
    "good": "good (goed)",
    "sufficient": "sufficient (voldoende)",
    "phase_out": "phase out (uitfaseren)",
    "insufficient": "insufficient (onvoldoende)",
}


def level_rank(level: str) -> int:
    """0 for good … 3 for insufficient."""
    return LEVELS.index(level)


def below(level: str, minimum: str) -> bool:
    return level_rank(level) > level_rank(minimum)


@dataclass(frozen=True)
class Suite:
    code: int
    iana: str
    openssl: str | None
    min_version: str  # SSLv3, TLSv1.0, TLSv1.2, TLSv1.3
    kx: str  # ECDHE, DHE, RSA, ECDH, DH, PSK, SRP, TLS13
    au: str  # ECDSA, RSA, DSS, anon, PSK, SRP, any
    enc: str  # AES_256_GCM, AES_128_CBC, 3DES_EDE_CBC, RC4_128, NULL, ...
    mac: str  # AEAD, SHA384, SHA256, SHA, MD5
    export: bool

    @property
    def tls13(self) -> bool:
        return self.min_version == "TLSv1.3"

    @property
    def forward_secret(self) -> bool:
        # anonymous DH/ECDH suites use ephemeral keys too (but authenticate nobody)
        return self.tls13 or self.kx in ("ECDHE", "DHE") or (self.au == "anon" and self.kx in ("DH", "ECDH"))

    @property
    def name(self) -> str:
        return self.iana

    def usable_in(self, version: int) -> bool:
        if version == wire.TLS13:
            return self.tls13
        if self.tls13:
            return False
        return wire.VERSION_CODES[self.min_version] <= version

    def weaknesses(self) -> list[str]:
        """Plain-language reasons why a suite is not good."""
        out = []
        if self.export:
            out.append("EXPORT-grade")
        if self.au == "anon":
            out.append("anonymous (no server authentication)")
        if self.enc == "NULL":
            out.append("no encryption (NULL)")
        if self.enc.startswith("RC4"):
            out.append("RC4")
        if self.enc.startswith("3DES"):
            out.append("3DES")
        if self.enc.startswith("DES") or self.enc.startswith("DES40"):
            out.append("DES")
        if self.enc.endswith("_CBC") or "_CBC_" in self.enc:
            out.append("CBC mode")
        if "CCM_8" in self.enc:
            out.append("short (8-byte) CCM tag")
        if self.mac == "MD5":
            out.append("MD5")
        if not self.forward_secret:
            out.append(f"no forward secrecy ({self.kx} key exchange)")
        if "PSK" in (self.kx, self.au):
            out.append("pre-shared key (PSK) suite")
        elif "SRP" in (self.kx, self.au):
            out.append("SRP suite")
        if self.au == "DSS":
            out.append("DSA authentication")
        for alg in ("CAMELLIA", "ARIA", "SEED", "IDEA", "RC2"):
            if alg in self.enc:
                out.append(f"{alg} (not in the NCSC selection)")
        return out


def _parse_iana(iana: str) -> tuple[str, str, str, str, bool]:
    """Split an IANA suite name into (kx, au, enc, mac, export)."""
    if "_WITH_" not in iana:  # TLS 1.3: TLS_AES_128_GCM_SHA256
        enc = iana[4:].rsplit("_", 1)[0]
        return "TLS13", "any", enc, "AEAD", False
    left, right = iana[4:].split("_WITH_", 1)
    export = "EXPORT" in left
    parts = [p for p in left.split("_") if p != "EXPORT"]
    if parts[0] == "SRP":
        kx, au = "SRP", (parts[2] if len(parts) > 2 else "SRP")
    elif parts[0] == "PSK" and len(parts) > 1:  # TLS_PSK_DHE_WITH_...
        kx, au = "DHE", "PSK"
    elif parts[-1] == "PSK" and len(parts) > 1:  # DHE_PSK, ECDHE_PSK, RSA_PSK
        kx, au = parts[0], ("RSA" if parts[0] == "RSA" else "PSK")
    elif len(parts) == 1:
        kx, au = parts[0], ("PSK" if parts[0] == "PSK" else parts[0])
    else:
        kx, au = parts[0], parts[1]
    tokens = right.split("_")
    if tokens[-1] in ("SHA", "SHA256", "SHA384", "MD5"):
        mac, enc_tokens = tokens[-1], tokens[:-1]
    else:
        mac, enc_tokens = "AEAD", tokens
    enc = "_".join(enc_tokens)
    if "GCM" in enc or "POLY1305" in enc or "CCM" in enc:
        mac = "AEAD"
    return kx, au, enc, mac, export


@lru_cache(maxsize=None)
def registry() -> dict[int, Suite]:
    text = resources.files("validatiestraat.tls").joinpath("data/cipher_suites.json").read_text("utf-8")
    out: dict[int, Suite] = {}
    for s in json.loads(text)["suites"]:
        kx, au, enc, mac, export = _parse_iana(s["iana"])
        code = int(s["code"], 16)
        out[code] = Suite(code, s["iana"], s["openssl"], s["min_version"], kx, au, enc, mac, export)
    return out


def suite_name(code: int) -> str:
    suite = registry().get(code)
    return suite.iana if suite else f"unknown suite 0x{code:04X}"


def suites_for(version: int) -> list[int]:
    """All registry suites that can be offered in ``version`` (a new list each call)."""
    return list(_suites_for(version))


@lru_cache(maxsize=None)
def _suites_for(version: int) -> tuple[int, ...]:
    return tuple(c for c, s in registry().items() if s.usable_in(version))


@lru_cache(maxsize=None)
def ncsc() -> dict[str, Any]:
    text = resources.files("validatiestraat.tls").joinpath("data/ncsc-tls-2.1.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=None)
def _suite_levels() -> dict[str, str]:
    out = {}
    for level, names in ncsc()["suites"].items():
        for name in names:
            out[name] = level
    return out


def suite_level(code: int) -> str:
    suite = registry().get(code)
    if suite is None:
        return "insufficient"
    return _suite_levels().get(suite.iana, "insufficient")


def version_level(version_name: str) -> str:
    return ncsc()["versions"].get(version_name, "insufficient")


@lru_cache(maxsize=None)
def _group_levels() -> dict[str, str]:
    out = {}
    for level, names in ncsc()["groups"].items():
        for name in names:
            out[name] = level
    return out


def group_level(name: str) -> str:
    return _group_levels().get(name, "insufficient")


def dh_level(bits: int) -> str:
    table = ncsc()["dh_bits"]
    if bits >= table["sufficient"]:
        return "sufficient"
    if bits >= table["phase_out"]:
        return "phase_out"
    return "insufficient"


def ncsc_source() -> dict[str, Any]:
    return dict(ncsc()["source"])


@lru_cache(maxsize=None)
def medmij_profile() -> dict[str, Any]:
    text = resources.files("validatiestraat.tls").joinpath("data/medmij-tls-profile.yaml").read_text("utf-8")
    return yaml.safe_load(text)
