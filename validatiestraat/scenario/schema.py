"""The JSON Schema of scenario files, assembled from the registered step kinds and checks.

``validatiestraat scenarios schema`` prints it, so editors can use it for completion.
"""

from __future__ import annotations

import copy
from typing import Any

from validatiestraat.engine.plugins import CHECKS, STEP_KINDS, load_plugins

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
REQ_PATTERN = r"^[A-Z]+(-[A-Z]+)*-[0-9]{2}$"

COMMON_STEP_KEYS = {
    "name": {"type": "string", "pattern": ID_PATTERN, "description": "unique within the scenario"},
    "kind": {"type": "string"},
    "title": {"type": "string"},
    "requires": {
        "type": "array",
        "items": {"type": "string"},
        "description": "variables that must exist; otherwise the step's checks are skipped",
    },
    "when": {
        "type": "object",
        "description": ("run only if the target option is set (e.g. {option: long_lived_consent}) or the target "
                        "has a part (e.g. {has: other_client}); otherwise the checks are omitted"),
        "properties": {"option": {"type": "string"}, "equals": {}, "has": {"enum": ["other_client", "untrusted_client"]}},
        "oneOf": [{"required": ["option"]}, {"required": ["has"]}],
        "additionalProperties": False,
    },
    "timeout": {"type": "number", "exclusiveMinimum": 0},
    "sleep": {"type": ["number", "string"], "description": "seconds to wait before the step"},
    "expect": {
        "type": "array",
        "description": "checks; an item may also be a list of checks (e.g. a YAML alias of shared rules)",
        "items": {"anyOf": [{"$ref": "#/$defs/expectation"},
                            {"type": "array", "items": {"$ref": "#/$defs/expectation"}}]},
    },
    "capture": {
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/capture"},
    },
}

CAPTURE_SCHEMA = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 2,
    "properties": {
        "json": {"type": "string", "description": "JMESPath into the JSON response body"},
        "fhirpath": {"type": "string"},
        "header": {"type": "string"},
        "query": {"type": "string", "description": "query parameter of the redirect (authorize) or Location"},
        "value": {},
        "secret": {"type": "boolean", "description": "redact this value in every report"},
    },
    "additionalProperties": False,
}

META_KEYS = {
    "requirements": {"type": "array", "items": {"type": "string", "pattern": REQ_PATTERN}},
    "severity": {"enum": ["failure", "warning", "info"]},
    "title": {"type": "string"},
}


def build_schema() -> dict[str, Any]:
    load_plugins()
    expectation_props: dict[str, Any] = dict(META_KEYS)
    for name, check in sorted(CHECKS.items()):
        schema = copy.deepcopy(check.schema) if check.schema else {}
        if check.title:
            schema.setdefault("description", check.title)
        expectation_props[name] = schema
    step_variants = []
    for name, kind in sorted(STEP_KINDS.items()):
        props = dict(COMMON_STEP_KEYS)
        props.update(copy.deepcopy(kind.schema.get("properties", {})))
        props["kind"] = {"const": name}
        step_variants.append(
            {
                "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                "then": {
                    "properties": props,
                    "required": sorted(set(kind.schema.get("required", [])) | {"name", "kind"}),
                    "additionalProperties": False,
                },
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://validatiestraat.invalid/schemas/scenario.json",
        "title": "validatiestraat scenario",
        "type": "object",
        "required": ["id", "title", "role", "steps"],
        "additionalProperties": False,
        "patternProperties": {"^x-": {"description": "free extension keys, e.g. YAML anchors of shared checks"}},
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "role": {"enum": ["dva", "pgo", "lists", "tls"]},
            "gegevensdienst": {"type": ["string", "integer"]},
            "fhir_version": {"enum": ["stu3", "r4"]},
            "requirements": {"type": "array", "items": {"type": "string", "pattern": REQ_PATTERN}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "variables": {"type": "object"},
            "when": COMMON_STEP_KEYS["when"],
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
        },
        "$defs": {
            "step": {
                "type": "object",
                "oneOf": [
                    {"required": ["include"]},
                    {"required": ["kind"]},
                ],
                "properties": {"include": {"type": "string"}, "kind": {"enum": sorted(STEP_KINDS)}},
                "allOf": step_variants
                + [
                    {
                        "if": {"required": ["include"]},
                        "then": {
                            "properties": {"include": {"type": "string"}},
                            "additionalProperties": False,
                        },
                    }
                ],
            },
            "expectation": {
                "type": "object",
                "properties": expectation_props,
                "additionalProperties": False,
                "minProperties": 1,
            },
            "capture": CAPTURE_SCHEMA,
        },
    }
