"""Mutation suite: every kind of mistake is caught, at the expected location.

Each case takes the valid BgZ-like searchset from :mod:`tests.fhir.bgz_fixture`, breaks one
thing and expects an error (or, where marked, a warning) with exactly that FHIRPath-like
location, and with the expected machine code or rule source.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from tests.fhir.bgz_fixture import IDX, TEST_PACKAGE, _cc, bundle
from validatiestraat.fhir import get_validator

E = "Bundle.entry[{}].resource"
LOINC_ = "http://loinc.org"


def r(b: dict[str, Any], rid: str) -> dict[str, Any]:
    return b["entry"][IDX[rid]]["resource"]


def at(rid: str, rest: str = "") -> str:
    return E.format(IDX[rid]) + rest


def _set(rid: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def f(b: dict[str, Any]) -> None:
        r(b, rid)[key] = value
    return f


def _del(rid: str, key: str) -> Callable[[dict[str, Any]], None]:
    def f(b: dict[str, Any]) -> None:
        del r(b, rid)[key]
    return f


def _do(fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def f(b: dict[str, Any]) -> None:
        fn(b)
    return f


# (kind, mutation, expected path, expected code or source, severity)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str, str]] = [
    # --- JSON primitive types -------------------------------------------------------------
    ("boolean as string", _set("p1", "active", "true"), at("p1", ".active"), "json-type", "error"),
    ("boolean as number", _set("p1", "active", 1), at("p1", ".active"), "json-type", "error"),
    ("integer as string", _set("p1", "multipleBirthInteger", "2"), at("p1", ".multipleBirthInteger"), "json-type", "error"),
    ("decimal as string", _do(lambda b: r(b, "bp1")["component"][0]["valueQuantity"].__setitem__("value", "120")),
     at("bp1", ".component[0].valueQuantity.value"), "json-type", "error"),
    ("string as number", _do(lambda b: r(b, "p1")["name"][0].__setitem__("family", 12)), at("p1", ".name[0].family"), "json-type", "error"),
    ("positiveInt zero", _do(lambda b: r(b, "ma1").__setitem__("dispenseRequest", {"numberOfRepeatsAllowed": 0})),
     at("ma1", ".dispenseRequest.numberOfRepeatsAllowed"), "invalid-value", "error"),
    # --- FHIR regexes and lengths ---------------------------------------------------------
    ("date with month 13", _set("p1", "birthDate", "1990-13-01"), at("p1", ".birthDate"), "invalid-value", "error"),
    ("dateTime without timezone", _set("bp1", "effectiveDateTime", "2020-01-01T10:00:00"), at("bp1", ".effectiveDateTime"), "invalid-value", "error"),
    ("id longer than 64", _set("p1", "id", "x" * 65), at("p1", ".id"), "invalid-value", "error"),
    ("id with underscore", _set("o1", "id", "org_1"), at("o1", ".id"), "invalid-value", "error"),
    ("code with double space", _set("p1", "gender", "ma  le"), at("p1", ".gender"), "invalid-value", "error"),
    ("uri with a space", _do(lambda b: r(b, "o1")["identifier"][0].__setitem__("system", "http://a b")), at("o1", ".identifier[0].system"), "invalid-value", "error"),
    ("string with a control character", _do(lambda b: r(b, "o1").__setitem__("name", "Zieken\x07huis")), at("o1", ".name"), "invalid-value", "error"),
    ("narrative that is not xhtml", _do(lambda b: r(b, "p1")["text"].__setitem__("div", "<p>no div</p>")), at("p1", ".text.div"), "invalid-value", "error"),
    # --- empty values ---------------------------------------------------------------------
    ("empty string", _set("p1", "gender", ""), at("p1", ".gender"), "invalid-value", "error"),
    ("null", _set("p1", "birthDate", None), at("p1", ".birthDate"), "null", "error"),
    ("empty array", _set("p1", "telecom", []), at("p1", ".telecom"), "empty", "error"),
    ("empty object", _set("p1", "maritalStatus", {}), at("p1", ".maritalStatus"), "empty", "error"),
    ("element with only an id", _set("p1", "maritalStatus", {"id": "m"}), at("p1", ".maritalStatus"), "ele-1", "error"),
    ("primitive extension that is not an object", _set("p1", "_birthDate", "x"), at("p1", ".birthDate"), "json-type", "error"),
    ("misaligned primitive array", _do(lambda b: r(b, "p1")["name"][0].__setitem__("_given", [None, None])), at("p1", ".name[0]._given"), "array", "error"),
    # --- structure ------------------------------------------------------------------------
    ("unknown element", _set("p1", "foo", "bar"), at("p1", ".foo"), "unknown-element", "error"),
    ("choice type that does not exist", _set("p1", "deceasedString", "yes"), at("p1", ".deceasedString"), "unknown-element", "error"),
    ("two types for one choice", _do(lambda b: r(b, "p1").update(deceasedBoolean=False, deceasedDateTime="2020")), at("p1", ".deceased[x]"), "choice", "error"),
    ("array for a single element", _set("p1", "gender", ["male"]), at("p1", ".gender"), "array", "error"),
    ("object for a repeating element", _do(lambda b: r(b, "p1").__setitem__("name", r(b, "p1")["name"][0])), at("p1", ".name"), "array", "error"),
    ("base required element missing", _del("bp1", "status"), at("bp1", ".status"), "required", "error"),
    ("unknown resourceType", _do(lambda b: b["entry"].append({"fullUrl": "urn:uuid:00000000-0000-0000-0000-000000000001", "resource": {"resourceType": "Patiënt"}})),
     "Bundle.entry[10].resource", "resource-type", "error"),
    ("base required binding", _set("p1", "gender", "mannelijk"), at("p1", ".gender"), "code-invalid", "error"),
    ("base required binding in a list", _do(lambda b: r(b, "p1")["telecom"][0].__setitem__("system", "fax2")), at("p1", ".telecom[0].system"), "code-invalid", "error"),
    # --- native invariants ----------------------------------------------------------------
    ("ext-1: value and extensions", _do(lambda b: r(b, "p1")["name"][0]["_family"]["extension"][0].__setitem__("extension", [{"url": "a", "valueString": "b"}])),
     at("p1", ".name[0].family.extension[0]"), "ext-1", "error"),
    ("ext-1: neither value nor extensions", _do(lambda b: r(b, "o1").__setitem__("extension", [{"url": "http://x.test/e"}])), at("o1", ".extension[0]"), "ext-1", "error"),
    ("obs-6: value and dataAbsentReason", _do(lambda b: r(b, "bp1")["component"][0].__setitem__("dataAbsentReason", {"text": "x"})),
     at("bp1", ".component[0]"), "obs-6", "error"),
    ("per-1: period start after end", _do(lambda b: r(b, "t1").__setitem__("effectivePeriod", {"start": "2020-02-01", "end": "2020-01-01"})),
     at("t1", ".effectivePeriod"), "per-1", "error"),
    ("qty-3: unit code without system", _do(lambda b: r(b, "t1")["valueQuantity"].__setitem__("code", "kg")), at("t1", ".valueQuantity"), "qty-3", "error"),
    ("dom-2: nested contained", _do(lambda b: r(b, "o1").update(contained=[{"resourceType": "Organization", "id": "c1", "name": "x",
                                                                          "contained": [{"resourceType": "Organization", "id": "c2", "name": "y"}]}],
                                                               partOf={"reference": "#c1"})),
     at("o1", ".contained[0]"), "dom-2", "error"),
    ("dom-3: contained resource not referenced", _do(lambda b: r(b, "o1").__setitem__("contained", [{"resourceType": "Organization", "id": "c1", "name": "x"}])),
     at("o1", ".contained[0]"), "dom-3", "error"),
    # --- references and Bundles -----------------------------------------------------------
    ("malformed reference", _do(lambda b: r(b, "bp1")["subject"].__setitem__("reference", "Patient 1")), at("bp1", ".subject.reference"), "reference", "error"),
    ("reference to a resource type that is not allowed", _do(lambda b: r(b, "bp1")["subject"].__setitem__("reference", "Medication/m1")),
     at("bp1", ".subject.reference"), "reference", "error"),
    ("urn:uuid reference not in the Bundle", _do(lambda b: r(b, "bp1")["subject"].__setitem__("reference", "urn:uuid:9e8d3fa0-0000-4000-8000-000000000000")),
     at("bp1", ".subject.reference"), "reference", "error"),
    ("local reference without contained resource", _do(lambda b: r(b, "bp1")["subject"].__setitem__("reference", "#p9")), at("bp1", ".subject.reference"), "ref-1", "error"),
    ("reference resolves to the wrong type", _do(lambda b: r(b, "bp1").__setitem__("subject", {"reference": "https://dva.test/fhir/Organization/o1"})),
     at("bp1", ".subject.reference"), "reference", "error"),
    ("targetProfile: reference to another type than the profile allows", _do(lambda b: r(b, "p1")["generalPractitioner"][0].__setitem__("reference", "Patient/p1")),
     at("p1", ".generalPractitioner[0].reference"), "reference", "error"),
    ("duplicate fullUrl", _do(lambda b: b["entry"][IDX["o1"]].__setitem__("fullUrl", b["entry"][IDX["p1"]]["fullUrl"])),
     f"Bundle.entry[{IDX['o1']}].fullUrl", "bdl-7", "error"),
    ("entry.search outside a searchset", _do(lambda b: b.__setitem__("type", "collection") or b.pop("total")), "Bundle.entry[0].search", "bdl-2", "error"),
    ("total outside a searchset", _do(lambda b: b.__setitem__("type", "collection") or [e.pop("search") for e in b["entry"]]), "Bundle.total", "bdl-1", "error"),
    # --- profile: cardinality, fixed, pattern -------------------------------------------------
    ("profile min: missing required element", _del("ad1", "dateTime"), at("ad1", ".dateTime"), "Consent.dateTime", "error"),
    ("profile max 0: element not allowed", _set("md1", "dosageInstruction", [{"text": "1x daags"}]), at("md1", ".dosageInstruction"), "MedicationDispense.dosageInstruction", "error"),
    ("profile min on a child", _do(lambda b: r(b, "ma1").__delitem__("authoredOn")), at("ma1", ".authoredOn"), "MedicationRequest.authoredOn", "error"),
    ("fixed value", _set("ma1", "intent", "plan"), at("ma1", ".intent"), "fixed", "error"),
    ("fixed value in a slice child", _do(lambda b: r(b, "bp1")["component"][0]["valueQuantity"].__setitem__("code", "mmHg")),
     at("bp1", ".component[0].valueQuantity.code"), "fixed", "error"),
    ("pattern value", _do(lambda b: r(b, "t1").__setitem__("interpretation", _cc("http://other.test", "N"))), at("t1", ".interpretation"), "pattern", "error"),
    ("type not allowed by the profile", _do(lambda b: r(b, "t1").pop("valueQuantity") and r(b, "t1").__setitem__("valueBoolean", True)),
     at("t1", ".valueBoolean"), "type", "error"),
    ("maxLength", _do(lambda b: r(b, "t1")["component"][1].__setitem__("valueString", "much too long text")),
     at("t1", ".component[1].valueString"), "invalid-value", "error"),
    # --- slices ---------------------------------------------------------------------------
    ("slice min (pattern discriminator)", _do(lambda b: r(b, "bp1")["component"].pop(1)), at("bp1", ".component"), "slice", "error"),
    ("slice min on a fixed coding slice", _do(lambda b: r(b, "bp1").__setitem__("code", _cc(LOINC_, "8480-6"))), at("bp1", ".code.coding"), "slice", "error"),
    ("vital-signs category slice missing", _do(lambda b: r(b, "bp1").__setitem__("category", [_cc("http://hl7.org/fhir/observation-category", "laboratory")])),
     at("bp1", ".category"), "slice", "error"),
    ("slice min with a required binding (living will type)", _do(lambda b: r(b, "ad1")["category"][1]["coding"][0].__setitem__("code", "XX")),
     at("ad1", ".category"), "slice", "error"),
    ("required binding on a sliced coding", _do(lambda b: r(b, "o1")["type"][0]["coding"][0].__setitem__("code", "ZZ")), at("o1", ".type[0]"), "code-invalid", "error"),
    ("required modifier extension slice missing", _del("td1", "modifierExtension"), at("td1", ".modifierExtension"), "slice", "error"),
    ("extension checked against its definition", _do(lambda b: r(b, "td1")["modifierExtension"][0].pop("valueCodeableConcept") and
                                                       r(b, "td1")["modifierExtension"][0].__setitem__("valueString", "ja")),
     at("td1", ".modifierExtension[0].valueString"), "type", "error"),
    ("closed slicing: item matches no slice", _do(lambda b: r(b, "t1")["component"].append({"code": _cc(LOINC_, "3-3")})), at("t1", ".component[2]"), "slice", "error"),
    ("ordered slicing out of order", _do(lambda b: r(b, "t1")["component"].reverse()), at("t1", ".component[1]"), "slice", "error"),
    ("exists discriminator, slice max", _do(lambda b: r(b, "t1")["identifier"].append({"system": "urn:x", "value": "3", "period": {"start": "2021"}})),
     at("t1", ".identifier"), "slice", "error"),
    ("type discriminator, slice child rule", _do(lambda b: r(b, "t1").__setitem__("valueQuantity", {"unit": "kg"})), at("t1", ".valueQuantity.value"), "cardinality", "error"),
    ("profile discriminator via resolve()", _do(lambda b: r(b, "pr2").pop("identifier")), at("t1", ".performer"), "slice", "error"),
    ("openAtEnd: matched slice after an unmatched item", _do(lambda b: r(b, "t1")["referenceRange"].reverse()), at("t1", ".referenceRange[1]"), "slice", "error"),
    # --- BSN slice rules ------------------------------------------------------------------
    ("BSN slice: two BSNs", _do(lambda b: r(b, "p1")["identifier"].append({"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999911132"})),
     at("p1", ".identifier"), "slice", "error"),
    ("BSN slice: value missing", _do(lambda b: r(b, "p1")["identifier"][0].pop("value") and r(b, "p1")["identifier"][0].__setitem__("id", "bsn")),
     at("p1", ".identifier[0].value"), "Patient.identifier:BSN.value", "error"),
    ("BSN slice: not nine digits", _do(lambda b: r(b, "p1")["identifier"][0].__setitem__("value", "12345")), at("p1", ".identifier[0].value"), "nl-core-patient-bsn", "error"),
    ("BSN slice: letters", _do(lambda b: r(b, "p1")["identifier"][0].__setitem__("value", "99991112X")), at("p1", ".identifier[0].value"), "nl-core-patient-bsn", "error"),
    # --- FHIRPath invariants --------------------------------------------------------------
    ("FHIRPath invariant (postal code)", _do(lambda b: r(b, "p1")["address"][0].__setitem__("postalCode", "ABCDEF")), at("p1", ".address[0]"), "nl-postal-code-pattern", "error"),
    ("FHIRPath invariant with resolve()", _do(lambda b: r(b, "t1")["subject"].__setitem__("reference", "Organization/o1")), at("t1", ""), "test-1", "error"),
    ("FHIRPath invariant with hasValue()", _do(lambda b: r(b, "t1")["valueQuantity"].update(value=None) or r(b, "t1")["valueQuantity"].pop("value")
                                                  or r(b, "t1")["valueQuantity"].__setitem__("_value", {"extension": [{"url": "http://x.test/e", "valueString": "?"}]})),
     at("t1", ""), "test-2", "error"),
    ("required binding against a CodeSystem hierarchy", _do(lambda b: r(b, "t1")["method"]["coding"][0].__setitem__("code", "automatic")), at("t1", ".method"), "code-invalid", "error"),
    ("FHIRPath invariant with memberOf() (warning)", _do(lambda b: r(b, "t1")["method"]["coding"][0].__setitem__("code", "automatic")), at("t1", ""), "test-3", "warning"),
    ("extensible binding (warning)", _do(lambda b: r(b, "p1").__setitem__("maritalStatus", _cc("http://other.test/ms", "X"))), at("p1", ".maritalStatus"), "code-invalid", "warning"),
]

@pytest.fixture(scope="module")
def validator():
    return get_validator("stu3", packages=(str(TEST_PACKAGE),))


def test_baseline_is_valid(validator) -> None:
    res = validator.validate(bundle())
    assert res.ok, [str(i) for i in res.errors]
    assert not [i for i in res.issues if i.severity == "warning"], [str(i) for i in res.issues]
    assert len(res.profiles_used) == 9


def test_at_least_thirty_kinds() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("kind,mutate,path,what,severity", CASES, ids=[c[0] for c in CASES])
def test_mutation_is_caught_at_the_expected_location(validator, kind, mutate, path, what, severity) -> None:
    b = bundle()
    mutate(b)
    res = validator.validate(b)
    hits = [i for i in res.issues if i.severity == severity and i.path == path and (i.code == what or i.source == what)]
    assert hits, f"{kind}: expected {severity} {what} at {path}; got:\n" + "\n".join(
        f"  {i.severity} {i.path} {i.code} {i.source} {i.message}" for i in res.issues if i.severity != "information"
    )
    if severity == "error":
        assert not res.ok


def test_underscore_element_with_extension_satisfies_required(validator) -> None:
    b = bundle()
    obs = r(b, "bp1")
    del obs["status"]
    obs["_status"] = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}
    res = validator.validate(b)
    assert not [i for i in res.errors if i.path.endswith(".status")], [str(i) for i in res.errors]


def test_all_errors_in_one_pass(validator) -> None:
    """Nothing hides behind another error: unknown element, missing status and a double choice together."""
    b = bundle()
    obs = r(b, "bp1")
    obs["foo"] = 1
    del obs["status"]
    obs["valueString"] = "x"
    obs["valueBoolean"] = True
    res = validator.validate(b)
    paths = {(i.path, i.code) for i in res.errors}
    assert (at("bp1", ".foo"), "unknown-element") in paths
    assert (at("bp1", ".status"), "required") in paths
    assert (at("bp1", ".value[x]"), "choice") in paths


def test_missing_profile_is_a_warning_naming_the_url(validator) -> None:
    b = bundle()
    r(b, "o1")["meta"]["profile"].append("http://example.test/StructureDefinition/nope")
    res = validator.validate(b)
    assert res.ok
    w = [i for i in res.issues if i.code == "profile-not-found"]
    assert w and w[0].severity == "warning" and "http://example.test/StructureDefinition/nope" in w[0].message


def test_unknown_code_systems_are_not_checked_never_errors(validator) -> None:
    res = validator.validate({
        "resourceType": "Observation", "status": "final", "code": _cc("http://snomed.info/sct", "123"),
        "meta": {"profile": ["http://nictiz.nl/fhir/StructureDefinition/zib-LaboratoryTestResult-Observation"]},
        "category": [_cc("http://snomed.info/sct", "49581000146104"), _cc("http://snomed.info/sct", "275711006")],
    })
    assert res.ok, [str(i) for i in res.errors]
