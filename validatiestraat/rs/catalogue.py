"""The catalogued queries of a gegevensdienst: the searches its qualification requires.

They are not written twice: the ``fhir.search`` steps of the bundled scenario that declares the
gegevensdienst (``gegevensdienst: "48"``) are the catalogue. The resource-server probes send their
token negatives on these queries (a real DVA serves nothing else), and the reference DVA's strict
mode answers only requests of these shapes.

A query's *shape* is its resource path plus the names of its parameters, with the ``_include``
values kept (``Observation?code=...`` matches any ``code`` value, as an empty search needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl

import yaml


@dataclass(frozen=True)
class Search:
    resource: str  # e.g. "Patient" or "Observation/$lastn"
    params: tuple[tuple[str, str], ...]
    name: str = ""

    @property
    def query(self) -> str:
        from urllib.parse import urlencode

        return urlencode(self.params, safe="|:,/$")

    @property
    def resource_type(self) -> str:
        return self.resource.split("/", 1)[0]

    def shape(self) -> tuple[str, frozenset[tuple[str, str]]]:
        return query_shape(self.resource, self.params)

    def describe(self) -> str:
        return f"{self.resource}?{self.query}" if self.params else self.resource


def query_shape(resource: str, params) -> tuple[str, frozenset[tuple[str, str]]]:
    """(resource path, {(name, value-or-'*')}): parameter values are wildcards except _include."""
    items = set()
    for name, value in params:
        if name in ("_format",):
            continue
        items.add((name, value if name.startswith("_include") or name.startswith("_revinclude") else "*"))
    return resource.strip("/"), frozenset(items)


def _scenario_dirs() -> list[Path]:
    from validatiestraat.scenario.loader import bundled_scenarios_dir

    return [bundled_scenarios_dir()]


@lru_cache(maxsize=None)
def required_searches(gegevensdienst: str) -> tuple[Search, ...]:
    """The searches of the bundled scenario(s) of this gegevensdienst, in scenario order."""
    out: list[Search] = []
    seen: set = set()
    for root in _scenario_dirs():
        for path in sorted(root.rglob("*.yaml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):  # lint reports broken scenarios; not our concern here
                continue
            if not isinstance(data, dict) or str(data.get("gegevensdienst", "")) != str(gegevensdienst):
                continue
            for step in data.get("steps") or []:
                if not isinstance(step, dict) or step.get("kind") != "fhir.search":
                    continue
                raw = step.get("params") or ""
                params = tuple(parse_qsl(raw.lstrip("?"), keep_blank_values=True)) if isinstance(raw, str) else \
                    tuple((str(k), str(v)) for k, v in (raw.items() if isinstance(raw, dict) else raw))
                search = Search(str(step["resource"]).strip("/"), params, str(step.get("name", "")))
                if (search.resource, search.params) not in seen:
                    seen.add((search.resource, search.params))
                    out.append(search)
    return tuple(out)


def resource_types(gegevensdienst: str) -> frozenset[str]:
    """Resource types the gegevensdienst's searches return as matches (reads of these are served)."""
    return frozenset(s.resource_type for s in required_searches(gegevensdienst))


def is_catalogued(gegevensdienst: str, resource: str, params) -> bool:
    """Whether a search of this resource path and these parameters has a catalogued shape."""
    shape = query_shape(resource, params)
    return any(s.shape() == shape for s in required_searches(gegevensdienst))
