"""Offline terminology: ValueSet membership from bundled expansions, compose rules and CodeSystems.

A check answers VALID, INVALID or UNKNOWN. UNKNOWN means "cannot be decided offline": the value
set is not available, or it includes (part of) a code system that is not bundled, such as SNOMED
CT or LOINC. UNKNOWN is reported as *not checked* (information), never as an error.
"""

from __future__ import annotations

from typing import Any

from validatiestraat.fhir.conformance import Registry

VALID = "valid"
INVALID = "invalid"
UNKNOWN = "unknown"


class ValueSetIndex:
    """The codes of one value set, as far as they can be known offline."""

    __slots__ = ("url", "codes", "all_of", "unchecked", "missing", "display")

    def __init__(self, url: str):
        self.url = url
        self.codes: dict[str | None, set[str]] = {}  # system -> codes (system None: code without system)
        self.all_of: set[str] = set()  # systems included completely and known (codes in self.codes)
        self.unchecked: set[str] = set()  # systems (partly) included that cannot be enumerated offline
        self.missing: str | None = None  # set when the value set itself is not available
        self.display: str = url

    def check(self, system: str | None, code: str | None) -> str:
        if self.missing:
            return UNKNOWN
        if code is None:
            return INVALID
        if type(code) is dict or type(code) is list or type(system) is dict or type(system) is list:
            return INVALID  # a JSON object or array (already reported by the base layer) is never a code
        if system is None:
            for codes in self.codes.values():
                if code in codes:
                    return VALID
            return UNKNOWN if self.unchecked else INVALID
        codes = self.codes.get(system)
        if codes is not None and code in codes:
            return VALID
        if system in self.unchecked:
            return UNKNOWN
        return INVALID

    def has_system(self, system: str) -> bool:
        return system in self.codes or system in self.unchecked

    def describe_codes(self, limit: int = 8) -> str:
        parts = []
        for system, codes in self.codes.items():
            cs = sorted(codes)
            more = f" (+{len(cs) - limit} more)" if len(cs) > limit else ""
            parts.append(f"{system or ''}: {', '.join(cs[:limit])}{more}")
        return "; ".join(parts)


class Terminology:
    def __init__(self, registry: Registry):
        self.registry = registry
        self._vs: dict[str, ValueSetIndex] = {}
        self._cs: dict[str, dict[str, Any] | None] = {}

    def value_set(self, url: str) -> ValueSetIndex:
        idx = self._vs.get(url)
        if idx is None:
            idx = ValueSetIndex(url)
            self._vs[url] = idx  # placed first so recursive includes terminate
            self._build(idx, url, depth=0)
        return idx

    def code_system(self, url: str) -> dict[str, Any] | None:
        if url not in self._cs:
            entry = self.registry.resolve(url, "CodeSystem")
            self._cs[url] = entry.resource if entry is not None else None
        return self._cs[url]

    def _build(self, idx: ValueSetIndex, url: str, depth: int) -> None:
        entry = self.registry.resolve(url, "ValueSet")
        if entry is None:
            idx.missing = f"ValueSet {url} is not available"
            return
        vs = entry.resource
        idx.display = vs.get("name") or vs.get("title") or url
        expansion = vs.get("expansion")
        if isinstance(expansion, dict) and expansion.get("contains"):
            self._add_contains(idx, expansion["contains"])
            return
        compose = vs.get("compose")
        if not isinstance(compose, dict):
            idx.missing = f"ValueSet {url} has neither expansion nor compose"
            return
        for inc in compose.get("include") or []:
            self._include(idx, inc, depth)
        for exc in compose.get("exclude") or []:
            system = exc.get("system")
            for c in exc.get("concept") or []:
                codes = idx.codes.get(system)
                if codes is not None:
                    codes.discard(c.get("code"))

    def _add_contains(self, idx: ValueSetIndex, contains: list[dict[str, Any]]) -> None:
        for c in contains:
            if not isinstance(c, dict):
                continue
            if c.get("code") is not None and not c.get("abstract"):
                idx.codes.setdefault(c.get("system"), set()).add(c["code"])
            if c.get("contains"):
                self._add_contains(idx, c["contains"])

    def _include(self, idx: ValueSetIndex, inc: dict[str, Any], depth: int) -> None:
        vs_refs = inc.get("valueSet") or []
        if isinstance(vs_refs, str):
            vs_refs = [vs_refs]
        system = inc.get("system")
        if vs_refs and depth < 8:
            if system is None and not inc.get("concept"):
                for ref in vs_refs:
                    sub = ValueSetIndex(ref)
                    self._build(sub, ref, depth + 1)
                    if sub.missing:
                        idx.unchecked.update(sub.unchecked)
                        idx.unchecked.add("*")  # anything might be in the missing value set
                    for s, codes in sub.codes.items():
                        idx.codes.setdefault(s, set()).update(codes)
                    idx.unchecked.update(sub.unchecked)
                return
            # an intersection: we cannot compute it reliably -> treat the system as unchecked
            if system:
                idx.unchecked.add(system)
            return
        if system is None:
            return
        concepts = inc.get("concept")
        filters = inc.get("filter")
        if concepts:
            idx.codes.setdefault(system, set()).update(c["code"] for c in concepts if isinstance(c, dict) and "code" in c)
            return
        self._include_system(idx, system, filters, inc.get("version"))

    def _include_system(self, idx: ValueSetIndex, system: str, filters: Any, version: Any) -> None:
        cs = self.code_system(system)
        if cs is None or cs.get("content") in ("not-present", "example", "fragment"):
            idx.unchecked.add(system)
            return
        concepts = cs.get("concept") or []
        if not filters:
            idx.codes.setdefault(system, set()).update(_flatten(concepts))
            idx.all_of.add(system)
            return
        # support is-a / descendent-of / = on the concept hierarchy; anything else is unchecked
        selected: set[str] | None = None
        for flt in filters:
            op, prop, value = flt.get("op"), flt.get("property"), flt.get("value")
            if prop not in ("concept", "code") or op not in ("is-a", "descendent-of", "=", "in"):
                idx.unchecked.add(system)
                return
            if op == "=":
                codes = {value}
            elif op == "in":
                codes = set(str(value).split(","))
            else:
                node = _find(concepts, value)
                if node is None:
                    codes = set()
                else:
                    codes = set(_flatten(node.get("concept") or []))
                    if op == "is-a":
                        codes.add(value)
            selected = codes if selected is None else selected & codes
        idx.codes.setdefault(system, set()).update(selected or set())

    # -- checks ----------------------------------------------------------------------------

    def check_code(self, vs_url: str, system: str | None, code: str | None) -> str:
        return self.value_set(vs_url).check(system, code)


def _flatten(concepts: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    stack = list(concepts)
    while stack:
        c = stack.pop()
        if not isinstance(c, dict):
            continue
        if "code" in c:
            out.append(c["code"])
        if c.get("concept"):
            stack.extend(c["concept"])
    return out


def _find(concepts: list[dict[str, Any]], code: Any) -> dict[str, Any] | None:
    stack = list(concepts)
    while stack:
        c = stack.pop()
        if not isinstance(c, dict):
            continue
        if c.get("code") == code:
            return c
        if c.get("concept"):
            stack.extend(c["concept"])
    return None
