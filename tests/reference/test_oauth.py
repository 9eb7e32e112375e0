"""The authorization server: happy flow, authorization request errors, token endpoint, consents, mTLS."""

from __future__ import annotations

import ssl
import time
from urllib.parse import quote

import httpx
import pytest

from .conftest import CLIENT_ID, OTHER_CLIENT_ID, OTHER_REDIRECT_URI, PATIENT, REDIRECT_URI, params_of, parse_forms

PW = "validatiestraat-test"


# ---------------------------------------------------------------------- happy flow
def test_happy_flow_with_plain_forms(pgo):
    r = pgo.authorize()
    assert r.status_code == 200
    assert "Referentiezorgaanbieder" in r.text and "validatiestraat PGO" in r.text
    landing = parse_forms(r.text).forms[0]
    assert set(landing["inputs"]) == {"flow"}
    r = pgo.browser.post(pgo.dva.frontchannel_url + landing["action"], data=landing["inputs"])
    login = parse_forms(r.text).forms[0]
    assert {"username", "password", "flow"} <= set(login["inputs"])
    r = pgo.browser.post(pgo.dva.frontchannel_url + login["action"],
                         data={**login["inputs"], "username": "testpersoon", "password": PW})
    assert r.status_code == 200
    # consent page names the aanbieder, the gegevensdienst (GNL Weergavenaam) and the PGO (OCL name)
    assert "Referentiezorgaanbieder" in r.text and "Basisgegevens zorg" in r.text and "validatiestraat PGO" in r.text
    consent = parse_forms(r.text).forms[0]
    assert {(b["name"], b["value"]) for b in consent["buttons"]} == {("decision", "approve"), ("decision", "deny")}
    r = pgo.browser.post(pgo.dva.frontchannel_url + consent["action"], data={**consent["inputs"], "decision": "approve"})
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = params_of(location)
    assert params["state"] == "state-" + "x" * 20 and len(params["code"]) >= 40
    # token exchange
    t = pgo.exchange(params["code"])
    assert t.status_code == 200
    assert t.headers["cache-control"] == "no-store"
    body = t.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["scope"] == "referentiezorgaanbieder"
    assert body["access_token"] and body["refresh_token"] and body["access_token"] != body["refresh_token"]
    assert pgo.get(PATIENT, body["access_token"]).status_code == 200


def test_wrong_password_shows_the_login_again(pgo):
    r = pgo.authorize()
    landing = parse_forms(r.text).forms[0]
    r = pgo.browser.post(pgo.dva.frontchannel_url + landing["action"], data=landing["inputs"])
    login = parse_forms(r.text).forms[0]
    r = pgo.browser.post(pgo.dva.frontchannel_url + login["action"],
                         data={**login["inputs"], "username": "testpersoon", "password": "wrong"})
    assert r.status_code == 200 and 'name="password"' in r.text and "onjuist" in r.text


def test_login_variant_2_digid_lookalike(make_pgo):
    p = make_pgo(login_variant=2)
    fields = p.target["login"]["fields"]
    assert set(fields) == {"bsn", "wachtwoord"}
    r = p.authorize()
    page = parse_forms(r.text)
    assert not page.forms and any("Inloggen met DigiD" in text for _, text in page.links)
    r = p.follow(r, fields=fields)
    params = params_of(r.headers["location"])
    assert params["state"] and params["code"]
    assert p.exchange(params["code"]).status_code == 200


def test_extra_parameters_are_ignored_and_request_ids_recorded(pgo):
    code, params = pgo.get_code(foo="bar", nonce="n")
    assert code
    events = [e for e in pgo.dva.events if e["event"] == "authorize"]
    assert events[-1]["request_id"] == "0b9a5f8e-3f1f-4c56-9a43-000000000001"
    assert events[-1]["correlation_id"] == "0b9a5f8e-3f1f-4c56-9a43-000000000002"
    # without MedMij-Request-ID / X-Correlation-ID the flow still works
    assert pgo.get_code(**{"MedMij__Request__ID": None, "X__Correlation__ID": None})[0]


def test_url_encoded_redirect_uri(pgo):
    url = (f"{pgo.authorization}?response_type=code&client_id={CLIENT_ID}&redirect_uri={quote(REDIRECT_URI, safe='')}"
           f"&scope=referentiezorgaanbieder&state=s1")
    r = pgo.follow(pgo.browser.get(url))
    assert r.headers["location"].startswith(REDIRECT_URI + "?")
    assert params_of(r.headers["location"])["state"] == "s1"


def test_redirect_uri_with_query_keeps_it(pgo):
    r = pgo.follow(pgo.authorize(redirect_uri=REDIRECT_URI + "?pgo=1"))
    params = params_of(r.headers["location"])
    assert params["pgo"] == "1" and params["code"]


def test_scope_variants(pgo):
    assert pgo.get_code(scope="referentiezorgaanbieder~48")[0]
    code, _ = pgo.get_code(scope="referentiezorgaanbieder~48 referentiezorgaanbieder~49")
    assert pgo.exchange(code).json()["scope"] == "referentiezorgaanbieder~48 referentiezorgaanbieder~49"


def test_partial_availability_narrows_the_scope(pgo):
    opt = pgo.target["options"]["partial_availability"]
    code, _ = pgo.get_code(scope=opt["scope"], fields=opt["login_fields"])
    assert pgo.exchange(code).json()["scope"] == opt["granted_scope"]


def test_no_available_service_is_access_denied(pgo):
    r = pgo.follow(pgo.authorize(scope="referentiezorgaanbieder~49"),
                   fields={"username": "proefpersoon", "password": PW})
    params = params_of(r.headers["location"])
    assert params["error"] == "access_denied" and params["state"]


def test_deny_is_access_denied_with_state(pgo):
    r = pgo.follow(pgo.authorize(state="deny-state"), decision="deny")
    params = params_of(r.headers["location"])
    assert params == {"error": "access_denied", "error_description": params["error_description"], "state": "deny-state"}


# ---------------------------------------------------------------------- authorization request errors
@pytest.mark.parametrize("overrides", [
    {"client_id": "unknown.example.nl", "redirect_uri": "https://unknown.example.nl/cb"},
    {"client_id": None},
])
def test_unknown_or_missing_client_is_not_redirected(pgo, overrides):
    r = pgo.authorize(**overrides)
    assert r.status_code == 400 and "location" not in r.headers
    assert "text/html" in r.headers["content-type"]


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example.nl/callback",
    "http://pgo.validatiestraat.test/callback",
    "https://pgo.validatiestraat.test/callback#frag",
    "https://pgo.validatiestraat.test.evil.nl/callback",
    "https://user@pgo.validatiestraat.test/callback",
    "not a url",
    None,
])
def test_bad_redirect_uri_is_not_redirected(pgo, redirect_uri):
    r = pgo.authorize(redirect_uri=redirect_uri)
    assert r.status_code == 400 and "location" not in r.headers


@pytest.mark.parametrize("overrides,error,with_state", [
    ({"response_type": "token"}, "unsupported_response_type", True),
    ({"response_type": None}, "invalid_request", True),
    ({"scope": "anderezorgaanbieder"}, "invalid_scope", True),
    ({"scope": None}, "invalid_scope", True),
    ({"scope": "referentiezorgaanbieder~abc"}, "invalid_scope", True),
    ({"scope": "referentiezorgaanbieder~51"}, "invalid_scope", True),  # offered, not in the OCL for the client
    ({"scope": "referentiezorgaanbieder~99"}, "invalid_scope", True),
    ({"state": None}, "invalid_request", False),
    ({"state": "s" * 1025}, "invalid_request", True),
])
def test_authorization_errors_redirect_with_state(pgo, overrides, error, with_state):
    r = pgo.authorize(**overrides)
    assert r.status_code == 302, r.text[:300]
    assert r.headers["location"].startswith(REDIRECT_URI + "?")
    params = params_of(r.headers["location"])
    assert params["error"] == error and params["error_description"]
    assert ("state" in params) == with_state
    if with_state:
        assert params["state"] == overrides.get("state", "state-" + "x" * 20)


def test_state_at_maximum_length_is_echoed(pgo):
    state = "A" * 1024
    _, params = pgo.get_code(state=state)
    assert params["state"] == state


def test_stale_flow_is_an_error_page(pgo):
    r = pgo.browser.post(pgo.dva.frontchannel_url + "/oauth/consent", data={"flow": "nope", "decision": "approve"})
    assert r.status_code == 400 and "location" not in r.headers


def test_frontchannel_security_headers_and_404(pgo):
    r = pgo.authorize()
    assert r.headers["strict-transport-security"] and r.headers["x-frame-options"] == "DENY"
    assert pgo.browser.get(pgo.dva.frontchannel_url + "/nope").status_code == 404


# ---------------------------------------------------------------------- token endpoint
def test_token_errors_are_rfc6749_json(pgo):
    code, _ = pgo.get_code()
    r = pgo.back.post(pgo.token_url, json={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": REDIRECT_URI})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert r.headers["cache-control"] == "no-store" and r.headers["content-type"] == "application/json"
    r = pgo.token({"grant_type": "password", "username": "x"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    assert r.json()["error_description"]
    r = pgo.token({"code": code})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = pgo.back.get(pgo.token_url)
    assert r.status_code == 405 and r.json()["error"] == "invalid_request"
    # the code was never presented successfully; it still works
    assert pgo.exchange(code).status_code == 200


def test_missing_or_different_redirect_uri(pgo):
    code, _ = pgo.get_code()
    r = pgo.exchange(code, redirect_uri=None)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = pgo.exchange(code, redirect_uri="https://pgo.validatiestraat.test/other")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_code_is_single_use_and_replay_revokes_tokens(pgo):
    code, _ = pgo.get_code()
    first = pgo.exchange(code)
    assert first.status_code == 200
    second = pgo.exchange(code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    # best practice (RFC 6749 §4.1.2): tokens issued from a replayed code are revoked
    assert pgo.get(PATIENT, first.json()["access_token"]).status_code == 401
    assert pgo.refresh(first.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_code_expires(make_pgo):
    p = make_pgo(code_lifetime=0.2)
    code, _ = p.get_code()
    time.sleep(0.3)
    r = p.exchange(code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_code_is_bound_to_the_client_certificate(pgo):
    code, _ = pgo.get_code()
    r = pgo.exchange(code, client=pgo.other, client_id=OTHER_CLIENT_ID, redirect_uri=REDIRECT_URI)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = pgo.exchange(code, client=pgo.other)  # other certificate, first client's client_id
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = pgo.exchange(code, client_id=OTHER_CLIENT_ID)  # own certificate, other client_id
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # the rightful client can still use it
    assert pgo.exchange(code).status_code == 200


def test_other_client_has_its_own_flow(pgo):
    r = pgo.follow(pgo.authorize(client_id=OTHER_CLIENT_ID, redirect_uri=OTHER_REDIRECT_URI),
                   redirect_uri=OTHER_REDIRECT_URI)
    code = params_of(r.headers["location"])["code"]
    r = pgo.exchange(code, client=pgo.other, client_id=OTHER_CLIENT_ID, redirect_uri=OTHER_REDIRECT_URI)
    assert r.status_code == 200
    assert pgo.get(PATIENT, r.json()["access_token"], client=pgo.other).status_code == 200


def test_client_id_is_optional_extra_params_ignored(pgo):
    code, _ = pgo.get_code()
    r = pgo.exchange(code, client_id=None, something="else")
    assert r.status_code == 200


def test_duplicate_parameters_are_invalid_request(pgo):
    code, _ = pgo.get_code()
    r = pgo.back.post(pgo.token_url, content=f"grant_type=authorization_code&code={code}&code={code}"
                      f"&redirect_uri={quote(REDIRECT_URI, safe='')}",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_refresh_rotation(pgo):
    tokens = pgo.tokens()
    r1 = pgo.refresh(tokens["refresh_token"])
    assert r1.status_code == 200
    new = r1.json()
    assert new["refresh_token"] != tokens["refresh_token"] and new["access_token"] != tokens["access_token"]
    assert new["scope"] == tokens["scope"]
    old = pgo.refresh(tokens["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    assert pgo.refresh(new["refresh_token"]).status_code == 200
    # another client cannot use it
    r = pgo.token({"grant_type": "refresh_token", "refresh_token": new["refresh_token"]}, client=pgo.other)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_revocation_via_consent_management(pgo):
    t1 = pgo.tokens(fields={"username": "proefpersoon", "password": PW})
    page = pgo.revoke("proefpersoon")
    assert page.status_code == 200 and "ingetrokken" in page.text
    assert pgo.refresh(t1["refresh_token"]).json()["error"] == "invalid_grant"
    r = pgo.get(PATIENT, t1["access_token"])
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    # a new consent works again
    t2 = pgo.tokens(fields={"username": "proefpersoon", "password": PW})
    assert pgo.get(PATIENT, t2["access_token"]).status_code == 200


def test_issued_values_are_unique(pgo):
    seen = []
    for _ in range(5):
        code, _ = pgo.get_code()
        body = pgo.exchange(code).json()
        seen += [code, body["access_token"], body["refresh_token"]]
    assert len(seen) == len(set(seen))
    assert all(len(v) >= 43 for v in seen)


def test_token_request_ids_are_recorded(pgo):
    code, _ = pgo.get_code()
    r = pgo.back.post(pgo.token_url, data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": REDIRECT_URI},
                      headers={"MedMij-Request-ID": "tok-req", "X-Correlation-ID": "tok-corr"})
    assert r.status_code == 200 and r.headers["medmij-request-id"] == "tok-req"
    event = [e for e in pgo.dva.events if e["event"] == "token"][-1]
    assert event["request_id"] == "tok-req" and event["correlation_id"] == "tok-corr"


# ---------------------------------------------------------------------- TLS and mTLS
def _fails(client: httpx.Client, url: str) -> bool:
    try:
        client.post(url, data={"grant_type": "authorization_code"})
    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
        return True
    return False


def test_backchannel_requires_a_trusted_client_certificate(pgo):
    nocert = pgo.client_with(None, None)
    assert _fails(nocert, pgo.token_url)
    assert _fails(nocert, pgo.fhir + "/Patient")
    opt = pgo.target["options"]
    untrusted = pgo.client_with(opt["untrusted_client_certificate"], opt["untrusted_client_key"])
    assert _fails(untrusted, pgo.token_url)
    assert _fails(untrusted, pgo.fhir + "/Patient")
    failures = [e for e in pgo.dva.events if e["event"] == "tls-handshake-failed"]
    assert failures
    # the listener keeps serving
    assert pgo.token({"grant_type": "nope"}).status_code == 400


def test_frontchannel_needs_no_client_certificate(pgo):
    assert pgo.client_with(None, None).get(pgo.authorization).status_code == 400  # no client_id: error page


def test_tls_versions_and_ciphers(pgo):
    port = int(pgo.authorization.split(":")[2].split("/")[0])
    import socket

    def handshake(ctx: ssl.SSLContext) -> ssl.SSLSocket | None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        try:
            tls = ctx.wrap_socket(sock, server_hostname="localhost")
            return tls
        except (ssl.SSLError, OSError):
            sock.close()
            return None

    ctx = ssl.create_default_context(cafile=pgo.ca)
    tls = handshake(ctx)
    assert tls is not None and tls.version() == "TLSv1.3"
    tls.close()
    ctx12 = ssl.create_default_context(cafile=pgo.ca)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    tls = handshake(ctx12)
    assert tls is not None and tls.version() == "TLSv1.2"
    name = tls.cipher()[0]
    assert "GCM" in name or "CHACHA20" in name
    assert name.startswith("ECDHE")
    tls.close()
    cbc = ssl.create_default_context(cafile=pgo.ca)
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384")
    assert handshake(cbc) is None


def test_startup_is_fast(tmp_path):
    from validatiestraat.reference.server import ReferenceDVA

    t0 = time.perf_counter()
    with ReferenceDVA(tmp_path / "dva") as dva:
        assert time.perf_counter() - t0 < 1.0
        assert (tmp_path / "dva" / "ca.pem").is_file()
        target = dva.target_dict()
        assert target["endpoints"]["token"].startswith("https://localhost:")
        path = dva.write_target(tmp_path / "dva" / "target.yaml")
        import yaml

        assert yaml.safe_load(path.read_text())["client"]["client_id"] == CLIENT_ID
    assert time.perf_counter() - t0 < 2.0
    assert (tmp_path / "dva" / "ca.pem").is_file()  # a given workdir is kept


def test_target_dict_matches_the_target_schema(pgo):
    import jsonschema

    from validatiestraat.target import TARGET_SCHEMA

    assert pgo.target["resource"]["access_token"] == pgo.dva.access_token
    jsonschema.validate(pgo.target, TARGET_SCHEMA)
    assert pgo.target["options"]["persons"] == ["testpersoon", "proefpersoon", "verlooppersoon"]
