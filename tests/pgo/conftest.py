"""Fixtures for the PGO harness tests: real HTTPS on 127.0.0.1 and real mutual TLS with the
client certificate the harness issues. ``Pgo`` plays a PGO by hand."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from validatiestraat.pgo.harness import PGOHarness

CLIENT_ID = "pgo.example.nl"
REDIRECT_URI = "https://pgo.example.nl/callback"
SCOPE = "referentiezorgaanbieder"
#: a catalogued query of gegevensdienst 48 (the strict resource server answers only those)
PATIENT = "/Patient?_include=Patient:general-practitioner"
TIMEOUT = httpx.Timeout(5.0)


def location_params(response: httpx.Response) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(response.headers["location"]).query, keep_blank_values=True))


class Pgo:
    """A PGO by hand: a browser (no client certificate) and a backchannel client (mTLS)."""

    def __init__(self, harness: PGOHarness):
        self.harness = harness
        self.urls = harness.urls
        self.browser = httpx.Client(verify=self.context(), timeout=TIMEOUT)
        self.back = httpx.Client(verify=self.context(self.urls["client_certificate"], self.urls["client_key"]),
                                 timeout=TIMEOUT)

    def context(self, cert: str | None = None, key: str | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.urls["ca"])
        if cert and key:
            ctx.load_cert_chain(cert, key)
        return ctx

    def close(self) -> None:
        self.browser.close()
        self.back.close()

    def authorize(self, state: str = "state-0123456789abcdef", **overrides: Any) -> httpx.Response:
        params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": SCOPE,
                  "state": state, "MedMij-Request-ID": "6f1c1a62-8f7e-4e6b-9a8c-000000000001",
                  "X-Correlation-ID": "6f1c1a62-8f7e-4e6b-9a8c-000000000002"}
        for k, v in overrides.items():
            if v is None:
                params.pop(k, None)
            else:
                params[k] = v
        return self.browser.get(self.urls["authorization"], params=params)

    def code(self, state: str = "state-0123456789abcdef") -> str:
        response = self.authorize(state)
        assert response.status_code == 302, response.text[:300]
        return location_params(response)["code"]

    def token(self, code: str, **extra: str) -> httpx.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                "client_id": CLIENT_ID, **extra}
        return self.back.post(self.urls["token"], data=data, headers={"MedMij-Request-ID": "6f1c1a62-8f7e-4e6b-9a8c-"
                                                                                          "000000000003"})

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.back.post(self.urls["token"], data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                                        "client_id": CLIENT_ID})

    def access_token(self) -> str:
        response = self.token(self.code())
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def fhir(self, token: str, path: str = PATIENT) -> httpx.Response:
        return self.back.get(self.urls["resource"] + path, headers={"Authorization": f"Bearer {token}",
                                                                    "Accept": "application/fhir+json"})


@pytest.fixture(scope="module")
def shared_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PGOHarness]:
    with PGOHarness(tmp_path_factory.mktemp("harness"), CLIENT_ID, REDIRECT_URI, organisation_name="Voorbeeld PGO") \
            as harness:
        yield harness


@pytest.fixture
def harness(shared_harness: PGOHarness) -> Iterator[PGOHarness]:
    """The module's harness with default answers and normal lists."""
    shared_harness.reset()
    shared_harness.context = ("pgo-harness", "")
    yield shared_harness
    shared_harness.reset()


@pytest.fixture
def pgo(harness: PGOHarness) -> Iterator[Pgo]:
    client = Pgo(harness)
    yield client
    client.close()


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Path:
    return tmp_path / "harness"
