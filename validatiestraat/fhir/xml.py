"""FHIR XML <-> JSON conversion following the FHIR serialisation rules.

* primitives: ``<birthDate value="1970-01-01"/>`` <-> ``"birthDate": "1970-01-01"``; an ``id`` attribute
  or ``<extension>`` children on a primitive go to ``"_birthDate": {...}``; repeating primitives keep
  ``value`` and ``_value`` arrays aligned with ``null``;
* repeating elements (max > 1 in the base definition) become JSON arrays, also when they occur once;
* ``id`` on datatypes and ``url`` on extensions are XML attributes;
* ``Narrative.div`` is kept as an XHTML string with its namespace;
* ``contained``, ``Bundle.entry.resource`` and ``Parameters.parameter.resource`` wrap a resource element;
* JSON numbers and booleans are typed by the element's primitive type.

Elements that the base definition does not know are converted generically (and kept, so the
validator reports them) instead of being dropped.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from lxml import etree

from validatiestraat.fhir.base import K_COMPLEX, K_PEXT, K_PRIM, K_RESOURCE, BaseModel, TypeDef, get_base

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_F = "{" + FHIR_NS + "}"
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_INT = re.compile(r"-?(0|[1-9][0-9]*)")


class FhirXmlError(ValueError):
    """The XML is not well-formed or not FHIR; ``line`` is set when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True, huge_tree=True)


def parse_xml(text: str | bytes) -> etree._Element:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if isinstance(text, str) and text.lstrip().startswith("<?xml"):
        # an encoding declaration in a str is rejected by lxml; strip it
        data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data, count=1)
    try:
        return etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line, col = (exc.position if getattr(exc, "position", None) else (None, None))
        raise FhirXmlError(f"not well-formed XML: {exc.msg}", line, col) from None


def xml_to_json(text: str | bytes, fhir_version: str = "stu3") -> dict[str, Any]:
    """Convert a FHIR XML resource (string or bytes) to its JSON form (a dict)."""
    root = parse_xml(text)
    return element_to_json(root, fhir_version)


def element_to_json(root: etree._Element, fhir_version: str = "stu3") -> dict[str, Any]:
    if not isinstance(root.tag, str) or not root.tag.startswith(_F):
        raise FhirXmlError(f"root element {root.tag!r} is not in the FHIR namespace {FHIR_NS}", root.sourceline)
    try:
        return _XmlReader(get_base(fhir_version)).resource(root)
    finally:
        _REP.map.clear()


def _local(tag: str) -> str:
    return tag[len(_F):] if tag.startswith(_F) else tag


def _typed(value: str, tcode: str) -> Any:
    if tcode == "boolean":
        if value == "true":
            return True
        if value == "false":
            return False
        return value  # left as a string: the validator reports it
    if tcode in ("integer", "positiveInt", "unsignedInt"):
        return int(value) if _INT.fullmatch(value) else value
    if tcode == "decimal":
        if _NUMBER.fullmatch(value):
            if _INT.fullmatch(value):
                return int(value)
            return float(value)
        return value
    return value


class _XmlReader:
    def __init__(self, base: BaseModel):
        self.base = base

    def resource(self, el: etree._Element) -> dict[str, Any]:
        rt = _local(el.tag)
        out: dict[str, Any] = {"resourceType": rt}
        td = self.base.get(rt)
        if td is None or td.kind != "resource":
            self._generic_children(el, out)
            return out
        self._children(el, td, out)
        return out

    def _children(self, el: etree._Element, td: TypeDef | None, out: dict[str, Any]) -> None:
        keys = td.keys if td is not None else {}
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            name = _local(tag)
            if not tag.startswith(_F):
                # foreign namespace (only xhtml div is legal, handled below)
                if name == "{" + XHTML_NS + "}div" and "div" in keys:
                    self._put(out, "div", _xhtml_string(child), keys["div"][0].is_list)
                    continue
                self._put(out, name, _generic(child), True)
                continue
            ent = keys.get(name)
            if ent is None or ent[2] == K_PEXT:
                self._put(out, name, _generic(child), False, repeat_as_list=True)
                continue
            edef, tcode, kind = ent
            if kind == K_PRIM:
                if tcode == "xhtml":
                    self._put(out, name, _xhtml_string(child), edef.is_list)
                    continue
                raw = child.get("value")
                value = _typed(raw, tcode) if raw is not None else None
                ext: dict[str, Any] | None = None
                cid = child.get("id")
                if cid is not None or len(child):
                    ext = {}
                    if cid is not None:
                        ext["id"] = cid
                    self._children(child, self.base.get("Element"), ext)
                    if not ext:
                        ext = None
                self._put_primitive(out, name, value, ext, edef.is_list)
            elif kind == K_RESOURCE:
                inner = [c for c in child if isinstance(c.tag, str)]
                if len(inner) == 1:
                    value = self.resource(inner[0])
                else:
                    value = _generic(child)
                self._put(out, name, value, edef.is_list)
            else:
                obj: dict[str, Any] = {}
                cid = child.get("id")
                if cid is not None:
                    obj["id"] = cid
                url = child.get("url")
                if url is not None:
                    obj["url"] = url
                sub = self.base.get(tcode)
                self._children(child, sub, obj)
                self._put(out, name, obj, edef.is_list)

    def _generic_children(self, el: etree._Element, out: dict[str, Any]) -> None:
        for child in el:
            if isinstance(child.tag, str):
                self._put(out, _local(child.tag), _generic(child), False, repeat_as_list=True)

    @staticmethod
    def _put(out: dict[str, Any], name: str, value: Any, is_list: bool, repeat_as_list: bool = False) -> None:
        if is_list:
            out.setdefault(name, []).append(value)
            return
        if name in out:
            # a non-repeating element that occurs more than once: kept as an array so the
            # validator reports it (its first occurrence may itself be an array of a generic element)
            marker = "\x00repeated:" + name
            if marker in _REP.map.get(id(out), ()):
                out[name].append(value)
            else:
                out[name] = [out[name], value]
                _REP.map.setdefault(id(out), set()).add(marker)
            return
        out[name] = value

    @staticmethod
    def _put_primitive(out: dict[str, Any], name: str, value: Any, ext: dict[str, Any] | None, is_list: bool) -> None:
        if is_list:
            vals = out.get(name)
            exts = out.get("_" + name)
            n = len(vals) if vals is not None else (len(exts) if exts is not None else 0)
            # both arrays, when present, always have the same length
            if value is not None and vals is None:
                vals = out[name] = [None] * n
            if (ext is not None or value is None) and exts is None:
                exts = out["_" + name] = [None] * n
            if vals is not None:
                vals.append(value)
            if exts is not None:
                exts.append(ext if ext is not None else ({} if value is None else None))
            return
        if value is not None:
            _XmlReader._put(out, name, value, False)
        if ext is not None:
            _XmlReader._put(out, "_" + name, ext, False)
        elif value is None:
            # <x/> without value or extension: kept as an empty object so ele-1 reports it
            _XmlReader._put(out, "_" + name, {}, False)


class _Repeated(threading.local):
    """id(dict) -> names turned into arrays because they repeated (during one conversion)."""

    def __init__(self) -> None:
        self.map: dict[int, set[str]] = {}


_REP = _Repeated()


def _generic(el: etree._Element) -> Any:
    """Convert an element that the base definition does not know."""
    kids = [c for c in el if isinstance(c.tag, str)]
    if not kids and set(el.attrib) <= {"value"}:
        return el.get("value", "")
    obj: dict[str, Any] = {k: v for k, v in el.attrib.items() if k != "value"}
    if "value" in el.attrib:
        obj["value"] = el.get("value")
    for c in kids:
        _XmlReader._put(obj, _local(c.tag), _generic(c), False, repeat_as_list=True)
    return obj


def _xhtml_string(el: etree._Element) -> str:
    import copy

    el = copy.deepcopy(el)
    el.tail = None
    etree.cleanup_namespaces(el)
    return etree.tostring(el, encoding="unicode", with_tail=False)


# ---------------------------------------------------------------------------------------------
# JSON -> XML


def json_to_xml(resource: dict[str, Any] | str, fhir_version: str = "stu3", pretty: bool = True) -> str:
    """Convert a FHIR JSON resource (dict or JSON text) to FHIR XML text."""
    if isinstance(resource, str):
        resource = json.loads(resource)
    writer = _XmlWriter(get_base(fhir_version))
    el = writer.resource(resource)
    if pretty:
        etree.indent(el, space="  ")
        for div, original in writer.divs:  # narrative keeps its own whitespace
            fresh = _parse_div(original)
            if fresh is not None:
                fresh.tail = div.tail
                div.getparent().replace(div, fresh)
    return etree.tostring(el, encoding="unicode")


def _parse_div(text: str) -> etree._Element | None:
    try:
        return etree.fromstring(text.encode("utf-8"), parser=_parser())
    except etree.XMLSyntaxError:
        return None


class _XmlWriter:
    def __init__(self, base: BaseModel):
        self.base = base
        self.divs: list[tuple[etree._Element, str]] = []

    def resource(self, res: dict[str, Any]) -> etree._Element:
        rt = res.get("resourceType")
        if not isinstance(rt, str):
            raise ValueError("JSON resource has no resourceType")
        el = etree.Element(_F + rt, nsmap={None: FHIR_NS})
        td = self.base.get(rt)
        self._fill(el, res, td, is_resource=True)
        return el

    def _fill(self, el: etree._Element, obj: dict[str, Any], td: TypeDef | None, is_resource: bool = False) -> None:
        if not is_resource:
            if "id" in obj and isinstance(obj["id"], str):
                el.set("id", obj["id"])
            if td is not None and td.name == "Extension" and isinstance(obj.get("url"), str):
                el.set("url", obj["url"])
        if td is None:
            for k, v in obj.items():
                if k != "resourceType":
                    self._generic(el, k, v)
            return
        done = {"resourceType"}
        if not is_resource:
            done.add("id")
            if td.name == "Extension":
                done.add("url")
        for edef in td.elements.values():
            for tcode, key in edef.types.items():
                if key in done:
                    continue
                present = key in obj or ("_" + key) in obj
                if not present:
                    continue
                done.add(key)
                done.add("_" + key)
                kind = td.keys[key][2]
                if kind == K_PRIM:
                    self._primitive(el, key, tcode, obj.get(key), obj.get("_" + key))
                elif kind == K_RESOURCE:
                    for item in _as_list(obj[key]):
                        wrap = etree.SubElement(el, _F + key)
                        if isinstance(item, dict):
                            wrap.append(self.resource(item))
                else:
                    sub = self.base.get(tcode)
                    for item in _as_list(obj[key]):
                        child = etree.SubElement(el, _F + key)
                        if isinstance(item, dict):
                            self._fill(child, item, sub)
        for k, v in obj.items():
            if k not in done:
                self._generic(el, k.lstrip("_"), v)

    def _primitive(self, el: etree._Element, key: str, tcode: str, value: Any, ext: Any) -> None:
        if tcode == "xhtml":
            for v in _as_list(value):
                if isinstance(v, str):
                    div = _parse_div(v)
                    if div is None:
                        div = etree.SubElement(el, "{" + XHTML_NS + "}div", nsmap={None: XHTML_NS})
                        div.text = v
                    else:
                        el.append(div)
                        self.divs.append((div, v))
            return
        values = value if isinstance(value, list) else [value]
        exts = ext if isinstance(ext, list) else [ext]
        n = max(len(values), len(exts)) if (value is not None and ext is not None) else (len(values) if value is not None else len(exts))
        elem_td = self.base.get("Element")
        for i in range(n):
            v = values[i] if i < len(values) and value is not None else None
            e = exts[i] if i < len(exts) and ext is not None else None
            child = etree.SubElement(el, _F + key)
            if isinstance(e, dict):
                if isinstance(e.get("id"), str):
                    child.set("id", e["id"])
            if v is not None:
                child.set("value", _xml_value(v))
            if isinstance(e, dict):
                self._fill(child, {k: x for k, x in e.items() if k != "id"}, elem_td, is_resource=True)

    def _generic(self, el: etree._Element, key: str, value: Any) -> None:
        for v in _as_list(value):
            child = etree.SubElement(el, _F + key)
            if isinstance(v, dict):
                for k, x in v.items():
                    self._generic(child, k, x)
            elif v is not None:
                child.set("value", _xml_value(v))


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _xml_value(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)
