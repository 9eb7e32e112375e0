"""Step kinds of the MedMij OAuth flow: ``oauth.authorize`` and ``oauth.token``."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from validatiestraat.engine.context import FlowContext, HttpSubject
from validatiestraat.engine.plugins import StepKind, StepOutcome, register_step
from validatiestraat.engine.steps_http import HEADERS, IDENTITY, medmij_headers, merge_headers
from validatiestraat.oauth.dialect import DEGRADED, token_dialect
from validatiestraat.oauth.login import drive_forms, driver_for

OVERRIDES = {
    "type": "object",
    "additionalProperties": {"type": ["string", "integer", "null"]},
    "description": "parameters to add or replace; null removes a parameter",
}


@dataclass
class AuthorizeResult:
    """What ``oauth.authorize`` hands to its checks."""

    request_url: str
    sent: dict[str, str]
    redirect_uri: str
    redirect_url: str | None
    redirect_params: dict[str, str] | None
    http: HttpSubject | None  # the last HTTP exchange of the login (e.g. an error page)
    first: HttpSubject | None  # the answer to the authorization request itself
    error: str | None = None
    pages: list[str] = field(default_factory=list)
    #: the tester's login settings could not complete the login ("login could not be completed:
    #: ..."): a configuration error, never the DVA's failure
    config_error: str | None = None

    @property
    def state_sent(self) -> str | None:
        return self.sent.get("state")

    def describe(self) -> str:
        sent = f"GET {self.request_url.split('?')[0]} (client_id={self.sent.get('client_id')!r}, " \
               f"response_type={self.sent.get('response_type')!r}, scope={self.sent.get('scope')!r})"
        if self.redirect_url:
            got = "redirect to the redirect_uri with " + ", ".join(sorted(self.redirect_params or {}))
        elif self.http is not None and self.http.response is not None:
            got = f"no redirect to the redirect_uri; last page HTTP {self.http.status} at {self.http.url.split('?')[0]}"
        else:
            got = f"no redirect ({self.error})"
        return f"{sent} -> {got}"


def apply_overrides(base: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, str]:
    out = {k: v for k, v in base.items() if v is not None}
    for k, v in (overrides or {}).items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = str(v)
    return out


@register_step
class Authorize(StepKind):
    name = "oauth.authorize"
    description = ("Build the MedMij authorization request from the target (response_type, client_id, redirect_uri, "
                   "scope, state, MedMij-Request-ID, X-Correlation-ID), log in through the login driver and "
                   "return the redirect.")
    schema = {
        "properties": {
            "params": OVERRIDES,
            "state": {"type": "string"},
            "login": {"type": "boolean", "description": "false: send the request only (for negatives)"},
            "consent": {"enum": ["approve", "deny"]},
            "client": {"enum": ["target", "other"], "description": "which client identity's client_id/redirect_uri"},
            "login_fields": {"type": ["object", "string"], "description": "override login form fields (e.g. another test person); may be a ${...} reference"},
        },
    }

    #: every authorization response the run provokes is inspected: the exact state and RFC 6749
    #: codes (AS-AUTHZ-01's state rule) and, on an error redirect, an error_description (AS-AUTHZ-12)
    implicit_checks = ({"oauth.redirect_wellformed": True},
                       {"oauth.error_description": {}, "requirements": ["AS-AUTHZ-12"], "severity": "info"})

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        client = ctx.target.other_client if spec.get("client") == "other" and ctx.target.other_client else ctx.target.client
        state = spec["state"] if spec.get("state") is not None else secrets.token_urlsafe(24)
        base = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": ctx.target.aanbieder,
            "state": state,
            "MedMij-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": ctx.correlation_id,
        }
        sent = apply_overrides(base, spec.get("params"))
        separator = "&" if "?" in ctx.target.authorization_endpoint else "?"
        url = f"{ctx.target.authorization_endpoint}{separator}{urlencode(sent)}"
        redirect_uri = sent.get("redirect_uri") or client.redirect_uri
        settings = dict(ctx.target.login)
        if spec.get("login_fields"):
            settings["fields"] = {**(settings.get("fields") or {}), **spec["login_fields"]}
            for value in spec["login_fields"].values():
                ctx.recorder.secret(value)
        driver = driver_for(settings, deny=spec.get("consent") == "deny")
        login = spec.get("login", True)
        result = await driver.login(ctx, url, redirect_uri, login=login)
        config_error = getattr(result, "config_error", None)
        if login:
            ctx.run.logins += 1
            if result.redirect_params is not None:
                ctx.run.logins_completed += 1
            elif config_error:
                ctx.run.login_config_errors.append(config_error)
        for secret_key in ("code",):
            if result.redirect_params and result.redirect_params.get(secret_key):
                ctx.recorder.secret(result.redirect_params[secret_key])
        subject = AuthorizeResult(
            request_url=url,
            sent=sent,
            redirect_uri=redirect_uri,
            redirect_url=result.redirect_url,
            redirect_params=result.redirect_params,
            http=result.http,
            first=result.first,
            error=result.error,
            pages=result.pages,
            config_error=config_error if result.redirect_params is None else None,
        )
        ctx.vars["state_sent"] = state
        return StepOutcome(subject=subject, exchanges=result.exchanges)


@register_step
class Token(StepKind):
    name = "oauth.token"
    description = "POST to the token endpoint over mTLS with the MedMij headers (code exchange or refresh)."
    schema = {
        "properties": {
            "grant_type": {"type": "string", "default": "authorization_code"},
            "code": {"type": ["string", "null"]},
            "refresh_token": {"type": ["string", "null"]},
            "redirect_uri": {"type": ["string", "null"], "description": "default: the target client's redirect_uri"},
            "client_id": {"type": ["string", "null"], "description": "default: the client's client_id"},
            "form": OVERRIDES,
            "encoding": {"enum": ["auto", "diagnose", "form", "json"],
                         "description": "auto (default): the run's token dialect (form, or JSON when the endpoint "
                                        "reads only JSON: degraded mode); diagnose: form first and, when that is "
                                        "refused by a JSON-only endpoint, the same request as JSON (the evidence "
                                        "for AS-TOKEN-02); form or json: exactly that"},
            "client_certificate": IDENTITY,
            "headers": HEADERS,
        },
    }

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        identity = spec.get("client_certificate", "target")
        client = ctx.target.other_client if identity == "other" and ctx.target.other_client else ctx.target.client
        grant = spec.get("grant_type", "authorization_code")
        base: dict[str, Any] = {"grant_type": grant}
        if grant == "authorization_code":
            base["code"] = spec.get("code")
            base["redirect_uri"] = spec.get("redirect_uri", client.redirect_uri)
        elif grant == "refresh_token":
            base["refresh_token"] = spec.get("refresh_token")
        base["client_id"] = spec.get("client_id", client.client_id)
        form = apply_overrides(base, spec.get("form"))
        headers = merge_headers(medmij_headers(ctx), spec.get("headers"))
        encoding = spec.get("encoding", "auto")
        degraded = None
        facts: dict[str, Any] = {}

        async def send(as_json: bool):
            if as_json:
                return await ctx.request("POST", ctx.target.token_endpoint, identity=identity, headers=headers,
                                         json=form)
            return await ctx.request("POST", ctx.target.token_endpoint, identity=identity, headers=headers, data=form)

        exchanges: list[str] = []
        if encoding == "auto":
            dialect = await token_dialect(ctx)
            subject = await send(dialect.mode == "json")
            if dialect.mode == "json":
                degraded = DEGRADED
                facts["dialect"] = dialect
        elif encoding == "diagnose":
            subject = await send(False)
            if subject.status != 200:
                dialect = await token_dialect(ctx)
                if dialect.mode == "json":
                    exchanges.append(subject.exchange_id)
                    facts["form_attempt"] = subject
                    facts["dialect"] = dialect
                    headers = merge_headers(medmij_headers(ctx), spec.get("headers"))
                    subject = await send(True)
                    degraded = DEGRADED
        else:
            subject = await send(encoding == "json")
        exchanges.append(subject.exchange_id)
        body = subject.json()
        if isinstance(body, dict):
            for key in ("access_token", "refresh_token", "id_token"):
                ctx.recorder.secret(body.get(key))
        return StepOutcome(subject=subject, exchanges=exchanges, degraded=degraded, facts=facts)


@register_step
class BrowserForms(StepKind):
    name = "browser.forms"
    description = ("Open a frontchannel page and fill and submit its HTML forms (e.g. log in to the DVA's "
                   "'Beheren toestemmingen' page and revoke a consent) until the configured button was pressed.")
    schema = {
        "required": ["url", "submit"],
        "properties": {
            "url": {"type": "string"},
            "fields": {"type": ["object", "string"]},
            "submit": {"type": ["object", "string"], "description": "{button name: value} of the final button"},
            "max_pages": {"type": "integer", "minimum": 1},
        },
    }

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        fields = {str(k): str(v) for k, v in (spec.get("fields") or {}).items()}
        for value in fields.values():
            ctx.recorder.secret(value)
        submit = {str(k): str(v) for k, v in spec["submit"].items()}
        result = await drive_forms(ctx, spec["url"], fields, submit, int(spec.get("max_pages", 10)))
        return StepOutcome(subject=result.http, exchanges=result.exchanges, error=None if result.http else result.error)
