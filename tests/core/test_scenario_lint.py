"""Scenario files: located errors for YAML and schema problems, exit code 4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from validatiestraat.errors import UserError
from validatiestraat.scenario.loader import bundled_scenarios_dir, load_scenarios
from validatiestraat.scenario.command import lint_command


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(*paths: Path) -> list[str]:
    with pytest.raises(UserError) as info:
        load_scenarios(list(paths))
    return [str(p) for p in info.value.problems]


def test_bundled_scenarios_are_valid():
    scenarios = load_scenarios([bundled_scenarios_dir()])
    assert {"dva-48-bgz-queries", "dva-oauth-code-reuse", "dva-rs-no-token"} <= {s.id for s in scenarios}
    bgz = next(s for s in scenarios if s.id == "dva-48-bgz-queries")
    # login fragment (2 steps) + the 28 BgZ queries of qualification-material.md §3 + the direct reads
    assert len(bgz.steps) == 31 and bgz.steps[-1]["name"] == "direct-reads"


def test_yaml_syntax_error_is_located(tmp_path):
    path = write(tmp_path, "bad.yaml", "id: x\ntitle: t\nrole: dva\nsteps:\n  - name: a\n    kind: http\n   url: oops\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:7:") or ":7:" in problem
    assert "YAML error" in problem


def test_schema_errors_are_located_and_all_reported(tmp_path):
    path = write(tmp_path, "s.yaml", """id: s
title: t
role: dva
steps:
  - name: one
    kind: http
    url: https://example.invalid/
    methd: GET
  - name: two
    kind: fhir.serch
  - name: three
    kind: http
    url: https://example.invalid/
    expect:
      - status: 200
        header: {name: X}
      - statuz: 200
      - status: 200
        requirements: [NOPE-01]
""")
    problems = problems_of(path)
    text = "\n".join(problems)
    assert ":8:5: steps/0/methd: unknown key(s) 'methd'" in text or "steps/0: unknown key(s) 'methd'" in text
    assert "unknown step kind 'fhir.serch'" in text and ":10:" in text
    # semantic rules are checked only when the schema passes, so fix the schema errors and retry
    path.write_text(path.read_text().replace("    methd: GET\n", "").replace("fhir.serch", "fhir.search\n    resource: Patient")
                    .replace("      - statuz: 200\n", ""), encoding="utf-8")
    text = "\n".join(problems_of(path))
    assert "exactly one check; found 2 checks (status, header)" in text
    assert "unknown requirement ID 'NOPE-01'" in text
    assert ":18:24: unknown requirement ID" in text  # the ID's own line and column


def test_unknown_check_is_an_unknown_key(tmp_path):
    path = write(tmp_path, "s.yaml", "id: s\ntitle: t\nrole: dva\nsteps:\n  - name: a\n    kind: http\n    url: https://x.invalid\n"
                                     "    expect:\n      - statuz: 200\n")
    (problem,) = problems_of(path)
    assert ":9:" in problem and "statuz" in problem


def test_missing_include_and_duplicate_ids(tmp_path):
    a = write(tmp_path, "a.yaml", "id: same\ntitle: t\nrole: dva\nsteps:\n  - include: fragments/nope.yaml\n")
    b = write(tmp_path, "b.yaml", "id: same\ntitle: t\nrole: dva\nsteps:\n  - name: x\n    kind: http\n    url: https://x.invalid\n")
    problems = problems_of(a, b)
    assert any("include 'fragments/nope.yaml' not found" in p and ":5:" in p for p in problems)


def test_include_of_bundled_fragment(tmp_path):
    path = write(tmp_path, "s.yaml", "id: s\ntitle: t\nrole: dva\nsteps:\n  - include: fragments/login-and-token.yaml\n")
    (scenario,) = load_scenarios([path], root=bundled_scenarios_dir())
    assert [s["name"] for s in scenario.steps] == ["authorize", "token"]


def test_lint_command_exit_codes(tmp_path, capsys):
    good = bundled_scenarios_dir()
    bad = write(tmp_path, "bad.yaml", "id: [\n")
    ns = type("A", (), {"paths": [good], "json": False})()
    assert lint_command(ns) == 0
    ns = type("A", (), {"paths": [bad], "json": True})()
    capsys.readouterr()
    assert lint_command(ns) == 4
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["problems"][0]["line"] == 2  # end of the unclosed flow sequence
