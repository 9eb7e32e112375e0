"""Per-flow state and the recording HTTP layer every step kind uses.

Each scenario runs in its own :class:`FlowContext`: its own variables, cookies and HTTP
clients, so flows never see each other's state. Every request goes through
:meth:`FlowContext.request`, which applies timeouts, records the exchange and never raises
for network trouble (the exchange carries the error instead).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from validatiestraat.report.model import Exchange
from validatiestraat.scenario.template import render
from validatiestraat.target import ClientIdentity, Target

MAX_BODY = 512 * 1024  # bytes of a body kept in the evidence
MAX_RESPONSE = 64 * 1024 * 1024  # a larger response is not read: the exchange ends with an error


class Recorder:
    """Collects exchanges of all flows of a run (thread- and task-safe)."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        #: literal secret values seen during the run (tokens, codes, passwords)
        self.secrets: set[str] = set()

    def next_id(self) -> str:
        with self._lock:
            return f"x{next(self._ids):04d}"

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def secret(self, value: Any) -> None:
        if isinstance(value, str) and len(value) >= 6:
            with self._lock:
                self.secrets.add(value)


class RunState:
    """What the flows of one run share: settled facts about the target (e.g. which body encoding
    its token endpoint accepts) and counters the run's verdict needs (logins that could not be
    completed). Flows run concurrently; coroutines take :attr:`lock` before deciding a fact."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.facts: dict[str, Any] = {}
        self.logins = 0  # authorization requests that went through a login
        self.logins_completed = 0  # ... that reached the redirect_uri
        self.login_config_errors: list[str] = []  # ... that the tester's login settings could not complete


class TLSContexts:
    """SSL contexts for the run, built once per client identity and shared by all flows."""

    def __init__(self, target: Target):
        self.target = target
        self._cache: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def get(self, identity: str = "target") -> ssl.SSLContext:
        """``identity``: ``target`` (the suite's client cert), ``other`` (a second client),
        ``untrusted`` (cert from a CA the DVA should not trust) or ``none``."""
        with self._lock:
            if identity not in self._cache:
                self._cache[identity] = self._build(identity)
            return self._cache[identity]

    def _build(self, identity: str) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.target.trust:
            # the configured anchors replace the system store: MedMij backchannel trust is explicit
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = True
            ctx.verify_mode = ssl.CERT_REQUIRED
            for anchor in self.target.trust:
                ctx.load_verify_locations(cafile=str(anchor))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        cert, key, password = self._identity_files(identity)
        if cert and key:
            ctx.load_cert_chain(str(cert), str(key), password=password)
        from validatiestraat.engine import transport

        transport.trace_handshakes(ctx)  # to tell "client certificate demanded" from a plain reset
        return ctx

    def has_certificate(self, identity: str) -> bool:
        cert, key, _ = self._identity_files(identity)
        return bool(cert and key)

    def _identity_files(self, identity: str) -> tuple[Path | None, Path | None, str | None]:
        t = self.target
        if identity == "none":
            return None, None, None
        if identity == "other":
            c: ClientIdentity | None = t.other_client
            return (c.certificate, c.key, c.key_password) if c else (None, None, None)
        if identity == "untrusted":
            cert, key = t.option("untrusted_client_certificate"), t.option("untrusted_client_key")
            return (Path(cert) if cert else None, Path(key) if key else None, None)
        return t.client.certificate, t.client.key, t.client.key_password


@dataclass
class HttpSubject:
    """What an HTTP-based step hands to its checks."""

    exchange_id: str
    method: str
    url: str
    request_headers: dict[str, str]
    response: httpx.Response | None
    error: str | None
    elapsed_ms: float | None
    #: a stable code for a transport failure (engine/transport.py classify), e.g.
    #: "client_certificate_required"; None when a response came back
    error_code: str | None = None
    #: whether a client certificate was offered (False on the frontchannel, like a browser)
    client_certificate: bool = True
    _json: Any = field(default=None, repr=False)
    _json_done: bool = field(default=False, repr=False)

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    def json(self) -> Any:
        """The parsed JSON body, or None when the body is not JSON."""
        if not self._json_done:
            self._json_done = True
            if self.response is not None and self.response.content:
                try:
                    self._json = self.response.json()
                except ValueError:
                    self._json = None
        return self._json

    def header(self, name: str) -> str | None:
        return self.response.headers.get(name) if self.response is not None else None

    def describe(self) -> str:
        """One line: what was sent and what came back."""
        got = f"HTTP {self.status}" if self.response is not None else f"no response ({self.error})"
        return f"{self.method} {self.url} -> {got}"


class FlowContext:
    """The state of one scenario run."""

    def __init__(
        self,
        target: Target,
        scenario_id: str,
        recorder: Recorder,
        tls: TLSContexts,
        variables: dict[str, Any] | None = None,
        whitelist: Any = None,
        run: RunState | None = None,
    ):
        self.target = target
        self.run = run if run is not None else RunState()
        #: for a variable a step should have captured but did not: the requirement IDs whose
        #: failure (or error) is why, and a one-line reason; the runner uses them to mark the
        #: checks that needed the variable BLOCKED instead of failing them
        self.blockers: dict[str, tuple[list[str], str]] = {}
        #: (resource type, id) of every resource the flow's FHIR responses returned, in order
        self.seen_resources: list[tuple[str, str]] = []
        #: the requirement IDs the check being evaluated verifies (set by the runner), for checks
        #: whose verdict depends on which requirement they judge (a root failure vs. blocked)
        self.judging: list[str] = []
        self.scenario_id = scenario_id
        self.recorder = recorder
        self.tls = tls
        self.vars: dict[str, Any] = dict(variables or {})
        self.step_name = ""
        #: X-Correlation-ID of this flow (one per authorization request, reused by token/resource calls)
        self.correlation_id = str(uuid.uuid4())
        self.whitelist = whitelist
        self._clients: dict[str, httpx.AsyncClient] = {}
        self.timeout = httpx.Timeout(target.read_timeout, connect=target.connect_timeout)

    # -- templating -------------------------------------------------------------------------
    def render(self, value: Any) -> Any:
        return render(value, self.vars, self.target)

    # -- HTTP -------------------------------------------------------------------------------
    def client(self, identity: str = "target") -> httpx.AsyncClient:
        """An HTTP client of this flow for a client identity (own cookies, shared TLS config)."""
        if identity not in self._clients:
            self._clients[identity] = httpx.AsyncClient(
                verify=self.tls.get(identity),
                timeout=self.timeout,
                follow_redirects=False,
                headers={"User-Agent": "validatiestraat"},
            )
        return self._clients[identity]

    async def request(
        self,
        method: str,
        url: str,
        *,
        identity: str = "target",
        headers: dict[str, str] | None = None,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        content: bytes | str | None = None,
        timeout: float | None = None,
    ) -> HttpSubject:
        """Send one request, record it, and return the subject. Never raises for network errors."""
        exchange_id = self.recorder.next_id()
        client = self.client(identity)
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        request = client.build_request(
            method, url, headers=headers, params=params, data=data, json=json, content=content,
            # (None would mean "no timeout at all"; the client's default applies unless a step sets one)
            timeout=httpx.Timeout(timeout, connect=min(timeout, self.target.connect_timeout)) if timeout
            else httpx.USE_CLIENT_DEFAULT,
        )
        response: httpx.Response | None = None
        error: str | None = None
        error_code: str | None = None
        t0 = time.perf_counter()
        refused = self._whitelist_refusal(request.url)
        with_certificate = self.tls.has_certificate(identity)
        if refused:
            error = refused
        else:
            from validatiestraat.engine import transport

            transport.reset_handshake()
            try:
                response = await _bounded(await client.send(request, stream=True), request)
            except httpx.TimeoutException as exc:
                error = f"timeout ({type(exc).__name__}) after {time.perf_counter() - t0:.1f} s"
                error_code = "timeout"
            except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
                error, error_code = _explain(exc, str(request.url), with_certificate)
            except ValueError as exc:
                error = f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - t0) * 1000
        body = request.content.decode("utf-8", "replace") if request.content else None
        self.recorder.add(
            Exchange(
                id=exchange_id,
                scenario=self.scenario_id,
                step=self.step_name,
                method=method,
                url=str(request.url),
                request_headers=list(request.headers.items()),
                request_body=body[:MAX_BODY] if body else None,
                status=response.status_code if response is not None else None,
                response_headers=list(response.headers.items()) if response is not None else [],
                response_body=_body_text(response),
                elapsed_ms=round(elapsed, 1),
                error=error,
                started=started,
            )
        )
        return HttpSubject(
            exchange_id=exchange_id,
            method=method,
            url=str(request.url),
            request_headers=dict(request.headers.items()),
            response=response,
            error=error,
            elapsed_ms=elapsed,
            error_code=error_code,
            client_certificate=with_certificate,
        )

    def _whitelist_refusal(self, url: httpx.URL) -> str | None:
        if self.whitelist is None:
            return None
        if self.whitelist.allows(str(url)):
            return None
        return f"not sent: host {url.host!r} is not on the MedMij Whitelist"

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


async def _bounded(streamed: httpx.Response, request: httpx.Request) -> httpx.Response:
    """Read a streamed response with a size limit (decoded bytes, so a compression bomb stops too)."""
    try:
        chunks, size = [], 0
        async for chunk in streamed.aiter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE:
                raise ValueError(f"the response body is larger than {MAX_RESPONSE // (1024 * 1024)} MiB; not read")
            chunks.append(chunk)
    finally:
        await streamed.aclose()
    # the body is decoded already: drop Content-Encoding so it is not decoded twice
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() != "content-encoding"]
    response = httpx.Response(streamed.status_code, headers=headers, content=b"".join(chunks), request=request,
                              extensions=streamed.extensions)
    return response


def _explain(exc: BaseException, url: str, client_certificate: bool) -> tuple[str, str | None]:
    """A transport failure as one sentence a user can act on, and its stable code."""
    from validatiestraat.engine import transport

    handshake = transport.last_handshake(httpx.URL(url).host)
    return (transport.explain(exc, url, client_certificate, handshake=handshake),
            transport.classify(exc, client_certificate=client_certificate, handshake=handshake))


def _short(exc: Exception) -> str:
    text = str(exc) or repr(exc)
    return text if len(text) < 300 else text[:297] + "..."


def _body_text(response: httpx.Response | None) -> str | None:
    if response is None or not response.content:
        return None
    content = response.content[:MAX_BODY]
    ctype = response.headers.get("content-type", "")
    if any(t in ctype for t in ("json", "xml", "text", "html", "x-www-form-urlencoded")) or not ctype:
        return content.decode(response.encoding or "utf-8", "replace")
    return f"<{len(response.content)} bytes of {ctype}>"
