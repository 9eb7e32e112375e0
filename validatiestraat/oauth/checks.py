"""Checks of the MedMij OAuth flow (authorization endpoint and token endpoint).

Requirement IDs: AS-AUTHZ-* (authorization endpoint, domain brief §8.1) and AS-TOKEN-* (token
endpoint, §8.2). Each check's default IDs are the ones it verifies in its usual use; scenarios
may name others (e.g. ``oauth.token_error`` serves AS-TOKEN-04, -05, -07, -08, -09).
"""

from __future__ import annotations

from typing import Any

from validatiestraat.engine.checks_http import HttpCheck
from validatiestraat.engine.context import FlowContext, HttpSubject
from validatiestraat.engine.plugins import Check, StepOutcome, Verdict, register_check
from validatiestraat.report.model import Status
from validatiestraat.oauth.steps import AuthorizeResult


#: RFC 6749 §4.1.2.1 error codes of an authorization error redirect
AUTHZ_ERRORS = ("invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
                "invalid_scope", "server_error", "temporarily_unavailable")


def frontchannel_refusal(auth: AuthorizeResult) -> str | None:
    """The authorization endpoint demanded a client certificate, which a browser on the MedMij
    frontchannel never has: a defect of the DVA (AS-AUTHZ-01), not of the tool."""
    for http in (auth.first, auth.http):
        if http is not None and http.response is None and http.error_code == "client_certificate_required" \
                and not http.client_certificate:
            return http.error
    return None


def _authorize(outcome: StepOutcome) -> tuple[AuthorizeResult | None, Verdict | None]:
    subject = outcome.subject
    if not isinstance(subject, AuthorizeResult):
        return None, Verdict.errored("this check applies to an oauth.authorize step")
    if subject.config_error:
        return None, Verdict.errored(subject.config_error)
    refusal = frontchannel_refusal(subject)
    if refusal:
        return None, Verdict.blocked(f"blocked by AS-AUTHZ-01: {refusal}", ["AS-AUTHZ-01"])
    last = subject.http
    if subject.redirect_params is None and last is not None and last.response is None:
        from validatiestraat.engine.checks_http import transport_block

        blocked = transport_block(last)
        if blocked:
            return None, blocked
        # the tool could not talk to the DVA (TLS refused, timeout): nothing can be decided
        return None, Verdict.errored(f"{subject.describe()}: the tool could not complete the exchange: {last.error}")
    return subject, None


class AuthorizeCheck(Check):
    """A check of an ``oauth.authorize`` step: subclasses implement judge_authorize. When the tool
    could not talk to the DVA at all the check ends as ERROR before judge_authorize is called."""

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        auth, problem = _authorize(outcome)
        if problem:
            return problem
        assert auth is not None
        return self.judge_authorize(arg, auth, outcome, ctx)

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome,
                        ctx: FlowContext) -> Verdict:  # pragma: no cover
        raise NotImplementedError


@register_check
class Redirected(AuthorizeCheck):
    name = "oauth.redirected"
    title = "The DVA redirects to the client's redirect_uri with a code"
    requirements = ("AS-AUTHZ-01",)
    schema = {"type": "boolean", "description": "true: must redirect with a code"}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        subject = outcome.subject
        if isinstance(subject, AuthorizeResult) and not subject.config_error and "AS-AUTHZ-01" in ctx.judging:
            refusal = frontchannel_refusal(subject)
            if refusal:
                return Verdict.failed(f"{refusal}; a valid authorization request from a browser must reach the "
                                      "login page without a client certificate")
        return super().evaluate(arg, outcome, ctx)

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        if auth.redirect_url is None:
            return Verdict.failed(f"{auth.describe()}; a valid request must end in a redirect to "
                                  f"{auth.redirect_uri} with code and state" + (f" ({auth.error})" if auth.error else ""))
        params = auth.redirect_params or {}
        if "error" in params:
            return Verdict.failed(f"{auth.describe()}; the DVA redirected with error={params['error']!r}"
                                  f" ({params.get('error_description', 'no description')})")
        if not params.get("code"):
            return Verdict.failed(f"{auth.describe()}; the redirect carries no code")
        return Verdict.passed("redirected to the redirect_uri with a code")


@register_check
class NotRedirected(AuthorizeCheck):
    name = "oauth.not_redirected"
    title = "The DVA does not redirect to an untrusted redirect_uri"
    requirements = ("AS-AUTHZ-02",)
    schema = {"type": "boolean"}

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        if auth.redirect_url is not None:
            return Verdict.failed(f"{auth.describe()}; the user agent must not be redirected to "
                                  f"{auth.redirect_uri} for this request (RFC 6749 §4.1.2.1)")
        if auth.first is not None and auth.first.response is None:
            return Verdict.errored(f"no answer from the authorization endpoint: {auth.first.error}")
        return Verdict.passed(f"not redirected (HTTP {auth.first.status if auth.first else '?'})")


@register_check
class StateEchoed(AuthorizeCheck):
    name = "oauth.state_echoed"
    title = "The redirect carries the unchanged state"
    requirements = ("AS-AUTHZ-01",)
    schema = {"type": "boolean"}

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        if auth.redirect_params is None:
            return Verdict.skipped("no redirect to the redirect_uri, so no state to compare")
        got, sent = auth.redirect_params.get("state"), auth.state_sent
        if got == sent:
            return Verdict.passed(f"state echoed unchanged ({len(sent or '')} characters)")
        if got is None:
            return Verdict.failed(f"{auth.describe()}; the redirect carries no state; sent {sent!r}")
        return Verdict.failed(f"{auth.describe()}; state changed: sent {sent!r}, got back {got!r}")


@register_check
class ErrorRedirect(AuthorizeCheck):
    name = "oauth.error_redirect"
    title = "The DVA redirects with the RFC 6749 error and the state"
    requirements = ("AS-AUTHZ-04",)
    schema = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                       "state": {"type": "boolean", "description": "state must be echoed (default true)"}},
        "additionalProperties": False,
    }

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        wanted = arg["error"] if isinstance(arg["error"], list) else [arg["error"]]
        if auth.redirect_params is None:
            return Verdict.failed(f"{auth.describe()}; expected a redirect with error={'|'.join(wanted)}")
        params = auth.redirect_params
        if params.get("code"):
            return Verdict.failed(f"{auth.describe()}; a code was issued where error={'|'.join(wanted)} was required")
        if params.get("error") not in wanted:
            return Verdict.failed(f"{auth.describe()}; error={params.get('error')!r}, expected {'|'.join(wanted)}")
        if arg.get("state", True) and params.get("state") != auth.state_sent:
            return Verdict.failed(f"{auth.describe()}; error redirect must echo state {auth.state_sent!r}, "
                                  f"got {params.get('state')!r}")
        return Verdict.passed(f"redirected with error={params['error']}"
                              + (" and the state" if arg.get("state", True) else ""))


@register_check
class RedirectWellformed(AuthorizeCheck):
    """Added by the engine to every ``oauth.authorize`` step: whatever the scenario looks for,
    a redirect to the redirect_uri must carry exactly the state that was sent, and an error in it
    must be an RFC 6749 §4.1.2.1 code (a hard-coded ``state=xyz`` or ``error=401`` is caught on
    every request the run makes, not only where a scenario asks)."""

    name = "oauth.redirect_wellformed"
    title = "Every redirect to the redirect_uri carries the exact state, and errors use RFC 6749 codes"
    requirements = ("AS-AUTHZ-01",)
    schema = {"type": "boolean"}

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        params = auth.redirect_params
        if params is None:
            return Verdict.skipped("no redirect to the redirect_uri to inspect")
        problems = []
        sent, got = auth.state_sent, params.get("state")
        if sent is not None and got != sent:
            problems.append(f"state sent {_clip(sent)!r}, got back {_clip(got)!r}" if got is not None
                            else f"no state in the redirect (sent {_clip(sent)!r})")
        error = params.get("error")
        if error is not None and error not in AUTHZ_ERRORS:
            problems.append(f"error={error!r} is not an RFC 6749 §4.1.2.1 error code ({', '.join(AUTHZ_ERRORS)})")
        if problems:
            return Verdict.failed(f"{auth.describe()}; " + "; ".join(problems))
        what = f"error={error}" if error else "a code"
        return Verdict.passed(f"redirect with {what} and the exact state")


def _clip(value: str | None, n: int = 60) -> str | None:
    return value if value is None or len(value) <= n else value[:n] + f"...({len(value)} chars)"


@register_check
class StateRoundtrip(AuthorizeCheck):
    name = "oauth.state_roundtrip"
    title = "A state with reserved characters or at the length bound round-trips exactly or is refused cleanly"
    requirements = ("AS-AUTHZ-09",)
    schema = {"type": "boolean"}

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        sent = auth.state_sent
        params = auth.redirect_params
        if params is not None:
            got = params.get("state")
            if got != sent:
                return Verdict.failed(f"{auth.describe()}; the state did not round-trip: sent {_clip(sent)!r}, "
                                      f"got back {_clip(got)!r}")
            if params.get("code"):
                return Verdict.passed(f"state of {len(sent or '')} characters round-tripped exactly")
            return Verdict.passed(f"refused cleanly with error={params.get('error')!r} and the exact state")
        first = auth.first
        if first is not None and first.response is not None:
            if first.status >= 500:
                return Verdict.failed(f"{auth.describe()}; HTTP {first.status}: the state must round-trip or be "
                                      "refused cleanly")
            if first.status >= 400:
                return Verdict.passed(f"refused cleanly with HTTP {first.status}")
        last = auth.http
        if last is not None and last.response is not None and last.status >= 500:
            return Verdict.failed(f"{auth.describe()}; HTTP {last.status} during the login")
        return Verdict.errored(f"{auth.describe()}; neither a redirect nor a clean refusal"
                               + (f" ({auth.error})" if auth.error else ""))


@register_check
class FormEncoding(Check):
    name = "oauth.form_encoding"
    title = "The token endpoint reads the RFC 6749 form-encoded request"
    requirements = ("AS-TOKEN-02",)
    schema = {"type": "boolean"}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        from validatiestraat.oauth.dialect import FACT, error_of

        http = outcome.subject if isinstance(outcome.subject, HttpSubject) else None
        if http is None:
            return Verdict.errored(outcome.error or "this check applies to an oauth.token step")
        refused = outcome.facts.get("form_attempt")
        dialect = outcome.facts.get("dialect") or ctx.run.facts.get(FACT)
        if refused is not None:
            then = "accepted (HTTP 200 with a token)" if http.status == 200 else f"answered {error_of(http)}"
            return Verdict(Status.FAIL, f"form body refused with {error_of(refused)}; the same request as a JSON "
                                        f"body was {then}; RFC 6749 §4.1.3 requires application/x-www-form-urlencoded",
                           evidence=[refused.exchange_id, http.exchange_id])
        if dialect is not None and dialect.mode == "json":
            return Verdict(Status.FAIL, f"the token endpoint does not read form bodies: {dialect.reason}",
                           evidence=list(dialect.exchanges) + [http.exchange_id])
        if http.response is None:
            return Verdict.errored(f"no answer from the token endpoint: {http.error}")
        if http.status == 200:
            return Verdict.passed("the form-encoded token request was accepted")
        return Verdict.skipped(f"{http.describe()}; the request failed for another reason (oauth.token_response "
                               "reports it), so the encoding cannot be judged here")


class TokenCheck(HttpCheck):
    """A check of a token endpoint answer: subclasses implement judge_token. With
    ``needs_token`` the check is skipped when no token was issued (another check reports that)."""

    needs_token = True

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        body = http.json()
        if self.needs_token and (not isinstance(body, dict) or "access_token" not in body):
            return Verdict.skipped("no token was issued")
        return self.judge_token(arg, http, body, ctx)

    def judge_token(self, arg: Any, http: HttpSubject, body: Any, ctx: FlowContext) -> Verdict:  # pragma: no cover
        raise NotImplementedError


@register_check
class TokenResponse(TokenCheck):
    needs_token = False
    name = "oauth.token_response"
    title = "Successful token response: 200 JSON with access_token and token_type bearer"
    requirements = ("AS-TOKEN-02",)
    schema = {"type": "boolean"}

    def judge_token(self, arg: Any, http: HttpSubject, body: Any, ctx: FlowContext) -> Verdict:
        if http.status != 200:
            detail = f" error={body.get('error')!r}" if isinstance(body, dict) and body.get("error") else ""
            return Verdict.failed(f"{http.describe()}{detail}; a valid token request must get 200 with a token")
        if not isinstance(body, dict):
            return Verdict.failed(f"{http.describe()}; the body is not a JSON object "
                                  f"(content-type {http.header('content-type')!r})")
        missing = [k for k in ("access_token", "token_type", "expires_in") if k not in body]
        if missing:
            return Verdict.failed(f"{http.describe()}; token response lacks {', '.join(missing)}")
        if str(body["token_type"]).lower() != "bearer":
            return Verdict.failed(f"{http.describe()}; token_type is {body['token_type']!r}; MedMij uses bearer tokens")
        return Verdict.passed("200 JSON with access_token, token_type bearer, expires_in")


@register_check
class ExpiresIn(TokenCheck):
    name = "oauth.expires_in"
    title = "Access token lifetime at most 15 minutes"
    requirements = ("AS-TOKEN-03",)
    schema = {"type": "object", "properties": {"max": {"type": "integer"}}, "additionalProperties": False}

    def judge_token(self, arg: Any, http: HttpSubject, body: Any, ctx: FlowContext) -> Verdict:
        limit = int((arg or {}).get("max", 900))
        value = body.get("expires_in")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return Verdict.failed(f"{http.describe()}; expires_in is {value!r}, expected a number of seconds ≤ {limit}")
        if value > limit:
            return Verdict.failed(f"{http.describe()}; expires_in is {value} s; MedMij allows at most {limit} s")
        return Verdict.passed(f"expires_in {value} s ≤ {limit} s")


@register_check
class Scope(TokenCheck):
    name = "oauth.scope"
    title = "Token response scope"
    requirements = ("AS-TOKEN-02",)
    schema = {"type": "object", "properties": {"equals": {"type": "string"}}, "additionalProperties": False}

    def judge_token(self, arg: Any, http: HttpSubject, body: Any, ctx: FlowContext) -> Verdict:
        scope = body.get("scope")
        expected = (arg or {}).get("equals", ctx.target.aanbieder)
        if scope is None:
            return Verdict.failed(f"{http.describe()}; the token response has no scope; expected {expected!r}")
        if set(str(scope).split()) != set(str(expected).split()):
            return Verdict.failed(f"{http.describe()}; scope {scope!r}, expected {expected!r}")
        return Verdict.passed(f"scope {scope!r}")


@register_check
class RefreshTokenIssued(TokenCheck):
    name = "oauth.refresh_token"
    title = "A refresh token is issued for long-lived consent"
    requirements = ("AS-TOKEN-11",)
    schema = {"type": "boolean"}

    def judge_token(self, arg: Any, http: HttpSubject, body: Any, ctx: FlowContext) -> Verdict:
        if not body.get("refresh_token"):
            return Verdict.failed(f"{http.describe()}; no refresh_token although long-lived consent applies")
        previous = ctx.vars.get("previous_refresh_token")
        if previous and body["refresh_token"] == previous:
            return Verdict.failed(f"{http.describe()}; the refresh token was not rotated")
        return Verdict.passed("refresh_token issued" + (" (rotated)" if previous else ""))


@register_check
class TokenError(TokenCheck):
    needs_token = False
    name = "oauth.token_error"
    title = "Refused with an RFC 6749 §5.2 error and no token"
    requirements = ("AS-TOKEN-09",)
    schema = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "status": {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]},
        },
        "additionalProperties": False,
    }

    def judge_token(self, arg: Any, http: HttpSubject, body: Any, ctx: FlowContext) -> Verdict:
        wanted = arg["error"] if isinstance(arg["error"], list) else [arg["error"]]
        statuses = arg.get("status", [400, 401])
        statuses = statuses if isinstance(statuses, list) else [statuses]
        if isinstance(body, dict) and body.get("access_token"):
            return Verdict.failed(f"{http.describe()}; a token was issued; the request must be refused "
                                  f"with {'|'.join(wanted)}")
        if http.status not in statuses:
            return Verdict.failed(f"{http.describe()}; expected HTTP {'/'.join(map(str, statuses))} "
                                  f"with error {'|'.join(wanted)}")
        if not isinstance(body, dict) or "error" not in body:
            return Verdict.failed(f"{http.describe()}; the error body must be JSON with an 'error' member "
                                  f"(RFC 6749 §5.2), content-type {http.header('content-type')!r}")
        if body["error"] not in wanted:
            return Verdict.failed(f"{http.describe()}; error={body['error']!r}, expected {'|'.join(wanted)}")
        return Verdict.passed(f"refused: HTTP {http.status} error={body['error']}")


@register_check
class NoServerError(AuthorizeCheck):
    name = "oauth.no_server_error"
    title = "The authorization endpoint answers without a server error (no 5xx, no error=server_error)"
    requirements = ("AS-AUTHZ-09",)
    schema = {"type": "boolean"}

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        first = auth.first
        if first is None or first.response is None:
            if auth.redirect_params is not None:
                return Verdict.passed("answered with a redirect")
            return Verdict.errored(f"no answer from the authorization endpoint: {first.error if first else auth.error}")
        if first.status >= 500:
            return Verdict.failed(f"{auth.describe()}; the authorization endpoint answered HTTP {first.status}; "
                                  "an unacceptable request must be refused cleanly (4xx or an error redirect)")
        if (auth.redirect_params or {}).get("error") == "server_error":
            return Verdict.failed(f"{auth.describe()}; error=server_error for a request the DVA should handle cleanly")
        return Verdict.passed(f"handled cleanly (HTTP {first.status})")


@register_check
class ErrorDescription(AuthorizeCheck):
    name = "oauth.error_description"
    title = "Error redirects carry an error_description (Duiding van fouten)"
    requirements = ("AS-AUTHZ-12",)
    schema = {"type": "object", "properties": {"values": {"type": "array", "items": {"type": "string"}}},
              "additionalProperties": False}

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        params = auth.redirect_params or {}
        if "error" not in params:
            return Verdict.skipped("no error redirect to inspect")
        description = params.get("error_description")
        if not description:
            return Verdict.failed(f"{auth.describe()}; error={params['error']} without error_description")
        allowed = (arg or {}).get("values")
        if allowed and description not in allowed:
            return Verdict.failed(f"error_description {description!r} is not one of the configured values")
        return Verdict.passed(f"error_description {description!r}")


@register_check
class Unique(Check):
    name = "oauth.unique"
    title = "Codes, access tokens and refresh tokens are unique and unguessable over several flows"
    requirements = ("AS-TOKEN-13",)
    schema = {"type": "object", "properties": {"min_bits": {"type": ["integer", "string"]}}, "additionalProperties": False}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        from validatiestraat.oauth.sample import Sample

        sample = outcome.subject
        if not isinstance(sample, Sample):
            return Verdict.errored("this check applies to an oauth.sample step")
        min_bits = int(float((arg or {}).get("min_bits", 112)))
        if sample.flows < 2:
            why = f"only {sample.flows} complete flow(s) of {sample.flows + len(sample.errors)}; cannot compare " \
                  f"({'; '.join(sample.errors[:2])})"
            if sample.blocked_by:
                return Verdict.blocked(f"blocked by {', '.join(sample.blocked_by)}: {why}", sample.blocked_by)
            return Verdict.errored(why)
        problems = []
        for kind, values in sample.values.items():
            if len(set(values)) != len(values):
                problems.append(f"duplicate {kind} among {len(values)} issued")
            weakest = min((sample.entropy_bits(v) for v in values), default=0)
            if values and weakest < min_bits:
                problems.append(f"a {kind} carries only ~{weakest:.0f} bits (need ≥ {min_bits})")
        if problems:
            return Verdict.failed("; ".join(problems) + f" (over {sample.flows} flows)")
        counts = ", ".join(f"{len(v)} {k}s" for k, v in sample.values.items())
        return Verdict.passed(f"{counts}: all distinct, ≥ {min_bits} bits each")


@register_check
class ConsentPage(AuthorizeCheck):
    name = "oauth.consent_page"
    title = "The consent page names the PGO (OCL) and the gegevensdienst (GNL)"
    requirements = ("AS-AUTHZ-13",)
    schema = {"type": "object", "required": ["shows"],
              "properties": {"shows": {"type": ["array", "string"], "items": {"type": "string"}}},
              "additionalProperties": False}

    def judge_authorize(self, arg: Any, auth: AuthorizeResult, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        wanted = [w for w in (arg["shows"] if isinstance(arg["shows"], list) else [arg["shows"]]) if w]
        if not wanted:
            return Verdict.omitted("no names to look for (set the target option consent_page_names)")
        ids = set(outcome.exchanges)
        pages = [x for x in ctx.recorder.exchanges if x.id in ids and x.response_body
                 and "html" in dict((k.lower(), v) for k, v in x.response_headers).get("content-type", "")]
        if not pages:
            return Verdict.skipped("no HTML pages were shown during the login")
        texts = [_visible_text(x.response_body or "") for x in pages]
        for text, page in zip(reversed(texts), reversed(pages)):
            if all(w.lower() in text.lower() for w in wanted):
                return Verdict(Status.PASS, f"the consent page names {', '.join(map(repr, wanted))}",
                               evidence=[page.id])
        missing = [w for w in wanted if not any(w.lower() in t.lower() for t in texts)]
        return Verdict.failed(f"no page of the login shows {', '.join(map(repr, missing))}; the consent "
                              "question must name the PGO (OCL) and the gegevensdienst (GNL)",
                              pages=[p.url.split('?')[0] for p in pages])


def _visible_text(html: str) -> str:
    import re as _re
    from html import unescape

    return unescape(_re.sub(r"<[^>]+>", " ", _re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", " ", html)))


@register_check
class SubscriptionScope(TokenCheck):
    needs_token = False
    name = "oauth.subscription_scope"
    title = "Abonneren: the granted duration is at most the requested duration and the ZAL MaximaleDuur"
    requirements = ("AS-TOKEN-15",)
    schema = {"type": "object", "required": ["max_days"],
              "properties": {"max_days": {"type": ["integer", "string"]}}, "additionalProperties": False}

    def judge_token(self, arg: Any, http: HttpSubject, body: Any, ctx: FlowContext) -> Verdict:
        import re as _re

        if not isinstance(body, dict) or "access_token" not in body:
            return Verdict.failed(f"{http.describe()}; no token for the subscription request")
        scope = str(body.get("scope") or "")
        m = _re.search(r"subscribe~(\d+)/", scope)
        if not m:
            return Verdict.failed(f"{http.describe()}; the token scope {scope!r} carries no granted subscription "
                                  "duration (subscribe~<days>/...)")
        granted, limit = int(m.group(1)), int(arg["max_days"])
        if granted > limit:
            return Verdict.failed(f"{http.describe()}; granted {granted} days, more than the {limit} allowed")
        return Verdict.passed(f"granted {granted} day(s) ≤ {limit}")
