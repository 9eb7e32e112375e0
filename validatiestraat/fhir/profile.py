"""Compiling StructureDefinitions into profile plans (trees of :class:`PElem`).

A plan is an *overlay* on the base structure: it holds only what a profile adds (cardinality,
fixed and pattern values, type and profile restrictions, bindings, slicing, FHIRPath
constraints). Differential-only profiles (as Nictiz publishes them) are compiled by applying the
differential on top of the compiled base profile (or the plain base type); a StructureDefinition
that only has a snapshot is compiled the same way from its snapshot.

Plans are compiled once per canonical URL and cached in the :class:`ProfileCompiler`.
"""

from __future__ import annotations

import re
from typing import Any

from validatiestraat.fhir.base import PRIMITIVES, TYPE_ALIASES, BaseModel, ElemDef
from validatiestraat.fhir.conformance import Entry, Registry

NOVAL: Any = object()
CORE_SD = "http://hl7.org/fhir/StructureDefinition/"

# FHIRPath system types used as type codes in R4 snapshots
_SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}

# invariants the validator implements natively (or that only restate base rules)
NATIVE_KEYS = frozenset({"ele-1", "ext-1"})
_CORE_KEY = re.compile(r"^[a-z]{2,4}-\d+$")


class Slicing:
    __slots__ = ("discriminators", "rules", "ordered", "implicit")

    def __init__(self, discriminators: list[tuple[str, str]], rules: str = "open", ordered: bool = False, implicit: bool = False):
        self.discriminators = discriminators
        self.rules = rules
        self.ordered = ordered
        self.implicit = implicit

    def clone(self) -> "Slicing":
        return Slicing(list(self.discriminators), self.rules, self.ordered, self.implicit)


class Constraint:
    __slots__ = ("key", "severity", "human", "expression", "profile", "eid")

    def __init__(self, key: str, severity: str, human: str, expression: str, profile: str, eid: str):
        self.key = key
        self.severity = severity
        self.human = human
        self.expression = expression
        self.profile = profile
        self.eid = eid


class PElem:
    """One element of a profile plan (also used for slices, type variants and the root)."""

    __slots__ = (
        "eid", "name", "bdef", "min", "max", "types", "targets", "fixed", "pattern", "binding",
        "constraints", "slicing", "slices", "children", "variants", "slice_name", "vtype", "root_type",
        "max_length", "min_value", "max_value", "inlined", "disc", "profile", "active",
        # computed by _finalize for the validator's hot path
        "gkeys", "is_list", "item_checks", "slices_needed", "card_min", "card_max", "target_types", "fast_slices",
        "single", "target_info", "walk_items",
        # the validator's compiled checks of this element, per type code, and how often it was
        # checked before it was compiled (see validator._compile_plan)
        "fns", "hits", "choice_index", "matcher", "hybrid",
    )

    def __init__(self, eid: str, name: str, bdef: ElemDef | None, profile: str):
        self.eid = eid
        self.name = name
        self.bdef = bdef
        self.min: int | None = None
        self.max: int | None = None  # None: not constrained; -1: unbounded
        self.types: dict[str, list[str]] | None = None  # allowed type codes -> profiles
        self.targets: list[str] | None = None  # targetProfiles of Reference types
        self.fixed: Any = NOVAL
        self.pattern: Any = NOVAL
        self.binding: tuple[str, str] | None = None  # (strength, value set url)
        self.constraints: list[Constraint] = []
        self.slicing: Slicing | None = None
        self.slices: dict[str, PElem] = {}
        self.children: dict[str, dict[str, PElem]] = {}  # type code -> element name -> PElem
        self.variants: dict[str, PElem] = {}  # type code -> constraints for that choice type only
        self.slice_name: str | None = None
        self.vtype: str | None = None  # set on a variant: its type code
        self.root_type: str | None = None  # set on a root: the constrained type
        self.max_length: int | None = None
        self.min_value: Any = None
        self.max_value: Any = None
        self.inlined: set[str] = set()  # type profiles whose rules were copied into this element
        self.disc: list[tuple[str, list[str], Any]] | None = None  # compiled slice matchers
        self.profile = profile
        self.active = True  # False once finalised and found to check nothing
        self._reset_computed()

    def _reset_computed(self) -> None:
        self.gkeys: tuple[tuple[str, str, bool], ...] = ()
        self.is_list = False
        self.item_checks = True
        self.slices_needed = False
        self.card_min: int | None = None
        self.card_max: int | None = None
        self.target_types: dict[str, str | None] | None = None
        # (element names, {values: slice name}) when every slice is told apart by fixed values of
        # direct children (url of extensions, system of identifiers ...): an O(1) slice lookup
        self.fast_slices: tuple[Any, ...] | None = None  # see _fast_slices
        self.single: tuple[str, str, str | None] | None = None  # (type, key, "_key" or None) for one-type, non-repeating elements
        self.target_info: dict[str, tuple[list[str], bool]] = {}  # resolved type -> (candidate profiles, any core)
        self.walk_items = True  # item_checks or children or variants
        self.fns: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        self.choice_index: dict[str, int] | None = None  # JSON key -> index in gkeys (choice elements)
        self.matcher: Any = None  # the validator's compiled slice discriminator tests (slices)
        self.hybrid: Any = NOVAL  # the validator's slice lookup for mixed discriminators (see _hybrid_slices)

    def clone(self, profile: str | None = None) -> "PElem":
        c = PElem.__new__(PElem)
        c.eid = self.eid
        c.name = self.name
        c.bdef = self.bdef
        c.min = self.min
        c.max = self.max
        c.types = {k: list(v) for k, v in self.types.items()} if self.types is not None else None
        c.targets = list(self.targets) if self.targets is not None else None
        c.fixed = self.fixed
        c.pattern = self.pattern
        c.binding = self.binding
        c.constraints = list(self.constraints)
        c.slicing = self.slicing.clone() if self.slicing else None
        c.slices = {k: v.clone(profile) for k, v in self.slices.items()}
        c.children = {t: {n: e.clone(profile) for n, e in ch.items()} for t, ch in self.children.items()}
        c.variants = {t: v.clone(profile) for t, v in self.variants.items()}
        c.slice_name = self.slice_name
        c.vtype = self.vtype
        c.root_type = self.root_type
        c.max_length = self.max_length
        c.min_value = self.min_value
        c.max_value = self.max_value
        c.inlined = set(self.inlined)
        c.disc = None
        c.profile = self.profile if profile is None else profile
        c.active = True
        c._reset_computed()
        return c

    def single_type(self) -> str | None:
        if self.vtype is not None:
            return self.vtype
        if self.root_type is not None:
            return self.root_type
        if self.bdef is None:
            return None
        if len(self.bdef.types) == 1:
            return next(iter(self.bdef.types))
        if self.types is not None and len(self.types) == 1:
            return next(iter(self.types))
        return None

    def __repr__(self) -> str:  # pragma: no cover
        return f"PElem({self.eid})"


class CompiledProfile:
    def __init__(self, url: str, version: str | None, name: str, type_code: str, kind: str, entry: Entry | None):
        self.url = url
        self.version = version
        self.name = name
        self.type = type_code
        self.kind = kind
        self.entry = entry
        self.root: PElem = PElem(type_code, type_code, None, url)
        self.root.root_type = type_code
        self.notes: list[str] = []  # things that could not be compiled (reported as information)
        self.base_chain: list[str] = []

    def info(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "version": self.version,
            "source": self.entry.source.label if self.entry else "base",
        }


def _type_code(code: str) -> str:
    code = _SYSTEM_TYPES.get(code, code)
    return TYPE_ALIASES.get(code, code)


def _first(v: Any) -> Any:
    if isinstance(v, list):
        return v[0] if v else None
    return v


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


class ProfileCompiler:
    def __init__(self, base: BaseModel, registry: Registry):
        self.base = base
        self.registry = registry
        self._cache: dict[str, CompiledProfile | None] = {}
        self._stack: list[str] = []

    # -- public ----------------------------------------------------------------------------

    def get(self, url: str) -> CompiledProfile | None:
        """The compiled profile for a canonical URL (``url|version`` allowed), or None."""
        if url in self._cache:
            return self._cache[url]
        if url in self._stack:  # recursive reference: not inlined
            return None
        entry = self.registry.resolve(url, "StructureDefinition")
        if entry is None:
            self._cache[url] = None
            return None
        self._stack.append(url)
        try:
            cp = self._compile(entry)
        finally:
            self._stack.pop()
        self._cache[url] = cp
        return cp

    def is_available(self, url: str) -> bool:
        return self.registry.resolve(url, "StructureDefinition") is not None

    def type_of(self, url: str) -> str | None:
        """The resource/data type a profile URL constrains (core type URLs included)."""
        if url.startswith(CORE_SD):
            name = url[len(CORE_SD):].partition("|")[0]
            if self.base.get(name) is not None:
                return name
        entry = self.registry.resolve(url, "StructureDefinition")
        if entry is None:
            return None
        sd = entry.resource
        return sd.get("type") or _type_from_constrained(sd)

    # -- compile ---------------------------------------------------------------------------

    def _compile(self, entry: Entry) -> CompiledProfile:
        sd = entry.resource
        url = sd.get("url") or entry.url
        type_code = sd.get("type") or _type_from_constrained(sd) or "Resource"
        type_code = _type_code(type_code)
        kind = sd.get("kind") or ""
        cp = CompiledProfile(url, sd.get("version"), sd.get("name") or url, type_code, kind, entry)
        base_url = sd.get("baseDefinition")
        differential = (sd.get("differential") or {}).get("element") or []
        snapshot = (sd.get("snapshot") or {}).get("element") or []
        elements = differential
        if base_url and not base_url.startswith(CORE_SD + type_code) and base_url != CORE_SD + type_code:
            parent = self.get(base_url)
            if parent is not None:
                cp.root = parent.root.clone(url)
                cp.root.eid = type_code
                cp.base_chain = [parent.url] + parent.base_chain
                cp.notes.extend(parent.notes)
            else:
                if snapshot:
                    elements = snapshot
                else:
                    cp.notes.append(f"base profile {base_url} is not available; only the differential of {url} is checked")
        elif not differential and snapshot:
            elements = snapshot
        if self.base.get(type_code) is None:
            cp.notes.append(f"unknown type {type_code}")
            return cp
        from_snapshot = elements is snapshot and bool(snapshot)
        for el in elements:
            if isinstance(el, dict):
                try:
                    self._apply(cp, el, from_snapshot)
                except _Skip as exc:
                    if str(exc):
                        cp.notes.append(str(exc))
        _finalize(cp.root, self)
        return cp

    def _apply(self, cp: CompiledProfile, el: dict[str, Any], from_snapshot: bool) -> None:
        path = el.get("path") or ""
        eid = el.get("id") or ""
        segments = _segments(eid, path, el.get("sliceName"))
        if not segments:
            raise _Skip(f"element without path in {cp.url}")
        root_name = segments[0][0]
        if root_name != cp.type and self.base.get(root_name) is None:
            raise _Skip(f"{cp.url}: element {eid or path} does not start with {cp.type}")
        node = cp.root
        for name, slice_name in segments[1:]:
            node = self._child(cp, node, name, eid or path)
            if slice_name:
                node = self._slice_or_variant(cp, node, slice_name)
        if len(segments) == 1 and segments[0][1]:
            return  # a slice on the root: not meaningful
        self._set_props(cp, node, el, from_snapshot)

    def _child(self, cp: CompiledProfile, node: PElem, name: str, where: str) -> PElem:
        tcode = node.single_type()
        if tcode is None:
            raise _Skip(f"{cp.url}: cannot navigate into {where}: {node.eid} has more than one type")
        if tcode == "Resource":
            raise _Skip(f"{cp.url}: constraints inside a contained resource ({where}) are not supported")
        td = self.base.get("Element" if tcode in PRIMITIVES else tcode)
        if td is None:
            raise _Skip(f"{cp.url}: unknown type {tcode} at {where}")
        children = node.children.get(tcode)
        if children is None:
            children = self._seed_children(node, tcode)
        # plain element name
        edef = td.elements.get(name)
        vtype = None
        if edef is None:
            ent = td.keys.get(name)
            if ent is None or ent[2] == 1:
                raise _Skip(f"{cp.url}: {where}: {tcode} has no element {name!r}")
            edef, vtype = ent[0], ent[1]
        child = children.get(edef.name)
        if child is None:
            child = PElem(f"{node.eid}.{edef.name}", edef.name, edef, cp.url)
            children[edef.name] = child
        if vtype is not None:
            child = self._variant(cp, child, vtype)
        return child

    def _seed_children(self, node: PElem, tcode: str) -> dict[str, PElem]:
        """Children of an element whose type has a profile: start from that profile's plan."""
        children: dict[str, PElem] = {}
        profiles = (node.types or {}).get(tcode) or []
        if len(profiles) == 1 and not profiles[0].startswith(CORE_SD + tcode):
            prof = self.get(profiles[0])
            if prof is not None and prof.type == tcode:
                src = prof.root
                children = {n: e.clone(node.profile) for n, e in (src.children.get(tcode) or {}).items()}
                for n, e in children.items():
                    _rebase_eids(e, src.eid, node.eid)
                node.constraints.extend(c for c in src.constraints if c not in node.constraints)
                if src.fixed is not NOVAL and node.fixed is NOVAL:
                    node.fixed = src.fixed
                if src.pattern is not NOVAL and node.pattern is NOVAL:
                    node.pattern = src.pattern
                node.inlined.add(profiles[0])
        node.children[tcode] = children
        return children

    def _variant(self, cp: CompiledProfile, node: PElem, vtype: str) -> PElem:
        v = node.variants.get(vtype)
        if v is None:
            key = node.bdef.types.get(vtype, node.name) if node.bdef else node.name
            v = PElem(f"{node.eid}:{key}", node.name, node.bdef, cp.url)
            v.vtype = vtype
            node.variants[vtype] = v
        return v

    def _slice_or_variant(self, cp: CompiledProfile, node: PElem, slice_name: str) -> PElem:
        bdef = node.bdef
        if node.vtype is not None and bdef is not None and bdef.types.get(node.vtype) == slice_name:
            return node  # "valueQuantity:valueQuantity"
        if bdef is not None and bdef.is_choice and slice_name in bdef.keys:
            return self._variant(cp, node, bdef.keys[slice_name])
        if "/" in slice_name:  # re-slice: treated as a slice of its own
            pass
        sl = node.slices.get(slice_name)
        if sl is None:
            sl = PElem(f"{node.eid}:{slice_name}", node.name, bdef, cp.url)
            sl.slice_name = slice_name
            sl.vtype = node.vtype
            if node.types is not None:
                sl.types = {k: list(v) for k, v in node.types.items()}
            node.slices[slice_name] = sl
            if node.slicing is None:
                if node.name in ("extension", "modifierExtension"):
                    node.slicing = Slicing([("value", "url")], "open", False, implicit=True)
                else:
                    node.slicing = Slicing([], "open", False, implicit=True)
        return sl

    def _set_props(self, cp: CompiledProfile, node: PElem, el: dict[str, Any], from_snapshot: bool) -> None:
        bdef = node.bdef
        if "min" in el and isinstance(el["min"], int):
            node.min = el["min"]
        if "max" in el and isinstance(el["max"], str):
            node.max = -1 if el["max"] == "*" else _int(el["max"])
        if from_snapshot and node.slice_name is None and bdef is not None:
            # snapshot elements restate the base: keep only what is stricter
            if node.min is not None and node.min <= bdef.min:
                node.min = None
            if node.max is not None and (node.max == -1 or (bdef.max == "1" and node.max >= 1)):
                node.max = None
        types = el.get("type")
        if isinstance(types, list) and types:
            tmap: dict[str, list[str]] = {}
            targets: list[str] = []
            for t in types:
                if not isinstance(t, dict) or not t.get("code"):
                    continue
                code = _type_code(t["code"])
                profs = tmap.setdefault(code, [])
                for p in _as_list(t.get("profile")):
                    if isinstance(p, str) and p not in profs and p != CORE_SD + code:
                        profs.append(p)
                for tp in _as_list(t.get("targetProfile")):
                    if isinstance(tp, str) and tp not in targets:
                        targets.append(tp)
            if tmap:
                if node.vtype is not None:
                    # a variant keeps its single type; only take over profiles
                    if node.vtype in tmap:
                        node.types = {node.vtype: tmap[node.vtype]}
                else:
                    base_types = set(bdef.types) if bdef is not None else set(tmap)
                    keep = {}
                    for code, profs in tmap.items():
                        if code in base_types or bdef is None:
                            keep[code] = profs
                        else:
                            # a specialisation (Age for Quantity, SimpleQuantity ...) or the root
                            for b in base_types:
                                if self.base.specializes(code, b):
                                    keep[b] = profs
                                    break
                            else:
                                keep[code] = profs
                    if node is cp.root:
                        pass
                    elif from_snapshot and bdef is not None and set(keep) == base_types and not any(keep.values()):
                        pass  # restates the base
                    else:
                        node.types = keep
            if targets:
                core_only = all(tp.startswith(CORE_SD) for tp in targets)
                if not (from_snapshot and core_only and node.targets is None):
                    node.targets = targets
        for k, v in el.items():
            if k.startswith("fixed") and len(k) > 5 and k[5].isupper():
                node.fixed = v
            elif k.startswith("pattern") and len(k) > 7 and k[7].isupper():
                node.pattern = v
            elif k.startswith("minValue") and len(k) > 8:
                node.min_value = v
            elif k.startswith("maxValue") and len(k) > 8:
                node.max_value = v
        if isinstance(el.get("maxLength"), int):
            node.max_length = el["maxLength"]
        binding = el.get("binding")
        if isinstance(binding, dict):
            strength = binding.get("strength")
            vs = binding.get("valueSet") or binding.get("valueSetUri")
            ref = binding.get("valueSetReference")
            if not vs and isinstance(ref, dict):
                vs = ref.get("reference")
            if strength in ("required", "extensible") and isinstance(vs, str):
                node.binding = (strength, vs)
            elif strength in ("preferred", "example"):
                node.binding = None
        slicing = el.get("slicing")
        if isinstance(slicing, dict):
            discs = []
            for d in _as_list(slicing.get("discriminator")):
                if isinstance(d, dict) and d.get("path"):
                    discs.append((d.get("type") or "value", d["path"]))
                elif isinstance(d, str):  # DSTU2-style
                    discs.append(("value", d))
            node.slicing = Slicing(discs, slicing.get("rules") or "open", bool(slicing.get("ordered")))
        for c in _as_list(el.get("constraint")):
            if not isinstance(c, dict):
                continue
            key = c.get("key") or "?"
            expr = c.get("expression")
            if key in NATIVE_KEYS or not expr:
                continue
            src = c.get("source") or ""
            if from_snapshot and _CORE_KEY.match(key) and (not src or src.startswith(CORE_SD)):
                continue  # a base invariant restated in a snapshot
            if any(x.key == key and x.expression == expr for x in node.constraints):
                continue
            node.constraints.append(
                Constraint(key, c.get("severity") or "error", c.get("human") or key, expr, cp.url, node.eid)
            )


class _Skip(Exception):
    pass


def _int(v: str) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _type_from_constrained(sd: dict[str, Any]) -> str | None:
    ct = sd.get("constrainedType")
    if ct:
        return ct
    base = sd.get("baseDefinition") or ""
    if base.startswith(CORE_SD):
        return base[len(CORE_SD):]
    return None


def _segments(eid: str, path: str, slice_name: str | None) -> list[tuple[str, str | None]]:
    if eid:
        out = []
        for part in eid.split("."):
            name, _, sl = part.partition(":")
            out.append((name, sl or None))
        if path and len(path.split(".")) == len(out):
            return out
    parts = path.split(".") if path else []
    out = [(p, None) for p in parts]
    if out and slice_name:
        out[-1] = (out[-1][0], slice_name)
    return out


def _rebase_eids(e: PElem, old: str, new: str) -> None:
    if e.eid.startswith(old):
        e.eid = new + e.eid[len(old):]
    for s in e.slices.values():
        _rebase_eids(s, old, new)
    for ch in e.children.values():
        for c in ch.values():
            _rebase_eids(c, old, new)
    for v in e.variants.values():
        _rebase_eids(v, old, new)


# ---------------------------------------------------------------------------------------------
# finalisation: slice matchers, dropping elements that check nothing


def _finalize(node: PElem, comp: ProfileCompiler) -> bool:
    """Compute slice matchers; return True when the node (or anything below it) checks something."""
    active = False
    for tcode, ch in list(node.children.items()):
        for name, c in list(ch.items()):
            if _finalize(c, comp):
                active = True
            else:
                del ch[name]
        if not ch:
            del node.children[tcode]
    for v in node.variants.values():
        if _finalize(v, comp):
            active = True
    for s in node.slices.values():
        _finalize(s, comp)
        active = True
    if node.slicing is not None:
        for s in node.slices.values():
            s.disc = _slice_matchers(node, s, comp)
    if (
        node.min is not None or node.max is not None or node.types is not None or node.targets is not None
        or node.fixed is not NOVAL or node.pattern is not NOVAL or node.binding is not None or node.constraints
        or node.slicing is not None or node.max_length is not None or node.min_value is not None
        or node.max_value is not None
    ):
        active = True
    node.active = active
    _compute(node, comp)
    return active


def _compute(node: PElem, comp: "ProfileCompiler") -> None:
    bdef = node.bdef
    if bdef is not None:
        node.gkeys = tuple((t, k, t in PRIMITIVES) for t, k in bdef.types.items())
        node.is_list = bdef.is_list
        if len(node.gkeys) == 1 and not bdef.is_list:
            t, k, prim = node.gkeys[0]
            node.single = (t, k, "_" + k if prim else None)
        node.card_min = node.min if node.min is not None and (node.min > bdef.min or node.slice_name is not None) else None
        mx = node.max
        if mx is not None and (mx < 0 or (mx >= 1 and not bdef.is_list)):
            mx = None
        node.card_max = mx
    node.item_checks = (
        node.fixed is not NOVAL or node.pattern is not NOVAL or node.binding is not None or node.max_length is not None
        or node.min_value is not None or node.max_value is not None or node.types is not None
        or node.targets is not None or bool(node.constraints)
    )
    node.slices_needed = any(s.min for s in node.slices.values())
    node.walk_items = node.item_checks or bool(node.children) or bool(node.variants)
    node.fast_slices = _fast_slices(node)
    if node.targets:
        node.target_types = {t: comp.type_of(t) for t in node.targets}


def _fast_slices(node: PElem) -> tuple[Any, ...] | None:
    """An O(1) slice lookup when every slice is told apart by simple values.

    ("fixed", element names, {values: slice name}): fixed values of direct children (url of
    extensions, system of identifiers ...);
    ("coding", path, {(system, code): slice name}): a pattern CodeableConcept with one coding at
    ``path`` ($this or a child such as ``code``), e.g. categories and component codes.
    """
    if node.slicing is None or not node.slices:
        return None
    segs: tuple[str, ...] | None = None
    index: dict[Any, str] = {}
    kinds = {t[0] for s in node.slices.values() for t in (s.disc or [("-", [], None)])}
    if kinds == {"fixed"}:
        for name, s in node.slices.items():
            tests = s.disc
            if not tests or any(len(p) != 1 or len(v) != 1 for k, p, v in tests):
                return None
            these = tuple(p[0] for k, p, v in tests)
            if segs is None:
                segs = these
            elif these != segs:
                return None
            key = tuple(v[0] for k, p, v in tests)
            if any(isinstance(x, (dict, list, bool)) for x in key):
                return None
            index.setdefault(key, name)
        return ("fixed", segs, index) if segs else None
    if kinds == {"pattern"}:
        path: tuple[str, ...] | None = None
        for name, s in node.slices.items():
            tests = s.disc
            if not tests or len(tests) != 1:
                return None
            k, p, v = tests[0]
            if len(p) > 1 or len(v) != 1 or not isinstance(v[0], dict) or set(v[0]) != {"coding"}:
                return None
            codings = v[0]["coding"]
            if not isinstance(codings, list) or len(codings) != 1 or not isinstance(codings[0], dict):
                return None
            c = codings[0]
            if set(c) != {"system", "code"} or not all(isinstance(x, str) for x in c.values()):
                return None
            if path is None:
                path = tuple(p)
            elif tuple(p) != path:
                return None
            index.setdefault((c["system"], c["code"]), name)
        return ("coding", path or (), index)
    return None


def _split_path(path: str) -> list[str]:
    segs: list[str] = []
    depth = 0
    cur = ""
    for ch in path:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "." and depth == 0:
            segs.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        segs.append(cur)
    return [s.strip() for s in segs if s.strip()]


def _slice_matchers(parent: PElem, s: PElem, comp: ProfileCompiler) -> list[tuple[str, list[str], Any]] | None:
    """[(kind, path segments, expected)]; None means: match by checking the slice's rules."""
    sl = parent.slicing
    assert sl is not None
    tests: list[tuple[str, list[str], Any]] = []
    for dtype, dpath in sl.discriminators:
        segs = _split_path(dpath)
        if segs and segs[0] == "$this":
            segs = segs[1:]
        if dtype in ("value", "pattern"):
            exp = _expected_value(s, segs, comp)
            if exp is not None:
                tests.append(exp[0:1] + (segs,) + exp[1:2])  # (kind, segs, values)
        elif dtype == "exists":
            node = _find_node(s, segs)
            if node is not None and node.min is not None and node.min >= 1:
                tests.append(("exists", segs, True))
            elif node is not None and node.max == 0:
                tests.append(("exists", segs, False))
        elif dtype == "type":
            if segs in ([], ["resolve()"]):
                if segs == []:
                    types = set(s.types) if s.types else ({s.vtype} if s.vtype else None)
                else:
                    types = {comp.type_of(t) for t in (s.targets or [])} - {None}
                if types:
                    tests.append(("type", segs, types))
            else:
                node = _find_node(s, segs)
                if node is not None and node.types:
                    tests.append(("type", segs, set(node.types)))
        elif dtype == "profile":
            if segs == []:
                profs = [p for ps in (s.types or {}).values() for p in ps]
                if profs:
                    tests.append(("profile", segs, profs))
            elif segs == ["resolve()"]:
                if s.targets:
                    tests.append(("profile", segs, list(s.targets)))
            else:
                node = _find_node(s, [x for x in segs if x != "resolve()"])
                if node is not None:
                    profs = list(node.targets or []) if "resolve()" in segs else [p for ps in (node.types or {}).values() for p in ps]
                    if profs:
                        tests.append(("profile", segs, profs))
    if tests:
        return tests
    # no usable discriminator: infer one from fixed/pattern values in the slice
    inferred: list[tuple[str, list[str], Any]] = []
    _infer(s, [], inferred, 0)
    return inferred or None


def _infer(node: PElem, prefix: list[str], out: list[tuple[str, list[str], Any]], depth: int) -> None:
    if depth > 0:
        if node.fixed is not NOVAL:
            out.append(("fixed", prefix, [node.fixed]))
            return
        if node.pattern is not NOVAL:
            out.append(("pattern", prefix, [node.pattern]))
            return
    if depth >= 3:
        return
    tcode = node.single_type()
    if tcode is None:
        return
    for name, c in (node.children.get(tcode) or {}).items():
        if name in ("extension", "modifierExtension"):
            continue
        seg = name[:-3] if name.endswith("[x]") else name
        _infer(c, prefix + [seg], out, depth + 1)


def _find_node(node: PElem, segs: list[str]) -> PElem | None:
    for seg in segs:
        if seg == "resolve()":
            return None
        tcode = node.single_type()
        if tcode is None:
            return None
        ch = node.children.get(tcode) or {}
        nxt = ch.get(seg) or ch.get(seg + "[x]")
        if nxt is None:
            return None
        node = nxt
    return node


def _expected_value(node: PElem, segs: list[str], comp: ProfileCompiler) -> tuple[str, Any] | None:
    """('fixed'|'pattern'|'binding', candidates) for a value/pattern discriminator."""
    i = 0
    while True:
        if node.fixed is not NOVAL:
            vals = _values_at(node.fixed, segs[i:])
            return ("fixed", vals) if vals else None
        if node.pattern is not NOVAL:
            vals = _values_at(node.pattern, segs[i:])
            return ("pattern", vals) if vals else None
        if i == len(segs):
            if node.binding is not None and node.binding[0] == "required":
                return ("binding", node.binding[1])
            if node.variants and len(node.variants) == 1:
                v = next(iter(node.variants.values()))
                if v.fixed is not NOVAL:
                    return ("fixed", [v.fixed])
                if v.pattern is not NOVAL:
                    return ("pattern", [v.pattern])
            return None
        seg = segs[i]
        if seg.startswith("extension(") or seg.startswith("ofType(") or seg == "resolve()":
            return None
        tcode = node.single_type()
        ch = node.children.get(tcode or "") or {}
        nxt = ch.get(seg) or ch.get(seg + "[x]")
        if nxt is None:
            if seg == "url" and i == len(segs) - 1 and tcode == "Extension":
                profs = (node.types or {}).get("Extension") or []
                if profs:
                    return ("fixed", [profs[0]])
                if node.inlined:
                    return ("fixed", [sorted(node.inlined)[0]])
                if node.slice_name:
                    return ("fixed", [node.slice_name])
            return None
        node = nxt
        i += 1


def _values_at(value: Any, segs: list[str]) -> list[Any]:
    vals = [value]
    for seg in segs:
        nxt: list[Any] = []
        for v in vals:
            if isinstance(v, dict) and seg in v:
                x = v[seg]
                nxt.extend(x if isinstance(x, list) else [x])
        vals = nxt
    return vals


def is_primitive(tcode: str | None) -> bool:
    return tcode in PRIMITIVES
