"""``validatiestraat validate``: exit codes, JSON and OperationOutcome output, located parse errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fhir.bgz_fixture import bundle
from tests.fhir.conftest import EXAMPLE_DIRS, require_package
from validatiestraat.cli import main
from validatiestraat.fhir.xml import json_to_xml


def _write(tmp_path: Path, name: str, content: str) -> str:
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    return str(p)


def test_valid_bundle_exits_0(tmp_path, capsys) -> None:
    b = bundle()
    b["entry"] = b["entry"][:8]  # without the test-only profile
    b["total"] = 8
    f = _write(tmp_path, "b.json", json.dumps(b))
    assert main(["validate", f]) == 0
    out = capsys.readouterr().out
    assert "0 error(s)" in out
    assert "validatiestraat (bundled essential profiles)" in out


def test_errors_exit_1_and_json_lists_every_issue(tmp_path, capsys) -> None:
    f = _write(tmp_path, "p.json", json.dumps({"resourceType": "Patient", "active": "yes", "gender": "mannelijk"}))
    assert main(["validate", f, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    issues = doc["files"][0]["issues"]
    assert {(i["path"], i["severity"]) for i in issues} >= {("Patient.active", "error"), ("Patient.gender", "error")}
    assert set(issues[0]) == {"severity", "path", "message", "profile", "source", "code"}


def test_operation_outcome_output(tmp_path, capsys) -> None:
    f = _write(tmp_path, "p.json", json.dumps({"resourceType": "Patient", "active": "yes"}))
    assert main(["validate", f, "--format", "outcome"]) == 1
    oo = json.loads(capsys.readouterr().out)
    assert oo["resourceType"] == "OperationOutcome"
    assert oo["issue"][0]["expression"] == ["Patient.active"]
    from validatiestraat.fhir import get_validator

    assert get_validator("stu3").validate(oo).ok


def test_xml_file_and_profile_option(tmp_path, capsys) -> None:
    xml = json_to_xml({"resourceType": "Patient", "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "123"}]}, "stu3")
    f = _write(tmp_path, "p.xml", xml)
    assert main(["validate", f]) == 0
    assert main(["validate", f, "--profile", "http://fhir.nl/fhir/StructureDefinition/nl-core-patient", "--json"]) == 1
    out = capsys.readouterr().out
    doc = json.loads(out[out.index("{"):])
    assert any(i["source"] == "nl-core-patient-bsn" for i in doc["files"][0]["issues"])


def test_unreadable_json_is_located_and_exits_4(tmp_path, capsys) -> None:
    f = _write(tmp_path, "bad.json", '{\n  "resourceType": "Patient",\n  "active": tru\n}')
    good = _write(tmp_path, "good.json", '{"resourceType": "Patient"}')
    assert main(["validate", f, good]) == 4
    out = capsys.readouterr().out
    assert f"{f}:3:" in out
    assert "good.json" in out  # the other file is still validated


def test_duplicate_json_keys_are_errors(tmp_path, capsys) -> None:
    f = _write(tmp_path, "dup.json", '{"resourceType": "Patient", "active": true, "active": false}')
    assert main(["validate", f]) == 1
    assert "duplicate JSON keys: active" in capsys.readouterr().out


def test_bad_usage_exits_4(tmp_path, capsys) -> None:
    assert main(["validate"]) == 4
    assert main(["validate", "x.json", "--fhir-version", "dstu2"]) == 4
    assert main(["validate", "x.json", "--package", str(tmp_path / "missing")]) == 4
    assert main(["validate", str(tmp_path / "missing.json")]) == 4


def test_package_option_with_real_examples(capsys) -> None:
    pkg = require_package("stu3")
    files = sorted(str(p) for p in EXAMPLE_DIRS["stu3"].glob("zib-Problem*.xml"))[:3]
    assert main(["validate", *files, "--package", str(pkg)]) == 0
    assert "nictiz.fhir.nl.stu3.zib2017#2.2.18" in capsys.readouterr().out


def test_help_has_an_example(capsys) -> None:
    assert main(["validate", "--help"]) == 0
    assert "examples:" in capsys.readouterr().out
