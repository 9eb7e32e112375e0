"""Every fault switch changes exactly the behaviour it claims.

Each fault has a *probe*: a few real HTTPS requests that return True when the faulty behaviour is
observed. For every fault: its probe fires on a DVA with the fault on and not on a clean DVA, and
no probe of another fault of the same component fires (except where the table says the fault also
breaks that other fault's requirements).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import yaml

from validatiestraat.reference.faults import FAULTS, SLOW_SECONDS_ENV, check_faults, slow_seconds

from .conftest import OTHER_CLIENT_ID, PATIENT, REDIRECT_URI, Pgo, params_of

PW = "validatiestraat-test"
P2 = {"username": "proefpersoon", "password": PW}
#: a scope every variant of the server refuses (a malformed GegevensdienstId; invalid-scope-accepted
#: lets only missing, unknown-aanbieder and unlisted scopes through)
MALFORMED_SCOPE = "referentiezorgaanbieder~abc"
#: a state that needs URL encoding to round-trip
SPECIAL_STATE = "a b&c#d+e%f/g?h=i"


class Blocked(Exception):
    """The probe cannot run on this DVA (e.g. no token can be obtained)."""


def _tokens(p: Pgo, **kw) -> dict:
    code, _ = p.get_code(**kw)
    r = p.exchange(code)
    if r.status_code != 200:
        raise Blocked(f"no token: {r.status_code}")
    return r.json()


def _redirect_params(r: httpx.Response) -> dict[str, str] | None:
    if r.status_code != 302:
        return None
    return params_of(r.headers["location"])


# ---------------------------------------------------------------------- probes: True = faulty behaviour seen
def p_state_not_echoed(p: Pgo) -> bool:
    _, params = p.get_code(state="probe-state")
    return params["state"] != "probe-state"


def p_unknown_client_redirected(p: Pgo) -> bool:
    r = p.authorize(client_id="unknown.example.nl", redirect_uri="https://unknown.example.nl/cb")
    return r.status_code in (301, 302, 303, 307)


def p_bad_redirect_uri_redirected(p: Pgo) -> bool:
    return p.authorize(redirect_uri="https://evil.example.nl/cb").status_code in (301, 302, 303, 307)


def p_response_type_not_checked(p: Pgo) -> bool:
    params = _redirect_params(p.authorize(response_type="token"))
    return not params or params.get("error") != "unsupported_response_type"


def p_invalid_scope_accepted(p: Pgo) -> bool:
    bad = [p.authorize(scope="anderezorgaanbieder"), p.authorize(scope="referentiezorgaanbieder~51")]
    return any(r.status_code == 200 for r in bad)  # the login starts instead of an error redirect


def p_error_without_state(p: Pgo) -> bool:
    params = _redirect_params(p.authorize(scope=MALFORMED_SCOPE, state="st"))
    return params is not None and "state" not in params


def p_medmij_ids_required(p: Pgo) -> bool:
    r = p.authorize(**{"MedMij__Request__ID": None, "X__Correlation__ID": None})
    return (_redirect_params(r) or {}).get("error") == "invalid_request"


def p_no_error_description(p: Pgo) -> bool:
    errors = [_redirect_params(p.authorize(response_type="token")) or {},
              _redirect_params(p.authorize(scope=MALFORMED_SCOPE)) or {}]
    return any("error" in e and "error_description" not in e for e in errors)


def p_error_redirect_state_hardcoded(p: Pgo) -> bool:
    states = [(_redirect_params(p.authorize(scope=MALFORMED_SCOPE, state="probe-1")) or {}).get("state")]
    states.append(params_of(p.follow(p.authorize(state="probe-2"), decision="deny").headers["location"]).get("state"))
    # no data for the only requested gegevensdienst: access_denied after the login
    r = p.follow(p.authorize(scope="referentiezorgaanbieder~49", state="probe-3"), fields=P2)
    states.append(params_of(r.headers["location"]).get("state"))
    return "xyz" in states


def p_error_code_not_rfc(p: Pgo) -> bool:
    errors = [(_redirect_params(p.authorize(scope=s)) or {}).get("error")
              for s in ("anderezorgaanbieder", MALFORMED_SCOPE)]
    return "401" in errors


def p_state_not_url_encoded(p: Pgo) -> bool:
    location = p.follow(p.authorize(state=SPECIAL_STATE)).headers["location"]
    return SPECIAL_STATE in location


def p_frontchannel_client_cert_required(p: Pgo) -> bool:
    try:
        p.plain_browser.get(p.authorization, params=p.authorize_params())
    except httpx.TransportError:
        return True
    return False


def p_low_entropy_tokens(p: Pgo) -> bool:
    return len(_tokens(p)["access_token"]) < 22  # 128 bits need at least 22 base64url characters


def p_scope_not_narrowed(p: Pgo) -> bool:
    partial = p.target["options"]["partial_availability"]
    code, _ = p.get_code(scope=partial["scope"], fields=partial["login_fields"])
    return p.exchange(code).json()["scope"] != partial["granted_scope"]


def p_search_unsupported(p: Pgo) -> bool:
    return p.get("/ImmunizationRecommendation", _tokens(p)["access_token"]).status_code != 200


def p_vertegenwoordiging_date_not_checked(p: Pgo) -> bool:
    r = p.authorize(scope="referentiezorgaanbieder onbehalfof", MedMij_geboortedatum="01-09-1970")
    return (_redirect_params(r) or {}).get("error") != "invalid_request"


def p_subscription_duration_unbounded(p: Pgo) -> bool:
    code, _ = p.get_code(scope="subscribe~365/referentiezorgaanbieder~48")
    return p.exchange(code).json()["scope"] != "subscribe~30/referentiezorgaanbieder~48"


def p_redirect_uri_double_decoded(p: Pgo) -> bool:
    encoded = p.target["options"]["encoded_redirect_uri"]
    r = p.authorize(redirect_uri=encoded)
    r = p.follow(r, redirect_uri=encoded.replace("/%7Evalidatiestraat", ""))
    return not r.headers["location"].startswith(encoded + "?")


def p_slow_resource(p: Pgo) -> bool:
    token = _tokens(p)["access_token"]
    t0 = time.perf_counter()
    p.get(PATIENT, token)
    return time.perf_counter() - t0 >= 0.1


def p_extra_param_rejected(p: Pgo) -> bool:
    return (_redirect_params(p.authorize(foo="bar")) or {}).get("error") == "invalid_request"


def p_long_state_crash(p: Pgo) -> bool:
    return p.authorize(state="s" * 5000).status_code >= 500


def p_consent_page_anonymous(p: Pgo) -> bool:
    seen = []
    original = p.browser.post

    def recording_post(*a, **kw):
        response = original(*a, **kw)
        seen.append(response.text)
        return response

    p.browser.post = recording_post  # type: ignore[method-assign]
    try:
        p.get_code()
    finally:
        p.browser.post = original  # type: ignore[method-assign]
    consent = next(t for t in seen if 'name="decision"' in t)
    return "validatiestraat PGO" not in consent or "Basisgegevens zorg" not in consent


def p_deny_issues_code(p: Pgo) -> bool:
    r = p.follow(p.authorize(), decision="deny")
    return "code" in params_of(r.headers["location"])


def p_token_type_wrong(p: Pgo) -> bool:
    return _tokens(p)["token_type"].lower() != "bearer"


def p_expires_in_too_long(p: Pgo) -> bool:
    return _tokens(p)["expires_in"] > 900


def p_code_reusable(p: Pgo) -> bool:
    code, _ = p.get_code()
    if p.exchange(code).status_code != 200:
        raise Blocked("first exchange failed")
    return p.exchange(code).status_code == 200


def p_missing_redirect_uri_accepted(p: Pgo) -> bool:
    code, _ = p.get_code()
    return p.exchange(code, redirect_uri=None).status_code == 200


def p_redirect_uri_not_checked(p: Pgo) -> bool:
    code, _ = p.get_code()
    return p.exchange(code, redirect_uri=REDIRECT_URI + "/other").status_code == 200


def p_expired_code_accepted(p: Pgo) -> bool:
    code, _ = p.get_code()
    auth = p.dva.auth
    real = auth._clock
    auth._clock = lambda: real() + 3600  # an hour later
    try:
        return p.exchange(code).status_code == 200
    finally:
        auth._clock = real


def p_code_any_client(p: Pgo) -> bool:
    code, _ = p.get_code()
    return p.exchange(code, client=p.other, client_id=OTHER_CLIENT_ID).status_code == 200


def p_unsupported_grant_wrong_error(p: Pgo) -> bool:
    r = p.token({"grant_type": "password"})  # as JSON when the endpoint refuses form bodies
    return r.json().get("error") != "unsupported_grant_type"


def p_slow_token(p: Pgo) -> bool:
    code, _ = p.get_code()
    t0 = time.perf_counter()
    r = p.exchange(code)
    if r.status_code != 200:
        raise Blocked("no token")
    return time.perf_counter() - t0 >= slow_seconds() * 0.9


def p_refresh_not_rotated(p: Pgo) -> bool:
    t = _tokens(p)
    r = p.refresh(t["refresh_token"])
    if r.status_code != 200:
        raise Blocked("refresh failed")
    return r.json()["refresh_token"] == t["refresh_token"] or p.refresh(t["refresh_token"]).status_code == 200


def p_revoked_refresh_accepted(p: Pgo) -> bool:
    t = _tokens(p, fields=P2)
    p.revoke("proefpersoon")
    return p.refresh(t["refresh_token"]).status_code == 200


def p_extra_token_param_rejected(p: Pgo) -> bool:
    code, _ = p.get_code()
    r = p.exchange(code, foo="bar")
    if r.status_code != 200 and p.exchange(p.get_code()[0]).status_code != 200:
        raise Blocked("no token at all")
    return r.status_code != 200


def p_token_endpoint_json_only(p: Pgo) -> bool:
    code, _ = p.get_code()
    form = p.exchange(code, form=True)
    as_json = p.exchange(code, form=False)  # the same code: the refused form request did not consume it
    return form.status_code == 400 and as_json.status_code == 200


def p_resource_no_token_check(p: Pgo) -> bool:
    return p.get(PATIENT, "bogus-token").status_code == 200


def p_resource_without_token(p: Pgo) -> bool:
    return p.get(PATIENT, None).status_code == 200


def p_no_www_authenticate(p: Pgo) -> bool:
    r = p.get(PATIENT, None)
    return r.status_code == 401 and "www-authenticate" not in r.headers


def p_invalid_token_no_error(p: Pgo) -> bool:
    r = p.get(PATIENT, "bogus-token")
    return r.status_code == 401 and 'error="invalid_token"' not in r.headers.get("www-authenticate", "")


def p_token_in_query_accepted(p: Pgo) -> bool:
    token = _tokens(p)["access_token"]
    return p.get(PATIENT, None, params={"access_token": token}).status_code == 200


def p_scope_not_enforced(p: Pgo) -> bool:
    token = _tokens(p, scope="referentiezorgaanbieder~49")["access_token"]
    return p.get(PATIENT, token).status_code == 200


def p_no_request_id_echo(p: Pgo) -> bool:
    r = p.get(PATIENT, _tokens(p)["access_token"], headers={"MedMij-Request-ID": "probe-id"})
    return r.headers.get("medmij-request-id") != "probe-id"


def p_searchset_missing_self_link(p: Pgo) -> bool:
    b = p.get("/Condition", _tokens(p)["access_token"]).json()
    return not any(link.get("relation") == "self" for link in b.get("link", []))


def p_no_include(p: Pgo) -> bool:
    b = p.get(PATIENT, _tokens(p)["access_token"]).json()
    return not any(e["search"]["mode"] == "include" for e in b.get("entry", []))


def p_empty_search_404(p: Pgo) -> bool:
    return p.get("/Observation", _tokens(p)["access_token"], params={"code": "http://loinc.org|0000-0"}).status_code == 404


def p_xml_not_supported(p: Pgo) -> bool:
    r = p.get(PATIENT, _tokens(p)["access_token"], headers={"Accept": "application/fhir+xml"})
    return "xml" not in r.headers.get("content-type", "")


def p_profile_violation(p: Pgo) -> bool:
    b = p.get("/Condition", _tokens(p)["access_token"]).json()
    return any("clinicalStatus" not in e["resource"] for e in b.get("entry", []))


def p_bsn_in_response(p: Pgo) -> bool:
    return "http://fhir.nl/fhir/NamingSystem/bsn" in p.get(PATIENT, _tokens(p)["access_token"]).text


def p_bsn_on_direct_read(p: Pgo) -> bool:
    return "http://fhir.nl/fhir/NamingSystem/bsn" in p.get("/Patient/p1-patient", _tokens(p)["access_token"]).text


def p_dangling_reference(p: Pgo) -> bool:
    token = _tokens(p)["access_token"]
    bundle = p.get("/Condition", token).json()
    refs = {v["reference"] for e in bundle.get("entry", []) for v in e["resource"].values()
            if isinstance(v, dict) and "reference" in v}
    return any(p.get("/" + ref, token).status_code != 200 for ref in refs)


def p_access_token_never_expires(p: Pgo) -> bool:
    token = _tokens(p)["access_token"]
    auth = p.dva.auth
    real = auth._clock
    auth._clock = lambda: real() + 3600  # an hour later (tests/reference/test_new_faults.py waits for real)
    try:
        return p.get(PATIENT, token).status_code == 200
    finally:
        auth._clock = real


def p_error_not_operationoutcome(p: Pgo) -> bool:
    r = p.get("/Goal", None)
    return not r.headers.get("content-type", "").startswith("application/fhir+json")


def _list(p: Pgo, kind: str) -> bytes:
    return p.browser.get(p.target["options"]["lists"][kind]).content


def p_list_schema_broken(p: Pgo) -> bool:
    zal = _list(p, "zal")
    return zal.index(b"<Volgnummer>") < zal.index(b"<Tijdstempel>")


def p_list_host_missing(p: Pgo) -> bool:
    return b"<Hostname>localhost</Hostname>" not in _list(p, "whitelist")


def p_list_volgnummer_decreases(p: Pgo) -> bool:
    import re

    first, second = (int(re.search(rb"<Volgnummer>(\d+)</Volgnummer>", _list(p, "zal")).group(1)) for _ in range(2))
    return second < first


# TLS faults are probed by the TLS scanner's own tests (tests/tls) and by the e2e fault matrix
PROBES: dict[str, Callable[[Pgo], bool]] = {
    name: globals()["p_" + name.replace("-", "_")] for name, fault in FAULTS.items() if fault.component != "tls"
}


def run_probe(name: str, p: Pgo) -> bool | None:
    try:
        return PROBES[name](p)
    except (Blocked, KeyError, AssertionError, ValueError):
        return None


# ---------------------------------------------------------------------- tests
def test_table_is_consistent():
    catalogue = {r["id"] for r in yaml.safe_load(
        open(__import__("validatiestraat").__path__[0] + "/requirements.yaml", encoding="utf-8"))["requirements"]}
    assert len(FAULTS) >= 30
    for f in FAULTS.values():
        assert f.breaks, f.name
        assert set(f.breaks) <= catalogue, f.name
        assert set(f.blocks) <= catalogue, f.name
        assert not set(f.breaks) & set(f.blocks), f.name
        assert f.description and f.component in ("authorize", "token", "resource", "lists", "tls")
    for required in ("state-not-echoed", "code-reusable", "resource-without-token", "expires-in-too-long",
                     "token-type-wrong", "no-www-authenticate", "token-in-query-accepted", "bsn-in-response",
                     "searchset-missing-self-link", "no-include", "empty-search-404", "redirect-uri-not-checked",
                     "refresh-not-rotated", "revoked-refresh-accepted", "unknown-client-redirected",
                     "error-without-state", "no-request-id-echo", "token-endpoint-json-only",
                     "expired-code-accepted", "code-any-client", "slow-token"):
        assert required in FAULTS, required
    assert FAULTS["state-not-echoed"].breaks[0] == "AS-AUTHZ-01"
    assert FAULTS["code-reusable"].breaks == ("AS-TOKEN-04",)
    assert set(FAULTS["resource-without-token"].breaks) == {"RS-AUTH-01", "RS-AUTH-03"}


def test_unknown_fault_is_a_usage_error():
    from validatiestraat.errors import UserError

    with pytest.raises(UserError) as info:
        check_faults(["code-reusable", "nope"])
    assert info.value.exit_code == 4 and "nope" in str(info.value) and "code-reusable" in str(info.value)


def test_every_fault_has_a_probe():
    assert set(PROBES) == {name for name, f in FAULTS.items() if f.component != "tls"}


def test_slow_seconds_env(monkeypatch):
    monkeypatch.setenv(SLOW_SECONDS_ENV, "0.25")
    assert slow_seconds() == 0.25
    monkeypatch.setenv(SLOW_SECONDS_ENV, "garbage")
    assert slow_seconds() == 11.0
    monkeypatch.delenv(SLOW_SECONDS_ENV)
    assert slow_seconds() == 11.0


@pytest.fixture(scope="module")
def clean():
    from validatiestraat.reference.server import ReferenceDVA

    with ReferenceDVA() as dva:
        p = Pgo(dva)
        yield p
        p.close()


@pytest.mark.parametrize("name", sorted(PROBES))
def test_clean_dva_shows_no_fault(clean, make_pgo, name, monkeypatch):
    monkeypatch.setenv(SLOW_SECONDS_ENV, "0.15")
    # a fault that needs a DVA setting to be observable is compared with a clean DVA with that setting
    p = make_pgo(**FAULTS[name].reference) if FAULTS[name].reference else clean
    assert run_probe(name, p) is False


def _implied(fault: str, other: str) -> bool:
    """Whether switching ``fault`` on may legitimately trigger ``other``'s probe: it breaks all of
    ``other``'s requirements too."""
    return set(FAULTS[other].breaks) <= set(FAULTS[fault].breaks)


@pytest.mark.parametrize("name", sorted(PROBES))
def test_fault_changes_exactly_its_behaviour(make_pgo, name, monkeypatch):
    monkeypatch.setenv(SLOW_SECONDS_ENV, "0.15")
    p = make_pgo(name, **FAULTS[name].reference)
    assert p.dva.faults == frozenset({name})
    assert run_probe(name, p) is True, f"{name}: the faulty behaviour was not observed"
    component = FAULTS[name].component
    for other in sorted(FAULTS):
        if other == name or FAULTS[other].component != component or other == "slow-token":
            continue
        seen = run_probe(other, p)
        if seen and not _implied(name, other):
            pytest.fail(f"{name} also shows the behaviour of {other} ({FAULTS[other].breaks}) "
                        f"but does not list those requirements")


def test_token_response_limit_follows_the_slow_delay(monkeypatch):
    from validatiestraat.reference.faults import token_response_limit

    monkeypatch.delenv(SLOW_SECONDS_ENV, raising=False)
    assert token_response_limit() == 10.0
    monkeypatch.setenv(SLOW_SECONDS_ENV, "0.5")
    assert token_response_limit() == 0.25
    monkeypatch.setenv(SLOW_SECONDS_ENV, "60")
    assert token_response_limit() == 10.0
