"""Issue 9's checks on hand-built subjects: each passes on conforming evidence and fails (or stays
undecided) on the rest. The fault matrix proves them end to end; these pin the edge cases."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from validatiestraat.engine.context import HttpSubject, RunState
from validatiestraat.engine.plugins import CHECKS, StepOutcome, load_plugins
from validatiestraat.oauth.dialect import Dialect
from validatiestraat.oauth.sample import Sample
from validatiestraat.oauth.steps import AuthorizeResult
from validatiestraat.report.model import Status
from validatiestraat.rs.probe import FhirProbe, Reads

load_plugins()


class Ctx:
    def __init__(self):
        self.run = RunState()
        self.vars = {}
        self.judging = ["AS-AUTHZ-01"]

    class target:  # noqa: N801 - a stand-in
        fhir_version = "stu3"
        aanbieder = "zorg"

        @staticmethod
        def option(name, default=None):
            return default


def http(status=200, json=None, headers=None, error=None, url="https://dva.test/fhir/Patient", req=None,
         exchange="x1", error_code=None, client_certificate=True):
    response = None if error else httpx.Response(status, json=json, headers=headers or {})
    return HttpSubject(exchange, "GET", url, req or {}, response, error, 5.0, error_code=error_code,
                       client_certificate=client_certificate)


def authorize(state="s1", redirect=None, first=None, config_error=None):
    return AuthorizeResult(request_url="https://dva.test/authorize?x=1", sent={"state": state, "client_id": "pgo"},
                           redirect_uri="https://pgo.test/cb",
                           redirect_url="https://pgo.test/cb?..." if redirect is not None else None,
                           redirect_params=redirect, http=first, first=first, config_error=config_error)


def judge(check, arg, subject, ctx=None, **facts):
    return CHECKS[check].evaluate(arg, StepOutcome(subject=subject, exchanges=["x1"], facts=facts), ctx or Ctx())


# -- oauth.redirect_wellformed (AS-AUTHZ-01, every authorization request) ------------------------

@pytest.mark.parametrize("params,expected", [
    ({"code": "c", "state": "s1"}, Status.PASS),
    ({"error": "invalid_scope", "state": "s1"}, Status.PASS),
    ({"error": "invalid_scope", "state": "xyz"}, Status.FAIL),  # hard-coded state
    ({"error": "access_denied"}, Status.FAIL),  # no state at all
    ({"error": "401", "state": "s1"}, Status.FAIL),  # not an RFC 6749 code
    ({"code": "c", "state": "s1 "}, Status.FAIL),
])
def test_redirect_wellformed(params, expected):
    assert judge("oauth.redirect_wellformed", True, authorize(redirect=params)).status is expected


def test_redirect_wellformed_has_nothing_to_inspect_without_a_redirect():
    verdict = judge("oauth.redirect_wellformed", True, authorize(first=http(400)))
    assert verdict.status is Status.SKIP


def test_a_login_configuration_error_is_an_error_not_a_failure():
    for check in ("oauth.redirected", "oauth.redirect_wellformed", "oauth.state_echoed"):
        verdict = judge(check, True, authorize(first=http(200), config_error="login could not be completed: x"))
        assert verdict.status is Status.ERROR and verdict.reason.startswith("login could not be completed")


def test_a_frontchannel_that_demands_a_client_certificate_fails_authz_01_and_blocks_the_rest():
    refused = http(error="the server demanded a client certificate", error_code="client_certificate_required",
                   client_certificate=False)
    subject = authorize(first=refused)
    assert judge("oauth.redirected", True, subject).status is Status.FAIL
    blocked = judge("oauth.not_redirected", True, subject)
    assert blocked.status is Status.BLOCKED and blocked.blocked_by == ["AS-AUTHZ-01"]
    other = Ctx()
    other.judging = ["AS-AUTHZ-07"]  # another requirement's redirect check is blocked, not failed
    assert judge("oauth.redirected", True, subject, other).status is Status.BLOCKED
    # the same transport failure with our client certificate is not the frontchannel rule
    assert judge("oauth.redirected", True, authorize(first=http(error="x", error_code="client_certificate_required"))
                 ).status is Status.ERROR


# -- oauth.state_roundtrip (AS-AUTHZ-09) ---------------------------------------------------------

@pytest.mark.parametrize("subject,expected", [
    (authorize("a&b", redirect={"code": "c", "state": "a&b"}), Status.PASS),
    (authorize("a&b", redirect={"code": "c", "state": "a"}), Status.FAIL),  # not URL-encoded
    (authorize("a&b", redirect={"error": "invalid_request", "state": "a&b"}), Status.PASS),  # clean refusal
    (authorize("a&b", first=http(400)), Status.PASS),
    (authorize("a&b", first=http(500)), Status.FAIL),
    (authorize("a&b", first=http(error="timeout", error_code="timeout")), Status.ERROR),
])
def test_state_roundtrip(subject, expected):
    assert judge("oauth.state_roundtrip", True, subject).status is expected


# -- oauth.form_encoding (AS-TOKEN-02) -----------------------------------------------------------

def test_form_encoding():
    ok = http(200, json={"access_token": "t"}, exchange="x2")
    assert judge("oauth.form_encoding", True, ok).status is Status.PASS
    refused = http(400, json={"error": "invalid_request"}, exchange="x1")
    verdict = judge("oauth.form_encoding", True, ok, form_attempt=refused)
    assert verdict.status is Status.FAIL and "form body refused with HTTP 400 error=invalid_request" in verdict.reason
    assert verdict.evidence == ["x1", "x2"]
    ctx = Ctx()
    ctx.run.facts["token_dialect"] = Dialect("json", "the endpoint reads only JSON bodies", ["x9"])
    verdict = judge("oauth.form_encoding", True, ok, ctx)
    assert verdict.status is Status.FAIL and "x9" in verdict.evidence
    # a token request that failed for another reason says nothing about the encoding
    assert judge("oauth.form_encoding", True, http(400, json={"error": "invalid_grant"})).status is Status.SKIP


# -- oauth.unique (AS-TOKEN-13) -------------------------------------------------------------------

def test_unique_accepts_random_uuids_and_is_blocked_without_flows():
    import uuid

    sample = Sample(flows=3)
    sample.values = {"code": [str(uuid.uuid4()) for _ in range(3)], "access_token": [str(uuid.uuid4()) for _ in range(3)]}
    assert judge("oauth.unique", {"min_bits": 112}, sample).status is Status.PASS
    sample.values["access_token"][1] = sample.values["access_token"][0]
    assert judge("oauth.unique", {"min_bits": 112}, sample).status is Status.FAIL
    none = Sample(flows=0, errors=["POST token -> HTTP 400"], blocked_by=["AS-TOKEN-02"])
    verdict = judge("oauth.unique", {"min_bits": 112}, none)
    assert verdict.status is Status.BLOCKED and verdict.blocked_by == ["AS-TOKEN-02"]


# -- http.refused and the probe's classification ------------------------------------------------

@pytest.mark.parametrize("subject,expected", [
    (http(200, json={"resourceType": "Bundle", "type": "searchset", "entry": [{}, {}]}), Status.FAIL),
    (http(401, headers={"WWW-Authenticate": "Bearer"}), Status.PASS),
    (http(403), Status.PASS),
    (http(400, headers={"WWW-Authenticate": 'Bearer error="invalid_request"'}), Status.PASS),
    (http(404, json={"resourceType": "OperationOutcome"}), Status.ERROR),  # a 404 proves nothing
    (http(400), Status.ERROR),
])
def test_refused_needs_a_real_refusal(subject, expected):
    assert judge("http.refused", True, subject).status is expected


def test_the_strongest_evidence_is_in_the_reason():
    served = http(200, json={"resourceType": "Bundle", "type": "searchset", "entry": [{}, {}, {}]})
    verdict = judge("bearer.challenge", {"status": 401}, served)
    assert "HTTP 200 with a searchset of 3 entries and no Authorization header" in verdict.reason


@pytest.mark.parametrize("subject,identity,decisive", [
    (http(200), "target", True),
    (http(401), "target", True),
    (http(404), "target", False),
    (http(400), "target", False),
    (http(500), "target", False),
    (http(error="reset"), "target", False),
    (http(error="alert certificate required"), "none", True),
    (http(400), "none", True),
])
def test_probe_classification(subject, identity, decisive):
    assert FhirProbe._classify(subject, identity).startswith("decisive") is decisive


def test_an_inconclusive_probe_is_an_error_for_its_checks():
    outcome = StepOutcome(subject=None, error="inconclusive: no probe got a decisive answer")
    verdict = CHECKS["bearer.challenge"].evaluate({"status": 401}, outcome, Ctx())
    assert verdict.status is Status.ERROR


# -- fhir.no_bsn on direct reads (RS-FHIR-07) -----------------------------------------------------

def test_no_bsn_on_reads():
    clean = http(200, json={"resourceType": "Patient", "id": "p1"}, exchange="x1")
    bsn = http(200, json={"resourceType": "Patient", "id": "p2", "identifier": [
        {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999990019"}]}, exchange="x2")
    assert judge("fhir.no_bsn", True, Reads([clean])).status is Status.PASS
    verdict = judge("fhir.no_bsn", True, Reads([clean, bsn]))
    assert verdict.status is Status.FAIL and verdict.evidence == ["x2"]


def test_run_state_lock_serialises_a_fact():
    state = RunState()
    calls = []

    async def decide():
        async with state.lock:
            if "x" not in state.facts:
                calls.append(1)
                await asyncio.sleep(0.01)
                state.facts["x"] = True

    async def main():
        await asyncio.gather(*(decide() for _ in range(5)))

    asyncio.run(main())
    assert calls == [1]
