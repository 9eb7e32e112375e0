"""Engine plug-ins: the ``tls.probe`` step kind and the ``tls.*`` checks.

A scenario probes an endpoint once and lets several checks judge the same report::

    - name: token-endpoint-tls
      kind: tls.probe
      endpoint: token            # authorization | token | resource, or url: https://…
      expect:
        - tls.tls12_offered: true
        - tls.ciphers: true
        - tls.mtls: true
          requirements: [TLS-MTLS-01, AS-TOKEN-01]

Each check turns the findings of one topic of the :class:`~validatiestraat.tls.report.TlsReport`
into a Verdict (worst status wins; the reason lists what is wrong, or what was found).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from validatiestraat.engine.plugins import Check, StepError, StepKind, StepOutcome, Verdict, register_check, register_step
from validatiestraat.errors import UserError
from validatiestraat.report.model import Status, worst
from validatiestraat.tls.policy import ENDPOINT_CHANNELS, PARTS, policy_for_target
from validatiestraat.tls.report import TlsReport
from validatiestraat.tls.scan import scan_endpoint

if TYPE_CHECKING:  # pragma: no cover
    from validatiestraat.engine.context import FlowContext

ENABLED = {"type": "boolean", "const": True, "description": "write `true`"}


@register_step
class TlsProbeStep(StepKind):
    name = "tls.probe"
    description = ("Probe one endpoint's TLS: versions, cipher suites, key exchange groups, certificate, "
                   "mutual TLS and informational settings. The subject is a TlsReport.")
    schema = {
        "properties": {
            "endpoint": {"enum": sorted(ENDPOINT_CHANNELS), "description": "which endpoint of the target"},
            "url": {"type": "string", "description": "an https URL instead of a target endpoint"},
            "channel": {"enum": ["frontchannel", "backchannel"],
                        "description": "default: frontchannel for authorization, backchannel for token/resource"},
            "client_certificate": {"enum": ["target", "other", "untrusted", "none"],
                                   "description": "identity for the main handshake (default: target)"},
            "mtls": {"type": "boolean", "description": "test that clients without a valid certificate are refused "
                                                      "(default: on the backchannel)"},
            "parts": {"type": "array", "items": {"enum": list(PARTS)},
                      "description": "limit the probe (default: all)"},
        },
    }

    async def run(self, spec: dict[str, Any], ctx: "FlowContext") -> StepOutcome:
        target = ctx.target
        endpoint = spec.get("endpoint")
        url = spec.get("url")
        if not url:
            if endpoint not in ENDPOINT_CHANNELS:
                raise StepError("tls.probe needs `endpoint: authorization|token|resource` or `url:`")
            url = {"authorization": target.authorization_endpoint, "token": target.token_endpoint,
                   "resource": target.resource_endpoint}[endpoint]
        channel = spec.get("channel") or ENDPOINT_CHANNELS.get(endpoint or "", None)
        if channel is None:
            channel = "frontchannel" if url == target.authorization_endpoint else "backchannel"
        parts = frozenset(spec["parts"]) if spec.get("parts") else None
        try:
            policy = policy_for_target(target, channel, client_certificate=spec.get("client_certificate", "target"),
                                       check_mtls=spec.get("mtls"), parts=parts)
            policy.validate(target.source)
            report = await scan_endpoint(url, policy)
        except UserError as exc:
            raise StepError(f"{exc}: " + "; ".join(p.message for p in exc.problems)) from None
        return StepOutcome(subject=report)


class _TopicCheck(Check):
    """Judges the findings of one report topic."""

    topic: ClassVar[str]
    schema = {"oneOf": [ENABLED, {"type": "object"}]}
    channel: ClassVar[str | None] = None  # the check only makes sense for this channel

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: "FlowContext") -> Verdict:
        report = outcome.subject
        if not isinstance(report, TlsReport):
            return Verdict.errored(f"{self.name} needs a tls.probe step (got {type(report).__name__})")
        if self.channel and report.channel != self.channel:
            return Verdict.errored(f"{self.name} applies to {self.channel} endpoints; {report.url} was probed as "
                                   f"{report.channel}")
        return verdict_for(report, self.topic, self.not_tested(report))

    def not_tested(self, report: TlsReport) -> Verdict:
        return Verdict.skipped(f"{self.topic} was not probed for {report.url}")


def verdict_for(report: TlsReport, topic: str, when_absent: Verdict) -> Verdict:
    findings = report.topic_findings(topic)
    if not findings:
        return when_absent
    status = worst([f.status for f in findings]) or Status.PASS
    if status in (Status.PASS, Status.OMITTED):
        shown = findings
    else:
        shown = [f for f in findings if f.status not in (Status.PASS, Status.OMITTED)]
    reason = f"{report.url}: " + "; ".join(f.message for f in shown)
    details: dict[str, Any] = {"url": report.url, "channel": report.channel,
                               "findings": [f.to_dict() for f in findings]}
    extra = _TOPIC_FACTS.get(topic)
    if extra:
        details.update({k: getattr(report, k) for k in extra})
    return Verdict(status, reason, details)


_TOPIC_FACTS = {
    "tls12": ("versions",),
    "tls13": ("versions",),
    "legacy_versions": ("versions",),
    "highest_version": ("versions", "negotiated"),
    "ciphers": ("suites", "groups", "dh"),
    "certificate": ("certificate", "chain", "trust"),
    "hostname": ("certificate",),
    "mtls": ("mtls",),
    "info": ("info",),
}


@register_check
class Tls12Offered(_TopicCheck):
    name = "tls.tls12_offered"
    topic = "tls12"
    requirements = ("TLS-VER-01",)
    title = "TLS 1.2 is offered"


@register_check
class Tls13Offered(_TopicCheck):
    name = "tls.tls13_offered"
    topic = "tls13"
    requirements = ("TLS-VER-02",)
    title = "TLS 1.3 is offered (warning if absent)"


@register_check
class LegacyVersionsRefused(_TopicCheck):
    name = "tls.legacy_versions_refused"
    topic = "legacy_versions"
    requirements = ("TLS-VER-03",)
    title = "SSLv3, TLS 1.0 and TLS 1.1 are refused"


@register_check
class HighestVersion(_TopicCheck):
    name = "tls.highest_version"
    topic = "highest_version"
    requirements = ("TLS-VER-04",)
    title = "a client offering TLS 1.2 and 1.3 gets the highest version the server supports"


@register_check
class Ciphers(_TopicCheck):
    name = "tls.ciphers"
    topic = "ciphers"
    requirements = ("TLS-CIPH-01",)
    title = "only NCSC 'good' cipher suites, forward secrecy; key exchange groups reported"


@register_check
class FalseStart(_TopicCheck):
    name = "tls.false_start"
    topic = "false_start"
    requirements = ("TLS-CIPH-02",)
    title = "TLS False Start (client behaviour: recorded as not testable from the server side)"

    def not_tested(self, report: TlsReport) -> Verdict:
        return Verdict.omitted("not testable from the server side: TLS False Start is client behaviour "
                               "(core.tls.303)")


@register_check
class BackchannelCertificate(_TopicCheck):
    name = "tls.backchannel_certificate"
    topic = "certificate"
    channel = "backchannel"
    requirements = ("TLS-CERT-01",)
    title = ("server certificate chains to the PKIoverheid Private Root G1 via an allowed issuing CA, is valid and "
             "has a strong key and signature")


@register_check
class FrontchannelCertificate(_TopicCheck):
    name = "tls.frontchannel_certificate"
    topic = "certificate"
    channel = "frontchannel"
    requirements = ("TLS-CERT-02",)
    title = "server certificate is publicly trusted, valid, at least OV, not a wildcard, with a strong key"


@register_check
class Hostname(_TopicCheck):
    name = "tls.hostname"
    topic = "hostname"
    requirements = ("TLS-CERT-03",)
    title = "the certificate's subjectAltName covers the endpoint's host"


@register_check
class MutualTls(_TopicCheck):
    name = "tls.mtls"
    topic = "mtls"
    requirements = ("TLS-MTLS-01",)
    title = "clients without a client certificate, or with one from an untrusted CA, are refused"

    def not_tested(self, report: TlsReport) -> Verdict:
        return Verdict.omitted(f"mutual TLS was not tested on {report.url} ({report.channel}); "
                               "set `mtls: true` on the tls.probe step")


@register_check
class TlsInfo(_TopicCheck):
    name = "tls.info"
    topic = "info"
    requirements = ("TLS-HDR-01",)
    title = "information: compression, renegotiation, resumption, HSTS and other security headers"
