"""Fixtures for the reference DVA tests: real HTTPS, real mutual TLS, httpx clients.

``Pgo`` plays the PGO: a frontchannel "browser" (httpx + a tiny html.parser form follower) and
backchannel clients with the suite's client certificate, the other client's certificate, the
untrusted certificate and none.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urljoin, urlsplit

import httpx
import pytest

from validatiestraat.reference.server import ReferenceDVA

CLIENT_ID = "pgo.validatiestraat.test"
REDIRECT_URI = "https://pgo.validatiestraat.test/callback"
OTHER_CLIENT_ID = "pgo2.validatiestraat.test"
OTHER_REDIRECT_URI = "https://pgo2.validatiestraat.test/callback"
SCOPE = "referentiezorgaanbieder"
TIMEOUT = httpx.Timeout(5.0)
#: a catalogued query of gegevensdienst 48 (the strict resource server answers only those)
PATIENT = "/Patient?_include=Patient:general-practitioner"


class _Forms(HTMLParser):
    """Forms (action, method, inputs, buttons) and links of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.links: list[tuple[str, str]] = []
        self._form: dict[str, Any] | None = None
        self._button: dict[str, str] | None = None
        self._link: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "inputs": {}, "buttons": [], "fields": []}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self._form["buttons"].append({"name": a.get("name", ""), "value": a.get("value", ""),
                                              "label": a.get("value", "")})
            else:
                self._form["inputs"][a.get("name", "")] = a.get("value", "")
                self._form["fields"].append((kind, a.get("name", "")))
        elif tag == "button" and self._form is not None:
            self._button = {"name": a.get("name", ""), "value": a.get("value", ""), "label": ""}
        elif tag == "a" and a.get("href"):
            self._link = [a["href"], ""]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["label"] += data
        if self._link is not None:
            self._link[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self._form is not None:
            self._form["buttons"].append(self._button)
            self._button = None
        elif tag == "form":
            self._form = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[0], self._link[1].strip()))
            self._link = None


def parse_forms(html: str) -> _Forms:
    p = _Forms()
    p.feed(html)
    return p


def params_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


class Pgo:
    """The PGO side of the tests, bound to one running ReferenceDVA."""

    def __init__(self, dva: ReferenceDVA):
        self.dva = dva
        t = dva.target_dict()
        self.target = t
        self.ca = t["trust"][0]
        self.authorization = t["endpoints"]["authorization"]
        self.token_url = t["endpoints"]["token"]
        self.fhir = t["endpoints"]["resource"]
        #: a browser: no client certificate
        self.plain_browser = httpx.Client(verify=self._ctx(), timeout=TIMEOUT)
        self.back = httpx.Client(verify=self._ctx(t["client"]["certificate"], t["client"]["key"]), timeout=TIMEOUT)
        self.other = httpx.Client(verify=self._ctx(t["other_client"]["certificate"], t["other_client"]["key"]),
                                  timeout=TIMEOUT)
        self._clients = [self.plain_browser, self.back, self.other]
        # under frontchannel-client-cert-required the frontchannel "browser" shows the client
        # certificate, so that the other faults of a combination can still be observed
        if "frontchannel-client-cert-required" in dva.faults:
            self.browser = httpx.Client(verify=self._ctx(t["client"]["certificate"], t["client"]["key"]),
                                        timeout=TIMEOUT)
            self._clients.append(self.browser)
        else:
            self.browser = self.plain_browser
        #: token requests go as JSON when the token endpoint refuses form bodies (a client's fallback)
        self.json_tokens = "token-endpoint-json-only" in dva.faults

    def _ctx(self, cert: str | None = None, key: str | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca)
        if cert and key:
            ctx.load_cert_chain(cert, key)
        return ctx

    def client_with(self, cert: str | None, key: str | None) -> httpx.Client:
        c = httpx.Client(verify=self._ctx(cert, key), timeout=TIMEOUT)
        self._clients.append(c)
        return c

    def close(self) -> None:
        for c in self._clients:
            c.close()

    # ------------------------------------------------------------------ frontchannel
    def authorize_params(self, **overrides: Any) -> dict[str, str]:
        params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
                  "scope": SCOPE, "state": "state-" + "x" * 20,
                  "MedMij-Request-ID": "0b9a5f8e-3f1f-4c56-9a43-000000000001",
                  "X-Correlation-ID": "0b9a5f8e-3f1f-4c56-9a43-000000000002"}
        for k, v in overrides.items():
            k = k.replace("__", "-")
            if v is None:
                params.pop(k, None)
            else:
                params[k] = v
        return params

    def authorize(self, **overrides: Any) -> httpx.Response:
        return self.browser.get(self.authorization, params=self.authorize_params(**overrides))

    def follow(self, response: httpx.Response, fields: dict[str, str] | None = None, decision: str = "approve",
               redirect_uri: str = REDIRECT_URI, max_pages: int = 10) -> httpx.Response:
        """Drive landing/login/consent pages like a simple form-following user agent, until a redirect."""
        fields = fields or {"username": "testpersoon", "password": "validatiestraat-test"}
        for _ in range(max_pages):
            if response.status_code in (301, 302, 303, 307):
                location = response.headers["location"]
                if location.startswith(redirect_uri.split("/callback")[0]):
                    return response
                response = self.browser.get(urljoin(str(response.url), location))
                continue
            assert response.status_code == 200, (response.status_code, response.text[:500])
            page = parse_forms(response.text)
            if page.forms:
                form = page.forms[0]
                data = {k: v for k, v in form["inputs"].items() if k}
                for k, v in fields.items():
                    if k in data:
                        data[k] = v
                names = [b for b in form["buttons"] if b["name"] == "decision"]
                if names:
                    button = next(b for b in names if b["value"] == decision)
                    data["decision"] = button["value"]
                elif form["buttons"] and form["buttons"][0]["name"]:
                    data[form["buttons"][0]["name"]] = form["buttons"][0]["value"]
                response = self.browser.post(urljoin(str(response.url), form["action"]), data=data)
                continue
            link = next((href for href, text in page.links if re.search("(?i)inloggen", text)), None)
            assert link, "no form and no login link on the page"
            response = self.browser.get(urljoin(str(response.url), link))
        raise AssertionError("no redirect after several pages")

    def get_code(self, **overrides: Any) -> tuple[str, dict[str, str]]:
        fields = overrides.pop("fields", None)
        response = self.follow(self.authorize(**overrides), fields=fields)
        params = params_of(response.headers["location"])
        assert "code" in params, params
        return params["code"], params

    # ------------------------------------------------------------------ backchannel
    def token(self, data: dict[str, str], client: httpx.Client | None = None, form: bool | None = None,
              **kw: Any) -> httpx.Response:
        """A token request: form-encoded, or JSON when ``form`` is False (default: JSON only when
        the token endpoint refuses form bodies)."""
        as_form = not self.json_tokens if form is None else form
        if as_form:
            return (client or self.back).post(self.token_url, data=data, **kw)
        return (client or self.back).post(self.token_url, json=data, **kw)

    def exchange(self, code: str, client: httpx.Client | None = None, form: bool | None = None,
                 **overrides: Any) -> httpx.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID}
        for k, v in overrides.items():
            if v is None:
                data.pop(k, None)
            else:
                data[k] = v
        return self.token(data, client, form=form)

    def tokens(self, **overrides: Any) -> dict[str, Any]:
        code, _ = self.get_code(**overrides)
        r = self.exchange(code)
        assert r.status_code == 200, r.text
        return r.json()

    def refresh(self, refresh_token: str, client: httpx.Client | None = None) -> httpx.Response:
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID},
                          client)

    def get(self, path: str, token: str | None, client: httpx.Client | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.setdefault("Accept", "application/fhir+json; fhirVersion=3.0")
        if "?" in path and kw.get("params"):  # httpx would replace the query of the path: merge them
            path, _, query = path.partition("?")
            kw["params"] = parse_qsl(query, keep_blank_values=True) + list(dict(kw["params"]).items())
        return (client or self.back).get(self.fhir + path, headers=headers, **kw)

    def revoke(self, username: str = "testpersoon", client_id: str = CLIENT_ID) -> httpx.Response:
        page = self.browser.get(self.dva.frontchannel_url + "/oauth/consents")
        form = parse_forms(page.text).forms[0]
        page = self.browser.post(urljoin(str(page.url), form["action"]),
                                 data={**form["inputs"], "username": username, "password": "validatiestraat-test"})
        forms = [f for f in parse_forms(page.text).forms if f["inputs"].get("client_id") == client_id]
        assert forms, page.text
        f = forms[0]
        return self.browser.post(urljoin(str(page.url), f["action"]), data={**f["inputs"], "revoke": client_id})


@pytest.fixture(scope="module")
def dva() -> Iterator[ReferenceDVA]:
    with ReferenceDVA() as server:
        yield server


@pytest.fixture(scope="module")
def pgo(dva: ReferenceDVA) -> Iterator[Pgo]:
    p = Pgo(dva)
    yield p
    p.close()


@pytest.fixture(scope="module")
def lenient_dva() -> Iterator[ReferenceDVA]:
    with ReferenceDVA(strict=False) as server:
        yield server


@pytest.fixture
def make_pgo() -> Iterator[Any]:
    """Start a fresh ReferenceDVA (with faults/options) and return a Pgo for it."""
    started: list[tuple[ReferenceDVA, Pgo]] = []

    def _make(*faults: str, **kwargs: Any) -> Pgo:
        server = ReferenceDVA(faults=faults, **kwargs).start()
        p = Pgo(server)
        started.append((server, p))
        return p

    yield _make
    for server, p in started:
        p.close()
        server.stop()
