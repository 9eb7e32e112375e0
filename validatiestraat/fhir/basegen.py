"""Generate the base structure plan (``data/base-<version>.json``) from fhir.resources metadata.

The FHIR core StructureDefinitions are not available offline, so the base layer of the validator
is derived from the pydantic models that fhir.resources ships for STU3 (3.0.2) and R4B (4.3.0,
used as the stand-in for R4 4.0.1). For every resource, datatype and backbone element the plan
records, in FHIR element order: the element name (``deceased[x]`` for choices), its types with
their JSON keys, min/max and, for ``code`` elements bound with a required binding, the allowed
codes (``enum_values``, corrected where fhir.resources derives an incomplete list).

Run ``python -m validatiestraat.fhir.basegen`` to regenerate the files; the validator loads them
at run time and never imports fhir.resources itself.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import typing
from pathlib import Path

DATA = Path(__file__).with_name("data")

PACKAGES = {"stu3": "STU3", "r4": "R4B"}
FHIR_VERSIONS = {"stu3": "3.0.2", "r4": "4.0.1"}

_PRIMITIVE_MARKERS = {
    "Id": "id",
    "Uri": "uri",
    "Code": "code",
    "DateTime": "dateTime",
    "Date": "date",
    "Instant": "instant",
    "Time": "time",
    "Decimal": "decimal",
    "Integer": "integer",
    "Integer64": "integer64",
    "PositiveInt": "positiveInt",
    "UnsignedInt": "unsignedInt",
    "Markdown": "markdown",
    "Oid": "oid",
    "String": "string",
    "Base64Binary": "base64Binary",
    "Canonical": "canonical",
    "Url": "url",
    "UuidVersion": "uuid",
    "Xhtml": "xhtml",
}

# fhir.resources derives enum_values from the element's short description; where that ends in
# "+" the list is incomplete. These are the complete required value sets (same in STU3 and R4
# unless noted).
_OBS_STATUS = ["registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"]
_REQUEST_INTENT_STU3 = ["proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"]
_ENUM_FIXES: dict[str, dict[str, list[str]]] = {
    "*": {
        "DetectedIssue.status": _OBS_STATUS,
        "RiskAssessment.status": _OBS_STATUS,
        "Observation.status": _OBS_STATUS,
        "DeviceUdi.entryType": ["barcode", "rfid", "manual", "card", "self-reported", "unknown"],
        "DeviceUdiCarrier.entryType": ["barcode", "rfid", "manual", "card", "self-reported", "unknown"],
        "DeviceUseStatement.status": ["active", "completed", "entered-in-error", "intended", "stopped", "on-hold"],
        "DiagnosticReport.status": [
            "registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
            "cancelled", "entered-in-error", "unknown",
        ],
        "Encounter.status": [
            "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
            "entered-in-error", "unknown",
        ],
        "EncounterStatusHistory.status": [
            "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
            "entered-in-error", "unknown",
        ],
        "QuestionnaireItem.type": [
            "group", "display", "question", "boolean", "decimal", "integer", "date", "dateTime", "time",
            "string", "text", "url", "choice", "open-choice", "attachment", "reference", "quantity",
        ],
        "StructureMapGroupRuleTarget.transform": [
            "create", "copy", "truncate", "escape", "cast", "append", "translate", "reference",
            "dateOp", "uuid", "pointer", "evaluate", "cc", "c", "qty", "id", "cp",
        ],
        "SupplyRequest.status": ["draft", "active", "suspended", "cancelled", "completed", "entered-in-error", "unknown"],
        "Task.status": [
            "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
            "on-hold", "failed", "completed", "entered-in-error",
        ],
    },
    "stu3": {
        "ProcedureRequest.intent": _REQUEST_INTENT_STU3,
        "Task.intent": _REQUEST_INTENT_STU3,
    },
    "r4": {},
}


def _unwrap(annotation: typing.Any) -> tuple[typing.Any, bool]:
    """Return (inner annotation, is_list)."""
    is_list = False
    ann = annotation
    for _ in range(6):
        origin = typing.get_origin(ann)
        args = typing.get_args(ann)
        if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
            non_none = [a for a in args if a is not type(None)]
            ann = non_none[0]
            continue
        if origin in (list, typing.List):
            is_list = True
            ann = args[0]
            continue
        break
    return ann, is_list


def _primitive_code(ann: typing.Any) -> str | None:
    if ann is bool:
        return "boolean"
    if typing.get_origin(ann) is typing.Annotated:
        for meta in typing.get_args(ann)[1:]:
            name = type(meta).__name__
            if name in _PRIMITIVE_MARKERS:
                return _PRIMITIVE_MARKERS[name]
    return None


def _complex_name(ann: typing.Any) -> str | None:
    name = getattr(ann, "__name__", "")
    if name.endswith("Type") and hasattr(ann, "get_model_klass"):
        return name[: -len("Type")]
    return None


def generate(version: str) -> dict[str, typing.Any]:
    pkg_name = PACKAGES[version]
    pkg = importlib.import_module(f"fhir.resources.{pkg_name}")
    resource_base = importlib.import_module(f"fhir.resources.{pkg_name}.resource").Resource
    backbone_base = importlib.import_module(f"fhir.resources.{pkg_name}.backboneelement").BackboneElement
    fixes = {**_ENUM_FIXES["*"], **_ENUM_FIXES[version]}
    types: dict[str, typing.Any] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in ("fhirtypes", "fhirtypesvalidators", "tests") or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"fhir.resources.{pkg_name}.{info.name}")
        for cname, cls in vars(module).items():
            if not (isinstance(cls, type) and cls.__module__ == module.__name__ and hasattr(cls, "model_fields")):
                continue
            if cname == "FHIRPrimitiveExtension":
                continue
            if issubclass(cls, resource_base):
                kind = "resource"
            elif issubclass(cls, backbone_base) and cls is not backbone_base:
                kind = "backbone"
            else:
                kind = "complex"
            parent = cls.__mro__[1].__name__
            fields = {(f.alias or n): f for n, f in cls.model_fields.items()}
            order = cls.elements_sequence()
            groups = {}
            try:
                groups = cls.get_one_of_many_fields(cls.model_construct())  # type: ignore[arg-type]
            except Exception:  # pragma: no cover - classes without choices
                groups = {}
            key_to_group = {k: g for g, ks in groups.items() for k in ks}
            elements: list[dict[str, typing.Any]] = []
            emitted_groups: dict[str, dict[str, typing.Any]] = {}
            for key in order:
                f = fields.get(key)
                if f is None:
                    continue
                extra = f.json_schema_extra or {}
                if not extra.get("element_property"):
                    continue
                ann, is_list = _unwrap(f.annotation)
                prim = _primitive_code(ann)
                tcode = prim or _complex_name(ann)
                if tcode is None:
                    if typing.get_origin(ann) is typing.Union or "Union" in repr(ann):
                        tcode = "string"
                    else:  # pragma: no cover
                        raise RuntimeError(f"{cname}.{key}: cannot map {f.annotation!r}")
                group = extra.get("one_of_many") or key_to_group.get(key)
                if group:
                    el = emitted_groups.get(group)
                    if el is None:
                        el = {"name": f"{group}[x]", "types": [], "min": 0, "max": "1"}
                        emitted_groups[group] = el
                        elements.append(el)
                    if extra.get("one_of_many_required"):
                        el["min"] = 1
                    suffix = key[len(group):]
                    if prim is None:
                        tcode = suffix  # the JSON suffix is the FHIR type name for complex types
                    el["types"].append([tcode, key])
                    continue
                el = {"name": key, "types": [[tcode, key]], "min": 0, "max": "*" if is_list else "1"}
                if f.is_required() or extra.get("element_required"):
                    el["min"] = 1
                path = f"{cname}.{key}"
                enum = fixes.get(path) or extra.get("enum_values")
                if enum and prim == "code" and "+" not in enum:
                    el["enum"] = list(enum)
                targets = extra.get("enum_reference_types")
                if targets:
                    el["targets"] = list(targets)
                elements.append(el)
            types[cname] = {"kind": kind, "parent": parent, "elements": elements}
    return {
        "fhirVersion": FHIR_VERSIONS[version],
        "generatedFrom": f"fhir.resources {importlib.import_module('fhir.resources').__version__} ({pkg_name})",
        "types": types,
    }


def main(argv: list[str] | None = None) -> int:
    versions = argv or list(PACKAGES)
    DATA.mkdir(exist_ok=True)
    for version in versions:
        plan = generate(version)
        out = DATA / f"base-{version}.json"
        out.write_text(json.dumps(plan, separators=(",", ":"), sort_keys=False), encoding="utf-8")
        print(f"{out}: {len(plan['types'])} types")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
