"""R4 (4.0.1, with R4B models as the structural stand-in): the base layer and profiles."""

from __future__ import annotations

from tests.fhir.conftest import require_package
from validatiestraat.fhir import get_validator


def _codes(res):
    return {(i.path, i.code) for i in res.errors}


def test_r4_structure_differs_from_stu3() -> None:
    cond = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "subject": {"reference": "Patient/p1"},
    }
    assert get_validator("r4").validate(cond).ok
    stu3 = get_validator("stu3").validate(cond)
    assert ("Condition.clinicalStatus", "json-type") in _codes(stu3)  # a code in STU3


def test_r4_base_checks() -> None:
    v = get_validator("r4")
    res = v.validate({
        "resourceType": "Observation", "status": "done", "code": {"text": "x"},
        "valueQuantity": {"value": "1"}, "focus": [{"reference": "Patient 1"}], "instantiates": "x",
    })
    codes = _codes(res)
    assert ("Observation.status", "code-invalid") in codes
    assert ("Observation.valueQuantity.value", "json-type") in codes
    assert ("Observation.focus[0].reference", "reference") in codes
    assert ("Observation.instantiates", "unknown-element") in codes


def test_r4_bundle_rules() -> None:
    v = get_validator("r4")
    res = v.validate({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:8f7a6b1e-0000-4000-8000-000000000001", "resource": {"resourceType": "Patient"}}],
    })
    assert ("Bundle.entry[0]", "invariant") in _codes(res)  # bdl-3: request is required in a transaction


def test_r4_package_profile_applies() -> None:
    pkg = require_package("r4")
    v = get_validator("r4", packages=(str(pkg),))
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": ["http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient"]},
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999911120"}],
        "generalPractitioner": [{"reference": "Patient/x"}],
    }
    res = v.validate(patient)
    assert res.profiles_used and res.profiles_used[0]["url"].endswith("nl-core-Patient")
    assert any(i.path == "Patient.generalPractitioner[0].reference" for i in res.errors), [str(i) for i in res.errors]
