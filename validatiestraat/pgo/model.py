"""What the PGO harness records and how a scenario scripts its answers.

The harness answers the PGO as a DVA (authorization endpoint, token endpoint, FHIR resource
server) and as the stelselnode (ZAL, OCL, Whitelist, GNL). Every request the PGO makes is a
:class:`Seen`; checks judge these. Scenarios change how the harness answers with
:meth:`Harness.answer` and what the lists say with :meth:`Harness.set_list`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

#: endpoints of the harness a request can arrive at
ENDPOINTS = ("authorize", "token", "resource", "lists", "other")

#: scripted answers per endpoint (``Harness.answer(endpoint, behaviour, count)``); the first of
#: each list is the default
BEHAVIOURS: dict[str, tuple[str, ...]] = {
    # authorize: the person logs in and consents automatically (a synthetic test person) unless
    # scripted: deny -> error=access_denied; server_error -> error=server_error; tamper_state ->
    # the state with its last character changed; unknown_state -> a state the PGO never sent;
    # replay_state -> the state of the previous completed flow (with a fresh code)
    "authorize": ("approve", "deny", "server_error", "tamper_state", "unknown_state", "replay_state"),
    # token: ok; server_error -> HTTP 500 (the code stays unused); no_refresh_token -> a response
    # without refresh_token (short-lived consent); no_scope -> without scope; short_lived ->
    # expires_in 2 and the token is refused after 2 s
    "token": ("ok", "server_error", "no_refresh_token", "no_scope", "short_lived"),
    # resource: ok; invalid_token -> 401 with WWW-Authenticate: Bearer error="invalid_token"
    "resource": ("ok", "invalid_token"),
}

#: list modes (``Harness.set_list(kind, mode)``; kind: zal, ocl, whitelist, gnl)
LIST_MODES = ("normal", "without_dva_host", "lower_volgnummer", "schema_invalid", "empty")


@dataclass
class Seen:
    """One request the PGO made to the harness, and what the harness answered."""

    index: int  # 0, 1, 2 ... in arrival order over the whole run
    time: float  # time.monotonic() at arrival
    endpoint: str  # one of ENDPOINTS
    method: str
    path: str  # percent-decoded path
    raw_query: str  # exactly as received
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    form: list[tuple[str, str]] | None  # parsed when the body is application/x-www-form-urlencoded
    host: str  # the Host header
    #: the client certificate presented in the TLS handshake: its subject names (CN and SANs);
    #: empty when none was presented (frontchannel, or a PGO without mTLS)
    client_certificate: frozenset[str]
    status: int
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    #: the harness's scripted behaviour that shaped the answer ("approve", "server_error", ...)
    behaviour: str = ""
    #: id of the exchange in the run's Recorder (evidence in every report)
    exchange_id: str = ""

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def param(self, name: str) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return None

    def form_value(self, name: str) -> str | None:
        for k, v in self.form or []:
            if k == name:
                return v
        return None

    def describe(self) -> str:
        return f"{self.method} {self.path}{'?' + self.raw_query if self.raw_query else ''} -> HTTP {self.status}"


class Harness(Protocol):
    """What the step kinds and checks need of the harness (see pgo/harness.py)."""

    #: the harness's endpoints: authorization, token, resource, zal, ocl, whitelist, gnl, and
    #: the interfaceversie under which the ZAL publishes them
    urls: dict[str, str]

    def mark(self) -> int:
        """The index the next request will get (a scenario's window starts here)."""

    def seen(self, since: int = 0, endpoint: str | None = None) -> list[Seen]:
        """Requests from index ``since`` on, optionally only those of one endpoint."""

    async def wait_for(self, endpoint: str | None, since: int, timeout: float, count: int = 1) -> list[Seen]:
        """Wait (at most ``timeout`` s) until ``count`` requests of ``endpoint`` arrived since
        ``since``; return what arrived (possibly fewer: the deadline passed)."""

    def answer(self, endpoint: str, behaviour: str, count: int | None = 1) -> None:
        """Answer the next ``count`` requests of ``endpoint`` this way (None: until changed)."""

    def set_list(self, kind: str, mode: str) -> None:
        """Publish list ``kind`` in ``mode`` from now on (a new Volgnummer per change)."""

    def reset(self) -> None:
        """Default answers and normal lists again (between scenarios)."""
