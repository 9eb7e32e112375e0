"""Generic checks on an HTTP response: status, header, json, fhirpath, response_time, body.

These carry no requirement IDs by default; a scenario names the requirement each use verifies.
"""

from __future__ import annotations

import re
from typing import Any

import jmespath

from validatiestraat.engine.context import FlowContext, HttpSubject
from validatiestraat.engine.plugins import Check, StepOutcome, Verdict, register_check


def http_of(outcome: StepOutcome) -> HttpSubject | None:
    subject = outcome.subject
    if isinstance(subject, HttpSubject):
        return subject
    return getattr(subject, "http", None)


def transport_block(http: HttpSubject | None) -> Verdict | None:
    """A server certificate that fails verification is the target's defect, judged by the TLS
    checks (TLS-CERT-01 chain/validity, TLS-CERT-03 host name): every check that needed the
    exchange is BLOCKED by it, not an error of the tool."""
    if http is None or http.response is not None or http.error_code != "server_certificate_invalid":
        return None
    error = (http.error or "").lower()
    blocker = "TLS-CERT-03" if ("hostname" in error or "host name" in error) else "TLS-CERT-01"
    return Verdict.blocked(f"blocked by {blocker}: {http.error}", [blocker])


def need_response(outcome: StepOutcome) -> tuple[HttpSubject | None, Verdict | None]:
    """The HTTP subject with a response, or an ERROR verdict explaining why there is none."""
    http = http_of(outcome)
    if http is None:
        return None, Verdict.errored(outcome.error or "the step produced no HTTP response")
    if http.response is None:
        return None, transport_block(http) or Verdict.errored(f"{http.method} {http.url}: no response ({http.error})")
    return http, None


class HttpCheck(Check):
    """A check of a step's HTTP response. Subclasses implement :meth:`judge`; a step without a
    response (timeout, refused connection) ends as ERROR before ``judge`` is called."""

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        http, problem = need_response(outcome)
        if problem:
            return problem
        assert http is not None and http.response is not None
        return self.judge(arg, http, ctx)

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:  # pragma: no cover
        raise NotImplementedError


def compare(actual: Any, rule: Any) -> tuple[bool, str]:
    """Compare ``actual`` to a rule: a literal, or a mapping of operators.

    Operators: equals, not, in, not_in, matches, exists, lte, gte, lt, gt, type, contains, length.
    """
    if not isinstance(rule, dict):
        return actual == rule, f"expected {rule!r}, got {actual!r}"
    for op, want in rule.items():
        ok = True
        if op == "equals":
            ok = actual == want
        elif op == "equals_ci":
            ok = isinstance(actual, str) and actual.lower() == str(want).lower()
        elif op == "not":
            ok = actual != want
        elif op == "in":
            ok = actual in want
        elif op == "not_in":
            ok = actual not in want
        elif op == "matches":
            ok = isinstance(actual, str) and re.search(want, actual) is not None
        elif op == "exists":
            ok = (actual not in (None, "", [], {})) == bool(want)
        elif op in ("lte", "gte", "lt", "gt"):
            ok = isinstance(actual, (int, float)) and not isinstance(actual, bool) and {
                "lte": actual <= want, "gte": actual >= want, "lt": actual < want, "gt": actual > want
            }[op]
        elif op == "type":
            types = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
                     "object": dict, "array": list, "null": type(None)}
            ok = isinstance(actual, types[want]) and not (want in ("integer", "number") and isinstance(actual, bool))
        elif op == "contains":
            ok = actual is not None and want in actual
        elif op == "length":
            ok = actual is not None and len(actual) == want
        else:
            return False, f"unknown comparison {op!r}"
        if not ok:
            return False, f"expected {op} {want!r}, got {_show(actual)}"
    return True, f"{_show(actual)} as expected"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


COMPARISON = {
    "description": "a literal, or {equals|not|in|not_in|matches|exists|lte|gte|lt|gt|type|contains|length: ...}",
}


@register_check
class StatusCheck(HttpCheck):
    name = "status"
    title = "HTTP status code"
    schema = {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}, {"type": "object"}]}

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        status = http.status
        if isinstance(arg, list):
            ok, why = status in arg, f"expected one of {arg}"
        elif isinstance(arg, dict):
            ok, why = compare(status, arg)
        else:
            ok, why = status == arg, f"expected {arg}"
        if ok:
            return Verdict.passed(f"HTTP {status}")
        return Verdict.failed(f"{http.describe()}; {why}")


@register_check
class HeaderCheck(HttpCheck):
    name = "header"
    title = "HTTP response header"
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "present": {"type": "boolean"}, "value": COMPARISON},
        "additionalProperties": False,
    }

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        value = http.header(arg["name"])
        if arg.get("present") is False:
            return Verdict.passed(f"no {arg['name']} header") if value is None else Verdict.failed(
                f"{http.describe()}; header {arg['name']} must be absent, got {value!r}")
        if value is None:
            return Verdict.failed(f"{http.describe()}; header {arg['name']} is missing")
        if "value" in arg:
            ok, why = compare(value, arg["value"])
            return Verdict.passed(f"{arg['name']}: {why}") if ok else Verdict.failed(
                f"{http.describe()}; header {arg['name']}: {why}")
        return Verdict.passed(f"{arg['name']} present")


@register_check
class JsonCheck(HttpCheck):
    name = "json"
    title = "JSON body value (JMESPath)"
    schema = {
        "type": "object",
        "required": ["path"],
        "properties": {"path": {"type": "string"}, "value": COMPARISON},
        "additionalProperties": False,
    }

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        body = http.json()
        if body is None:
            return Verdict.failed(f"{http.describe()}; body is not JSON "
                                  f"(content-type {http.header('content-type')!r})")
        try:
            actual = jmespath.search(arg["path"], body)
        except jmespath.exceptions.JMESPathError as exc:
            return Verdict.errored(f"bad JMESPath {arg['path']!r}: {exc}")
        rule = arg.get("value", {"exists": True})
        ok, why = compare(actual, rule)
        return Verdict.passed(f"{arg['path']}: {why}") if ok else Verdict.failed(f"{http.describe()}; {arg['path']}: {why}")


@register_check
class FhirPathCheck(HttpCheck):
    name = "fhirpath"
    title = "FHIRPath expression on the response resource"
    schema = {
        "oneOf": [
            {"type": "string", "description": "expression that must evaluate to true (or a non-empty result)"},
            {"type": "object", "required": ["expression"],
             "properties": {"expression": {"type": "string"}, "value": COMPARISON}, "additionalProperties": False},
        ]
    }

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        from validatiestraat.engine.fhirpath import evaluate

        body = http.json()
        if not isinstance(body, dict):
            return Verdict.failed(f"{http.describe()}; no FHIR JSON resource in the body")
        expression = arg if isinstance(arg, str) else arg["expression"]
        try:
            result = evaluate(body, expression, ctx.target.fhir_version)
        except Exception as exc:
            return Verdict.errored(f"cannot evaluate FHIRPath {expression!r}: {exc}")
        if isinstance(arg, dict) and "value" in arg:
            actual = result[0] if len(result) == 1 else result
            ok, why = compare(actual, arg["value"])
        else:
            ok = result == [True] or (bool(result) and result != [False])
            why = f"result {_show(result)}"
        return Verdict.passed(f"{expression}: {why}") if ok else Verdict.failed(f"{http.describe()}; {expression}: {why}")


@register_check
class ResponseTimeCheck(Check):
    name = "response_time"
    title = "Response time"
    schema = {"type": "object", "required": ["max_seconds"], "properties": {"max_seconds": {"type": ["number", "string"]}},
              "additionalProperties": False}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        http = http_of(outcome)
        if http is None or http.elapsed_ms is None:
            return Verdict.errored(outcome.error or "no timing recorded")
        seconds = http.elapsed_ms / 1000
        limit = float(arg["max_seconds"])
        if http.response is None and seconds < limit:
            return Verdict.errored(f"no response ({http.error}) after {seconds:.2f} s")
        if seconds <= limit:
            return Verdict.passed(f"{seconds:.3f} s (limit {limit:g} s)", seconds=round(seconds, 3))
        return Verdict.failed(f"{http.method} {http.url} took {seconds:.1f} s; the limit is {limit:g} s",
                              seconds=round(seconds, 3))


@register_check
class BodyCheck(HttpCheck):
    name = "body"
    title = "Response body text"
    schema = {"type": "object", "properties": {"contains": {"type": "string"}, "not_contains": {"type": "string"}},
              "additionalProperties": False, "minProperties": 1}

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        text = http.response.text
        if "contains" in arg and arg["contains"] not in text:
            return Verdict.failed(f"{http.describe()}; body does not contain {arg['contains']!r}")
        if "not_contains" in arg and arg["not_contains"] in text:
            return Verdict.failed(f"{http.describe()}; body contains {arg['not_contains']!r}")
        return Verdict.passed("body as expected")


@register_check
class MtlsRefused(Check):
    name = "mtls.refused"
    title = "A backchannel request without a valid client certificate is refused"
    schema = {"type": "boolean"}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        http = http_of(outcome)
        if http is None:
            return Verdict.errored(outcome.error or "no HTTP exchange")
        if http.response is None:
            error = http.error or ""
            blocked = transport_block(http)
            if blocked:
                return blocked
            if re.search(r"CERTIFICATE_VERIFY_FAILED|hostname mismatch|certificate verify failed", error, re.I):
                # our side refused the server's certificate: nothing is known about client authentication
                return Verdict.errored(f"the server's certificate could not be verified, so mutual TLS could not be "
                                       f"tested: {error[:160]}")
            if re.search(r"SSL|TLS|certificate|alert|handshake|ConnectError|RemoteProtocolError|ReadError|reset|EOF", error, re.I):
                return Verdict.passed(f"refused at the TLS layer ({error[:120]})")
            return Verdict.errored(f"no answer, but not a TLS refusal: {error}")
        if http.status in (400, 401, 403, 495, 496):
            body = http.json()
            if isinstance(body, dict) and (body.get("access_token") or body.get("resourceType") == "Bundle"):
                return Verdict.failed(f"{http.describe()}; data or a token was served without a valid client certificate")
            if isinstance(body, dict) and body.get("error") in ("invalid_grant", "invalid_request", "unsupported_grant_type"):
                return Verdict.failed(f"{http.describe()}; the server processed the request (error={body['error']}) "
                                      "instead of refusing the client without a valid certificate")
            return Verdict.passed(f"refused with HTTP {http.status}")
        return Verdict.failed(f"{http.describe()}; the request without a valid client certificate was accepted "
                              "(mutual TLS is required on the backchannel)")
