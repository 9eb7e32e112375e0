"""Checks on synthetic responses: each check passes on a conforming answer and fails on others.

(Most checks are also proven against the fault-switched reference DVA in tests/e2e; these cover
the optional extensions the reference DVA does not offer, and edge cases.)
"""

from __future__ import annotations

import httpx
import pytest

from validatiestraat.engine.context import HttpSubject
from validatiestraat.engine.plugins import CHECKS, StepOutcome, load_plugins
from validatiestraat.report.model import Status

load_plugins()


class Ctx:
    class target:  # noqa: N801 - a stand-in
        fhir_version = "stu3"
        aanbieder = "zorg"

        @staticmethod
        def option(name, default=None):
            return default


def outcome(status=200, json=None, headers=None, error=None, request_headers=None, url="https://dva.test/fhir/Patient"):
    response = None if error else httpx.Response(status, json=json, headers=headers or {})
    return StepOutcome(subject=HttpSubject("x1", "GET", url, request_headers or {}, response, error, 5.0),
                       exchanges=["x1"])


def run(check: str, arg, out) -> Status:
    return CHECKS[check].evaluate(arg, out, Ctx()).status


def bundle(entries, **extra):
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
            "link": [{"relation": "self", "url": "https://dva.test/fhir/Patient"}], "entry": entries, **extra}


PATIENT = {"fullUrl": "https://dva.test/fhir/Patient/p1", "search": {"mode": "match"},
           "resource": {"resourceType": "Patient", "id": "p1", "meta": {"profile": ["http://x"]},
                        "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.4.6.99", "value": "42"}]}}


def test_subscription_scope():
    ok = outcome(json={"access_token": "t", "token_type": "Bearer", "scope": "subscribe~30/zorg~48"})
    assert run("oauth.subscription_scope", {"max_days": 30}, ok) is Status.PASS
    assert run("oauth.subscription_scope", {"max_days": 7}, ok) is Status.FAIL
    none = outcome(json={"access_token": "t", "token_type": "Bearer", "scope": "zorg~48"})
    assert run("oauth.subscription_scope", {"max_days": 30}, none) is Status.FAIL


@pytest.mark.parametrize("out,expected", [
    (outcome(error="ConnectError: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] alert certificate required"), Status.PASS),
    (outcome(error="ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), Status.ERROR),
    (outcome(401, json={"error": "invalid_client"}), Status.PASS),
    (outcome(400, json={"error": "invalid_grant"}), Status.FAIL),
    (outcome(200, json={"access_token": "t"}), Status.FAIL),
    (outcome(200, json=bundle([PATIENT])), Status.FAIL),
])
def test_mtls_refused(out, expected):
    assert run("mtls.refused", True, out) is expected


def test_search_bundle_rules():
    assert run("fhir.search_bundle", True, outcome(json=bundle([PATIENT]))) is Status.PASS
    assert run("fhir.search_bundle", True, outcome(json=bundle([PATIENT], total=5))) is Status.FAIL
    assert run("fhir.search_bundle", True, outcome(json=bundle([PATIENT], link=[]))) is Status.FAIL
    wrong = dict(PATIENT, fullUrl="https://dva.test/fhir/Patient/other")
    assert run("fhir.search_bundle", True, outcome(json=bundle([wrong]))) is Status.FAIL


def test_no_bsn_masked_and_unmasked():
    bsn = {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999911120"}
    masked = {"system": "http://fhir.nl/fhir/NamingSystem/bsn",
              "_value": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                        "valueCode": "masked"}]}}
    with_bsn = dict(PATIENT, resource=dict(PATIENT["resource"], identifier=[bsn]))
    with_mask = dict(PATIENT, resource=dict(PATIENT["resource"], identifier=[masked]))
    assert run("fhir.no_bsn", True, outcome(json=bundle([with_bsn]))) is Status.FAIL
    assert run("fhir.no_bsn", True, outcome(json=bundle([with_mask]))) is Status.PASS
    assert run("fhir.no_bsn", True, outcome(json=bundle([PATIENT]), url="https://dva.test/fhir/Patient?patient=1")) is Status.FAIL


def test_content_rules():
    assert run("fhir.content_rules", True, outcome(json=bundle([PATIENT]))) is Status.PASS
    coding = dict(PATIENT, resource=dict(PATIENT["resource"], maritalStatus={"coding": [{"code": "M"}]}))
    assert run("fhir.content_rules", True, outcome(json=bundle([coding]))) is Status.FAIL
    ref = dict(PATIENT, resource=dict(PATIENT["resource"], generalPractitioner=[{"reference": "Practitioner/1"}]))
    assert run("fhir.content_rules", True, outcome(json=bundle([ref]))) is Status.FAIL


def test_bearer_challenge_and_token_error():
    assert run("bearer.challenge", {"status": 401, "error": "invalid_token"},
               outcome(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})) is Status.PASS
    assert run("bearer.challenge", {"status": 401, "error": "invalid_token"},
               outcome(401, headers={"WWW-Authenticate": 'Bearer realm="x"'})) is Status.FAIL
    assert run("bearer.challenge", {"status": 401}, outcome(200, json=bundle([PATIENT]))) is Status.FAIL
    assert run("oauth.token_error", {"error": "invalid_grant"}, outcome(400, json={"error": "invalid_grant"})) is Status.PASS
    assert run("oauth.token_error", {"error": "invalid_grant"}, outcome(400, json={"error": "invalid_request"})) is Status.FAIL
    assert run("oauth.token_error", {"error": "invalid_grant"}, outcome(400, headers={"content-type": "text/plain"})) is Status.FAIL
    assert run("oauth.token_error", {"error": "invalid_grant"}, outcome(200, json={"access_token": "t"})) is Status.FAIL


def test_unreachable_server_is_an_error_not_a_failure():
    dead = outcome(error="ConnectTimeout after 5.0 s")
    for name, arg in (("status", 200), ("fhir.searchset", True), ("oauth.token_response", True),
                      ("bearer.challenge", {"status": 401}), ("fhir.no_bsn", True)):
        assert run(name, arg, dead) is Status.ERROR, name
