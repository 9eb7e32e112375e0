"""Conformance sources: directories, files, npm tarballs, snapshots, versions, the API contract."""

from __future__ import annotations

import copy
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.fhir.bgz_fixture import TEST_PACKAGE, TEST_OBS
from validatiestraat.fhir import Issue, ValidationResult, get_validator
from validatiestraat.fhir.conformance import ConformanceError, Registry
from validatiestraat.fhir.validator import Validator
from validatiestraat.fhir.xml import json_to_xml

SD_PRACT = TEST_PACKAGE / "package" / "StructureDefinition-test-practitioner.json"


def _tarball(tmp_path: Path, files: dict[str, bytes]) -> Path:
    p = tmp_path / "pkg.tgz"
    with tarfile.open(p, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return p


def test_npm_tarball_json_and_xml(tmp_path) -> None:
    sd = json.loads(SD_PRACT.read_text())
    sd_xml = json_to_xml({**sd, "url": sd["url"] + "-xml", "id": "x"}, "stu3").encode()
    tgz = _tarball(tmp_path, {
        "package/package.json": json.dumps({"name": "test.pkg", "version": "1.2.3"}).encode(),
        "package/StructureDefinition-a.json": json.dumps(sd).encode(),
        "package/StructureDefinition-b.xml": sd_xml,
        "package/example/Patient-ignored.json": b'{"resourceType": "Patient"}',
    })
    reg = Registry("stu3")
    src = reg.add_path(tgz)
    assert src.label == "test.pkg#1.2.3"
    assert reg.resolve(sd["url"]).resource["type"] == "Practitioner"
    assert reg.resolve(sd["url"] + "-xml").resource["differential"]["element"][1]["min"] == 1
    v = Validator("stu3", (str(tgz),))
    res = v.validate({"resourceType": "Practitioner", "meta": {"profile": [sd["url"] + "-xml"]}})
    assert not res.ok and res.profiles_used[0]["source"] == "test.pkg#1.2.3"


def test_resolve_by_version(tmp_path) -> None:
    sd = json.loads(SD_PRACT.read_text())
    d1, d2 = tmp_path / "a", tmp_path / "b"
    d1.mkdir()
    d2.mkdir()
    (d1 / "sd.json").write_text(json.dumps({**sd, "version": "1.0.0"}))
    (d2 / "sd.json").write_text(json.dumps({**sd, "version": "2.0.0"}))
    reg = Registry("stu3")
    reg.add_path(d1)
    reg.add_path(d2)
    assert reg.resolve(sd["url"]).version == "1.0.0"  # first source wins
    assert reg.resolve(sd["url"] + "|2.0.0").version == "2.0.0"


def test_snapshot_only_profile_is_compiled(tmp_path) -> None:
    sd = json.loads(SD_PRACT.read_text())
    snap = copy.deepcopy(sd)
    snap["url"] = "http://validatiestraat.test/fhir/StructureDefinition/snapshot-only"
    snap["snapshot"] = {"element": [
        {"id": "Practitioner", "path": "Practitioner", "min": 0, "max": "*"},
        {"id": "Practitioner.id", "path": "Practitioner.id", "min": 0, "max": "1", "type": [{"code": "id"}]},
        {"id": "Practitioner.active", "path": "Practitioner.active", "min": 1, "max": "1", "type": [{"code": "boolean"}]},
        {"id": "Practitioner.name", "path": "Practitioner.name", "min": 0, "max": "*", "type": [{"code": "HumanName"}],
         "constraint": [{"key": "ele-1", "severity": "error", "human": "x", "expression": "hasValue() or (children().count() > id.count())"}]},
    ]}
    del snap["differential"]
    (tmp_path / "snap.json").write_text(json.dumps(snap))
    v = Validator("stu3", (str(tmp_path),))
    cp = v.profile(snap["url"])
    assert cp is not None and not cp.notes
    res = v.validate({"resourceType": "Practitioner", "name": [{"family": "x"}]}, [snap["url"]])
    assert [(i.path, i.source) for i in res.errors] == [("Practitioner.active", "Practitioner.active")]


def test_missing_package_path_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(ConformanceError):
        Registry("stu3").add_path(tmp_path / "nope")


def test_broken_files_are_reported_not_fatal(tmp_path) -> None:
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "bad.xml").write_text("<StructureDefinition")
    reg = Registry("stu3")
    reg.add_path(tmp_path)
    assert len(reg.problems) == 2


def test_api_contract() -> None:
    v1 = get_validator("stu3")
    assert get_validator("stu3") is v1  # cached
    assert get_validator("3.0.2") is not None
    res = v1.validate({"resourceType": "Patient", "gender": "x"}, profiles=())
    assert isinstance(res, ValidationResult) and not res.ok
    issue = res.errors[0]
    assert isinstance(issue, Issue)
    assert (issue.severity, issue.path, issue.code) == ("error", "Patient.gender", "code-invalid")
    oo = res.to_operation_outcome()
    assert oo["resourceType"] == "OperationOutcome" and oo["issue"][0]["expression"] == ["Patient.gender"]
    assert get_validator("stu3").validate({"resourceType": "Patient"}).to_operation_outcome()["issue"][0]["severity"] == "information"
    with pytest.raises(ValueError):
        get_validator("dstu2")


def test_profile_for_entries_given_on_a_bundle() -> None:
    """--profile for another type than the Bundle applies to the entries of that type."""
    v = get_validator("stu3")
    b = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:6a3f1b2e-0000-4000-8000-000000000001", "resource": {"resourceType": "Patient", "identifier": [
            {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "1"}]}},
        {"fullUrl": "urn:uuid:6a3f1b2e-0000-4000-8000-000000000002", "resource": {"resourceType": "Organization", "name": "x"}},
    ]}
    res = v.validate(b, ["http://fhir.nl/fhir/StructureDefinition/nl-core-patient"])
    assert [(i.path, i.source) for i in res.errors] == [("Bundle.entry[0].resource.identifier[0].value", "nl-core-patient-bsn")]


def test_conforms_to_and_resolve_in_fhirpath(tmp_path) -> None:
    sd = {
        "resourceType": "StructureDefinition", "url": "http://validatiestraat.test/fhir/StructureDefinition/conforms",
        "name": "Conforms", "status": "draft", "kind": "resource", "abstract": False, "type": "Observation",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation", "derivation": "constraint",
        "differential": {"element": [{"id": "Observation", "path": "Observation", "constraint": [{
            "key": "conf-1", "severity": "error", "human": "performers conform to test-practitioner",
            "expression": "performer.all(resolve().conformsTo('http://validatiestraat.test/fhir/StructureDefinition/test-practitioner'))"}]}]},
    }
    (tmp_path / "sd.json").write_text(json.dumps(sd))
    v = Validator("stu3", (str(TEST_PACKAGE), str(tmp_path)))
    from tests.fhir.bgz_fixture import bundle

    b = bundle()
    b["entry"][8]["resource"]["meta"]["profile"].append(sd["url"])
    assert v.validate(b).ok
    del b["entry"][9]["resource"]["identifier"]
    res = v.validate(b)
    assert "conf-1" in {i.source for i in res.errors}, [str(i) for i in res.issues]
    assert TEST_OBS in b["entry"][8]["resource"]["meta"]["profile"]
