"""The embedded reference PGO: a small, conforming PGO server (DVP) with fault switches.

It plays the PGO side of the MedMij 2.x Verzamelen flow (domain brief §1.2-§1.9, §2.11) against
a DVA and a stelselnode, so that the PGO suite (``validatiestraat run --role pgo``) has a target
that is known to conform, and, with the faults of :mod:`validatiestraat.pgo.faults`, a target
that breaks one PGO-* rule at a time::

    from validatiestraat.pgo.reference import ReferencePGO

    with ReferencePGO(workdir, {"zal": ..., "whitelist": ..., "ocl": ..., "gnl": ...},
                      trust=harness_ca, client_certificate=cert, client_key=key,
                      faults=["predictable-state"]) as pgo:
        target = pgo.target_dict()        # the pgo: block of validatiestraat/pgo/target.py
        ...

Against the PGO harness (:mod:`validatiestraat.pgo.harness`), whose OCL must name the PGO's
redirect_uri before the PGO exists, :func:`start_with_harness` picks the port first (``port=``)
and wires the two together (the harness's lists, CA and issued client certificate).

One HTTPS listener on a free port of 127.0.0.1 (URLs use ``localhost``; its own throw-away CA and
server certificate, :attr:`ReferencePGO.ca_path`), served by the reference DVA's listener
(:mod:`validatiestraat.reference.server`) in daemon threads:

``GET /start?aanbieder=<name>&gegevensdienst=<id>``
    Fetches the lists again (a rejected list keeps the last good copy), resolves the
    authorization, token and resource endpoints from the ZAL (the highest interfaceversie that
    offers the gegevensdienst) and answers 302 to the authorization endpoint with response_type=code, client_id,
    redirect_uri, scope (the aanbieder name), a fresh state of 256 random bits,
    MedMij-Request-ID and X-Correlation-ID (fresh UUIDs). When no flow can start (no valid ZAL,
    the aanbieder or gegevensdienst not on it, a host not on the Whitelist) no DVA is contacted:
    302 to ``/done?status=error&reason=no_zal|not_on_zal|whitelist``.
``GET /callback``
    Checks state (unknown, replayed or expired: no token request), handles ``error=``, exchanges
    the code once over mutual TLS (form body, the flow's X-Correlation-ID, a new
    MedMij-Request-ID; a 5xx answer is not retried with the same code), then runs the
    gegevensdienst's catalogued searches (:func:`validatiestraat.rs.catalogue.required_searches`)
    once each with ``Authorization: Bearer``; 302 to ``/done?status=ok`` or
    ``/done?status=error&reason=...``.
``POST /fetch``
    The searches again with the stored token: an expired token is refreshed first; a 401
    invalid_token leads to one refresh and one retry; without a usable refresh token: 409
    ``{"status": "needs_authorization"}``. Answers ``{"status", "requests", "failed"}``.
``POST /refresh``
    grant_type=refresh_token with the latest refresh token, new MedMij-Request-ID and new
    X-Correlation-ID (used by later resource requests); the rotated refresh token is stored.
``POST /lists-refresh``
    Fetches the lists again: ``{"accepted": {kind: bool}, "reasons": {kind: text}, "volgnummers": ...}``.
``GET /done``
    A small HTML page naming the outcome.

Every outgoing request has connect and read timeouts and each operation a deadline below the
harness's wait (``timeout - 2`` seconds), so a caller is never left hanging. What the PGO sent
is kept in :attr:`ReferencePGO.outgoing` (tokens included: it is a test tool).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from validatiestraat.lists import model as M
from validatiestraat.lists.checks import (CheckOptions, ListDocument, entry_count, is_loopback, load_document,
                                         validate_schema)
from validatiestraat.lists.fetch import FetchOptions, fetch_url
from validatiestraat.lists.resolve import ListResolutionError, Whitelist, resolve_endpoints
from validatiestraat.lists.xmlsafe import ListReadError
from validatiestraat.pgo.faults import check_pgo_faults
from validatiestraat.reference.pki import issue, make_ca
from validatiestraat.reference.server import _Listener
from validatiestraat.reference.tlsconfig import TLS12_CIPHERS
from validatiestraat.reference.web import Request, Response
from validatiestraat.rs.catalogue import Search, required_searches

#: list kinds the PGO reads, in fetch order (the ZAL and the Whitelist are needed for a flow)
LIST_KINDS: tuple[str, ...] = ("zal", "whitelist", "ocl", "gnl")
#: how long a started flow waits for its callback
FLOW_LIFETIME = 600.0
#: expires_in assumed when a token response has none (MedMij: 15 minutes)
DEFAULT_EXPIRES_IN = 900
#: tries of one resource request under retries-forever-on-401 (bounded: we must stop somewhere)
FOREVER_TRIES = 20
#: flows kept in memory (oldest dropped first)
MAX_FLOWS = 500
MAX_OUTGOING = 5000
ORGANISATION_NAME = "validatiestraat Referentie-PGO"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_id() -> str:
    """A random UUID (MedMij-Request-ID, X-Correlation-ID)."""
    return str(uuid.uuid4())


@dataclass
class Flow:
    """One authorization request the PGO started (keyed by its state)."""

    state: str
    correlation_id: str
    request_id: str | None
    aanbieder: str  # without @medmij
    gegevensdienst: str
    endpoints: dict[str, Any]  # authorization, token, resource (what the PGO contacts)
    zal_endpoints: dict[str, Any]  # as resolved from the ZAL (the Whitelist is checked on these)
    authorization_url: str
    created: float
    used: bool = False


@dataclass
class Consent:
    """The tokens of the last completed flow (one at a time: the harness drives one person)."""

    aanbieder: str
    gegevensdienst: str
    endpoints: dict[str, Any]
    zal_endpoints: dict[str, Any]
    flow_correlation_id: str
    #: the X-Correlation-ID of resource requests: the flow's, after a refresh the refresh's
    correlation_id: str
    access_token: str
    expires_in: int
    issued: float
    refresh_token: str | None
    first_refresh_token: str | None
    scope: str | None
    refreshes: int = 0

    @property
    def expires_at(self) -> float:
        return self.issued + self.expires_in

    def expired(self, now: float) -> bool:
        # a small margin: a token is not sent in the last moments of its life
        margin = min(5.0, self.expires_in * 0.1)
        return now >= self.expires_at - margin


@dataclass
class HeldList:
    """The last good copy of one list."""

    document: ListDocument | None
    volgnummer: int | None
    accepted: float


@dataclass
class _Outcome:
    status: str  # ok | partial | needs_authorization | error
    requests: int = 0
    reason: str | None = None
    failed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "requests": self.requests}
        if self.reason:
            out["reason"] = self.reason
        if self.failed:
            out["failed"] = self.failed
        return out


class _Refused(Exception):
    """An outgoing connection the PGO refuses to make (host not on the Whitelist)."""


class ReferencePGO:
    """The embedded reference PGO (see the module docstring)."""

    def __init__(
        self,
        workdir: Path | str | None,
        stelselnode: dict[str, str],
        trust: Path | str,
        client_certificate: Path | str,
        client_key: Path | str,
        client_id: str = "localhost",
        aanbieder_default: str | None = None,
        gegevensdienst: str = "48",
        faults: Iterable[str] = (),
        *,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
        flow_lifetime: float = FLOW_LIFETIME,
        port: int = 0,
        verbose: bool = False,
    ):
        self.faults: frozenset[str] = check_pgo_faults(faults)
        missing = [k for k in ("zal", "whitelist") if not (stelselnode or {}).get(k)]
        if missing:
            raise ValueError(f"stelselnode needs the URL of the {' and the '.join(missing)}")
        self.stelselnode = {k: str(v) for k, v in stelselnode.items() if k in LIST_KINDS and v}
        self.trust = Path(trust)
        self.client_certificate = Path(client_certificate)
        self.client_key = Path(client_key)
        self.client_id = client_id
        self.aanbieder_default = aanbieder_default
        self.gegevensdienst = str(gegevensdienst)
        #: seconds the harness waits for the PGO (published in the target); operations end before
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.flow_lifetime = float(flow_lifetime)
        #: the listener's port (0: a free one)
        self.requested_port = int(port)
        self.verbose = verbose
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self._owns_workdir = False
        self.workdir: Path | None = None
        self.ca_path: Path | None = None
        self._listener: _Listener | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        #: serialises operations on the consent (callback, fetch, refresh)
        self._op_lock = threading.Lock()
        self._flows: dict[str, Flow] = {}
        self._state_counter = 0
        self.consent: Consent | None = None
        self.lists: dict[str, HeldList] = {}
        #: what happened (list decisions, refusals, errors); no network detail
        self.events: list[dict[str, Any]] = []
        #: every request the PGO sent (method, url, headers, body, client_certificate, status)
        self.outgoing: list[dict[str, Any]] = []
        self._ctx_cert: ssl.SSLContext | None = None
        self._ctx_plain: ssl.SSLContext | None = None
        #: one pooled client per identity: keep-alive connections, as a real PGO keeps them
        self._clients: dict[bool, httpx.Client] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "ReferencePGO":
        if self._listener is not None:
            raise RuntimeError("the reference PGO is already running")
        if self._workdir_arg is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="validatiestraat-reference-pgo-"))
            self._owns_workdir = True
        else:
            self.workdir = self._workdir_arg.resolve()
            self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            server_ctx = self._server_context(self.workdir / "pgo-pki")
            self._ctx_cert = self._client_context(with_certificate=True)
            self._ctx_plain = self._client_context(with_certificate=False)
            self._listener = _Listener("pgo", server_ctx, self._app, self.note, self.verbose,
                                       port=self.requested_port)
            self._thread = threading.Thread(target=self._listener.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="reference-pgo", daemon=True)
            self._thread.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self._listener is not None:
            self._listener.shutdown()
            self._listener.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._listener is not None and hasattr(self._listener, "close_connections"):
            self._listener.close_connections()  # keep-alive connections of browsers and harnesses
        self._listener = None
        self._thread = None
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self._owns_workdir = False

    def __enter__(self) -> "ReferencePGO":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._listener is not None

    def _server_context(self, directory: Path) -> ssl.SSLContext:
        ca = make_ca("validatiestraat Reference PGO CA").write(directory, "ca")
        server = issue(ca, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"]).write(directory, "server")
        assert ca.cert_path and server.cert_path and server.key_path
        self.ca_path = ca.cert_path
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(TLS12_CIPHERS)
        ctx.options |= ssl.OP_NO_COMPRESSION | getattr(ssl, "OP_NO_RENEGOTIATION", 0)
        ctx.load_cert_chain(str(server.cert_path), str(server.key_path))
        ctx.verify_mode = ssl.CERT_NONE  # the frontchannel: a browser has no client certificate
        return ctx

    def _client_context(self, with_certificate: bool) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(self.trust))
        if with_certificate:
            ctx.load_cert_chain(str(self.client_certificate), str(self.client_key))
        return ctx

    # ------------------------------------------------------------------ addresses and target
    @property
    def base_url(self) -> str:
        if self._listener is None:
            raise RuntimeError("start() the reference PGO first")
        return self._listener.base_url

    @property
    def port(self) -> int:
        return int(urlsplit(self.base_url).port or 443)

    @property
    def redirect_uri(self) -> str:
        """``https://localhost:<port>/callback``: on the client's host (the OCL Hostname)."""
        return f"https://{self.client_id}:{self.port}/callback"

    def target_dict(self) -> dict[str, Any]:
        """This PGO as a target for the harness (the ``pgo:`` block of validatiestraat/pgo/target.py)."""
        base = self.base_url
        return {
            "role": "pgo",
            "name": "validatiestraat reference PGO",
            "pgo": {
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "organisation_name": ORGANISATION_NAME,
                "client_certificate": str(self.client_certificate),
                "trust": [str(self.ca_path)],
                "start": {
                    "method": "GET",
                    "url": f"{base}/start?aanbieder=${{aanbieder}}&gegevensdienst=${{gegevensdienst}}",
                    "authorization_url": {"from": "location"},
                },
                "login": {"mode": "none"},
                "done": f"{base}/done",
                "fetch": {"method": "POST", "url": f"{base}/fetch"},
                "refresh": {"method": "POST", "url": f"{base}/refresh"},
                "lists_refresh": {"method": "POST", "url": f"{base}/lists-refresh"},
                "timeout": int(self.timeout) if float(self.timeout).is_integer() else self.timeout,
                "gegevensdienst": self.gegevensdienst,
            },
        }

    # ------------------------------------------------------------------ bookkeeping
    def note(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append({"time": time.time(), **event})
            if len(self.events) > 10000:
                del self.events[:1000]
            if self.verbose:
                print(f"[reference-pgo] {event}")

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.outgoing.append(entry)
            if len(self.outgoing) > MAX_OUTGOING:
                del self.outgoing[:500]

    def flows(self) -> list[Flow]:
        with self._lock:
            return list(self._flows.values())

    def _deadline(self) -> float:
        return time.monotonic() + max(1.0, self.timeout - 2.0)

    @contextmanager
    def _operation(self) -> Iterator[bool]:
        """One operation on the consent at a time; False when another one keeps it too long."""
        acquired = self._op_lock.acquire(timeout=max(1.0, self.timeout - 2.0))
        try:
            yield acquired
        finally:
            if acquired:
                self._op_lock.release()

    # ------------------------------------------------------------------ the application
    def _app(self, req: Request) -> Response:
        method = "GET" if req.method == "HEAD" else req.method
        routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/"): self._index,
            ("GET", "/start"): self._start,
            ("GET", "/callback"): self._callback,
            ("GET", "/done"): self._done,
            ("POST", "/fetch"): self._fetch,
            ("POST", "/refresh"): self._refresh_endpoint,
            ("POST", "/lists-refresh"): self._lists_refresh,
        }
        handler = routes.get((method, req.path))
        if handler is None:
            if req.path in {p for _, p in routes}:
                return Response.json(405, {"error": f"{req.method} is not supported on {req.path}"})
            return Response.json(404, {"error": f"{req.path} does not exist"})
        return handler(req)

    def _page(self, status: int, title: str, body: str) -> Response:
        html = ("<!DOCTYPE html>\n<html lang=\"nl\"><head><meta charset=\"utf-8\">"
                f"<title>{escape(title)} - {escape(ORGANISATION_NAME)}</title></head><body>"
                f"<header><h1>{escape(ORGANISATION_NAME)}</h1></header><main>{body}</main>"
                "<footer><small>validatiestraat reference PGO - test environment</small></footer></body></html>\n")
        return Response.html(status, html)

    def _index(self, req: Request) -> Response:
        return self._page(200, "Start", "<p>Reference PGO: <code>/start?aanbieder=...&amp;gegevensdienst=...</code></p>")

    def _done(self, req: Request) -> Response:
        q = _first(req.query)
        status = q.get("status", "")
        reason = q.get("reason", "")
        if status == "ok":
            body = '<h2 id="status" data-status="ok">Gegevens opgehaald</h2><p>De gegevens zijn opgehaald.</p>'
        else:
            body = (f'<h2 id="status" data-status="{escape(status or "error")}">Er is iets misgegaan</h2>'
                    f'<p id="reason" data-reason="{escape(reason)}">Reden: {escape(reason or "onbekend")}</p>')
        return self._page(200, "Klaar", body)

    def _done_redirect(self, status: str, reason: str | None = None) -> Response:
        params = [("status", status)] + ([("reason", reason)] if reason else [])
        return Response.redirect(f"{self.base_url}/done?{urlencode(params)}")

    # ------------------------------------------------------------------ /start
    def _start(self, req: Request) -> Response:
        q = _first(req.query)
        aanbieder = (q.get("aanbieder") or self.aanbieder_default or "").strip().lower()
        if aanbieder.endswith("@medmij"):
            aanbieder = aanbieder[: -len("@medmij")]
        gegevensdienst = (q.get("gegevensdienst") or self.gegevensdienst).strip()
        if not aanbieder:
            return self._refuse_start("no_aanbieder", "no aanbieder given (aanbieder=...)")
        self.refresh_lists()  # a rejected list keeps the last good copy
        with self._lock:
            zal = self.lists.get("zal")
        if zal is None or zal.document is None:
            return self._refuse_start("no_zal", "no valid Zorgaanbiederslijst")
        try:
            zal_endpoints = self._resolve(zal.document, aanbieder, gegevensdienst)
        except ListResolutionError as exc:
            return self._refuse_start("not_on_zal", str(exc))
        refusal = self._whitelist_refusal(zal_endpoints["authorization"], zal_endpoints["token"],
                                          zal_endpoints["resource"])
        if refusal:
            return self._refuse_start("whitelist", refusal)
        endpoints = dict(zal_endpoints)
        if "endpoint-not-from-zal" in self.faults:
            endpoints["authorization"] = _swap_host(endpoints["authorization"])
            endpoints["resource"] = _swap_host(endpoints["resource"])
        with self._lock:
            self._state_counter += 1
            state = str(self._state_counter) if "predictable-state" in self.faults else secrets.token_urlsafe(32)
        correlation_id, request_id = new_id(), new_id()
        scope = f"{aanbieder}~{gegevensdienst}" if "scope-with-gegevensdienst" in self.faults else aanbieder
        params = [("response_type", "code"), ("client_id", self.client_id), ("redirect_uri", self.redirect_uri),
                  ("scope", scope), ("state", state)]
        if "no-medmij-ids-on-authorize" not in self.faults:
            params += [("MedMij-Request-ID", request_id), ("X-Correlation-ID", correlation_id)]
        sep = "&" if "?" in endpoints["authorization"] else "?"
        url = endpoints["authorization"] + sep + urlencode(params)
        flow = Flow(state, correlation_id, request_id, aanbieder, gegevensdienst, endpoints, zal_endpoints, url,
                    time.monotonic())
        with self._lock:
            self._flows[state] = flow
            while len(self._flows) > MAX_FLOWS:
                del self._flows[next(iter(self._flows))]
        self._record({"time": time.time(), "kind": "authorize", "method": "GET", "url": url, "headers": {},
                      "body": b"", "client_certificate": False, "status": None})
        return Response.redirect(url)

    def _refuse_start(self, reason: str, detail: str) -> Response:
        """No flow: the user's browser goes to the PGO's own error page (no DVA is contacted)."""
        self.note({"event": "start-refused", "reason": reason, "detail": detail})
        return self._done_redirect("error", reason)

    def _resolve(self, zal: ListDocument, aanbieder: str, gegevensdienst: str) -> dict[str, Any]:
        right = resolve_endpoints(zal, aanbieder, gegevensdienst)
        if "wrong-interfaceversie" not in self.faults or not isinstance(zal.content, M.Zal):
            return right
        za = zal.content.find(right["aanbieder"])
        others = [iv for iv in (za.interfaceversies if za else [])
                  if iv.id is not None and iv.id.value != right["interfaceversie"]]
        others.sort(key=lambda iv: _version_key(iv.id.value if iv.id else ""), reverse=True)
        for iv in others:
            entries = [g for g in iv.gegevensdiensten if g.id is not None and g.id.value == gegevensdienst]
            entries += [g for g in iv.gegevensdiensten if g not in entries]
            for g in entries:
                resource = next((r.resource.value for r in g.systeemrollen if r.resource), None)
                if g.authorization and g.token and resource:
                    return {**right, "authorization": g.authorization.value, "token": g.token.value,
                            "resource": resource, "interfaceversie": iv.id.value if iv.id else None}
        return right

    # ------------------------------------------------------------------ lists
    def refresh_lists(self) -> dict[str, Any]:
        """Fetch every list again; a list is accepted when it is readable, of the right kind, valid
        against its XML Schema, not empty and its Volgnummer not lower than the one held."""
        accepted: dict[str, bool] = {}
        reasons: dict[str, str] = {}
        for kind in LIST_KINDS:
            url = self.stelselnode.get(kind)
            if not url:
                continue
            document, reason = self._read_list(kind, url)
            with self._lock:
                held = self.lists.get(kind)
                if reason is None and document is not None and held is not None and held.document is not None:
                    new, old = document.volgnummer_int, held.volgnummer
                    if new is not None and old is not None and new < old \
                            and "accepts-lower-volgnummer" not in self.faults:
                        reason = f"Volgnummer {new} is lower than the {old} of the copy held"
                if reason is None:
                    self.lists[kind] = HeldList(document, document.volgnummer_int if document else None,
                                                time.monotonic())
            accepted[kind] = reason is None
            if reason is not None:
                reasons[kind] = reason
            self.note({"event": "list", "kind": kind, "accepted": reason is None, "reason": reason,
                       "volgnummer": document.volgnummer_int if document else None})
        with self._lock:
            volgnummers = {k: h.volgnummer for k, h in self.lists.items()}
        return {"accepted": accepted, "reasons": reasons, "volgnummers": volgnummers}

    def _read_list(self, kind: str, url: str) -> tuple[ListDocument | None, str | None]:
        """(document, None) when acceptable; (document or None, reason) when not. Under
        accepts-invalid-lists every problem but a failed fetch is overlooked."""
        lax = "accepts-invalid-lists" in self.faults
        options = FetchOptions(trust=[self.trust], certificate=self.client_certificate, key=self.client_key,
                               timeout=min(self.read_timeout, 5.0))
        try:
            data, http = fetch_url(url, options)
        except ListReadError as exc:
            return None, f"not fetched: {exc.problems[0].message if exc.problems else exc}"
        try:
            document = load_document(data, url, http=http)
        except ListReadError as exc:
            if lax:
                return None, None  # the copy is replaced by nothing
            return None, f"not a readable list: {exc.problems[0].message if exc.problems else exc}"
        if document.kind != kind:
            return None, f"expected a {kind} list, got a {document.kind} list"
        if lax:
            return document, None
        loopback = is_loopback(urlsplit(url).hostname or "")
        errors = [f for f in validate_schema(document, CheckOptions(allow_loopback=loopback)) if f.severity == "error"]
        if errors:
            first = errors[0]
            where = f"line {first.line}: " if first.line else ""
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            return document, f"schema: {where}{first.message}{more}"
        if entry_count(document) == 0 and kind != "whitelist":
            # an aanbieder list without aanbieders is a bad publication: keep the last good copy. A
            # Whitelist without nodes is taken as it is: it allows no connection at all (fail-safe)
            return document, "the list has no entries"
        return document, None

    def _whitelist(self) -> Whitelist | None:
        with self._lock:
            held = self.lists.get("whitelist")
        if held is None or held.document is None:
            return None
        try:
            return Whitelist.from_document(held.document)
        except Exception:  # a (faultily accepted) list of another shape
            return None

    def _whitelist_refusal(self, *urls: str) -> str | None:
        if "ignores-whitelist" in self.faults:
            return None
        whitelist = self._whitelist()
        if whitelist is None:
            return "no valid Whitelist: no MedMij node may be contacted"
        for url in urls:
            reason = whitelist.refusal(url)
            if reason:
                return reason
        return None

    # ------------------------------------------------------------------ /callback
    def _callback(self, req: Request) -> Response:
        q = _first(req.query)
        state = q.get("state")
        now = time.monotonic()
        with self._lock:
            flow = self._flows.get(state) if state else None
            valid = flow is not None and not flow.used and now - flow.created <= self.flow_lifetime
            if not valid and "state-not-checked" in self.faults:
                flow = flow or (next(reversed(self._flows.values())) if self._flows else None)
                valid = flow is not None
            if valid and flow is not None:
                flow.used = True  # a state is good for one redirect
        if not valid or flow is None:
            self.note({"event": "callback-refused", "reason": "state"})
            return self._done_redirect("error", "state")
        if "error" in q:
            if "error-redirect-ignored" not in self.faults:
                self.note({"event": "callback-error", "error": q["error"]})
                return self._done_redirect("error", q["error"] or "error")
            code = q.get("code", "")
        else:
            code = q.get("code", "")
            if not code:
                return self._done_redirect("error", "no_code")
        with self._operation() as ok:
            if not ok:
                return self._done_redirect("error", "busy")
            deadline = self._deadline()
            consent, reason = self._exchange_code(flow, code, deadline)
            if consent is None:
                return self._done_redirect("error", reason or "token")
            with self._lock:
                self.consent = consent
            outcome = self._run_searches(consent, deadline)
        if outcome.status in ("ok", "partial"):
            return self._done_redirect("ok")
        return self._done_redirect("error", outcome.reason or outcome.status)

    # ------------------------------------------------------------------ token requests
    def _post_token(self, url: str, params: dict[str, str], correlation_id: str, deadline: float,
                    kind: str) -> httpx.Response | None:
        """One token request (None: no answer: refused, timed out, connection failed)."""
        refusal = self._whitelist_refusal(url)
        headers = {"MedMij-Request-ID": new_id(), "X-Correlation-ID": correlation_id, "Accept": "application/json"}
        with_cert = "no-client-certificate" not in self.faults
        if "token-json-body" in self.faults:
            body = json.dumps(params).encode("utf-8")
            headers["Content-Type"] = "application/json"
        else:
            body = urlencode(params).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        entry: dict[str, Any] = {"time": time.time(), "kind": kind, "method": "POST", "url": url,
                                 "headers": dict(headers), "body": body, "client_certificate": with_cert,
                                 "status": None}
        if refusal:
            entry["refused"] = refusal
            self._record(entry)
            self.note({"event": "refused", "where": kind, "reason": refusal})
            return None
        response = self._send("POST", url, headers, body, with_cert, deadline, entry)
        self._record(entry)
        return response

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None, with_cert: bool,
              deadline: float, entry: dict[str, Any]) -> httpx.Response | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            entry["error"] = "deadline passed"
            return None
        timeout = httpx.Timeout(min(self.read_timeout, remaining), connect=min(self.connect_timeout, remaining))
        with self._lock:
            client = self._clients.get(with_cert)
            if client is None:
                client = self._clients[with_cert] = httpx.Client(
                    verify=self._ctx_cert if with_cert else self._ctx_plain, follow_redirects=False,
                    headers={"User-Agent": "validatiestraat-reference-pgo"})
        try:
            response = client.request(method, url, headers=headers, content=body, timeout=timeout)
            response.read()
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            return None
        entry["status"] = response.status_code
        return response

    def _exchange_code(self, flow: Flow, code: str, deadline: float) -> tuple[Consent | None, str | None]:
        params = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id,
                  "redirect_uri": self.redirect_uri + ("/" if "redirect-uri-differs" in self.faults else "")}
        correlation_id = new_id() if "correlation-id-not-reused" in self.faults else flow.correlation_id
        tries = 2 if "code-reused" in self.faults else 1  # conforming: a code is presented once
        response = None
        sent = time.monotonic()  # the token's life is counted from the request, not from our reading of it
        for _ in range(tries):
            sent = time.monotonic()
            response = self._post_token(flow.endpoints["token"], params, correlation_id, deadline, "token")
            if response is not None and response.status_code < 500:
                break
        if response is None:
            return None, "token_unreachable"
        if response.status_code >= 500:
            return None, "token_server_error"
        body, problem = _token_body(response)
        if body is None:
            return None, problem
        if "refresh_token" not in body and "crashes-without-refresh-token" in self.faults:
            raise RuntimeError("token response without refresh_token (fault crashes-without-refresh-token)")
        refresh = body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else None
        return Consent(
            aanbieder=flow.aanbieder, gegevensdienst=flow.gegevensdienst, endpoints=flow.endpoints,
            zal_endpoints=flow.zal_endpoints, flow_correlation_id=flow.correlation_id,
            correlation_id=flow.correlation_id, access_token=body["access_token"],
            expires_in=_expires_in(body), issued=sent, refresh_token=refresh or None,
            first_refresh_token=refresh or None,
            scope=body.get("scope") if isinstance(body.get("scope"), str) else None,
        ), None

    def _refresh(self, consent: Consent, deadline: float) -> tuple[bool, str | None]:
        """Refresh the consent's access token; (True, None) or (False, reason)."""
        token = consent.first_refresh_token if "old-refresh-token" in self.faults else consent.refresh_token
        if not token:
            return False, "needs_authorization"
        correlation_id = (consent.flow_correlation_id if "refresh-correlation-id-reused" in self.faults
                          else new_id())
        params = {"grant_type": "refresh_code" if "refresh-code-grant" in self.faults else "refresh_token",
                  "refresh_token": token, "client_id": self.client_id}
        sent = time.monotonic()
        response = self._post_token(consent.endpoints["token"], params, correlation_id, deadline, "refresh")
        if response is None:
            return False, "token_unreachable"
        if response.status_code >= 500:
            return False, "token_server_error"
        body, problem = _token_body(response)
        if body is None:
            if problem and problem.startswith("invalid_grant"):
                with self._lock:  # the consent is gone (revoked, expired, rotated away)
                    consent.refresh_token = None
                return False, "needs_authorization"
            return False, problem
        if "refresh_token" not in body and "crashes-without-refresh-token" in self.faults:
            raise RuntimeError("refresh response without refresh_token (fault crashes-without-refresh-token)")
        with self._lock:
            consent.access_token = body["access_token"]
            consent.expires_in = _expires_in(body)
            consent.issued = sent
            rotated = body.get("refresh_token")
            if isinstance(rotated, str) and rotated:
                consent.refresh_token = rotated  # rotation: the old one is spent
            if isinstance(body.get("scope"), str):
                consent.scope = body["scope"]
            consent.correlation_id = correlation_id  # later resource requests carry the refresh's
            consent.refreshes += 1
        return True, None

    # ------------------------------------------------------------------ resource requests
    def _searches(self, gegevensdienst: str) -> list[Search]:
        searches = list(required_searches(gegevensdienst))
        if "extra-and-missing-searches" in self.faults and searches:
            searches = searches[:-1] + [Search("Patient", (), "bare Patient (fault)")]
        return searches

    def _run_searches(self, consent: Consent, deadline: float) -> _Outcome:
        outcome = _Outcome("ok")
        patient_id: str | None = None
        fixed_request_id = new_id()
        refreshed = False
        searches = self._searches(consent.gegevensdienst)
        if not searches:
            return _Outcome("error", reason="no catalogued searches for gegevensdienst " + consent.gegevensdienst)
        for search in searches:
            tries = 0
            while True:
                if time.monotonic() >= deadline:
                    outcome.status, outcome.reason = "error", "deadline"
                    return outcome
                if "token-used-after-expiry" not in self.faults and consent.expired(time.monotonic()):
                    if refreshed:
                        outcome.status, outcome.reason = "needs_authorization", "token expired"
                        return outcome
                    refreshed = True
                    ok, reason = self._refresh(consent, deadline)
                    if not ok:
                        outcome.status = "needs_authorization" if reason == "needs_authorization" else "error"
                        outcome.reason = reason
                        return outcome
                url = self._search_url(consent, search, patient_id)
                refusal = self._whitelist_refusal(consent.zal_endpoints["resource"])
                headers = {"Authorization": f"Bearer {consent.access_token}",
                           "Accept": "application/fhir+json",
                           "MedMij-Request-ID": fixed_request_id if "request-id-reused" in self.faults else new_id(),
                           "X-Correlation-ID": consent.correlation_id}
                entry: dict[str, Any] = {"time": time.time(), "kind": "resource", "method": "GET", "url": url,
                                         "headers": dict(headers), "body": b"", "client_certificate": True,
                                         "status": None}
                if refusal:
                    entry["refused"] = refusal
                    self._record(entry)
                    outcome.status, outcome.reason = "error", "whitelist"
                    return outcome
                response = self._send("GET", url, headers, None, True, deadline, entry)
                self._record(entry)
                outcome.requests += 1
                tries += 1
                if response is None:
                    outcome.failed.append(search.describe())
                    break
                if response.status_code == 401:
                    if "retries-forever-on-401" in self.faults:
                        if tries < FOREVER_TRIES:
                            continue
                        outcome.status, outcome.reason = "error", f"401 after {tries} tries"
                        return outcome
                    if not refreshed and consent.refresh_token:
                        refreshed = True
                        ok, reason = self._refresh(consent, deadline)
                        if ok:
                            continue  # the same search once more, with the new token
                        outcome.status = "needs_authorization" if reason == "needs_authorization" else "error"
                        outcome.reason = reason
                        return outcome
                    outcome.status, outcome.reason = "needs_authorization", "invalid_token"
                    return outcome
                if 200 <= response.status_code < 300:
                    if search.resource == "Patient" and patient_id is None:
                        patient_id = _patient_id(response)
                else:
                    outcome.failed.append(f"{search.describe()} -> HTTP {response.status_code}")
                break
        if outcome.failed:
            outcome.status = "partial"
        return outcome

    def _search_url(self, consent: Consent, search: Search, patient_id: str | None) -> str:
        base = consent.endpoints["resource"].rstrip("/")
        query = search.query
        extra: list[tuple[str, str]] = []
        if "patient-param" in self.faults and search.resource_type != "Patient":
            extra.append(("patient", patient_id or "1"))
        if "token-in-query" in self.faults:
            extra.append(("access_token", consent.access_token))
        if extra:
            query = "&".join(p for p in (query, urlencode(extra)) if p)
        return f"{base}/{search.resource}" + (f"?{query}" if query else "")

    # ------------------------------------------------------------------ /fetch, /refresh, /lists-refresh
    def _fetch(self, req: Request) -> Response:
        with self._operation() as ok:
            if not ok:
                return Response.json(503, {"status": "busy", "requests": 0})
            with self._lock:
                consent = self.consent
            if consent is None:
                return Response.json(409, {"status": "needs_authorization", "requests": 0})
            outcome = self._run_searches(consent, self._deadline())
        status = {"ok": 200, "partial": 200, "needs_authorization": 409}.get(outcome.status, 502)
        return Response.json(status, outcome.as_json())

    def _refresh_endpoint(self, req: Request) -> Response:
        with self._operation() as ok:
            if not ok:
                return Response.json(503, {"status": "busy"})
            with self._lock:
                consent = self.consent
            if consent is None or not consent.refresh_token:
                return Response.json(409, {"status": "needs_authorization"})
            before = consent.refresh_token
            done, reason = self._refresh(consent, self._deadline())
        if not done:
            status = 409 if reason == "needs_authorization" else 502
            return Response.json(status, {"status": "needs_authorization" if status == 409 else "error",
                                          "reason": reason})
        return Response.json(200, {"status": "ok", "expires_in": consent.expires_in,
                                   "rotated": consent.refresh_token != before,
                                   "has_refresh_token": consent.refresh_token is not None})

    def _lists_refresh(self, req: Request) -> Response:
        return Response.json(200, self.refresh_lists())


# ---------------------------------------------------------------------- helpers
def free_port() -> int:
    """A port of 127.0.0.1 that is free now (for a harness that must know the redirect_uri first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_with_harness(workdir: Path | str, faults: Iterable[str] = (), *, verbose: bool = False,
                       timeout: float = 10.0) -> tuple[Any, "ReferencePGO"]:
    """The PGO harness and the reference PGO configured against each other, both started: what
    ``validatiestraat run --role pgo`` needs for its default target. The harness's OCL holds the
    PGO (client_id ``localhost``, its exact redirect_uri) and issues its client certificate; the
    PGO reads the harness's lists and trusts its CA. Returns ``(harness, pgo)``; stop both
    (``pgo.stop()`` first). Unknown faults: :class:`~validatiestraat.reference.faults.UnknownFault`
    before anything starts."""
    from validatiestraat.pgo.harness import PGOHarness  # local: the harness is not needed otherwise

    chosen = check_pgo_faults(faults)
    workdir = Path(workdir)
    last_error: OSError | None = None
    for _ in range(3):  # the free port may be taken between free_port() and the listen
        port = free_port()
        harness = PGOHarness(workdir / "harness", "localhost", f"https://localhost:{port}/callback",
                             organisation_name=ORGANISATION_NAME, verbose=verbose).start()
        try:
            pgo = ReferencePGO(workdir / "pgo", {k: harness.urls[k] for k in LIST_KINDS}, harness.urls["ca"],
                               harness.urls["client_certificate"], harness.urls["client_key"],
                               aanbieder_default=harness.urls.get("aanbieder"), gegevensdienst=harness.gegevensdienst,
                               faults=chosen, port=port, timeout=timeout, verbose=verbose).start()
        except OSError as exc:
            harness.stop()
            last_error = exc
            continue
        except BaseException:
            harness.stop()
            raise
        return harness, pgo
    raise RuntimeError(f"the reference PGO could not listen on a free port: {last_error}")


def _first(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def _swap_host(url: str) -> str:
    """The URL with its host swapped (endpoint-not-from-zal): localhost <-> 127.0.0.1, else 127.0.0.1."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    new = "localhost" if host == "127.0.0.1" else "127.0.0.1"
    netloc = new + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _version_key(v: str) -> tuple:
    parts = re.findall(r"\d+|[A-Za-z]+", v)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _token_body(response: httpx.Response) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON of a successful token response, or (None, reason)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        return None, str(error) if isinstance(error, str) and error else f"token_http_{response.status_code}"
    if not isinstance(body, dict):
        return None, "token_response_not_json"
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        return None, "token_response_without_access_token"
    if str(body.get("token_type", "")).lower() != "bearer":
        return None, "token_type_not_bearer"
    return body, None


def _expires_in(body: dict[str, Any]) -> int:
    try:
        value = int(body.get("expires_in", DEFAULT_EXPIRES_IN))
    except (TypeError, ValueError):
        return DEFAULT_EXPIRES_IN
    return value if value > 0 else DEFAULT_EXPIRES_IN


def _patient_id(response: httpx.Response) -> str | None:
    try:
        bundle = response.json()
    except ValueError:
        return None
    if not isinstance(bundle, dict):
        return None
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient" and resource.get("id"):
            return str(resource["id"])
    return None


def is_uuid(value: str | None) -> bool:
    """Whether ``value`` is a lowercase canonical UUID (as the PGO sends them)."""
    return bool(value) and bool(_UUID.match(value or ""))


__all__ = ["ReferencePGO", "Flow", "Consent", "HeldList", "LIST_KINDS", "FOREVER_TRIES", "free_port", "is_uuid",
           "new_id", "start_with_harness"]
