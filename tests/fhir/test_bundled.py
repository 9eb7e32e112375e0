"""The bundled essential profiles: they load, cover every BgZ resource type, accept real data."""

from __future__ import annotations

import json

import pytest

from tests.fhir.conftest import EXAMPLE_DIRS, require_package
from validatiestraat.fhir import get_validator
from validatiestraat.fhir.conformance import bundled_profiles_dir, load_json_or_xml

BGZ_TYPES = {
    "Patient", "Coverage", "Consent", "Observation", "Condition", "NutritionOrder", "Flag", "AllergyIntolerance",
    "MedicationStatement", "MedicationRequest", "MedicationDispense", "Medication", "DeviceUseStatement", "Device",
    "Immunization", "Procedure", "Encounter", "ProcedureRequest", "ImmunizationRecommendation", "Appointment",
    "DeviceRequest", "Practitioner", "PractitionerRole", "Organization",
}


def test_bundled_profiles_compile_and_cover_the_bgz_types() -> None:
    v = get_validator("stu3")
    types = set()
    n = 0
    for entry in v.registry.entries("StructureDefinition"):
        assert entry.source.bundled
        sd = entry.resource
        assert "validatiestraat's essential version" in sd["description"]
        assert sd["url"].startswith(("http://nictiz.nl/fhir/StructureDefinition/", "http://fhir.nl/fhir/StructureDefinition/"))
        cp = v.profile(entry.url)
        assert cp is not None and not cp.notes, (entry.url, cp and cp.notes)
        types.add(cp.type)
        n += 1
    assert BGZ_TYPES <= types, BGZ_TYPES - types
    assert n >= 35
    for entry in v.registry.entries("ValueSet"):
        idx = v.terminology.value_set(entry.url)
        assert not idx.missing and idx.codes


def test_bundled_files_are_json_with_version_prefix() -> None:
    d = bundled_profiles_dir()
    files = sorted(d.glob("stu3-*.json"))
    assert files
    for f in files:
        res = json.loads(f.read_text(encoding="utf-8"))
        assert res["resourceType"] in ("StructureDefinition", "ValueSet")


def test_reports_name_the_bundled_source_and_version() -> None:
    v = get_validator("stu3")
    res = v.validate({
        "resourceType": "Patient", "id": "p1",
        "meta": {"profile": ["http://fhir.nl/fhir/StructureDefinition/nl-core-patient"]},
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999911120"}],
    })
    assert res.ok, res.errors
    assert res.profiles_used == [{
        "url": "http://fhir.nl/fhir/StructureDefinition/nl-core-patient", "version": "2.2.4",
        "source": "validatiestraat (bundled essential profiles)",
    }]


def test_package_takes_precedence_over_bundled() -> None:
    pkg = require_package("stu3")
    v = get_validator("stu3", packages=(str(pkg),))
    entry = v.registry.resolve("http://fhir.nl/fhir/StructureDefinition/nl-core-patient")
    assert entry is not None and not entry.source.bundled
    assert entry.source.label == "nictiz.fhir.nl.stu3.zib2017#2.2.18"


def test_package_examples_are_valid_against_the_bundled_profiles() -> None:
    """No false errors: the official examples also pass our essential versions."""
    require_package("stu3")
    v = get_validator("stu3")
    failures = {}
    for f in sorted(EXAMPLE_DIRS["stu3"].iterdir()):
        res = v.validate(load_json_or_xml(f.read_bytes(), "stu3"))
        if not res.ok:
            failures[f.name] = [str(i) for i in res.errors[:3]]
    assert not failures, failures


def _dva_bundles():
    try:
        from validatiestraat.reference.data.bgz import all_compartments
    except ImportError as exc:  # pragma: no cover - the reference DVA is another module
        pytest.skip(f"reference DVA data not available: {exc}")
    for person, comp in all_compartments().items():
        entries = [
            {"fullUrl": f"https://dva.test/fhir/{rt}/{rid}", "resource": r, "search": {"mode": "match"}}
            for (rt, rid), r in comp.items()
        ]
        yield person, {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def test_reference_dva_bgz_data_has_no_errors_against_the_bundled_profiles() -> None:
    v = get_validator("stu3")
    n = 0
    for person, bundle in _dva_bundles():
        res = v.validate(bundle)
        assert res.ok, (person, [str(i) for i in res.errors])
        assert not [i for i in res.issues if i.code == "profile-not-found"], person
        n += len(bundle["entry"])
    assert n > 50
