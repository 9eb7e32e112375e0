"""The TLS report of one endpoint: collected facts plus judged findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from validatiestraat.report.model import Status, worst

#: topics in report order, with the requirement IDs they verify.
TOPICS: dict[str, tuple[str, ...]] = {
    "connect": (),
    "tls12": ("TLS-VER-01",),
    "tls13": ("TLS-VER-02",),
    "legacy_versions": ("TLS-VER-03",),
    "highest_version": ("TLS-VER-04",),
    "ciphers": ("TLS-CIPH-01",),
    "false_start": ("TLS-CIPH-02",),
    "certificate": ("TLS-CERT-01",),  # TLS-CERT-02 on the frontchannel (see requirements_for)
    "hostname": ("TLS-CERT-03",),
    "mtls": ("TLS-MTLS-01",),
    "info": ("TLS-HDR-01",),
}

TOPIC_TITLES = {
    "connect": "connection",
    "tls12": "TLS 1.2 offered",
    "tls13": "TLS 1.3 offered",
    "legacy_versions": "SSLv3, TLS 1.0 and 1.1 refused",
    "highest_version": "highest common version negotiated",
    "ciphers": "cipher suites, key exchange, forward secrecy",
    "false_start": "TLS False Start",
    "certificate": "server certificate",
    "hostname": "hostname in certificate",
    "mtls": "mutual TLS (client certificate required)",
    "info": "information: compression, renegotiation, resumption, HTTP security headers",
}


def requirements_for(topic: str, channel: str) -> tuple[str, ...]:
    if topic == "certificate":
        return ("TLS-CERT-02",) if channel == "frontchannel" else ("TLS-CERT-01",)
    return TOPICS.get(topic, ())


@dataclass
class Finding:
    topic: str
    status: Status
    code: str  # stable short code, e.g. "version.tls10_accepted", "cert.expired"
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "status": self.status.value,
            "code": self.code,
            "message": self.message,
            "details": self.details,
        }


@dataclass
class TlsReport:
    url: str
    host: str
    port: int
    channel: str
    path: str = "/"
    started: str = ""
    duration_ms: float = 0.0
    connections: int = 0
    #: per version name (SSLv3 … TLSv1.3): accepted / refused / error, with detail
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    negotiated: dict[str, Any] = field(default_factory=dict)
    #: per version name: accepted suites [{name, code, level, forward_secret, weaknesses}]
    suites: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dh: dict[str, Any] | None = None
    certificate: dict[str, Any] | None = None
    chain: list[str] = field(default_factory=list)
    trust: dict[str, Any] = field(default_factory=dict)
    mtls: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # -- findings ---------------------------------------------------------------------------
    def add(self, topic: str, status: Status, code: str, message: str, **details: Any) -> Finding:
        finding = Finding(topic, status, code, message, details)
        self.findings.append(finding)
        return finding

    def topic_findings(self, topic: str) -> list[Finding]:
        """Findings of a topic; connection errors apply to every topic."""
        own = [f for f in self.findings if f.topic == topic]
        if not own:
            own = [f for f in self.findings if f.topic == "connect" and f.status is Status.ERROR]
        return own

    def topic_status(self, topic: str) -> Status | None:
        return worst([f.status for f in self.topic_findings(topic)])

    @property
    def status(self) -> Status:
        return worst([f.status for f in self.findings]) or Status.PASS

    @property
    def topics(self) -> list[str]:
        present = {f.topic for f in self.findings}
        return [t for t in TOPICS if t in present]

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "channel": self.channel,
            "status": self.status.value,
            "started": self.started,
            "duration_ms": round(self.duration_ms, 1),
            "connections": self.connections,
            "topics": {
                t: {
                    "title": TOPIC_TITLES[t],
                    "requirements": list(requirements_for(t, self.channel)),
                    "status": (self.topic_status(t) or Status.SKIP).value,
                }
                for t in self.topics
            },
            "findings": [f.to_dict() for f in self.findings],
            "versions": self.versions,
            "negotiated": self.negotiated,
            "suites": self.suites,
            "groups": self.groups,
            "dh": self.dh,
            "certificate": self.certificate,
            "chain": self.chain,
            "trust": self.trust,
            "mtls": self.mtls,
            "info": self.info,
            "policy": self.policy,
            "notes": self.notes,
        }
