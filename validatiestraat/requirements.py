"""The requirement catalogue (requirements.yaml): IDs, titles, roles, levels, and when each applies.

A requirement is *in scope* of a run when the run's role covers its area and its ``applies_when``
condition (if any) holds for the run's scope. READY promises that every MUST requirement in scope
was judged and passed (see ``report/readiness.py``).

The condition language of ``applies_when`` (one condition; ``any`` combines several):

``{option: NAME}``
    the target option NAME is set (truthy), e.g. ``{option: vertegenwoordiging}``
``{gegevensdienst: [ID, ...]}``
    the target declares at least one of these gegevensdiensten, e.g. ``{gegevensdienst: ["51"]}``
``{has: NAME}``
    the target has this part: ``other_client``, ``untrusted_client``, ``lists``,
    ``pre_issued_access_token`` (``scope["has"]``)
``{min_gegevensdiensten: N}``
    the target declares at least N gegevensdiensten
``{any: [COND, ...]}``
    at least one of the conditions holds

The scope a condition is evaluated against is ``RunResult.scope``::

    {"role": "dva", "gegevensdiensten": ["48"], "options": {name: value, ...},
     "has": ["other_client", ...], "subset": false, "selection": {...}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

#: the parts of a target that ``{has: NAME}`` can ask for
HAS_NAMES = ("other_client", "untrusted_client", "lists", "pre_issued_access_token")

#: which requirement areas a run of each role is about. A DVA run (the default, which also runs
#: the TLS and list checks of the DVA) covers the DVA's authorization and resource server, its
#: TLS and, when the target has lists, the MedMij lists (LIST-* say so in ``applies_when``).
#: ``all`` runs every bundled scenario against a DVA target, so it promises the same as ``dva``;
#: the PGO requirements are in scope only of a PGO run.
ROLE_AREAS: dict[str, tuple[str, ...]] = {
    "dva": ("dva-as", "dva-rs", "tls", "lists"),
    "all": ("dva-as", "dva-rs", "tls", "lists"),
    "tls": ("tls",),
    "lists": ("lists",),
    "pgo": ("pgo",),
}
DEFAULT_ROLE = "dva"

_CONDITION_KEYS = ("option", "gegevensdienst", "has", "min_gegevensdiensten", "any")


def check_condition(cond: Any, where: str) -> None:
    """Raise ValueError when ``cond`` is not a condition of the language above."""
    if not isinstance(cond, dict) or len(cond) != 1:
        raise ValueError(f"{where}: a condition is a mapping with exactly one of {', '.join(_CONDITION_KEYS)}")
    (key, value), = cond.items()
    if key == "option":
        ok = isinstance(value, str) and bool(value)
    elif key == "gegevensdienst":
        ok = isinstance(value, list) and bool(value) and all(isinstance(v, (str, int)) for v in value)
    elif key == "has":
        ok = value in HAS_NAMES
    elif key == "min_gegevensdiensten":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    elif key == "any":
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: any: needs a non-empty list of conditions")
        for n, sub in enumerate(value):
            check_condition(sub, f"{where}.any[{n}]")
        return
    else:
        raise ValueError(f"{where}: unknown condition {key!r} (known: {', '.join(_CONDITION_KEYS)})")
    if not ok:
        raise ValueError(f"{where}: bad value for {key}: {value!r}")


def _options(scope: dict[str, Any]) -> dict[str, Any]:
    options = scope.get("options") or {}
    if isinstance(options, (list, tuple, set)):  # a list of the names of the options that are set
        return {name: True for name in options}
    return dict(options)


def _gegevensdiensten(scope: dict[str, Any]) -> list[str]:
    return [str(g) for g in scope.get("gegevensdiensten") or []]


def condition_holds(cond: dict[str, Any], scope: dict[str, Any]) -> bool:
    return condition_reason(cond, scope) is None


def condition_reason(cond: dict[str, Any], scope: dict[str, Any]) -> str | None:
    """None when ``cond`` holds for ``scope``, otherwise why not (one phrase)."""
    (key, value), = cond.items()
    if key == "option":
        return None if _options(scope).get(value) else f"target option {value} is not set"
    if key == "gegevensdienst":
        declared = _gegevensdiensten(scope)
        wanted = [str(v) for v in value]
        if set(wanted) & set(declared):
            return None
        return (f"the target declares none of gegevensdienst {'/'.join(wanted)}"
                f" (declared: {', '.join(declared) or 'none'})")
    if key == "has":
        return None if value in (scope.get("has") or []) else f"the target has no {value}"
    if key == "min_gegevensdiensten":
        n = len(set(_gegevensdiensten(scope)))
        return None if n >= value else f"the target declares {n} gegevensdienst(en), fewer than {value}"
    if key == "any":
        reasons = [condition_reason(sub, scope) for sub in value]
        if any(r is None for r in reasons):
            return None
        return " and ".join(r for r in reasons if r)
    raise ValueError(f"unknown condition {key!r}")


def describe_condition(cond: dict[str, Any] | None) -> str:
    """The condition as a short text, e.g. ``option partial_availability or ≥2 gegevensdiensten``."""
    if not cond:
        return ""
    (key, value), = cond.items()
    if key == "option":
        return f"option {value}"
    if key == "gegevensdienst":
        return f"gegevensdienst {'/'.join(str(v) for v in value)}"
    if key == "has":
        return f"has {value}"
    if key == "min_gegevensdiensten":
        return f"≥{value} gegevensdiensten"
    if key == "any":
        return " or ".join(describe_condition(sub) for sub in value)
    return str(cond)


def run_role(scope: dict[str, Any]) -> str:
    role = scope.get("role") or DEFAULT_ROLE
    return role if role in ROLE_AREAS else DEFAULT_ROLE


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
    #: the condition under which the requirement is in scope of a run (None: always, for its role)
    applies_when: dict[str, Any] | None = field(default=None, hash=False)
    #: what a target must provide for the suite to test it (used when it ends up untested)
    how_to_test: str | None = None
    #: judged by a reviewer from evidence the tester provides (e.g. MFA at the PGO's login), never by
    #: the suite: reported as a manual evidence item, outside what READY promises
    manual: bool = False

    @property
    def blocking(self) -> bool:
        return self.level == "MUST"

    @property
    def area(self) -> str:
        if self.id.startswith("TLS-") or self.id.endswith("-TLS-01"):
            return "tls"
        return self.role

    def applies(self, scope: dict[str, Any]) -> bool:
        """Whether this requirement is in scope of a run with this scope."""
        return self.scope_reason(scope) is None

    def scope_reason(self, scope: dict[str, Any]) -> str | None:
        """None when in scope; otherwise why not, e.g. ``target option abonneren is not set``."""
        role = run_role(scope)
        if self.area not in ROLE_AREAS[role]:
            return f"a {role} run does not cover {AREAS.get(self.area, self.area)} requirements"
        declared = (scope.get("not_applicable") or {}).get(self.id)
        if declared:
            return f"declared not applicable by the target: {declared}"
        if self.manual:
            return "a manual evidence item: a reviewer judges it from the evidence the tester provides"
        if self.applies_when:
            return condition_reason(self.applies_when, scope)
        return None

    @property
    def condition(self) -> str:
        """``applies_when`` as a short text ('' when the requirement always applies to its role)."""
        return describe_condition(self.applies_when)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Requirement]:
    text = resources.files("validatiestraat").joinpath("requirements.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    out: dict[str, Requirement] = {}
    for item in data["requirements"]:
        applies_when = item.get("applies_when")
        if applies_when is not None:
            check_condition(applies_when, f"requirements.yaml: {item['id']}: applies_when")
        out[item["id"]] = Requirement(
            id=item["id"],
            title=item["title"],
            role=item["role"],
            level=item["level"],
            source=item.get("source", ""),
            uncertain=bool(item.get("uncertain", False)),
            optional=bool(item.get("optional", False)),
            not_tested=item.get("not_tested"),
            applies_when=applies_when,
            how_to_test=item.get("how_to_test"),
            manual=bool(item.get("manual", False)),
        )
    return out


AREAS = {
    "dva-as": "DVA authorization",
    "dva-rs": "DVA resources (FHIR)",
    "tls": "TLS, certificates",
    "lists": "MedMij lists",
    "pgo": "PGO client",
}
