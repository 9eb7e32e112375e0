"""Step kinds that send plain HTTP and FHIR requests: ``http``, ``fhir.search``, ``fhir.read``."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl

from validatiestraat.engine.context import FlowContext
from validatiestraat.engine.plugins import StepKind, StepOutcome, register_step

IDENTITY = {"enum": ["target", "other", "untrusted", "none"],
            "description": "client certificate for mTLS: the target's, a second client's, an untrusted one, or none"}
HEADERS = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}

FHIR_MIME = {"json": "application/fhir+json", "xml": "application/fhir+xml"}
FHIR_VERSION_PARAM = {"stu3": "3.0", "r4": "4.0"}


def medmij_headers(ctx: FlowContext) -> dict[str, str]:
    """MedMij-Request-ID (new per request) and X-Correlation-ID (per flow)."""
    return {"MedMij-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": ctx.correlation_id}


def merge_headers(base: dict[str, str], overrides: dict[str, Any] | None) -> dict[str, str]:
    """Apply overrides; a ``null`` value removes a header."""
    out = dict(base)
    for k, v in (overrides or {}).items():
        for existing in [e for e in out if e.lower() == k.lower()]:
            del out[existing]
        if v is not None:
            out[k] = str(v)
    return out


@register_step
class HttpStep(StepKind):
    name = "http"
    description = "Send any HTTP request."
    schema = {
        "required": ["url"],
        "properties": {
            "method": {"type": "string", "default": "GET"},
            "url": {"type": "string"},
            "headers": HEADERS,
            "params": {"type": ["object", "array", "string"]},
            "form": {"type": "object"},
            "json": {},
            "body": {"type": "string"},
            "client_certificate": IDENTITY,
            "medmij_headers": {"type": "boolean", "description": "add MedMij-Request-ID and X-Correlation-ID (default true)"},
        },
    }

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        headers = medmij_headers(ctx) if spec.get("medmij_headers", True) else {}
        subject = await ctx.request(
            spec.get("method", "GET").upper(),
            spec["url"],
            identity=spec.get("client_certificate", "target"),
            headers=merge_headers(headers, spec.get("headers")),
            params=spec.get("params"),
            data=spec.get("form"),
            json=spec.get("json"),
            content=spec.get("body"),
        )
        return StepOutcome(subject=subject, exchanges=[subject.exchange_id])


#: the note on checks judged with the target's pre-issued token instead of a flow's own
PRE_ISSUED_NOTE = ("with the pre-issued access token (target resource.access_token), because no flow of this "
                   "scenario produced one")


def valid_token(ctx: FlowContext) -> tuple[str | None, str | None]:
    """The flow's access token, else the target's pre-issued one with the degraded-mode note."""
    token = ctx.vars.get("access_token")
    if token:
        return token, None
    if getattr(ctx.target, "access_token", None):
        return ctx.target.access_token, PRE_ISSUED_NOTE
    return None, None


def fhir_request_headers(ctx: FlowContext, token: str | None, fmt: str = "json") -> dict[str, str]:
    """Accept with the target's FHIR version, the MedMij headers, and the bearer token if any."""
    version = FHIR_VERSION_PARAM.get(ctx.target.fhir_version, "3.0")
    headers = {"Accept": f"{FHIR_MIME[fmt]}; fhirVersion={version}", **medmij_headers(ctx)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _fhir_headers(spec: dict[str, Any], ctx: FlowContext) -> tuple[dict[str, str], str | None]:
    """The request headers, and a degraded-mode note when the pre-issued access token stands in."""
    token = spec.get("token", "__default__")
    note = None
    if token == "__default__":
        token, note = valid_token(ctx)
        if not token:
            from validatiestraat.engine.plugins import PreconditionMissing

            raise PreconditionMissing("precondition missing: no 'access_token' (an earlier step did not produce it)",
                                      variable="access_token")
    headers = fhir_request_headers(ctx, token, spec.get("format", "json"))
    return merge_headers(headers, spec.get("headers")), note


def resource_ids(body: Any) -> list[tuple[str, str]]:
    """(type, id) of every resource of a JSON answer: the entries of a Bundle, or the resource."""
    if not isinstance(body, dict):
        return []
    resources = [e.get("resource") for e in body.get("entry") or [] if isinstance(e, dict)] \
        if body.get("resourceType") == "Bundle" else [body]
    return [(str(r["resourceType"]), str(r["id"])) for r in resources
            if isinstance(r, dict) and r.get("resourceType") and r.get("id")]


def _remember_resources(subject, ctx: FlowContext) -> None:
    """Note the (type, id) of every resource a JSON answer carried (for fhir.read_seen)."""
    if subject.status == 200:
        ctx.seen_resources.extend(resource_ids(subject.json()))


FHIR_COMMON = {
    "token": {"type": ["string", "null"], "description": "bearer token; default ${access_token}; null sends none"},
    "format": {"enum": ["json", "xml"]},
    "headers": HEADERS,
    "client_certificate": IDENTITY,
}


@register_step
class FhirSearch(StepKind):
    name = "fhir.search"
    description = "GET [base]/<resource>?<params> with the MedMij headers and the flow's bearer token."
    schema = {
        "required": ["resource"],
        "properties": {
            "resource": {"type": "string", "description": "e.g. Patient or Observation/$lastn"},
            "params": {"type": ["string", "object", "array"], "description": "query string or mapping"},
            **FHIR_COMMON,
        },
    }

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        headers, note = _fhir_headers(spec, ctx)
        params = spec.get("params")
        if isinstance(params, str):
            params = parse_qsl(params.lstrip("?"), keep_blank_values=True)
        url = f"{ctx.target.resource_endpoint}/{spec['resource'].lstrip('/')}"
        subject = await ctx.request(
            "GET", url, identity=spec.get("client_certificate", "target"), headers=headers, params=params
        )
        _remember_resources(subject, ctx)
        return StepOutcome(subject=subject, exchanges=[subject.exchange_id], degraded=note)


@register_step
class FhirRead(StepKind):
    name = "fhir.read"
    description = "GET [base]/<type>/<id> (or an absolute url) with the MedMij headers and bearer token."
    schema = {
        "properties": {
            "resource": {"type": "string", "description": "Type/id relative to the FHIR base"},
            "url": {"type": "string", "description": "absolute URL (e.g. a fullUrl or attachment.url)"},
            **FHIR_COMMON,
        },
    }

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        headers, note = _fhir_headers(spec, ctx)
        url = spec.get("url") or f"{ctx.target.resource_endpoint}/{spec['resource'].lstrip('/')}"
        subject = await ctx.request("GET", url, identity=spec.get("client_certificate", "target"), headers=headers)
        return StepOutcome(subject=subject, exchanges=[subject.exchange_id], degraded=note)
