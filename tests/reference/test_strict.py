"""Strict mode (the default): the resource server answers only the gegevensdienst's catalogued
queries and reads, as real DVAs do; the pre-issued access token; the person with 3-second tokens."""

from __future__ import annotations

import time

import pytest

from validatiestraat.reference.data import SHORT_LIVED_PERSON
from validatiestraat.rs.catalogue import required_searches

from .conftest import CLIENT_ID, PATIENT, Pgo
from .test_fhir import BGZ

SEARCHES = required_searches("48")


@pytest.fixture(scope="module")
def token1(pgo):
    return pgo.tokens()["access_token"]


def _is_strict_404(r) -> bool:
    return (r.status_code == 404 and r.headers["content-type"].startswith("application/fhir+json")
            and r.json()["resourceType"] == "OperationOutcome"
            and "not one of the queries of gegevensdienst 48" in r.json()["issue"][0]["diagnostics"])


def test_the_default_is_strict(dva):
    assert dva.strict is True
    assert dva.target_dict()["options"]["strict_queries"] is True


def test_every_catalogued_query_is_served(pgo, token1):
    assert len(SEARCHES) == len(BGZ) == 28
    for search in SEARCHES:
        r = pgo.get(f"/{search.resource}", token1, params=list(search.params))
        assert r.status_code == 200, (search.describe(), r.text[:300])
        assert r.json()["type"] == "searchset"


def test_a_catalogued_shape_with_other_values_is_served(pgo, token1):
    # an empty search: same parameter names, a code nobody has
    r = pgo.get("/Observation", token1, params={"code": "http://loinc.org|0000-0"})
    assert r.status_code == 200 and r.json()["total"] == 0
    r = pgo.get(PATIENT, token1, params={"_format": "xml"})  # _format does not count for the shape
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+xml")


@pytest.mark.parametrize("path,params", [
    ("/Patient", {}),
    ("/Patient", {"_include": "Patient:organization"}),  # another _include value
    ("/Patient", {"_include": "Patient:general-practitioner", "name": "x"}),  # an extra parameter
    ("/Condition", {"clinical-status": "active"}),
    ("/Observation", {}),
    ("/Observation/$lastn", {"code": "http://loinc.org|85354-9", "max": "2"}),
    ("/Observation/_search", {"code": "http://loinc.org|85354-9"}),  # GET on _search
    ("/Goal", {}),
    ("/Patient/p1-patient/_history/1", {}),
    ("", {}),
])
def test_other_queries_are_404_with_or_without_a_token(pgo, token1, path, params):
    for token in (token1, None, "bogus-token"):
        r = pgo.get(path, token, params=params)
        assert _is_strict_404(r), (path, params, token and "token", r.status_code, r.text[:200])
        assert "www-authenticate" not in r.headers


def test_the_404_does_not_echo_parameter_values(pgo, token1):
    r = pgo.get("/Patient", None, params={"access_token": token1})
    assert _is_strict_404(r) and token1 not in r.text


def test_reads_of_served_types_are_answered(pgo, token1):
    r = pgo.get("/Patient/p1-patient", token1)
    assert r.status_code == 200 and r.json()["id"] == "p1-patient"
    assert pgo.get("/Practitioner/prac-huisarts", token1).status_code == 200
    r = pgo.get("/Patient/does-not-exist", token1)
    assert r.status_code == 404 and r.json()["issue"][0]["code"] == "not-found"
    r = pgo.get("/Patient/p1-patient", None)
    assert r.status_code == 401  # a read goes through the token check
    assert pgo.get("/metadata", token1).json()["resourceType"] == "CapabilityStatement"


def test_token_rules_on_a_catalogued_query(pgo, token1):
    r = pgo.get(PATIENT, "bogus-token")
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    r = pgo.get(PATIENT, None)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer ")
    r = pgo.get(PATIENT, token1, client=pgo.other)  # the token of another client
    assert r.status_code == 401
    # access_token in the query does not count for the shape: the token check answers
    r = pgo.get(PATIENT, None, params={"access_token": token1})
    assert r.status_code == 400 and 'error="invalid_request"' in r.headers["www-authenticate"]


def test_post_search_is_judged_by_its_form(pgo, token1):
    url = pgo.fhir + "/Patient/_search"
    auth = {"Authorization": f"Bearer {token1}"}
    r = pgo.back.post(url, data={"_include": "Patient:general-practitioner"}, headers=auth)
    assert r.status_code == 200 and r.json()["type"] == "searchset"
    r = pgo.back.post(url, data={"name": "x"}, headers=auth)
    assert _is_strict_404(r)
    # the token-in-form negative reaches the token check
    r = pgo.back.post(url, data={"_include": "Patient:general-practitioner", "access_token": token1})
    assert r.status_code == 400 and "entry" not in r.text
    r = pgo.back.post(url, data={"_include": "Patient:general-practitioner"})
    assert r.status_code == 401


def test_lenient_mode_answers_any_search(make_pgo):
    p = make_pgo(strict=False)
    assert p.target["options"]["strict_queries"] is False
    token = p.target["resource"]["access_token"]
    assert p.get("/Patient", token).status_code == 200
    assert p.get("/Condition", token, params={"clinical-status": "active"}).status_code == 200


# ---------------------------------------------------------------------- the pre-issued token
def test_pre_issued_token(pgo):
    token = pgo.target["resource"]["access_token"]
    assert token == pgo.dva.access_token and len(token) >= 40
    r = pgo.get(PATIENT, token)
    assert r.status_code == 200
    assert {e["resource"]["id"] for e in r.json()["entry"] if e["search"]["mode"] == "match"} == {"p1-patient"}
    # accepted like any other token: not over another client's certificate
    assert pgo.get(PATIENT, token, client=pgo.other).status_code == 401
    # long-lived: an hour later it still works
    auth = pgo.dva.auth
    real = auth._clock
    auth._clock = lambda: real() + 3600
    try:
        assert pgo.get(PATIENT, token).status_code == 200
    finally:
        auth._clock = real


def test_revoking_consents_leaves_the_pre_issued_token_alone(make_pgo):
    p = make_pgo()
    login = p.tokens()
    p.revoke("testpersoon", CLIENT_ID)
    assert p.get(PATIENT, login["access_token"]).status_code == 401  # the login's token is revoked
    assert p.get(PATIENT, p.target["resource"]["access_token"]).status_code == 200


def test_pre_issued_token_is_refused_where_every_token_is(make_pgo):
    p = make_pgo("scope-not-enforced")
    assert p.get(PATIENT, p.target["resource"]["access_token"]).status_code == 200
    p = make_pgo()  # the token of one server means nothing to another
    other = make_pgo()
    assert p.get(PATIENT, other.target["resource"]["access_token"]).status_code == 401


# ---------------------------------------------------------------------- the person with 3-second tokens
def test_short_lived_person_is_published(pgo):
    options = pgo.target["options"]
    assert options["token_expiry_wait_seconds"] == 4.0
    assert options["token_expiry_login_fields"] == {"username": SHORT_LIVED_PERSON.username,
                                                    "password": SHORT_LIVED_PERSON.password}
    assert SHORT_LIVED_PERSON.username in options["persons"]


def test_short_lived_person_login_fields_follow_the_login_variant(make_pgo):
    p = make_pgo(login_variant=2)
    assert p.target["options"]["token_expiry_login_fields"] == {"bsn": SHORT_LIVED_PERSON.bsn,
                                                                "wachtwoord": SHORT_LIVED_PERSON.password}


def test_short_lived_token_expires_and_the_fault_keeps_it(make_pgo):
    """One real wait for both servers: the clean one refuses the token, access-token-never-expires
    still serves it."""
    clean = make_pgo()
    faulty = make_pgo("access-token-never-expires")
    tokens: dict[str, dict] = {}
    for name, p in (("clean", clean), ("faulty", faulty)):
        fields = p.target["options"]["token_expiry_login_fields"]
        t = tokens[name] = p.tokens(fields=fields)
        assert t["expires_in"] == 3
        r = p.get(PATIENT, t["access_token"])
        assert r.status_code == 200
        assert all(e["resource"]["id"].startswith("p3-") for e in r.json()["entry"] if e["search"]["mode"] == "match")
        # the others keep the normal lifetime
        assert p.tokens()["expires_in"] == 900
    t0 = time.monotonic()
    time.sleep(clean.target["options"]["token_expiry_wait_seconds"])
    r = clean.get(PATIENT, tokens["clean"]["access_token"])
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert faulty.get(PATIENT, tokens["faulty"]["access_token"]).status_code == 200
    assert time.monotonic() - t0 < 6


def test_short_lived_person_under_expires_in_too_long(make_pgo):
    p: Pgo = make_pgo("expires-in-too-long")
    assert p.tokens()["expires_in"] == 3600
    assert p.tokens(fields=p.target["options"]["token_expiry_login_fields"])["expires_in"] == 3


def test_access_token_lifetime_parameter_still_works(make_pgo):
    p = make_pgo(access_token_lifetime=2.0)
    assert p.tokens()["expires_in"] == 2
    assert p.tokens(fields=p.target["options"]["token_expiry_login_fields"])["expires_in"] == 2
