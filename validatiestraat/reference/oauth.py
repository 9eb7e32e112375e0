"""The reference DVA's Authorization Server (MedMij OAuth 2.0 authorization code flow).

Frontchannel: ``GET /oauth/authorize`` → landing page → login → consent page → 302 to the
client's ``redirect_uri`` with ``code`` and ``state``. "Beheren toestemmingen" at
``/oauth/consents``. Backchannel (mutual TLS): ``POST /oauth/token``.

Behaviour follows domain brief §1.3-1.8 and §6.1-6.2 and RFC 6749; the fault switches of
:mod:`validatiestraat.reference.faults` bend it in documented ways.

All state is in memory, guarded by one lock. Codes and tokens are ``secrets.token_urlsafe(32)``.

Hooks for the PGO harness (:mod:`validatiestraat.pgo.harness`), all off by default:

- ``redirect_uris``: client_id -> a registered redirect_uri that the authorization endpoint
  accepts exactly as given (any other redirect_uri is judged by the usual rules);
- ``auto_consent``: a callable that answers a valid authorization request instead of the login
  and consent pages (it gets the :class:`Flow` and usually calls :meth:`AuthorizationServer.decide`);
- :meth:`AuthorizationServer.decide`, :meth:`AuthorizationServer.shorten_access_token` and
  :meth:`AuthorizationServer.withdraw_refresh_token`.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from validatiestraat.reference import pages
from validatiestraat.reference.data import PERSONS, TestPerson, person_by_bsn, person_by_username
from validatiestraat.reference.faults import slow_seconds
from validatiestraat.reference.web import Request, Response

AANBIEDER = "referentiezorgaanbieder"
AANBIEDER_DISPLAY = "Referentiezorgaanbieder (validatiestraat)"
#: the gegevensdienst served by the FHIR base of this reference DVA
SERVED_GEGEVENSDIENST = "48"
#: the GNL of the reference DVA: GegevensdienstId -> Weergavenaam
GNL: dict[str, str] = {"48": "Basisgegevens zorg", "49": "Huisartsgegevens", "51": "Documenten"}
#: gegevensdiensten the aanbieder offers at this authorization server. Only 48 has a resource
#: endpoint here: a token for 49 is "a token for another gegevensdienst" at /fhir (RS-AUTH-04);
#: 51 is offered but not listed for any client in the OCL (AS-AUTHZ-06).
OFFERED_GEGEVENSDIENSTEN = frozenset({"48", "49", "51"})

ACCESS_TOKEN_LIFETIME = 900.0
TOO_LONG_LIFETIME = 3600.0
REFRESH_TOKEN_LIFETIME = 183 * 24 * 3600.0  # about half a year
FLOW_LIFETIME = 15 * 60.0
SESSION_LIFETIME = 15 * 60.0
#: longest state accepted and echoed (RFC0060's bounds were not retrieved; see domain brief §7)
MAX_STATE_LENGTH = 1024

KNOWN_AUTHORIZE_PARAMS = frozenset({
    "response_type", "client_id", "redirect_uri", "scope", "state", "MedMij-Request-ID", "X-Correlation-ID",
    "MedMij_geboortedatum",
})
#: Vertegenwoordiging (extension): scope tokens for representation (domain brief §1.3, VERT)
REPRESENTATION_TOKENS = frozenset({"onbehalfof", "onbehalfofchild"})
#: Abonneren (extension): the ZAL MaximaleDuur of a subscription on gegevensdienst 48, in days
MAXIMALE_DUUR = 30
KNOWN_TOKEN_PARAMS = frozenset({"grant_type", "code", "redirect_uri", "client_id", "refresh_token", "scope"})
#: the state every error redirect carries under the error-redirect-state-hardcoded fault
HARDCODED_STATE = "xyz"
#: scope problems the invalid-scope-accepted fault lets through (the described ones; a malformed
#: GegevensdienstId or a gegevensdienst the aanbieder does not offer is still refused)
LAX_SCOPE_PROBLEMS = frozenset({"missing", "aanbieder", "unlisted"})


@dataclass(frozen=True)
class OclEntry:
    """One OAuth client of the reference DVA's OAuth Client List."""

    client_id: str  # the Hostname in the OCL
    organisation_name: str  # OAuthclientOrganisatienaam
    gegevensdiensten: frozenset[str]


DEFAULT_OCL: tuple[OclEntry, ...] = (
    OclEntry("pgo.validatiestraat.test", "validatiestraat PGO", frozenset({"48", "49"})),
    OclEntry("pgo2.validatiestraat.test", "validatiestraat PGO 2", frozenset({"48", "49"})),
)


# --------------------------------------------------------------------------- records
@dataclass
class Flow:
    id: str
    client_id: str
    redirect_uri: str
    state: str
    scope: list[tuple[str, str]]  # (scope token, gegevensdienst)
    created: float
    request_id: str | None = None
    correlation_id: str | None = None
    person: TestPerson | None = None
    variant: int = 1


@dataclass
class Grant:
    """A consent ("toestemming") of one person for one client."""

    id: str
    username: str
    client_id: str
    scope: str
    services: frozenset[str]
    created_wall: float
    revoked: bool = False
    #: issued out of band at start (the pre-issued token): "Beheren toestemmingen" leaves it alone
    pinned: bool = False


@dataclass
class CodeRecord:
    client_id: str
    redirect_uri: str
    grant_id: str
    issued: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)


@dataclass
class AccessToken:
    grant_id: str
    username: str
    client_id: str
    scope: str
    services: frozenset[str]
    expires: float
    revoked: bool = False


@dataclass
class RefreshToken:
    grant_id: str
    client_id: str
    expires: float
    active: bool = True


@dataclass
class TokenCheck:
    """Outcome of :meth:`AuthorizationServer.check_access_token`."""

    ok: bool
    token: AccessToken | None = None
    reason: str = ""


class ScopeProblem(str):
    """Why a scope is refused; ``kind`` is one of missing, aanbieder, unlisted, not-offered, syntax."""

    kind: str = "syntax"

    def __new__(cls, text: str, kind: str) -> "ScopeProblem":
        obj = super().__new__(cls, text)
        obj.kind = kind
        return obj


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


# --------------------------------------------------------------------------- helpers
def add_query(url: str, params: list[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended to its query (an existing query is kept)."""
    parts = urlsplit(url)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    # %20 for a space (not +): both form decoders and plain percent-decoders read it back unchanged
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(existing + params, quote_via=quote), ""))


def raw_query_value(value: str) -> str:
    """``value`` as the state-not-url-encoded fault sends it: printable ASCII as received (so &, #,
    +, space and % break the query), only what an HTTP header cannot carry (controls, non-ASCII)
    percent-encoded."""
    return "".join(c if 0x20 <= ord(c) < 0x7F else quote(c, safe="") for c in value)


def names_match(names: frozenset[str], client_id: str) -> bool:
    return client_id.lower() in {n.lower() for n in names}


# --------------------------------------------------------------------------- the server
class AuthorizationServer:
    def __init__(
        self,
        faults: frozenset[str] = frozenset(),
        *,
        code_lifetime: float = 60.0,
        access_token_lifetime: float = ACCESS_TOKEN_LIFETIME,
        login_variant: int = 1,
        ocl: tuple[OclEntry, ...] = DEFAULT_OCL,
        record: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        redirect_uris: Mapping[str, str] | None = None,
        auto_consent: Callable[[Flow], Response] | None = None,
    ):
        self.faults = faults
        self.code_lifetime = code_lifetime
        self.access_token_lifetime = TOO_LONG_LIFETIME if "expires-in-too-long" in faults else access_token_lifetime
        self.login_variant = login_variant
        self.ocl = {e.client_id: e for e in ocl}
        #: client_id -> a registered redirect_uri accepted exactly as given (PGO harness)
        self.redirect_uris: dict[str, str] = dict(redirect_uris or {})
        #: answers a valid authorization request without pages (PGO harness); None: the pages
        self.auto_consent = auto_consent
        self._record = record or (lambda event: None)
        self._clock = clock
        self._lock = threading.RLock()
        self.flows: dict[str, Flow] = {}
        self.codes: dict[str, CodeRecord] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.grants: dict[str, Grant] = {}
        self.sessions: dict[str, tuple[str, float]] = {}  # consent-management session -> (username, expiry)
        self.issued_values: set[str] = set()  # every code/token ever issued (uniqueness)

    # ------------------------------------------------------------------ utilities
    def _new_value(self) -> str:
        with self._lock:
            while True:
                # low-entropy-tokens: 32 random bits instead of 256 (still unique, easily guessed)
                value = secrets.token_hex(4) if "low-entropy-tokens" in self.faults else secrets.token_urlsafe(32)
                if value not in self.issued_values:
                    self.issued_values.add(value)
                    return value

    def _page(self, status: int, html: str) -> Response:
        return Response.html(status, html)

    def _error_page(self, status: int, message: str) -> Response:
        return self._page(status, pages.error_page(message, aanbieder_display=AANBIEDER_DISPLAY))

    def client_for_names(self, names: frozenset[str]) -> OclEntry | None:
        lowered = {n.lower() for n in names}
        return next((e for cid, e in self.ocl.items() if cid.lower() in lowered), None)

    @staticmethod
    def redirect_uri_problem(redirect_uri: str | None, client_id: str) -> str | None:
        """Why ``redirect_uri`` is not acceptable for ``client_id`` (None when it is)."""
        if not redirect_uri:
            return "redirect_uri is missing"
        try:
            parts = urlsplit(redirect_uri)
            _ = parts.port  # raises for a bad port
        except ValueError:
            return "redirect_uri is not a valid URL"
        if parts.scheme.lower() != "https":
            return "redirect_uri must use https"
        if parts.fragment or "#" in redirect_uri:
            return "redirect_uri must not contain a fragment"
        if parts.username or parts.password:
            return "redirect_uri must not contain user information"
        if (parts.hostname or "").lower() != client_id.lower():
            return "the host of redirect_uri is not the client's hostname in the OAuth Client List"
        return None

    @staticmethod
    def _usable_for_redirect(uri: str | None) -> bool:
        if not uri:
            return False
        try:
            parts = urlsplit(uri)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and bool(parts.hostname)

    def parse_scope(self, scope: str | None, client: OclEntry) -> list[tuple[str, str]] | ScopeProblem:
        """The requested (scope token, gegevensdienst) pairs, or the problem (:class:`ScopeProblem`)."""
        if scope is None or not scope.strip():
            return ScopeProblem("scope is missing", "missing")
        out: list[tuple[str, str]] = []
        for token in scope.split():
            if token in REPRESENTATION_TOKENS:
                continue  # Vertegenwoordiging: checked with MedMij_geboortedatum in authorize()
            days = None
            if token.startswith("subscribe~"):  # Abonneren: subscribe~<days>/<aanbieder>~<id>
                head, slash, inner = token.partition("/")
                if not slash or not head[len("subscribe~"):].isdigit() or "~" not in inner:
                    return ScopeProblem(f"scope '{token}' is not subscribe~<days>/<aanbieder>~<GegevensdienstId>",
                                        "syntax")
                days, token = int(head[len("subscribe~"):]), inner
            name, sep, service = token.partition("~")
            if name != AANBIEDER:
                return ScopeProblem(f"scope '{token}' does not name this aanbieder ({AANBIEDER})", "aanbieder")
            if not sep:
                service = SERVED_GEGEVENSDIENST  # 2.x Verzamelen: the bare aanbieder name
            elif not service.isdigit():
                return ScopeProblem(f"scope '{token}' has an invalid GegevensdienstId", "syntax")
            if service not in OFFERED_GEGEVENSDIENSTEN:
                return ScopeProblem(f"gegevensdienst {service} is not offered by this aanbieder", "not-offered")
            if service not in client.gegevensdiensten:
                return ScopeProblem(f"gegevensdienst {service} is not listed for client {client.client_id} in the "
                                    "OAuth Client List", "unlisted")
            if days is not None:  # grant at most the requested days and at most the ZAL MaximaleDuur
                granted = days if "subscription-duration-unbounded" in self.faults else min(days, MAXIMALE_DUUR)
                token = f"subscribe~{granted}/{token}"
            if (token, service) not in out:
                out.append((token, service))
        if not out:
            return ScopeProblem("scope names no gegevensdienst", "missing")
        return out

    @staticmethod
    def birth_date_problem(value: str | None) -> str | None:
        """Vertegenwoordiging: MedMij_geboortedatum must be a real date as JJJJMMDD."""
        import datetime as _dt

        if not value:
            return "MedMij_geboortedatum is required with onbehalfof/onbehalfofchild"
        try:
            if len(value) != 8 or not value.isdigit():
                raise ValueError
            _dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            return f"MedMij_geboortedatum {value!r} is not a date as JJJJMMDD"
        return None

    # ------------------------------------------------------------------ frontchannel
    def handle_front(self, req: Request) -> Response:
        routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/oauth/authorize"): self.authorize,
            ("POST", "/oauth/login-page"): self.login_page,
            ("POST", "/oauth/login"): self.login,
            ("GET", "/digid/inloggen"): self.digid_page,
            ("POST", "/digid/inloggen"): self.digid_login,
            ("POST", "/oauth/consent"): self.consent,
            ("GET", "/oauth/consents"): self.consents_login_page,
            ("POST", "/oauth/consents/login"): self.consents_login,
            ("POST", "/oauth/consents/revoke"): self.consents_revoke,
            ("GET", "/"): self.index,
        }
        handler = routes.get((req.method if req.method != "HEAD" else "GET", req.path))
        if handler is None:
            known_paths = {p for _, p in routes}
            if req.path in known_paths:
                return self._error_page(405, "Deze methode wordt hier niet ondersteund.")
            return self._error_page(404, "Deze pagina bestaat niet.")
        return handler(req)

    def index(self, req: Request) -> Response:
        body = ("<h2>validatiestraat reference DVA</h2><p>Authorization endpoint: <code>/oauth/authorize</code>. "
                "Toestemmingen beheren: <a href=\"/oauth/consents\">/oauth/consents</a>.</p>")
        return self._page(200, pages.page("Start", body, aanbieder_display=AANBIEDER_DISPLAY))

    def _error_redirect(self, redirect_uri: str, error: str, description: str, state: str | None,
                        *, request_error: bool = True) -> Response:
        params = [("error", error)]
        if "no-error-description" not in self.faults:
            params.append(("error_description", description))
        if not (request_error and "error-without-state" in self.faults):
            if "error-redirect-state-hardcoded" in self.faults:
                params.append(("state", HARDCODED_STATE))  # the same state for everyone
            elif state is not None:
                params.append(("state", state))
        return Response.redirect(add_query(redirect_uri, params))

    def authorize(self, req: Request) -> Response:
        pairs = req.query
        params: dict[str, str] = {}
        duplicates: set[str] = set()
        for k, v in pairs:
            if k in params:
                duplicates.add(k)
            else:
                params[k] = v
        self._record({"event": "authorize", "request_id": params.get("MedMij-Request-ID"),
                      "correlation_id": params.get("X-Correlation-ID"), "client_id": params.get("client_id"),
                      "params": sorted(params)})
        client_id = params.get("client_id")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri and "redirect-uri-double-decoded" in self.faults:
            from urllib.parse import unquote

            redirect_uri = unquote(redirect_uri)  # a second decoding: %7E in the URI becomes ~
        state = params.get("state")
        client = self.ocl.get(client_id or "")
        # 1. client and redirect_uri: never redirect on these errors (RFC 6749 §4.1.2.1)
        if client is None or "client_id" in duplicates:
            if "unknown-client-redirected" in self.faults and self._usable_for_redirect(redirect_uri):
                return self._error_redirect(redirect_uri or "", "unauthorized_client",
                                            "client_id is not on the OAuth Client List", state)
            reason = "client_id ontbreekt" if not client_id else "onbekende client (niet op de OAuth Client List)"
            return self._error_page(400, f"Ongeldig verzoek: {reason}.")
        registered = self.redirect_uris.get(client.client_id)
        if registered is not None and redirect_uri == registered:
            problem = None  # the client's registered redirect_uri, exactly
        else:
            problem = self.redirect_uri_problem(redirect_uri, client.client_id)
        if "redirect_uri" in duplicates:
            problem = "redirect_uri occurs more than once"
        if problem:
            if "bad-redirect-uri-redirected" in self.faults and self._usable_for_redirect(redirect_uri):
                return self._error_redirect(redirect_uri or "", "invalid_request", problem, state)
            return self._error_page(400, f"Ongeldig verzoek: {problem}.")
        assert redirect_uri is not None
        # 2. everything else: redirect with error (and state)
        if duplicates:
            return self._error_redirect(redirect_uri, "invalid_request",
                                        f"parameter(s) {', '.join(sorted(duplicates))} occur more than once", state)
        if "extra-param-rejected" in self.faults:
            unknown = sorted(set(params) - KNOWN_AUTHORIZE_PARAMS)
            if unknown:
                return self._error_redirect(redirect_uri, "invalid_request",
                                            f"unknown parameter(s): {', '.join(unknown)}", state)
        if "medmij-ids-required" in self.faults and not (params.get("MedMij-Request-ID") and params.get("X-Correlation-ID")):
            return self._error_redirect(redirect_uri, "invalid_request",
                                        "MedMij-Request-ID and X-Correlation-ID are required", state)
        response_type = params.get("response_type")
        if not response_type:
            return self._error_redirect(redirect_uri, "invalid_request", "response_type is missing", state)
        if response_type != "code" and "response-type-not-checked" not in self.faults:
            return self._error_redirect(redirect_uri, "unsupported_response_type",
                                        "only response_type=code is supported", state)
        if state is not None and len(state) > MAX_STATE_LENGTH:
            if "long-state-crash" in self.faults:
                raise RuntimeError("state too long for the session store (fault long-state-crash)")
            return self._error_redirect(redirect_uri, "invalid_request",
                                        f"state is longer than {MAX_STATE_LENGTH} characters", state)
        parsed = self.parse_scope(params.get("scope"), client)
        if isinstance(parsed, ScopeProblem) and "invalid-scope-accepted" in self.faults \
                and parsed.kind in LAX_SCOPE_PROBLEMS:
            parsed = [(AANBIEDER, SERVED_GEGEVENSDIENST)]  # the default scope instead of an error
        if isinstance(parsed, ScopeProblem):
            error = "401" if "error-code-not-rfc" in self.faults else "invalid_scope"
            return self._error_redirect(redirect_uri, error, str(parsed), state)
        scope = parsed
        if not state:
            return self._error_redirect(redirect_uri, "invalid_request", "state is missing", None)
        if REPRESENTATION_TOKENS & set((params.get("scope") or "").split()):
            problem = self.birth_date_problem(params.get("MedMij_geboortedatum"))
            if problem and "vertegenwoordiging-date-not-checked" not in self.faults:
                return self._error_redirect(redirect_uri, "invalid_request", problem, state)
        flow = Flow(self._new_value(), client.client_id, redirect_uri, state, scope, self._clock(),
                    params.get("MedMij-Request-ID"), params.get("X-Correlation-ID"), variant=self.login_variant)
        if self.auto_consent is not None:  # no pages: the hook decides (see decide())
            return self.auto_consent(flow)
        with self._lock:
            self._expire()
            self.flows[flow.id] = flow
        return self._page(200, pages.landing_page(flow.id, variant=flow.variant, aanbieder=AANBIEDER,
                                                  aanbieder_display=AANBIEDER_DISPLAY,
                                                  client_name=client.organisation_name))

    def _expire(self) -> None:
        now = self._clock()
        for fid in [f for f, fl in self.flows.items() if now - fl.created > FLOW_LIFETIME]:
            del self.flows[fid]
        for sid in [s for s, (_, exp) in self.sessions.items() if exp < now]:
            del self.sessions[sid]

    def _flow(self, flow_id: str | None) -> Flow | None:
        with self._lock:
            self._expire()
            return self.flows.get(flow_id or "")

    _EXPIRED = "Uw sessie is verlopen of onbekend. Begin opnieuw vanuit uw persoonlijke gezondheidsomgeving."

    def login_page(self, req: Request) -> Response:
        flow = self._flow(req.form_dict().get("flow"))
        if flow is None or flow.variant != 1:
            return self._error_page(400, self._EXPIRED)
        return self._page(200, pages.login_page(flow.id, aanbieder_display=AANBIEDER_DISPLAY))

    def login(self, req: Request) -> Response:
        form = req.form_dict()
        flow = self._flow(form.get("flow"))
        if flow is None or flow.variant != 1:
            return self._error_page(400, self._EXPIRED)
        person = person_by_username(form.get("username", "").strip())
        if person is None or not secrets.compare_digest(person.password, form.get("password", "")):
            return self._page(200, pages.login_page(flow.id, aanbieder_display=AANBIEDER_DISPLAY,
                                                    error="Onbekende gebruikersnaam of onjuist wachtwoord."))
        return self._after_login(flow, person)

    def digid_page(self, req: Request) -> Response:
        flow = self._flow(dict(req.query).get("sessie"))
        if flow is None or flow.variant != 2:
            return self._error_page(400, self._EXPIRED)
        return self._page(200, pages.digid_login_page(flow.id, aanbieder_display=AANBIEDER_DISPLAY))

    def digid_login(self, req: Request) -> Response:
        form = req.form_dict()
        flow = self._flow(form.get("sessie"))
        if flow is None or flow.variant != 2:
            return self._error_page(400, self._EXPIRED)
        person = person_by_bsn(form.get("bsn", "").strip())
        if person is None or not secrets.compare_digest(person.password, form.get("wachtwoord", "")):
            return self._page(200, pages.digid_login_page(flow.id, aanbieder_display=AANBIEDER_DISPLAY,
                                                          error="Onbekend BSN of onjuist wachtwoord."))
        return self._after_login(flow, person)

    def _logged_in(self, flow: Flow, person: TestPerson) -> Response | None:
        """``person`` logged in for ``flow``: the scope narrowed to what the person has data for,
        or the access_denied redirect when there is nothing (beschikbaarheidstoets)."""
        available = [(t, s) for t, s in flow.scope if s in person.services]
        if not available:  # beschikbaarheidstoets: no data for any requested gegevensdienst
            with self._lock:
                self.flows.pop(flow.id, None)
            return self._error_redirect(flow.redirect_uri, "access_denied",
                                        "no data available for the requested gegevensdienst", flow.state,
                                        request_error=False)
        with self._lock:
            flow.person = person
            if "scope-not-narrowed" not in self.faults:  # the fault grants what was asked, available or not
                flow.scope = available
        return None

    def _after_login(self, flow: Flow, person: TestPerson) -> Response:
        available = [(t, s) for t, s in flow.scope if s in person.services]
        refused = self._logged_in(flow, person)
        if refused is not None:
            return refused
        client = self.ocl[flow.client_id]
        services = [GNL[s] for _, s in available]
        client_name = client.organisation_name
        if "consent-page-anonymous" in self.faults:  # the person cannot see who asks for what
            client_name, services = "een applicatie", ["uw gegevens"]
        return self._page(200, pages.consent_page(flow.id, aanbieder_display=AANBIEDER_DISPLAY,
                                                  person_display=person.display,
                                                  client_name=client_name, services=services))

    def consent(self, req: Request) -> Response:
        form = req.form_dict()
        with self._lock:
            self._expire()
            flow = self.flows.get(form.get("flow", ""))
            if flow is None or flow.person is None:
                return self._error_page(400, self._EXPIRED)
            decision = form.get("decision")
            if decision not in ("approve", "deny"):
                return self._error_page(400, "Kies of u toestemming geeft.")
            del self.flows[flow.id]
        return self._complete(flow, decision)

    def decide(self, flow: Flow, decision: str = "approve", *, person: TestPerson | None = None,
               state: str | None = None, description: str | None = None) -> Response:
        """Answer ``flow`` without pages, as if ``person`` (default: test person 1) logged in and chose.

        ``decision``: ``approve`` (a code and the state), ``deny`` (error=access_denied) or any other
        RFC 6749 error code such as ``server_error`` (an error redirect with the state). ``state``
        replaces the flow's state in the redirect (the PGO harness's tampered, unknown or replayed
        states); ``description`` the error_description of an error redirect.
        """
        with self._lock:
            self.flows.pop(flow.id, None)
        refused = self._logged_in(flow, person or PERSONS[0])
        if refused is not None:
            return refused
        if decision in ("approve", "deny"):
            return self._complete(flow, decision, state=state, description=description)
        self._record({"event": "consent", "decision": decision, "client_id": flow.client_id})
        return self._error_redirect(flow.redirect_uri, decision,
                                    description or "the authorization server could not complete the request",
                                    flow.state if state is None else state, request_error=False)

    def _complete(self, flow: Flow, decision: str, *, state: str | None = None,
                  description: str | None = None) -> Response:
        """The redirect after the person's choice: a code and the state, or access_denied."""
        assert flow.person is not None
        if decision == "deny" and "deny-issues-code" not in self.faults:
            self._record({"event": "consent", "decision": "deny", "client_id": flow.client_id})
            return self._error_redirect(flow.redirect_uri, "access_denied",
                                        description or "the person did not give consent",
                                        flow.state if state is None else state, request_error=False)
        scope = " ".join(t for t, _ in flow.scope)
        grant = Grant(self._new_value(), flow.person.username, flow.client_id, scope,
                      frozenset(s for _, s in flow.scope), time.time())
        code = self._new_value()
        with self._lock:
            self.grants[grant.id] = grant
            self.codes[code] = CodeRecord(flow.client_id, flow.redirect_uri, grant.id, self._clock())
        self._record({"event": "consent", "decision": "approve", "client_id": flow.client_id,
                      "username": flow.person.username})
        state = flow.state if state is None else state
        if "state-not-echoed" in self.faults:
            state = f"changed-{secrets.token_urlsafe(6)}-{state}"
        if "state-not-url-encoded" in self.faults:
            raw = "&state=" + raw_query_value(state)  # the state as received: &, #, + and % break the query
            return Response.redirect(add_query(flow.redirect_uri, [("code", code)]) + raw)
        return Response.redirect(add_query(flow.redirect_uri, [("code", code), ("state", state)]))

    # ------------------------------------------------------------------ "Beheren toestemmingen"
    def consents_login_page(self, req: Request) -> Response:
        return self._page(200, pages.consents_login_page(aanbieder_display=AANBIEDER_DISPLAY))

    def consents_login(self, req: Request) -> Response:
        form = req.form_dict()
        person = person_by_username(form.get("username", "").strip())
        if person is None or not secrets.compare_digest(person.password, form.get("password", "")):
            return self._page(200, pages.consents_login_page(aanbieder_display=AANBIEDER_DISPLAY,
                                                             error="Onbekende gebruikersnaam of onjuist wachtwoord."))
        session = self._new_value()
        with self._lock:
            self.sessions[session] = (person.username, self._clock() + SESSION_LIFETIME)
        return self._consents_overview(session, person)

    def _consents_overview(self, session: str, person: TestPerson, message: str | None = None) -> Response:
        with self._lock:
            per_client: dict[str, list[Grant]] = {}
            for g in self.grants.values():
                if g.username == person.username and not g.revoked and not g.pinned:
                    per_client.setdefault(g.client_id, []).append(g)
        rows = []
        for cid, grants in sorted(per_client.items()):
            services = sorted({s for g in grants for s in g.services})
            since = time.strftime("%Y-%m-%d %H:%M", time.localtime(min(g.created_wall for g in grants)))
            name = self.ocl[cid].organisation_name if cid in self.ocl else cid
            rows.append((cid, name, ", ".join(GNL.get(s, s) for s in services), since))
        return self._page(200, pages.consents_page(session, rows, aanbieder_display=AANBIEDER_DISPLAY,
                                                   person_display=person.display, message=message))

    def consents_revoke(self, req: Request) -> Response:
        form = req.form_dict()
        with self._lock:
            self._expire()
            entry = self.sessions.get(form.get("session", ""))
        if entry is None:
            return self._error_page(400, self._EXPIRED)
        person = person_by_username(entry[0])
        assert person is not None
        client_id = form.get("client_id", "")
        count = self.revoke(person.username, client_id)
        name = self.ocl[client_id].organisation_name if client_id in self.ocl else client_id
        message = (f"De toestemming voor {name} is ingetrokken." if count
                   else f"Er was geen lopende toestemming voor {name}.")
        return self._consents_overview(form.get("session", ""), person, message)

    def revoke(self, username: str, client_id: str) -> int:
        """Revoke every consent of ``username`` for ``client_id``; returns how many were revoked."""
        count = 0
        with self._lock:
            for grant in self.grants.values():
                if grant.username == username and grant.client_id == client_id and not grant.revoked \
                        and not grant.pinned:
                    self._revoke_grant(grant.id, refresh_too="revoked-refresh-accepted" not in self.faults)
                    count += 1
        self._record({"event": "revoke", "client_id": client_id, "username": username, "count": count})
        return count

    def _revoke_grant(self, grant_id: str, refresh_too: bool = True) -> None:
        grant = self.grants.get(grant_id)
        if grant is None:
            return
        if refresh_too:
            grant.revoked = True
            for rt in self.refresh_tokens.values():
                if rt.grant_id == grant_id:
                    rt.active = False
        for at in self.access_tokens.values():
            if at.grant_id == grant_id:
                at.revoked = True

    # ------------------------------------------------------------------ token endpoint
    def handle_token(self, req: Request) -> Response:
        request_id = req.header("MedMij-Request-ID")
        extra = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        if request_id:
            extra.append(("MedMij-Request-ID", request_id))
        try:
            if req.method != "POST":
                raise OAuthError("invalid_request", "the token endpoint accepts only POST", 405)
            params = self._token_params(req)
            grant_type = params.get("grant_type")
            self._record({"event": "token", "grant_type": grant_type, "request_id": request_id,
                          "correlation_id": req.header("X-Correlation-ID"), "peer": sorted(req.peer_names)})
            client = self.client_for_names(req.peer_names)
            if client is None and not req.peer_names and "tls-no-client-auth" in self.faults:
                client = self.ocl.get(params.get("client_id", ""))  # no mTLS: it believes the client_id
            if client is None:
                raise OAuthError("invalid_client", "the client certificate does not belong to a client on the "
                                 "OAuth Client List", 401)
            if not grant_type:
                raise OAuthError("invalid_request", "grant_type is missing")
            if "extra-token-param-rejected" in self.faults and grant_type in ("authorization_code", "refresh_token"):
                unknown = sorted(set(params) - KNOWN_TOKEN_PARAMS)
                if unknown:
                    raise OAuthError("invalid_request", f"unknown parameter(s): {', '.join(unknown)}")
            if grant_type == "authorization_code":
                body = self._exchange_code(params, client)
                if "slow-token" in self.faults:
                    time.sleep(slow_seconds())
            elif grant_type == "refresh_token":
                body = self._refresh(params, client)
            elif "unsupported-grant-wrong-error" in self.faults:
                raise OAuthError("invalid_request", f"grant_type {grant_type} is not supported")
            else:
                raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} is not supported")
        except OAuthError as exc:
            self._record({"event": "token-error", "error": exc.error})
            headers = list(extra)
            if exc.status == 405:
                headers.append(("Allow", "POST"))
            return Response.json(exc.status, {"error": exc.error, "error_description": exc.description},
                                 extra=headers)
        return Response.json(200, body, extra=extra)

    def _token_params(self, req: Request) -> dict[str, str]:
        ctype = req.content_type
        json_only = "token-endpoint-json-only" in self.faults
        is_json = ctype == "application/json" or ctype.endswith("+json")
        if json_only:
            # refuses the form body before anything else happens (the code is not consumed);
            # any other body is read as JSON, as such an endpoint would
            if ctype == "application/x-www-form-urlencoded" or (not ctype and not req.body.lstrip().startswith(b"{")):
                raise OAuthError("invalid_request", "this token endpoint accepts only application/json bodies")
            return self._json_params(req)
        if is_json:
            raise OAuthError("invalid_request", "the token request must be application/x-www-form-urlencoded")
        if ctype not in ("", "application/x-www-form-urlencoded"):
            raise OAuthError("invalid_request", "the token request must be application/x-www-form-urlencoded")
        pairs = req.form()
        params: dict[str, str] = {}
        for k, v in pairs:
            if k in params:
                raise OAuthError("invalid_request", f"parameter {k} occurs more than once")
            params[k] = v
        return params

    @staticmethod
    def _json_params(req: Request) -> dict[str, str]:
        """A JSON object body as token parameters (token-endpoint-json-only): strings, numbers and
        booleans as text, null as absent; nested values are refused."""
        try:
            data = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise OAuthError("invalid_request", "the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "the request body must be a JSON object")
        params: dict[str, str] = {}
        for k, v in data.items():
            if v is None:
                continue
            if isinstance(v, (dict, list)):
                raise OAuthError("invalid_request", f"parameter {k} must be a string")
            params[str(k)] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        return params

    def _check_client_id(self, params: dict[str, str], client: OclEntry) -> None:
        given = params.get("client_id")
        if given and given != client.client_id and "code-any-client" not in self.faults:
            raise OAuthError("invalid_client", "client_id does not match the client certificate", 401)

    def _exchange_code(self, params: dict[str, str], client: OclEntry) -> dict[str, Any]:
        self._check_client_id(params, client)
        code = params.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is missing")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri and "missing-redirect-uri-accepted" not in self.faults:
            raise OAuthError("invalid_request", "redirect_uri is missing")
        with self._lock:
            record = self.codes.get(code)
            if record is None:
                raise OAuthError("invalid_grant", "unknown authorization code")
            if record.client_id != client.client_id and "code-any-client" not in self.faults:
                raise OAuthError("invalid_grant", "the authorization code was issued to another client")
            if record.used and "code-reusable" not in self.faults:
                # a replayed code: revoke everything issued from it (RFC 6749 §4.1.2)
                self._revoke_grant(record.grant_id)
                raise OAuthError("invalid_grant", "the authorization code has already been used")
            record.used = True
            if (self._clock() - record.issued > self.code_lifetime
                    and "expired-code-accepted" not in self.faults):
                raise OAuthError("invalid_grant", "the authorization code has expired")
            if (redirect_uri and redirect_uri != record.redirect_uri
                    and "redirect-uri-not-checked" not in self.faults):
                raise OAuthError("invalid_grant", "redirect_uri differs from the one in the authorization request")
            grant = self.grants[record.grant_id]
            if grant.revoked:
                raise OAuthError("invalid_grant", "the consent behind this code has been revoked")
            if client.client_id != grant.client_id:  # code-any-client: the tokens belong to the presenter
                grant = Grant(self._new_value(), grant.username, client.client_id, grant.scope, grant.services,
                              time.time())
                self.grants[grant.id] = grant
            body, access, refresh = self._issue(grant)
            record.access_tokens.append(access)
            record.refresh_tokens.append(refresh)
            return body

    def lifetime_for(self, username: str) -> float:
        """The access token lifetime of this person: the server's, or the person's own (shorter)
        one (the test person whose tokens expire in seconds keeps it under expires-in-too-long)."""
        person = person_by_username(username)
        if person is not None and person.access_token_lifetime is not None:
            if "expires-in-too-long" in self.faults:
                return person.access_token_lifetime
            return min(person.access_token_lifetime, self.access_token_lifetime)
        return self.access_token_lifetime

    def _issue(self, grant: Grant, refresh: str | None = None) -> tuple[dict[str, Any], str, str]:
        access = self._new_value()
        now = self._clock()
        lifetime = self.lifetime_for(grant.username)
        self.access_tokens[access] = AccessToken(grant.id, grant.username, grant.client_id, grant.scope,
                                                 grant.services, now + lifetime)
        if refresh is None:
            refresh = self._new_value()
            self.refresh_tokens[refresh] = RefreshToken(grant.id, grant.client_id, now + REFRESH_TOKEN_LIFETIME)
        body = {
            "access_token": access,
            "token_type": "mac" if "token-type-wrong" in self.faults else "Bearer",
            "expires_in": int(math.ceil(lifetime)),
            "scope": grant.scope,
            "refresh_token": refresh,
        }
        return body, access, refresh

    def _refresh(self, params: dict[str, str], client: OclEntry) -> dict[str, Any]:
        self._check_client_id(params, client)
        value = params.get("refresh_token")
        if not value:
            raise OAuthError("invalid_request", "refresh_token is missing")
        with self._lock:
            rt = self.refresh_tokens.get(value)
            if rt is None or not rt.active:
                raise OAuthError("invalid_grant", "unknown, used or revoked refresh token")
            if rt.client_id != client.client_id:
                raise OAuthError("invalid_grant", "the refresh token was issued to another client")
            if rt.expires < self._clock():
                raise OAuthError("invalid_grant", "the refresh token has expired")
            grant = self.grants[rt.grant_id]
            if grant.revoked and "revoked-refresh-accepted" not in self.faults:
                raise OAuthError("invalid_grant", "the consent has been revoked")
            requested = params.get("scope")
            if requested and not set(requested.split()) <= set(grant.scope.split()):
                raise OAuthError("invalid_scope", "the requested scope exceeds the consent")
            if "refresh-not-rotated" in self.faults:
                body, _, _ = self._issue(grant, refresh=value)
            else:
                rt.active = False
                body, _, _ = self._issue(grant)
            return body

    def preissue(self, username: str, client_id: str, scope: str = AANBIEDER) -> str:
        """An access token issued out of band (as the Nictiz qualification hands one out): for
        ``username`` and ``client_id`` with ``scope``, valid for the server's lifetime and left alone
        by "Beheren toestemmingen"; otherwise checked like any other token."""
        person = person_by_username(username)
        if person is None or client_id not in self.ocl:
            raise ValueError(f"cannot pre-issue a token for {username!r} and {client_id!r}")
        services = frozenset(SERVED_GEGEVENSDIENST if "~" not in t else t.rsplit("~", 1)[1] for t in scope.split())
        grant = Grant(self._new_value(), username, client_id, scope, services, time.time(), pinned=True)
        value = self._new_value()
        with self._lock:
            self.grants[grant.id] = grant
            self.access_tokens[value] = AccessToken(grant.id, username, client_id, scope, services, math.inf)
        return value

    def shorten_access_token(self, value: str, lifetime: float) -> bool:
        """Let an issued access token expire ``lifetime`` seconds from now (PGO harness:
        short-lived tokens); False when the token is unknown."""
        with self._lock:
            token = self.access_tokens.get(value)
            if token is None:
                return False
            token.expires = min(token.expires, self._clock() + lifetime)
            return True

    def withdraw_refresh_token(self, value: str) -> bool:
        """Make an issued refresh token unusable (PGO harness: a token response without one);
        False when the refresh token is unknown."""
        with self._lock:
            rt = self.refresh_tokens.get(value)
            if rt is None:
                return False
            rt.active = False
            return True

    # ------------------------------------------------------------------ for the resource server
    def check_access_token(self, value: str, peer_names: frozenset[str]) -> TokenCheck:
        with self._lock:
            token = self.access_tokens.get(value)
            if token is None:
                return TokenCheck(False, None, "unknown access token")
            if token.revoked or self.grants[token.grant_id].revoked:
                return TokenCheck(False, token, "the access token has been revoked")
            if token.expires < self._clock() and "access-token-never-expires" not in self.faults:
                return TokenCheck(False, token, "the access token has expired")
            if peer_names and not names_match(peer_names, token.client_id):
                return TokenCheck(False, token, "the access token was issued to another client")
            return TokenCheck(True, token)

    def token_owner(self, value: str) -> str | None:
        """The username of a known access token, valid or not (resource-no-token-check)."""
        with self._lock:
            token = self.access_tokens.get(value)
            return token.username if token is not None else None

    def persons(self) -> tuple[TestPerson, ...]:
        return PERSONS
