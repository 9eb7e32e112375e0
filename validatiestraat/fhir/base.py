"""Base FHIR structure (per FHIR version), loaded from the generated ``data/base-<version>.json``.

See :mod:`validatiestraat.fhir.basegen` for where the data comes from. This module only turns it
into fast lookup tables and defines the primitive type rules (JSON type + FHIR regex).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

DATA = Path(__file__).with_name("data")

VERSIONS = {"stu3": "3.0.2", "r4": "4.0.1"}
VERSION_ALIASES = {
    "stu3": "stu3", "3": "stu3", "3.0": "stu3", "3.0.1": "stu3", "3.0.2": "stu3", "r3": "stu3",
    "r4": "r4", "4": "r4", "4.0": "r4", "4.0.0": "r4", "4.0.1": "r4", "r4b": "r4", "4.3.0": "r4",
}

PRIMITIVES = frozenset(
    {
        "boolean", "integer", "integer64", "decimal", "string", "code", "id", "uri", "url", "canonical",
        "oid", "uuid", "markdown", "base64Binary", "date", "dateTime", "instant", "time",
        "positiveInt", "unsignedInt", "xhtml",
    }
)

# Profiled datatypes that have no class of their own in fhir.resources.
TYPE_ALIASES = {"SimpleQuantity": "Quantity", "MoneyQuantity": "Quantity"}

# kinds of a JSON key
K_PRIM = 0  # primitive value
K_PEXT = 1  # "_x": id/extension of a primitive
K_COMPLEX = 2
K_RESOURCE = 3


def normalize_version(version: str) -> str:
    v = VERSION_ALIASES.get(str(version).lower())
    if v is None:
        raise ValueError(f"unsupported FHIR version {version!r} (use stu3 or r4)")
    return v


class ElemDef:
    """One element of a base type (``Patient.deceased[x]``)."""

    __slots__ = ("name", "owner", "types", "keys", "min", "max", "is_list", "enum", "targets", "is_choice", "primitive", "target_set")

    def __init__(self, owner: str, raw: dict[str, Any]):
        self.owner = owner
        self.name: str = raw["name"]
        self.types: dict[str, str] = {t: k for t, k in raw["types"]}  # type code -> JSON key
        self.keys: dict[str, str] = {k: t for t, k in raw["types"]}  # JSON key -> type code
        self.min: int = raw["min"]
        self.max: str = raw["max"]
        self.is_list: bool = raw["max"] != "1"
        enum = raw.get("enum")
        self.enum: frozenset[str] | None = frozenset(enum) if enum else None
        self.targets: tuple[str, ...] | None = tuple(raw["targets"]) if raw.get("targets") else None
        # the allowed reference target types, None when any resource may be referenced
        self.target_set: frozenset[str] | None = (
            frozenset(self.targets) if self.targets and not set(self.targets) & {"Resource", "Any", "DomainResource"} else None
        )
        self.is_choice: bool = self.name.endswith("[x]")
        self.primitive: bool = all(t in PRIMITIVES for t in self.types)

    def __repr__(self) -> str:  # pragma: no cover
        return f"ElemDef({self.owner}.{self.name})"


class TypeDef:
    """A resource, datatype or backbone element with its elements in FHIR order."""

    __slots__ = ("name", "kind", "parent", "elements", "keys", "fast", "required", "choices", "fhir_type")

    def __init__(self, name: str, raw: dict[str, Any]):
        self.name = name
        self.kind: str = raw["kind"]
        self.parent: str = raw["parent"]
        self.fhir_type = "BackboneElement" if self.kind == "backbone" else name
        self.elements: dict[str, ElemDef] = {}
        self.keys: dict[str, tuple[ElemDef, str, int]] = {}
        for e in raw["elements"]:
            ed = ElemDef(name, e)
            self.elements[ed.name] = ed
            for tcode, key in ed.types.items():
                if tcode in PRIMITIVES:
                    self.keys[key] = (ed, tcode, K_PRIM)
                    self.keys["_" + key] = (ed, tcode, K_PEXT)
                elif tcode == "Resource":
                    self.keys[key] = (ed, tcode, K_RESOURCE)
                else:
                    self.keys[key] = (ed, tcode, K_COMPLEX)
        # required elements: tuple of (elemdef, keys that satisfy it)
        req = []
        for ed in self.elements.values():
            if ed.min >= 1:
                ks = []
                for tcode, key in ed.types.items():
                    ks.append(key)
                    if tcode in PRIMITIVES:
                        ks.append("_" + key)
                req.append((ed, tuple(ks)))
        self.required = tuple(req)
        choices = []
        for ed in self.elements.values():
            if ed.is_choice and len(ed.types) > 1:
                ks = []
                for tcode, key in ed.types.items():
                    ks.append(key)
                    if tcode in PRIMITIVES:
                        ks.append("_" + key)
                choices.append((ed, tuple(ks)))
        self.choices = tuple(choices)
        # for the validator's walk: key -> [elemdef, type code, kind, primitive checker, is_list, enum,
        #                                    quick kind, quick matcher, sub TypeDef (filled on first use)]
        self.fast: dict[str, list[Any]] = {}
        for k, (ed, t, kind) in self.keys.items():
            qkind, qfn = QUICK.get(t, (Q_NONE, None)) if kind == K_PRIM else (Q_NONE, None)
            if kind == K_PRIM:
                mode = M_PRIM_LIST if ed.is_list else M_PRIM
            elif kind == K_COMPLEX:
                mode = M_COMPLEX_LIST if ed.is_list else M_COMPLEX
                if t in ("Reference", "Extension"):
                    mode += 10  # needs bookkeeping (references, extensions by url)
            else:
                mode = M_OTHER
            self.fast[k] = [ed, t, kind, PRIMITIVE_CHECKS.get(t) if kind == K_PRIM else None, ed.is_list, ed.enum,
                            qkind, qfn, None, mode, ed.is_choice]

    def __repr__(self) -> str:  # pragma: no cover
        return f"TypeDef({self.name})"


class BaseModel:
    """All base types of one FHIR version."""

    def __init__(self, version: str):
        self.version = normalize_version(version)
        raw = _load_raw(self.version)
        self.fhir_version: str = raw["fhirVersion"]
        self.generated_from: str = raw.get("generatedFrom", "")
        self._raw_types: dict[str, Any] = raw["types"]
        self._types: dict[str, TypeDef] = {}
        self.resource_types = frozenset(
            n for n, t in self._raw_types.items()
            if t["kind"] == "resource" and n not in ("Resource", "DomainResource")
        )
        self.datatypes = frozenset(n for n, t in self._raw_types.items() if t["kind"] == "complex")
        # backbone class for a path: "Observation.component" -> "ObservationComponent"
        self._path_types: dict[str, str] = {}

    def get(self, name: str) -> TypeDef | None:
        name = TYPE_ALIASES.get(name, name)
        td = self._types.get(name)
        if td is None:
            raw = self._raw_types.get(name)
            if raw is None:
                return None
            td = TypeDef(name, raw)
            self._types[name] = td
        return td

    def __getitem__(self, name: str) -> TypeDef:
        td = self.get(name)
        if td is None:
            raise KeyError(name)
        return td

    def is_resource(self, name: str) -> bool:
        return name in self.resource_types

    def is_primitive(self, name: str) -> bool:
        return name in PRIMITIVES

    def specializes(self, type_name: str, ancestor: str) -> bool:
        """True when type_name is ancestor or derives from it (Age -> Quantity, Patient -> Resource)."""
        name = TYPE_ALIASES.get(type_name, type_name)
        ancestor = TYPE_ALIASES.get(ancestor, ancestor)
        seen = 0
        while name and seen < 10:
            if name == ancestor:
                return True
            raw = self._raw_types.get(name)
            if raw is None:
                return False
            name = raw["parent"]
            seen += 1
        return False


@lru_cache(maxsize=None)
def _load_raw(version: str) -> dict[str, Any]:
    path = DATA / f"base-{version}.json"
    if not path.exists():  # pragma: no cover - regenerate from fhir.resources when missing
        from validatiestraat.fhir import basegen

        return basegen.generate(version)
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def get_base(version: str) -> BaseModel:
    return BaseModel(normalize_version(version))


# ---------------------------------------------------------------------------------------------
# Primitive rules. Each checker returns None when the JSON value is valid, else a message.

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TZ = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
RE_DATE = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?")
RE_DATETIME = re.compile(
    _YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T" + _TIME + _TZ + r")?)?)?"
)
RE_INSTANT = re.compile(_YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T" + _TIME + _TZ)
RE_TIME = re.compile(_TIME)
RE_ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")
RE_CODE = re.compile(r"[^\s]+( [^\s]+)*")
RE_OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")
RE_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RE_BAD_CHARS = re.compile(r"[\x00-\x08\x0B\x0C\x0E-\x1F]")
RE_WS = re.compile(r"\s")
RE_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
INT_MIN, INT_MAX = -2147483648, 2147483647


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _need_string(v: Any, tcode: str) -> str | None:
    if type(v) is not str:
        return f"{tcode} must be a JSON string, not {_jtype(v)}"
    if not v:
        return f"{tcode} must not be an empty string"
    return None


def _c_boolean(v: Any) -> str | None:
    if v is True or v is False:
        return None
    return f"boolean must be JSON true or false, not {_jtype(v)} {json.dumps(v)[:40]}"


def _c_integer(v: Any) -> str | None:
    if type(v) is not int:
        if type(v) is float and v.is_integer():
            return None  # 1.0 parses as a float but is a valid JSON integer literal only if written 1; tolerate
        return f"integer must be a JSON number without fraction, not {_jtype(v)} {json.dumps(v)[:40]}"
    if not INT_MIN <= v <= INT_MAX:
        return f"integer {v} is out of the 32-bit range"
    return None


def _c_integer_strict(v: Any) -> str | None:
    if type(v) is not int:
        return f"integer must be a JSON number without fraction, not {_jtype(v)} {json.dumps(v)[:40]}"
    if not INT_MIN <= v <= INT_MAX:
        return f"integer {v} is out of the 32-bit range"
    return None


def _c_positive(v: Any) -> str | None:
    msg = _c_integer_strict(v)
    if msg:
        return msg.replace("integer", "positiveInt", 1)
    if v < 1:
        return f"positiveInt must be 1 or more, not {v}"
    return None


def _c_unsigned(v: Any) -> str | None:
    msg = _c_integer_strict(v)
    if msg:
        return msg.replace("integer", "unsignedInt", 1)
    if v < 0:
        return f"unsignedInt must be 0 or more, not {v}"
    return None


def _c_decimal(v: Any) -> str | None:
    t = type(v)
    if t is int:
        return None
    if t is float:
        if math.isfinite(v):
            return None
        return "decimal must be a finite number"
    return f"decimal must be a JSON number, not {_jtype(v)} {json.dumps(v, default=str)[:40]}"


def _c_string(v: Any) -> str | None:
    if type(v) is not str:
        return f"string must be a JSON string, not {_jtype(v)}"
    if not v:
        return "string must not be empty (leave the element out instead)"
    if not v.isprintable() and RE_BAD_CHARS.search(v):
        return "string contains control characters"
    if len(v) > 1048576:
        return "string is longer than 1 MB"
    return None


def _regex_checker(tcode: str, rx: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    fm = rx.fullmatch

    def check(v: Any) -> str | None:
        if type(v) is not str:
            return f"{tcode} must be a JSON string, not {_jtype(v)} {json.dumps(v, default=str)[:40]}"
        if fm(v) is None:
            if not v:
                return f"{tcode} must not be an empty string"
            return f"{v[:80]!r} is not a valid {tcode} ({what})"
        return None

    return check


def _c_uri(v: Any) -> str | None:
    msg = _need_string(v, "uri")
    if msg:
        return msg
    if RE_WS.search(v):
        return f"{v[:80]!r} is not a valid uri (contains whitespace)"
    return None


def _c_base64(v: Any) -> str | None:
    msg = _need_string(v, "base64Binary")
    if msg:
        return msg
    s = "".join(v.split()) if RE_WS.search(v) else v
    if len(s) % 4 or RE_BASE64.fullmatch(s) is None:
        return "base64Binary is not valid base64"
    return None


def _c_xhtml(v: Any) -> str | None:
    msg = _need_string(v, "xhtml")
    if msg:
        return msg
    return check_xhtml(v)


@lru_cache(maxsize=4096)
def check_xhtml(text: str) -> str | None:
    try:
        from lxml import etree
    except ImportError:  # pragma: no cover
        return None
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return f"narrative div is not well-formed XHTML: {exc}"
    if root.tag != "{http://www.w3.org/1999/xhtml}div":
        return "narrative must be a <div> in the XHTML namespace (xmlns=\"http://www.w3.org/1999/xhtml\")"
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = el.tag.rsplit("}", 1)[-1]
        if local in ("script", "form", "base", "link", "xlink", "input", "iframe", "object", "embed"):
            return f"narrative contains a forbidden <{local}> element (txt-1)"
        for attr in el.attrib:
            if attr.rsplit("}", 1)[-1].lower().startswith("on"):
                return f"narrative contains an event attribute {attr!r} (txt-1)"
    return None


PRIMITIVE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "boolean": _c_boolean,
    "integer": _c_integer_strict,
    "integer64": _c_integer_strict,
    "positiveInt": _c_positive,
    "unsignedInt": _c_unsigned,
    "decimal": _c_decimal,
    "string": _c_string,
    "markdown": _c_string,
    "code": _regex_checker("code", RE_CODE, "no leading, trailing or double whitespace"),
    "id": _regex_checker("id", RE_ID, "1-64 characters A-Z a-z 0-9 - ."),
    "uri": _c_uri,
    "url": _c_uri,
    "canonical": _c_uri,
    "oid": _regex_checker("oid", RE_OID, "urn:oid:<digits>"),
    "uuid": _regex_checker("uuid", RE_UUID, "urn:uuid:<lower-case uuid>"),
    "base64Binary": _c_base64,
    "date": _regex_checker("date", RE_DATE, "YYYY, YYYY-MM or YYYY-MM-DD"),
    "dateTime": _regex_checker("dateTime", RE_DATETIME, "YYYY[-MM[-DD[Thh:mm:ss[.sss]+zz:zz]]]; a time needs a timezone"),
    "instant": _regex_checker("instant", RE_INSTANT, "YYYY-MM-DDThh:mm:ss[.sss]+zz:zz"),
    "time": _regex_checker("time", RE_TIME, "hh:mm:ss"),
    "xhtml": _c_xhtml,
}

# XML attribute value -> JSON value, by primitive type (used by the XML converter)
JSON_NUMBER_TYPES = frozenset({"integer", "integer64", "positiveInt", "unsignedInt", "decimal"})


# walk modes of a JSON key
M_PRIM, M_PRIM_LIST, M_COMPLEX, M_COMPLEX_LIST, M_OTHER = 0, 1, 2, 3, 4

# Quick acceptance of valid primitive values (the detailed checker runs only when these fail).
Q_NONE, Q_STR, Q_RE, Q_BOOL, Q_DEC = 0, 1, 2, 3, 4
_RE_NOSPACE = re.compile(r"[^\s]+")
QUICK: dict[str, tuple[int, Any]] = {
    "string": (Q_STR, None),
    "markdown": (Q_STR, None),
    "boolean": (Q_BOOL, None),
    "decimal": (Q_DEC, None),
    "code": (Q_RE, RE_CODE.fullmatch),
    "id": (Q_RE, RE_ID.fullmatch),
    "uri": (Q_RE, _RE_NOSPACE.fullmatch),
    "url": (Q_RE, _RE_NOSPACE.fullmatch),
    "canonical": (Q_RE, _RE_NOSPACE.fullmatch),
    "oid": (Q_RE, RE_OID.fullmatch),
    "uuid": (Q_RE, RE_UUID.fullmatch),
    "date": (Q_RE, RE_DATE.fullmatch),
    "dateTime": (Q_RE, RE_DATETIME.fullmatch),
    "instant": (Q_RE, RE_INSTANT.fullmatch),
    "time": (Q_RE, RE_TIME.fullmatch),
}
