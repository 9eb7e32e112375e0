"""The embedded reference DVA: a MedMij Authorization Server plus FHIR STU3 Resource Server.

It is the default target of ``validatiestraat run`` and the proof that every check can fail
(see :mod:`validatiestraat.reference.faults`)::

    from validatiestraat.reference.server import ReferenceDVA

    with ReferenceDVA(faults=["code-reusable"]) as dva:
        target = dva.target_dict()   # schema of validatiestraat/target.py, absolute paths
        ...

Two HTTPS listeners on free ports of 127.0.0.1 (URLs use ``localhost``; the server certificate
covers ``localhost`` and ``127.0.0.1``), each served by ``http.server.ThreadingHTTPServer`` in a
daemon thread:

- frontchannel: ``/oauth/authorize``, the login and consent pages, ``/oauth/consents``;
  server certificate only;
- backchannel: ``/oauth/token`` and the FHIR base ``/fhir``; mutual TLS against the test CA (a
  client without a certificate, or with one from another CA, fails the handshake).

The two listeners have their own ports and TLS contexts. Under the fault
``frontchannel-client-cert-required`` a third listener serves the frontchannel application with a
context that demands a client certificate, and the published authorization endpoint points at it
(the MedMij lists and the consent page stay on the plain frontchannel).

The resource server is strict by default (``strict=True``): it answers only the gegevensdienst's
catalogued queries and reads (see :mod:`validatiestraat.reference.fhir`). At start one long-lived
access token is issued for test person 1 (``target_dict()["resource"]["access_token"]``), as the
Nictiz qualification hands one out. The test person ``SHORT_LIVED_PERSON`` gets access tokens of
3 seconds, so that a suite sees an expired token (RS-AUTH-05) after a short wait.

The TLS handshake runs in the connection's own thread, so a stalled client cannot block the
listener. :meth:`ReferenceDVA.stop` closes open (keep-alive) connections and joins their threads.

Hooks (all optional; the defaults are the reference DVA as described above):

- ``observer(request, response, arrived)``: called for every request any listener answers
  (also the ones refused before an application saw them, e.g. a chunked body), after the
  response is made and before it is written; ``arrived`` is ``time.monotonic()`` at arrival;
- ``ports``: fixed ports per listener (``{"front": 8443, "back": 8444}``; 0 or absent: a free
  port) and ``host``: the address to listen on (default 127.0.0.1; a loopback address is named
  ``localhost`` in URLs, any other address or name is used as given and added to the server
  certificate);
- ``harness``: a :class:`HarnessMode`, the PGO harness's DVA and stelselnode
  (:mod:`validatiestraat.pgo.harness`): the OCL holds the PGO under test with its registered
  redirect_uri, the backchannel also trusts the PGO's own client CA, valid authorization
  requests are answered without pages, the channel applications can be wrapped (scripted
  answers) and the MedMij lists come from the harness.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from validatiestraat.reference.data import PERSONS, SHORT_ACCESS_TOKEN_LIFETIME, SHORT_LIVED_PERSON
from validatiestraat.reference.faults import check_faults, resource_response_limit, token_response_limit
from validatiestraat.reference.fhir import ResourceServer
from validatiestraat.reference.oauth import (
    AANBIEDER,
    ACCESS_TOKEN_LIFETIME,
    DEFAULT_OCL,
    MAX_STATE_LENGTH,
    AuthorizationServer,
    Flow,
    OclEntry,
)
from validatiestraat.reference.pki import TestPKI
from validatiestraat.reference.tlsconfig import BACK, FRONT, build_ssl_context, peer_names, require_client_certificate
from validatiestraat.reference.web import App, Request, Response
from validatiestraat.lists.build import LIST_PATHS

#: where the reference DVA publishes its MedMij lists (frontchannel; ``?api=2`` is accepted)
LIST_PATH_SET = frozenset(LIST_PATHS.values())

HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0
MAX_BODY = 1024 * 1024
#: the listener of the authorization endpoint under frontchannel-client-cert-required
AUTHORIZE = "authorize"
#: how long after issuance the short-lived person's token is tried again (its lifetime plus a margin)
TOKEN_EXPIRY_WAIT = SHORT_ACCESS_TOKEN_LIFETIME + 1.0
REDIRECT_URIS = {
    "pgo.validatiestraat.test": "https://pgo.validatiestraat.test/callback",
    "pgo2.validatiestraat.test": "https://pgo2.validatiestraat.test/callback",
}
#: how long stop() waits for a connection's thread after closing its socket
CLOSE_TIMEOUT = 2.0

#: sees every answered request: (request, response, time.monotonic() at arrival)
Observer = Callable[[Request, Response, float], None]


@dataclass
class HarnessMode:
    """The reference DVA as the PGO harness's DVA and stelselnode (see the module docstring)."""

    #: the OAuth Client List: the PGO under test (its Hostname is its client_id)
    clients: tuple[OclEntry, ...]
    #: client_id -> its registered redirect_uri, accepted exactly as given by the authorization
    #: endpoint (other redirect_uris are judged by the reference DVA's usual rules)
    redirect_uris: Mapping[str, str] = field(default_factory=dict)
    #: more trust anchors (PEM files) for client certificates on the backchannel
    client_cas: tuple[Path, ...] = ()
    #: answers a valid authorization request instead of the login and consent pages (gets the
    #: flow; see AuthorizationServer.decide). None: the pages, as in a normal run
    authorize: Callable[[Flow], Response] | None = None
    #: wraps each channel application: wrap(channel, app) -> app ("front" or "back")
    wrap: Callable[[str, App], App] | None = None
    #: the MedMij lists to publish ({"zal": bytes, ...}), asked for at every list request
    lists: Callable[[], dict[str, bytes]] | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "validatiestraat-reference-dva"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: "_Listener"

    def _dispatch(self) -> None:
        arrived = time.monotonic()
        refusal: Response | None = None
        body = b""
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            refusal = Response.text(411, "chunked request bodies are not supported; send Content-Length")
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                refusal = Response.text(400, "bad Content-Length")
            else:
                if length > MAX_BODY:
                    refusal = Response.text(413, "request body too large")
                elif length > 0:
                    body = self.rfile.read(length)
        req = self._request(body)
        if refusal is not None:
            self._observe(req, refusal, arrived)
            self._write(refusal, True)
            return
        try:
            response = self.server.app(req)
        except Exception as exc:  # the reference DVA must never hang a client on its own bug
            self.server.note({"event": "error", "channel": self.server.channel, "path": req.path,
                              "error": f"{type(exc).__name__}: {exc}"})
            if self.server.verbose:
                traceback.print_exc()
            response = Response.text(500, "internal server error")
        self._observe(req, response, arrived)
        self._write(response, self.command == "HEAD")

    def _observe(self, req: Request, response: Response, arrived: float) -> None:
        observer = self.server.observer
        if observer is None:
            return
        try:
            observer(req, response, arrived)
        except Exception as exc:  # an observer's bug must not cost the client its answer
            self.server.note({"event": "error", "channel": self.server.channel, "path": req.path,
                              "error": f"observer: {type(exc).__name__}: {exc}"})
            if self.server.verbose:
                traceback.print_exc()

    def _request(self, body: bytes) -> Request:
        target = self.path
        if "://" in target:  # absolute-form request target
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        raw_path, _, raw_query = target.partition("?")
        try:
            peer = peer_names(self.connection.getpeercert())  # type: ignore[attr-defined]
        except (ValueError, AttributeError):
            peer = frozenset()
        return Request(
            method=self.command,
            path=unquote(raw_path),
            raw_path=raw_path,
            raw_query=raw_query,
            headers=self.headers,
            body=body,
            channel=self.server.channel,
            base_url=self.server.base_url,
            peer_names=peer,
        )

    def _write(self, response: Response, head_only: bool = False) -> None:
        try:  # a header http.server cannot encode (latin-1) would leave the client without an answer
            for name, value in response.headers:
                f"{name}: {value}".encode("latin-1")
                if "\r" in value or "\n" in value:
                    raise ValueError("line break in a header value")
        except (UnicodeEncodeError, ValueError) as exc:
            self.server.note({"event": "error", "channel": self.server.channel, "error": f"bad header: {exc}"})
            response = Response.text(500, "internal server error")
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if not head_only and response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        if self.server.verbose:
            sys.stderr.write(f"[{self.server.channel}] {self.address_string()} {format % args}\n")


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, channel: str, ssl_context: ssl.SSLContext, app: App,
                 note: Callable[[dict[str, Any]], None], verbose: bool = False, *,
                 host: str = "127.0.0.1", port: int = 0, url_host: str = "localhost",
                 observer: Observer | None = None):
        super().__init__((host, port), _Handler)
        self.channel = channel
        self.ssl_context = ssl_context
        self.app = app
        self.note = note
        self.verbose = verbose
        self.observer = observer
        self.base_url = f"https://{url_host}:{self.server_address[1]}"
        #: the threads of open connections and their sockets (closed by close_connections())
        self._open_lock = threading.Lock()
        self._open: dict[threading.Thread, Any] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"reference-dva-{self.channel}-connection", daemon=True)
        with self._open_lock:
            self._open[thread] = request
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Shut the sockets of open connections down (a keep-alive client would otherwise hold
        its thread for IDLE_TIMEOUT) and wait for their threads."""
        deadline = time.monotonic() + timeout
        while True:
            with self._open_lock:
                open_now = list(self._open.items())
            if not open_now or time.monotonic() >= deadline:
                return
            for _, sock in open_now:
                try:  # the plain socket's shutdown: the handler thread's blocked read returns
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except (OSError, TypeError, ValueError):
                    pass
            for thread, _ in open_now:
                thread.join(min(0.05, max(0.0, deadline - time.monotonic())))

    def finish_request(self, request: Any, client_address: Any) -> None:
        # runs in the connection's thread: do the TLS handshake here, not in accept()
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:  # headers and body go out as separate writes: do not let Nagle delay the second one
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.note({"event": "tls-handshake-failed", "channel": self.channel,
                       "error": f"{type(exc).__name__}: {exc}"})
            return
        with self._open_lock:  # the wrapped socket owns the connection now
            if threading.current_thread() in self._open:
                self._open[threading.current_thread()] = tls
        try:
            tls.settimeout(IDLE_TIMEOUT)
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError) as exc:
            self.note({"event": "connection-error", "channel": self.channel, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.note({"event": "error", "channel": self.channel, "error": traceback.format_exc(limit=3)})


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ReferenceDVA:
    """The embedded reference DVA (see the module docstring)."""

    def __init__(
        self,
        workdir: Path | str | None = None,
        faults: Iterable[str] = (),
        code_lifetime: float = 60.0,
        login_variant: int = 1,
        *,
        access_token_lifetime: float = ACCESS_TOKEN_LIFETIME,
        strict: bool = True,
        verbose: bool = False,
        observer: Observer | None = None,
        ports: Mapping[str, int] | None = None,
        host: str = "127.0.0.1",
        harness: HarnessMode | None = None,
    ):
        if login_variant not in (1, 2):
            raise ValueError("login_variant must be 1 or 2")
        self.faults: frozenset[str] = check_faults(faults)
        self.code_lifetime = float(code_lifetime)
        self.login_variant = login_variant
        self.access_token_lifetime = float(access_token_lifetime)
        #: the resource server answers only the gegevensdienst's catalogued queries and reads
        self.strict = bool(strict)
        self.verbose = verbose
        #: sees every answered request (see the module docstring)
        self.observer = observer
        self.ports: dict[str, int] = dict(ports or {})
        unknown = set(self.ports) - {FRONT, BACK, AUTHORIZE}
        if unknown:
            raise ValueError(f"ports: unknown listener(s) {', '.join(sorted(unknown))}; known: front, back")
        self.host = host
        #: the name of the host in URLs (and in the server certificate)
        self.url_host = "localhost" if _is_loopback(host) else host
        #: the PGO harness's mode (None: the reference DVA)
        self.harness = harness
        if harness is not None and not harness.clients:
            raise ValueError("harness mode needs at least one client for the OAuth Client List")
        #: the long-lived access token issued at start (test person 1, scope of gegevensdienst 48)
        self.access_token: str | None = None
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self._owns_workdir = False
        self.workdir: Path | None = None
        self.pki: TestPKI | None = None
        self.auth: AuthorizationServer | None = None
        self.fhir: ResourceServer | None = None
        self._listeners: dict[str, _Listener] = {}
        self._threads: list[threading.Thread] = []
        self._events_lock = threading.Lock()
        #: what happened (authorize/token/fhir requests, handshake failures); no secrets
        self.events: list[dict[str, Any]] = []
        self._list_fetches = 0
        self._lists_cache: dict[str, bytes] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "ReferenceDVA":
        if self._listeners:
            raise RuntimeError("the reference DVA is already running")
        if self._workdir_arg is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="validatiestraat-reference-"))
            self._owns_workdir = True
        else:
            self.workdir = self._workdir_arg.resolve()
            self.workdir.mkdir(parents=True, exist_ok=True)
        harness = self.harness
        names, ips = ["localhost"], ["127.0.0.1"]
        if self.url_host != "localhost":
            (ips if _is_ip(self.url_host) else names).append(self.url_host)
        pki_clients = {"client_id": harness.clients[0].client_id} if harness is not None else {}
        # a harness reuses the PKI of its workdir, so that a PGO configured to trust its CA once keeps doing so
        make = TestPKI.load_or_generate if harness is not None else TestPKI.generate
        self.pki = make(self.workdir, server_names=tuple(names), server_ips=tuple(ips), **pki_clients)
        ocl = harness.clients if harness is not None else DEFAULT_OCL
        self.auth = AuthorizationServer(self.faults, code_lifetime=self.code_lifetime,
                                        access_token_lifetime=self.access_token_lifetime,
                                        login_variant=self.login_variant, record=self.note, ocl=ocl,
                                        redirect_uris=harness.redirect_uris if harness is not None else None,
                                        auto_consent=harness.authorize if harness is not None else None)
        self.fhir = ResourceServer(self.auth, self.faults, record=self.note, strict=self.strict)
        if harness is None:  # the harness has no use for a pre-issued token
            self.access_token = self.auth.preissue(PERSONS[0].username, DEFAULT_OCL[0].client_id)
        front: App = self._front
        back: App = self._back
        if harness is not None and harness.wrap is not None:
            front, back = harness.wrap(FRONT, front), harness.wrap(BACK, back)
        listeners = [(FRONT, FRONT, front), (BACK, BACK, back)]
        if "frontchannel-client-cert-required" in self.faults:
            listeners.append((AUTHORIZE, FRONT, front))
        try:
            for name, channel, app in listeners:
                ctx = build_ssl_context(self.pki, self.faults, channel, self.workdir)
                if name == AUTHORIZE:  # no browser has a client certificate for the frontchannel
                    require_client_certificate(ctx, self.pki)
                if channel == BACK and harness is not None:
                    for ca in harness.client_cas:  # the PGO's own client CA, next to the test CA
                        ctx.load_verify_locations(cafile=str(ca))
                listener = _Listener(channel, ctx, app, self.note, self.verbose, host=self.host,
                                     port=int(self.ports.get(name) or 0), url_host=self.url_host,
                                     observer=self.observer)
                self._listeners[name] = listener
                thread = threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.05},
                                          name=f"reference-dva-{name}", daemon=True)
                thread.start()
                self._threads.append(thread)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for listener in self._listeners.values():
            listener.shutdown()
            listener.server_close()
        for thread in self._threads:
            thread.join(timeout=2)
        for listener in self._listeners.values():
            listener.close_connections()
        self._listeners.clear()
        self._threads.clear()
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self._owns_workdir = False

    def __enter__(self) -> "ReferenceDVA":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._listeners)

    # ------------------------------------------------------------------ applications
    def note(self, event: dict[str, Any]) -> None:
        with self._events_lock:
            self.events.append({"time": time.time(), **event})
            if len(self.events) > 10000:
                del self.events[:1000]

    def _front(self, req: Request) -> Response:
        assert self.auth is not None
        if req.path in LIST_PATH_SET:
            return self._list(req)
        return self.auth.handle_front(req)

    # ------------------------------------------------------------------ MedMij lists
    def lists(self) -> dict[str, bytes]:
        """The ZAL, OCL, Whitelist and GNL describing this DVA and the suite's clients.

        Under ``list-volgnummer-decreases`` every fetch of a list gets a lower Volgnummer than
        the one before (a receiver must refuse that, LIST-SEM-01).
        """
        from validatiestraat.lists.build import reference_lists

        if self.harness is not None and self.harness.lists is not None:
            return self.harness.lists()  # the harness publishes (and numbers) its own lists
        decreasing = "list-volgnummer-decreases" in self.faults
        with self._events_lock:
            if self._lists_cache is not None and not decreasing:
                return self._lists_cache  # one publication: same content, same Volgnummer
            self._list_fetches += 1
            volgnummer = max(1, 1000 - self._list_fetches) if decreasing else 2
        lists = reference_lists(self, volgnummer=volgnummer,
                                break_schema="list-schema-broken" in self.faults,
                                missing_from_whitelist="list-host-missing" in self.faults)
        self._lists_cache = lists
        return lists

    def _list(self, req: Request) -> Response:
        from validatiestraat.lists.build import list_for_path

        body = list_for_path(self.lists(), req.path)
        if body is None:  # pragma: no cover - LIST_PATH_SET and list_for_path agree
            return Response.text(404, "no such list")
        return Response(200, [("Content-Type", "application/xml; charset=utf-8")], body)

    def _back(self, req: Request) -> Response:
        assert self.auth is not None and self.fhir is not None
        if req.path == "/oauth/token":
            return self.auth.handle_token(req)
        if req.path == "/fhir" or req.path.startswith("/fhir/"):
            return self.fhir.handle(req)
        return Response.json(404, {"error": "not_found", "error_description": f"{req.path} does not exist"})

    # ------------------------------------------------------------------ addresses and target
    def _require_running(self) -> None:
        if not self._listeners:
            raise RuntimeError("start() the reference DVA first")

    @property
    def frontchannel_url(self) -> str:
        self._require_running()
        return self._listeners[FRONT].base_url

    @property
    def backchannel_url(self) -> str:
        self._require_running()
        return self._listeners[BACK].base_url

    @property
    def authorization_url(self) -> str:
        """The listener of the authorization endpoint: the frontchannel, or under
        frontchannel-client-cert-required the one that demands a client certificate."""
        self._require_running()
        return self._listeners.get(AUTHORIZE, self._listeners[FRONT]).base_url

    def target_dict(self) -> dict[str, Any]:
        """This DVA as a target (schema ``validatiestraat.target.TARGET_SCHEMA``; absolute paths)."""
        self._require_running()
        assert self.pki is not None
        pki = self.pki
        main, other = DEFAULT_OCL[0], DEFAULT_OCL[1]
        first = PERSONS[0]

        def login_fields(person: Any) -> dict[str, str]:
            if self.login_variant == 2:
                return {"bsn": person.bsn, "wachtwoord": person.password}
            return {"username": person.username, "password": person.password}

        return {
            "name": "validatiestraat reference DVA",
            "fhir_version": "stu3",
            "aanbieder": AANBIEDER,
            "gegevensdiensten": ["48"],
            "endpoints": {
                "authorization": f"{self.authorization_url}/oauth/authorize",
                "token": f"{self.backchannel_url}/oauth/token",
                "resource": f"{self.backchannel_url}/fhir",
            },
            "client": {
                "client_id": main.client_id,
                "redirect_uri": REDIRECT_URIS[main.client_id],
                "certificate": str(pki.client.cert_path),
                "key": str(pki.client.key_path),
            },
            "other_client": {
                "client_id": other.client_id,
                "redirect_uri": REDIRECT_URIS[other.client_id],
                "certificate": str(pki.other_client.cert_path),
                "key": str(pki.other_client.key_path),
            },
            "trust": [str(pki.ca_path)],
            # the long-lived access token issued at start (as the Nictiz qualification hands one out)
            "resource": {"access_token": self.access_token},
            "login": {
                "driver": "form",
                "fields": login_fields(first),
                "submit": {"decision": "approve"},
                "deny": {"decision": "deny"},
            },
            "options": {
                "reference": True,
                "faults": sorted(self.faults),
                "login_variant": self.login_variant,
                "long_lived_consent": True,
                # optional extensions the reference DVA offers (the scenarios run only when these are set)
                "vertegenwoordiging": True,
                "abonneren": True,
                "abonneren_maximale_duur": 30,
                "code_lifetime_seconds": self.code_lifetime,
                "access_token_lifetime_seconds": self.access_token_lifetime,
                # the expired-token scenario (RS-AUTH-05) logs in as the person whose tokens live 3 s
                # and tries the token again after this wait
                "token_expiry_wait_seconds": TOKEN_EXPIRY_WAIT,
                "token_expiry_login_fields": login_fields(SHORT_LIVED_PERSON),
                # the resource server answers only the gegevensdienst's catalogued queries and reads
                "strict_queries": self.strict,
                "max_state_length": MAX_STATE_LENGTH,
                # a valid redirect_uri of the client with a percent-encoded character (AS-AUTHZ-10)
                "encoded_redirect_uri": REDIRECT_URIS[main.client_id] + "/%7Evalidatiestraat",
                # what the consent page must show (AS-AUTHZ-13)
                "consent_page_names": [main.organisation_name, "Basisgegevens zorg"],
                # 10 s; scaled down when $VALIDATIESTRAAT_SLOW_SECONDS shortens the slow-token fault
                "token_response_limit_seconds": token_response_limit(),
                "resource_response_limit_seconds": resource_response_limit(self.faults),
                # TLS checks: the test CA stands in for PKIoverheid (backchannel) and for the public
                # CAs of the frontchannel
                "tls_issuing_cas": ["validatiestraat Test Root CA"],
                "tls_frontchannel_trust": "target",
                "untrusted_client_certificate": str(pki.untrusted_client.cert_path),
                "untrusted_client_key": str(pki.untrusted_client.key_path),
                "persons": [p.username for p in PERSONS],
                "person_login_fields": [login_fields(p) for p in PERSONS],
                # a valid scope for another gegevensdienst (49): its token must not read /fhir (RS-AUTH-04)
                "other_service_scope": f"{AANBIEDER}~49",
                # a gegevensdienst this aanbieder offers but the OCL does not list for the client (AS-AUTHZ-06)
                "unlisted_service_scope": f"{AANBIEDER}~51",
                # person 2 has no data for 49: this scope is granted only partly (AS-TOKEN-14)
                "partial_availability": {
                    "person": PERSONS[1].username,
                    "login_fields": login_fields(PERSONS[1]),
                    "scope": f"{AANBIEDER}~48 {AANBIEDER}~49",
                    "granted_scope": f"{AANBIEDER}~48",
                },
                # "Beheren toestemmingen": login form, then one revoke form per client
                # the MedMij lists this DVA publishes about itself (LIST-*; a ZAL-based target uses them)
                "lists": {kind: f"{self.frontchannel_url}{path}?api=2" for kind, path in LIST_PATHS.items()},
                "consent_management": {
                    "url": f"{self.frontchannel_url}/oauth/consents",
                    "fields": {"username": first.username, "password": first.password},
                    "revoke_button": "revoke",
                },
            },
        }

    def write_target(self, path: Path | str) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        header = ("# validatiestraat reference DVA target (generated; valid while this server runs)\n"
                  f"# faults: {', '.join(sorted(self.faults)) or 'none'}\n")
        out.write_text(header + yaml.safe_dump(self.target_dict(), sort_keys=False, allow_unicode=True),
                       encoding="utf-8")
        return out
