"""The engine plug-ins: the ``tls.probe`` step kind and the ``tls.*`` checks."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from tls_helpers import TEST_ISSUER

from validatiestraat.engine.plugins import CHECKS, STEP_KINDS, StepError, load_plugins
from validatiestraat.report.model import Status
from validatiestraat.target import target_from_dict
from validatiestraat.tls.faults import TLS_FAULTS, server_context

load_plugins()

CHECK_REQUIREMENTS = {
    "tls.tls12_offered": ("TLS-VER-01",),
    "tls.tls13_offered": ("TLS-VER-02",),
    "tls.legacy_versions_refused": ("TLS-VER-03",),
    "tls.highest_version": ("TLS-VER-04",),
    "tls.ciphers": ("TLS-CIPH-01",),
    "tls.false_start": ("TLS-CIPH-02",),
    "tls.backchannel_certificate": ("TLS-CERT-01",),
    "tls.frontchannel_certificate": ("TLS-CERT-02",),
    "tls.hostname": ("TLS-CERT-03",),
    "tls.mtls": ("TLS-MTLS-01",),
    "tls.info": ("TLS-HDR-01",),
}
FRONT_CHECKS = [c for c in CHECK_REQUIREMENTS if c not in ("tls.backchannel_certificate", "tls.mtls")]
BACK_CHECKS = [c for c in CHECK_REQUIREMENTS if c != "tls.frontchannel_certificate"]


def _ctx(pki, front_port: int, back_port: int):
    target = target_from_dict({
        "aanbieder": "test",
        "endpoints": {"authorization": f"https://localhost:{front_port}/oauth/authorize",
                      "token": f"https://localhost:{back_port}/oauth/token",
                      "resource": f"https://localhost:{back_port}/fhir"},
        "client": {"client_id": "pgo.test", "redirect_uri": "https://pgo.test/cb",
                   "certificate": str(pki.client.cert_path), "key": str(pki.client.key_path)},
        "trust": [str(pki.ca_path)],
        "options": {"tls_issuing_cas": [TEST_ISSUER], "tls_frontchannel_trust": "target", "tls_timeout": 2,
                    "untrusted_client_certificate": str(pki.untrusted_client.cert_path),
                    "untrusted_client_key": str(pki.untrusted_client.key_path)},
    }, pki.directory)
    return SimpleNamespace(target=target)


def _run(step_spec, ctx, check_names):
    outcome = asyncio.run(STEP_KINDS["tls.probe"].run(step_spec, ctx))
    return outcome, {name: CHECKS[name].evaluate(True, outcome, ctx) for name in check_names}


def test_plugins_are_registered_with_requirements():
    assert "tls.probe" in STEP_KINDS
    for name, reqs in CHECK_REQUIREMENTS.items():
        assert CHECKS[name].requirements == reqs
        assert CHECKS[name].title


def test_requirement_ids_exist_in_the_catalogue():
    from validatiestraat.requirements import catalogue

    cat = catalogue()
    for reqs in CHECK_REQUIREMENTS.values():
        assert set(reqs) <= set(cat)
    for fault in TLS_FAULTS.values():
        assert set(fault.breaks) <= set(cat), fault.name


def test_good_target_passes_every_check(hub, pki):
    front = hub.serve(server_context(pki, client_auth="none"), headers={"Strict-Transport-Security": "max-age=600"})
    back = hub.serve(server_context(pki))
    ctx = _ctx(pki, front, back)
    _, verdicts = _run({"endpoint": "authorization"}, ctx, FRONT_CHECKS)
    assert {n: v.status for n, v in verdicts.items()} == {
        n: (Status.OMITTED if n == "tls.false_start" else Status.PASS) for n in FRONT_CHECKS}
    json.dumps([v.details for v in verdicts.values()])  # evidence must serialise
    for endpoint in ("token", "resource"):
        outcome, verdicts = _run({"endpoint": endpoint}, ctx, BACK_CHECKS)
        assert outcome.subject.channel == "backchannel"
        bad = {n: v.reason for n, v in verdicts.items() if v.status not in (Status.PASS, Status.OMITTED)}
        assert bad == {}
        assert "refused" in verdicts["tls.mtls"].reason


@pytest.mark.parametrize("fault, endpoint, check, status, fragment", [
    ("tls-allow-tls10", "token", "tls.legacy_versions_refused", Status.FAIL, "TLS 1.0 is accepted"),
    ("tls-no-tls13", "resource", "tls.tls13_offered", Status.WARNING, "TLS 1.3 is not offered"),
    ("tls-cbc-suite", "token", "tls.ciphers", Status.FAIL, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    ("tls-no-forward-secrecy", "resource", "tls.ciphers", Status.FAIL, "without forward secrecy"),
    ("tls-expired-certificate", "token", "tls.backchannel_certificate", Status.FAIL, "expired on"),
    ("tls-expired-certificate", "authorization", "tls.frontchannel_certificate", Status.FAIL, "expired on"),
    ("tls-wrong-host-certificate", "authorization", "tls.hostname", Status.FAIL, "wrong host"),
    ("tls-wildcard-certificate", "authorization", "tls.frontchannel_certificate", Status.FAIL, "wildcard"),
    ("tls-no-client-auth", "token", "tls.mtls", Status.FAIL, "without a client certificate is served"),
])
def test_faults_give_failing_verdicts(hub, pki, fault, endpoint, check, status, fragment):
    port = hub.serve(server_context(pki, [fault]))
    ctx = _ctx(pki, port, port)
    _, verdicts = _run({"endpoint": endpoint}, ctx, [check])
    verdict = verdicts[check]
    assert verdict.status is status
    assert fragment in verdict.reason
    assert verdict.reason.startswith(f"https://localhost:{port}/")


def test_wrong_channel_check_and_missing_topics(hub, pki):
    port = hub.serve(server_context(pki))
    ctx = _ctx(pki, port, port)
    outcome, verdicts = _run({"endpoint": "token", "parts": ["versions"]}, ctx,
                             ["tls.frontchannel_certificate", "tls.ciphers", "tls.mtls", "tls.false_start"])
    assert verdicts["tls.frontchannel_certificate"].status is Status.ERROR
    assert "applies to frontchannel endpoints" in verdicts["tls.frontchannel_certificate"].reason
    assert verdicts["tls.ciphers"].status is Status.SKIP
    assert verdicts["tls.mtls"].status is Status.OMITTED
    assert verdicts["tls.false_start"].status is Status.OMITTED


def test_url_and_channel_override_and_unreachable_endpoint(pki):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = _ctx(pki, port, port)
    outcome, verdicts = _run({"url": f"https://127.0.0.1:{port}/x", "channel": "frontchannel"}, ctx,
                             ["tls.tls12_offered", "tls.frontchannel_certificate"])
    assert outcome.subject.channel == "frontchannel"
    assert all(v.status is Status.ERROR and "refused" in v.reason for v in verdicts.values())


def test_step_without_endpoint_or_url_is_a_step_error(pki):
    ctx = _ctx(pki, 1, 1)
    with pytest.raises(StepError, match="needs `endpoint"):
        asyncio.run(STEP_KINDS["tls.probe"].run({}, ctx))


def test_check_on_a_non_tls_subject_errors(pki):
    from validatiestraat.engine.plugins import StepOutcome

    verdict = CHECKS["tls.ciphers"].evaluate(True, StepOutcome(subject="not a report"), _ctx(pki, 1, 1))
    assert verdict.status is Status.ERROR and "needs a tls.probe step" in verdict.reason
