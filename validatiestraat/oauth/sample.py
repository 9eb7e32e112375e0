"""``oauth.sample``: run N complete flows and collect what the DVA issued (AS-TOKEN-13)."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from validatiestraat.engine.context import FlowContext
from validatiestraat.engine.plugins import StepKind, StepOutcome, register_step
from validatiestraat.oauth.steps import Authorize, Token


_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)


@dataclass
class Sample:
    flows: int = 0
    values: dict[str, list[str]] = field(default_factory=lambda: {"code": [], "access_token": [], "refresh_token": []})
    errors: list[str] = field(default_factory=list)
    #: requirement IDs of the stages that kept flows from completing (authorize, token)
    blocked_by: list[str] = field(default_factory=list)

    @staticmethod
    def entropy_bits(value: str) -> float:
        """A conservative estimate: length × log2(alphabet actually used), capped by Shannon entropy.

        A canonical random UUID (version 4) carries exactly 122 random bits; the per-string
        Shannon estimate would understate it, so it is recognised by its form."""
        if not value:
            return 0.0
        if _UUID4.match(value):
            return 122.0
        counts = Counter(value)
        shannon = -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values()) * len(value)
        alphabet = 16 if all(ch in "0123456789abcdef-" for ch in value.lower()) else 64
        return min(shannon, len(value.replace("-", "")) * math.log2(alphabet))


@register_step
class SampleFlows(StepKind):
    name = "oauth.sample"
    description = "Run N complete authorization-code flows in sequence and collect codes and tokens."
    schema = {"properties": {"flows": {"type": "integer", "minimum": 2, "maximum": 50}}}

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        sample = Sample()
        exchanges: list[str] = []
        degraded = None
        for _ in range(int(spec.get("flows", 5))):
            auth = await Authorize().run({}, ctx)
            exchanges += auth.exchanges
            params = auth.subject.redirect_params or {}
            code = params.get("code")
            if not code:
                sample.errors.append(auth.subject.config_error or auth.subject.describe())
                if "AS-AUTHZ-01" not in sample.blocked_by:
                    sample.blocked_by.append("AS-AUTHZ-01")
                continue
            token = await Token().run({"code": code}, ctx)
            exchanges += token.exchanges
            degraded = degraded or token.degraded
            body = token.subject.json()
            if not isinstance(body, dict) or not body.get("access_token"):
                sample.errors.append(token.subject.describe())
                if "AS-TOKEN-02" not in sample.blocked_by:
                    sample.blocked_by.append("AS-TOKEN-02")
                continue
            sample.flows += 1
            sample.values["code"].append(code)
            sample.values["access_token"].append(body["access_token"])
            if body.get("refresh_token"):
                sample.values["refresh_token"].append(body["refresh_token"])
        if not sample.values["refresh_token"]:
            del sample.values["refresh_token"]
        return StepOutcome(subject=sample, exchanges=exchanges, degraded=degraded)
