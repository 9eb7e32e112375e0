"""Which body encoding the target's token endpoint accepts: the run's *token dialect*.

RFC 6749 §4.1.3 requires ``application/x-www-form-urlencoded``. Real DVAs sometimes accept only
JSON. Such a DVA breaks AS-TOKEN-02, but that one failure must not hide every later check (code
reuse, refresh rotation, the whole resource server), so the suite finds out once per run how the
token endpoint reads requests and sends the rest of the run's token requests that way, marking
their checks as judged in degraded mode.

The probe costs no login: it presents an unknown authorization code, once as a form body and once
as a JSON body. A conforming endpoint answers the form body with ``invalid_grant``; a JSON-only
endpoint answers the form body with something else (``invalid_request``, 415, 422) and the JSON
body with ``invalid_grant``. Only that pattern switches the run to JSON; anything else keeps the
standard form encoding.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from validatiestraat.engine.context import FlowContext, HttpSubject

FACT = "token_dialect"
RULE_ERRORS = ("invalid_grant", "invalid_client", "unauthorized_client")
DEGRADED = ("token requests sent as a JSON body, because the token endpoint refused the RFC 6749 "
            "form-encoded body (see AS-TOKEN-02)")


@dataclass
class Dialect:
    mode: str  # "form" or "json"
    reason: str
    exchanges: list[str] = field(default_factory=list)


def error_of(http: "HttpSubject") -> str:
    """'HTTP 400 error=invalid_request' (or the transport error) for a reason text."""
    if http.response is None:
        return f"no response ({http.error})"
    body = http.json()
    err = body.get("error") if isinstance(body, dict) else None
    return f"HTTP {http.status}" + (f" error={err}" if err else "")


def _error_code(http: "HttpSubject") -> Any:
    body = http.json()
    return body.get("error") if isinstance(body, dict) else None


async def token_dialect(ctx: "FlowContext") -> Dialect:
    """The run's token dialect, probed once (under the run's lock) by the first flow that asks."""
    known = ctx.run.facts.get(FACT)
    if known is not None:
        return known
    async with ctx.run.lock:
        known = ctx.run.facts.get(FACT)
        if known is None:
            known = await _probe(ctx)
            ctx.run.facts[FACT] = known
    return known


async def _probe(ctx: "FlowContext") -> Dialect:
    from validatiestraat.engine.steps_http import medmij_headers

    client = ctx.target.client
    body = {"grant_type": "authorization_code", "code": "validatiestraat-probe-" + secrets.token_hex(16),
            "redirect_uri": client.redirect_uri, "client_id": client.client_id}
    form = await ctx.request("POST", ctx.target.token_endpoint, headers=medmij_headers(ctx), data=body)
    if form.response is None or _error_code(form) in RULE_ERRORS or form.status == 200:
        return Dialect("form", f"the form body was judged on its content ({error_of(form)})", [form.exchange_id])
    as_json = await ctx.request("POST", ctx.target.token_endpoint, headers=medmij_headers(ctx), json=body)
    exchanges = [form.exchange_id, as_json.exchange_id]
    if _error_code(as_json) in RULE_ERRORS:
        return Dialect("json", f"an unknown code sent as an RFC 6749 form body got {error_of(form)}, the same "
                               f"request as a JSON body got {error_of(as_json)}: the endpoint reads only JSON bodies",
                       exchanges)
    return Dialect("form", f"neither encoding was judged on its content (form: {error_of(form)}, "
                           f"JSON: {error_of(as_json)}); the standard form encoding is kept", exchanges)
