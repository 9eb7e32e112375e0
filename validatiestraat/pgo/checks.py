"""Checks of what a PGO sent to the harness: PGO-AUTHZ-*, PGO-STATE-*, PGO-TOKEN-*, PGO-RES-*,
PGO-LIST-* (domain brief §8.4).

Each judges the :class:`~validatiestraat.pgo.steps.PgoWindow` of its step: the requests the PGO
made, in order, with what the harness answered. Evidence is the exchange of the request that
broke the rule (or of the whole window when something is missing).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlsplit

from validatiestraat.engine.context import FlowContext
from validatiestraat.engine.plugins import Check, StepOutcome, Verdict, register_check
from validatiestraat.pgo.model import Seen
from validatiestraat.pgo.steps import PgoWindow
from validatiestraat.report.model import Status
from validatiestraat.rs.catalogue import query_shape, required_searches

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
BSN_LIKE = re.compile(r"(?<!\d)\d{9}(?!\d)")


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def _fail(reason: str, seen: Iterable[Seen] = (), **details: Any) -> Verdict:
    return Verdict(Status.FAIL, reason, details, evidence=[s.exchange_id for s in seen if s.exchange_id] or None)


def _pass(reason: str, seen: Iterable[Seen] = ()) -> Verdict:
    return Verdict(Status.PASS, reason, evidence=[s.exchange_id for s in seen if s.exchange_id] or None)


def body_params(seen: Seen) -> dict[str, str]:
    """The token request's parameters, form-encoded (as required) or, for a faulty PGO, JSON."""
    if seen.form is not None:
        return dict(seen.form)
    try:
        data = json.loads(seen.body or b"{}")
    except ValueError:
        return dict(parse_qsl(seen.body.decode("utf-8", "replace")))
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def token_json(seen: Seen) -> dict[str, Any]:
    try:
        data = json.loads(seen.response_body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def bearer(seen: Seen) -> str | None:
    auth = seen.header("authorization") or ""
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _preceding_authorize(window: PgoWindow, before: Seen) -> Seen | None:
    candidates = [s for s in window.harness.seen(0, "authorize") if s.index < before.index]
    return candidates[-1] if candidates else None


def is_bsn(digits: str) -> bool:
    """The elfproef of a Dutch BSN: 9 digits, sum(d_i * (9 - i)) - d_9 divisible by 11."""
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:8])) - int(digits[8])
    return total % 11 == 0


def _bsn_in(value: str) -> bool:
    """A BSN standing on its own in a URL part; codes of a coded value (system|code) do not count."""
    for part in re.split(r"[,/&=]", value):
        if "|" in part:
            continue
        if any(is_bsn(m.group(0)) for m in BSN_LIKE.finditer(part)):
            return True
    return False


def _token_ok(seen: Iterable[Seen]) -> bool:
    return any(t.endpoint == "token" and t.status == 200 and token_json(t).get("access_token") for t in seen)


def stage_block(window: PgoWindow, needs: str, ctx: FlowContext) -> Verdict | None:
    """BLOCKED when an earlier stage of the PGO's flow failed (``authorize``, ``token_request``,
    ``token``), naming the requirement of that root
    failure: a check of resource requests cannot judge a PGO that never obtained a token, and says
    so instead of failing a second time for the same defect."""
    flow_step = window.action == "flow"
    scope = window.seen if flow_step else window.harness.seen(window.scenario_start)
    if not any(s.endpoint == "authorize" for s in scope):
        flows = "; ".join(f.error or f.config_error or "" for f in window.flows if f.error or f.config_error)
        stray = next((s for s in scope if s.endpoint == "other"), None)
        why = (f"its authorization request went to {stray.path}, not to the ZAL AuthorizationEndpointuri" if stray
               else "the PGO's flow never reached the ZAL authorization endpoint" + (f" ({flows})" if flows else ""))
        return Verdict.blocked(f"blocked by PGO-AUTHZ-01: {why}", ["PGO-AUTHZ-01"])
    if needs == "token_request" and not any(s.endpoint == "token" for s in scope):
        return Verdict.blocked("blocked by PGO-TOKEN-01: no token request reached the ZAL TokenEndpointuri (a "
                               "request without a client certificate fails in the TLS handshake)", ["PGO-TOKEN-01"])
    if needs == "token" and not _token_ok(scope):
        probe = PgoWindow(since=window.since, seen=[s for s in scope if s.endpoint in ("authorize", "token")],
                          harness=window.harness, flows=window.flows, client_id=window.client_id,
                          redirect_uri=window.redirect_uri, aanbieder=window.aanbieder)
        roots = [check for check in (TokenTransport(), TokenParams(), TokenHeaders())
                 if check.judge(True, probe, ctx).status is Status.FAIL]
        reqs = [r for check in roots for r in check.requirements]
        first = roots[0].judge(True, probe, ctx).reason if roots else \
            "the PGO obtained no access token (the harness answered its token requests as scripted)"
        return Verdict.blocked((f"blocked by {', '.join(reqs)}: " if reqs else "blocked: ") + first, reqs)
    return None


class PgoCheck(Check):
    """A check of a PGO step's window; subclasses implement ``judge``.

    ``needs``: the stage of the flow the check's evidence depends on ("authorize": an authorization
    request reached the harness; "token": the PGO obtained an access token). When that stage
    failed, the check ends BLOCKED by the root failure instead of failing again."""

    needs: str = ""

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        window = outcome.subject
        if not isinstance(window, PgoWindow):
            return Verdict.errored(outcome.error or "this check applies to a pgo.* step")
        if self.needs:
            blocked = stage_block(window, self.needs, ctx)
            if blocked:
                return blocked
        return self.judge(arg, window, ctx)

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def need(window: PgoWindow, endpoint: str, what: str) -> tuple[list[Seen], Verdict | None]:
        seen = window.of(endpoint)
        if seen:
            return seen, None
        flows = "; ".join(f.error or f.config_error or "" for f in window.flows if f.error or f.config_error)
        return [], Verdict.failed(f"the PGO sent no {what} to the harness during this step"
                                  + (f" (the browser: {flows})" if flows else ""))


# ------------------------------------------------------------------ authorization request

@register_check
class AuthorizeEndpoint(PgoCheck):
    name = "pgo.authorize_endpoint"
    title = "The authorization request is a GET to the ZAL AuthorizationEndpointuri"
    requirements = ("PGO-AUTHZ-01",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        expected = _path(window.harness.urls["authorization"])
        for flow in window.flows:
            if flow.authorization_url and _path(flow.authorization_url) != expected or (
                    flow.authorization_url and urlsplit(flow.authorization_url).netloc
                    != urlsplit(window.harness.urls["authorization"]).netloc):
                return _fail(f"the PGO sent its user to {flow.authorization_url.split('?')[0]}, not to the ZAL "
                             f"AuthorizationEndpointuri {window.harness.urls['authorization']}")
        seen, missing = self.need(window, "authorize", "authorization request")
        if missing:
            return missing
        wrong = [s for s in seen if s.method != "GET" or _path(s.path) != expected]
        if wrong:
            return _fail(f"{wrong[0].describe()}: expected GET {expected}", wrong[:1])
        return _pass(f"{len(seen)} authorization request(s), GET to the ZAL AuthorizationEndpointuri", seen)


@register_check
class AuthorizeParams(PgoCheck):
    name = "pgo.authorize_params"
    needs = "authorize"
    title = "response_type=code, client_id = OCL Hostname, redirect_uri on that host, scope = the aanbieder, a state"
    requirements = ("PGO-AUTHZ-02",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen, missing = self.need(window, "authorize", "authorization request")
        if missing:
            return missing
        for s in seen:
            params = dict(s.query)
            problems = []
            if params.get("response_type") != "code":
                problems.append(f"response_type={params.get('response_type')!r}, expected 'code'")
            if params.get("client_id") != window.client_id:
                problems.append(f"client_id={params.get('client_id')!r}, expected its OCL Hostname {window.client_id!r}")
            redirect = params.get("redirect_uri") or ""
            if redirect != window.redirect_uri:
                problems.append(f"redirect_uri={redirect!r}, expected the registered {window.redirect_uri!r}")
            elif (urlsplit(redirect).hostname or "") != window.client_id.split(":")[0]:
                problems.append(f"the redirect_uri host {urlsplit(redirect).hostname!r} is not the OCL Hostname")
            if params.get("scope") != window.aanbieder:
                problems.append(f"scope={params.get('scope')!r}; for 2.x Verzamelen the scope is the bare aanbieder "
                                f"name {window.aanbieder!r}")
            if not params.get("state"):
                problems.append("no state")
            if problems:
                return _fail(f"{s.describe()}: " + "; ".join(problems), [s])
        return _pass(f"{len(seen)} authorization request(s) with the MedMij parameters", seen)


@register_check
class AuthorizeIds(PgoCheck):
    name = "pgo.authorize_ids"
    needs = "authorize"
    title = "MedMij-Request-ID and X-Correlation-ID query parameters: UUIDs, new per request / per authorization"
    requirements = ("PGO-AUTHZ-03",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen, missing = self.need(window, "authorize", "authorization request")
        if missing:
            return missing
        everything = window.harness.seen(0, "authorize")
        request_ids = [s.param("MedMij-Request-ID") for s in everything]
        correlation = [s.param("X-Correlation-ID") for s in everything]
        for s in seen:
            for name in ("MedMij-Request-ID", "X-Correlation-ID"):
                value = s.param(name)
                if not value or not UUID.match(value):
                    return _fail(f"{s.describe()}: {name}={value!r} is not a UUID query parameter", [s])
            if request_ids.count(s.param("MedMij-Request-ID")) > 1:
                return _fail(f"{s.describe()}: MedMij-Request-ID {s.param('MedMij-Request-ID')} was used before", [s])
            if correlation.count(s.param("X-Correlation-ID")) > 1:
                return _fail(f"{s.describe()}: X-Correlation-ID {s.param('X-Correlation-ID')} was used by an earlier "
                             "authorization request; it must be new per authorization", [s])
        return _pass("MedMij-Request-ID and X-Correlation-ID are fresh UUIDs", seen)


@register_check
class StateUnpredictable(PgoCheck):
    name = "pgo.state_unpredictable"
    needs = "authorize"
    title = "The state is unpredictable over several flows and within the bounds"
    requirements = ("PGO-STATE-01",)
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"min_bits": {"type": ["integer", "string"]}, "max_length": {"type": ["integer", "string"]},
                             "min_flows": {"type": "integer", "minimum": 2}}}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        from validatiestraat.oauth.sample import Sample

        arg = arg if isinstance(arg, dict) else {}
        seen = window.of("authorize")
        states = [s.param("state") or "" for s in seen]
        if len(states) < int(arg.get("min_flows", 3)):
            return Verdict.errored(f"only {len(states)} authorization request(s); need {arg.get('min_flows', 3)} to judge")
        if len(set(states)) != len(states):
            return _fail(f"a state repeats over {len(states)} flows", seen)
        min_bits, max_length = int(float(arg.get("min_bits", 128))), int(float(arg.get("max_length", 512)))
        weakest = min(Sample.entropy_bits(s) for s in states)
        if weakest < min_bits:
            return _fail(f"a state carries only ~{weakest:.0f} bits (need ≥ {min_bits}): e.g. {states[0]!r}", seen)
        longest = max(len(s) for s in states)
        if longest > max_length:
            return _fail(f"a state of {longest} characters exceeds {max_length}", seen)
        if _sequential(states):
            return _fail(f"the states follow a sequence ({states[:3]}...): predictable", seen)
        return _pass(f"{len(states)} distinct states, ≥ {weakest:.0f} bits each", seen)


def _sequential(states: list[str]) -> bool:
    numbers = [re.sub(r"\D", "", s) for s in states]
    if all(numbers) and len(set(len(s) for s in states)) == 1:
        values = [int(n) for n in numbers]
        return all(b - a == values[1] - values[0] for a, b in zip(values, values[1:]))
    return False


@register_check
class NoTokenRequest(PgoCheck):
    needs = "authorize"
    name = "pgo.no_token_request"
    title = "No token request follows a redirect the PGO must reject"
    requirements = ("PGO-STATE-02",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        if not window.of("authorize") and not any(f.callback_url for f in window.flows):
            return Verdict.errored("the PGO sent no authorization request, so there was no redirect to reject")
        tokens = window.of("token")
        if tokens:
            what = ", ".join(f"{k}={v}" for k, v in window.scripted.items())
            return _fail(f"{tokens[0].describe()}: the PGO asked for a token after a redirect it must reject ({what})",
                         tokens[:1])
        return _pass(f"no token request after the redirect ({', '.join(window.scripted.values())})")


# ------------------------------------------------------------------ token requests

def _code_requests(window: PgoWindow) -> list[Seen]:
    return [s for s in window.of("token") if body_params(s).get("grant_type") != "refresh_token"
            and "refresh_token" not in body_params(s)]


@register_check
class TokenTransport(PgoCheck):
    name = "pgo.token_transport"
    needs = "authorize"
    title = "Token requests: POST, form-encoded, to the ZAL TokenEndpointuri, over mTLS with the client certificate"
    requirements = ("PGO-TOKEN-01",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen, missing = self.need(window, "token", "token request")
        if missing:
            return missing
        expected = _path(window.harness.urls["token"])
        for s in seen:
            ctype = (s.header("content-type") or "").split(";")[0].strip().lower()
            if s.method != "POST" or _path(s.path) != expected:
                return _fail(f"{s.describe()}: expected POST {expected}", [s])
            if ctype != "application/x-www-form-urlencoded":
                return _fail(f"{s.describe()}: Content-Type {ctype!r}; the token request is form-encoded "
                             "(application/x-www-form-urlencoded)", [s])
            if not s.client_certificate:
                return _fail(f"{s.describe()}: no client certificate was presented; the backchannel needs mTLS", [s])
        return _pass(f"{len(seen)} token request(s) form-encoded over mTLS", seen)


@register_check
class TokenParams(PgoCheck):
    name = "pgo.token_params"
    needs = "token_request"
    title = "grant_type=authorization_code, the issued code, the exact redirect_uri, client_id"
    requirements = ("PGO-TOKEN-02",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen = _code_requests(window)
        if not seen:
            return Verdict.failed("the PGO sent no authorization_code token request during this step")
        for s in seen:
            params = body_params(s)
            authorize = _preceding_authorize(window, s)
            sent_redirect = authorize.param("redirect_uri") if authorize else None
            problems = []
            if params.get("grant_type") != "authorization_code":
                problems.append(f"grant_type={params.get('grant_type')!r}")
            if not params.get("code"):
                problems.append("no code")
            if params.get("redirect_uri") != sent_redirect:
                problems.append(f"redirect_uri={params.get('redirect_uri')!r} differs from the authorization "
                                f"request's {sent_redirect!r}")
            if params.get("client_id") != window.client_id:
                problems.append(f"client_id={params.get('client_id')!r}, expected {window.client_id!r}")
            if problems:
                return _fail(f"{s.describe()}: " + "; ".join(problems), [s])
        return _pass(f"{len(seen)} code exchange(s) with the exact parameters", seen)


@register_check
class TokenHeaders(PgoCheck):
    name = "pgo.token_headers"
    needs = "token_request"
    title = "Token requests carry a new MedMij-Request-ID and the authorization's X-Correlation-ID"
    requirements = ("PGO-TOKEN-03",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen = _code_requests(window)
        if not seen:
            return Verdict.failed("the PGO sent no authorization_code token request during this step")
        for s in seen:
            authorize = _preceding_authorize(window, s)
            request_id, correlation = s.header("MedMij-Request-ID"), s.header("X-Correlation-ID")
            if not request_id or not UUID.match(request_id):
                return _fail(f"{s.describe()}: MedMij-Request-ID header {request_id!r} is not a UUID", [s])
            if authorize is not None and request_id == authorize.param("MedMij-Request-ID"):
                return _fail(f"{s.describe()}: MedMij-Request-ID is the authorization request's; it must be new", [s])
            expected = authorize.param("X-Correlation-ID") if authorize else None
            if correlation != expected:
                return _fail(f"{s.describe()}: X-Correlation-ID {correlation!r}, expected the authorization request's "
                             f"{expected!r}", [s])
        return _pass("new MedMij-Request-ID, the flow's X-Correlation-ID", seen)


@register_check
class CodeOnce(PgoCheck):
    name = "pgo.code_once"
    needs = "token_request"
    title = "Each authorization code is presented at most once (also after a 5xx answer)"
    requirements = ("PGO-TOKEN-04",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        everything = window.harness.seen(0, "token")
        counts: dict[str, list[Seen]] = {}
        for s in everything:
            code = body_params(s).get("code")
            if code:
                counts.setdefault(code, []).append(s)
        mine = {body_params(s).get("code") for s in window.of("token")} - {None}
        if not mine:
            return Verdict.failed("the PGO presented no authorization code during this step")
        for code in mine:
            if len(counts[code]) > 1:
                answers = ", ".join(f"HTTP {s.status}" for s in counts[code])
                return _fail(f"one authorization code was presented {len(counts[code])} times ({answers}); a code "
                             "is presented at most once", counts[code])
        return _pass(f"{len(mine)} code(s), each presented once", window.of("token"))


@register_check
class RefreshRequest(PgoCheck):
    name = "pgo.refresh_request"
    needs = "token"
    title = "Refresh: grant_type=refresh_token with the latest refresh token, new request and correlation IDs"
    requirements = ("PGO-TOKEN-05",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen = [s for s in window.of("token") if "refresh_token" in body_params(s)
                or body_params(s).get("grant_type") not in (None, "authorization_code")]
        if not seen:
            return Verdict.failed("the PGO sent no refresh request when asked to refresh")
        everything = window.harness.seen(0, "token")
        for s in seen:
            params = body_params(s)
            if params.get("grant_type") != "refresh_token":
                return _fail(f"{s.describe()}: grant_type={params.get('grant_type')!r}, expected 'refresh_token'", [s])
            issued = [token_json(t).get("refresh_token") for t in everything if t.index < s.index and t.status == 200]
            issued = [r for r in issued if r]
            if not issued or params.get("refresh_token") != issued[-1]:
                which = "an older refresh token" if params.get("refresh_token") in issued else "an unknown refresh token"
                return _fail(f"{s.describe()}: the PGO sent {which}; after rotation only the latest one is valid", [s])
            earlier = [t.header("X-Correlation-ID") for t in everything if t.index < s.index]
            earlier += [a.param("X-Correlation-ID") for a in window.harness.seen(0, "authorize") if a.index < s.index]
            request_id, correlation = s.header("MedMij-Request-ID"), s.header("X-Correlation-ID")
            if not request_id or not UUID.match(request_id):
                return _fail(f"{s.describe()}: MedMij-Request-ID {request_id!r} is not a UUID", [s])
            if not correlation or not UUID.match(correlation) or correlation in earlier:
                return _fail(f"{s.describe()}: X-Correlation-ID {correlation!r} must be a new UUID for the refresh", [s])
        return _pass(f"{len(seen)} refresh request(s) with the latest refresh token", seen)


@register_check
class ShortLivedHandled(PgoCheck):
    name = "pgo.short_lived_handled"
    needs = "token"
    title = "A token response without refresh_token or scope (short-lived consent) is handled"
    requirements = ("PGO-TOKEN-05",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        tokens = [s for s in window.of("token") if s.status == 200]
        if not tokens:
            return Verdict.failed("the PGO exchanged no code during this step")
        broken = [f for f in window.flows if f.error or (f.pages and f.pages[-1].status and f.pages[-1].status >= 500)]
        if broken:
            f = broken[0]
            last = f.pages[-1].describe() if f.pages else f.error
            return _fail(f"after a token response without {'refresh_token' if 'no_refresh_token' in window.scripted.values() else 'scope'} "
                         f"the PGO failed: {last}")
        if not window.of("resource"):
            return _fail("after a token response without a refresh token or scope the PGO fetched no data", tokens)
        return _pass("the PGO went on to fetch data with the short-lived token", tokens)


# ------------------------------------------------------------------ resource requests

@register_check
class ResourceEndpoint(PgoCheck):
    name = "pgo.resource_endpoint"
    needs = "token"
    title = "Resource requests go to the ZAL ResourceEndpointuri with a Bearer header, never a token in the URL"
    requirements = ("PGO-RES-01",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        strays = window.of("other")
        if strays:
            return _fail(f"{strays[0].describe()}: a request to a path that is no ZAL endpoint", strays[:1])
        seen, missing = self.need(window, "resource", "resource request to the ZAL ResourceEndpointuri")
        if missing:
            return missing
        base = _path(window.harness.urls["resource"])
        host = urlsplit(window.harness.urls["resource"]).netloc
        for s in seen:
            if not (_path(s.path) + "/").startswith(base + "/"):
                return _fail(f"{s.describe()}: not under the ZAL ResourceEndpointuri {base}", [s])
            if s.host and s.host.lower() != host.lower():
                return _fail(f"{s.describe()}: sent to host {s.host!r}, not to the ZAL ResourceEndpointuri's "
                             f"{host!r}", [s])
            if "access_token" in dict(s.query) or "access_token" in dict(s.form or []):
                return _fail(f"{s.describe()}: the access token travels as a parameter; only the Authorization "
                             "header may carry it", [s])
            if not bearer(s):
                return _fail(f"{s.describe()}: no Authorization: Bearer header", [s])
        return _pass(f"{len(seen)} resource request(s) to the ZAL endpoint with a Bearer header", seen)


@register_check
class ResourceIds(PgoCheck):
    name = "pgo.resource_ids"
    needs = "token"
    title = "Resource requests carry a new MedMij-Request-ID each and the flow's X-Correlation-ID"
    requirements = ("PGO-RES-02",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen, missing = self.need(window, "resource", "resource request")
        if missing:
            return missing
        ids = [s.header("MedMij-Request-ID") for s in seen]
        for s in seen:
            request_id, correlation = s.header("MedMij-Request-ID"), s.header("X-Correlation-ID")
            if not request_id or not UUID.match(request_id) or ids.count(request_id) > 1:
                return _fail(f"{s.describe()}: MedMij-Request-ID {request_id!r} must be a new UUID per request", [s])
            known = {a.param("X-Correlation-ID") for a in window.harness.seen(0, "authorize") if a.index < s.index}
            known |= {t.header("X-Correlation-ID") for t in window.harness.seen(0, "token") if t.index < s.index}
            if not correlation or correlation not in known:
                return _fail(f"{s.describe()}: X-Correlation-ID {correlation!r} is not the one of the authorization "
                             "(or, with long-lived consent, the token) request", [s])
        return _pass(f"{len(seen)} resource request(s) with fresh request IDs and the flow's correlation ID", seen)


@register_check
class NoPatientParameter(PgoCheck):
    name = "pgo.no_patient_param"
    needs = "token"
    title = "Resource request URLs carry no patient=/subject= parameter and no BSN"
    requirements = ("PGO-RES-03",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen, missing = self.need(window, "resource", "resource request")
        if missing:
            return missing
        for s in seen:
            names = {k.split(":")[0].split(".")[0] for k, _ in s.query}
            if names & {"patient", "subject"}:
                return _fail(f"{s.describe()}: the URL names the patient ({', '.join(sorted(names & {'patient', 'subject'}))}=); "
                             "the DVA knows the person from the token", [s])
            if "NamingSystem/bsn" in s.raw_query or any(_bsn_in(v) for v in [s.path] + [v for _, v in s.query]):
                return _fail(f"{s.describe()}: a BSN (a 9-digit number passing the elfproef) in the URL", [s])
        return _pass(f"{len(seen)} resource URL(s) without patient parameters or BSN", seen)


@register_check
class Searches(PgoCheck):
    name = "pgo.searches"
    needs = "token"
    title = "Exactly the gegevensdienst's required searches (with their _include and $lastn)"
    requirements = ("PGO-RES-04",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        seen, missing = self.need(window, "resource", "resource request")
        if missing:
            return missing
        base = _path(window.harness.urls["resource"])
        wanted = {s.shape(): s for s in required_searches(window.gegevensdienst)}
        got: dict[Any, list[Seen]] = {}
        extra = []
        for s in seen:
            rel = _path(s.path)[len(base):].strip("/")
            # the token in the URL (PGO-RES-01) and patient=/subject= (PGO-RES-03) are judged elsewhere
            params = [(k, v) for k, v in s.query if k not in ("_format", "access_token", "patient", "subject")]
            if re.match(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$", rel) and not params:
                continue  # a read of a returned resource (reference resolution) is allowed
            shape = query_shape(rel, params)
            if shape in wanted:
                got.setdefault(shape, []).append(s)
            else:
                extra.append(s)
        absent = [wanted[k].describe() for k in wanted if k not in got]
        if extra:
            return _fail(f"{len(extra)} search(es) the gegevensdienst does not require, e.g. {extra[0].describe()}"
                         + (f"; and {len(absent)} required one(s) missing, e.g. {absent[0]}" if absent else ""),
                         extra[:3], extra=[e.describe() for e in extra], missing=absent)
        if absent:
            return Verdict.failed(f"{len(absent)} required search(es) not sent, e.g. {absent[0]}", missing=absent)
        return _pass(f"all {len(wanted)} required searches, nothing else", seen)


@register_check
class RetryBounded(PgoCheck):
    name = "pgo.retry_bounded"
    needs = "token"
    title = "After 401 invalid_token the PGO refreshes or re-authorizes, and does not retry the same token endlessly"
    requirements = ("PGO-RES-05",)
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"max_retries": {"type": "integer", "minimum": 0}}}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        limit = int((arg or {}).get("max_retries", 1)) if isinstance(arg, dict) else 1
        refused = [s for s in window.of("resource") if s.status == 401]
        if not refused:
            return Verdict.errored("the harness refused no resource request during this step, so there was "
                                   "nothing to judge")
        first: dict[str, int] = {}
        after: dict[str, list[Seen]] = {}
        for s in window.of("resource"):
            token = bearer(s) or ""
            if token in first:
                after.setdefault(token, []).append(s)
            elif s.status == 401:
                first[token] = s.index
        worst = max(after.values(), key=len, default=[])
        if len(worst) > limit:
            return _fail(f"{len(worst)} more request(s) with a token already refused with invalid_token "
                         f"(at most {limit} allowed)", worst[:3])
        renewed = [s for s in window.of("token") + window.of("authorize") if s.index > refused[0].index]
        has_refresh = any(token_json(t).get("refresh_token") for t in window.harness.seen(0, "token"))
        if not renewed and (has_refresh or window.of("authorize")):
            return _fail("after 401 invalid_token the PGO neither refreshed nor restarted authorization", refused[:1])
        return _pass(f"{len(refused)} refusal(s); the PGO " + ("refreshed or re-authorized" if renewed else "stopped"),
                     refused[:1] + renewed[:1])


@register_check
class NoUseAfterExpiry(PgoCheck):
    name = "pgo.no_use_after_expiry"
    needs = "token"
    title = "Access tokens are not used after expires_in"
    requirements = ("PGO-RES-06",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        issued: dict[str, float] = {}
        for t in window.harness.seen(0, "token"):
            body = token_json(t)
            if t.status == 200 and body.get("access_token"):
                try:
                    issued[body["access_token"]] = t.time + float(body.get("expires_in", 900))
                except (TypeError, ValueError):
                    continue
        if not any(expiry < window.seen[0].time for expiry in issued.values()) if window.seen else True:
            return Verdict.errored("no access token of this scenario had expired before this step, so there was "
                                   "nothing to judge (script token: short_lived and wait past expires_in)")
        if not window.of("resource"):
            renewed = window.of("token") + window.of("authorize")
            if renewed:
                return _pass(f"the PGO did not use the expired token; it renewed it first ({renewed[0].describe()})",
                             renewed[:1])
            return Verdict.errored("the PGO sent nothing during this step, so there was nothing to judge")
        late = [s for s in window.of("resource") if bearer(s) in issued and s.time > issued[bearer(s)] + 0.1]
        if late:
            return _fail(f"{late[0].describe()}: the access token was used {late[0].time - issued[bearer(late[0])]:.1f} s "
                         "after its expires_in", late[:3])
        return _pass("no access token used after its expires_in", window.of("resource")[:1])


# ------------------------------------------------------------------ lists

@register_check
class NoConnection(PgoCheck):
    name = "pgo.no_connection"
    title = "No connection to a host that is not on the current Whitelist"
    requirements = ("PGO-LIST-01",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        contacted = [s for s in window.seen if s.endpoint in ("authorize", "token", "resource")]
        if contacted:
            return _fail(f"{contacted[0].describe()}: the DVA host is no longer on the Whitelist, yet the PGO "
                         "contacted it", contacted[:3])
        if not window.of("lists") and not window.flows and window.trigger is None:
            return Verdict.errored("the PGO did nothing during this step")
        return _pass("the PGO did not contact the host removed from the Whitelist")


@register_check
class FlowCompleted(PgoCheck):
    name = "pgo.flow_completed"
    title = "The PGO still completes a flow with its last good lists"
    requirements = ("PGO-LIST-02",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        from validatiestraat.pgo.steps import BASELINE

        baseline = ctx.vars.get(BASELINE)
        if isinstance(baseline, PgoWindow) and not any(s.endpoint == "resource" for s in baseline.seen):
            blocked = stage_block(baseline, "token", ctx)
            return blocked or Verdict.blocked("blocked: before the lists changed the PGO did not complete a flow "
                                              "either (its baseline flow fetched no data)", [])
        missing = [e for e in ("authorize", "token", "resource") if not window.of(e)]
        if missing:
            flows = "; ".join(f.error or f.config_error or "" for f in window.flows if f.error or f.config_error)
            return Verdict.failed(f"no {', '.join(missing)} request: after the list changes "
                                  f"({', '.join(f'{k}={v}' for k, v in window.scripted.items())}) the PGO no longer "
                                  "completes a flow; a list it must reject has to leave the last good copy in use"
                                  + (f" (browser: {flows})" if flows else ""))
        wrong = [s for s in window.seen if s.endpoint == "other"]
        if wrong:
            return _fail(f"{wrong[0].describe()}: the PGO used an endpoint from a list it must reject", wrong[:3])
        return _pass("the flow completed with the last good lists", window.seen[:1])


@register_check
class EndpointsPerInterfaceversie(PgoCheck):
    name = "pgo.interfaceversie"
    title = "Endpoints are taken from the ZAL for the gegevensdienst's interfaceversie"
    requirements = ("PGO-LIST-04",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, window: PgoWindow, ctx: FlowContext) -> Verdict:
        wrong = [s for s in window.seen if s.endpoint == "other"]
        if wrong:
            return _fail(f"{wrong[0].describe()}: an endpoint the ZAL lists under another interfaceversie", wrong[:3])
        used = [s for s in window.seen if s.endpoint in ("authorize", "token", "resource")]
        if not used:
            return Verdict.failed("the PGO contacted none of the gegevensdienst's endpoints")
        return _pass("only the endpoints of the gegevensdienst's interfaceversie were used", used[:1])


@register_check
class ManualEvidence(Check):
    name = "manual.evidence"
    title = "Evidence to be provided by hand"
    schema = {"type": "object", "required": ["evidence"], "additionalProperties": False,
              "properties": {"evidence": {"type": "string"}}}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        return Verdict.omitted(f"manual evidence item (not judged by the suite): {arg['evidence']}")
