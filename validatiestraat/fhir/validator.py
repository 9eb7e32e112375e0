"""The validator: one structural pass over plain JSON dicts, then the profile plans.

Pass 1 (base layer, always): unknown elements, strict JSON primitive types and FHIR regexes, id
length, ``null``/``[]``/``{}``, list versus single, required elements (an ``_element`` with an
extension counts), choice exclusivity, required bindings of the base specification, dispatch of
contained resources and Bundle entries by ``resourceType``, and the hot invariants natively
(ele-1, ext-1, dom-1..5, bdl-*, ref-1, per-1, qty-3, cpt-2, att-1, rat-1, obs-6, obs-7, pat-1,
ait-1/2). It also collects references and extensions on the way.

Pass 2: references are resolved against the Bundle (``fullUrl`` and ``type/id`` indexes, built
once, so linear in the Bundle size) and contained resources.

Pass 3 (profile layer): for every resource, the profiles it claims in ``meta.profile`` plus the
profiles asked for, and every extension whose definition is known by its url, are checked with
their compiled plans. Nothing stops at the first error: all issues are reported.
"""

from __future__ import annotations

import gc
import re
import threading
from typing import Any, Iterable, Sequence

from validatiestraat.fhir import fhirpath
from validatiestraat.fhir.base import _jtype as _jt  # the JSON type name of a value
from validatiestraat.fhir.base import (
    INT_MAX,
    INT_MIN,
    K_COMPLEX,
    K_PEXT,
    K_PRIM,
    K_RESOURCE,
    Q_BOOL,
    Q_DEC,
    Q_RE,
    Q_STR,
    PRIMITIVES,
    BaseModel,
    TypeDef,
    get_base,
    normalize_version,
)
from validatiestraat.fhir.conformance import Registry
from validatiestraat.fhir.model import ERROR, INFORMATION, WARNING, Issue, ValidationResult
from validatiestraat.fhir.profile import CORE_SD, NOVAL, CompiledProfile, PElem, ProfileCompiler
from validatiestraat.fhir.terminology import INVALID, UNKNOWN, VALID, Terminology

_RE_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/[A-Za-z0-9\-\.]{1,64})?")
_RE_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_RE_ABS_TAIL = re.compile(r"/([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/[A-Za-z0-9\-\.]{1,64})?$")
_SLICE_PART = re.compile(r":[^.]+")
_ANY_TARGET = frozenset({"Resource", "Any", "DomainResource"})


# A location is built lazily: a str, or (parent, key) for "parent.key", or (parent, key, i) for
# "parent.key[i]". Only a reported issue turns it into a string (see _ps), so the walks over a
# valid instance never format paths.
Path = Any


def _ps(p: Path) -> str:
    """The FHIRPath-like string of a lazy location."""
    if type(p) is str:
        return p
    parts = []
    while type(p) is tuple:
        if len(p) == 2:
            parts.append("." + p[1])
        else:
            parts.append(f".{p[1]}[{p[2]}]")
        p = p[0]
    parts.append(p)
    parts.reverse()
    return "".join(parts)


_UNRESOLVED: Any = object()


class _Unknown(Exception):
    """A slice discriminator cannot be evaluated (e.g. an unresolvable reference)."""


_NONE_CONTAINED: dict[str, Any] = {}  # shared and never written (see Frame)
_NO_LOCAL_REFS: frozenset[str] = frozenset()


class Frame:
    """A resource inside the validated instance (the root, a Bundle entry or a contained one)."""

    __slots__ = ("res", "rt", "path", "full_url", "parent", "bundle", "contained", "is_contained", "local_refs", "index", "typeid", "base_url")

    def __init__(self, res: dict[str, Any], rt: str, path: str, full_url: str | None, parent: "Frame | None", is_contained: bool):
        self.res = res
        self.rt = rt
        self.path = path
        self.full_url = full_url
        self.parent = parent
        self.is_contained = is_contained
        self.bundle: Frame | None = None  # the Bundle frame this resource is an entry of
        self.contained: dict[str, Frame] = _NONE_CONTAINED  # replaced by a dict of its own when written
        self.local_refs: set[str] = _NO_LOCAL_REFS  # likewise
        self.index: dict[str, Frame] | None = None  # Bundle frames: fullUrl -> entry
        self.typeid: dict[tuple[str, str], Frame] | None = None  # Bundle frames: (type, id) -> entry
        self.base_url: str | None = None  # entries: the fullUrl without "Type/id" (for relative references)

    @property
    def container(self) -> "Frame":
        f = self
        while f.is_contained and f.parent is not None:
            f = f.parent
        return f


class _Ctx:
    __slots__ = ("issues", "profile", "refs", "exts", "frames", "by_res", "cur", "root", "noted", "silent", "conf_cache", "depth", "resolved", "targets_ok")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.profile: str | None = None
        self.refs: list[tuple[str, dict[str, Any], tuple[str, ...] | None, Frame]] = []
        self.exts: list[tuple[dict[str, Any], str, Frame, bool]] = []
        self.frames: list[Frame] = []
        self.by_res: dict[int, Frame] = {}  # id(resource dict) -> its first frame
        self.cur: Frame | None = None
        self.root: Frame | None = None
        self.noted: set[Any] = set()
        self.silent = 0
        self.conf_cache: dict[tuple[int, str], bool] = {}
        self.depth = 0
        self.resolved: dict[int, Frame | None] = {}  # id(Reference dict) -> target (pass 2)
        self.targets_ok: set[tuple[Frame, Any]] = set()  # (target, plan element) found to conform

    def err(self, path: Path, msg: str, code: str, source: str | None = None) -> None:
        self.issues.append(Issue(ERROR, _ps(path), msg, self.profile, source, code))

    def add(self, severity: str, path: Path, msg: str, code: str, source: str | None = None, profile: Any = NOVAL) -> None:
        self.issues.append(Issue(severity, _ps(path), msg, self.profile if profile is NOVAL else profile, source, code))

    def note(self, key: Any, severity: str, path: Path, msg: str, code: str, source: str | None = None, profile: str | None = None) -> None:
        """An issue reported once per validation (e.g. 'SNOMED codes not checked')."""
        if self.silent:
            return
        if key in self.noted:
            return
        self.noted.add(key)
        self.issues.append(Issue(severity, _ps(path), msg, profile, source, code))


class Validator:
    """Validates resources of one FHIR version against base FHIR and profiles."""

    def __init__(self, fhir_version: str = "stu3", packages: Sequence[str] = (), bundled: bool = True):
        self.version = normalize_version(fhir_version)
        self.base: BaseModel = get_base(self.version)
        self.registry = Registry(self.version)
        for p in packages:
            self.registry.add_path(p)
        if bundled:
            self.registry.add_bundled()
        self.terminology = Terminology(self.registry)
        self.compiler = ProfileCompiler(self.base, self.registry)
        self._element_td = self.base["Element"]
        self._extension_td = self.base["Extension"]
        self._lock = threading.RLock()
        self._fast_constraints: dict[tuple[str, tuple[str, str]], Any] = {}  # compiled FHIRPath (or False)
        self._shape_tables: dict[str, _ShapeTable] = {}  # pass 1: compiled walks per type (see _ShapeTable)
        self._validations = 0  # how many validations this validator has done (see WARM_AFTER)
        self._resource_tds: dict[str, TypeDef] = {}

    # ------------------------------------------------------------------------------------------
    # public API

    def validate(self, resource: Any, profiles: Sequence[str] = ()) -> ValidationResult:
        """Validate one resource (or Bundle) given as a JSON dict.

        ``profiles`` are applied in addition to ``meta.profile``: to the resource itself when the
        profile constrains its type, else to the Bundle entries of that type.
        """
        with self._lock:
            return self._validate(resource, profiles)

    def _validate(self, resource: Any, profiles: Sequence[str]) -> ValidationResult:
        gc_was_enabled = gc.isenabled()
        gc.disable()  # the input is large and acyclic; collecting during the walk only costs time
        try:
            return self._validate_inner(resource, profiles)
        finally:
            self._validations += 1
            if gc_was_enabled:
                gc.enable()

    def _validate_inner(self, resource: Any, profiles: Sequence[str]) -> ValidationResult:
        ctx = _Ctx()
        result = ValidationResult(fhir_version=self.base.fhir_version)
        if not isinstance(resource, dict):
            ctx.err("$", "a FHIR resource must be a JSON object", "structure")
            result.issues = ctx.issues
            return result
        rt = resource.get("resourceType")
        result.resource_type = rt if isinstance(rt, str) else None
        path = rt if isinstance(rt, str) and rt in self.base.resource_types else "Resource"
        self._walk_resource(resource, path, ctx, None, None, False)
        ctx.root = ctx.frames[0] if ctx.frames else None
        self._resolve_refs(ctx)
        env = fhirpath.ENV
        old = (env.resolve, env.member_of, env.conforms_to)
        env.resolve = lambda ref: self._fp_resolve(ref, ctx)
        env.member_of = self._fp_member_of
        env.conforms_to = lambda item, url: self._fp_conforms(item, url, ctx)
        try:
            self._apply_profiles(ctx, list(profiles), result)
            self._check_extensions(ctx)
        finally:
            env.resolve, env.member_of, env.conforms_to = old
        result.issues = _dedupe(ctx.issues)
        # frames point at each other (parent, Bundle, indexes, contained): unlink them so that they
        # are freed at once, instead of as cyclic garbage for the collector
        for f in ctx.frames:
            f.parent = f.bundle = None
            f.index = f.typeid = None
            f.contained = _NONE_CONTAINED
        return result

    # ------------------------------------------------------------------------------------------
    # pass 1: base structure

    def _walk_resource(self, res: Any, path: str, ctx: _Ctx, full_url: str | None, parent: Frame | None, contained: bool) -> Frame | None:
        if type(res) is not dict:
            ctx.err(path, f"a resource must be a JSON object, not {_jt(res)}", "structure")
            return None
        rt = res.get("resourceType")
        if type(rt) is not str:
            ctx.err(path, "resource has no resourceType", "resource-type")
            return None
        td = self._resource_tds.get(rt)
        if td is None:
            td = self.base.get(rt) if rt in self.base.resource_types else None
            if td is not None:
                self._resource_tds[rt] = td
        if td is None:
            ctx.err(path, f"unknown resourceType {rt!r} (FHIR {self.base.fhir_version})", "resource-type")
            return None
        frame = Frame(res, rt, path, full_url, parent, contained)
        if parent is not None and not contained:
            frame.bundle = parent if parent.rt == "Bundle" else parent.bundle
        ctx.frames.append(frame)
        ctx.by_res.setdefault(id(res), frame)
        prev = ctx.cur
        ctx.cur = frame
        t = self._shape_tables.get(rt) or self._table(td)
        (t.fns.get(tuple(res)) or t.miss(res))(res, path, ctx)
        if "contained" in res:
            self._contained_rules(res, frame, path, ctx)
        if rt == "Bundle":
            self._bundle_rules(res, frame, path, ctx)
        ctx.cur = prev
        return frame

    def _walk(self, obj: dict[str, Any], td: TypeDef, path: Path, ctx: _Ctx) -> None:
        """Walk one object of type ``td``: through the compiled function of its shape when there is one."""
        t = self._shape_tables.get(td.name) or self._table(td)
        (t.fns.get(tuple(obj)) or t.miss(obj))(obj, path, ctx)

    def _table(self, td: TypeDef) -> "_ShapeTable":
        t = self._shape_tables.get(td.name)
        if t is None:
            t = self._shape_tables[td.name] = _ShapeTable(self, td)
        return t

    def _walk_generic(self, obj: dict[str, Any], td: TypeDef, path: Path, ctx: _Ctx) -> None:
        """The interpreted walk of one object (shapes not compiled yet, see _ShapeTable)."""
        fast = td.fast
        seen_choice: dict[Any, str] | None = None
        for key, val in obj.items():
            ent = fast.get(key)
            if ent is None:
                if key == "resourceType" and td.kind == "resource":
                    continue
                self._unknown(obj, key, td, path, ctx)
                continue
            mode = ent[9]
            if ent[10] and not (ent[2] == K_PEXT and key[1:] in obj):
                edef = ent[0]
                if seen_choice is None:
                    seen_choice = {edef: key}
                elif edef in seen_choice:
                    ctx.err((path, edef.name), f"only one type is allowed for {edef.name}, found "
                            f"{seen_choice[edef].lstrip('_')}, {key.lstrip('_')}", "choice")
                else:
                    seen_choice[edef] = key
            if mode == 2 and type(val) is dict and len(val) > 1:
                # the common case: a datatype or backbone element with content
                sub = ent[8]
                if sub is None:
                    sub = ent[8] = self.base.get(ent[1])
                self._walk(val, sub, (path, key), ctx)
                continue
            if mode == 0:
                # the common case: a valid single primitive
                qkind = ent[6]
                if qkind == Q_STR:
                    if type(val) is str and val and val.isprintable() and len(val) < 1048576:
                        continue
                elif qkind == Q_RE:
                    if type(val) is str and ent[7](val) is not None:
                        enum = ent[5]
                        if enum is None or val in enum:
                            continue
                elif qkind == Q_BOOL:
                    if val is True or val is False:
                        continue
                elif qkind == Q_DEC:
                    if type(val) is int or (type(val) is float and val - val == 0):
                        continue
            self._walk_key(obj, td, key, val, ent, path, ctx)
        if td.required:
            for edef, ks in td.required:
                for k in ks:
                    if k in obj:
                        break
                else:
                    ctx.err((path, edef.name), f"{edef.name} is required (min 1) but missing", "required", f"{td.fhir_type}.{edef.name}")
        native = _NATIVE.get(td.name)
        if native is not None:
            native(self, obj, path, ctx)

    def _walk_key(self, obj: dict[str, Any], td: TypeDef, key: str, val: Any, ent: list[Any], path: Path, ctx: _Ctx) -> None:
        """One element of an object, with every error it has (choices and unknown keys excluded)."""
        if ent[9] == 0:  # a single primitive
            edef, enum = ent[0], ent[5]
            if val is None:
                ctx.err((path, key), "null is not allowed (leave the element out)", "null", "ele-1")
                return
            if type(val) is list:
                ctx.err((path, key), f"{edef.name} does not repeat and must not be an array", "array")
                return
            msg = ent[3](val)
            if msg is not None:
                ctx.err((path, key), msg, "json-type" if "JSON" in msg else "invalid-value")
            elif enum is not None and val not in enum:
                ctx.err((path, key), _enum_msg(val, edef), "code-invalid")
            return
        edef, tcode, kind, check, is_list, enum, qkind, qfn, sub, mode, is_choice = ent
        if val is None:
            ctx.err((path, key), "null is not allowed (leave the element out)", "null", "ele-1")
            return
        if kind == K_COMPLEX:
            if sub is None:
                sub = ent[8] = self.base.get(tcode)
            if is_list:
                if type(val) is not list:
                    ctx.err((path, key), f"{edef.name} repeats and must be a JSON array", "array")
                    return
                if not val:
                    ctx.err((path, key), "empty array is not allowed", "empty", "ele-1")
                    return
                i = 0
                for item in val:
                    if type(item) is not dict:
                        ctx.err((path, key, i), f"{tcode} must be a JSON object, not {_jt(item)}", "json-type")
                    elif len(item) > 1 and tcode != "Reference" and tcode != "Extension":
                        self._walk(item, sub, (path, key, i), ctx)
                    else:
                        self._complex(item, sub, tcode, edef, (path, key, i), ctx)
                    i += 1
            else:
                if type(val) is not dict:
                    if type(val) is list:
                        ctx.err((path, key), f"{edef.name} does not repeat and must not be an array", "array")
                    else:
                        ctx.err((path, key), f"{tcode} must be a JSON object, not {_jt(val)}", "json-type")
                    return
                if len(val) > 1 and tcode != "Reference" and tcode != "Extension":
                    self._walk(val, sub, (path, key), ctx)
                else:
                    self._complex(val, sub, tcode, edef, (path, key), ctx)
        elif kind == K_PRIM:  # a repeating primitive
            if type(val) is not list:
                ctx.err((path, key), f"{edef.name} repeats and must be a JSON array", "array")
                return
            if not val:
                ctx.err((path, key), "empty array is not allowed", "empty", "ele-1")
                return
            ext = obj.get("_" + key)
            if ext is not None and (type(ext) is not list or len(ext) != len(val)):
                ctx.err((path, "_" + key), f"_{key} must be an array of the same length as {key}", "array")
                ext = None
            for i, v in enumerate(val):
                if v is None:
                    if ext is None or ext[i] is None:
                        ctx.err((path, key, i), "null without an extension in _" + key, "null", "ele-1")
                    continue
                msg = check(v)
                if msg is not None:
                    ctx.err((path, key, i), msg, "json-type" if "JSON" in msg else "invalid-value")
                elif enum is not None and v not in enum:
                    ctx.err((path, key, i), _enum_msg(v, edef), "code-invalid")
        elif kind == K_PEXT:
            if is_list:
                if type(val) is not list:
                    ctx.err((path, key), f"{key} must be a JSON array", "array")
                    return
                if not val or all(x is None for x in val):
                    ctx.err((path, key), "empty array is not allowed", "empty", "ele-1")
                    return
                if key[1:] not in obj:
                    for i, item in enumerate(val):
                        if item is None:
                            ctx.err((path, key[1:], i), "null without a value", "null", "ele-1")
                for i, item in enumerate(val):
                    if item is None:
                        continue
                    self._prim_ext(item, (path, key[1:], i), ctx)
            else:
                if type(val) is list:
                    ctx.err((path, key), f"{key} must not be an array", "array")
                    return
                self._prim_ext(val, (path, key[1:]), ctx)
        else:  # contained resources, Bundle.entry.resource, Parameters.parameter.resource
            is_contained = key == "contained"
            full_url = obj.get("fullUrl") if td.name == "BundleEntry" else None
            if is_list:
                if type(val) is not list:
                    ctx.err((path, key), f"{key} must be a JSON array", "array")
                    return
                if not val:
                    ctx.err((path, key), "empty array is not allowed", "empty", "ele-1")
                    return
                for i, item in enumerate(val):
                    self._walk_resource(item, (path, key, i), ctx, None, ctx.cur, is_contained)
            else:
                if type(val) is list:
                    ctx.err((path, key), f"{key} must not be an array", "array")
                    return
                self._walk_resource(val, (path, key), ctx, full_url if type(full_url) is str else None, ctx.cur, is_contained)

    def _list_item(self, item: Any, sub: TypeDef, tcode: str, edef: Any, p: Path, ctx: _Ctx) -> None:
        """An item of a repeating complex element that is not a dict with content (compiled walks)."""
        if type(item) is not dict:
            ctx.err(p, f"{tcode} must be a JSON object, not {_jt(item)}", "json-type")
        elif len(item) > 1 and tcode != "Reference" and tcode != "Extension":
            self._walk(item, sub, p, ctx)
        else:
            self._complex(item, sub, tcode, edef, p, ctx)

    def _complex(self, item: dict[str, Any], sub: TypeDef | None, tcode: str, edef: Any, p: str, ctx: _Ctx) -> None:
        if not item:
            ctx.err(p, "empty object is not allowed", "empty", "ele-1")
            return
        if sub is None:  # pragma: no cover - unknown datatype in the plan
            return
        if len(item) == 1 and "id" in item:
            ctx.err(p, "element has only an id; it must have a value or children", "empty", "ele-1")
        self._walk(item, sub, p, ctx)
        if tcode == "Reference":
            if "reference" in item:
                ctx.refs.append((p, item, edef.target_set, ctx.cur))  # type: ignore[arg-type]
        elif tcode == "Extension":
            url = item.get("url")
            if type(url) is str and ctx.cur is not None:
                ctx.exts.append((item, p, ctx.cur, edef.name == "modifierExtension"))

    def _prim_ext(self, item: Any, p: str, ctx: _Ctx) -> None:
        if type(item) is not dict:
            ctx.err(p, f"the _ object of a primitive must be a JSON object, not {_jt(item)}", "json-type")
            return
        if not item:
            ctx.err(p, "empty object is not allowed", "empty", "ele-1")
            return
        self._walk(item, self._element_td, p, ctx)

    def _unknown(self, obj: dict[str, Any], key: str, td: TypeDef, path: str, ctx: _Ctx) -> None:
        hint = ""
        if key.startswith("_") and key[1:] in td.keys:
            hint = f" ({key[1:]} is not a primitive)"
        else:
            for ed in td.elements.values():
                if ed.is_choice and key.startswith(ed.name[:-3]) and key[len(ed.name) - 3 : len(ed.name) - 2].isupper():
                    allowed = ", ".join(ed.types.values())
                    hint = f" (type not allowed for {ed.name}; allowed: {allowed})"
                    break
        ctx.err((path, key), f"unknown element {key!r} in {td.fhir_type}{hint}", "unknown-element")

    # -- native invariants -----------------------------------------------------------------

    def _contained_rules(self, res: dict[str, Any], frame: Frame, path: str, ctx: _Ctx) -> None:
        contained = res.get("contained")
        if type(contained) is not list:
            return
        for i, c in enumerate(contained):
            if type(c) is not dict:
                continue
            p = (path, "contained", i)
            if "contained" in c:
                ctx.err(p, "a contained resource must not contain resources", "invariant", "dom-2")
            meta = c.get("meta")
            if type(meta) is dict:
                if "versionId" in meta or "lastUpdated" in meta:
                    ctx.err(p, "a contained resource must not have meta.versionId or meta.lastUpdated", "invariant", "dom-4")
                if "security" in meta:
                    ctx.err(p, "a contained resource must not have security labels", "invariant", "dom-5")
            if self.version == "stu3" and "text" in c:
                ctx.err(p, "a contained resource must not have narrative", "invariant", "dom-1")
            cid = c.get("id")
            if type(cid) is str:
                if frame.contained is _NONE_CONTAINED:
                    frame.contained = {}
                if cid in frame.contained:
                    ctx.err(p, f"duplicate contained id {cid!r}", "invariant")
                f = ctx.by_res.get(id(c))  # the first frame of that object
                if f is not None:
                    frame.contained[cid] = f
            else:
                ctx.err(p, "a contained resource must have an id", "invariant", "dom-3")

    def _bundle_rules(self, res: dict[str, Any], frame: Frame, path: str, ctx: _Ctx) -> None:
        btype = res.get("type")
        entries = res.get("entry")
        if "total" in res and btype not in ("searchset", "history"):
            ctx.err((path, "total"), "total is only allowed in a searchset or history Bundle", "invariant", "bdl-1")
        index: dict[str, Frame] = {}
        typeid: dict[tuple[str, str], Frame] = {}
        frame.index = index
        frame.typeid = typeid
        if type(entries) is not list:
            return
        by_res = {id(f.res): f for f in ctx.frames if f.bundle is frame}
        r4 = self.version == "r4"
        search_bad = btype != "searchset"
        req_ok = btype in ("batch", "transaction", "history")
        resp_ok = btype in ("batch-response", "transaction-response") or (r4 and btype == "history")
        abs_tail = _RE_ABS_TAIL.search
        frame_of = by_res.get
        in_index = index.get
        add_typeid = typeid.setdefault
        i = -1
        for e in entries:
            i += 1
            if type(e) is not dict:
                continue
            if search_bad and "search" in e:
                ctx.err(((path, "entry", i), "search"), "entry.search is only allowed in a searchset Bundle", "invariant", "bdl-2")
            if "request" in e:
                if not req_ok:
                    ctx.err(((path, "entry", i), "request"), "entry.request is only allowed in batch, transaction and history Bundles", "invariant", "bdl-3")
            elif r4 and req_ok:
                ctx.err((path, "entry", i), "entry.request is required in batch, transaction and history Bundles", "invariant", "bdl-3")
            if "response" in e:
                if not resp_ok:
                    ctx.err(((path, "entry", i), "response"), "entry.response is only allowed in batch-response and transaction-response Bundles", "invariant", "bdl-4")
            elif r4 and resp_ok:
                ctx.err((path, "entry", i), "entry.response is required in batch-response, transaction-response and history Bundles", "invariant", "bdl-4")
            r = e.get("resource")
            if r is None and not ("request" in e or "response" in e or "resource" in e):
                ctx.err((path, "entry", i), "an entry must have a resource, a request or a response", "invariant", "bdl-5")
            f = frame_of(id(r)) if type(r) is dict else None
            fu = e.get("fullUrl")
            if type(fu) is str:
                if r4 and "/_history/" in fu:
                    ctx.err(((path, "entry", i), "fullUrl"), "fullUrl must not be a version-specific reference", "invariant", "bdl-8")
                if f is not None:
                    other = in_index(fu)
                    if other is not None:
                        v1 = _version_id(other.res)
                        v2 = _version_id(f.res)
                        if v1 is None or v1 == v2:
                            ctx.err(((path, "entry", i), "fullUrl"), f"fullUrl {fu!r} is not unique in the Bundle (also {_ps(other.path)})", "invariant", "bdl-7")
                    else:
                        index[fu] = f
                    m = abs_tail(fu)
                    rid = f.res.get("id")
                    if m is not None:
                        f.base_url = fu[: m.start() + 1]
                        mtype, mid = m.group(1, 2)
                        if mtype != f.rt:
                            ctx.err(((path, "entry", i), "fullUrl"), f"fullUrl {fu!r} does not match the resource type {f.rt}", "invariant")
                        if type(rid) is str and mid != rid:
                            ctx.err(((path, "entry", i), "fullUrl"), f"fullUrl {fu!r} does not match the resource id {rid!r}", "invariant")
                    if type(rid) is str:
                        add_typeid((f.rt, rid), f)
                    continue
            if f is not None:
                rid = f.res.get("id")
                if type(rid) is str:
                    typeid.setdefault((f.rt, rid), f)

    # ------------------------------------------------------------------------------------------
    # pass 2: references

    def _resolve(self, ref: str, frame: Frame) -> Frame | None:
        if ref[:1] == "#":
            cont = frame.container
            if ref == "#":
                return cont
            return cont.contained.get(ref[1:])
        top = frame.container if frame.is_contained else frame
        bundle = top.bundle
        if bundle is None or bundle.index is None:
            return None
        index = bundle.index
        hit = index.get(ref)
        if hit is not None:
            return hit
        if top.base_url is not None:
            hit = index.get(top.base_url + ref)
            if hit is not None:
                return hit
        m = _RE_RELATIVE.fullmatch(ref)
        if m is not None and bundle.typeid is not None:
            return bundle.typeid.get(m.group(1, 2))
        return None

    def _resolve_refs(self, ctx: _Ctx) -> None:
        resolved = ctx.resolved
        syntax: dict[str, tuple[str, str | None]] = {}  # reference -> (kind, resource type)
        found: dict[tuple[str, Any, Any], tuple[str, str | None, Frame | None]] = {}  # (reference, Bundle frame, base URL) -> (kind, type, target)
        for p, item, targets, frame in ctx.refs:
            ref = item.get("reference")
            if type(ref) is not str:
                continue
            if ref[:1] != "#":
                top = frame.container if frame.is_contained else frame
                key = (ref, top.bundle, top.base_url)
                hit = found.get(key)
                if hit is None:
                    syn = syntax.get(ref)
                    if syn is None:
                        syn = syntax[ref] = self._ref_syntax(ref)
                    hit = found[key] = (syn[0], syn[1], self._resolve(ref, frame) if syn[0] == "ok" else None)
                kind, rtype, target = hit
                if kind == "type":
                    ctx.err((p, "reference"), f"reference {ref!r} names an unknown resource type {rtype!r}", "reference")
                    continue
                if kind == "invalid":
                    ctx.err((p, "reference"), f"{ref!r} is not a valid reference (Type/id, an absolute URL, urn:uuid:, or #id)", "reference")
                    continue
                resolved[id(item)] = target
                if target is None:
                    if ref.startswith("urn:") and frame.container.bundle is not None:
                        ctx.err((p, "reference"), f"reference {ref!r} does not resolve to an entry in the Bundle", "reference")
                    if rtype is not None and targets is not None and rtype not in targets:
                        ctx.err((p, "reference"), f"reference to {rtype} is not allowed here (allowed: {', '.join(sorted(targets))})", "reference")
                    continue
            else:  # #id: a contained resource
                cont = frame.container
                if cont.local_refs is _NO_LOCAL_REFS:
                    cont.local_refs = set()
                cont.local_refs.add(ref[1:])
                target = self._resolve(ref, frame)
                resolved[id(item)] = target
                if target is None:
                    ctx.err((p, "reference"), f"local reference {ref!r} does not match a contained resource", "reference", "ref-1")
                    continue
            if targets is not None and target.rt not in targets:
                ctx.err((p, "reference"), f"reference resolves to a {target.rt}, which is not allowed here (allowed: {', '.join(sorted(targets))})", "reference")
        # dom-3: every contained resource is referenced from elsewhere in its container
        for f in ctx.frames:
            if f.contained:
                for cid, cf in f.contained.items():
                    if cid not in f.local_refs:
                        ctx.err(cf.path, f"contained resource {cid!r} is not referenced from the resource", "invariant", "dom-3")

    def _ref_syntax(self, ref: str) -> tuple[str, str | None]:
        """("ok", type or None) | ("type", unknown type) | ("invalid", None) for a reference that is not #id."""
        m = _RE_RELATIVE.fullmatch(ref)
        if m is not None:
            rtype = m.group(1)
            if rtype not in self.base.resource_types:
                return ("type", rtype)
            return ("ok", rtype)
        if _RE_ABSOLUTE.fullmatch(ref):
            tail = _RE_ABS_TAIL.search(ref)
            if tail is not None and tail.group(1) in self.base.resource_types:
                return ("ok", tail.group(1))
            return ("ok", None)
        return ("invalid", None)

    def _fp_resolve(self, ref: Any, ctx: _Ctx) -> Any:
        if isinstance(ref, dict):
            ref = ref.get("reference")
        if not isinstance(ref, str) or ctx.cur is None:
            return None
        f = self._resolve(ref, ctx.cur)
        return f.res if f is not None else None

    # ------------------------------------------------------------------------------------------
    # pass 3: profiles

    def profile(self, url: str) -> CompiledProfile | None:
        with self._lock:
            return self.compiler.get(url)

    def _apply_profiles(self, ctx: _Ctx, extra: list[str], result: ValidationResult) -> None:
        used: dict[str, dict[str, Any]] = {}
        root = ctx.root
        extra_types: dict[str, str | None] = {u: self.compiler.type_of(u) for u in extra}
        compiled = self.compiler._cache  # url -> compiled profile, once compiled (see ProfileCompiler.get)
        for frame in list(ctx.frames):
            meta = frame.res.get("meta")
            if type(meta) is dict:
                prof = meta.get("profile")
                urls: list[str] = [u for u in prof if type(u) is str] if type(prof) is list else []
            else:
                urls = []
            for u in extra:
                t = extra_types.get(u)
                if frame is root or (t is not None and t == frame.rt and not frame.is_contained):
                    if u not in urls and (frame is root or root is None or root.rt == "Bundle"):
                        if frame is root and t is not None and t != frame.rt and root.rt == "Bundle":
                            continue  # a profile for the entries, not for the Bundle itself
                        urls.append(u)
            for url in urls:
                cp = compiled.get(url, _UNRESOLVED)
                if cp is _UNRESOLVED:
                    cp = self.compiler.get(url)
                if cp is None:
                    ctx.add(WARNING, frame.path, f"profile {url} is not available; checked against base FHIR only", "profile-not-found", None, url)
                    continue
                if cp.type != frame.rt:
                    ctx.add(ERROR, frame.path, f"profile {url} constrains {cp.type}, not {frame.rt}", "profile-not-found", None, url)
                    continue
                if url not in used:
                    used[url] = cp.info()
                    for note in cp.notes:
                        ctx.note(("note", url, note), INFORMATION, frame.path, note, "not-checked", None, url)
                ctx.profile = cp.url
                ctx.cur = frame
                root_pe = cp.root
                check = root_pe.fns.get(frame.rt) or self._plan_miss(root_pe, frame.rt)
                check(frame.res, None, frame.path, ctx)
                ctx.profile = None
        result.profiles_used = list(used.values())

    def _check_extensions(self, ctx: _Ctx) -> None:
        for item, p, frame, modifier in ctx.exts:
            url = item["url"]
            cp = self.compiler.get(url)
            if cp is None:
                if modifier:
                    ctx.add(WARNING, p, f"modifier extension {url} is not known; the resource may not be safe to process", "not-checked", None, None)
                elif ":" in url:  # relative urls belong to a complex extension checked as a whole
                    ctx.note(("ext", url), INFORMATION, p, f"extension {url} is not known; its content was not checked against a definition", "not-checked")
                continue
            if cp.type != "Extension":
                ctx.err(p, f"{url} is a profile of {cp.type}, not an extension definition", "type")
                continue
            ctx.profile = cp.url
            ctx.cur = frame
            self._check_item(item, None, cp.root, "Extension", p, ctx)
            ctx.profile = None

    def _check_item(self, value: Any, ext: Any, pe: PElem, tcode: str, path: Path, ctx: _Ctx) -> None:
        """Check a value against a plan element: through its compiled check when there is one."""
        f = pe.fns.get(tcode)
        if f is None:
            f = self._plan_miss(pe, tcode)
        f(value, ext, path, ctx)

    def _plan_miss(self, pe: PElem, tcode: str) -> Any:
        n = pe.hits.get(tcode, 0) + 1
        if n >= (PLAN_THRESHOLD if self._validations >= WARM_AFTER else COLD_THRESHOLD):
            f = pe.fns[tcode] = _compile_plan(self, pe, tcode)
            return f
        pe.hits[tcode] = n
        generic = self._check_item_generic
        return lambda value, ext, path, ctx: generic(value, ext, pe, tcode, path, ctx)

    def _check_item_generic(self, value: Any, ext: Any, pe: PElem, tcode: str, path: Path, ctx: _Ctx) -> None:
        """The interpreted check of a value against a plan element (see _compile_plan)."""
        if pe.item_checks:
            self._item_rules(value, ext, pe, tcode, path, ctx)
        if pe.children:
            ch = pe.children.get(tcode)
            if ch:
                if tcode in PRIMITIVES:
                    self._check_children(ext if type(ext) is dict else {}, ch, path, ctx)
                elif type(value) is dict:
                    self._check_children(value, ch, path, ctx)
        if pe.variants:
            v = pe.variants.get(tcode)
            if v is not None:
                self._check_item(value, ext, v, tcode, path, ctx)

    def _item_rules(self, value: Any, ext: Any, pe: PElem, tcode: str, path: str, ctx: _Ctx) -> None:
        if pe.fixed is not NOVAL and value is not None:
            if not _equal(value, pe.fixed):
                ctx.err(path, f"value must be exactly {_short(pe.fixed)} (fixed), found {_short(value)}", "fixed", pe.eid)
        if pe.pattern is not NOVAL and value is not None:
            if not _pattern_match(value, pe.pattern):
                ctx.err(path, f"value must match the pattern {_short(pe.pattern)}, found {_short(value)}", "pattern", pe.eid)
        if pe.binding is not None and value is not None:
            self._check_binding(value, tcode, pe, path, ctx)
        if pe.max_length is not None and type(value) is str and len(value) > pe.max_length:
            ctx.err(path, f"value is longer than maxLength {pe.max_length}", "invalid-value", pe.eid)
        if pe.min_value is not None or pe.max_value is not None:
            self._check_range(value, pe, path, ctx)
        if pe.types is not None:
            types = pe.types
            profs = types.get(tcode)
            if profs is None:
                if pe.bdef is not None and len(pe.bdef.types) > 1 and not any(self.base.specializes(t, tcode) for t in types):
                    ctx.err(path, f"type {tcode} is not allowed here (allowed: {', '.join(types)})", "type", pe.eid)
            elif profs:
                self._check_type_profiles(value, ext, profs, pe, tcode, path, ctx)
        if pe.targets is not None and tcode == "Reference" and type(value) is dict:
            self._check_targets(value, pe, path, ctx)
        if pe.constraints:
            for c in pe.constraints:
                self._check_constraint(c, value, ext, tcode, pe, path, ctx)

    def _gather(self, obj: dict[str, Any], pe: PElem, path: str) -> list[tuple[Any, Any, str, str]]:
        out: list[tuple[Any, Any, str, str]] = []
        is_list = pe.is_list
        for tcode, key, prim in pe.gkeys:
            val = obj.get(key)
            if prim:
                ext = obj.get("_" + key)
                if val is None and ext is None:
                    continue
            else:
                if val is None:
                    continue
                ext = None
            if is_list:
                if type(val) is list:
                    vals = val
                elif val is None:
                    vals = ()
                else:
                    continue
                if ext is None:
                    i = 0
                    for v in vals:
                        if v is not None and (prim or type(v) is dict):
                            out.append((v, None, tcode, (path, key, i)))
                        i += 1
                    continue
                exts = ext if type(ext) is list else []
                n = len(vals) if len(vals) >= len(exts) else len(exts)
                for i in range(n):
                    v = vals[i] if i < len(vals) else None
                    e = exts[i] if i < len(exts) else None
                    if v is None and e is None:
                        continue
                    out.append((v, e, tcode, (path, key, i)))
            else:
                if type(val) is list or type(ext) is list:
                    continue
                if not prim and type(val) is not dict:
                    continue
                out.append((val, ext, tcode, (path, key)))
        return out

    def _gather_choice(self, obj: dict[str, Any], pe: PElem, path: Path) -> list[tuple[Any, Any, str, Path]]:
        """_gather for a choice element that does not repeat, looking only at the keys ``obj`` has."""
        index = pe.choice_index
        if index is None:
            index = pe.choice_index = {}
            for i, (tcode, key, prim) in enumerate(pe.gkeys):
                index.setdefault(key, i)
                if prim:
                    index.setdefault("_" + key, i)
        hits = [index[k] for k in obj if k in index]
        if not hits:
            return []
        if len(hits) > 1:
            hits = sorted(set(hits))
        out: list[tuple[Any, Any, str, Path]] = []
        for i in hits:
            tcode, key, prim = pe.gkeys[i]
            val = obj.get(key)
            if prim:
                ext = obj.get("_" + key)
                if val is None and ext is None:
                    continue
            else:
                if val is None:
                    continue
                ext = None
            if type(val) is list or type(ext) is list:
                continue
            if not prim and type(val) is not dict:
                continue
            out.append((val, ext, tcode, (path, key)))
        return out

    def _check_children(self, obj: dict[str, Any], ch: dict[str, PElem], path: str, ctx: _Ctx) -> None:
        for name, cpe in ch.items():
            single = cpe.single
            if single is not None and not cpe.slices:
                # one type, does not repeat: no list to build
                tcode, key, ukey = single
                val = obj.get(key)
                ext = obj.get(ukey) if ukey is not None else None
                if val is None and ext is None:
                    if cpe.card_min:
                        ctx.err((path, key), f"{name}: minimum cardinality is {cpe.card_min}, found 0", "cardinality", cpe.eid)
                    if cpe.variants:
                        self._check_variant_cards([], cpe, path, ctx)
                    continue
                if type(val) is list or type(ext) is list or (ukey is None and type(val) is not dict):
                    continue  # reported by the base layer
                if cpe.card_max == 0:
                    ctx.err((path, key), f"{name}: maximum cardinality is 0, found 1", "cardinality", cpe.eid)
                if cpe.walk_items:
                    self._check_item(val, ext, cpe, tcode, (path, key), ctx)
                continue
            self._check_child_multi(obj, name, cpe, path, ctx)

    def _check_child_multi(self, obj: dict[str, Any], name: str, cpe: PElem, path: Path, ctx: _Ctx) -> None:
        """A child that repeats, has more than one type or is sliced."""
        items = self._gather(obj, cpe, path)
        if not items:
            if cpe.card_min:
                bdef = cpe.bdef
                ctx.err((path, _elem_key(bdef)), f"{name}: minimum cardinality is {cpe.card_min}, found 0", "cardinality", cpe.eid)
            if cpe.variants:
                self._check_variant_cards(items, cpe, path, ctx)
            if cpe.slices_needed:
                self._check_slicing(items, cpe, path, ctx)
            return
        n = len(items)
        if cpe.card_min is not None and n < cpe.card_min:
            ctx.err((path, _elem_key(cpe.bdef)), f"{name}: minimum cardinality is {cpe.card_min}, found {n}", "cardinality", cpe.eid)
        if cpe.card_max is not None and n > cpe.card_max:
            ctx.err((path, _elem_key(cpe.bdef)), f"{name}: maximum cardinality is {cpe.card_max}, found {n}", "cardinality", cpe.eid)
        if cpe.variants:
            self._check_variant_cards(items, cpe, path, ctx)
        if cpe.slices:
            self._check_slicing(items, cpe, path, ctx)
        if cpe.walk_items:
            for v, e, tcode, ipath in items:
                self._check_item(v, e, cpe, tcode, ipath, ctx)

    def _check_variant_cards(self, items: list[tuple[Any, Any, str, str]], cpe: PElem, path: str, ctx: _Ctx) -> None:
        bdef = cpe.bdef
        for vt, v in cpe.variants.items():
            if (v.min is not None and v.min >= 1) or v.max == 0:
                cnt = sum(1 for it in items if it[2] == vt)
                key = bdef.types.get(vt, cpe.name)
                if v.min is not None and cnt < v.min:
                    ctx.err((path, key), f"{key}: minimum cardinality is {v.min}, found {cnt}", "cardinality", v.eid)
                if v.max == 0 and cnt:
                    ctx.err((path, key), f"{key} is not allowed (max 0)", "cardinality", v.eid)

    # -- slicing ---------------------------------------------------------------------------

    def _check_slicing(self, items: list[tuple[Any, Any, str, str]], pe: PElem, path: str, ctx: _Ctx) -> None:
        sl = pe.slicing
        slices = pe.slices
        n = len(items)
        assigned: list[str | None] = [None] * n
        uncertain = [False] * n
        fast = pe.fast_slices
        for idx in range(n):
            it = items[idx]
            if fast is not None:
                v = it[0]
                if type(v) is dict:
                    kind, segs, index = fast
                    if kind == "fixed":
                        if len(segs) == 1:
                            x = v.get(segs[0])
                            if type(x) is not dict and type(x) is not list:
                                assigned[idx] = index.get((x,))
                                continue
                        else:
                            key = tuple(v.get(sg) for sg in segs)
                            if not any(type(x) is dict or type(x) is list for x in key):
                                assigned[idx] = index.get(key)
                                continue
                    else:  # "coding": the first coding that names a slice wins
                        cc = v.get(segs[0]) if segs else v
                        if type(cc) is dict:
                            codings = cc.get("coding")
                            if type(codings) is list:
                                hit = None
                                for c in codings:
                                    if type(c) is dict:
                                        sc = _sc(c)
                                        hit = index.get(sc) if sc is not None else None
                                        if hit is not None:
                                            break
                                assigned[idx] = hit
                                continue
                        elif cc is None:
                            continue
            hybrid = pe.hybrid
            if hybrid is NOVAL:
                hybrid = pe.hybrid = _hybrid_slices(pe) if fast is None else None
            if hybrid is not None:
                # slices told apart by one coding (looked up) and others (tested in slice order)
                pat_index, names, others = hybrid
                best = _NO_SLICE
                v = it[0]
                if type(v) is dict and "coding" in v:
                    cs = v["coding"]
                    for x in cs if type(cs) is list else (cs,):
                        if type(x) is dict:
                            xs, xc = x.get("system"), x.get("code")
                            if type(xs) is str and type(xc) is str:
                                o = pat_index.get((xs, xc))
                                if o is not None and o < best:
                                    best = o
                hit = None
                for order, sname, spe in others:
                    if order > best:
                        break
                    m = self._match(it, spe, ctx)
                    if m is True:
                        hit = sname
                        break
                    if m is None:
                        uncertain[idx] = True
                if hit is None and best != _NO_SLICE:
                    hit = names[best]
                assigned[idx] = hit
                continue
            for sname, spe in slices.items():
                m = self._match(it, spe, ctx)
                if m is True:
                    assigned[idx] = sname
                    break
                if m is None:
                    uncertain[idx] = True
        counts: dict[str | None, int] = {}
        for a in assigned:
            counts[a] = counts.get(a, 0) + 1
        open_uncertain = any(uncertain[i] and assigned[i] is None for i in range(n))
        for sname, spe in slices.items():
            c = counts.get(sname, 0)
            if spe.min is not None and c < spe.min:
                where = (path, _elem_key(pe.bdef)) if pe.bdef is not None else path
                if open_uncertain:
                    ctx.add(INFORMATION, where, f"slice {sname!r}: could not determine whether the minimum of {spe.min} is met (discriminator not resolvable)", "not-checked", spe.eid)
                else:
                    ctx.err(where, f"slice {sname!r} requires at least {spe.min}, found {c}", "slice", spe.eid)
            if spe.max is not None and spe.max >= 0 and c > spe.max:
                where = (path, _elem_key(pe.bdef)) if pe.bdef is not None else path
                ctx.err(where, f"slice {sname!r} allows at most {spe.max}, found {c}", "slice", spe.eid)
        if sl is not None:
            self._slicing_rules(items, assigned, uncertain, pe, ctx)
        for (v, e, tcode, ipath), a in zip(items, assigned):
            if a is not None:
                spe = slices[a]
                if spe.item_checks or spe.children or spe.variants:
                    self._check_item(v, e, spe, tcode, ipath, ctx)

    def _slicing_rules(self, items: list[Any], assigned: list[str | None], uncertain: list[bool], pe: PElem, ctx: _Ctx) -> None:
        """closed, openAtEnd and ordered slicing (assigned: the slice of each item; uncertain: unknown)."""
        sl = pe.slicing
        assert sl is not None
        slices = pe.slices
        if sl.rules == "closed":
            for (v, e, t, ipath), a, u in zip(items, assigned, uncertain):
                if a is None and not u:
                    ctx.err(ipath, f"does not match any slice of {pe.eid} and the slicing is closed", "slice", pe.eid)
        elif sl.rules == "openAtEnd":
            seen_unmatched = False
            for (v, e, t, ipath), a in zip(items, assigned):
                if a is None:
                    seen_unmatched = True
                elif seen_unmatched:
                    ctx.err(ipath, f"slice {a!r} must come before unmatched items (openAtEnd)", "slice", pe.eid)
        if sl.ordered:
            order = {n: i for i, n in enumerate(slices)}
            last = -1
            for (v, e, t, ipath), a in zip(items, assigned):
                if a is None:
                    continue
                if order[a] < last:
                    ctx.err(ipath, f"slice {a!r} is out of order (the slicing is ordered)", "slice", pe.eid)
                last = max(last, order[a])

    def _match(self, it: tuple[Any, Any, str, str], spe: PElem, ctx: _Ctx) -> bool | None:
        """Whether an item is in a slice: True, False, or None (a discriminator could not be resolved)."""
        m = spe.matcher
        if m is None:
            m = spe.matcher = self._slice_matcher(spe)
        return m(it[0], it[1], it[2], ctx)

    def _slice_matcher(self, spe: PElem) -> Any:
        """``m(value, ext, tcode, ctx)`` for _match: the slice's discriminator tests, each decided once."""
        tests = spe.disc
        if tests is None:
            conforms = self._conforms_elem

            def by_conformance(v: Any, e: Any, tcode: str, ctx: _Ctx) -> bool | None:
                return conforms(v, e, tcode, spe, ctx)

            return by_conformance
        steps = [self._disc_test(kind, segs, expected) for kind, segs, expected in tests]

        def match(v: Any, e: Any, tcode: str, ctx: _Ctx) -> bool | None:
            for step in steps:
                r = step(v, e, tcode, ctx)
                if r is not True:
                    return r
            return True

        return match

    def _disc_test(self, kind: str, segs: list[str], expected: Any) -> Any:
        """One discriminator test of _slice_matcher: True, False or None (undecided)."""
        if kind == "type" and not segs:
            specializes = self.base.specializes

            def type_test(v: Any, e: Any, tcode: str, ctx: _Ctx) -> bool | None:
                return tcode in expected or any(specializes(tcode, x) for x in expected)

            return type_test
        navigate = self._navigate
        if kind == "fixed" and all(type(x) is str for x in expected):
            values = frozenset(expected)  # _equal(x, a str) is x == that str, for strings only
            test: Any = lambda vals, e, tcode, ctx: any(type(x) is str and x in values for x in vals)  # noqa: E731
        elif kind == "fixed":
            test = lambda vals, e, tcode, ctx: any(_equal(x, ex) for x in vals for ex in expected)  # noqa: E731
        elif kind == "pattern":
            fns = [_pattern_fn(ex) for ex in expected]
            test = lambda vals, e, tcode, ctx: any(f(x) for x in vals for f in fns)  # noqa: E731
        elif kind == "binding":
            in_value_set = self._in_value_set

            def test(vals: list[Any], e: Any, tcode: str, ctx: _Ctx) -> bool | None:
                undecided = False
                for x in vals:
                    r = in_value_set(x, expected)
                    if r == VALID:
                        return True
                    if r == UNKNOWN:
                        undecided = True
                return None if undecided else False
        elif kind == "exists":
            test = lambda vals, e, tcode, ctx: bool(vals) == expected  # noqa: E731
        elif kind == "type":
            test = lambda vals, e, tcode, ctx: any(type(x) is dict and x.get("resourceType") in expected for x in vals)  # noqa: E731
        elif kind == "profile":
            def test(vals: list[Any], e: Any, tcode: str, ctx: _Ctx) -> bool | None:
                for x in vals:
                    for url in expected:
                        if type(x) is dict and "resourceType" in x:
                            r = self._conforms_resource(x, url, ctx)
                        else:
                            r = self._conforms_profile(x, e, tcode, url, ctx)
                        if r:
                            return True
                return False
        else:  # pragma: no cover
            return lambda v, e, tcode, ctx: False
        if not segs:
            def direct(v: Any, e: Any, tcode: str, ctx: _Ctx) -> bool | None:
                return test([v] if v is not None else [], e, tcode, ctx)

            return direct

        def navigated(v: Any, e: Any, tcode: str, ctx: _Ctx) -> bool | None:
            try:
                vals = navigate(v, e, segs, ctx)
            except _Unknown:
                return None
            return test(vals, e, tcode, ctx)

        return navigated

    def _navigate(self, v: Any, e: Any, segs: list[str], ctx: _Ctx) -> list[Any]:
        if not segs:
            return [v] if v is not None else []
        vals: list[Any] = [v] if v is not None else []
        if segs and segs[0].startswith("extension") and e is not None and type(v) is not dict:
            vals = [e]
        for seg in segs:
            nxt: list[Any] = []
            if seg == "resolve()":
                for x in vals:
                    ref = x.get("reference") if type(x) is dict else x
                    if type(ref) is not str or ctx.cur is None:
                        raise _Unknown()
                    f = self._resolve(ref, ctx.cur)
                    if f is None:
                        raise _Unknown()
                    nxt.append(f.res)
            elif seg.startswith("extension("):
                url = seg[len("extension("):-1].strip()
                if url.startswith("url"):
                    url = url.split("=", 1)[-1].strip()
                url = url.strip("'\"")
                for x in vals:
                    if type(x) is dict:
                        exts = x.get("extension")
                        for ex in exts if type(exts) is list else ():
                            if type(ex) is dict and ex.get("url") == url:
                                nxt.append(ex)
            elif seg.startswith("ofType("):
                nxt = vals
            else:
                for x in vals:
                    if type(x) is not dict:
                        continue
                    y = x.get(seg)
                    if y is None:
                        for k, val in x.items():
                            if k.startswith(seg) and len(k) > len(seg) and k[len(seg)].isupper():
                                y = val
                                break
                    if y is None:
                        continue
                    if type(y) is list:
                        nxt.extend(z for z in y if z is not None)
                    else:
                        nxt.append(y)
            vals = nxt
        return vals

    def _silent(self, ctx: _Ctx, fn: Any) -> bool:
        """Run a check without reporting; True when it found no errors."""
        if ctx.depth > 12:
            return False
        saved = ctx.issues
        saved_profile = ctx.profile
        ctx.issues = []
        ctx.silent += 1
        ctx.depth += 1
        try:
            fn()
            return not any(i.severity == ERROR for i in ctx.issues)
        finally:
            ctx.issues = saved
            ctx.silent -= 1
            ctx.depth -= 1
            ctx.profile = saved_profile

    def _conforms_elem(self, v: Any, e: Any, tcode: str, spe: PElem, ctx: _Ctx) -> bool:
        # the slice's own rules without its (unknowable) cardinality
        return self._silent(ctx, lambda: self._check_item(v, e, spe, tcode, "$", ctx))

    def _conforms_profile(self, v: Any, e: Any, tcode: str, url: str, ctx: _Ctx) -> bool:
        if tcode == "Extension" and type(v) is dict:
            if v.get("url") == url:
                return True
        cp = self.compiler.get(url)
        if cp is None:
            return False
        key = (id(v), url)
        hit = ctx.conf_cache.get(key)
        if hit is not None:
            return hit

        def run() -> None:
            ctx.profile = url
            self._check_item(v, e, cp.root, tcode, "$", ctx)

        r = self._silent(ctx, run)
        ctx.conf_cache[key] = r
        return r

    def _conforms_resource(self, res: dict[str, Any], url: str, ctx: _Ctx) -> bool:
        meta = res.get("meta")
        if type(meta) is dict and type(meta.get("profile")) is list and url in meta["profile"]:
            return True  # it claims the profile and is validated against it on its own
        if url.startswith(CORE_SD):
            return res.get("resourceType") == url[len(CORE_SD):]
        cp = self.compiler.get(url)
        if cp is None:
            return False
        if cp.type != res.get("resourceType"):
            return False
        key = (id(res), url)
        hit = ctx.conf_cache.get(key)
        if hit is not None:
            return hit
        frame = ctx.by_res.get(id(res))  # the first frame of that object

        def run() -> None:
            prev = ctx.cur
            if frame is not None:
                ctx.cur = frame
            ctx.profile = url
            try:
                self._check_item(res, None, cp.root, cp.type, "$", ctx)
            finally:
                ctx.cur = prev

        r = self._silent(ctx, run)
        ctx.conf_cache[key] = r
        return r

    def _fp_conforms(self, item: Any, url: str, ctx: _Ctx) -> bool:
        if type(item) is dict and "resourceType" in item:
            return self._conforms_resource(item, url, ctx)
        return False

    # -- element rules ---------------------------------------------------------------------

    def _check_type_profiles(self, value: Any, ext: Any, profs: list[str], pe: PElem, tcode: str, path: str, ctx: _Ctx) -> None:
        if tcode == "Extension":
            # extensions are checked against their own definition by url (see _check_extensions);
            # here only the url must be one of the allowed extension profiles
            if type(value) is dict and pe.slice_name is None and len(profs) and value.get("url") not in profs and not pe.inlined:
                ctx.err(path, f"extension url {value.get('url')!r} is not one of {', '.join(profs)}", "type", pe.eid)
            return
        if tcode == "Reference" or (type(value) is not dict and tcode not in PRIMITIVES):
            return
        todo = [u for u in profs if u not in pe.inlined]
        if not todo:
            return
        compiled = []
        for u in todo:
            cp = self.compiler.get(u)
            if cp is None:
                ctx.note(("prof", u), INFORMATION, path, f"profile {u} is not available; {pe.eid} was not checked against it", "not-checked", pe.eid)
            else:
                compiled.append(cp)
        if not compiled:
            return
        if len(compiled) == 1:
            cp = compiled[0]
            saved = ctx.profile
            ctx.profile = cp.url
            try:
                self._check_item(value, ext, cp.root, tcode, path, ctx)
            finally:
                ctx.profile = saved
            return
        for cp in compiled:
            if self._conforms_profile(value, ext, tcode, cp.url, ctx):
                return
        ctx.err(path, f"does not conform to any of the profiles {', '.join(c.url for c in compiled)}", "type", pe.eid)

    def _check_targets(self, value: dict[str, Any], pe: PElem, path: str, ctx: _Ctx) -> None:
        ref = value.get("reference")
        if type(ref) is not str or ctx.cur is None:
            return
        targets = pe.targets or []
        types = pe.target_types
        if types is None:
            types = pe.target_types = {t: self.compiler.type_of(t) for t in targets}
        allowed_types = _allowed_types(types)
        if not allowed_types or allowed_types & _ANY_TARGET:
            return
        self._check_target(value, ref, pe, allowed_types, path, ctx)

    def _check_target(self, value: dict[str, Any], ref: str, pe: PElem, allowed_types: frozenset[str], path: Path, ctx: _Ctx) -> None:
        """_check_targets once the allowed types are known (compiled checks call it directly)."""
        f = ctx.resolved.get(id(value), _UNRESOLVED)
        if f is _UNRESOLVED:
            f = self._resolve(ref, ctx.cur)  # type: ignore[arg-type]
        if f is not None and (f, pe) in ctx.targets_ok:
            return  # this target was already found to conform here
        targets = pe.targets or []
        types = pe.target_types or {}
        rtype = f.rt if f is not None else None
        if rtype is None:
            m = _RE_RELATIVE.fullmatch(ref) or _RE_ABS_TAIL.search(ref)
            rtype = m.group(1) if m is not None else None
        if rtype is None:
            return
        if rtype not in allowed_types:
            ctx.err((path, "reference"), f"reference to a {rtype} is not allowed here (target profiles: {', '.join(targets)})", "reference", pe.eid)
            return
        if f is None:
            return
        info = pe.target_info.get(rtype)
        if info is None:
            cands = [t for t, ty in types.items() if ty == rtype]
            info = pe.target_info[rtype] = (cands, any(t.startswith(CORE_SD) for t in cands))
        candidates, core_ok = info
        if core_ok:
            ctx.targets_ok.add((f, pe))
            return
        res = f.res
        meta = res.get("meta")
        claimed = meta.get("profile") if type(meta) is dict else None
        for t in candidates:
            if self.compiler.get(t) is None:
                return  # cannot check an unavailable target profile
            if (type(claimed) is list and t in claimed) or self._conforms_resource(res, t, ctx):
                # (claimed: _conforms_resource's first test; it is validated against it on its own)
                ctx.targets_ok.add((f, pe))
                return
        ctx.err((path, "reference"), f"the referenced {rtype} ({_ps(f.path)}) does not conform to {' or '.join(candidates)}", "reference", pe.eid)

    def _in_value_set(self, value: Any, vs: str) -> str:
        idx = self.terminology.value_set(vs)
        if idx.missing:
            return UNKNOWN
        if type(value) is str:
            return idx.check(None, value)
        if type(value) is dict:
            if "coding" in value:
                rs = [idx.check(c.get("system"), c.get("code")) for c in _codings(value) if type(c) is dict]
                if VALID in rs:
                    return VALID
                return UNKNOWN if UNKNOWN in rs else INVALID
            if "code" in value:
                return idx.check(value.get("system"), value.get("code"))
        return INVALID

    def _fp_member_of(self, value: Any, vs: str) -> bool | None:
        r = self._in_value_set(value, vs)
        return None if r == UNKNOWN else r == VALID

    def _check_binding(self, value: Any, tcode: str, pe: PElem, path: str, ctx: _Ctx) -> None:
        strength, vs = pe.binding  # type: ignore[misc]
        if tcode in ("code", "string", "uri"):
            codings = [(None, value)] if type(value) is str else []
        elif tcode == "Coding":
            codings = [(value.get("system"), value.get("code"))] if type(value) is dict else []
            if not codings[0][1]:
                return
        elif tcode == "CodeableConcept":
            if type(value) is not dict:
                return
            codings = [(c.get("system"), c.get("code")) for c in _codings(value) if type(c) is dict and "code" in c]
            if not codings:
                if strength == "required" and "coding" not in value:
                    ctx.err(path, f"no code given, and a code from value set {vs} is required", "binding", pe.eid)
                return
        elif tcode in ("Quantity", "Age", "Duration", "Distance", "Count", "Money", "SimpleQuantity"):
            if type(value) is not dict or "code" not in value:
                return
            codings = [(value.get("system"), value.get("code"))]
        else:
            return
        idx = self.terminology.value_set(vs)
        if idx.missing:
            if pe.bdef is not None and pe.bdef.enum is not None and tcode == "code" and _is_core_vs(vs):
                return  # the base layer already checked the code against the core value set
            ctx.note(("vs", vs), INFORMATION, path, f"{idx.missing}; codes bound to it were not checked", "not-checked", pe.eid, ctx.profile)
            return
        results = [idx.check(s, c) for s, c in codings]
        if VALID in results:
            return
        if UNKNOWN in results:
            systems = sorted({s or "(no system)" for (s, c), r in zip(codings, results) if r == UNKNOWN})
            ctx.note(("vsu", vs, tuple(systems)), INFORMATION, path,
                     f"codes from {', '.join(systems)} in value set {vs} cannot be checked offline (not checked)",
                     "not-checked", pe.eid, ctx.profile)
            return
        shown = ", ".join(f"{s}|{c}" if s else str(c) for s, c in codings)
        sev = ERROR if strength == "required" else WARNING
        ctx.add(sev, path, f"{shown} is not in the {strength} value set {idx.display} ({vs})", "code-invalid", pe.eid)

    def _check_range(self, value: Any, pe: PElem, path: str, ctx: _Ctx) -> None:
        v = value.get("value") if type(value) is dict else value
        if v is None or type(v) is bool:
            return
        lo = pe.min_value.get("value") if type(pe.min_value) is dict else pe.min_value
        hi = pe.max_value.get("value") if type(pe.max_value) is dict else pe.max_value
        try:
            if lo is not None and v < lo:
                ctx.err(path, f"value {v} is below the minimum {lo}", "invalid-value", pe.eid)
            if hi is not None and v > hi:
                ctx.err(path, f"value {v} is above the maximum {hi}", "invalid-value", pe.eid)
        except TypeError:
            pass

    def _check_constraint(self, c: Any, value: Any, ext: Any, tcode: str, pe: PElem, path: str, ctx: _Ctx) -> None:
        ce = fhirpath.compile_expression(c.expression, self.version)
        if ce.fn is not None:
            key = (pe.eid, tcode)
            fast = self._fast_constraints.get((c.expression, key))
            if fast is None:
                tp = _type_path(pe, tcode, self.base)
                fast = self._fast_constraints[(c.expression, key)] = fhirpath.compile_fast(c.expression, self.version, tp) or False
            if fast is not False:
                try:
                    res = fast(value)
                except fhirpath.Fallback:
                    pass  # evaluated by fhirpathpy below
                else:
                    for r in res:
                        if r is False:
                            sev = ERROR if c.severity == "error" else WARNING
                            ctx.add(sev, path, f"{c.key}: {c.human}", "invariant", c.key)
                            break
                    return
        if tcode in PRIMITIVES:
            from fhirpathpy.engine.nodes import ResourceNode

            item: Any = ResourceNode.create_node(value, _type_path(pe, tcode, self.base), _data=ext)
            type_path = None
        else:
            item = value
            type_path = _type_path(pe, tcode, self.base)
        frame = ctx.cur
        resource = frame.res if frame is not None else value
        root = ctx.root.res if ctx.root is not None else resource
        ok, problem = fhirpath.evaluate(ce, item, type_path, resource, root)
        if ok is False:
            sev = ERROR if c.severity == "error" else WARNING
            ctx.add(sev, path, f"{c.key}: {c.human}", "invariant", c.key)
        elif ok is None:
            ctx.note(("fp", c.key, c.expression), INFORMATION, path, f"constraint {c.key} could not be evaluated ({problem}); not checked", "not-checked", c.key, ctx.profile)


# ---------------------------------------------------------------------------------------------
# pass 1, compiled: one Python function per object shape
#
# Most objects of a type have the same keys in the same order (every Coding of a Bundle is
# {system, code, display}). Everything pass 1 decides from the keys alone — unknown elements,
# choice exclusivity, required elements, list versus single and which check each value needs —
# is decided once per (type, shape) and turned into straight-line Python: the values are unpacked
# in order and each one gets the inline test of its type. A value that fails its inline test goes
# through Validator._walk_key, the same code the interpreted walk (_walk_generic) uses, so the
# issues, their order and their locations are identical; only valid values take the short way.
# A shape is compiled the SHAPE_THRESHOLD-th time it is met, at most SHAPE_CAP shapes per type
# and validator. Compiling costs ~10 µs per generated line (a resource shape: 1-2 ms), which a
# single validation seldom earns back: during a validator's first WARM_AFTER validations only
# shapes met COLD_THRESHOLD times are compiled (so a one-off validation of a 500-entry Bundle
# compiles only the small datatype shapes it meets hundreds of times), after that SHAPE_THRESHOLD.

SHAPE_THRESHOLD = 8
COLD_THRESHOLD = 48
WARM_AFTER = 2
SHAPE_CAP = 512
_SEEN_CAP = 4096
_INT_RANGES = {
    "integer": (INT_MIN, INT_MAX),
    "integer64": (INT_MIN, INT_MAX),
    "positiveInt": (1, INT_MAX),
    "unsignedInt": (0, INT_MAX),
}


class _ShapeTable:
    """The compiled walks of one type for one validator, by shape (the tuple of an object's keys)."""

    __slots__ = ("fns", "seen", "miss", "generic")

    def __init__(self, v: Validator, td: TypeDef):
        fns: dict[tuple[str, ...], Any] = {}
        seen: dict[tuple[str, ...], int] = {}
        walk_generic = v._walk_generic

        def generic(obj: dict[str, Any], path: Path, ctx: _Ctx) -> None:
            walk_generic(obj, td, path, ctx)

        def miss(obj: dict[str, Any]) -> Any:
            key = tuple(obj)
            n = seen.get(key, 0) + 1
            if n >= (SHAPE_THRESHOLD if v._validations >= WARM_AFTER else COLD_THRESHOLD) and len(fns) < SHAPE_CAP:
                seen.pop(key, None)
                fn = fns[key] = _compile_shape(v, td, key, obj)
                return fn
            if len(seen) >= _SEEN_CAP:
                seen.clear()
            seen[key] = n
            return generic

        self.fns = fns
        self.seen = seen
        self.miss = miss
        self.generic = generic


_CODE: dict[str, Any] = {}
_CODE_LOCK = threading.Lock()


def _code(src: str, filename: str) -> Any:
    """The code object of generated source. The constants a generated function uses are names
    bound in its own namespace, so equal source (the same shape in another validator, slices of
    the same structure) is compiled once."""
    code = _CODE.get(src)
    if code is None:
        code = compile(src, filename, "exec")
        with _CODE_LOCK:
            if len(_CODE) >= 4096:
                _CODE.clear()
            _CODE[src] = code
    return code


def _native_for_shape(name: str, keys: tuple[str, ...]) -> tuple[list[tuple[str, str, str]], Any]:
    """The native invariants of an object of type ``name`` with ``keys``: the errors that follow
    from the keys alone (message, code, source), and the check that needs the values, if any.
    Same rules, messages and order as the functions in _NATIVE."""
    ks = set(keys)
    if name == "Extension":
        has_ext = "extension" in ks
        has_value = any(k.startswith("value") or k.startswith("_value") for k in keys)
        if has_ext == has_value:
            return [("an extension must have either extensions or a value[x], not both" if has_ext else
                     "an extension must have either extensions or a value[x]", "invariant", "ext-1")], None
        return [], None
    if _NATIVE.get(name) is _quantity:
        if "code" in ks and "system" not in ks:
            return [("if a unit code is present, the system must be present too", "invariant", "qty-3")], None
        return [], None
    if name == "ContactPoint":
        if "value" in ks and "system" not in ks:
            return [("a contact point with a value must have a system", "invariant", "cpt-2")], None
        return [], None
    if name == "Attachment":
        if "data" in ks and "contentType" not in ks:
            return [("an attachment with data must have a contentType", "invariant", "att-1")], None
        return [], None
    if name == "Ratio":
        if ("numerator" in ks) != ("denominator" in ks):
            return [("numerator and denominator must both be present or both absent", "invariant", "rat-1")], None
        return [], None
    if name == "PatientContact":
        if not ("name" in ks or "telecom" in ks or "address" in ks or "organization" in ks):
            return [("a contact must have a name, telecom, address or organization", "invariant", "pat-1")], None
        return [], None
    if name in ("Observation", "ObservationComponent"):
        has_value = any(k.startswith("value") and len(k) > 5 and k[5].isupper() for k in keys)
        errors = []
        if has_value and "dataAbsentReason" in ks:
            errors.append(("dataAbsentReason must only be present when there is no value", "invariant", "obs-6"))
        if name == "Observation" and has_value and "component" in ks and "code" in ks:
            return errors, _observation_components
        return errors, None
    return [], _NATIVE.get(name)


def _string_test(test: Any) -> tuple[set[str], Any]:
    """(known, check) for a test of string values: ``known`` holds strings that passed (most values
    of a Bundle repeat: systems, codes, units, display texts, dates), ``check(s)`` runs the test
    and remembers a short string that passes. ``s in known or check(s)`` equals ``test(s)``."""
    known: set[str] = set()

    def check(s: str) -> bool:
        if not test(s):
            return False
        if len(s) <= 200:
            if len(known) >= 20000:
                known.clear()
            known.add(s)
        return True

    return known, check


def _uri_ok(s: str) -> bool:
    # printable and no " ": no whitespace at all (every other whitespace character is not
    # printable; tests/fhir/test_compiled.py checks that for all of Unicode)
    return s.isprintable() and " " not in s and s != ""


def _code_ok(s: str) -> bool:
    # printable (so the only whitespace is " "), no leading, trailing or double spaces
    return s != "" and s.isprintable() and s[0] != " " and s[-1] != " " and "  " not in s


def _string_ok(s: str) -> bool:
    return s.isprintable() and 0 < len(s) < 1048576


_STRING_TESTS: dict[Any, tuple[set[str], Any]] = {}  # test (function or regex) -> (known, check)


def _cached_test(key: Any, test: Any) -> tuple[set[str], Any]:
    hit = _STRING_TESTS.get(key)
    if hit is None:
        hit = _STRING_TESTS[key] = _string_test(test)
    return hit


def _quick_expr(var: str, ent: list[Any], w: "_ShapeWriter", single: bool) -> str:
    """A Python expression that is true only for a valid value ``var`` of the primitive of ``ent``.

    For a single primitive it accepts exactly what the interpreted walk accepts without a closer
    look (``single``: like _walk_generic, no enum test after the string, boolean and decimal tests);
    for an item of a repeating primitive, a subset of what its checker accepts. Strings are tested
    through _string_test (ids, unique by nature, by their regex only).
    """
    qkind, enum, tcode = ent[6], ent[5], ent[1]
    en = ""
    if enum is not None:
        en = f" and {var} in {w.const('EN', enum)}"

    def cached(test: Any) -> str:
        known, check = _cached_test(test, test)
        return f"type({var}) is str and ({var} in {w.const('OK', known)} or {w.const('CK', check)}({var}))"

    if qkind == Q_STR:
        e = cached(_string_ok)
        return e if single else e + en
    if qkind == Q_RE:
        if tcode in ("uri", "url", "canonical"):
            return cached(_uri_ok) + en
        if tcode == "code":
            return cached(_code_ok) + en
        if tcode == "id":
            return f"type({var}) is str and {w.const('Q', ent[7])}({var}) is not None" + en
        rx = ent[7]
        known, check = _cached_test(rx, lambda s, rx=rx: rx(s) is not None)
        return f"type({var}) is str and ({var} in {w.const('OK', known)} or {w.const('CK', check)}({var}))" + en
    if qkind == Q_BOOL:
        e = f"({var} is True or {var} is False)"
        return e if single else e + en
    if qkind == Q_DEC:
        e = f"(type({var}) is int or (type({var}) is float and {var} - {var} == 0))"
        return e if single else e + en
    rng = _INT_RANGES.get(tcode)
    if rng is not None:
        return f"type({var}) is int and {w.const('LO', rng[0])} <= {var} <= {w.const('HI', rng[1])}" + en
    return f"{w.const('C', ent[3])}({var}) is None" + en


_INLINE_SHAPE_DEPTH = 2  # levels of child objects written into one walk (when their shape was seen)
_INLINE_SHAPE_LINES = 600


class _ShapeWriter:
    """Writes the walk of one object shape (see above).

    Child objects are written out inline, guarded by the shape the child had in the object the
    walk is compiled from (``sample``): a child with another shape goes to its own compiled walk.
    """

    def __init__(self, v: Validator):
        self.v = v
        self.ns: dict[str, Any] = {"V": v, "KEY": v._walk_key, "UNK": v._unknown, "ITEM": v._list_item}
        self.code: list[str] = []
        self.n = 0

    def const(self, prefix: str, value: Any) -> str:
        self.n += 1
        name = f"{prefix}_{self.n}"
        self.ns[name] = value
        return name

    def emit(self, line: str, ind: str) -> None:
        self.code.append("    " + ind + line)

    def obj(self, td: TypeDef, keys: tuple[str, ...], o: str, px: str, ind: str, depth: int, sample: Any) -> None:
        """The walk of object ``o`` (a Python name; its keys are ``keys``) at location ``px``."""
        v, emit, const = self.v, self.emit, self.const
        fast = td.fast
        keyset = set(keys)
        tdn = const("TD", td)
        self.n += 1
        u = self.n
        names = [f"v{u}_{j}" for j in range(len(keys))]
        if names:
            emit(f"{', '.join(names)}, = {o}.values()", ind)
        seen_choice: dict[Any, str] = {}
        for j, key in enumerate(keys):
            val = names[j]
            k = const("K", key)
            ent = fast.get(key)
            if ent is None:
                if key == "resourceType" and td.kind == "resource":
                    continue
                emit(f"UNK({o}, {k}, {tdn}, {px}, ctx)", ind)
                continue
            e = const("E", ent)
            edef = ent[0]
            if ent[10] and not (ent[2] == K_PEXT and key[1:] in keyset):
                if edef in seen_choice:
                    cn = const("CN", edef.name)
                    cm = const("CM", f"only one type is allowed for {edef.name}, found "
                                     f"{seen_choice[edef].lstrip('_')}, {key.lstrip('_')}")
                    emit(f"ctx.err(({px}, {cn}), {cm}, 'choice')", ind)
                else:
                    seen_choice[edef] = key
            slow = f"KEY({o}, {tdn}, {k}, {val}, {e}, {px}, ctx)"
            mode, tcode = ent[9], ent[1]
            sval = sample.get(key) if type(sample) is dict else None
            if mode == 0:  # a single primitive
                emit(f"if not ({_quick_expr(val, ent, self, True)}):", ind)
                emit(f"    {slow}", ind)
            elif mode == 1:  # a repeating primitive
                if "_" + key in keyset:
                    emit(slow, ind)
                    continue
                x = f"x{u}"
                emit(f"if type({val}) is list and {val}:", ind)
                emit(f"    for {x} in {val}:", ind)
                emit(f"        if not ({_quick_expr(x, ent, self, False)}):", ind)
                emit(f"            {slow}", ind)
                emit("            break", ind)
                emit("else:", ind)
                emit(f"    {slow}", ind)
            elif mode in (2, 3, 12, 13):  # datatypes and backbone elements (+10: Reference, Extension)
                sub = ent[8]
                if sub is None:
                    sub = ent[8] = v.base.get(tcode)
                if sub is None:  # pragma: no cover - unknown datatype
                    emit(slow, ind)
                    continue
                t = v._table(sub)
                s, m = const("S", t.fns), const("M", t.miss)
                book: list[str] = []  # what _complex records for references and extensions
                if tcode == "Reference":
                    ts = const("TS", edef.target_set)
                    book = ["if 'reference' in {o}:", f"    ctx.refs.append(({{p}}, {{o}}, {ts}, ctx.cur))"]
                elif tcode == "Extension":
                    mod = const("MOD", edef.name == "modifierExtension")
                    book = [f"eu{u} = {{o}}.get('url')", f"if type(eu{u}) is str and ctx.cur is not None:",
                            f"    ctx.exts.append(({{o}}, {{p}}, ctx.cur, {mod}))"]
                if mode in (2, 12):
                    self.child(sub, s, m, val, f"({px}, {k})", book, ind, depth, sval, slow)
                else:
                    it, i = f"it{u}", f"i{u}"
                    sit = None
                    if type(sval) is list:
                        sit = next((y for y in sval if type(y) is dict and (len(y) > 1 or (y and "id" not in y))), None)
                    subn, tc, ed = const("SUB", sub), const("T", tcode), const("ED", edef)
                    emit(f"if type({val}) is list and {val}:", ind)
                    emit(f"    {i} = 0", ind)
                    emit(f"    for {it} in {val}:", ind)
                    self.child(sub, s, m, it, f"({px}, {k}, {i})", book, ind + "        ", depth, sit,
                               f"ITEM({it}, {subn}, {tc}, {ed}, ({px}, {k}, {i}), ctx)")
                    emit(f"        {i} += 1", ind)
                    emit("else:", ind)
                    emit(f"    {slow}", ind)
            elif ent[2] == K_PEXT and not ent[4]:  # "_x" of a single primitive
                t = v._table(v._element_td)
                s, m, kp = const("S", t.fns), const("M", t.miss), const("KP", key[1:])
                self.child(v._element_td, s, m, val, f"({px}, {kp})", [], ind, depth, sval, slow, nonempty=True)
            elif ent[2] == K_RESOURCE and not ent[4]:  # Bundle.entry.resource, Parameters.parameter.resource
                fu = "None"
                if td.name == "BundleEntry" and "fullUrl" in keyset:
                    fu = names[keys.index("fullUrl")]
                    fu = f"({fu} if type({fu}) is str else None)"
                self.ns["WR"] = v._walk_resource
                emit(f"if {val} is not None and type({val}) is not list:", ind)
                emit(f"    WR({val}, ({px}, {k}), ctx, {fu}, ctx.cur, False)", ind)
                emit("else:", ind)
                emit(f"    {slow}", ind)
            else:  # "_x" of a repeating primitive, contained resources
                emit(slow, ind)
        for edef, ks in td.required:
            if not any(kk in keyset for kk in ks):
                rn, rm = const("RN", edef.name), const("RM", f"{edef.name} is required (min 1) but missing")
                rs = const("RS", f"{td.fhir_type}.{edef.name}")
                emit(f"ctx.err(({px}, {rn}), {rm}, 'required', {rs})", ind)
        errors, native = _native_for_shape(td.name, keys)
        for msg, issue_code, source in errors:
            emit(f"ctx.err({px}, {const('NM', msg)}, {issue_code!r}, {const('NS', source)})", ind)
        if native is not None:
            emit(f"{const('NAT', native)}(V, {o}, {px}, ctx)", ind)

    def child(self, sub: TypeDef, s: str, m: str, o: str, px: str, book: list[str], ind: str, depth: int,
              sample: Any, otherwise: str, nonempty: bool = False) -> None:
        """A value that should be an object with content: written out inline when it has the shape
        its sample had, else its own compiled walk; ``otherwise`` (the interpreted code) when it is
        not an object with content. ``nonempty``: any non-empty object has content (``_x``)."""
        emit = self.emit
        content = f"type({o}) is dict and {o}" if nonempty else f"type({o}) is dict and (len({o}) > 1 or ({o} and 'id' not in {o}))"
        if (type(sample) is dict and (len(sample) > 1 or (sample and "id" not in sample))
                and depth < _INLINE_SHAPE_DEPTH and len(self.code) < _INLINE_SHAPE_LINES):
            shape = tuple(sample)
            sh = self.const("SH", shape)
            emit(f"if type({o}) is dict and tuple({o}) == {sh}:", ind)  # (such a shape has content)
            self.obj(sub, shape, o, px, ind + "    ", depth + 1, sample)
            for line in book:
                emit("    " + line.format(o=o, p=px), ind)
            emit(f"elif {content}:", ind)
        else:
            emit(f"if {content}:", ind)
        emit(f"    ({s}.get(tuple({o})) or {m}({o}))({o}, {px}, ctx)", ind)
        for line in book:
            emit("    " + line.format(o=o, p=px), ind)
        emit("else:", ind)
        emit(f"    {otherwise}", ind)


def _compile_shape(v: Validator, td: TypeDef, keys: tuple[str, ...], sample: Any = None) -> Any:
    """The walk of an object of type ``td`` whose keys are exactly ``keys`` (see above)."""
    w = _ShapeWriter(v)
    w.obj(td, keys, "obj", "path", "", 0, sample)
    src = "def walk(obj, path, ctx):\n" + ("\n".join(w.code) if w.code else "    pass") + "\n"
    exec(_code(src, f"<walk of a {td.name} shape>"), w.ns)
    fn = w.ns["walk"]
    fn.source = src  # for debugging and tests
    return fn


# ---------------------------------------------------------------------------------------------
# pass 3, compiled: one Python function per plan element and type code
#
# _check_item_generic interprets a plan element: it asks for every value which of a dozen rules
# the element has. _compile_plan asks once and writes a function with only the rules the element
# has, its non-repeating children inline (their cardinality tests and the calls of their own
# compiled checks) and the constant parts of every message precomputed. Anything less common
# (bindings, type profiles, targets, FHIRPath constraints, repeating or sliced children) calls
# the same methods the interpreted check calls, so issues, order and locations are identical. An
# element is compiled the PLAN_THRESHOLD-th time it is checked (COLD_THRESHOLD-th during the
# validator's first WARM_AFTER validations, as for shapes).

PLAN_THRESHOLD = 8
_INLINE_DEPTH = 6  # plan levels written into one function
_INLINE_LINES = 1500  # beyond this size, children are called instead of written out


class _PlanWriter:
    """Writes the compiled check of one plan element (see above).

    Children are written out inline (their own rules with the parent's variables) down to
    _INLINE_DEPTH levels; deeper ones, and everything once the function is big, are called
    through their own compiled checks. ``val``/``ext`` are the names of the variables that hold
    the value and its ``_`` object, ``px`` is a Python expression for the value's location.
    """

    def __init__(self, v: Validator):
        self.v = v
        self.ns: dict[str, Any] = {
            "V": v, "EQ": _equal, "PM": _pattern_match, "SHORT": _short, "EMPTY": {}, "MISS": v._plan_miss,
        }
        self.code: list[str] = []
        self.n = 0

    def const(self, prefix: str, value: Any) -> str:
        self.n += 1
        name = f"{prefix}_{self.n}"
        self.ns[name] = value
        return name

    def emit(self, line: str, ind: str) -> None:
        self.code.append("    " + ind + line)

    def block(self, header: str, ind: str, body: Any) -> None:
        """``header`` and the lines ``body()`` emits one level deeper; nothing when there are none."""
        outer = self.code
        self.code = []
        try:
            body()
            inner = self.code
        finally:
            self.code = outer
        if inner:
            self.emit(header, ind)
            outer.extend(inner)

    def block_inline(self, body: Any) -> None:
        """The lines ``body()`` emits at the same level (it may insert a first line when it has any)."""
        outer = self.code
        self.code = []
        try:
            body()
            inner = self.code
        finally:
            self.code = outer
        outer.extend(inner)

    def call(self, pe: PElem, tcode: str, val: str, ext: str, px: str, ind: str) -> None:
        """Call the compiled check of ``pe`` (compiled on demand)."""
        f, p, t = self.const("F", pe.fns), self.const("P", pe), self.const("T", tcode)
        self.emit(f"({f}.get({t}) or MISS({p}, {t}))({val}, {ext}, {px}, ctx)", ind)

    def check(self, pe: PElem, tcode: str, val: str, ext: str, px: str, ind: str, depth: int, is_dict: bool = False) -> None:
        """What _check_item_generic does for ``pe`` and ``tcode`` (``is_dict``: ``val`` is known to be a dict)."""
        if depth > _INLINE_DEPTH or len(self.code) > _INLINE_LINES:
            self.call(pe, tcode, val, ext, px, ind)
            return
        emit, const, v = self.emit, self.const, self.v
        if pe.item_checks:
            eid = const("EID", pe.eid)
            p = const("P", pe)
            tc = const("T", tcode)
            if pe.fixed is not NOVAL:
                fx, fxs = const("FX", pe.fixed), const("FXS", _short(pe.fixed))
                test = f"{val} != {fx}" if type(pe.fixed) is str else f"not EQ({val}, {fx})"
                emit(f"if {val} is not None and {test}:", ind)
                emit(f"    ctx.err({px}, 'value must be exactly ' + {fxs} + ' (fixed), found ' + SHORT({val}), 'fixed', {eid})", ind)
            if pe.pattern is not NOVAL:
                pat, pats = const("PAT", _pattern_fn(pe.pattern)), const("PATS", _short(pe.pattern))
                emit(f"if {val} is not None and not {pat}({val}):", ind)
                emit(f"    ctx.err({px}, 'value must match the pattern ' + {pats} + ', found ' + SHORT({val}), 'pattern', {eid})", ind)
            if pe.binding is not None:
                self.binding(pe, tcode, val, px, p, tc, ind)
            if pe.max_length is not None:
                ml, mlm = const("ML", pe.max_length), const("MLM", f"value is longer than maxLength {pe.max_length}")
                emit(f"if type({val}) is str and len({val}) > {ml}:", ind)
                emit(f"    ctx.err({px}, {mlm}, 'invalid-value', {eid})", ind)
            if pe.min_value is not None or pe.max_value is not None:
                emit(f"V._check_range({val}, {p}, {px}, ctx)", ind)
            if pe.types is not None:
                types = pe.types
                profs = types.get(tcode)
                if profs is None:
                    if pe.bdef is not None and len(pe.bdef.types) > 1 and not any(v.base.specializes(t, tcode) for t in types):
                        tym = const("TYM", f"type {tcode} is not allowed here (allowed: {', '.join(types)})")
                        emit(f"ctx.err({px}, {tym}, 'type', {eid})", ind)
                elif profs:
                    emit(f"V._check_type_profiles({val}, {ext}, {const('PROFS', profs)}, {p}, {tc}, {px}, ctx)", ind)
            if pe.targets is not None and tcode == "Reference":
                types = pe.target_types
                if types is None:
                    types = pe.target_types = {t: v.compiler.type_of(t) for t in pe.targets}
                allowed = _allowed_types(types)
                if allowed and not allowed & _ANY_TARGET:
                    r = "r" + str(depth)
                    emit(f"if type({val}) is dict:", ind)
                    emit(f"    {r} = {val}.get('reference')", ind)
                    emit(f"    if type({r}) is str and ctx.cur is not None:", ind)
                    emit(f"        V._check_target({val}, {r}, {p}, {const('AL', allowed)}, {px}, ctx)", ind)
            for c in pe.constraints:
                emit(f"V._check_constraint({const('CO', c)}, {val}, {ext}, {tc}, {p}, {px}, ctx)", ind)
        ch = pe.children.get(tcode) if pe.children else None
        if ch:
            obj = f"o{depth}"
            if tcode in PRIMITIVES:
                def children() -> None:
                    for name, cpe in ch.items():
                        self.child(obj, name, cpe, px, ind, depth)
                    if self.code:
                        self.code.insert(0, "    " + ind + f"{obj} = {ext} if type({ext}) is dict else EMPTY")
                self.block_inline(children)
            elif is_dict:
                def children() -> None:
                    for name, cpe in ch.items():
                        self.child(val, name, cpe, px, ind, depth)
                self.block_inline(children)
            else:
                def children() -> None:
                    for name, cpe in ch.items():
                        self.child(obj, name, cpe, px, ind + "    ", depth)
                    if self.code:
                        self.code.insert(0, "    " + ind + f"    {obj} = {val}")
                self.block(f"if type({val}) is dict:", ind, children)
        vpe = pe.variants.get(tcode) if pe.variants else None
        if vpe is not None:
            self.check(vpe, tcode, val, ext, px, ind, depth + 1)

    def binding(self, pe: PElem, tcode: str, val: str, px: str, p: str, tc: str, ind: str) -> None:
        """_check_binding, with the common case written out: a code of the (available) value set.

        When a coding (or code) is in the value set, _check_binding reports nothing; anything else
        goes through _check_binding itself."""
        emit = self.emit
        slow = f"V._check_binding({val}, {tc}, {p}, {px}, ctx)"
        idx = self.v.terminology.value_set(pe.binding[1])  # type: ignore[index]
        if idx.missing or tcode not in ("CodeableConcept", "Coding", "code", "string", "uri"):
            emit(f"if {val} is not None:", ind)
            emit(f"    {slow}", ind)
            return
        self.n += 1
        u = self.n
        ok = f"bok{u}"
        if tcode in ("code", "string", "uri"):
            # ValueSetIndex.check(None, code): in the codes of any system
            every = self.const("VSA", frozenset(c for codes in idx.codes.values() for c in codes))
            emit(f"if {val} is not None and not (type({val}) is str and {val} in {every}):", ind)
            emit(f"    {slow}", ind)
            return
        vsc = self.const("VSC", idx.codes)
        if tcode == "Coding":
            emit(f"if {val} is not None:", ind)
            emit(f"    {ok} = False", ind)
            emit(f"    if type({val}) is dict:", ind)
            emit(f"        bs{u}, bk{u} = {val}.get('system'), {val}.get('code')", ind)
            emit(f"        if type(bs{u}) is str and type(bk{u}) is str and bk{u}:", ind)
            emit(f"            bc{u} = {vsc}.get(bs{u})", ind)
            emit(f"            {ok} = bc{u} is not None and bk{u} in bc{u}", ind)
            emit(f"    if not {ok}:", ind)
            emit(f"        {slow}", ind)
            return
        emit(f"if {val} is not None:", ind)
        emit(f"    {ok} = False", ind)
        emit(f"    if type({val}) is dict:", ind)
        emit(f"        bl{u} = {val}.get('coding')", ind)
        emit(f"        if type(bl{u}) is list:", ind)
        emit(f"            for by{u} in bl{u}:", ind)
        emit(f"                if type(by{u}) is dict:", ind)
        emit(f"                    bs{u}, bk{u} = by{u}.get('system'), by{u}.get('code')", ind)
        emit(f"                    if type(bs{u}) is str and type(bk{u}) is str:", ind)
        emit(f"                        bc{u} = {vsc}.get(bs{u})", ind)
        emit(f"                        if bc{u} is not None and bk{u} in bc{u}:", ind)
        emit(f"                            {ok} = True", ind)
        emit("                            break", ind)
        emit(f"    if not {ok}:", ind)
        emit(f"        {slow}", ind)

    def child(self, obj: str, name: str, cpe: PElem, px: str, ind: str, depth: int) -> None:
        """What _check_children does for one child."""
        emit, const = self.emit, self.const
        nm, eid = const("N", name), const("EID", cpe.eid)
        single = cpe.single
        vv, ev = f"v{depth + 1}", f"e{depth + 1}"
        if single is None or cpe.slices:
            if len(cpe.gkeys) == 1 and cpe.is_list and not cpe.gkeys[0][2]:
                self.complex_list(obj, name, cpe, px, ind, depth)
            elif len(cpe.gkeys) > 1 and not cpe.is_list and not cpe.slices:
                self.choice(obj, name, cpe, px, ind, depth)
            else:
                emit(f"V._check_child_multi({obj}, {nm}, {const('P', cpe)}, {px}, ctx)", ind)
            return
        ctc, key, ukey = single
        k = const("K", key)
        absent = []
        if cpe.card_min:
            cm = const("CM", f"{name}: minimum cardinality is {cpe.card_min}, found 0")
            absent.append(f"ctx.err(({px}, {k}), {cm}, 'cardinality', {eid})")
        if cpe.variants:
            absent.append(f"V._check_variant_cards([], {const('P', cpe)}, {px}, ctx)")

        def present() -> None:
            if cpe.card_max == 0:
                cx = const("CX", f"{name}: maximum cardinality is 0, found 1")
                emit(f"ctx.err(({px}, {k}), {cx}, 'cardinality', {eid})", ind + "    ")
            if cpe.walk_items:
                self.check(cpe, ctc, vv, ev if ukey is not None else "None", f"({px}, {k})", ind + "    ", depth + 1,
                           is_dict=ukey is None)

        outer = self.code
        self.code = []
        try:
            present()
            body = self.code
        finally:
            self.code = outer
        if not absent and not body:
            return
        emit(f"{vv} = {obj}.get({k})", ind)
        if ukey is not None:
            emit(f"{ev} = {obj}.get({const('U', ukey)})", ind)
        if absent:
            emit(f"if {vv} is None and {ev} is None:" if ukey is not None else f"if {vv} is None:", ind)
            for line in absent:
                emit("    " + line, ind)
        if body:
            # lists (and non-objects for complex types) are reported by the base layer
            if ukey is not None:
                test = f"type({vv}) is not list and type({ev}) is not list"
                emit(f"elif {test}:" if absent else f"if ({vv} is not None or {ev} is not None) and {test}:", ind)
            else:
                emit(f"{'elif' if absent else 'if'} type({vv}) is dict:", ind)
            self.code.extend(body)

    def complex_list(self, obj: str, name: str, cpe: PElem, px: str, ind: str, depth: int) -> None:
        """A repeating child of one complex type: _check_child_multi and _gather written out."""
        emit, const = self.emit, self.const
        ctc, key, _ = cpe.gkeys[0]
        k, tc, p, eid, nm = const("K", key), const("T", ctc), const("P", cpe), const("EID", cpe.eid), const("N", name)
        ek = const("EK", _elem_key(cpe.bdef))
        vv, x, i, items = f"v{depth + 1}", f"x{depth + 1}", f"i{depth + 1}", f"items{depth + 1}"
        if not (cpe.card_min or cpe.card_max is not None or cpe.variants or cpe.slices):
            if cpe.walk_items:
                emit(f"{vv} = {obj}.get({k})", ind)
                emit(f"if type({vv}) is list:", ind)
                emit(f"    {i} = 0", ind)
                emit(f"    for {x} in {vv}:", ind)
                self.block(f"        if type({x}) is dict:", ind,
                           lambda: self.check(cpe, ctc, x, "None", f"({px}, {k}, {i})", ind + "            ", depth + 1, is_dict=True))
                emit(f"        {i} += 1", ind)
            return
        emit(f"{vv} = {obj}.get({k})", ind)
        emit(f"{items} = [({x}, None, {tc}, ({px}, {k}, {i})) for {i}, {x} in enumerate({vv}) if type({x}) is dict] if type({vv}) is list else []", ind)
        emit(f"if not {items}:", ind)
        absent = []
        if cpe.card_min:
            cm = const("CM", f"{name}: minimum cardinality is {cpe.card_min}, found 0")
            absent.append(f"ctx.err(({px}, {ek}), {cm}, 'cardinality', {eid})")
        if cpe.variants:
            absent.append(f"V._check_variant_cards({items}, {p}, {px}, ctx)")
        if cpe.slices_needed:
            absent.append(f"V._check_slicing({items}, {p}, {px}, ctx)")
        for line in absent or ["pass"]:
            emit("    " + line, ind)
        emit("else:", ind)
        if cpe.card_min is not None:
            cmin = const("CMIN", cpe.card_min)
            emit(f"    if len({items}) < {cmin}:", ind)
            emit(f"        ctx.err(({px}, {ek}), f'{{{nm}}}: minimum cardinality is {{{cmin}}}, found {{len({items})}}', 'cardinality', {eid})", ind)
        if cpe.card_max is not None:
            cmax = const("CMAX", cpe.card_max)
            emit(f"    if len({items}) > {cmax}:", ind)
            emit(f"        ctx.err(({px}, {ek}), f'{{{nm}}}: maximum cardinality is {{{cmax}}}, found {{len({items})}}', 'cardinality', {eid})", ind)
        if cpe.variants:
            emit(f"    V._check_variant_cards({items}, {p}, {px}, ctx)", ind)
        if cpe.slices:
            if cpe.fast_slices is not None:
                self.slicing(cpe, ctc, items, px, ind + "    ", depth)
            else:
                emit(f"    V._check_slicing({items}, {p}, {px}, ctx)", ind)
        n = len(self.code)
        if cpe.walk_items:
            ip = f"ip{depth + 1}"
            self.block(f"    for {x}, _, _, {ip} in {items}:", ind, lambda: self.check(cpe, ctc, x, "None", ip, ind + "        ", depth + 1, is_dict=True))
        if len(self.code) == n and self.code[-1].endswith("else:"):
            emit("    pass", ind)


    def choice(self, obj: str, name: str, cpe: PElem, px: str, ind: str, depth: int) -> None:
        """A choice element that does not repeat (value[x]): _check_child_multi written out."""
        emit, const = self.emit, self.const
        p, eid, nm = const("P", cpe), const("EID", cpe.eid), const("N", name)
        ek = const("EK", _elem_key(cpe.bdef))
        items = f"items{depth + 1}"
        emit(f"{items} = V._gather_choice({obj}, {p}, {px})", ind)
        # _check_variant_cards reports only on variants with a minimum or a maximum of 0
        cards = any((vv.min is not None and vv.min >= 1) or vv.max == 0 for vv in cpe.variants.values())
        absent = []
        if cpe.card_min:
            cm = const("CM", f"{name}: minimum cardinality is {cpe.card_min}, found 0")
            absent.append(f"ctx.err(({px}, {ek}), {cm}, 'cardinality', {eid})")
        if cards:
            absent.append(f"V._check_variant_cards({items}, {p}, {px}, ctx)")
        present = []
        if cpe.card_min is not None:
            cmin = const("CMIN", cpe.card_min)
            present += [f"if len({items}) < {cmin}:",
                        f"    ctx.err(({px}, {ek}), f'{{{nm}}}: minimum cardinality is {{{cmin}}}, found {{len({items})}}', 'cardinality', {eid})"]
        if cpe.card_max is not None:
            cmax = const("CMAX", cpe.card_max)
            present += [f"if len({items}) > {cmax}:",
                        f"    ctx.err(({px}, {ek}), f'{{{nm}}}: maximum cardinality is {{{cmax}}}, found {{len({items})}}', 'cardinality', {eid})"]
        if cards:
            present.append(f"V._check_variant_cards({items}, {p}, {px}, ctx)")
        if absent:
            emit(f"if not {items}:", ind)
            for line in absent:
                emit("    " + line, ind)
        if present:
            emit(f"{'else' if absent else f'if {items}'}:", ind)
            for line in present:
                emit("    " + line, ind)
        if cpe.walk_items:
            x, e, t, ip = f"x{depth + 1}", f"e{depth + 1}", f"t{depth + 1}", f"ip{depth + 1}"
            fns = const("F", cpe.fns)
            emit(f"for {x}, {e}, {t}, {ip} in {items}:", ind)
            emit(f"    ({fns}.get({t}) or MISS({p}, {t}))({x}, {e}, {ip}, ctx)", ind)

    def slicing(self, pe: PElem, tcode: str, items: str, px: str, ind: str, depth: int) -> None:
        """_check_slicing written out for a slicing with an O(1) lookup (PElem.fast_slices).

        Every item is an object (complex_list). When an item cannot be looked up (a discriminator
        value that is an object or array, a CodeableConcept without a coding array), the whole
        slicing goes through _check_slicing instead: nothing has been reported at that point.
        """
        emit, const = self.emit, self.const
        kind, segs, index = pe.fast_slices  # type: ignore[misc]
        d = depth + 1
        a, x, y, s, c = f"a{d}", f"sx{d}", f"sy{d}", f"ss{d}", f"sc{d}"
        idx = const("IDX", index)
        emit(f"{a} = []", ind)
        emit(f"for {x}, _, _, _ in {items}:", ind)
        i2 = ind + "    "
        if kind == "fixed":
            if len(segs) == 1:
                emit(f"{y} = {x}.get({const('SEG', segs[0])})", i2)
                emit(f"if type({y}) is dict or type({y}) is list:", i2)
                emit(f"    {a} = None", i2)
                emit("    break", i2)
                emit(f"{a}.append({idx}.get(({y},)))", i2)
            else:
                gets = ", ".join(f"{x}.get({const('SEG', sg)})" for sg in segs)
                emit(f"{y} = ({gets},)", i2)
                emit(f"if any(type(z) is dict or type(z) is list for z in {y}):", i2)
                emit(f"    {a} = None", i2)
                emit("    break", i2)
                emit(f"{a}.append({idx}.get({y}))", i2)
        else:  # "coding": the first coding that names a slice wins
            emit(f"{y} = {x}.get({const('SEG', segs[0])})" if segs else f"{y} = {x}", i2)
            emit(f"if type({y}) is dict:", i2)
            emit(f"    {c} = {y}.get('coding')", i2)
            emit(f"    if type({c}) is not list:", i2)
            emit(f"        {a} = None", i2)
            emit("        break", i2)
            emit(f"    {s} = None", i2)
            emit(f"    for z in {c}:", i2)
            emit("        if type(z) is dict:", i2)
            emit("            zs, zc = z.get('system'), z.get('code')", i2)
            emit("            if type(zs) is not dict and type(zs) is not list and type(zc) is not dict and type(zc) is not list:", i2)
            emit(f"                {s} = {idx}.get((zs, zc))", i2)
            emit(f"                if {s} is not None:", i2)
            emit("                    break", i2)
            emit("            else:", i2)
            emit(f"                {s} = None", i2)
            emit(f"    {a}.append({s})", i2)
            emit(f"elif {y} is None:", i2)
            emit(f"    {a}.append(None)", i2)
            emit("else:", i2)
            emit(f"    {a} = None", i2)
            emit("    break", i2)
        emit(f"if {a} is None:", ind)
        emit(f"    V._check_slicing({items}, {const('P', pe)}, {px}, ctx)", ind)
        emit("else:", ind)
        i2 = ind + "    "
        n0 = len(self.code)
        where = f"({px}, {const('EK', _elem_key(pe.bdef))})" if pe.bdef is not None else px
        for sname, spe in pe.slices.items():
            has_min = spe.min is not None and spe.min > 0
            has_max = spe.max is not None and spe.max >= 0
            if not (has_min or has_max):
                continue
            sn, seid = const("SN", sname), const("EID", spe.eid)
            emit(f"{c} = {a}.count({sn})", i2)
            if has_min:
                emit(f"if {c} < {const('SMIN', spe.min)}:", i2)
                emit(f"    ctx.err({where}, {const('SM', f'slice {sname!r} requires at least {spe.min}, found ')} + str({c}), 'slice', {seid})", i2)
            if has_max:
                emit(f"if {c} > {const('SMAX', spe.max)}:", i2)
                emit(f"    ctx.err({where}, {const('SM', f'slice {sname!r} allows at most {spe.max}, found ')} + str({c}), 'slice', {seid})", i2)
        sl = pe.slicing
        if sl is not None and (sl.rules in ("closed", "openAtEnd") or sl.ordered):
            emit(f"V._slicing_rules({items}, {a}, [False] * len({items}), {const('P', pe)}, ctx)", i2)
        checked = [(sname, spe) for sname, spe in pe.slices.items() if spe.item_checks or spe.children or spe.variants]
        if checked:
            ip = f"sip{d}"
            emit(f"for ({x}, _, _, {ip}), {s} in zip({items}, {a}):", i2)
            first = True
            for sname, spe in checked:
                self.block(f"    {'if' if first else 'elif'} {s} == {const('SN', sname)}:", i2,
                           lambda spe=spe: self.check(spe, tcode, x, "None", ip, i2 + "        ", depth + 1, is_dict=True))
                first = False
            if first:  # no slice had anything to check after all
                self.code.pop()
        if len(self.code) == n0:
            emit("pass", i2)


def _compile_plan(v: Validator, pe: PElem, tcode: str) -> Any:
    w = _PlanWriter(v)
    w.check(pe, tcode, "value", "ext", "path", "", 0)
    if not w.code:
        w.code.append("    pass")
    src = "def check(value, ext, path, ctx):\n" + "\n".join(w.code) + "\n"
    exec(_code(src, f"<check of {pe.eid} as {tcode}>"), w.ns)
    fn = w.ns["check"]
    fn.source = src  # for debugging and tests
    return fn


# ---------------------------------------------------------------------------------------------
# native invariants on base types


def _period(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    s, e = obj.get("start"), obj.get("end")
    if type(s) is str and type(e) is str:
        n = min(len(s), len(e), 10)
        if s[:n] > e[:n]:
            ctx.err(path, f"start {s} is after end {e}", "invariant", "per-1")


def _quantity(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    if "code" in obj and "system" not in obj:
        ctx.err(path, "if a unit code is present, the system must be present too", "invariant", "qty-3")


def _contact_point(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    if "value" in obj and "system" not in obj:
        ctx.err(path, "a contact point with a value must have a system", "invariant", "cpt-2")


def _attachment(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    if "data" in obj and "contentType" not in obj:
        ctx.err(path, "an attachment with data must have a contentType", "invariant", "att-1")


def _ratio(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    if ("numerator" in obj) != ("denominator" in obj):
        ctx.err(path, "numerator and denominator must both be present or both absent", "invariant", "rat-1")


def _extension(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    has_ext = "extension" in obj
    has_value = any(k.startswith("value") or k.startswith("_value") for k in obj)
    if has_ext == has_value:
        ctx.err(path, "an extension must have either extensions or a value[x], not both" if has_ext else
                "an extension must have either extensions or a value[x]", "invariant", "ext-1")


def _observation(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    has_value = any(k.startswith("value") and len(k) > 5 and k[5].isupper() for k in obj)
    if has_value and "dataAbsentReason" in obj:
        ctx.err(path, "dataAbsentReason must only be present when there is no value", "invariant", "obs-6")
    if has_value:
        _observation_components(v, obj, path, ctx)


def _observation_components(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    """obs-7 of an Observation that has a value, a code and components (see _observation)."""
    if type(obj.get("component")) is list and type(obj.get("code")) is dict:
        own = {_sc(c) for c in _codings(obj["code"]) if type(c) is dict}
        for i, comp in enumerate(obj["component"]):
            if type(comp) is dict and type(comp.get("code")) is dict:
                codes = {_sc(c) for c in _codings(comp["code"]) if type(c) is dict}
                if (own & codes) - {None}:
                    ctx.err((path, "component", i), "a component must not have the same code as the observation when the observation has a value", "invariant", "obs-7")


def _observation_component(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    has_value = any(k.startswith("value") and len(k) > 5 and k[5].isupper() for k in obj)
    if has_value and "dataAbsentReason" in obj:
        ctx.err(path, "dataAbsentReason must only be present when there is no value", "invariant", "obs-6")


def _patient_contact(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    if not ("name" in obj or "telecom" in obj or "address" in obj or "organization" in obj):
        ctx.err(path, "a contact must have a name, telecom, address or organization", "invariant", "pat-1")


def _allergy(v: Validator, obj: dict[str, Any], path: str, ctx: _Ctx) -> None:
    vs = obj.get("verificationStatus")
    if type(vs) is dict:  # R4: CodeableConcept
        eie = any(type(c) is dict and c.get("code") == "entered-in-error" for c in _codings(vs))
    else:
        eie = vs == "entered-in-error"
    has_cs = "clinicalStatus" in obj
    if eie and has_cs:
        ctx.err(path, "clinicalStatus must not be present when verificationStatus is entered-in-error", "invariant", "ait-2")
    elif vs is not None and not eie and not has_cs and v.version == "stu3":
        ctx.err(path, "clinicalStatus is required unless verificationStatus is entered-in-error", "invariant", "ait-1")


_NATIVE = {
    "Period": _period,
    "Quantity": _quantity,
    "Age": _quantity,
    "Duration": _quantity,
    "Distance": _quantity,
    "Count": _quantity,
    "ContactPoint": _contact_point,
    "Attachment": _attachment,
    "Ratio": _ratio,
    "Extension": _extension,
    "Observation": _observation,
    "ObservationComponent": _observation_component,
    "PatientContact": _patient_contact,
    "AllergyIntolerance": _allergy,
}


# ---------------------------------------------------------------------------------------------
# helpers


def _codings(cc: dict[str, Any]) -> list[Any]:
    """The ``coding`` list of a CodeableConcept (empty when it is missing or not a list)."""
    codings = cc.get("coding")
    return codings if type(codings) is list else []


def _sc(c: dict[str, Any]) -> tuple[Any, Any] | None:
    """(system, code) of a Coding, or None when either is a JSON object or array (not hashable)."""
    s, code = c.get("system"), c.get("code")
    if type(s) is dict or type(s) is list or type(code) is dict or type(code) is list:
        return None
    return (s, code)


def _enum_msg(v: Any, edef: Any) -> str:
    allowed = sorted(edef.enum)
    shown = ", ".join(allowed[:12]) + (" ..." if len(allowed) > 12 else "")
    return f"{v!r} is not a valid code for {edef.name} (required binding: {shown})"


def _elem_key(bdef: Any) -> str:
    if len(bdef.types) == 1:
        return next(iter(bdef.types.values()))
    return bdef.name


_ALLOWED_CACHE: dict[int, tuple[dict[str, str | None], frozenset[str]]] = {}


def _allowed_types(types: dict[str, str | None]) -> frozenset[str]:
    hit = _ALLOWED_CACHE.get(id(types))
    if hit is not None and hit[0] is types:
        return hit[1]
    allowed = frozenset(t for t in types.values() if t is not None)
    _ALLOWED_CACHE[id(types)] = (types, allowed)
    return allowed


def _is_core_vs(url: str) -> bool:
    return url.startswith("http://hl7.org/fhir/ValueSet/") or url.startswith("http://terminology.hl7.org/ValueSet/")


def _version_id(res: dict[str, Any]) -> str | None:
    meta = res.get("meta")
    if type(meta) is dict:
        v = meta.get("versionId")
        return v if type(v) is str else None
    return None


def _equal(a: Any, b: Any) -> bool:
    if type(a) is bool or type(b) is bool:
        return a is b
    return a == b


def _pattern_match(v: Any, p: Any) -> bool:
    tp = type(p)
    if tp is dict:
        if type(v) is not dict:
            return False
        for k, pv in p.items():
            if k not in v or not _pattern_match(v[k], pv):
                return False
        return True
    if tp is list:
        vl = v if type(v) is list else [v]
        for pi in p:
            for x in vl:
                if _pattern_match(x, pi):
                    break
            else:
                return False
        return True
    return _equal(v, p)


_NO_SLICE = 1 << 30


def _hybrid_slices(pe: PElem) -> tuple[dict[tuple[str, str], int], list[str], list[tuple[int, str, PElem]]] | None:
    """For _check_slicing: slices whose only discriminator test is a CodeableConcept pattern with
    one coding ({(system, code): slice order}), the slice names by order, and the other slices
    (order, name, slice); None when no slice is of the first kind. An item is in the first slice,
    in slice order, that matches: the first looked-up pattern slice, unless an other slice before
    it matches (exactly what testing every slice in order gives)."""
    index: dict[tuple[str, str], int] = {}
    names: list[str] = []
    others: list[tuple[int, str, PElem]] = []
    for order, (sname, spe) in enumerate(pe.slices.items()):
        names.append(sname)
        tests = spe.disc
        key = None
        if tests is not None and len(tests) == 1:
            kind, segs, expected = tests[0]
            if kind == "pattern" and not segs and len(expected) == 1:
                p = expected[0]
                if type(p) is dict and set(p) == {"coding"} and type(p["coding"]) is list and len(p["coding"]) == 1:
                    c = p["coding"][0]
                    if type(c) is dict and set(c) == {"system", "code"} and type(c["system"]) is str and type(c["code"]) is str:
                        key = (c["system"], c["code"])
        if key is None:
            others.append((order, sname, spe))
        else:
            index.setdefault(key, order)
    if not index:
        return None
    return index, names, others


_PATTERN_FNS: dict[int, tuple[Any, Any]] = {}


def _pattern_fn(p: Any) -> Any:
    """A function ``f(v)`` equal to ``_pattern_match(v, p)``, for a pattern of a plan (kept alive
    by the plan, so cached by identity)."""
    hit = _PATTERN_FNS.get(id(p))
    if hit is not None and hit[0] is p:
        return hit[1]
    fn = _compile_pattern(p)
    if len(_PATTERN_FNS) >= 20000:  # patterns of validators made and dropped again (tests)
        _PATTERN_FNS.clear()
    _PATTERN_FNS[id(p)] = (p, fn)
    return fn


def _compile_pattern(p: Any) -> Any:
    tp = type(p)
    if tp is dict:
        if set(p) == {"coding"} and type(p["coding"]) is list and len(p["coding"]) == 1:
            c = p["coding"][0]
            if type(c) is dict and set(c) == {"system", "code"} and all(type(x) is str for x in c.values()):
                system, code = c["system"], c["code"]

                def codeable_concept(v: Any) -> bool:  # {"coding": [{"system": S, "code": C}]}
                    if type(v) is not dict or "coding" not in v:
                        return False
                    cs = v["coding"]
                    for x in cs if type(cs) is list else (cs,):
                        if type(x) is dict and "system" in x and "code" in x and x["system"] == system and x["code"] == code:
                            return True
                    return False

                return codeable_concept
        subs = [(k, _compile_pattern(pv)) for k, pv in p.items()]

        def obj(v: Any) -> bool:
            if type(v) is not dict:
                return False
            for k, f in subs:
                if k not in v or not f(v[k]):
                    return False
            return True

        return obj
    if tp is list:
        items = [_compile_pattern(pi) for pi in p]

        def arr(v: Any) -> bool:
            vl = v if type(v) is list else [v]
            for f in items:
                for x in vl:
                    if f(x):
                        break
                else:
                    return False
            return True

        return arr
    if tp is bool:
        return lambda v: v is p
    if tp is str:
        return lambda v: v == p  # a bool is never equal to a str (_equal)
    return lambda v: _equal(v, p)


def _short(v: Any) -> str:
    import json

    s = json.dumps(v, ensure_ascii=False, default=str)
    return s if len(s) <= 120 else s[:117] + "..."


def _type_path(pe: PElem, tcode: str, base: BaseModel) -> str:
    td = base.get(tcode)
    if td is not None and td.kind == "backbone":
        return _SLICE_PART.sub("", pe.eid).replace("[x]", "")
    return tcode


def _dedupe(issues: Iterable[Issue]) -> list[Issue]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for i in issues:
        k = (i.severity, i.path, i.message)
        if k in seen:
            continue
        seen.add(k)
        out.append(i)
    return out
