"""The newer faults, observed directly over real HTTPS (and what the clean server does instead)."""

from __future__ import annotations

import ssl
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from validatiestraat.reference.data import PERSONS
from validatiestraat.reference.data.bgz import BSN_SYSTEM
from validatiestraat.reference.oauth import MAX_STATE_LENGTH

from .conftest import CLIENT_ID, OTHER_CLIENT_ID, PATIENT, REDIRECT_URI, Pgo, params_of

P2 = {"username": "proefpersoon", "password": "validatiestraat-test"}
SPECIAL_STATES = ["a b&c#d+e%f", "100%+zeker & #1", "ünïcödé ✓ 状態", "a=b;c,d/e?f'g\"h<i>", "%2B%26%23", "+"]


def _matches(r: httpx.Response) -> set[str]:
    return {e["resource"]["id"] for e in r.json().get("entry", []) if e["search"]["mode"] == "match"}


def _location(r: httpx.Response) -> str:
    assert r.status_code == 302, (r.status_code, r.text[:300])
    return r.headers["location"]


# ---------------------------------------------------------------------- resource-no-token-check
def test_resource_no_token_check_serves_everything(make_pgo):
    p: Pgo = make_pgo("resource-no-token-check")
    p1 = {"p1-patient"}
    expired = p.tokens()["access_token"]
    revoked = p.tokens(fields=P2)["access_token"]
    other_service = p.tokens(scope="referentiezorgaanbieder~49")["access_token"]
    p.revoke("proefpersoon")
    assert _matches(p.get(PATIENT, None)) == p1
    assert _matches(p.get(PATIENT, "unknown-token")) == p1
    assert _matches(p.get(PATIENT, None, headers={"Authorization": "Basic dXNlcjpwYXNz"})) == p1
    assert _matches(p.get(PATIENT, other_service)) == p1
    assert _matches(p.get(PATIENT, None, params={"access_token": "anything"})) == p1
    r = p.back.post(p.fhir + "/Patient/_search", data={"_include": "Patient:general-practitioner",
                                                       "access_token": "anything"})
    assert _matches(r) == p1
    assert p.get(PATIENT, revoked).status_code == 200  # revoked: still served (the token's own person)
    assert p.get(PATIENT, expired, client=p.other).status_code == 200  # another client's token
    auth = p.dva.auth
    real = auth._clock
    auth._clock = lambda: real() + 3600
    try:
        assert _matches(p.get(PATIENT, expired)) == p1
    finally:
        auth._clock = real
    # strict mode still answers only the gegevensdienst's queries
    assert p.get("/Patient", None).status_code == 404


# ---------------------------------------------------------------------- error-redirect-state-hardcoded
def test_error_redirect_state_hardcoded(make_pgo):
    p: Pgo = make_pgo("error-redirect-state-hardcoded")
    for kw in ({"response_type": "token"}, {"scope": "anderezorgaanbieder"}, {"response_type": None},
               {"state": "s" * (MAX_STATE_LENGTH + 1)}):
        params = params_of(_location(p.authorize(**kw)))
        assert "error" in params and params["state"] == "xyz", kw
    params = params_of(_location(p.follow(p.authorize(state="my-state"), decision="deny")))
    assert params["error"] == "access_denied" and params["state"] == "xyz"
    # the successful redirect keeps the request's state
    _, params = p.get_code(state="my-state")
    assert params["state"] == "my-state"


def test_clean_error_redirects_echo_the_state(pgo):
    params = params_of(_location(pgo.authorize(response_type="token", state="my-state")))
    assert params["state"] == "my-state"
    params = params_of(_location(pgo.follow(pgo.authorize(state="deny-state"), decision="deny")))
    assert params == {**params, "error": "access_denied", "state": "deny-state"}


# ---------------------------------------------------------------------- error-code-not-rfc
def test_error_code_not_rfc(make_pgo):
    p: Pgo = make_pgo("error-code-not-rfc")
    for scope in ("anderezorgaanbieder", "referentiezorgaanbieder~abc", "referentiezorgaanbieder~51", None):
        params = params_of(_location(p.authorize(scope=scope, state="st")))
        assert params["error"] == "401" and params["state"] == "st", scope
    assert params_of(_location(p.authorize(response_type="token")))["error"] == "unsupported_response_type"
    assert params_of(_location(p.authorize(response_type=None)))["error"] == "invalid_request"
    assert p.get_code()[0]


def test_clean_scope_errors_are_invalid_scope(pgo):
    for scope in ("anderezorgaanbieder", "referentiezorgaanbieder~abc", "referentiezorgaanbieder~51"):
        assert params_of(_location(pgo.authorize(scope=scope)))["error"] == "invalid_scope"


# ---------------------------------------------------------------------- state encoding
@pytest.mark.parametrize("state", SPECIAL_STATES)
def test_clean_server_round_trips_every_state(pgo, state):
    location = _location(pgo.follow(pgo.authorize(state=state)))
    query = urlsplit(location).query
    assert "#" not in location and " " not in location and state not in query
    assert params_of(location)["state"] == state
    assert location.isascii()


def test_clean_server_state_length_bounds(pgo):
    state = "s" * MAX_STATE_LENGTH
    assert params_of(_location(pgo.follow(pgo.authorize(state=state))))["state"] == state
    for length in (MAX_STATE_LENGTH + 1, 5000, 60000):
        r = pgo.authorize(state="s" * length)
        assert r.status_code < 500
        if r.status_code == 302:
            assert params_of(r.headers["location"])["error"] == "invalid_request"
        else:
            assert 400 <= r.status_code < 500
    # a request line beyond what the server reads is a 4xx too, never a hang or a 500
    parts = urlsplit(pgo.authorization)
    ctx = ssl.create_default_context(cafile=pgo.ca)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            tls.sendall(f"GET {parts.path}?state={'s' * 70000} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            status_line = tls.recv(64).split(b"\r\n")[0]
    assert status_line.startswith(b"HTTP/1.") and status_line.split()[1].startswith(b"4"), status_line


def test_state_not_url_encoded(make_pgo):
    p: Pgo = make_pgo("state-not-url-encoded")
    for state in ("a b&c#d+e%f", "100%+zeker & #1"):
        location = _location(p.follow(p.authorize(state=state)))
        assert location.endswith("&state=" + state)
        assert params_of(location).get("state") != state
    # a plain state still round-trips, and a state a header cannot carry does not break the server
    assert p.get_code(state="plain-state")[1]["state"] == "plain-state"
    location = _location(p.follow(p.authorize(state="ünï\r\nX-Injected: 1")))
    assert "\r" not in location and "\n" not in location and location.isascii()


# ---------------------------------------------------------------------- frontchannel-client-cert-required
def test_frontchannel_client_cert_required(make_pgo):
    p: Pgo = make_pgo("frontchannel-client-cert-required")
    assert p.authorization.startswith(p.dva.authorization_url)
    assert p.dva.authorization_url != p.dva.frontchannel_url
    with pytest.raises(httpx.TransportError):
        p.plain_browser.get(p.authorization, params=p.authorize_params())
    # the handshake itself demands the certificate
    host, port = urlsplit(p.dva.authorization_url).hostname, urlsplit(p.dva.authorization_url).port
    ctx = ssl.create_default_context(cafile=p.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.2: the refusal comes in the handshake
    with pytest.raises(ssl.SSLError):
        with socket.create_connection((host, port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=host):
                pass
    # with a client certificate the whole flow works; the lists stay on the plain frontchannel
    assert p.get_code()[0]
    assert p.plain_browser.get(p.target["options"]["lists"]["zal"]).status_code == 200
    assert p.plain_browser.get(p.target["options"]["consent_management"]["url"]).status_code == 200


def test_clean_frontchannel_needs_no_certificate(pgo):
    assert pgo.dva.authorization_url == pgo.dva.frontchannel_url
    assert pgo.plain_browser.get(pgo.authorization, params=pgo.authorize_params()).status_code == 200


# ---------------------------------------------------------------------- bsn-on-direct-read
def test_bsn_on_direct_read(make_pgo):
    p: Pgo = make_pgo("bsn-on-direct-read")
    token = p.tokens()["access_token"]
    r = p.get("/Patient/p1-patient", token)
    bsn = [i for i in r.json()["identifier"] if i["system"] == BSN_SYSTEM]
    assert [i["value"] for i in bsn] == [PERSONS[0].bsn]
    assert BSN_SYSTEM not in p.get(PATIENT, token).text  # searches stay clean
    assert BSN_SYSTEM not in p.get("/Condition", token).text
    assert BSN_SYSTEM not in p.get(PATIENT, token).text  # the read did not change the stored data


def test_bsn_faults_together_carry_one_bsn(make_pgo):
    p: Pgo = make_pgo("bsn-on-direct-read", "bsn-in-response")
    token = p.tokens()["access_token"]
    r = p.get("/Patient/p1-patient", token)
    assert sum(i["system"] == BSN_SYSTEM for i in r.json()["identifier"]) == 1
    assert BSN_SYSTEM in p.get(PATIENT, token).text


# ---------------------------------------------------------------------- token-endpoint-json-only
def test_token_endpoint_json_only_follows_every_rule_with_json(make_pgo):
    p: Pgo = make_pgo("token-endpoint-json-only")
    code, _ = p.get_code()
    r = p.exchange(code, form=True)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = p.exchange(code, form=False)  # not consumed by the refused form request
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    assert p.get(PATIENT, tokens["access_token"]).status_code == 200
    # refresh_token grant (rotation)
    r = p.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID},
                form=False)
    assert r.status_code == 200 and r.json()["refresh_token"] != tokens["refresh_token"]
    r = p.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, form=False)
    assert r.json()["error"] == "invalid_grant"
    # a second use of the code
    assert p.exchange(code, form=False).json()["error"] == "invalid_grant"
    # unsupported grant, missing redirect_uri, wrong redirect_uri
    r = p.token({"grant_type": "password", "username": "x"}, form=False)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    assert p.exchange(p.get_code()[0], form=False, redirect_uri=None).json()["error"] == "invalid_request"
    assert p.exchange(p.get_code()[0], form=False, redirect_uri=REDIRECT_URI + "/x").json()["error"] == \
        "invalid_grant"
    # expired code
    code, _ = p.get_code()
    auth = p.dva.auth
    real = auth._clock
    auth._clock = lambda: real() + 3600
    try:
        assert p.exchange(code, form=False).json()["error"] == "invalid_grant"
    finally:
        auth._clock = real
    # another client's code, and a client_id that is not the certificate's
    code, _ = p.get_code()
    r = p.exchange(code, client=p.other, form=False, client_id=OTHER_CLIENT_ID)
    assert r.json()["error"] == "invalid_grant"
    r = p.exchange(p.get_code()[0], form=False, client_id=OTHER_CLIENT_ID)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # bodies that are not a JSON object
    for body in (b"[1, 2]", b"{not json", b'{"grant_type": ["authorization_code"]}'):
        r = p.back.post(p.token_url, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", body
    # JSON without a Content-Type is still read as JSON; a form body without one is refused
    code, _ = p.get_code()
    import json

    r = p.back.post(p.token_url, content=json.dumps({"grant_type": "authorization_code", "code": code,
                                                     "redirect_uri": REDIRECT_URI}).encode())
    assert r.status_code == 200, r.text
    r = p.back.post(p.token_url, content=b"grant_type=password")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_clean_token_endpoint_refuses_json(pgo):
    code, _ = pgo.get_code()
    r = pgo.exchange(code, form=False)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_json_only_with_code_reusable(make_pgo):
    p: Pgo = make_pgo("token-endpoint-json-only", "code-reusable")
    code, _ = p.get_code()
    assert p.exchange(code, form=False).status_code == 200
    assert p.exchange(code, form=False).status_code == 200
    assert p.exchange(code, form=True).status_code == 400
