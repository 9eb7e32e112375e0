"""Resource-server probes on the gegevensdienst's own queries: ``fhir.probe`` and ``fhir.read_seen``.

A real DVA serves only the queries its gegevensdienst requires (rs/catalogue.py) and answers
anything else with 404. A token negative sent as a bare ``GET Patient`` therefore proves nothing:
the 404 says the query is unknown, not that the token was refused. ``fhir.probe`` sends its
request on the catalogued searches, one after another, until one gives a decisive answer:

- data (2xx): the strongest evidence for a negative ("200 with a searchset of 3 entries and no
  token"), the expected answer for a positive;
- 401 or 403: the request was refused (checks then judge the challenge);
- with a client certificate left out or untrusted: a refusal in the TLS handshake too.

404, 400, 405 and 5xx on a probe are inconclusive: the probe says so and tries the next query. A
negative is also sent as a read of a resource the searches returned, because some servers guard
searches and forget reads. When nothing is decisive the step ends as an error that lists what was
tried (the tool could not decide), never as a pass.

``fhir.read_seen`` reads every resource the flow's searches returned (``Type/id``), so that
RS-FHIR-07 (no unmasked BSN) also covers direct reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from validatiestraat.engine.context import FlowContext, HttpSubject
from validatiestraat.engine.plugins import PreconditionMissing, StepKind, StepOutcome, register_step
from validatiestraat.engine.steps_http import IDENTITY, fhir_request_headers, resource_ids, valid_token
from validatiestraat.rs.catalogue import Search, required_searches

READ_FACT = "probe_read"


def entries_of(http: HttpSubject) -> list[tuple[str, str]]:
    """(type, id) of the resources of a JSON answer (a Bundle's entries, or the resource)."""
    return resource_ids(http.json())


def served(http: HttpSubject) -> str:
    """What a 2xx answer carried, for a reason: 'a searchset of 3 entries' / 'Patient/p1'."""
    body = http.json()
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        return f"a {body.get('type') or 'Bundle'} of {len(body.get('entry') or [])} entries"
    if isinstance(body, dict) and body.get("resourceType"):
        return f"{body['resourceType']}/{body.get('id', '?')}"
    return f"{len(http.response.content) if http.response is not None else 0} bytes"


@dataclass
class _Candidate:
    label: str
    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)


def _search_candidates(searches: tuple[Search, ...], limit: int) -> list[_Candidate]:
    return [_Candidate(s.describe(), "GET", s.resource, list(s.params)) for s in searches[:limit]]


async def _discover_read(ctx: FlowContext, gegevensdienst: str) -> _Candidate | None:
    """A ``Type/id`` the catalogued searches return, found once per run with a valid token."""
    if ctx.run.facts.get(READ_FACT):
        return ctx.run.facts[READ_FACT]
    # the pre-issued token first: it gives every flow the same read, whatever ran before
    token = getattr(ctx.target, "access_token", None) or ctx.vars.get("access_token")
    if not token:
        return None
    async with ctx.run.lock:
        if ctx.run.facts.get(READ_FACT):
            return ctx.run.facts[READ_FACT]
        for search in required_searches(gegevensdienst)[:8]:
            http = await ctx.request("GET", f"{ctx.target.resource_endpoint}/{search.resource}",
                                     headers=fhir_request_headers(ctx, token), params=list(search.params))
            if http.status in (401, 403) or http.response is None:
                return None  # this token cannot find one; do not remember a miss
            seen = [(kind, rid) for kind, rid in entries_of(http) if kind == search.resource_type]
            if http.status == 200 and seen:
                kind, rid = seen[0]
                ctx.run.facts[READ_FACT] = _Candidate(f"{kind}/{rid}", "GET", f"{kind}/{rid}")
                return ctx.run.facts[READ_FACT]
        return None


@register_step
class FhirProbe(StepKind):
    name = "fhir.probe"
    description = ("Send a request with a given token arrangement on the gegevensdienst's catalogued searches "
                   "(and a read of a resource they return) until one answer is decisive: data, 401/403, or a "
                   "TLS refusal. 404/400 answers are inconclusive and the next query is tried.")
    schema = {
        "properties": {
            "auth": {
                "type": "object",
                "additionalProperties": False,
                "description": "how the token travels: {} none; {bearer: T}; {query: T} as access_token query "
                               "parameter; {form: T} as access_token form parameter of POST Type/_search. "
                               "T = true: a valid token (the flow's access_token, else the target's "
                               "pre-issued one)",
                "properties": {"bearer": {"type": ["string", "boolean"]}, "query": {"type": ["string", "boolean"]},
                               "form": {"type": ["string", "boolean"]}},
            },
            "expect_data": {"type": "boolean", "description": "true: a positive (data expected); default false"},
            "reads": {"type": "boolean", "description": "also probe a read of a returned resource (default true "
                                                        "for negatives)"},
            "max_searches": {"type": "integer", "minimum": 1, "maximum": 50},
            "gegevensdienst": {"type": "string"},
            "client_certificate": IDENTITY,
        },
    }

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        gegevensdienst = str(spec.get("gegevensdienst") or (ctx.target.gegevensdiensten or ["48"])[0])
        searches = required_searches(gegevensdienst)
        if not searches:
            return StepOutcome(subject=None, error=f"no catalogued searches for gegevensdienst {gegevensdienst}")
        auth = dict(spec.get("auth") or {})
        identity = spec.get("client_certificate", "target")
        positive = bool(spec.get("expect_data", False))
        degraded = None
        for key, value in list(auth.items()):
            if value is True:
                token, degraded = valid_token(ctx)
                if not token:
                    raise PreconditionMissing("no access token", variable="access_token")
                auth[key] = token
            elif not value:
                raise PreconditionMissing(f"no token for auth.{key}", variable="access_token")
        bearer = auth.get("bearer")
        candidates = _search_candidates(searches, int(spec.get("max_searches", 6)))
        use_reads = spec.get("reads", not positive) and "form" not in auth
        tried: list[str] = []
        exchanges: list[str] = []
        decisive: list[HttpSubject] = []
        for phase in ("search", "read"):
            if phase == "read":
                if not use_reads:
                    break
                read = await _discover_read(ctx, gegevensdienst)
                if read is None:
                    tried.append("no read probed: no resource id could be found with a valid token")
                    break
                candidates = [read]
            for cand in candidates:
                http = await self._send(ctx, cand, auth, bearer, identity)
                exchanges.append(http.exchange_id)
                verdict = self._classify(http, identity)
                tried.append(f"{cand.method} {cand.label} -> {verdict}")
                if verdict.startswith("decisive"):
                    decisive.append(http)
                    break
            if positive and decisive:
                break
        note = "; ".join(tried)
        if not decisive:
            return StepOutcome(subject=None, exchanges=exchanges, degraded=degraded,
                               error=f"inconclusive: no probe got a decisive answer (data, 401/403) on the "
                                     f"gegevensdienst's own queries: {note}")
        data = [h for h in decisive if h.status is not None and 200 <= h.status < 300]
        subject = data[0] if data else decisive[0]
        return StepOutcome(subject=subject, exchanges=exchanges, degraded=degraded, facts={"tried": tried})

    @staticmethod
    async def _send(ctx: FlowContext, cand: _Candidate, auth: dict[str, Any], bearer: str | None,
                    identity: str) -> HttpSubject:
        base = ctx.target.resource_endpoint
        if "form" in auth:
            form = dict(cand.params)
            form["access_token"] = auth["form"]
            return await ctx.request("POST", f"{base}/{cand.path.split('/')[0]}/_search", identity=identity,
                                     headers=fhir_request_headers(ctx, None), data=form)
        params = list(cand.params)
        if "query" in auth:
            params.append(("access_token", auth["query"]))
        return await ctx.request(cand.method, f"{base}/{cand.path}", identity=identity,
                                 headers=fhir_request_headers(ctx, bearer if "bearer" in auth else None), params=params or None)

    @staticmethod
    def _classify(http: HttpSubject, identity: str) -> str:
        testing_mtls = identity != "target"
        if http.response is None:
            if testing_mtls:
                return f"decisive (refused in the TLS handshake: {http.error})"
            return f"inconclusive (no answer: {http.error})"
        status = http.status or 0
        if 200 <= status < 300:
            return f"decisive (HTTP {status} with {served(http)})"
        if status in (401, 403) or (testing_mtls and status in (400, 495, 496)):
            return f"decisive (HTTP {status})"
        if 400 <= status < 500 and bearer_challenge(http):
            return f"decisive (HTTP {status} with a Bearer challenge)"
        return f"inconclusive (HTTP {status})"


def bearer_challenge(http: HttpSubject) -> bool:
    """Whether the answer carries a WWW-Authenticate: Bearer challenge (it speaks about the token)."""
    return (http.header("www-authenticate") or "").strip().lower().startswith("bearer")


@dataclass
class Reads:
    """What ``fhir.read_seen`` hands its checks: one HTTP subject per read."""

    reads: list[HttpSubject] = field(default_factory=list)


@register_step
class ReadSeen(StepKind):
    name = "fhir.read_seen"
    description = "Read every resource (Type/id) the flow's searches returned, with the flow's token."
    schema = {"properties": {"max_reads": {"type": "integer", "minimum": 1, "maximum": 500},
                             "types": {"type": "array", "items": {"type": "string"}}}}

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        token, degraded = valid_token(ctx)
        if not token:
            raise PreconditionMissing("no access token", variable="access_token")
        types = set(spec.get("types") or [])
        wanted = [(t, i) for t, i in dict.fromkeys(ctx.seen_resources) if not types or t in types]
        wanted = wanted[: int(spec.get("max_reads", 200))]
        if not wanted:
            return StepOutcome(subject=None, error="the flow's searches returned no resource ids to read")
        subject = Reads()
        for kind, rid in wanted:
            http = await ctx.request("GET", f"{ctx.target.resource_endpoint}/{kind}/{rid}", headers=fhir_request_headers(ctx, token))
            subject.reads.append(http)
        return StepOutcome(subject=subject, exchanges=[h.exchange_id for h in subject.reads], degraded=degraded)

