"""Fault switches of the embedded reference PGO (:mod:`validatiestraat.pgo.reference`).

Each fault makes the reference PGO violate specific PGO-* requirements of the catalogue
(``validatiestraat/requirements.yaml``, domain brief §8.4). Running the PGO suite against the
reference PGO with one fault switched on must make exactly the requirements in ``breaks`` fail;
that is how the project proves that each PGO check can fail. The table uses the DVA's
:class:`~validatiestraat.reference.faults.Fault` record:

``breaks``
    requirement IDs whose check, as the requirement is worded, directly observes the faulty
    behaviour and must report FAIL.
``blocks``
    requirement IDs whose checks may no longer get what they need (typically: the harness refuses
    the faulty token request, so there is no access token and no resource request to judge); a
    suite may report them as ERROR, SKIP or blocked instead of PASS.

Some faults show only when the harness scripts the situation they are about; the description
says so ("observable when ..."): code-reused needs a token endpoint that answers 5xx,
old-refresh-token a second refresh, retries-forever-on-401 a resource server that answers 401,
token-used-after-expiry a short-lived token and a wait, wrong-interfaceversie a ZAL that lists
the aanbieder under more than one interfaceversie, crashes-without-refresh-token a token response
without refresh_token, and the list faults a list the PGO must refuse.
"""

from __future__ import annotations

from collections.abc import Iterable

from validatiestraat.reference.faults import Fault, UnknownFault, _split, describe

#: requirements whose checks need an access token (a harness that refuses the faulty token
#: request leaves nothing for them to judge): the refresh, the resource requests, and the list
#: scenarios' "the flow still completes" (a flow that cannot complete says nothing about the lists)
_NEEDS_TOKEN: tuple[str, ...] = (
    "PGO-TOKEN-05", "PGO-RES-01", "PGO-RES-02", "PGO-RES-03", "PGO-RES-04", "PGO-RES-05", "PGO-RES-06",
    "PGO-LIST-02", "PGO-LIST-03",
)

_TABLE: tuple[Fault, ...] = (
    # ------------------------------------------------------------------ authorization request
    Fault("endpoint-not-from-zal",
          "authorization and resource requests go to a hard-coded host instead of the ZAL's: the ZAL "
          "endpoint URIs with the host swapped (localhost <-> 127.0.0.1, any other host -> 127.0.0.1), "
          "the same port and path; the Whitelist is checked against the ZAL's host (so the swapped host, "
          "not on the Whitelist either, is contacted anyway)",
          ("PGO-AUTHZ-01", "PGO-RES-01"), component="authorize"),
    Fault("scope-with-gegevensdienst",
          "the authorization request asks scope <aanbieder>~<GegevensdienstId> (the 1.x and Delen syntax) "
          "instead of the bare aanbieder name of 2.x Verzamelen",
          ("PGO-AUTHZ-02",), component="authorize"),
    Fault("no-medmij-ids-on-authorize",
          "the authorization request carries neither MedMij-Request-ID nor X-Correlation-ID; the token and "
          "resource requests still carry the flow's X-Correlation-ID, which the authorization request did not "
          "(so the token request's cannot equal it: PGO-TOKEN-03)",
          ("PGO-AUTHZ-03", "PGO-TOKEN-03"), component="authorize"),
    # ------------------------------------------------------------------ state and the redirect
    Fault("predictable-state",
          "state is a counter (1, 2, 3, ...) instead of 256 random bits",
          ("PGO-STATE-01",), component="state"),
    Fault("state-not-checked",
          "the callback does not check state: an unknown, tampered, replayed or missing state is accepted "
          "(the latest flow is used) and its code is exchanged",
          ("PGO-STATE-02",), component="state"),
    Fault("error-redirect-ignored",
          "an error redirect (error=...) is not recognised: the PGO still sends a token request, with an "
          "empty code",
          ("PGO-STATE-03",), component="state"),
    # ------------------------------------------------------------------ token requests
    Fault("token-json-body",
          "token requests (code exchange and refresh) are sent as application/json instead of "
          "application/x-www-form-urlencoded",
          ("PGO-TOKEN-01",), blocks=_NEEDS_TOKEN, component="token"),
    Fault("no-client-certificate",
          "token requests (code exchange and refresh) are sent without the mTLS client certificate "
          "(resource requests still present it)",
          ("PGO-TOKEN-01",), blocks=("PGO-TOKEN-02", "PGO-TOKEN-03", "PGO-TOKEN-04") + _NEEDS_TOKEN,
          component="token"),
    Fault("redirect-uri-differs",
          "the code exchange sends the redirect_uri with a trailing slash, not the one of the authorization "
          "request",
          ("PGO-TOKEN-02",), blocks=_NEEDS_TOKEN, component="token"),
    Fault("correlation-id-not-reused",
          "the code exchange carries a new X-Correlation-ID instead of the authorization request's (resource "
          "requests keep the authorization request's)",
          ("PGO-TOKEN-03",), component="token"),
    Fault("code-reused",
          "after a 5xx answer (or a failed connection) the code exchange is repeated with the same code, so "
          "the code is presented twice; observable when the token endpoint answers 5xx",
          ("PGO-TOKEN-04",), component="token"),
    Fault("refresh-code-grant",
          "refresh requests use grant_type=refresh_code (as one real PGO proxy does) instead of refresh_token",
          ("PGO-TOKEN-05",), component="token"),
    Fault("old-refresh-token",
          "refresh requests send the first refresh token of the consent, not the latest (rotated) one; "
          "observable from the second refresh on",
          ("PGO-TOKEN-05",), component="token"),
    Fault("refresh-correlation-id-reused",
          "refresh requests carry the authorization request's X-Correlation-ID instead of a new one",
          ("PGO-TOKEN-05",), component="token"),
    Fault("crashes-without-refresh-token",
          "a token response without refresh_token (short-lived consent) makes the PGO fail with HTTP 500 and "
          "stop: no resource request follows; observable when the token endpoint leaves refresh_token out "
          "(proposed check: a token response without refresh_token or scope is handled)",
          ("PGO-TOKEN-05",), component="token"),
    # ------------------------------------------------------------------ resource requests
    Fault("token-in-query",
          "resource requests carry the access token in the URL too (access_token=... in the query, besides "
          "the Authorization header); a resource server that refuses such requests (as the harness's does: "
          "HTTP 400) serves no data, so the list scenarios' flows fetch nothing",
          ("PGO-RES-01",), blocks=("PGO-LIST-02", "PGO-LIST-03"), component="resource"),
    Fault("request-id-reused",
          "every resource request of a run carries the same MedMij-Request-ID",
          ("PGO-RES-02",), component="resource"),
    Fault("patient-param",
          "every search after the Patient search adds patient=<id of the Patient it returned>",
          ("PGO-RES-03",), component="resource"),
    Fault("extra-and-missing-searches",
          "the last catalogued search of the gegevensdienst is skipped and a bare GET Patient is added",
          ("PGO-RES-04",), component="resource"),
    Fault("retries-forever-on-401",
          "on 401 invalid_token the same request is repeated with the same token, without refreshing "
          "(bounded here at 20 tries); observable when the resource server answers 401",
          ("PGO-RES-05",), component="resource"),
    Fault("token-used-after-expiry",
          "the access token is used after its expires_in has passed (no refresh before use); observable "
          "with a short-lived token and a wait",
          ("PGO-RES-06",), component="resource"),
    # ------------------------------------------------------------------ lists
    Fault("ignores-whitelist",
          "the Whitelist is fetched and validated but never consulted: hosts that are not on it are "
          "contacted",
          ("PGO-LIST-01",), component="lists"),
    Fault("accepts-invalid-lists",
          "lists that fail their XML Schema or have no entries are accepted and replace the last good copy; an "
          "unreadable one (e.g. an empty body) leaves the PGO without that list, so no flow can start",
          ("PGO-LIST-02",), component="lists"),
    Fault("accepts-lower-volgnummer",
          "a list with a lower Volgnummer than the one held is accepted",
          ("PGO-LIST-03",), component="lists"),
    Fault("wrong-interfaceversie",
          "the endpoints are taken from the aanbieder's highest interfaceversie whether or not it offers the "
          "gegevensdienst (when that is the right one: the next lower one; its entry for the gegevensdienst, "
          "else its first gegevensdienst), so the authorization request goes to another interfaceversie's "
          "AuthorizationEndpointuri; observable when the ZAL lists the aanbieder under more than one "
          "interfaceversie (the harness's 2.3.0 offers only 49 at /other-interfaceversie/, which answers 404: "
          "the flow ends there)",
          ("PGO-LIST-04", "PGO-AUTHZ-01"),
          blocks=("PGO-AUTHZ-02", "PGO-AUTHZ-03", "PGO-STATE-01", "PGO-STATE-02", "PGO-STATE-03", "PGO-TOKEN-01",
                  "PGO-TOKEN-02", "PGO-TOKEN-03", "PGO-TOKEN-04") + _NEEDS_TOKEN, component="lists"),
)

#: every fault of the reference PGO by name
PGO_FAULTS: dict[str, Fault] = {f.name: f for f in _TABLE}


def check_pgo_faults(names: Iterable[str] | str) -> frozenset[str]:
    """The fault names as a frozenset (names may be comma-separated); :class:`UnknownFault`
    (exit 4) for a name that is not a fault of the reference PGO."""
    chosen = frozenset(_split(names))
    unknown = sorted(chosen - PGO_FAULTS.keys())
    if unknown:
        raise UnknownFault(
            f"unknown PGO fault{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; known PGO faults: "
            + ", ".join(sorted(PGO_FAULTS))
        )
    return chosen


def describe_pgo_faults() -> list[dict[str, object]]:
    """Every PGO fault as a dict (name, description, breaks, blocks, blocks_http, component)."""
    return [describe(f) for f in PGO_FAULTS.values()]


__all__ = ["PGO_FAULTS", "Fault", "UnknownFault", "check_pgo_faults", "describe", "describe_pgo_faults"]
