"""The PGO harness over real HTTPS and mutual TLS on 127.0.0.1: what it records, its scripted
answers, its list publications, its counters, the recorder, stop() and ``serve --role pgo``."""

from __future__ import annotations

import asyncio
import io
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from validatiestraat.cli import main
from validatiestraat.engine.context import Recorder
from validatiestraat.lists.checks import CheckOptions, check_lists, load_document, validate_schema
from validatiestraat.lists.resolve import Whitelist, resolve_endpoints
from validatiestraat.pgo.harness import PGOHarness, classify
from validatiestraat.pgo.model import BEHAVIOURS, LIST_MODES
from validatiestraat.reference import pki as testpki
from validatiestraat.report.redact import Redactor

from .conftest import CLIENT_ID, PATIENT, REDIRECT_URI, TIMEOUT, Pgo, location_params

LOOPBACK = CheckOptions(allow_loopback=True)
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- the whole flow
def test_a_flow_by_hand_is_recorded(harness: PGOHarness, pgo: Pgo) -> None:
    since = harness.mark()
    # the ZAL, as a PGO reads it: endpoints of gegevensdienst 48 under their interfaceversie
    zal = pgo.browser.get(harness.urls["zal"])
    assert zal.status_code == 200 and zal.headers["content-type"].startswith("application/xml")
    found = resolve_endpoints(zal.content, harness.urls["aanbieder"], "48")
    assert found["interfaceversie"] == harness.urls["interfaceversie"] == "2.2.4"
    assert (found["authorization"], found["token"], found["resource"]) == (
        harness.urls["authorization"], harness.urls["token"], harness.urls["resource"])
    # authorize: a redirect at once, with the exact state (percent-encoded on the way back)
    state = "st/ate+&=é x%41-" + "z" * 20
    response = pgo.authorize(state)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    assert " " not in location and "é" not in location
    params = location_params(response)
    assert params["state"] == state and params["code"]
    # token over mTLS, form-encoded
    token = pgo.token(params["code"])
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] and body["refresh_token"] and body["access_token"]
    # a catalogued FHIR search with the bearer token
    fhir = pgo.fhir(body["access_token"])
    assert fhir.status_code == 200 and fhir.json()["resourceType"] == "Bundle"

    seen = harness.seen(since)
    assert [s.endpoint for s in seen] == ["lists", "authorize", "token", "resource"]
    assert [s.index for s in seen] == list(range(since, since + 4))
    assert all(s.time > 0 for s in seen) and [s.time for s in seen] == sorted(s.time for s in seen)
    lists, authorize, tok, res = seen
    assert lists.path == "/MedMij_Zorgaanbiederslijst.xml" and lists.raw_query == "api=2"
    assert authorize.method == "GET" and authorize.param("state") == state
    assert authorize.param("client_id") == CLIENT_ID and authorize.status == 302
    assert authorize.behaviour == "approve" and authorize.client_certificate == frozenset()
    assert authorize.host.startswith("localhost:")
    assert tok.method == "POST" and tok.path == "/oauth/token"
    assert tok.form is not None and tok.form_value("grant_type") == "authorization_code"
    assert tok.form_value("code") == params["code"] and tok.form_value("redirect_uri") == REDIRECT_URI
    assert tok.header("content-type") == "application/x-www-form-urlencoded"
    assert tok.header("MedMij-Request-ID")
    assert tok.client_certificate == frozenset({CLIENT_ID}) and tok.status == 200 and tok.behaviour == "ok"
    assert json.loads(tok.response_body)["access_token"] == body["access_token"]
    assert res.path == "/fhir/Patient" and res.param("_include") == "Patient:general-practitioner"
    assert res.header("Authorization") == f"Bearer {body['access_token']}"
    assert res.client_certificate == frozenset({CLIENT_ID}) and res.status == 200 and res.behaviour == "ok"
    assert dict(res.response_headers)["Content-Type"].startswith("application/fhir+json")
    assert res.describe().startswith("GET /fhir/Patient?_include=") and res.describe().endswith("HTTP 200")
    assert seen[0].exchange_id == ""  # no recorder attached

    # codes and tokens the harness handed out, and how often they came back
    assert params["code"] in [v for v, _ in harness.issued("code")]
    assert body["access_token"] in [v for v, _ in harness.issued("access_token")]
    assert body["refresh_token"] in [v for v, _ in harness.issued("refresh_token")]
    assert harness.presentations(params["code"]) == 1
    refreshed = pgo.refresh(body["refresh_token"])
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != body["refresh_token"]
    assert harness.presentations(body["refresh_token"]) == 1
    assert harness.presentations("never-issued") == 0
    with pytest.raises(ValueError):
        harness.issued("id_token")


def test_seen_filters_and_classification(harness: PGOHarness, pgo: Pgo) -> None:
    since = harness.mark()
    pgo.browser.get(harness.urls["gnl"])
    pgo.browser.get(harness.urls["frontchannel"] + "/nothing-here")
    pgo.back.get(harness.urls["other_resource"] + "/Patient")
    assert [s.endpoint for s in harness.seen(since)] == ["lists", "other", "other"]
    assert len(harness.seen(since, "lists")) == 1 and harness.seen(since, "token") == []
    assert harness.seen(since)[2].status == 404
    assert harness.mark() == since + 3
    assert classify("front", "/oauth/authorize") == "authorize"
    assert classify("back", "/fhir") == "resource" and classify("back", "/fhirx") == "other"
    assert classify("front", "/oauth/token") == "other"


def test_a_request_refused_before_the_application_is_recorded(harness: PGOHarness, pgo: Pgo) -> None:
    since = harness.mark()

    def chunks():  # a chunked body (no Content-Length)
        yield b"grant_type=authorization_code&code=x"

    response = pgo.back.post(harness.urls["token"], content=chunks(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 411
    [seen] = harness.seen(since)
    assert seen.endpoint == "token" and seen.status == 411 and seen.header("Transfer-Encoding") == "chunked"
    assert seen.client_certificate == frozenset({CLIENT_ID})


# --------------------------------------------------------------------------- authorize
def test_authorize_behaviours(harness: PGOHarness, pgo: Pgo) -> None:
    sent = "state-abcdefghijklmnop"
    harness.answer("authorize", "deny")
    params = location_params(pgo.authorize(sent))
    assert params == {"error": "access_denied", "error_description": params["error_description"], "state": sent}

    harness.answer("authorize", "server_error")
    params = location_params(pgo.authorize(sent))
    assert params["error"] == "server_error" and params["state"] == sent and "code" not in params

    harness.answer("authorize", "tamper_state")
    params = location_params(pgo.authorize(sent))
    assert params["code"] and params["state"] != sent and params["state"][:-1] == sent[:-1]
    assert len(params["state"]) == len(sent)

    harness.answer("authorize", "unknown_state")
    params = location_params(pgo.authorize(sent))
    assert params["code"] and params["state"] != sent and sent not in params["state"]

    # replay: the state of the previous flow answered approve, with a fresh code that works
    approved = location_params(pgo.authorize("state-first-approved-0001"))
    harness.answer("authorize", "replay_state")
    since = harness.mark()
    replayed = location_params(pgo.authorize("state-second-flow-000002"))
    assert replayed["state"] == "state-first-approved-0001" and replayed["code"] != approved["code"]
    assert pgo.token(replayed["code"]).status_code == 200
    assert harness.seen(since, "authorize")[0].behaviour == "replay_state"

    # each was consumed by one request: the next is approved again
    params = location_params(pgo.authorize(sent))
    assert params["state"] == sent and params["code"]
    assert [s.behaviour for s in harness.seen(since, "authorize")] == ["replay_state", "approve"]


def test_replay_without_a_previous_flow_sends_an_unknown_state(fresh_dir: Path) -> None:
    with PGOHarness(fresh_dir, CLIENT_ID, REDIRECT_URI) as harness:
        pgo = Pgo(harness)
        try:
            harness.answer("authorize", "replay_state")
            params = location_params(pgo.authorize("state-only-flow-0000001"))
            assert params["code"] and params["state"] != "state-only-flow-0000001"
            assert harness.seen(0, "authorize")[0].behaviour == "unknown_state"
        finally:
            pgo.close()


def test_persistent_answers_last_until_reset(harness: PGOHarness, pgo: Pgo) -> None:
    harness.answer("authorize", "deny", count=None)
    for _ in range(3):
        assert location_params(pgo.authorize())["error"] == "access_denied"
    harness.reset()
    assert "code" in location_params(pgo.authorize())
    harness.answer("authorize", "deny", count=2)
    assert [location_params(pgo.authorize()).get("error") for _ in range(3)] == ["access_denied", "access_denied",
                                                                                 None]
    harness.answer("authorize", "deny", count=None)
    harness.answer("authorize", "approve")  # the default clears the script
    assert "code" in location_params(pgo.authorize())


def test_invalid_authorization_requests_are_judged_as_the_reference_dva_does(harness: PGOHarness, pgo: Pgo) -> None:
    harness.answer("authorize", "deny")
    since = harness.mark()
    unknown = pgo.authorize(client_id="unknown.example.nl")
    assert unknown.status_code == 400 and "location" not in unknown.headers
    foreign = pgo.authorize(redirect_uri="https://evil.example.nl/callback")
    assert foreign.status_code == 400 and "location" not in foreign.headers
    bad_scope = pgo.authorize(scope="anderezorgaanbieder")
    assert bad_scope.status_code == 302 and location_params(bad_scope)["error"] == "invalid_scope"
    assert location_params(bad_scope)["state"] == "state-0123456789abcdef"
    # another path on the client's host passes the reference DVA's rules
    other_path = pgo.authorize(redirect_uri="https://pgo.example.nl/elsewhere")
    assert other_path.status_code == 302
    # none of these took the scripted answer: the first valid flow did
    assert [s.behaviour for s in harness.seen(since, "authorize")] == ["", "", "", "deny"]
    assert location_params(other_path)["error"] == "access_denied"


# --------------------------------------------------------------------------- token
def test_token_server_error_keeps_the_code_and_counts_presentations(harness: PGOHarness, pgo: Pgo) -> None:
    code = pgo.code()
    harness.answer("token", "server_error")
    failed = pgo.token(code)
    assert failed.status_code == 500 and failed.json()["error"] == "server_error"
    assert harness.presentations(code) == 1
    again = pgo.token(code)  # the code was not consumed: a PGO that retries gets tokens (and is counted)
    assert again.status_code == 200
    assert harness.presentations(code) == 2
    third = pgo.token(code)  # a real reuse now
    assert third.status_code == 400 and third.json()["error"] == "invalid_grant"
    assert harness.presentations(code) == 3
    assert [s.behaviour for s in harness.seen(harness.mark() - 3, "token")] == ["server_error", "ok", "ok"]


def test_token_without_refresh_token_or_scope(harness: PGOHarness, pgo: Pgo) -> None:
    refresh_before = len(harness.issued("refresh_token"))
    harness.answer("token", "no_refresh_token")
    body = pgo.token(pgo.code()).json()
    assert "refresh_token" not in body and body["access_token"] and body["scope"]
    assert len(harness.issued("refresh_token")) == refresh_before
    assert pgo.fhir(body["access_token"]).status_code == 200

    harness.answer("token", "no_scope")
    body = pgo.token(pgo.code()).json()
    assert "scope" not in body and body["refresh_token"]
    assert len(harness.issued("refresh_token")) == refresh_before + 1


def test_short_lived_tokens_expire_soon(harness: PGOHarness, pgo: Pgo) -> None:
    from validatiestraat.pgo.harness import SHORT_LIFETIME

    harness.answer("token", "short_lived")
    body = pgo.token(pgo.code()).json()
    issued_at = time.monotonic()
    assert body["expires_in"] == SHORT_LIFETIME
    fresh = pgo.fhir(body["access_token"])
    if time.monotonic() - issued_at < SHORT_LIFETIME - 0.2:  # (a loaded machine may take longer to ask)
        assert fresh.status_code == 200
    time.sleep(max(0.0, SHORT_LIFETIME + 0.3 - (time.monotonic() - issued_at)))
    late = pgo.fhir(body["access_token"])
    assert late.status_code == 401 and 'error="invalid_token"' in late.headers["www-authenticate"]
    # the refresh token still works, and the next token lives as usual
    assert pgo.refresh(body["refresh_token"]).json()["expires_in"] == 900


# --------------------------------------------------------------------------- resource
def test_resource_invalid_token(harness: PGOHarness, pgo: Pgo) -> None:
    token = pgo.access_token()
    harness.answer("resource", "invalid_token")
    refused = pgo.back.get(harness.urls["resource"] + PATIENT, headers={
        "Authorization": f"Bearer {token}", "X-Correlation-ID": "6f1c1a62-8f7e-4e6b-9a8c-000000000009"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert refused.headers["x-correlation-id"] == "6f1c1a62-8f7e-4e6b-9a8c-000000000009"
    assert pgo.fhir(token).status_code == 200  # consumed: the same token is good again
    seen = harness.seen(harness.mark() - 2, "resource")
    assert [(s.status, s.behaviour) for s in seen] == [(401, "invalid_token"), (200, "ok")]


def test_counted_answers_are_thread_safe(harness: PGOHarness, pgo: Pgo) -> None:
    token = pgo.access_token()
    harness.answer("resource", "invalid_token", count=5)
    since = harness.mark()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: pgo.fhir(token).status_code, range(20)))
    assert sorted(statuses) == [200] * 15 + [401] * 5
    seen = harness.seen(since, "resource")
    assert len(seen) == 20 and [s.index for s in seen] == sorted({s.index for s in seen})
    assert sum(s.behaviour == "invalid_token" for s in seen) == 5


def test_answer_refuses_unknown_endpoints_behaviours_and_counts(harness: PGOHarness) -> None:
    with pytest.raises(ValueError, match="lists"):
        harness.answer("lists", "ok")
    with pytest.raises(ValueError, match="known: ok, server_error"):
        harness.answer("token", "deny")
    with pytest.raises(ValueError):
        harness.answer("token", "server_error", count=0)
    for endpoint, behaviours in BEHAVIOURS.items():
        for behaviour in behaviours:
            harness.answer(endpoint, behaviour, count=None)
    harness.reset()


# --------------------------------------------------------------------------- lists
def _doc(harness: PGOHarness, kind: str, pgo: Pgo):
    response = pgo.browser.get(harness.urls[kind])
    assert response.status_code == 200
    assert response.content == harness.lists()[kind]
    return load_document(response.content, harness.urls[kind]) if response.content else None


def test_normal_lists_are_valid_and_consistent(harness: PGOHarness, pgo: Pgo) -> None:
    docs = {kind: _doc(harness, kind, pgo) for kind in ("zal", "ocl", "whitelist", "gnl")}
    report = check_lists(docs.values(), options=LOOPBACK)
    assert report.errors == [], [str(f) for f in report.errors]
    assert CLIENT_ID in pgo.browser.get(harness.urls["ocl"]).text
    assert "Voorbeeld PGO" in pgo.browser.get(harness.urls["ocl"]).text
    whitelist = Whitelist.from_document(docs["whitelist"])
    assert all(whitelist.allows(harness.urls[name]) for name in ("authorization", "token", "resource", "zal"))
    assert docs["zal"].volgnummer_int is not None and docs["zal"].volgnummer_int >= 100


def test_the_zal_offers_another_gegevensdienst_under_another_interfaceversie(harness: PGOHarness, pgo: Pgo) -> None:
    zal = pgo.browser.get(harness.urls["zal"]).content
    other = resolve_endpoints(zal, harness.urls["aanbieder"], harness.urls["other_gegevensdienst"])
    assert other["interfaceversie"] == harness.urls["other_interfaceversie"] == "2.3.0"
    assert (other["authorization"], other["token"], other["resource"]) == (
        harness.urls["other_authorization"], harness.urls["other_token"], harness.urls["other_resource"])
    main_ = resolve_endpoints(zal, harness.urls["aanbieder"], "48", "2.2.4")
    assert main_["authorization"] == harness.urls["authorization"]
    doc = load_document(zal, "zal")
    [za] = doc.content.zorgaanbieders
    # the other (higher) interfaceversie comes first: taking the first or the highest is wrong for 48
    assert [iv.id.value for iv in za.interfaceversies] == ["2.3.0", "2.2.4"]
    gnl = pgo.browser.get(harness.urls["gnl"]).text
    assert "<GegevensdienstId>48<" in gnl and "<GegevensdienstId>49<" in gnl
    # its endpoints answer 404 and are recorded as "other"
    since = harness.mark()
    assert pgo.browser.get(harness.urls["other_authorization"], params={"client_id": CLIENT_ID}).status_code == 404
    assert pgo.back.post(harness.urls["other_token"], data={"grant_type": "x"}).status_code == 404
    assert [s.endpoint for s in harness.seen(since)] == ["other", "other"]


@pytest.mark.parametrize("kind", ["zal", "ocl", "whitelist", "gnl"])
def test_list_modes(harness: PGOHarness, pgo: Pgo, kind: str) -> None:
    first = _doc(harness, kind, pgo)
    assert first is not None and validate_schema(first, LOOPBACK) == []
    v1 = first.volgnummer_int
    assert v1 is not None

    harness.set_list(kind, "schema_invalid")
    broken = _doc(harness, kind, pgo)
    assert broken is not None and validate_schema(broken, LOOPBACK) != []
    assert broken.volgnummer_int is not None and broken.volgnummer_int > v1  # a new publication

    harness.set_list(kind, "normal")
    normal = _doc(harness, kind, pgo)
    assert normal is not None and validate_schema(normal, LOOPBACK) == []
    v2 = normal.volgnummer_int
    assert v2 is not None and v2 > broken.volgnummer_int

    harness.set_list(kind, "lower_volgnummer")
    lower = _doc(harness, kind, pgo)
    assert lower is not None and validate_schema(lower, LOOPBACK) == []
    assert lower.volgnummer_int is not None and lower.volgnummer_int < v2
    assert harness.list_state(kind)["mode"] == "lower_volgnummer"
    report = check_lists([lower], previous=[normal], options=LOOPBACK)
    assert any(f.requirement == "LIST-SEM-01" for f in report.errors)

    harness.set_list(kind, "empty")
    response = pgo.browser.get(harness.urls[kind])
    assert response.status_code == 200 and response.content == b""
    assert harness.list_state(kind)["volgnummer"] is None

    harness.reset()
    again = _doc(harness, kind, pgo)
    assert again is not None and validate_schema(again, LOOPBACK) == []
    assert again.volgnummer_int is not None and again.volgnummer_int > v2
    assert harness.list_state(kind) | {"published": 0} == {"mode": "normal", "volgnummer": again.volgnummer_int,
                                                           "published": 0, "highest": again.volgnummer_int}
    # other lists were left alone
    for other in {"zal", "ocl", "whitelist", "gnl"} - {kind}:
        assert harness.list_state(other)["mode"] == "normal"


def test_whitelist_without_the_dva_host(harness: PGOHarness, pgo: Pgo) -> None:
    assert "<Hostname>localhost</Hostname>" in pgo.browser.get(harness.urls["whitelist"]).text
    harness.set_list("whitelist", "without_dva_host")
    doc = _doc(harness, "whitelist", pgo)
    assert doc is not None and validate_schema(doc, LOOPBACK) == []
    text = pgo.browser.get(harness.urls["whitelist"]).text
    assert "<Hostname>localhost</Hostname>" not in text and f"<Hostname>{CLIENT_ID}</Hostname>" in text
    zal = load_document(harness.lists()["zal"], "zal")
    report = check_lists([zal, doc], options=LOOPBACK)
    assert any(f.requirement == "LIST-SEM-03" for f in report.findings)


def test_set_list_refuses_unknown_kinds_and_modes(harness: PGOHarness) -> None:
    with pytest.raises(ValueError, match="unknown list"):
        harness.set_list("zakl", "normal")
    with pytest.raises(ValueError, match="unknown list mode"):
        harness.set_list("zal", "broken")
    with pytest.raises(ValueError, match="whitelist only"):
        harness.set_list("zal", "without_dva_host")
    assert set(LIST_MODES) == {"normal", "without_dva_host", "lower_volgnummer", "schema_invalid", "empty"}


# --------------------------------------------------------------------------- waiting
def test_wait_for_times_out_cleanly(harness: PGOHarness) -> None:
    since = harness.mark()
    t0 = time.monotonic()
    got = asyncio.run(harness.wait_for("token", since, timeout=0.3))
    elapsed = time.monotonic() - t0
    assert got == [] and 0.25 <= elapsed < 2.0
    assert asyncio.run(harness.wait_for(None, since, timeout=0)) == []
    assert harness.wait_for_sync("token", since, timeout=0.1) == []


def test_wait_for_returns_when_the_requests_arrive(harness: PGOHarness, pgo: Pgo) -> None:
    since = harness.mark()

    def later() -> None:
        time.sleep(0.15)
        pgo.browser.get(harness.urls["zal"])
        pgo.browser.get(harness.urls["ocl"])

    thread = threading.Thread(target=later)
    thread.start()
    try:
        t0 = time.monotonic()
        got = asyncio.run(harness.wait_for("lists", since, timeout=5, count=2))
        assert len(got) == 2 and time.monotonic() - t0 < 4
        # fewer than asked when the deadline passes
        assert len(asyncio.run(harness.wait_for("lists", since, timeout=0.1, count=3))) == 2
        assert len(harness.wait_for_sync("lists", since, timeout=1, count=2)) == 2
    finally:
        thread.join(5)


# --------------------------------------------------------------------------- the run's recorder
def test_exchanges_and_secrets_go_to_the_recorder(harness: PGOHarness, pgo: Pgo) -> None:
    early = pgo.code()  # issued before the recorder was attached: still registered as a secret
    recorder = Recorder()
    harness.attach(recorder)
    try:
        harness.context = ("pgo-token", "exchange")
        since = harness.mark()
        code = pgo.code()
        body = pgo.token(code).json()
        pgo.fhir(body["access_token"])
        seen = harness.seen(since)
        assert len(recorder.exchanges) == len(seen) == 3
        for s, exchange in zip(seen, recorder.exchanges):
            assert s.exchange_id == exchange.id
            assert (exchange.scenario, exchange.step) == ("pgo-token", "exchange")
            assert exchange.status == s.status and exchange.method == s.method
            assert exchange.url.startswith("https://localhost:") and exchange.started
        assert recorder.exchanges[0].url.startswith(harness.urls["authorization"] + "?")
        assert recorder.exchanges[1].request_body and "grant_type=authorization_code" in recorder.exchanges[1].request_body
        assert {early, code, body["access_token"], body["refresh_token"]} <= recorder.secrets
        # the registered values alone are enough to redact every occurrence
        redacted = Redactor(recorder.secrets).text(json.dumps([x.to_dict() for x in recorder.exchanges])) or ""
        for secret in (code, body["access_token"], body["refresh_token"]):
            assert secret not in redacted
    finally:
        harness.attach(None)
    pgo.browser.get(harness.urls["zal"])
    assert len(recorder.exchanges) == 3  # detached


# --------------------------------------------------------------------------- lifecycle and options
def _other_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


def test_stop_leaves_no_thread_running(fresh_dir: Path) -> None:
    before = set(threading.enumerate())
    harness = PGOHarness(fresh_dir, CLIENT_ID, REDIRECT_URI).start()
    pgo = Pgo(harness)
    try:
        pgo.access_token()
        pgo.browser.get(harness.urls["zal"])  # keep-alive connections stay open in both clients
        assert _other_threads(before)
        t0 = time.monotonic()
        harness.stop()
        assert time.monotonic() - t0 < 5
        deadline = time.monotonic() + 3
        while _other_threads(before) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _other_threads(before) == []
        assert not harness.running
        harness.stop()  # twice is harmless
    finally:
        pgo.close()
        harness.stop()


def test_client_ca_exact_redirect_uri_and_fixed_ports(fresh_dir: Path, tmp_path: Path) -> None:
    vendor_ca = testpki.make_ca("Vendor PGO CA").write(tmp_path / "vendor", "ca")
    vendor = testpki.issue(vendor_ca, "pgo.vendor.example", dns_names=["pgo.vendor.example"], server=False,
                           client=True).write(tmp_path / "vendor", "client")
    rogue_ca = testpki.make_ca("Rogue CA")
    rogue = testpki.issue(rogue_ca, "pgo.vendor.example", dns_names=["pgo.vendor.example"], server=False,
                          client=True).write(tmp_path / "rogue", "client")
    ports = {"front": _free_port(), "back": _free_port()}
    redirect = "https://localhost:7443/pgo/callback"  # not on the client's host: registered, so accepted
    with PGOHarness(fresh_dir, "pgo.vendor.example", redirect, client_ca=vendor_ca.cert_path, ports=ports) as harness:
        assert harness.urls["authorization"] == f"https://localhost:{ports['front']}/oauth/authorize"
        assert harness.urls["token"] == f"https://localhost:{ports['back']}/oauth/token"
        pgo = Pgo(harness)
        own = httpx.Client(verify=pgo.context(str(vendor.cert_path), str(vendor.key_path)), timeout=TIMEOUT)
        try:
            response = pgo.browser.get(harness.urls["authorization"], params={
                "response_type": "code", "client_id": "pgo.vendor.example", "redirect_uri": redirect,
                "scope": "referentiezorgaanbieder", "state": "vendor-state-000000001"})
            assert response.status_code == 302 and response.headers["location"].startswith(redirect + "?")
            code = location_params(response)["code"]
            near = pgo.browser.get(harness.urls["authorization"], params={
                "response_type": "code", "client_id": "pgo.vendor.example", "redirect_uri": redirect + "/x",
                "scope": "referentiezorgaanbieder", "state": "vendor-state-000000002"})
            assert near.status_code == 400  # only the registered one is accepted beyond the usual rules
            token = own.post(harness.urls["token"], data={"grant_type": "authorization_code", "code": code,
                                                          "redirect_uri": redirect, "client_id": "pgo.vendor.example"})
            assert token.status_code == 200, token.text
            assert harness.seen(0, "token")[-1].client_certificate == frozenset({"pgo.vendor.example"})
            # the harness's own certificate for this client works too; one from an unknown CA does not
            assert pgo.back.post(harness.urls["token"], data={"grant_type": "refresh_token", "refresh_token":
                                 token.json()["refresh_token"]}).status_code == 200
            with httpx.Client(verify=pgo.context(str(rogue.cert_path), str(rogue.key_path)), timeout=TIMEOUT) as bad:
                with pytest.raises(httpx.TransportError):
                    bad.post(harness.urls["token"], data={"grant_type": "refresh_token", "refresh_token": "x"})
        finally:
            own.close()
            pgo.close()


def test_constructor_refuses_what_it_cannot_serve(fresh_dir: Path) -> None:
    with pytest.raises(ValueError, match="gegevensdienst 48"):
        PGOHarness(fresh_dir, CLIENT_ID, REDIRECT_URI, gegevensdienst="51")
    with pytest.raises(ValueError, match="ports"):
        PGOHarness(fresh_dir, CLIENT_ID, REDIRECT_URI, ports={"lists": 8080})
    with pytest.raises(ValueError, match="client_ca"):
        PGOHarness(fresh_dir, CLIENT_ID, REDIRECT_URI, client_ca=fresh_dir / "missing.pem")
    with pytest.raises(ValueError, match="client_id"):
        PGOHarness(fresh_dir, "", REDIRECT_URI)
    harness = PGOHarness(fresh_dir, CLIENT_ID, REDIRECT_URI)
    with pytest.raises(RuntimeError):
        harness.set_list("zal", "empty")


# --------------------------------------------------------------------------- serve --role pgo
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_serve_pgo_help_and_mixed_options() -> None:
    code, out, _ = run_cli("serve", "--help")
    assert code == 0 and "--role pgo" in out and "--client-ca" in out and "--front-port" in out
    code, _, err = run_cli("serve", "--role", "pgo", "--fault", "code-reusable")
    assert code == 4 and "--fault" in err
    code, _, err = run_cli("serve", "--client-id", "pgo.example.nl")
    assert code == 4 and "--client-id" in err
    code, _, err = run_cli("serve", "--role", "pgo", "--front-port", "70000")
    assert code == 4


def test_serve_role_pgo_runs_until_sigterm(tmp_path: Path) -> None:
    front, back = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "validatiestraat", "serve", "--role", "pgo", "--client-id", CLIENT_ID,
         "--redirect-uri", REDIRECT_URI, "--front-port", str(front), "--back-port", str(back),
         "--workdir", str(tmp_path / "h"), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        info = json.loads(lines.get(timeout=30))
        urls = info["urls"]
        assert urls["zal"] == f"https://localhost:{front}/MedMij_Zorgaanbiederslijst.xml?api=2"
        assert urls["token"] == f"https://localhost:{back}/oauth/token"
        for name in ("ca", "client_certificate", "client_key"):
            assert Path(urls[name]).is_file()
        assert json.loads(Path(info["info_file"]).read_text())["urls"] == urls
        import ssl

        ctx = ssl.create_default_context(cafile=urls["ca"])
        ctx.load_cert_chain(urls["client_certificate"], urls["client_key"])
        with httpx.Client(verify=ctx, timeout=TIMEOUT) as client:
            assert client.get(urls["zal"]).status_code == 200
            assert client.post(urls["token"], data={"grant_type": "authorization_code", "code": "x",
                                                    "redirect_uri": REDIRECT_URI}).status_code == 400
        first, second = json.loads(lines.get(timeout=10)), json.loads(lines.get(timeout=10))
        assert (first["endpoint"], first["status"]) == ("lists", 200)
        assert (second["endpoint"], second["status"], second["client_certificate"]) == ("token", 400, [CLIENT_ID])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0


def test_state_is_percent_encoded_in_the_redirect(harness: PGOHarness, pgo: Pgo) -> None:
    state = "a&b=c#d+e f%g"
    response = pgo.authorize(state)
    query = urlsplit(response.headers["location"]).query
    assert "#" not in response.headers["location"] and "&b=" not in query
    assert dict(parse_qsl(query))["state"] == state
