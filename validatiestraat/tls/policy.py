"""What a TLS check expects of an endpoint: channel, trust anchors, minimum levels, client identity.

Defaults follow the domain brief: TLS 1.2 required and TLS 1.3 expected; suites rated NCSC "good"
(configurable, because the exact MedMij allow-list is an open point ⚠); PKIoverheid Private
Services G1 issuing CAs on the backchannel; publicly trusted OV (not wildcard) on the frontchannel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validatiestraat.errors import Problem, UserError
from validatiestraat.tls import suites

if TYPE_CHECKING:  # pragma: no cover
    from validatiestraat.target import Target

CHANNELS = ("frontchannel", "backchannel")
PARTS = ("versions", "ciphers", "certificate", "mtls", "info")
GROUP_POLICIES = ("fail", "warn", "ignore")
VALIDATION_LEVELS = ("DV", "OV", "EV")


@dataclass
class TlsPolicy:
    channel: str = "frontchannel"
    #: CA bundle files. Empty: the system store (frontchannel); on the backchannel the chain
    #: check then reports that no PKIoverheid trust anchor was configured.
    trust: list[Path] = field(default_factory=list)
    #: backchannel: allowed issuing CA common names (None: the PKIoverheid Private Services G1 list;
    #: an empty list: do not check the issuer)
    issuing_cas: list[str] | None = None
    min_cipher_level: str = "good"
    #: what to do with key exchange groups below ``min_cipher_level``
    group_policy: str = "warn"
    #: frontchannel: lowest acceptable validation level and whether wildcards are allowed
    min_validation: str = "OV"
    allow_wildcard: bool = False
    client_cert: Path | None = None
    client_key: Path | None = None
    client_key_password: str | None = None
    #: certificate from a CA the server must not trust (None: a throw-away one is generated)
    untrusted_cert: Path | None = None
    untrusted_key: Path | None = None
    #: test that the endpoint refuses clients without (valid) certificate; None: on the backchannel
    check_mtls: bool | None = None
    timeout: float = 5.0  # per network operation
    total_timeout: float = 60.0  # per endpoint
    per_server: int = 6  # concurrent connections per host:port
    min_days_left: int = 14  # warn when the certificate expires sooner
    parts: frozenset[str] = frozenset(PARTS)

    @property
    def mtls_enabled(self) -> bool:
        enabled = self.channel == "backchannel" if self.check_mtls is None else self.check_mtls
        return enabled and "mtls" in self.parts

    @property
    def allowed_issuers(self) -> list[str]:
        if self.channel != "backchannel":
            return []
        if self.issuing_cas is None:
            return list(suites.medmij_profile()["backchannel"]["issuing_cas"])
        return list(self.issuing_cas)

    def validate(self, source: str = "<policy>") -> None:
        problems = []
        if self.channel not in CHANNELS:
            problems.append(f"channel must be one of {', '.join(CHANNELS)}, not {self.channel!r}")
        if self.min_cipher_level not in suites.LEVELS:
            problems.append(f"minimum cipher level must be one of {', '.join(suites.LEVELS)}, not {self.min_cipher_level!r}")
        if self.group_policy not in GROUP_POLICIES:
            problems.append(f"group policy must be one of {', '.join(GROUP_POLICIES)}, not {self.group_policy!r}")
        if self.min_validation not in VALIDATION_LEVELS:
            problems.append(f"minimum validation level must be one of {', '.join(VALIDATION_LEVELS)}")
        if self.timeout <= 0 or self.total_timeout <= 0:
            problems.append("timeouts must be positive")
        if self.per_server < 1:
            problems.append("connections per server must be at least 1")
        for path in self.trust:
            if not Path(path).is_file():
                problems.append(f"trust anchor file not found: {path}")
        for label, path in (("client certificate", self.client_cert), ("client key", self.client_key),
                            ("untrusted client certificate", self.untrusted_cert),
                            ("untrusted client key", self.untrusted_key)):
            if path is not None and not Path(path).is_file():
                problems.append(f"{label} file not found: {path}")
        if (self.client_cert is None) != (self.client_key is None):
            problems.append("give both a client certificate and its key, or neither")
        if (self.untrusted_cert is None) != (self.untrusted_key is None):
            problems.append("give both an untrusted client certificate and its key, or neither")
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            problems.append(f"unknown parts: {', '.join(sorted(unknown))} (known: {', '.join(PARTS)})")
        if problems:
            raise UserError("invalid TLS check settings", [Problem(source, None, None, p) for p in problems])

    def describe(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "trust": [str(p) for p in self.trust] or ("system store" if self.channel == "frontchannel" else []),
            "allowed_issuers": self.allowed_issuers,
            "min_cipher_level": self.min_cipher_level,
            "group_policy": self.group_policy,
            "min_validation": self.min_validation if self.channel == "frontchannel" else None,
            "allow_wildcard": self.allow_wildcard if self.channel == "frontchannel" else None,
            "client_certificate": str(self.client_cert) if self.client_cert else None,
            "mtls": self.mtls_enabled,
            "timeout": self.timeout,
            "per_server": self.per_server,
            "ncsc_source": suites.ncsc_source()["title"],
        }


ENDPOINT_CHANNELS = {"authorization": "frontchannel", "token": "backchannel", "resource": "backchannel"}


def policy_for_target(
    target: "Target",
    channel: str,
    *,
    client_certificate: str = "target",
    check_mtls: bool | None = None,
    parts: frozenset[str] | None = None,
) -> TlsPolicy:
    """The policy for one endpoint of a target (used by the ``tls.probe`` step kind).

    Target options read (all optional):

    ``tls_frontchannel_trust``  list of CA files for the frontchannel (default: system store;
                                ``target`` uses the target's ``trust`` list)
    ``tls_issuing_cas``         allowed backchannel issuing CA names (default: PKIoverheid Private
                                Services G1)
    ``tls_min_cipher_level``    good | sufficient | phase_out (default good)
    ``tls_group_policy``        fail | warn | ignore (default warn)
    ``tls_min_validation``      DV | OV | EV (default OV)
    ``tls_allow_wildcard``      bool (default false)
    ``tls_timeout``             seconds per network operation (default: the target's connect timeout)
    ``tls_connections``         concurrent connections per server (default 6)
    ``untrusted_client_certificate`` / ``untrusted_client_key``  for the mTLS negative test
    """
    opt = target.option
    base = Path(target.source).parent if target.source and not target.source.startswith("<") else Path(".")

    def paths(value: Any) -> list[Path]:
        if not value:
            return []
        items = value if isinstance(value, list) else [value]
        return [Path(p) if Path(p).is_absolute() else base / p for p in items]

    if channel == "backchannel":
        trust = list(target.trust)
    else:
        ft = opt("tls_frontchannel_trust")
        trust = list(target.trust) if ft == "target" else paths(ft)
    cert = key = password = None
    if client_certificate == "target":
        cert, key, password = target.client.certificate, target.client.key, target.client.key_password
    elif client_certificate == "other" and target.other_client:
        oc = target.other_client
        cert, key, password = oc.certificate, oc.key, oc.key_password
    elif client_certificate == "untrusted":
        cert, key = (paths(opt("untrusted_client_certificate")) or [None])[0], (paths(opt("untrusted_client_key")) or [None])[0]
    untrusted = paths(opt("untrusted_client_certificate"))
    untrusted_key = paths(opt("untrusted_client_key"))
    issuing = opt("tls_issuing_cas")
    return TlsPolicy(
        channel=channel,
        trust=trust,
        issuing_cas=list(issuing) if isinstance(issuing, list) else ([issuing] if issuing else None),
        min_cipher_level=str(opt("tls_min_cipher_level", "good")),
        group_policy=str(opt("tls_group_policy", "warn")),
        min_validation=str(opt("tls_min_validation", "OV")),
        allow_wildcard=bool(opt("tls_allow_wildcard", False)),
        client_cert=cert,
        client_key=key,
        client_key_password=password,
        untrusted_cert=untrusted[0] if untrusted and untrusted_key else None,
        untrusted_key=untrusted_key[0] if untrusted and untrusted_key else None,
        check_mtls=check_mtls,
        timeout=float(opt("tls_timeout", min(target.connect_timeout, 10.0))),
        per_server=int(opt("tls_connections", 6)),
        parts=parts if parts is not None else frozenset(PARTS),
    )
