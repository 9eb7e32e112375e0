"""The FHIR STU3 resource server: the 28 BgZ queries, read, errors, bearer rules, formats."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from fhir.resources.STU3.bundle import Bundle
from lxml import etree

from validatiestraat.reference.data.bgz import BSN_SYSTEM

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"

# The BgZ queries of the Nictiz Cert XIS-Server script (qualification-material.md §3), with what
# test person 1 must get back: (query, match ids, include "Type/id"s).
BGZ = [
    ("Patient?_include=Patient:general-practitioner", {"p1-patient"}, {"Practitioner/prac-huisarts"}),
    ("Coverage?_include=Coverage:payor:Patient&_include=Coverage:payor:Organization",
     {"p1-coverage-basis", "p1-coverage-eigen"}, {"Organization/org-verzekeraar", "Patient/p1-patient"}),
    (f"Consent?category={SCT}|11291000146105", {"p1-consent-behandelgrens"}, set()),
    (f"Consent?category={SCT}|11341000146107", {"p1-consent-wilsverklaring"}, set()),
    (f"Observation/$lastn?category={SCT}|118228005,{SCT}|384821006",
     {"p1-status-lopen-2023", "p1-status-geheugen"}, set()),
    ("Condition", {"p1-condition-hypertensie", "p1-condition-diabetes", "p1-condition-uwi"}, set()),
    (f"Observation/$lastn?code={SCT}|365508006", {"p1-woonsituatie-2016"}, set()),
    (f"Observation?code={SCT}|228366006", {"p1-drugsgebruik-1"}, set()),
    (f"Observation?code={SCT}|228273003", {"p1-alcoholgebruik-1"}, set()),
    (f"Observation?code={SCT}|365980008", {"p1-tabakgebruik-1"}, set()),
    ("NutritionOrder", {"p1-voedingsadvies-1"}, set()),
    ("Flag", {"p1-alert-1"}, set()),
    ("AllergyIntolerance", {"p1-allergie-1"}, set()),
    ("MedicationStatement?category=urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3|6"
     "&_include=MedicationStatement:medication", {"p1-medicatiegebruik-paracetamol"}, {"Medication/med-paracetamol"}),
    (f"MedicationRequest?category={SCT}|16076005&_include=MedicationRequest:medication",
     {"p1-medicatieafspraak-metformine", "p1-medicatieafspraak-enalapril"},
     {"Medication/med-metformine", "Medication/med-enalapril"}),
    (f"MedicationDispense?category={SCT}|422037009&_include=MedicationDispense:medication",
     {"p1-toedieningsafspraak-metformine"}, {"Medication/med-metformine"}),
    ("DeviceUseStatement?_include=DeviceUseStatement:device", {"p1-hulpmiddel-glucosemeter"},
     {"Device/p1-device-glucosemeter"}),
    ("Immunization?status=completed", {"p1-vaccinatie-griep-2023"}, set()),
    (f"Observation/$lastn?code={LOINC}|85354-9", {"p1-bloeddruk-2024"}, set()),
    (f"Observation/$lastn?code={LOINC}|29463-7", {"p1-gewicht-2024"}, set()),
    (f"Observation/$lastn?code={LOINC}|8302-2,{LOINC}|8306-3,{LOINC}|8308-9", {"p1-lengte-2022"}, set()),
    (f"Observation/$lastn?category={SCT}|275711006&_include=Observation:related-target&_include=Observation:specimen",
     {"p1-lab-glucose-2024", "p1-lab-hba1c-2024"}, {"Specimen/p1-specimen-1", "Observation/p1-lab-hb-2024"}),
    (f"Procedure?category={SCT}|387713003", {"p1-verrichting-appendectomie"}, set()),
    ("Encounter?class=http://hl7.org/fhir/v3/ActCode|IMP,http://hl7.org/fhir/v3/ActCode|ACUTE,"
     "http://hl7.org/fhir/v3/ActCode|NONAC", {"p1-contact-opname-1995"}, set()),
    ("ProcedureRequest?status=active", {"p1-geplandeverrichting-coloscopie-2026"}, set()),
    ("ImmunizationRecommendation", {"p1-vaccinatieadvies-griep-2025"}, set()),
    ("Appointment?status=booked,pending,proposed", {"p1-afspraak-controle-2026"}, set()),
    ("DeviceRequest?status=active&_include=DeviceRequest:device", {"p1-hulpmiddelaanvraag-bloeddrukmeter"},
     {"Device/p1-device-bloeddrukmeter"}),
]
assert len(BGZ) == 28


@pytest.fixture(scope="module")
def dva(lenient_dva):
    """These tests exercise the search engine beyond the gegevensdienst's queries: a lenient server
    (strict mode has its own tests in test_strict.py)."""
    return lenient_dva


@pytest.fixture(scope="module")
def token1(pgo):
    return pgo.tokens()["access_token"]


@pytest.fixture(scope="module")
def token2(pgo):
    fields = {"username": "proefpersoon", "password": "validatiestraat-test"}
    return pgo.tokens(fields=fields)["access_token"]


def split(entries):
    match = {e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"}
    include = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries
               if e["search"]["mode"] == "include"}
    return match, include


@pytest.mark.parametrize("query,matches,includes", BGZ, ids=[q for q, _, _ in BGZ])
def test_bgz_query_person1(pgo, token1, query, matches, includes):
    r = pgo.get("/" + query, token1, headers={"MedMij-Request-ID": "req-1", "X-Correlation-ID": "corr-1"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/fhir+json; fhirVersion=3.0"
    assert r.headers["medmij-request-id"] == "req-1"
    bundle = r.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    entries = bundle.get("entry", [])
    assert split(entries) == (matches, includes)
    assert bundle["total"] == len(matches)
    for e in entries:
        res = e["resource"]
        assert e["fullUrl"] == f"{pgo.fhir}/{res['resourceType']}/{res['id']}"
    # the self link reflects every request parameter
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    sent = sorted(parse_qsl(urlsplit("http://x/" + query).query))
    assert sorted(parse_qsl(urlsplit(self_link).query)) == sent
    assert urlsplit(self_link).path == urlsplit(pgo.fhir + "/" + query.split("?")[0]).path
    assert BSN_SYSTEM not in r.text


@pytest.mark.parametrize("query", [q for q, _, _ in BGZ], ids=[q for q, _, _ in BGZ])
def test_bgz_query_person2_has_data(pgo, token2, query):
    r = pgo.get("/" + query, token2)
    assert r.status_code == 200
    entries = r.json().get("entry", [])
    assert any(e["search"]["mode"] == "match" for e in entries)
    assert all(e["resource"]["id"].startswith("p2-") for e in entries if e["search"]["mode"] == "match")
    assert "p1-" not in r.text


def test_bgz_queries_as_xml(pgo, token1):
    for query, matches, includes in BGZ:
        r = pgo.get("/" + query, token1, headers={"Accept": "application/fhir+xml; fhirVersion=3.0"})
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/fhir+xml; fhirVersion=3.0"
        root = etree.fromstring(r.content)
        ns = {"f": "http://hl7.org/fhir"}
        assert root.tag == "{http://hl7.org/fhir}Bundle"
        assert root.find("f:type", ns).get("value") == "searchset"
        assert len(root.findall("f:entry", ns)) == len(matches) + len(includes)
    r = pgo.get("/Patient", token1, params={"_format": "xml"}, headers={"Accept": "*/*"})
    assert r.headers["content-type"].startswith("application/fhir+xml")


def test_read_and_references_resolve(pgo, token1):
    r = pgo.get("/Patient/p1-patient", token1)
    assert r.status_code == 200 and r.json()["id"] == "p1-patient"
    r = pgo.get("/Practitioner/prac-huisarts", token1)
    assert r.status_code == 200
    # another person's resource is not there for this token
    r = pgo.get("/Patient/p2-patient", token1)
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"


def test_zero_matches_is_an_empty_searchset(pgo, token1):
    r = pgo.get("/Observation", token1, params={"code": "http://loinc.org|0000-0"})
    assert r.status_code == 200
    b = r.json()
    assert b["type"] == "searchset" and b["total"] == 0 and "entry" not in b


def test_search_parameters(pgo, token1):
    def ids(path, **params):
        r = pgo.get(path, token1, params=params)
        assert r.status_code == 200, r.text
        return {e["resource"]["id"] for e in r.json().get("entry", []) if e["search"]["mode"] == "match"}

    assert ids("/Condition", **{"clinical-status": "resolved"}) == {"p1-condition-uwi"}
    assert ids("/Observation", code="365508006") == {"p1-woonsituatie-2010", "p1-woonsituatie-2016"}
    assert ids("/Observation", code="|365508006") == set()  # explicitly no system
    assert ids("/Observation", code=f"{SCT}|") >= {"p1-woonsituatie-2016", "p1-drugsgebruik-1"}
    assert ids("/Observation", date="ge2024-01-01", code=f"{LOINC}|85354-9") == {"p1-bloeddruk-2024"}
    assert ids("/Observation", date="lt2023", code=f"{LOINC}|85354-9") == {"p1-bloeddruk-2022"}
    assert ids("/Appointment", date="ge2026-01-01") == {"p1-afspraak-controle-2026"}
    assert ids("/Patient", family="xxx_test") == {"p1-patient"}
    assert ids("/Patient", _id="p1-patient") == {"p1-patient"}
    assert ids("/MedicationDispense") == {"p1-toedieningsafspraak-metformine", "p1-verstrekking-metformine"}
    assert ids("/Observation/$lastn", code=f"{LOINC}|85354-9", max="5") == {"p1-bloeddruk-2022", "p1-bloeddruk-2024"}
    assert ids("/Condition", unknownparam="x") == ids("/Condition")  # unknown parameters are ignored
    # POST [type]/_search with a form body
    r = pgo.back.post(pgo.fhir + "/Consent/_search", data={"category": f"{SCT}|11291000146105"},
                      headers={"Authorization": f"Bearer {token1}"})
    assert r.status_code == 200
    assert {e["resource"]["id"] for e in r.json()["entry"]} == {"p1-consent-behandelgrens"}
    assert "category=" in r.json()["link"][0]["url"]


def test_bad_date_value_is_a_400_operation_outcome(pgo, token1):
    r = pgo.get("/Observation", token1, params={"date": "gisteren"})
    assert r.status_code == 400
    assert r.json()["resourceType"] == "OperationOutcome"


def test_unknown_type_and_path_is_404_operation_outcome(pgo, token1):
    for path in ("/Goal", "/NoSuchType", "/Patient/p1-patient/_history/1", ""):
        r = pgo.get(path, token1)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/fhir+json")
        assert r.json()["resourceType"] == "OperationOutcome"


def test_read_only(pgo, token1):
    r = pgo.back.put(pgo.fhir + "/Patient/p1-patient", json={"resourceType": "Patient"},
                     headers={"Authorization": f"Bearer {token1}"})
    assert r.status_code == 405 and r.json()["resourceType"] == "OperationOutcome"


def test_capability_statement(pgo, token1):
    r = pgo.get("/metadata", token1)
    assert r.status_code == 200
    cs = r.json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "3.0.2"
    from fhir.resources.STU3.capabilitystatement import CapabilityStatement

    CapabilityStatement.model_validate(cs)


def test_fhir_version_negotiation(pgo, token1):
    r = pgo.get("/Patient", token1, headers={"Accept": "application/fhir+json; fhirVersion=4.0"})
    assert r.status_code == 406
    assert r.json()["resourceType"] == "OperationOutcome"
    r = pgo.get("/Patient", token1, params={"_format": "text/turtle"})
    assert r.status_code == 406
    r = pgo.get("/Patient", token1, headers={"Accept": "application/json"})
    assert r.status_code == 200


# ---------------------------------------------------------------------- bearer token rules
def test_no_authorization_header_is_401_with_challenge(pgo):
    r = pgo.get("/Patient", None)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer ")
    assert 'realm="' in r.headers["www-authenticate"]
    assert "error=" not in r.headers["www-authenticate"]
    assert r.json()["resourceType"] == "OperationOutcome"
    assert r.headers["content-type"].startswith("application/fhir+json")


def test_invalid_token_is_401_invalid_token(pgo):
    r = pgo.get("/Patient", "not-a-token")
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert r.json()["resourceType"] == "OperationOutcome"
    r = pgo.get("/Patient", None, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401


def test_token_in_query_or_form_is_refused(pgo, token1):
    r = pgo.get("/Patient", None, params={"access_token": token1})
    assert r.status_code in (400, 401) and "entry" not in r.text
    assert 'error="invalid_request"' in r.headers["www-authenticate"]
    r = pgo.back.post(pgo.fhir + "/Patient/_search", data={"access_token": token1})
    assert r.status_code in (400, 401) and "entry" not in r.text
    # also when a header is present: more than one method
    r = pgo.get("/Patient", token1, params={"access_token": token1})
    assert r.status_code == 400


def test_token_of_another_client_is_refused(pgo, token1):
    r = pgo.get("/Patient", token1, client=pgo.other)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_token_for_another_gegevensdienst_is_403(pgo):
    tokens = pgo.tokens(scope=pgo.target["options"]["other_service_scope"])
    assert tokens["scope"] == "referentiezorgaanbieder~49"
    r = pgo.get("/Patient", tokens["access_token"])
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    assert r.json()["resourceType"] == "OperationOutcome"


def test_scope_1x_form_for_48_reads_data(pgo):
    tokens = pgo.tokens(scope="referentiezorgaanbieder~48")
    assert pgo.get("/Patient", tokens["access_token"]).status_code == 200


def test_expired_access_token_is_refused(make_pgo):
    import time

    p = make_pgo(access_token_lifetime=0.3, strict=False)
    tokens = p.tokens()
    assert tokens["expires_in"] == 1
    assert p.get("/Patient", tokens["access_token"]).status_code == 200
    time.sleep(0.4)
    r = p.get("/Patient", tokens["access_token"])
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


def test_head_request(pgo, token1):
    r = pgo.back.head(pgo.fhir + "/Patient", headers={"Authorization": f"Bearer {token1}"})
    assert r.status_code == 200 and r.content == b""
