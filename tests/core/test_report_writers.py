"""The writers show the three verdicts: results.json (against its schema), junit.xml, the rich
console summary and report.html, all through the Redactor."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from importlib import resources

import jsonschema
import pytest
from rich.console import Console

from validatiestraat.report.console import summary
from validatiestraat.report.model import RunResult, ScenarioResult, Status, worst
from validatiestraat.report.readiness import assess
from validatiestraat.report.redact import Redactor
from validatiestraat.report.writers import exchanges_document, html_report, junit_xml, results_document, write_reports

from tests.core.test_readiness import DVA_SCOPE, all_pass, check

SECRET = "s3cr3t-access-token-value"
NOTE = "token requests sent as JSON: the token endpoint refused form bodies"


def with_scenarios(result: RunResult) -> RunResult:
    seen: dict[str, list] = {}
    for c in result.checks:
        seen.setdefault(c.scenario, []).append(c.status)
    result.scenarios = [ScenarioResult(id=s, title=s, role="dva", file=f"{s}.yaml", started=result.started,
                                       finished=result.finished, duration_ms=1.0, status=worst(st))
                        for s, st in seen.items()]
    return result


def cases() -> dict[str, tuple[RunResult, str]]:
    blocked = [check(rid, Status.BLOCKED, f"no access token (sent Bearer {SECRET})", blocked_by=["AS-TOKEN-02"])
               for rid in ("RS-FHIR-01", "RS-FHIR-02")]
    return {
        "ready": (all_pass(), "READY"),
        "root-failure": (all_pass(drop=("AS-TOKEN-02", "RS-FHIR-01", "RS-FHIR-02"),
                                  extra=[check("AS-TOKEN-02", Status.FAIL, "token endpoint answered 400"), *blocked]),
                         "NOT READY"),
        "error": (all_pass(drop=("RS-PERF-01",), extra=[check("RS-PERF-01", Status.ERROR, "step timed out after 90 s")]),
                  "INCOMPLETE"),
        "untested": (all_pass(drop=("AS-TOKEN-07",)), "INCOMPLETE"),
        "out-of-scope": (all_pass(), "READY"),
        "subset": (all_pass({**DVA_SCOPE, "subset": True, "selection": {"k": ["*code*"]}}), "INCOMPLETE"),
        "warning": (all_pass(drop=("AS-AUTHZ-03",), extra=[check("AS-AUTHZ-03", Status.WARNING, "redirected [⚠]")]),
                    "READY"),
        "degraded": (all_pass(extra=[check("AS-TOKEN-02", degraded=NOTE, n=2)]), "READY"),
    }


@pytest.fixture(scope="module")
def schema():
    text = resources.files("validatiestraat.report").joinpath("schemas/results.schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


@pytest.mark.parametrize("name", list(cases()))
def test_results_json_validates_and_carries_the_verdict(name, schema):
    result, verdict = cases()[name]
    result = with_scenarios(result)
    readiness = assess(result)
    doc = results_document(result, readiness, Redactor({SECRET}))
    schema.validate(json.loads(json.dumps(doc)))
    assert doc["verdict"] == verdict and doc["ready"] == (verdict == "READY")
    assert doc["exit_code"] == (0 if verdict == "READY" else 3)
    assert doc["scope"]["role"] == "dva" and "blocked" in doc["counts"]
    assert SECRET not in json.dumps(doc)
    reqs = {r["id"]: r for r in doc["requirements"]}
    assert reqs["AS-TOKEN-15"]["in_scope"] is False and reqs["AS-TOKEN-15"]["status"] == "untested"
    assert reqs["AS-TOKEN-15"]["applies_when"] == {"option": "abonneren"}
    assert "abonneren" in reqs["AS-TOKEN-15"]["scope_reason"]
    if verdict == "READY":
        assert doc["incomplete"] == [] and doc["blocking"] == []


def test_results_json_of_a_root_failure():
    result, _ = cases()["root-failure"]
    doc = results_document(with_scenarios(result), assess(result), Redactor({SECRET}))
    assert doc["blocking"] == [{"requirement": "AS-TOKEN-02", "reason": "token endpoint answered 400"}]
    reqs = {r["id"]: r for r in doc["requirements"]}
    assert reqs["RS-FHIR-01"]["status"] == "blocked" and reqs["RS-FHIR-01"]["blocked_by"] == ["AS-TOKEN-02"]
    assert reqs["RS-FHIR-01"]["blocking"] is False
    blocked_checks = [c for c in doc["checks"] if c["status"] == "blocked"]
    assert blocked_checks and all(c["blocked_by"] == ["AS-TOKEN-02"] for c in blocked_checks)
    assert all(SECRET not in c["reason"] and "[REDACTED:" in c["reason"] for c in blocked_checks)
    assert {i["id"] for i in doc["incomplete"]} == {"RS-FHIR-01", "RS-FHIR-02"}
    assert doc["counts"]["blocked"] == 2


def test_results_json_lists_what_was_not_judged():
    result, _ = cases()["untested"]
    doc = results_document(with_scenarios(result), assess(result), Redactor(set()))
    (item,) = doc["incomplete"]
    assert item["id"] == "AS-TOKEN-07" and item["status"] == "untested"
    assert "not tested in this run" in item["reason"] and "code_lifetime_seconds" in item["how_to_test"]
    result, _ = cases()["subset"]
    doc = results_document(with_scenarios(result), assess(result), Redactor(set()))
    assert doc["incomplete"][0]["id"] is None and doc["incomplete"][0]["status"] == "subset"
    assert doc["scope"]["subset"] is True


def test_degraded_notes():
    result, _ = cases()["degraded"]
    doc = results_document(with_scenarios(result), assess(result), Redactor(set()))
    assert doc["degraded"] == [NOTE]
    assert [c["degraded"] for c in doc["checks"] if "degraded" in c] == [NOTE]


def test_junit_blocked_as_skipped_and_error_as_error():
    result, _ = cases()["root-failure"]
    result = with_scenarios(result)
    result.checks.append(check("RS-PERF-01", Status.ERROR, "step timed out after 90 s", n=2))
    result = with_scenarios(result)
    xml = junit_xml(result, Redactor({SECRET}), assess(result)).decode()
    assert SECRET not in xml
    root = ET.fromstring(xml)
    skipped = [s.get("message") for s in root.iter("skipped")]
    assert any(m.startswith("blocked by AS-TOKEN-02: no access token") for m in skipped)
    errors = [e.get("message") for e in root.iter("error")]
    assert errors == ["step timed out after 90 s"]
    assert len(list(root.iter("failure"))) == 2  # the failed check and the verdict
    verdict = [s for s in root.iter("testsuite") if s.get("name") == "label-readiness"]
    assert verdict and verdict[0].find("testcase/failure").get("type") == "NOT READY"
    suite = [s for s in root.iter("testsuite") if s.get("name") == "s-RS-FHIR-01"][0]
    assert suite.get("skipped") == "1"


def test_junit_verdict_of_an_incomplete_and_a_ready_run():
    result, _ = cases()["untested"]
    result = with_scenarios(result)
    root = ET.fromstring(junit_xml(result, Redactor(set()), assess(result)))
    failure = [s for s in root.iter("testsuite") if s.get("name") == "label-readiness"][0].find("testcase/failure")
    assert failure.get("type") == "INCOMPLETE" and "AS-TOKEN-07" in failure.text
    result, _ = cases()["ready"]
    result = with_scenarios(result)
    root = ET.fromstring(junit_xml(result, Redactor(set()), assess(result)))
    assert [s for s in root.iter("testsuite") if s.get("name") == "label-readiness"][0].find("testcase/failure") is None
    # without a readiness, as before: no verdict suite
    root = ET.fromstring(junit_xml(result, Redactor(set())))
    assert not [s for s in root.iter("testsuite") if s.get("name") == "label-readiness"]


def render(name: str, verbose: bool = False) -> str:
    result, _ = cases()[name]
    result = with_scenarios(result)
    console = Console(record=True, width=160, force_terminal=False, file=io.StringIO())
    summary(console, result, assess(result), Redactor({SECRET}), verbose=verbose)
    return console.export_text()


def test_console_incomplete_lists_what_was_not_judged():
    out = render("untested")
    assert "INCOMPLETE" in out and "Not judged (INCOMPLETE)" in out
    assert "AS-TOKEN-07" in out and "not tested in this run" in out and "code_lifetime_seconds" in out
    out = render("error")
    assert "INCOMPLETE" in out and "RS-PERF-01" in out and "step timed out after 90 s" in out


def test_console_not_ready_shows_the_root_failure_and_the_blocked():
    out = render("root-failure")
    assert "NOT READY" in out and "Blocking failures" in out and "token endpoint answered 400" in out
    assert "2 check(s) blocked by the failure of AS-TOKEN-02" in out
    assert "Not judged" in out and "blocked by AS-TOKEN-02" in out
    assert SECRET not in out
    blocking_part = out.split("Blocking failures")[1].split("Not judged")[0]
    assert "RS-FHIR-01" not in blocking_part


def test_console_ready_subset_and_degraded():
    out = render("ready")
    assert "READY" in out and "NOT READY" not in out and "INCOMPLETE" not in out and "Not judged" not in out
    out = render("subset")
    assert "INCOMPLETE" in out and "cannot be READY" in out and "-k *code*" in out
    out = render("degraded")
    assert "Degraded mode" in out and out.count(NOTE) == 1


def test_console_verdict_colours():
    for name, style in (("ready", "on green"), ("root-failure", "on red"), ("untested", "on yellow")):
        result, _ = cases()[name]
        console = Console(record=True, width=160, color_system="truecolor", force_terminal=True, file=io.StringIO())
        summary(console, with_scenarios(result), assess(result), Redactor(set()))
        html = console.export_html(inline_styles=True)
        colour = {"on green": "#008000", "on red": "#800000", "on yellow": "#808000"}[style]
        assert f"background-color: {colour}" in html, name


def test_html_report_shows_the_three_states(tmp_path):
    for name, (result, verdict) in cases().items():
        result = with_scenarios(result)
        paths = write_reports(tmp_path / name, result, assess(result), Redactor({SECRET}))
        page = paths["html"].read_text(encoding="utf-8")
        assert f">{verdict}</span>" in page, name
        assert SECRET not in page and SECRET not in paths["junit"].read_text(encoding="utf-8")
        assert json.loads(paths["results"].read_text(encoding="utf-8"))["verdict"] == verdict
    page = (tmp_path / "untested" / "report.html").read_text(encoding="utf-8")
    assert "Not judged (INCOMPLETE)" in page and "AS-TOKEN-07" in page and "code_lifetime_seconds" in page
    assert "#9a6700" in page  # INCOMPLETE in amber
    page = (tmp_path / "root-failure" / "report.html").read_text(encoding="utf-8")
    assert "color:#bc4c00'>blocked" in page and "by AS-TOKEN-02" in page


def test_html_report_from_a_document_alone():
    result, _ = cases()["degraded"]
    result = with_scenarios(result)
    doc = results_document(result, assess(result), Redactor(set()))
    page = html_report(doc, exchanges_document(result, Redactor(set())))
    assert "Degraded mode" in page and NOTE in page


def test_console_cuts_long_reasons_unless_verbose():
    long = "connection reset " * 60
    result = with_scenarios(all_pass(drop=("RS-PERF-01",), extra=[check("RS-PERF-01", Status.ERROR, long)]))
    for verbose, whole in ((False, False), (True, True)):
        console = Console(record=True, width=4000, force_terminal=False, file=io.StringIO())
        summary(console, result, assess(result), Redactor(set()), verbose=verbose)
        out = console.export_text()
        assert (long.strip() in out) is whole and ("…" in out) is not whole
