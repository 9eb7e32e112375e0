"""Helpers for the TLS tests (imported as ``tls_helpers``)."""

from __future__ import annotations

import asyncio

from validatiestraat.reference.pki import TestPKI
from validatiestraat.tls.policy import TlsPolicy
from validatiestraat.tls.report import TlsReport
from validatiestraat.tls.scan import scan_endpoint

TEST_ISSUER = "validatiestraat Test Root CA"


def make_policy(pki: TestPKI, channel: str = "backchannel", **kw) -> TlsPolicy:
    base = dict(
        channel=channel,
        trust=[pki.ca_path],
        issuing_cas=[TEST_ISSUER],
        client_cert=pki.client.cert_path,
        client_key=pki.client.key_path,
        untrusted_cert=pki.untrusted_client.cert_path,
        untrusted_key=pki.untrusted_client.key_path,
        timeout=2.0,
        total_timeout=20.0,
    )
    base.update(kw)
    return TlsPolicy(**base)


def scan(url: str, policy: TlsPolicy) -> TlsReport:
    return asyncio.run(scan_endpoint(url, policy))


def codes(report: TlsReport, *statuses: str) -> set[str]:
    return {f.code for f in report.findings if not statuses or f.status.value in statuses}


def messages(report: TlsReport, topic: str) -> str:
    return " | ".join(f.message for f in report.topic_findings(topic))
