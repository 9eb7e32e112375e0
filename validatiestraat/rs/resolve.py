"""``fhir.resolve_references``: every literal reference in a Bundle must resolve (RS-FHIR-08).

References to entries in the same Bundle (by fullUrl or Type/id) are resolved in memory; the rest
are read from the resource server with the flow's token. Each distinct target is read once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from validatiestraat.engine.context import FlowContext
from validatiestraat.engine.plugins import StepKind, StepOutcome, register_step
from validatiestraat.engine.steps_http import FhirRead

_LITERAL = re.compile(r"^(?:(https?://.+)/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$")


@dataclass
class Resolution:
    checked: int = 0
    included: int = 0
    read: int = 0
    broken: list[tuple[str, str, str]] = field(default_factory=list)  # (reference, where, why)
    error: str | None = None


def _references(node: Any, path: str):
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield ref, path
        for k, v in node.items():
            if k != "contained":
                yield from _references(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _references(v, f"{path}[{i}]")


@register_step
class ResolveReferences(StepKind):
    name = "fhir.resolve_references"
    description = "Resolve every literal reference of a captured Bundle (in the Bundle, else by a read)."
    schema = {"required": ["bundle"], "properties": {"bundle": {"description": "the Bundle, e.g. ${patient_bundle}"},
                                                     "max_reads": {"type": "integer", "minimum": 1}}}

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        bundle = spec["bundle"]
        res = Resolution()
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            res.error = "the given value is not a FHIR Bundle"
            return StepOutcome(subject=res)
        base = ctx.target.resource_endpoint.rstrip("/")
        present: set[str] = set()
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") or {}
            if entry.get("fullUrl"):
                present.add(entry["fullUrl"])
            if resource.get("resourceType") and resource.get("id"):
                present.add(f"{resource['resourceType']}/{resource['id']}")
                present.add(f"{base}/{resource['resourceType']}/{resource['id']}")
        to_read: dict[str, list[str]] = {}
        for i, entry in enumerate(bundle.get("entry") or []):
            for ref, where in _references(entry.get("resource") or {}, f"entry[{i}].resource"):
                res.checked += 1
                if ref in present:
                    res.included += 1
                    continue
                m = _LITERAL.match(ref)
                if not m:
                    if not ref.startswith(("urn:uuid:", "urn:oid:")):
                        res.broken.append((ref, where, "not a literal FHIR reference"))
                    else:
                        res.broken.append((ref, where, "urn reference not present in the Bundle"))
                    continue
                url = ref if m.group(1) else f"{base}/{m.group(2)}/{m.group(3)}"
                to_read.setdefault(url, []).append(where)
        exchanges: list[str] = []
        reader = FhirRead()
        for url, wheres in list(to_read.items())[: int(spec.get("max_reads", 100))]:
            outcome = await reader.run({"url": url}, ctx)
            exchanges += outcome.exchanges
            http = outcome.subject
            body = http.json() if http.response is not None else None
            if http.status == 200 and isinstance(body, dict) and f"{body.get('resourceType')}/{body.get('id')}" in url:
                res.read += len(wheres)
            else:
                why = f"read answered HTTP {http.status}" if http.response is not None else f"read failed: {http.error}"
                res.broken.extend((url, w, why) for w in wheres)
        return StepOutcome(subject=res, exchanges=exchanges)
