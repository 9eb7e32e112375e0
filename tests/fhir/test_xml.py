"""FHIR XML <-> JSON conversion."""

from __future__ import annotations

import json

import pytest

from tests.fhir.bgz_fixture import bundle
from tests.fhir.conftest import PACKAGES, require_package
from validatiestraat.fhir import get_validator
from validatiestraat.fhir.xml import FhirXmlError, json_to_xml, xml_to_json

PATIENT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Patient xmlns="http://hl7.org/fhir">
  <!-- a comment is dropped -->
  <id value="p1"/>
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>Jan <b>Jansen</b></p></div></text>
  <contained>
    <Organization><id value="o1"/><name value="Org"/></Organization>
  </contained>
  <extension url="http://example.test/ext"><valueBoolean value="true"/></extension>
  <identifier><system value="urn:x"/><value value="1"/></identifier>
  <active value="true"/>
  <name id="n1">
    <family value="Jansen"><extension url="http://hl7.org/fhir/StructureDefinition/humanname-own-name"><valueString value="Jansen"/></extension></family>
    <given value="Jan"/>
    <given><extension url="http://example.test/no-value"><valueCode value="x"/></extension></given>
    <given value="Piet"/>
  </name>
  <birthDate value="1970-01-01"/>
  <multipleBirthInteger value="2"/>
  <managingOrganization><reference value="#o1"/></managingOrganization>
</Patient>
"""


def test_xml_to_json_follows_the_fhir_rules() -> None:
    d = xml_to_json(PATIENT_XML, "stu3")
    assert d["resourceType"] == "Patient"
    assert d["id"] == "p1"
    assert d["active"] is True  # typed boolean
    assert d["multipleBirthInteger"] == 2  # typed integer
    assert d["identifier"] == [{"system": "urn:x", "value": "1"}]  # repeating -> array even once
    name = d["name"][0]
    assert name["id"] == "n1"  # id attribute on a datatype
    assert name["family"] == "Jansen"
    assert name["_family"]["extension"][0]["valueString"] == "Jansen"
    assert name["given"] == ["Jan", None, "Piet"]  # aligned arrays
    assert name["_given"] == [None, {"extension": [{"url": "http://example.test/no-value", "valueCode": "x"}]}, None]
    assert d["extension"][0] == {"url": "http://example.test/ext", "valueBoolean": True}  # url attribute
    assert d["contained"][0] == {"resourceType": "Organization", "id": "o1", "name": "Org"}
    assert d["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml"><p>Jan <b>Jansen</b></p></div>'
    res = get_validator("stu3").validate(d)
    assert res.ok, [str(i) for i in res.errors]


def test_round_trip_json_xml_json() -> None:
    b = bundle()
    xml = json_to_xml(b, "stu3")
    assert xml.startswith('<Bundle xmlns="http://hl7.org/fhir">')
    assert "<resource>\n      <Patient>" in xml
    assert json.loads(json.dumps(xml_to_json(xml, "stu3"))) == json.loads(json.dumps(b))


def test_element_order_follows_the_definition() -> None:
    xml = json_to_xml({"resourceType": "Patient", "gender": "male", "id": "x", "active": True, "identifier": [{"value": "1"}]}, "stu3")
    order = [line.strip().split()[0] for line in xml.splitlines()[1:-1]]
    assert order == ["<id", "<identifier>", "<value", "</identifier>", "<active", "<gender"]


def test_unknown_and_wrongly_typed_content_is_kept_for_the_validator() -> None:
    d = xml_to_json('<Patient xmlns="http://hl7.org/fhir"><active value="yes"/><foo value="1"/><gender value="male"/><gender value="female"/></Patient>', "stu3")
    assert d["active"] == "yes"
    assert d["foo"] == "1"
    assert d["gender"] == ["male", "female"]
    res = get_validator("stu3").validate(d)
    codes = {(i.path, i.code) for i in res.errors}
    assert ("Patient.active", "json-type") in codes
    assert ("Patient.foo", "unknown-element") in codes
    assert ("Patient.gender", "array") in codes


def test_bad_xml_is_located() -> None:
    with pytest.raises(FhirXmlError) as exc:
        xml_to_json('<Patient xmlns="http://hl7.org/fhir">\n<active value="true">\n</Patient>', "stu3")
    assert exc.value.line == 3
    with pytest.raises(FhirXmlError):
        xml_to_json("<Patient/>", "stu3")  # not in the FHIR namespace


def test_entities_are_not_expanded() -> None:
    evil = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><id value="&e;"/></Patient>'
    try:
        d = xml_to_json(evil, "stu3")
    except FhirXmlError:
        return
    assert "root:" not in json.dumps(d)


@pytest.mark.parametrize("version", ["stu3", "r4"])
def test_every_package_file_round_trips(version: str) -> None:
    pkg = require_package(version)
    n = 0
    for f in sorted(pkg.rglob("*.xml")):
        d = xml_to_json(f.read_bytes(), version)
        assert xml_to_json(json_to_xml(d, version), version) == d, f
        n += 1
    assert n > 500
    assert PACKAGES[version] == pkg
