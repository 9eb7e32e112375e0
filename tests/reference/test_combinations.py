"""Any combination of faults: the server neither crashes nor hangs.

Every fault at once (the TLS ones that can share a server), and a few seeded random
combinations: the authorization request, a whole login with token exchange and refresh, every
catalogued query, a read and some malformed requests all get an answer, and nothing but the
long-state-crash fault makes the server answer 500.
"""

from __future__ import annotations

import random

import httpx
import pytest

from validatiestraat.reference.faults import CONFLICTS, FAULTS, PROFILES, SLOW_SECONDS_ENV
from validatiestraat.rs.catalogue import required_searches

from .conftest import CLIENT_ID, PATIENT, Pgo


def _compatible(faults: set[str]) -> bool:
    return all(len(group & faults) <= 1 for group, _ in CONFLICTS)


def _everything() -> tuple[str, ...]:
    return tuple(sorted({n for n, f in FAULTS.items() if f.component != "tls"} | set(PROFILES["tls"].faults)))


def _random_sets(count: int, size: int, seed: int = 20261202) -> list[tuple[str, ...]]:
    rng = random.Random(seed)
    # not the server certificates this client cannot verify (expired, self-signed, ...): they stop the
    # client, not the server (tests/tls covers them)
    names = sorted(n for n, f in FAULTS.items() if not f.blocks_http or n == "tls-no-client-auth")
    out: list[tuple[str, ...]] = []
    while len(out) < count:
        chosen = set(rng.sample(names, size))
        if _compatible(chosen):
            out.append(tuple(sorted(chosen)))
    return out


COMBINATIONS = [("everything", _everything())] + [(f"random-{i}", s) for i, s in enumerate(_random_sets(4, 14))]


def _exercise(p: Pgo) -> None:
    # the frontchannel
    assert p.authorize().status_code == 200
    for kw in ({"response_type": "token"}, {"scope": "referentiezorgaanbieder~abc"}, {"client_id": "x.invalid"},
               {"state": "s" * 3000}, {"state": "a b&c#%+ü"}, {"redirect_uri": "https://evil.invalid/cb"}):
        assert p.authorize(**kw).status_code in (200, 302, 400, 500), kw
    r = p.follow(p.authorize(state="ä & #1"))
    assert r.status_code == 302
    # the backchannel: a whole flow (JSON when form bodies are refused)
    tokens = p.tokens()
    r = p.refresh(tokens["refresh_token"])
    assert r.status_code in (200, 400), r.text
    assert p.token({"grant_type": "password"}).status_code in (400, 401)
    assert p.back.post(p.token_url, content=b"\xff\xfe", headers={"Content-Type": "application/json"}).status_code \
        in (400, 401)
    # the resource server
    for token in (tokens["access_token"], p.target["resource"]["access_token"], None, "bogus"):
        for search in required_searches("48"):
            r = p.get(f"/{search.resource}", token, params=list(search.params))
            assert r.status_code in (200, 400, 401, 403, 404), (search.describe(), r.status_code)
    assert p.get("/Patient/p1-patient", tokens["access_token"]).status_code in (200, 401, 404)
    assert p.get(PATIENT, tokens["access_token"], headers={"Accept": "application/fhir+xml"}).status_code < 500
    assert p.get("/Patient", None, params={"_format": "text/turtle"}).status_code < 500
    assert p.back.post(p.fhir + "/Patient/_search", data={"access_token": "x"}).status_code < 500
    assert p.back.put(p.fhir + "/Patient/p1-patient", json={}).status_code < 500
    # consents and lists
    assert p.revoke("testpersoon", CLIENT_ID).status_code == 200
    for url in p.target["options"]["lists"].values():
        assert p.plain_browser.get(url).status_code == 200


@pytest.mark.parametrize("label,faults", COMBINATIONS, ids=[label for label, _ in COMBINATIONS])
def test_combination_neither_crashes_nor_hangs(make_pgo, monkeypatch, label, faults):
    monkeypatch.setenv(SLOW_SECONDS_ENV, "0.05")
    p: Pgo = make_pgo(*faults)
    try:
        _exercise(p)
    except httpx.TimeoutException as exc:  # pragma: no cover - the failure this test exists for
        pytest.fail(f"{label}: the server hung: {exc}")
    errors = [e for e in p.dva.events if e.get("event") == "error"]
    assert all("long-state-crash" in e.get("error", "") for e in errors), errors
