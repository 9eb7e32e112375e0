"""The embedded reference PGO: a conforming flow, state handling, the lists, and every fault.

Real HTTPS on 127.0.0.1 throughout. Two counterparts:

- the embedded reference DVA (login and consent pages, mTLS token endpoint, strict FHIR server,
  its published lists), with the reference PGO registered as one of its clients: the full
  conforming flow end to end;
- :class:`Stub`, a tiny recording HTTPS server written here that plays the DVA (authorization,
  token and resource endpoints, answers scripted per request) and the stelselnode (lists in
  every mode), and records every request the PGO makes (query, headers, body, the client
  certificate presented): the exact requests, and each fault as the PGO's outgoing requests
  show it.

Every wait is bounded (httpx timeouts, the PGO's own deadlines) and every server is stopped.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jsonschema
import pytest
from lxml import etree

from validatiestraat import exitcodes
from validatiestraat.lists.build import LIST_PATHS, build_lists
from validatiestraat.pgo.faults import PGO_FAULTS, check_pgo_faults, describe_pgo_faults
from validatiestraat.pgo.reference import FOREVER_TRIES, ReferencePGO
from validatiestraat.pgo.target import PGO_SCHEMA
from validatiestraat.reference.faults import Fault, UnknownFault
from validatiestraat.reference.pki import TestPKI, issue
from validatiestraat.reference.server import _Listener
from validatiestraat.reference.web import Request, Response
from validatiestraat.requirements import catalogue
from validatiestraat.target import PGO_TARGET_SCHEMA
from validatiestraat.rs.catalogue import required_searches

AANBIEDER = "testzorgaanbieder"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMEOUT = httpx.Timeout(15.0)
SEARCHES = required_searches("48")
#: an extra Whitelist host, so that a Whitelist without the DVA host is not empty
STELSELNODE = "stelselnode.validatiestraat.test"


# ====================================================================== the recording stub
@dataclass
class Rec:
    """One request the PGO made to the stub."""

    endpoint: str  # authorize | token | resource | lists | other
    method: str
    path: str
    raw_query: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    host: str
    peer: frozenset[str]  # names of the client certificate presented (empty: none)
    time: float
    behaviour: str = ""
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    @property
    def form(self) -> dict[str, str]:
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        return {}

    @property
    def params(self) -> dict[str, str]:
        """Token parameters, form or (for a faulty PGO) JSON."""
        if self.form:
            return self.form
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    @property
    def relative(self) -> str:
        """A resource request relative to the FHIR base: ``Observation/$lastn?code=...``."""
        rest = self.path.split("/fhir", 1)[1].strip("/")
        return rest + (f"?{self.raw_query}" if self.raw_query else "")


class Stub:
    """DVA and stelselnode for the reference PGO, recording what it sends (see the module docstring)."""

    def __init__(self, directory: Path, *, two_interfaceversies: bool = False, short_lifetime: int = 3):
        self.pki = TestPKI.generate(directory, client_id="localhost")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        assert self.pki.server.cert_path and self.pki.server.key_path
        ctx.load_cert_chain(str(self.pki.server.cert_path), str(self.pki.server.key_path))
        ctx.verify_mode = ssl.CERT_OPTIONAL  # record whether the PGO presents its certificate
        ctx.load_verify_locations(cafile=str(self.pki.ca_path))
        self.listener = _Listener("stub", ctx, self.app, lambda event: None)
        self.thread = threading.Thread(target=self.listener.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.base = self.listener.base_url
        self.two_interfaceversies = two_interfaceversies
        self.short_lifetime = short_lifetime
        self.lock = threading.Lock()
        self.records: list[Rec] = []
        self.script: dict[str, list[list[Any]]] = {"authorize": [], "token": [], "resource": []}
        self.codes: dict[str, bool] = {}  # code -> used
        self.refresh_tokens: dict[str, bool] = {}  # refresh token -> active
        self.access_tokens: dict[str, float] = {}  # access token -> expiry (monotonic)
        self.states: list[str] = []  # states of completed (approved) flows
        self.volgnummer = 10
        self.lists: dict[str, bytes] = self.build(self.volgnummer)

    def stop(self) -> None:
        self.listener.shutdown()
        self.listener.server_close()
        self.thread.join(timeout=2)
        if hasattr(self.listener, "close_connections"):
            self.listener.close_connections()

    # -------------------------------------------------------------- lists
    def endpoints(self, prefix: str = "") -> dict[str, str]:
        return {"authorization": f"{self.base}{prefix}/authorize", "token": f"{self.base}{prefix}/token",
                "resource": f"{self.base}{prefix}/fhir"}

    @property
    def stelselnode(self) -> dict[str, str]:
        return {kind: f"{self.base}{path}?api=2" for kind, path in LIST_PATHS.items()}

    def build(self, volgnummer: int, **kw: Any) -> dict[str, bytes]:
        lists = build_lists(AANBIEDER, self.endpoints(), [("localhost", "validatiestraat Referentie-PGO")],
                            {"48": "Basisgegevens zorg"}, interfaceversie="2.2.4", volgnummer=volgnummer,
                            hostnames=[STELSELNODE], **kw)
        if self.two_interfaceversies:  # the aanbieder also offers 48 under 1.4.0, at /v1/...
            old = build_lists(AANBIEDER, self.endpoints("/v1"), [("localhost", "x")], {"48": "Basisgegevens zorg"},
                              interfaceversie="1.4.0", volgnummer=volgnummer)["zal"]
            zal = etree.fromstring(lists["zal"])
            extra = etree.fromstring(old).find(".//{*}Interfaceversie")
            zal.find(".//{*}Interfaceversies").insert(0, extra)  # the lower version first
            lists["zal"] = etree.tostring(zal, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        return lists

    def set_list(self, kind: str, mode: str) -> None:
        """Publish ``kind`` in ``mode``: normal, without_dva_host, lower_volgnummer, schema_invalid,
        empty, garbage (not XML)."""
        if mode == "lower_volgnummer":
            self.lists[kind] = self.build(1)[kind]
            return
        self.volgnummer += 1
        if mode == "normal":
            self.lists[kind] = self.build(self.volgnummer)[kind]
        elif mode == "without_dva_host":
            self.lists[kind] = self.build(self.volgnummer, missing_from_whitelist="localhost")[kind]
        elif mode == "schema_invalid":
            self.lists[kind] = self.build(self.volgnummer, break_schema=kind)[kind]
        elif mode == "empty":
            root = etree.fromstring(self.build(self.volgnummer)[kind])
            container = [c for c in root if isinstance(c.tag, str)][2]  # after Tijdstempel, Volgnummer
            for child in list(container):
                container.remove(child)
            self.lists[kind] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        elif mode == "garbage":
            self.lists[kind] = b"<html>not a list"
        else:  # pragma: no cover - a typo in a test
            raise ValueError(mode)

    # -------------------------------------------------------------- scripting and records
    def answer(self, endpoint: str, behaviour: str, count: int | None = 1) -> None:
        with self.lock:
            self.script[endpoint].append([behaviour, count])

    def _next(self, endpoint: str, default: str) -> str:
        with self.lock:
            queue = self.script[endpoint]
            if not queue:
                return default
            behaviour, count = queue[0]
            if count is not None:
                queue[0][1] = count - 1
                if count - 1 <= 0:
                    queue.pop(0)
            return behaviour

    def of(self, endpoint: str, since: int = 0) -> list[Rec]:
        with self.lock:
            return [r for r in self.records[since:] if r.endpoint == endpoint]

    def mark(self) -> int:
        with self.lock:
            return len(self.records)

    # -------------------------------------------------------------- the application
    def app(self, req: Request) -> Response:
        path = req.path
        if path in LIST_PATHS.values():
            endpoint = "lists"
        elif path.endswith("/authorize"):
            endpoint = "authorize"
        elif path.endswith("/token"):
            endpoint = "token"
        elif "/fhir" in path:
            endpoint = "resource"
        else:
            endpoint = "other"
        rec = Rec(endpoint, req.method, path, req.raw_query, req.query,
                  {k.lower(): str(v) for k, v in req.headers.items()}, req.body, req.header("Host") or "",
                  req.peer_names, time.monotonic())
        with self.lock:
            self.records.append(rec)
        handler = {"lists": self._list, "authorize": self._authorize, "token": self._token,
                   "resource": self._resource}.get(endpoint)
        response = handler(req, rec) if handler else Response.json(404, {"error": "no such endpoint"})
        rec.status = response.status
        return response

    def _list(self, req: Request, rec: Rec) -> Response:
        kind = next(k for k, p in LIST_PATHS.items() if p == req.path)
        return Response(200, [("Content-Type", "application/xml")], self.lists[kind])

    def _authorize(self, req: Request, rec: Rec) -> Response:
        q = dict(req.query)
        rec.behaviour = behaviour = self._next("authorize", "approve")
        state = q.get("state", "")
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = False
        if behaviour == "deny":
            params = [("error", "access_denied"), ("error_description", "no consent"), ("state", state)]
        else:
            if behaviour == "tamper_state":
                state = state[:-1] + ("x" if state[-1:] != "x" else "y")
            elif behaviour == "unknown_state":
                state = secrets.token_urlsafe(32)
            elif behaviour == "replay_state":
                state = self.states[-1]
            elif behaviour == "no_state":
                state = ""
            else:
                self.states.append(state)
            params = [("code", code)] + ([("state", state)] if state else [])
        return Response.redirect(q["redirect_uri"] + "?" + urlencode(params))

    def _token(self, req: Request, rec: Rec) -> Response:
        params = rec.params
        rec.behaviour = behaviour = self._next("token", "ok")
        if behaviour == "server_error":
            return Response.json(500, {"error": "server_error"})
        if behaviour == "hang":
            time.sleep(3.0)  # longer than the PGO's read timeout in the test that asks for it
        grant = params.get("grant_type")
        with self.lock:
            if grant == "authorization_code":
                if self.codes.get(params.get("code", ""), True):
                    return Response.json(400, {"error": "invalid_grant"})
                self.codes[params["code"]] = True
            elif grant == "refresh_token":
                if not self.refresh_tokens.get(params.get("refresh_token", ""), False):
                    return Response.json(400, {"error": "invalid_grant"})
                self.refresh_tokens[params["refresh_token"]] = False  # rotation
            else:
                return Response.json(400, {"error": "unsupported_grant_type"})
            access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            lifetime = self.short_lifetime if behaviour.startswith("short_lived") else 900
            self.access_tokens[access] = time.monotonic() + lifetime
            body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime,
                                    "scope": AANBIEDER, "refresh_token": refresh}
            if behaviour in ("no_refresh_token", "short_lived_no_refresh"):
                del body["refresh_token"]
            else:
                self.refresh_tokens[refresh] = True
            if behaviour == "no_scope":
                del body["scope"]
        rec.response = body
        return Response.json(200, body, extra=[("Cache-Control", "no-store")])

    def _resource(self, req: Request, rec: Rec) -> Response:
        rec.behaviour = behaviour = self._next("resource", "ok")
        token = rec.bearer
        with self.lock:
            expiry = self.access_tokens.get(token or "")
        if behaviour == "invalid_token" or expiry is None or expiry < time.monotonic():
            return Response.json(401, {"resourceType": "OperationOutcome"},
                                 extra=[("WWW-Authenticate", 'Bearer error="invalid_token"')])
        entries = []
        if req.path.rstrip("/").endswith("/Patient"):
            entries = [{"fullUrl": f"{self.base}/fhir/Patient/p1", "resource": {"resourceType": "Patient", "id": "p1"},
                        "search": {"mode": "match"}}]
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
        return Response.json(200, bundle, content_type="application/fhir+json")


# ====================================================================== fixtures
class World:
    """A reference PGO, its counterpart (the stub or the harness), and a browser that trusts both."""

    def __init__(self, pgo: ReferencePGO, counterpart_ca: Path | str, stub: Stub | None = None):
        self.stub = stub  # type: ignore[assignment]
        self.pgo = pgo
        ctx = ssl.create_default_context(cafile=str(self.pgo.ca_path))
        ctx.load_verify_locations(cafile=str(counterpart_ca))
        self.browser = httpx.Client(verify=ctx, timeout=TIMEOUT)

    @classmethod
    def on_stub(cls, tmp: Path, stub: Stub, faults: tuple[str, ...], **kwargs: Any) -> "World":
        pgo = ReferencePGO(tmp / "pgo", stub.stelselnode, stub.pki.ca_path, stub.pki.client.cert_path,
                           stub.pki.client.key_path, aanbieder_default=AANBIEDER, faults=faults, **kwargs).start()
        return cls(pgo, stub.pki.ca_path, stub)

    def close(self) -> None:
        self.browser.close()
        self.pgo.stop()

    def flow(self, aanbieder: str = AANBIEDER, gegevensdienst: str = "48") -> dict[str, Any]:
        """Start a flow and be the browser until the PGO's done page (or until something else)."""
        out: dict[str, Any] = {}
        r = self.browser.get(f"{self.pgo.base_url}/start",
                             params={"aanbieder": aanbieder, "gegevensdienst": gegevensdienst})
        out["start"] = r
        location = r.headers.get("location", "")
        if r.status_code != 302 or location.startswith(self.pgo.base_url + "/done"):
            out["done"] = location
            return out
        out["authorization_url"] = location
        r = self.browser.get(location)
        if r.status_code != 302:  # the DVA did not send the browser back (e.g. a 404 page)
            out["authorization_page"] = r
            return out
        out["callback_url"] = r.headers["location"]
        r = self.browser.get(out["callback_url"])
        out["callback"] = r
        out["done"] = r.headers.get("location")
        return out

    def post(self, path: str) -> httpx.Response:
        return self.browser.post(f"{self.pgo.base_url}{path}")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    made: list[World] = []
    stubs: list[Stub] = []

    def make(*faults: str, two_interfaceversies: bool = False, short_lifetime: int = 3, **kwargs: Any) -> World:
        stub = Stub(tmp_path / f"stub{len(stubs)}", two_interfaceversies=two_interfaceversies,
                    short_lifetime=short_lifetime)
        stubs.append(stub)
        w = World.on_stub(tmp_path / f"w{len(made)}", stub, faults, **kwargs)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
    for s in stubs:
        s.stop()


def done_params(url: str | None) -> dict[str, str]:
    assert url, "no redirect to the done page"
    return dict(parse_qsl(urlsplit(url).query))


# ====================================================================== the fault table
def test_fault_table_lists_each_fault_with_the_requirements_it_breaks():
    pgo_ids = {rid for rid, r in catalogue().items() if r.role == "pgo"}
    assert len(PGO_FAULTS) >= 15
    for name, fault in PGO_FAULTS.items():
        assert isinstance(fault, Fault) and fault.name == name and fault.description
        assert fault.breaks and set(fault.breaks) <= pgo_ids, name
        assert set(fault.blocks) <= pgo_ids and not set(fault.blocks) & set(fault.breaks), name
        assert fault.component in ("authorize", "state", "token", "resource", "lists"), name
    described = describe_pgo_faults()
    assert [d["name"] for d in described] == list(PGO_FAULTS)
    assert all(set(d) >= {"name", "description", "breaks", "blocks"} for d in described)
    # every PGO requirement a harness can judge automatically has at least one fault
    automatic = {rid for rid in pgo_ids if not rid.startswith(("PGO-SEC", "PGO-CONS"))}
    assert automatic <= {rid for f in PGO_FAULTS.values() for rid in f.breaks}


def test_unknown_fault_is_a_configuration_error(tmp_path):
    assert check_pgo_faults("predictable-state, token-in-query") == {"predictable-state", "token-in-query"}
    with pytest.raises(UnknownFault) as info:
        check_pgo_faults(["predictable-state", "no-such-fault"])
    assert info.value.exit_code == exitcodes.CONFIG_ERROR == 4
    assert "no-such-fault" in str(info.value) and "predictable-state" in str(info.value)
    with pytest.raises(UnknownFault):
        ReferencePGO(tmp_path, {"zal": "https://x", "whitelist": "https://x"}, "ca.pem", "c.pem", "c.key",
                     faults=["code-reusable"])  # a DVA fault, not a PGO fault


def test_every_fault_has_a_test_here():
    assert set(FAULT_CASES) == set(PGO_FAULTS)


# ====================================================================== target
def test_target_dict_is_a_valid_pgo_block(world):
    w = world()
    target = w.pgo.target_dict()
    assert target["role"] == "pgo" and target["name"]
    block = target["pgo"]
    jsonschema.validate(target, PGO_TARGET_SCHEMA)
    jsonschema.validate(block, PGO_SCHEMA)
    base = w.pgo.base_url
    assert base == f"https://localhost:{w.pgo.port}"
    assert block["client_id"] == "localhost" == urlsplit(block["redirect_uri"]).hostname
    assert block["redirect_uri"] == f"{base}/callback" == w.pgo.redirect_uri
    assert block["start"] == {"method": "GET", "authorization_url": {"from": "location"},
                              "url": f"{base}/start?aanbieder=${{aanbieder}}&gegevensdienst=${{gegevensdienst}}"}
    assert block["login"] == {"mode": "none"} and block["done"] == f"{base}/done" and block["timeout"] == 10
    for action, path in (("fetch", "/fetch"), ("refresh", "/refresh"), ("lists_refresh", "/lists-refresh")):
        assert block[action] == {"method": "POST", "url": base + path}
    assert block["trust"] == [str(w.pgo.ca_path)] and Path(block["trust"][0]).read_text().startswith("-----BEGIN")
    # the PGO's own HTTPS: its CA verifies it, and its pages answer
    page = w.browser.get(block["done"], params={"status": "ok"})
    assert page.status_code == 200 and 'data-status="ok"' in page.text


# ====================================================================== end to end against the reference DVA
def test_full_conforming_flow_against_the_reference_dva(tmp_path):
    """start -> the DVA's pages (login, consent) -> callback -> token over mTLS -> the 28 searches -> done."""
    from validatiestraat.reference.oauth import OclEntry
    from validatiestraat.reference.server import ReferenceDVA

    with ReferenceDVA(tmp_path / "dva") as dva:
        # the reference PGO as one of the DVA's clients: OCL Hostname localhost, a client certificate
        # of the DVA's test CA naming it
        dva.auth.ocl["localhost"] = OclEntry("localhost", "validatiestraat Referentie-PGO", frozenset({"48", "49"}))
        cert = issue(dva.pki.ca, "localhost", dns_names=["localhost"], server=False, client=True).write(
            tmp_path / "pgo-client", "client")
        lists = dva.target_dict()["options"]["lists"]
        with ReferencePGO(tmp_path / "pgo", lists, dva.pki.ca_path, cert.cert_path, cert.key_path,
                          aanbieder_default="referentiezorgaanbieder") as pgo:
            ctx = ssl.create_default_context(cafile=str(pgo.ca_path))
            ctx.load_verify_locations(cafile=str(dva.pki.ca_path))
            with httpx.Client(verify=ctx, timeout=TIMEOUT) as browser:
                r = browser.get(f"{pgo.base_url}/start?aanbieder=referentiezorgaanbieder&gegevensdienst=48")
                assert r.status_code == 302
                authorize = r.headers["location"]
                assert authorize.startswith(f"{dva.frontchannel_url}/oauth/authorize?")
                sent = dict(parse_qsl(urlsplit(authorize).query))
                assert sent["scope"] == "referentiezorgaanbieder" and sent["client_id"] == "localhost"
                # the DVA's pages: landing page, login form, consent (plain forms carrying the flow id)
                page = browser.get(authorize)
                flow = re.search(r'name="flow" value="([^"]+)"', page.text).group(1)
                browser.post(f"{dva.frontchannel_url}/oauth/login-page", data={"flow": flow})
                page = browser.post(f"{dva.frontchannel_url}/oauth/login",
                                    data={"flow": flow, "username": "testpersoon", "password": "validatiestraat-test"})
                assert "validatiestraat Referentie-PGO" in page.text  # the consent page names the client
                r = browser.post(f"{dva.frontchannel_url}/oauth/consent", data={"flow": flow, "decision": "approve"})
                assert r.status_code == 302
                callback = r.headers["location"]
                assert callback.startswith(pgo.redirect_uri + "?")
                assert dict(parse_qsl(urlsplit(callback).query))["state"] == sent["state"]
                r = browser.get(callback)
                assert r.status_code == 302 and done_params(r.headers["location"]) == {"status": "ok"}
                assert browser.get(r.headers["location"]).status_code == 200
                # what the DVA saw: one code exchange over mTLS as localhost with the flow's correlation ID,
                # then every catalogued search once, all answered
                tokens = [e for e in dva.events if e["event"] == "token"]
                assert [(t["grant_type"], t["peer"], t["correlation_id"]) for t in tokens] == [
                    ("authorization_code", ["localhost"], sent["X-Correlation-ID"])]
                fhir = [e for e in dva.events if e["event"] == "fhir"]
                assert len(fhir) == len(SEARCHES) == 28 and all(e["status"] == 200 for e in fhir)
                assert {e["correlation_id"] for e in fhir} == {sent["X-Correlation-ID"]}
                assert len({e["request_id"] for e in fhir}) == 28
                # later: fetch with the stored token, refresh (rotation), fetch with the new token
                assert browser.post(f"{pgo.base_url}/fetch").json() == {"status": "ok", "requests": 28}
                refreshed = browser.post(f"{pgo.base_url}/refresh")
                assert refreshed.status_code == 200 and refreshed.json()["rotated"] is True
                assert browser.post(f"{pgo.base_url}/fetch").json() == {"status": "ok", "requests": 28}
                refresh_events = [e for e in dva.events if e["event"] == "token"][1:]
                assert [e["grant_type"] for e in refresh_events] == ["refresh_token"]
                assert refresh_events[0]["correlation_id"] not in (None, sent["X-Correlation-ID"])
                assert not [e for e in dva.events if e["event"] == "token-error"]


# ====================================================================== the exact requests (stub)
def test_conforming_flow_sends_exactly_the_medmij_requests(world):
    w = world()
    out = w.flow()
    assert done_params(out["done"]) == {"status": "ok"}
    stub, pgo = w.stub, w.pgo
    # the authorization request: a GET to the ZAL endpoint with the MedMij parameters
    [auth] = stub.of("authorize")
    assert auth.method == "GET" and auth.path == "/authorize" and auth.host == urlsplit(stub.base).netloc
    assert [k for k, _ in auth.query] == ["response_type", "client_id", "redirect_uri", "scope", "state",
                                          "MedMij-Request-ID", "X-Correlation-ID"]
    assert auth.param("response_type") == "code" and auth.param("client_id") == "localhost"
    assert auth.param("redirect_uri") == pgo.redirect_uri and "redirect_uri=https%3A%2F%2Flocalhost%3A" in auth.raw_query
    assert auth.param("scope") == AANBIEDER
    state = auth.param("state") or ""
    assert len(state) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", state)  # 256 random bits
    assert UUID4.match(auth.param("MedMij-Request-ID") or "") and UUID4.match(auth.param("X-Correlation-ID") or "")
    correlation = auth.param("X-Correlation-ID")
    # the token request: POST, form-encoded, over mTLS, exact parameters and headers
    [token] = stub.of("token")
    assert token.method == "POST" and token.path == "/token" and token.peer == frozenset({"localhost"})
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    code = dict(parse_qsl(urlsplit(out["callback_url"]).query))["code"]
    assert token.form == {"grant_type": "authorization_code", "code": code, "client_id": "localhost",
                          "redirect_uri": pgo.redirect_uri}
    assert UUID4.match(token.headers["medmij-request-id"])
    assert token.headers["medmij-request-id"] != auth.param("MedMij-Request-ID")
    assert token.headers["x-correlation-id"] == correlation
    # the resource requests: exactly the catalogued searches, each once, in order
    resources = stub.of("resource")
    assert [r.relative for r in resources] == [s.describe() for s in SEARCHES]
    access = token.response["access_token"]
    for r in resources:
        assert r.method == "GET" and r.headers["authorization"] == f"Bearer {access}"
        assert r.peer == frozenset({"localhost"}) and r.host == urlsplit(stub.base).netloc
        assert r.headers["x-correlation-id"] == correlation and UUID4.match(r.headers["medmij-request-id"])
        assert access not in r.raw_query and not {k for k, _ in r.query} & {"patient", "subject", "access_token"}
    assert len({r.headers["medmij-request-id"] for r in resources}) == len(resources)
    assert not stub.of("other")
    assert pgo.consent is not None and pgo.consent.refresh_token == token.response["refresh_token"]


def test_each_flow_has_a_fresh_state_and_correlation_id(world):
    w = world()
    for _ in range(3):
        assert done_params(w.flow()["done"])["status"] == "ok"
    auths = w.stub.of("authorize")
    for name in ("state", "MedMij-Request-ID", "X-Correlation-ID"):
        assert len({a.param(name) for a in auths}) == 3, name
    tokens = w.stub.of("token")
    assert [t.headers["x-correlation-id"] for t in tokens] == [a.param("X-Correlation-ID") for a in auths]


@pytest.mark.parametrize("behaviour", ["tamper_state", "unknown_state", "replay_state", "no_state"])
def test_a_redirect_with_a_bad_state_gets_no_token_request(world, behaviour):
    w = world()
    assert done_params(w.flow()["done"])["status"] == "ok"  # a completed flow, for replay_state
    mark = w.stub.mark()
    w.stub.answer("authorize", behaviour)
    out = w.flow()
    assert done_params(out["done"]) == {"status": "error", "reason": "state"}
    assert not w.stub.of("token", mark) and not w.stub.of("resource", mark)


def test_a_callback_is_good_once(world):
    w = world()
    out = w.flow()
    mark = w.stub.mark()
    again = w.browser.get(out["callback_url"])  # the browser's back button: the same code and state
    assert done_params(again.headers["location"]) == {"status": "error", "reason": "state"}
    assert not w.stub.of("token", mark)


def test_an_error_redirect_gets_no_token_request(world):
    w = world()
    w.stub.answer("authorize", "deny")
    out = w.flow()
    assert done_params(out["done"]) == {"status": "error", "reason": "access_denied"}
    assert not w.stub.of("token")
    page = w.browser.get(out["done"])
    assert page.status_code == 200 and 'data-reason="access_denied"' in page.text


def test_a_token_5xx_is_not_retried_with_the_same_code(world):
    w = world()
    w.stub.answer("token", "server_error")
    out = w.flow()
    assert done_params(out["done"]) == {"status": "error", "reason": "token_server_error"}
    assert len(w.stub.of("token")) == 1 and not w.stub.of("resource")


def test_refresh_rotates_with_new_ids_and_later_searches_use_the_refresh_correlation_id(world):
    w = world()
    w.flow()
    [code_exchange] = w.stub.of("token")
    first = w.post("/refresh")
    assert first.status_code == 200 and first.json()["status"] == "ok" and first.json()["rotated"] is True
    second = w.post("/refresh")
    assert second.status_code == 200
    refreshes = w.stub.of("token")[1:]
    issued = [code_exchange.response["refresh_token"]] + [r.response["refresh_token"] for r in refreshes]
    for i, r in enumerate(refreshes):
        assert r.form == {"grant_type": "refresh_token", "refresh_token": issued[i], "client_id": "localhost"}
        assert r.peer == frozenset({"localhost"}) and UUID4.match(r.headers["x-correlation-id"])
    correlations = [code_exchange.headers["x-correlation-id"]] + [r.headers["x-correlation-id"] for r in refreshes]
    assert len(set(correlations)) == 3
    mark = w.stub.mark()
    assert w.post("/fetch").json() == {"status": "ok", "requests": 28}
    resources = w.stub.of("resource", mark)
    assert {r.headers["x-correlation-id"] for r in resources} == {correlations[-1]}
    assert {r.bearer for r in resources} == {refreshes[-1].response["access_token"]}


@pytest.mark.parametrize("behaviour", ["no_refresh_token", "no_scope"])
def test_short_lived_consent_and_a_missing_scope_are_handled(world, behaviour):
    w = world()
    w.stub.answer("token", behaviour)
    out = w.flow()
    assert done_params(out["done"]) == {"status": "ok"}
    assert len(w.stub.of("resource")) == 28
    refresh = w.post("/refresh")
    if behaviour == "no_refresh_token":
        assert refresh.status_code == 409 and refresh.json() == {"status": "needs_authorization"}
        assert len(w.stub.of("token")) == 1  # nothing to refresh with: no request
    else:
        assert refresh.status_code == 200


def test_401_invalid_token_refreshes_once_then_gives_up(world):
    w = world()
    w.flow()
    mark = w.stub.mark()
    w.stub.answer("resource", "invalid_token")  # once: refresh, then the same search again
    assert w.post("/fetch").json() == {"status": "ok", "requests": 29}
    assert [t.form["grant_type"] for t in w.stub.of("token", mark)] == ["refresh_token"]
    resources = w.stub.of("resource", mark)
    assert resources[0].relative == resources[1].relative and resources[0].bearer != resources[1].bearer
    mark = w.stub.mark()
    w.stub.answer("resource", "invalid_token", None)  # always: one refresh, one retry, then stop
    r = w.post("/fetch")
    assert r.status_code == 409 and r.json()["status"] == "needs_authorization"
    assert len(w.stub.of("resource", mark)) == 2 and len(w.stub.of("token", mark)) == 1


def test_without_a_refresh_token_a_401_stops_the_fetch(world):
    w = world()
    w.stub.answer("token", "no_refresh_token")
    w.flow()
    mark = w.stub.mark()
    w.stub.answer("resource", "invalid_token", None)
    r = w.post("/fetch")
    assert r.status_code == 409 and r.json() == {"status": "needs_authorization", "requests": 1,
                                                 "reason": "invalid_token"}
    assert not w.stub.of("token", mark)


def test_an_expired_token_is_refreshed_before_use(world):
    w = world()
    w.stub.answer("token", "short_lived")  # expires_in 3
    w.flow()
    [issued] = w.stub.of("token")
    time.sleep(3.1)
    mark = w.stub.mark()
    assert w.post("/fetch").json()["status"] == "ok"
    after = w.stub.records[mark:]
    first_resource = next(i for i, r in enumerate(after) if r.endpoint == "resource")
    assert after[0].endpoint == "token" and first_resource > 0
    assert issued.response["access_token"] not in {r.bearer for r in after if r.endpoint == "resource"}


def test_without_a_refresh_token_an_expired_token_needs_authorization(world):
    w = world(short_lifetime=2)
    w.stub.answer("token", "short_lived_no_refresh")
    w.flow()
    time.sleep(2.1)
    mark = w.stub.mark()
    r = w.post("/fetch")
    assert r.status_code == 409 and r.json()["status"] == "needs_authorization"
    assert not w.stub.of("resource", mark) and not w.stub.of("token", mark)


def test_fetch_and_refresh_before_any_flow(world):
    w = world()
    assert w.post("/fetch").status_code == 409
    assert w.post("/refresh").json() == {"status": "needs_authorization"}
    assert w.browser.get(f"{w.pgo.base_url}/fetch").status_code == 405
    assert w.browser.get(f"{w.pgo.base_url}/nothing").status_code == 404


def test_the_pgo_never_hangs_its_caller(world):
    w = world(timeout=4, read_timeout=1.0)
    w.stub.answer("token", "hang")
    started = time.monotonic()
    out = w.flow()
    assert time.monotonic() - started < 6
    assert done_params(out["done"]) == {"status": "error", "reason": "token_unreachable"}
    assert not w.stub.of("resource")


# ====================================================================== the lists
_REJECTED = [("schema_invalid", "schema"), ("empty", "no entries"), ("lower_volgnummer", "Volgnummer 1 is lower"),
             ("garbage", "not a readable list")]


# (a Whitelist without nodes is accepted: test_a_whitelist_without_nodes_allows_nothing)
@pytest.mark.parametrize("kind,mode,reason", [("zal", m, r) for m, r in _REJECTED]
                         + [("whitelist", m, r) for m, r in _REJECTED if m != "empty"])
def test_a_list_it_must_reject_keeps_the_last_good_copy(world, kind, mode, reason):
    w = world()
    first = w.post("/lists-refresh").json()
    assert first["accepted"] == {"zal": True, "whitelist": True, "ocl": True, "gnl": True}
    assert first["volgnummers"][kind] == 10
    w.stub.set_list(kind, mode)
    answer = w.post("/lists-refresh").json()
    assert answer["accepted"][kind] is False and reason in answer["reasons"][kind], answer
    assert answer["volgnummers"][kind] == 10  # the last good copy
    assert done_params(w.flow()["done"]) == {"status": "ok"}  # and it is still used
    w.stub.set_list(kind, "normal")
    answer = w.post("/lists-refresh").json()
    assert answer["accepted"][kind] is True and answer["volgnummers"][kind] == w.stub.volgnummer


def test_a_whitelist_without_nodes_allows_nothing(world):
    w = world()
    w.post("/lists-refresh")
    w.stub.set_list("whitelist", "empty")
    answer = w.post("/lists-refresh").json()
    assert answer["accepted"]["whitelist"] is True and answer["volgnummers"]["whitelist"] == w.stub.volgnummer
    mark = w.stub.mark()
    assert done_params(w.flow()["done"]) == {"status": "error", "reason": "whitelist"}
    assert {r.endpoint for r in w.stub.records[mark:]} == {"lists"}


def test_a_host_removed_from_the_whitelist_is_not_contacted(world):
    w = world()
    assert done_params(w.flow()["done"])["status"] == "ok"
    w.stub.set_list("whitelist", "without_dva_host")
    assert w.post("/lists-refresh").json()["accepted"]["whitelist"] is True
    mark = w.stub.mark()
    out = w.flow()
    assert done_params(out["done"]) == {"status": "error", "reason": "whitelist"}
    assert "authorization_url" not in out
    assert {r.endpoint for r in w.stub.records[mark:]} == {"lists"}
    # nor by a later fetch or refresh with the consent of the earlier flow
    assert w.post("/fetch").json()["reason"] == "whitelist"
    assert w.post("/refresh").status_code == 502
    assert {r.endpoint for r in w.stub.records[mark:]} == {"lists"}
    assert any(o.get("refused") for o in w.pgo.outgoing)


def test_an_aanbieder_or_gegevensdienst_not_on_the_zal_starts_no_flow(world):
    w = world()
    for aanbieder, gegevensdienst in (("onbekendeaanbieder", "48"), (AANBIEDER, "49")):
        out = w.flow(aanbieder, gegevensdienst)
        assert done_params(out["done"]) == {"status": "error", "reason": "not_on_zal"}
    assert not w.stub.of("authorize")


def test_endpoints_come_from_the_highest_interfaceversie(world):
    w = world(two_interfaceversies=True)
    assert done_params(w.flow()["done"])["status"] == "ok"
    assert {r.path.split("/")[1] for r in w.stub.records if r.endpoint != "lists"} == {"authorize", "token", "fhir"}


def test_aanbieder_with_medmij_suffix_and_the_default_aanbieder(world):
    w = world()
    assert done_params(w.flow(AANBIEDER + "@medmij")["done"])["status"] == "ok"
    r = w.browser.get(f"{w.pgo.base_url}/start")  # aanbieder_default, gegevensdienst 48
    assert r.status_code == 302 and r.headers["location"].startswith(w.stub.base + "/authorize?")
    assert w.stub.of("authorize")[0].param("scope") == AANBIEDER


# ====================================================================== every fault, as the requests show it
def _authorize_request(w: World) -> Rec:
    assert done_params(w.flow()["done"])["status"] == "ok"
    return w.stub.of("authorize")[-1]


def case_endpoint_not_from_zal(w: World) -> None:
    out = w.flow()
    assert urlsplit(out["authorization_url"]).hostname == "127.0.0.1"
    assert done_params(out["done"])["status"] == "ok"
    ip = "127.0.0.1:" + str(urlsplit(w.stub.base).port)
    assert w.stub.of("authorize")[0].host == ip
    assert {r.host for r in w.stub.of("resource")} == {ip}
    assert w.stub.of("token")[0].host == urlsplit(w.stub.base).netloc  # the token endpoint is the ZAL's


def case_scope_with_gegevensdienst(w: World) -> None:
    assert _authorize_request(w).param("scope") == f"{AANBIEDER}~48"


def case_no_medmij_ids_on_authorize(w: World) -> None:
    auth = _authorize_request(w)
    assert auth.param("MedMij-Request-ID") is None and auth.param("X-Correlation-ID") is None
    assert UUID4.match(w.stub.of("token")[0].headers["x-correlation-id"])


def case_predictable_state(w: World) -> None:
    _authorize_request(w)
    _authorize_request(w)
    assert [a.param("state") for a in w.stub.of("authorize")] == ["1", "2"]


def case_state_not_checked(w: World) -> None:
    w.stub.answer("authorize", "tamper_state")
    out = w.flow()
    assert done_params(out["done"])["status"] == "ok"
    assert len(w.stub.of("token")) == 1


def case_error_redirect_ignored(w: World) -> None:
    w.stub.answer("authorize", "deny")
    out = w.flow()
    [token] = w.stub.of("token")
    assert token.form["code"] == "" and token.status == 400
    assert done_params(out["done"])["status"] == "error"


def case_token_json_body(w: World) -> None:
    w.flow()
    [token] = w.stub.of("token")
    assert token.headers["content-type"] == "application/json" and not token.form
    assert token.params["grant_type"] == "authorization_code"
    w.post("/refresh")
    assert w.stub.of("token")[-1].headers["content-type"] == "application/json"


def case_no_client_certificate(w: World) -> None:
    w.flow()
    [token] = w.stub.of("token")
    assert token.peer == frozenset()
    assert {r.peer for r in w.stub.of("resource")} == {frozenset({"localhost"})}
    w.post("/refresh")
    assert w.stub.of("token")[-1].peer == frozenset()


def case_redirect_uri_differs(w: World) -> None:
    auth = _authorize_request(w)
    assert w.stub.of("token")[0].form["redirect_uri"] == auth.param("redirect_uri") + "/"


def case_correlation_id_not_reused(w: World) -> None:
    auth = _authorize_request(w)
    [token] = w.stub.of("token")
    assert UUID4.match(token.headers["x-correlation-id"])
    assert token.headers["x-correlation-id"] != auth.param("X-Correlation-ID")
    assert {r.headers["x-correlation-id"] for r in w.stub.of("resource")} == {auth.param("X-Correlation-ID")}


def case_code_reused(w: World) -> None:
    w.stub.answer("token", "server_error")
    out = w.flow()
    tokens = w.stub.of("token")
    assert [t.status for t in tokens] == [500, 200]
    assert tokens[0].form["code"] == tokens[1].form["code"]
    assert done_params(out["done"])["status"] == "ok"


def case_refresh_code_grant(w: World) -> None:
    w.flow()
    assert w.post("/refresh").status_code == 502
    refresh = w.stub.of("token")[-1]
    assert refresh.form["grant_type"] == "refresh_code" and refresh.status == 400


def case_old_refresh_token(w: World) -> None:
    w.flow()
    assert w.post("/refresh").status_code == 200
    assert w.post("/refresh").status_code == 409  # the stub refuses the spent token
    code, first, second = w.stub.of("token")
    assert first.form["refresh_token"] == second.form["refresh_token"] == code.response["refresh_token"]


def case_refresh_correlation_id_reused(w: World) -> None:
    auth = _authorize_request(w)
    assert w.post("/refresh").status_code == 200
    assert w.stub.of("token")[-1].headers["x-correlation-id"] == auth.param("X-Correlation-ID")


def case_crashes_without_refresh_token(w: World) -> None:
    w.stub.answer("token", "no_refresh_token")
    r = w.browser.get(f"{w.pgo.base_url}/start", params={"aanbieder": AANBIEDER, "gegevensdienst": "48"})
    callback = w.browser.get(r.headers["location"]).headers["location"]
    assert w.browser.get(callback).status_code == 500
    assert len(w.stub.of("token")) == 1 and not w.stub.of("resource")
    assert any(e.get("event") == "error" for e in w.pgo.events)


def case_token_in_query(w: World) -> None:
    w.flow()
    access = w.stub.of("token")[0].response["access_token"]
    resources = w.stub.of("resource")
    assert resources and all(r.param("access_token") == access and r.bearer == access for r in resources)


def case_request_id_reused(w: World) -> None:
    w.flow()
    ids = {r.headers["medmij-request-id"] for r in w.stub.of("resource")}
    assert len(ids) == 1 and len(w.stub.of("resource")) == 28


def case_patient_param(w: World) -> None:
    w.flow()
    resources = w.stub.of("resource")
    assert resources[0].param("patient") is None  # the Patient search itself
    assert all(r.param("patient") == "p1" for r in resources[1:])


def case_extra_and_missing_searches(w: World) -> None:
    w.flow()
    sent = [r.relative for r in w.stub.of("resource")]
    assert SEARCHES[-1].describe() not in sent and sent[-1] == "Patient" and len(sent) == 28


def case_retries_forever_on_401(w: World) -> None:
    w.flow()
    mark = w.stub.mark()
    w.stub.answer("resource", "invalid_token", None)
    r = w.post("/fetch")
    assert r.status_code == 502 and r.json()["requests"] == FOREVER_TRIES
    resources = w.stub.of("resource", mark)
    assert len(resources) == FOREVER_TRIES and len({x.bearer for x in resources}) == 1
    assert not w.stub.of("token", mark)


def case_token_used_after_expiry(w: World) -> None:
    w.stub.answer("token", "short_lived")  # expires_in 3
    w.flow()
    [issued] = w.stub.of("token")
    time.sleep(3.1)
    mark = w.stub.mark()
    w.post("/fetch")
    first = w.stub.records[mark:][0]
    assert first.endpoint == "resource" and first.bearer == issued.response["access_token"] and first.status == 401


def case_ignores_whitelist(w: World) -> None:
    w.stub.set_list("whitelist", "without_dva_host")
    out = w.flow()
    assert done_params(out["done"])["status"] == "ok" and w.stub.of("authorize") and w.stub.of("resource")


def case_accepts_invalid_lists(w: World) -> None:
    w.post("/lists-refresh")
    w.stub.set_list("zal", "schema_invalid")
    assert w.post("/lists-refresh").json()["accepted"]["zal"] is True
    w.stub.set_list("zal", "empty")
    assert w.post("/lists-refresh").json()["accepted"]["zal"] is True
    assert done_params(w.flow()["done"]) == {"status": "error", "reason": "not_on_zal"}


def case_accepts_lower_volgnummer(w: World) -> None:
    w.post("/lists-refresh")
    w.stub.set_list("zal", "lower_volgnummer")
    answer = w.post("/lists-refresh").json()
    assert answer["accepted"]["zal"] is True and answer["volgnummers"]["zal"] == 1


def case_wrong_interfaceversie(w: World) -> None:
    out = w.flow()
    assert done_params(out["done"])["status"] == "ok"
    assert {r.path.split("/")[1] for r in w.stub.records if r.endpoint != "lists"} == {"v1"}


FAULT_CASES: dict[str, Callable[[World], None]] = {
    name: globals()["case_" + name.replace("-", "_")] for name in PGO_FAULTS
    if "case_" + name.replace("-", "_") in globals()
}


@pytest.mark.parametrize("fault", sorted(PGO_FAULTS))
def test_each_fault_shows_in_the_outgoing_requests(world, fault):
    w = world(fault, two_interfaceversies=(fault == "wrong-interfaceversie"))
    FAULT_CASES[fault](w)
    assert w.pgo.faults == {fault}


def test_all_faults_at_once_neither_crash_nor_hang(world):
    w = world(*sorted(set(PGO_FAULTS) - {"crashes-without-refresh-token"}), two_interfaceversies=True)
    started = time.monotonic()
    out = w.flow()
    assert out["done"] is not None
    for path in ("/fetch", "/refresh", "/lists-refresh"):
        assert w.post(path).status_code < 600
    assert time.monotonic() - started < 30
    assert str(uuid.UUID(w.stub.of("token")[0].headers["x-correlation-id"]))


# ====================================================================== against the PGO harness
@pytest.fixture
def harnessed(tmp_path: Path) -> Iterator[Callable[..., tuple[Any, World]]]:
    """start_with_harness(): the PGO harness and the reference PGO configured against each other."""
    from validatiestraat.pgo.reference import start_with_harness

    started: list[tuple[Any, World]] = []

    def make(*faults: str) -> tuple[Any, World]:
        harness, pgo = start_with_harness(tmp_path / f"h{len(started)}", faults)
        w = World(pgo, harness.urls["ca"])
        started.append((harness, w))
        return harness, w

    yield make
    for harness, w in started:
        w.close()
        harness.stop()


def _endpoints(harness: Any, since: int = 0) -> list[str]:
    return [s.endpoint for s in harness.seen(since) if s.endpoint != "lists"]


def test_against_the_harness_a_conforming_flow(harnessed):
    harness, w = harnessed()
    target = w.pgo.target_dict()
    assert target["pgo"]["redirect_uri"] == harness.redirect_uri and target["pgo"]["client_id"] == harness.client_id
    out = w.flow(harness.urls["aanbieder"])
    assert done_params(out["done"]) == {"status": "ok"}
    assert out["authorization_url"].split("?")[0] == harness.urls["authorization"]
    assert _endpoints(harness) == ["authorize", "token"] + ["resource"] * 28
    [auth] = harness.seen(0, "authorize")
    assert auth.param("scope") == "referentiezorgaanbieder" and auth.param("client_id") == "localhost"
    assert auth.param("redirect_uri") == harness.redirect_uri and auth.status == 302
    [token] = harness.seen(0, "token")
    assert token.client_certificate == frozenset({"localhost"}) and token.status == 200
    assert token.form_value("redirect_uri") == auth.param("redirect_uri")
    assert token.header("X-Correlation-ID") == auth.param("X-Correlation-ID")
    assert harness.presentations(token.form_value("code")) == 1
    resources = harness.seen(0, "resource")
    assert all(r.status == 200 and r.client_certificate == frozenset({"localhost"}) for r in resources)
    # the harness's strict resource server answered every search: each is catalogued
    assert [r.path + "?" + r.raw_query if r.raw_query else r.path for r in resources] == [
        "/fhir/" + s.describe() for s in SEARCHES]


def test_against_the_harness_scripted_answers(harnessed):
    harness, w = harnessed()
    aanbieder = harness.urls["aanbieder"]
    assert done_params(w.flow(aanbieder)["done"])["status"] == "ok"
    for behaviour, reason in (("tamper_state", "state"), ("unknown_state", "state"), ("replay_state", "state"),
                              ("deny", "access_denied"), ("server_error", "server_error")):
        since = harness.mark()
        harness.answer("authorize", behaviour)
        assert done_params(w.flow(aanbieder)["done"]) == {"status": "error", "reason": reason}, behaviour
        assert _endpoints(harness, since) == ["authorize"], behaviour
    since = harness.mark()
    harness.answer("token", "server_error")
    assert done_params(w.flow(aanbieder)["done"]) == {"status": "error", "reason": "token_server_error"}
    assert _endpoints(harness, since) == ["authorize", "token"]
    # refresh twice: the latest refresh token each time
    assert done_params(w.flow(aanbieder)["done"])["status"] == "ok"
    since = harness.mark()
    assert w.post("/refresh").status_code == 200 and w.post("/refresh").status_code == 200
    first, second = harness.seen(since, "token")
    assert second.form_value("refresh_token") == json.loads(first.response_body)["refresh_token"]
    # 401 invalid_token: one refresh, the search again
    since = harness.mark()
    harness.answer("resource", "invalid_token")
    assert w.post("/fetch").json() == {"status": "ok", "requests": 29}
    assert _endpoints(harness, since) == ["resource", "token"] + ["resource"] * 28
    # short-lived consent and a token of 2 s: refreshed before use
    harness.answer("token", "short_lived")
    assert done_params(w.flow(aanbieder)["done"])["status"] == "ok"
    time.sleep(2.2)
    since = harness.mark()
    assert w.post("/fetch").json()["status"] == "ok"
    assert _endpoints(harness, since)[:2] == ["token", "resource"]
    harness.answer("token", "no_refresh_token")
    assert done_params(w.flow(aanbieder)["done"])["status"] == "ok"
    assert w.post("/refresh").status_code == 409


def test_against_the_harness_the_lists_scenario(harnessed):
    harness, w = harnessed()
    aanbieder = harness.urls["aanbieder"]
    assert done_params(w.flow(aanbieder)["done"])["status"] == "ok"
    harness.set_list("whitelist", "without_dva_host")
    assert w.post("/lists-refresh").json()["accepted"]["whitelist"] is True
    since = harness.mark()
    assert done_params(w.flow(aanbieder)["done"]) == {"status": "error", "reason": "whitelist"}
    assert _endpoints(harness, since) == []
    harness.set_list("whitelist", "normal")
    for mode in ("schema_invalid", "empty"):
        harness.set_list("zal", mode)
        answer = w.post("/lists-refresh").json()
        assert answer["accepted"]["zal"] is False and answer["volgnummers"]["zal"] == 100, (mode, answer)
        since = harness.mark()
        assert done_params(w.flow(aanbieder)["done"])["status"] == "ok", mode
        assert _endpoints(harness, since)[:2] == ["authorize", "token"]
    harness.set_list("zal", "normal")
    held = w.post("/lists-refresh").json()["volgnummers"]["zal"]
    harness.set_list("zal", "lower_volgnummer")
    answer = w.post("/lists-refresh").json()
    assert answer["accepted"]["zal"] is False and answer["volgnummers"]["zal"] == held


@pytest.mark.parametrize("fault", ["wrong-interfaceversie", "no-client-certificate", "endpoint-not-from-zal",
                                   "code-reused", "accepts-invalid-lists", "crashes-without-refresh-token",
                                   "predictable-state"])
def test_against_the_harness_faults_show(harnessed, fault):
    harness, w = harnessed(fault)
    aanbieder = harness.urls["aanbieder"]
    if fault == "wrong-interfaceversie":  # the authorization endpoint of 2.3.0, which answers 404
        out = w.flow(aanbieder)
        assert out["authorization_url"].split("?")[0] == harness.urls["other_authorization"]
        assert _endpoints(harness) == ["other"]
    elif fault == "no-client-certificate":  # the backchannel refuses the handshake: no token request arrives
        out = w.flow(aanbieder)
        assert done_params(out["done"]) == {"status": "error", "reason": "token_unreachable"}
        assert _endpoints(harness) == ["authorize"]
        assert not w.pgo.outgoing[-1]["client_certificate"] and "error" in w.pgo.outgoing[-1]
    elif fault == "endpoint-not-from-zal":
        out = w.flow(aanbieder)
        assert done_params(out["done"])["status"] == "ok"
        hosts = {s.endpoint: s.host.split(":")[0] for s in harness.seen(0) if s.endpoint != "lists"}
        assert hosts == {"authorize": "127.0.0.1", "token": "localhost", "resource": "127.0.0.1"}
    elif fault == "code-reused":
        harness.answer("token", "server_error")
        assert done_params(w.flow(aanbieder)["done"])["status"] == "ok"
        first, second = harness.seen(0, "token")
        assert first.status == 500 and second.status == 200
        assert harness.presentations(first.form_value("code")) == 2
    elif fault == "accepts-invalid-lists":  # an empty body leaves the PGO without a ZAL
        harness.set_list("zal", "empty")
        assert w.post("/lists-refresh").json()["accepted"]["zal"] is True
        assert done_params(w.flow(aanbieder)["done"]) == {"status": "error", "reason": "no_zal"}
    elif fault == "crashes-without-refresh-token":
        harness.answer("token", "no_refresh_token")
        r = w.browser.get(f"{w.pgo.base_url}/start", params={"aanbieder": aanbieder, "gegevensdienst": "48"})
        callback = w.browser.get(r.headers["location"]).headers["location"]
        assert w.browser.get(callback).status_code == 500
        assert _endpoints(harness) == ["authorize", "token"]
    elif fault == "predictable-state":
        for _ in range(3):
            w.flow(aanbieder)
        assert [s.param("state") for s in harness.seen(0, "authorize")] == ["1", "2", "3"]
