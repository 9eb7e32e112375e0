"""End to end: `validatiestraat run` against the embedded reference DVA over real HTTPS and mTLS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from importlib import resources

import jsonschema
import pytest

from validatiestraat.reference.faults import FAULTS

pytestmark = pytest.mark.e2e


def failed_requirements(results: dict) -> set[str]:
    return {r["id"] for r in results["requirements"] if r["status"] == "fail"}


def test_reference_dva_is_ready(run_json):
    t0 = time.perf_counter()
    code, results, report = run_json()
    elapsed = time.perf_counter() - t0
    blocking = [b for b in results.get("blocking", [])]
    assert code == 0, f"not ready: {blocking}"
    assert results["verdict"] == "READY"
    assert results["counts"]["fail"] == 0 and results["counts"]["error"] == 0
    assert results["counts"]["pass"] > 150
    schema = json.loads(resources.files("validatiestraat.report").joinpath("schemas/results.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(results)
    for name in ("results.json", "junit.xml", "exchanges.json", "report.html"):
        assert (report / name).is_file()
    # every check names requirement IDs and links to evidence
    assert all(c["requirements"] for c in results["checks"])
    assert all(c["evidence"] for c in results["checks"] if c["status"] in ("pass", "fail"))
    assert elapsed < 30  # the README promises seconds; the bench measures it precisely


def test_reports_contain_no_secrets(run_json):
    code, results, report = run_json()
    exchanges = (report / "exchanges.json").read_text()
    everything = exchanges + (report / "results.json").read_text() + (report / "junit.xml").read_text() \
        + (report / "report.html").read_text()
    # bearer tokens, codes and refresh tokens only ever appear masked
    assert not re.search(r"Bearer (?!\[REDACTED)", everything)
    for key in ("access_token", "refresh_token", "code", "password"):
        assert not re.search(rf'"{key}":\s*"(?!\[REDACTED)', exchanges), key
        assert not re.search(rf"[?&]{key}=(?!%5BREDACTED|\[REDACTED)", everything), key
    assert "PRIVATE KEY-----\n" not in everything


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_exactly_its_requirements(run_json, fault, monkeypatch):
    monkeypatch.setenv("VALIDATIESTRAAT_SLOW_SECONDS", "0.5")
    spec = FAULTS[fault]
    code, results, _ = run_json("--fault", fault)
    failed = failed_requirements(results)
    assert failed == set(spec.breaks), f"{fault}: failed {sorted(failed)}, expected exactly {sorted(spec.breaks)}"
    # what the fault makes untestable must not pass either
    passed = {r["id"] for r in results["requirements"] if r["status"] == "pass"}
    assert not passed & set(getattr(spec, "blocks", ())), sorted(passed & set(spec.blocks))
    assert code == 3
    assert results["faults"] == [fault]


def test_console_entry_point_subprocess(tmp_path):
    """The real entry point, as a user runs it: python -m validatiestraat run."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "validatiestraat", "run"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "120"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "READY" in proc.stdout
    assert time.perf_counter() - t0 < 60


def test_unknown_fault_is_a_usage_error(run_json):
    code, _, _ = run_json("--fault", "no-such-fault")
    assert code == 4
