"""A small valid STU3 BgZ-like searchset used as the baseline for the mutation tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

NL = "http://fhir.nl/fhir/StructureDefinition/"
ZIB = "http://nictiz.nl/fhir/StructureDefinition/"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
BASE = "https://dva.test/fhir/"
TEST_PACKAGE = Path(__file__).with_name("data") / "testpkg"
TEST_OBS = "http://validatiestraat.test/fhir/StructureDefinition/test-observation"

_DIV = '<div xmlns="http://www.w3.org/1999/xhtml">Johan XXX_Helleman</div>'


def _cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"system": system, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c]}


def resources() -> list[dict[str, Any]]:
    patient = {
        "resourceType": "Patient", "id": "p1",
        "meta": {"profile": [NL + "nl-core-patient"]},
        "text": {"status": "generated", "div": _DIV},
        "identifier": [
            {"use": "official", "system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999911120"},
            {"system": "https://dva.test/patientnummer", "value": "12345"},
        ],
        "active": True,
        "name": [{
            "use": "official", "family": "XXX_Helleman",
            "_family": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/humanname-own-name", "valueString": "XXX_Helleman"}]},
            "given": ["Johan"],
            "_given": [{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier", "valueCode": "CL"}]}],
        }],
        "telecom": [{"system": "phone", "value": "06-12345645", "use": "home"}],
        "gender": "male",
        "birthDate": "1964-07-25",
        "address": [{"use": "home", "line": ["Knolweg 1000"], "city": "Stitswerd", "postalCode": "9999XA", "country": "NL"}],
        "generalPractitioner": [{"reference": "Practitioner/pr1", "display": "Huisarts"}],
    }
    practitioner = {
        "resourceType": "Practitioner", "id": "pr1",
        "meta": {"profile": [NL + "nl-core-practitioner"]},
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/agb-z", "value": "01234567"}],
        "name": [{"family": "Huisarts"}],
    }
    organization = {
        "resourceType": "Organization", "id": "o1",
        "meta": {"profile": [NL + "nl-core-organization"]},
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": "00000001"}],
        "type": [_cc("http://nictiz.nl/fhir/NamingSystem/organization-type", "V4", "Ziekenhuis")],
        "name": "Ziekenhuis",
    }
    bp = {
        "resourceType": "Observation", "id": "bp1",
        "meta": {"profile": [ZIB + "zib-BloodPressure"]},
        "status": "final",
        "category": [_cc("http://hl7.org/fhir/observation-category", "vital-signs")],
        "code": _cc(LOINC, "85354-9", "Blood pressure panel"),
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2020-01-01T10:00:00+01:00",
        "component": [
            {"code": _cc(LOINC, "8480-6"), "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
            {"code": _cc(LOINC, "8462-4"), "valueQuantity": {"value": 80, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
        ],
    }
    advance = {
        "resourceType": "Consent", "id": "ad1",
        "meta": {"profile": [ZIB + "zib-AdvanceDirective"]},
        "status": "active",
        "category": [
            _cc(SCT, "11341000146107", "Wilsverklaring"),
            _cc("urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.14.1", "VERB", "Verklaring"),
        ],
        "patient": {"reference": "Patient/p1"},
        "dateTime": "2019-05-01",
        "policyRule": "http://wetten.overheid.nl/",
    }
    treatment = {
        "resourceType": "Consent", "id": "td1",
        "meta": {"profile": [ZIB + "zib-TreatmentDirective"]},
        "modifierExtension": [{
            "url": ZIB + "zib-TreatmentDirective-TreatmentPermitted",
            "valueCodeableConcept": _cc("urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4", "JA", "Ja"),
        }],
        "status": "active",
        "category": [_cc(SCT, "11291000146105", "Behandelbeperking")],
        "patient": {"reference": "Patient/p1"},
        "policyRule": "http://wetten.overheid.nl/",
    }
    agreement = {
        "resourceType": "MedicationRequest", "id": "ma1",
        "meta": {"profile": [ZIB + "zib-MedicationAgreement"]},
        "status": "active", "intent": "order",
        "category": _cc(SCT, "16076005", "Medicatieafspraak"),
        "medicationCodeableConcept": _cc("urn:oid:2.16.840.1.113883.2.4.4.7", "2599", "IBUPROFEN"),
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2020-01-01",
    }
    dispense = {
        "resourceType": "MedicationDispense", "id": "md1",
        "meta": {"profile": [ZIB + "zib-Dispense"]},
        "status": "completed",
        "category": _cc(SCT, "373784005", "Verstrekking"),
        "medicationCodeableConcept": _cc("urn:oid:2.16.840.1.113883.2.4.4.7", "2599", "IBUPROFEN"),
        "subject": {"reference": "Patient/p1"},
    }
    test_obs = {
        "resourceType": "Observation", "id": "t1",
        "meta": {"profile": [TEST_OBS]},
        "identifier": [{"system": "urn:x", "value": "1", "period": {"start": "2020"}}, {"system": "urn:x", "value": "2"}],
        "status": "final",
        "code": {"text": "test"},
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "Practitioner/pr2"}],
        "valueQuantity": {"value": 1},
        "interpretation": _cc("http://hl7.org/fhir/v2/0078", "N"),
        "method": _cc("http://validatiestraat.test/fhir/CodeSystem/test-methods", "manual-left"),
        "component": [{"code": _cc(LOINC, "1-1")}, {"code": _cc(LOINC, "2-2"), "valueString": "short"}],
        "referenceRange": [{"low": {"value": 1}}, {"text": "normal"}],
    }
    test_practitioner = {
        "resourceType": "Practitioner", "id": "pr2",
        "identifier": [{"system": "urn:x", "value": "p2"}],
    }
    return [patient, practitioner, organization, bp, advance, treatment, agreement, dispense, test_obs, test_practitioner]


def bundle() -> dict[str, Any]:
    entries = []
    for r in resources():
        entries.append({"fullUrl": f"{BASE}{r['resourceType']}/{r['id']}", "resource": copy.deepcopy(r), "search": {"mode": "match"}})
    return {"resourceType": "Bundle", "id": "b1", "type": "searchset", "total": len(entries), "entry": entries}


# entry index by id, for the mutation table
IDX = {r["id"]: i for i, r in enumerate(resources())}
