"""The requirement catalogue (requirements.yaml): IDs, titles, roles, levels."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    role: str
    level: str  # MUST, SHOULD, INFO
    source: str
    uncertain: bool = False
    optional: bool = False
    #: where a requirement is not (yet) covered by a bundled scenario: why, or which issue covers it
    not_tested: str | None = None

    @property
    def blocking(self) -> bool:
        return self.level == "MUST"

    @property
    def area(self) -> str:
        if self.id.startswith("TLS-") or self.id.endswith("-TLS-01"):
            return "tls"
        return self.role


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Requirement]:
    text = resources.files("validatiestraat").joinpath("requirements.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    out: dict[str, Requirement] = {}
    for item in data["requirements"]:
        out[item["id"]] = Requirement(
            id=item["id"],
            title=item["title"],
            role=item["role"],
            level=item["level"],
            source=item.get("source", ""),
            uncertain=bool(item.get("uncertain", False)),
            optional=bool(item.get("optional", False)),
            not_tested=item.get("not_tested"),
        )
    return out


AREAS = {
    "dva-as": "DVA authorization",
    "dva-rs": "DVA resources (FHIR)",
    "tls": "TLS, certificates",
    "lists": "MedMij lists",
    "pgo": "PGO client",
}
