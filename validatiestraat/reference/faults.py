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

Profiles (:data:`PROFILES`) are named sets of faults switched on together, one per component
with all of its faults (for TLS the largest set one server can show) and realistic broken DVAs;
:func:`expand` turns ``--fault`` and ``--fault-profile`` arguments into one fault list. Faults that
one server cannot show together (:data:`CONFLICTS`, e.g. two server certificates) are refused.

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

# Requirements whose checks need the authorization endpoint (frontchannel) to answer a browser, or
# an authorization code from it: the token endpoint checks (the mTLS negatives send a code too) and
# the resource checks that need a login of their own (revoked, other-scope and expired tokens); the
# other resource checks can use the pre-issued access token of the target's resource section.
_NEEDS_FRONTCHANNEL: tuple[str, ...] = (
    "AS-AUTHZ-02", "AS-AUTHZ-03", "AS-AUTHZ-04", "AS-AUTHZ-05", "AS-AUTHZ-06", "AS-AUTHZ-07", "AS-AUTHZ-08",
    "AS-AUTHZ-09", "AS-AUTHZ-10", "AS-AUTHZ-11", "AS-AUTHZ-12", "AS-AUTHZ-13", "AS-AUTHZ-14",
    "AS-TOKEN-01", "AS-TOKEN-02", "AS-TOKEN-03", "AS-TOKEN-04", "AS-TOKEN-05", "AS-TOKEN-06", "AS-TOKEN-07",
    "AS-TOKEN-08", "AS-TOKEN-10", "AS-TOKEN-11", "AS-TOKEN-12", "AS-TOKEN-13", "AS-TOKEN-14", "AS-TOKEN-15",
    "AS-TOKEN-16", "TLS-MTLS-01", "RS-AUTH-02", "RS-AUTH-04", "RS-AUTH-05",
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
          "invalid_scope, invalid_request, also the refusal of an over-long state) do not carry the "
          "state; the user's deny still does",
          ("AS-AUTHZ-01", "AS-AUTHZ-04", "AS-AUTHZ-05", "AS-AUTHZ-09"), component="authorize"),
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
    Fault("error-redirect-state-hardcoded",
          "every error redirect to the redirect_uri (invalid authorization requests and the user's deny) "
          "carries state=xyz instead of the request's state (also the refusal of an over-long state)",
          ("AS-AUTHZ-01", "AS-AUTHZ-04", "AS-AUTHZ-05", "AS-AUTHZ-09", "AS-AUTHZ-11"), component="authorize"),
    Fault("error-code-not-rfc",
          "scope errors (missing, unknown aanbieder, malformed, and a gegevensdienst not listed for the "
          "client) are redirected with error=401 instead of invalid_scope (other errors are unchanged)",
          ("AS-AUTHZ-01", "AS-AUTHZ-05", "AS-AUTHZ-06"), component="authorize"),
    Fault("state-not-url-encoded",
          "the successful redirect carries the state exactly as received, not URL-encoded, so a state "
          "with &, #, +, space or % does not round-trip",
          ("AS-AUTHZ-01", "AS-AUTHZ-09"), component="authorize"),
    Fault("frontchannel-client-cert-required",
          "the authorization endpoint's TLS server demands a client certificate (which no browser has on "
          "the MedMij frontchannel): the login pages cannot be reached, so no authorization code is issued",
          ("AS-AUTHZ-01",), blocks=_NEEDS_FRONTCHANNEL, component="authorize"),
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
          "the token endpoint refuses form-encoded bodies (400 invalid_request, the code is not "
          "consumed) and accepts only JSON bodies; with JSON it follows every other rule "
          "(authorization_code and refresh_token grants, invalid_grant, invalid_client, "
          "unsupported_grant_type), so a client that falls back to JSON can judge everything else",
          ("AS-TOKEN-02",), component="token"),
    # ------------------------------------------------------------------ resource server
    Fault("resource-no-token-check",
          "the resource server does no token check at all: requests without Authorization, with an "
          "unknown, expired or revoked token, with a token of another gegevensdienst or with "
          "access_token in the query or form are all served test person 1's data (the data of the "
          "token's person when the token is known)",
          ("RS-AUTH-01", "RS-AUTH-02", "RS-AUTH-03", "RS-AUTH-04", "RS-AUTH-05"), component="resource"),
    Fault("resource-without-token",
          "a FHIR request without an Authorization header (one of the gegevensdienst's queries or a read: "
          "in strict mode anything else is 404 anyway) is answered with test person 1's data (also when it "
          "carries access_token as a query or form parameter)",
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
          "a search without matches (a query of the gegevensdienst's shape whose values match nothing) "
          "answers 404 with an OperationOutcome instead of an empty searchset",
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
    Fault("bsn-on-direct-read",
          "a direct read Patient/<id> returns the Patient with an unmasked BSN identifier "
          "(http://fhir.nl/fhir/NamingSystem/bsn); searches stay clean",
          ("RS-FHIR-07",), component="resource"),
    Fault("dangling-reference",
          "Conditions carry an asserter reference to a Practitioner that can neither be read nor "
          "included",
          ("RS-FHIR-08",), component="resource"),
    Fault("access-token-never-expires",
          "the resource server accepts access tokens after their expires_in (observable with the "
          "test person whose tokens live 3 seconds, options.token_expiry_login_fields); an expired "
          "token is also one RS-AUTH-02 requires refused with invalid_token",
          ("RS-AUTH-02", "RS-AUTH-05"), component="resource"),
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


class IncompatibleFaults(UserError):
    """Faults that one server cannot show at the same time (exit 4)."""

    exit_code = exitcodes.CONFIG_ERROR


def _split(names: Iterable[str] | str) -> list[str]:
    """Names from repeatable and comma-separated arguments (``["a,b", "c"]`` -> a, b, c)."""
    if isinstance(names, str):
        names = [names]
    return [part.strip() for n in names for part in str(n).split(",") if part.strip()]


#: (faults of which at most one may be on, why): the server cannot show them together
CONFLICTS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"tls-expired-certificate", "tls-wrong-host-certificate", "tls-self-signed-certificate",
                "tls-weak-key", "tls-wildcard-certificate", "tls-dv-certificate"}),
     "each replaces the server certificate, and a server has one"),
    (frozenset({"tls-no-tls13", "tls-only-tls13"}), "together they leave no TLS version"),
    (frozenset({"tls-allow-tls10", "tls-only-tls13"}), "TLS 1.3 only excludes TLS 1.0"),
    (frozenset({"tls-weak-key", "tls-no-forward-secrecy"}),
     "the RSA certificate of tls-no-forward-secrecy would replace the 1024-bit RSA certificate"),
)


def check_faults(names: Iterable[str]) -> frozenset[str]:
    """The fault names as a frozenset; :class:`UnknownFault` (exit 4) for a name not in the table,
    :class:`IncompatibleFaults` (exit 4) for faults one server cannot show together. Names may
    be comma-separated."""
    chosen = frozenset(_split(names))
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise UnknownFault(
            f"unknown fault{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; known faults: "
            + ", ".join(sorted(FAULTS))
        )
    for group, why in CONFLICTS:
        clash = sorted(group & chosen)
        if len(clash) > 1:
            raise IncompatibleFaults(f"faults {' and '.join(clash)} cannot be combined: {why}")
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


def describe_faults() -> list[dict[str, object]]:
    return [describe(f) for f in FAULTS.values()]


# --------------------------------------------------------------------------- fault profiles
@dataclass(frozen=True)
class FaultProfile:
    """A named set of faults switched on together (``--fault-profile NAME``)."""

    name: str
    description: str
    faults: tuple[str, ...]


def _component(name: str) -> tuple[str, ...]:
    return tuple(sorted(f.name for f in FAULTS.values() if f.component == name))


#: TLS faults that can share one server: one certificate fault (wildcard: the suite's client still
#: trusts it) and every hook that does not contradict another (see CONFLICTS)
_TLS_PROFILE: tuple[str, ...] = ("tls-allow-tls10", "tls-cbc-suite", "tls-no-client-auth", "tls-no-forward-secrecy",
                                 "tls-no-tls13", "tls-wildcard-certificate")

_PROFILES: tuple[FaultProfile, ...] = (
    FaultProfile("authorize", "every fault of the authorization endpoint at once, except "
                 "frontchannel-client-cert-required: that one makes the endpoint unreachable for a browser and "
                 "so hides every other fault of the endpoint from a suite (switch it on with --fault)",
                 tuple(f for f in _component("authorize") if f != "frontchannel-client-cert-required")),
    FaultProfile("token", "every fault of the token endpoint at once (form bodies are refused: a client "
                 "must fall back to JSON to see the others)", _component("token")),
    FaultProfile("resource", "every fault of the resource server at once; resource-no-token-check and "
                 "resource-without-token answer requests without a valid token with data, so the faults that "
                 "shape the 401 answers (no-www-authenticate, invalid-token-no-error) have no 401 left to "
                 "change; resource-no-token-check breaks their requirements itself",
                 _component("resource")),
    FaultProfile("resource-observable", "every fault of the resource server except resource-no-token-check "
                 "and resource-without-token, so that each fault's behaviour can be seen (401 answers included)",
                 tuple(f for f in _component("resource")
                       if f not in ("resource-no-token-check", "resource-without-token"))),
    FaultProfile("lists", "every fault of the published MedMij lists at once", _component("lists")),
    FaultProfile("tls", "the largest set of TLS faults one server can show: " + ", ".join(_TLS_PROFILE)
                 + " (the CBC suites of tls-cbc-suite are among those tls-allow-tls10 adds to TLS 1.2 too)"
                 "; left out: tls-only-tls13 (contradicts tls-no-tls13 and tls-allow-tls10) and the other "
                 "certificate faults (a server has one certificate; tls-wildcard-certificate is kept "
                 "because clients still trust it, and tls-weak-key would be replaced by the RSA certificate "
                 "of tls-no-forward-secrecy)", _TLS_PROFILE),
    FaultProfile("realistic-broken-dva-1", "a realistic broken DVA on a generic OAuth library: JSON-only token "
                 "endpoint, no token check on the resource server, non-RFC error redirects, long-lived low-entropy "
                 "tokens, a sloppy FHIR facade", (
                     "error-code-not-rfc", "error-redirect-state-hardcoded", "extra-param-rejected",
                     "no-error-description", "state-not-url-encoded",
                     "expires-in-too-long", "low-entropy-tokens", "refresh-not-rotated", "token-endpoint-json-only",
                     "unsupported-grant-wrong-error",
                     "bsn-on-direct-read", "empty-search-404", "error-not-operationoutcome", "no-request-id-echo",
                     "resource-no-token-check", "searchset-missing-self-link", "xml-not-supported",
                 )),
    FaultProfile("realistic-broken-dva-2", "a realistic broken DVA that almost works: crashes on long states, "
                 "insists on the MedMij IDs, reusable and eternal codes, lax refresh revocation, lenient bearer "
                 "handling and an incomplete BgZ", (
                     "consent-page-anonymous", "long-state-crash", "medmij-ids-required", "redirect-uri-double-decoded",
                     "code-reusable", "expired-code-accepted", "extra-token-param-rejected", "redirect-uri-not-checked",
                     "revoked-refresh-accepted", "scope-not-narrowed",
                     "access-token-never-expires", "dangling-reference", "invalid-token-no-error", "no-include",
                     "profile-violation", "scope-not-enforced", "search-unsupported", "token-in-query-accepted",
                 )),
)

PROFILES: dict[str, FaultProfile] = {
    p.name: FaultProfile(p.name, p.description, tuple(sorted(p.faults))) for p in _PROFILES
}


def expand(faults: Iterable[str] = (), profiles: Iterable[str] = ()) -> list[str]:
    """The sorted unique fault names of ``faults`` plus those of ``profiles`` (both may hold
    comma-separated names). :class:`UnknownFault` (exit 4) for an unknown fault or profile name,
    :class:`IncompatibleFaults` for faults that cannot be combined."""
    chosen = set(_split(faults))
    wanted = _split(profiles)
    unknown = sorted(set(wanted) - PROFILES.keys())
    if unknown:
        raise UnknownFault(
            f"unknown fault profile{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; known profiles: "
            + ", ".join(sorted(PROFILES))
        )
    for name in wanted:
        chosen.update(PROFILES[name].faults)
    return sorted(check_faults(chosen))


def describe_profile(profile: FaultProfile) -> dict[str, object]:
    return {"name": profile.name, "description": profile.description, "faults": list(profile.faults)}
