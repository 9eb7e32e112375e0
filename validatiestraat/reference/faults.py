"""Fault switches of the reference DVA.

Each fault makes the reference DVA violate specific requirements of the catalogue
(``validatiestraat/requirements.yaml``, domain brief §8). Running the suite against the reference
DVA with one fault switched on must make exactly the requirements in ``breaks`` fail: that is how
the project proves that each check can fail.

``breaks``
    requirement IDs whose check, as the requirement is worded, directly observes the faulty
    behaviour and must report FAIL.
``blocks``
    requirement IDs whose checks can no longer get what they need (typically an access token)
    and so cannot pass; a suite may report them as ERROR or SKIP instead of FAIL.

A fault that is not implemented is not listed. The table is the single source of truth: the
servers look faults up by name with :func:`active`, and ``validatiestraat faults`` prints it.

Timing: ``slow-token`` sleeps ``VALIDATIESTRAAT_SLOW_SECONDS`` seconds (default 11) before
answering a successful ``authorization_code`` token request; tests shorten it with that
environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from validatiestraat import exitcodes
from validatiestraat.errors import UserError

#: environment variable with the delay of the ``slow-token`` fault, in seconds
SLOW_SECONDS_ENV = "VALIDATIESTRAAT_SLOW_SECONDS"
DEFAULT_SLOW_SECONDS = 11.0

# Requirements whose checks need a successful token response as a precondition (used by faults
# that make the token endpoint unusable for a conforming client).
_NEEDS_TOKEN: tuple[str, ...] = (
    "AS-TOKEN-03", "AS-TOKEN-04", "AS-TOKEN-11", "AS-TOKEN-12", "AS-TOKEN-13", "AS-TOKEN-14",
    "RS-AUTH-03", "RS-AUTH-04", "RS-AUTH-05", "RS-HDR-01", "RS-PERF-01",
    "RS-FHIR-01", "RS-FHIR-02", "RS-FHIR-03", "RS-FHIR-04", "RS-FHIR-05", "RS-FHIR-06",
    "RS-FHIR-07", "RS-FHIR-08",
)


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    breaks: tuple[str, ...]
    blocks: tuple[str, ...] = field(default=())
    #: which part of the reference DVA the fault lives in (authorize, token, resource, lists, tls)
    component: str = ""
    #: the suite's own HTTPS client cannot use the DVA any more (e.g. an expired server
    #: certificate): every OAuth/FHIR check then ends as an error, not a pass
    blocks_http: bool = False
    #: settings the embedded reference DVA needs for the fault to be observable in a run
    reference: dict = field(default_factory=dict, hash=False, compare=False)


_TABLE: tuple[Fault, ...] = (
    # ------------------------------------------------------------------ authorization endpoint
    Fault("state-not-echoed",
          "the successful redirect to the redirect_uri carries a different state than the "
          "authorization request (error redirects still echo it)",
          ("AS-AUTHZ-01", "AS-AUTHZ-09"), component="authorize"),
    Fault("unknown-client-redirected",
          "an unknown client_id is not shown an error page; the browser is redirected to the "
          "supplied redirect_uri with error=unauthorized_client",
          ("AS-AUTHZ-02",), component="authorize"),
    Fault("bad-redirect-uri-redirected",
          "a redirect_uri that is not on the client's host (or not https, or with a fragment) is "
          "not shown an error page; the browser is redirected to it with error=invalid_request",
          ("AS-AUTHZ-03",), component="authorize"),
    Fault("redirect-uri-double-decoded",
          "the redirect_uri is percent-decoded twice, so a URI with an encoded character (%7E) "
          "gets the person sent back to a different URI",
          ("AS-AUTHZ-10",), component="authorize"),
    Fault("response-type-not-checked",
          "any response_type is treated as 'code' (no unsupported_response_type error)",
          ("AS-AUTHZ-04",), component="authorize"),
    Fault("invalid-scope-accepted",
          "the scope is not validated: missing, unknown-aanbieder and unlisted-gegevensdienst "
          "scopes are accepted as the default scope",
          ("AS-AUTHZ-05", "AS-AUTHZ-06"), component="authorize"),
    Fault("error-without-state",
          "error redirects caused by an invalid authorization request (unsupported_response_type, "
          "invalid_scope, invalid_request) do not carry the state; the user's deny still does",
          ("AS-AUTHZ-04", "AS-AUTHZ-05"), component="authorize"),
    Fault("extra-param-rejected",
          "unknown extra query parameters on the authorization request are refused with "
          "error=invalid_request",
          ("AS-AUTHZ-07",), component="authorize"),
    Fault("long-state-crash",
          "a state longer than the accepted maximum makes the authorization endpoint answer "
          "HTTP 500",
          ("AS-AUTHZ-09",), component="authorize"),
    Fault("medmij-ids-required",
          "an authorization request without the MedMij-Request-ID and X-Correlation-ID query "
          "parameters is refused with invalid_request (the brief only records this behaviour)",
          ("AS-AUTHZ-08",), component="authorize"),
    Fault("no-error-description",
          "error redirects carry no error_description (Duiding van fouten)",
          ("AS-AUTHZ-12",), component="authorize"),
    Fault("consent-page-anonymous",
          "the consent page names neither the PGO (OCL OAuthclientOrganisatienaam) nor the "
          "gegevensdienst (GNL Weergavenaam)",
          ("AS-AUTHZ-13",), component="authorize"),
    Fault("vertegenwoordiging-date-not-checked",
          "Vertegenwoordiging: a malformed MedMij_geboortedatum is accepted",
          ("AS-AUTHZ-14",), component="authorize"),
    Fault("deny-issues-code",
          "pressing 'deny' on the consent page still redirects with an authorization code",
          ("AS-AUTHZ-11",), component="authorize"),
    # ------------------------------------------------------------------ token endpoint
    Fault("token-type-wrong",
          "every token response (code exchange and refresh) has token_type 'mac' instead of 'Bearer'",
          ("AS-TOKEN-02", "AS-TOKEN-11", "AS-TOKEN-16"), component="token"),
    Fault("expires-in-too-long",
          "access tokens live 3600 s and the token response says expires_in 3600",
          ("AS-TOKEN-03",), component="token"),
    Fault("code-reusable",
          "an authorization code can be exchanged more than once",
          ("AS-TOKEN-04",), component="token"),
    Fault("missing-redirect-uri-accepted",
          "a code exchange without redirect_uri is accepted",
          ("AS-TOKEN-05",), component="token"),
    Fault("redirect-uri-not-checked",
          "the token endpoint does not compare redirect_uri with the one of the authorization "
          "request (it is still required)",
          ("AS-TOKEN-06",), component="token"),
    Fault("expired-code-accepted",
          "authorization codes never expire",
          ("AS-TOKEN-07",), component="token"),
    Fault("code-any-client",
          "a code can be exchanged over any client's mTLS certificate and client_id; the "
          "tokens then belong to that client",
          ("AS-TOKEN-08",), component="token"),
    Fault("unsupported-grant-wrong-error",
          "an unsupported grant_type is answered with 400 invalid_request instead of "
          "unsupported_grant_type",
          ("AS-TOKEN-09",), component="token"),
    Fault("slow-token",
          f"successful authorization_code token responses are delayed by ${SLOW_SECONDS_ENV} "
          f"seconds (default {DEFAULT_SLOW_SECONDS:g})",
          ("AS-TOKEN-10",), component="token"),
    Fault("refresh-not-rotated",
          "grant_type=refresh_token returns the same refresh token, and the old one keeps working",
          ("AS-TOKEN-11",), component="token"),
    Fault("revoked-refresh-accepted",
          "revoking a consent ('Beheren toestemmingen') does not invalidate its refresh tokens "
          "(its access tokens are still revoked)",
          ("AS-TOKEN-12",), component="token"),
    Fault("low-entropy-tokens",
          "codes, access tokens and refresh tokens carry only 32 random bits (8 hex characters)",
          ("AS-TOKEN-13",), component="token"),
    Fault("scope-not-narrowed",
          "when not every requested gegevensdienst is available, the token scope still lists all of them",
          ("AS-TOKEN-14",), component="token"),
    Fault("subscription-duration-unbounded",
          "Abonneren: the requested subscription duration is granted even beyond the ZAL MaximaleDuur",
          ("AS-TOKEN-15",), component="token"),
    Fault("extra-token-param-rejected",
          "unknown extra form parameters on an authorization_code or refresh_token request are "
          "refused with invalid_request",
          ("AS-TOKEN-16",), component="token"),
    Fault("token-endpoint-json-only",
          "the token endpoint refuses form-encoded bodies (400 invalid_request) and accepts "
          "only JSON bodies, so a conforming client never gets a token (and every form-encoded "
          "request, e.g. one with an expired code or another client's code, gets invalid_request "
          "instead of invalid_grant, invalid_client or unsupported_grant_type)",
          ("AS-TOKEN-02", "AS-TOKEN-07", "AS-TOKEN-08", "AS-TOKEN-09", "AS-TOKEN-15", "AS-TOKEN-16"), blocks=_NEEDS_TOKEN,
          component="token"),
    # ------------------------------------------------------------------ resource server
    Fault("resource-without-token",
          "a FHIR request without an Authorization header is answered with test person 1's data "
          "(also when it carries access_token as a query or form parameter)",
          ("RS-AUTH-01", "RS-AUTH-03"), component="resource"),
    Fault("no-www-authenticate",
          "the 401 answer to a request without Authorization header has no WWW-Authenticate "
          "header",
          ("RS-AUTH-01",), component="resource"),
    Fault("invalid-token-no-error",
          "the 401 answer to an unknown, expired or revoked token has WWW-Authenticate: Bearer "
          "without error=\"invalid_token\"",
          ("RS-AUTH-02",), component="resource"),
    Fault("token-in-query-accepted",
          "an access_token query or form parameter is accepted as the bearer token",
          ("RS-AUTH-03",), component="resource"),
    Fault("scope-not-enforced",
          "an access token for another gegevensdienst (e.g. referentiezorgaanbieder~49) reads "
          "the BgZ (48) data",
          ("RS-AUTH-04",), component="resource"),
    Fault("no-request-id-echo",
          "the resource server does not echo MedMij-Request-ID in its responses",
          ("RS-HDR-01",), component="resource"),
    Fault("searchset-missing-self-link",
          "search Bundles have no self link",
          ("RS-FHIR-02",), component="resource"),
    Fault("no-include",
          "_include parameters are ignored",
          ("RS-FHIR-03",), component="resource"),
    Fault("empty-search-404",
          "a search without matches answers 404 with an OperationOutcome instead of an empty "
          "searchset",
          ("RS-FHIR-04",), component="resource"),
    Fault("xml-not-supported",
          "FHIR XML is not served: a request for XML (Accept or _format) is answered with JSON",
          ("RS-FHIR-05",), component="resource"),
    Fault("profile-violation",
          "every Condition lacks clinicalStatus (required by zib-Problem) and the Patient has no "
          "meta.profile",
          ("RS-FHIR-06",), component="resource"),
    Fault("bsn-in-response",
          "the Patient resource carries the person's BSN identifier "
          "(http://fhir.nl/fhir/NamingSystem/bsn)",
          ("RS-FHIR-07",), component="resource"),
    Fault("dangling-reference",
          "Conditions carry an asserter reference to a Practitioner that can neither be read nor "
          "included",
          ("RS-FHIR-08",), component="resource"),
    Fault("access-token-never-expires",
          "the resource server accepts access tokens after their expires_in (with this fault on, "
          "the embedded reference DVA issues 5-second tokens so that the suite can observe it)",
          ("RS-AUTH-05",), component="resource", reference={"access_token_lifetime": 5.0}),
    Fault("search-unsupported",
          "ImmunizationRecommendation, one of the required BgZ searches, answers 404 (not supported)",
          ("RS-FHIR-01",), component="resource"),
    Fault("slow-resource",
          f"the Patient search answers after ${SLOW_SECONDS_ENV} seconds (default "
          f"{DEFAULT_SLOW_SECONDS:g}); with this fault on, the reference DVA publishes a resource "
          "response limit of half that delay instead of 60 s, so that the fault is observable",
          ("RS-PERF-01",), component="resource"),
    Fault("error-not-operationoutcome",
          "FHIR error responses (401, 403, 404) have a text/plain body instead of an "
          "OperationOutcome",
          ("RS-FHIR-09",), component="resource"),
)

_TABLE += (
    # ------------------------------------------------------------------ published MedMij lists
    Fault("list-schema-broken",
          "the published ZAL breaks its XML Schema (Volgnummer before Tijdstempel)",
          ("LIST-XSD-01",), component="lists"),
    Fault("list-host-missing",
          "the published Whitelist lacks the DVA's own host, so its ZAL endpoints are not MedMij nodes",
          ("LIST-SEM-03",), component="lists"),
    Fault("list-volgnummer-decreases",
          "every fetch of a published list carries a lower Volgnummer than the fetch before",
          ("LIST-SEM-01",), component="lists"),
)

def _tls_faults() -> tuple[Fault, ...]:
    """The TLS faults live with the TLS checks (validatiestraat/tls/faults.py)."""
    from validatiestraat.tls.faults import TLS_FAULTS

    return tuple(Fault(f.name, f.description, f.breaks, f.blocks, "tls", blocks_http=f.blocks_http)
                 for f in TLS_FAULTS.values())


_TABLE += _tls_faults()

FAULTS: dict[str, Fault] = {f.name: f for f in _TABLE}


def slow_seconds() -> float:
    """The delay of the ``slow-token`` fault (``$VALIDATIESTRAAT_SLOW_SECONDS``, default 11)."""
    raw = os.environ.get(SLOW_SECONDS_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_SLOW_SECONDS
    except ValueError:
        value = DEFAULT_SLOW_SECONDS
    return max(0.0, value)


#: ext.abo.tknint.201 / core.tknint.206: a token response within 10 s
TOKEN_RESPONSE_LIMIT = 10.0


def resource_response_limit(faults: Iterable[str] = ()) -> float:
    """The resource response time limit the reference DVA publishes: 60 s, or half of the
    ``slow-resource`` delay when that fault is on (an 11 s delay would not break 60 s; waiting a
    minute per run is not useful). Only with that fault does the published limit differ."""
    if "slow-resource" in faults:
        return min(60.0, slow_seconds() / 2)
    return 60.0


def token_response_limit() -> float:
    """The token response time limit a suite should apply to the reference DVA.

    10 s normally. When ``$VALIDATIESTRAAT_SLOW_SECONDS`` is set (a test shortened the
    ``slow-token`` delay), half of that delay, so the shortened fault still breaks the limit;
    the reference DVA publishes it as ``options.token_response_limit_seconds`` of its target.
    """
    if os.environ.get(SLOW_SECONDS_ENV, "").strip():
        return min(TOKEN_RESPONSE_LIMIT, slow_seconds() / 2)
    return TOKEN_RESPONSE_LIMIT


class UnknownFault(UserError):
    exit_code = exitcodes.CONFIG_ERROR


def check_faults(names: Iterable[str]) -> frozenset[str]:
    """The fault names as a frozenset; :class:`UnknownFault` (exit 4) for a name not in the table."""
    chosen = frozenset(str(n).strip() for n in names if str(n).strip())
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise UnknownFault(
            f"unknown fault{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; known faults: "
            + ", ".join(sorted(FAULTS))
        )
    return chosen


def describe(fault: Fault) -> dict[str, object]:
    return {
        "name": fault.name,
        "description": fault.description,
        "breaks": list(fault.breaks),
        "blocks": list(fault.blocks),
        "blocks_http": fault.blocks_http,
        "component": fault.component,
    }
