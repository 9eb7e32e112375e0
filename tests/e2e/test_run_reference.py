"""End to end: `validatiestraat run` against the embedded reference DVA over real HTTPS and mTLS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from validatiestraat.reference.faults import FAULTS, PROFILES

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
    # every check names requirement IDs and links to evidence: recorded HTTP exchanges, or for
    # the TLS probes (which are not HTTP) the probe's findings in the check's details
    assert all(c["requirements"] for c in results["checks"])
    assert all(c["evidence"] or c["details"].get("findings") is not None
               for c in results["checks"] if c["status"] in ("pass", "fail"))
    assert elapsed < 30  # the README promises seconds; the bench measures it precisely


def test_reports_contain_no_secrets(run_json, monkeypatch):
    import validatiestraat.engine.runner as engine_runner

    runners = []

    class Recording(engine_runner.Runner):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            runners.append(self)

    monkeypatch.setattr(engine_runner, "Runner", Recording)
    code, results, report = run_json()
    everything = "".join((report / name).read_text() for name in
                         ("exchanges.json", "results.json", "junit.xml", "report.html"))
    secrets = runners[0].recorder.secrets
    assert len(secrets) > 20  # codes, access tokens, refresh tokens, the test password
    leaked = [s[:6] + "..." for s in secrets if s in everything]
    assert not leaked, leaked
    # and the structural rules: no bearer credential, code or token in clear anywhere
    assert not re.search(r"Bearer (?!\[REDACTED|realm)[A-Za-z0-9._~+/-]{16,}", everything)
    # JSON members by name ("code" members are FHIR codes; OAuth codes travel in URLs only)
    for key in ("access_token", "refresh_token", "password"):
        assert not re.search(rf'"{key}":\s*"(?!\[REDACTED)', everything), key
    # URL and form parameters (FHIR's own `code` search parameter, system|code, stays readable)
    for key in ("access_token", "refresh_token", "code", "password"):
        assert not re.search(rf"[?&]{key}=(?!%5BREDACTED|\[REDACTED|http)[^&\s\"]+", everything), key
    assert "PRIVATE KEY-----\n" not in everything


def judged(results: dict) -> tuple[set[str], set[str], set[str]]:
    """(failed or warned, not judged: blocked/error/untested-with-checks, passed) requirement IDs."""
    status = {r["id"]: r["status"] for r in results["requirements"]}
    broken = {rid for rid, st in status.items() if st in ("fail", "warning")}
    unjudged = {rid for rid, st in status.items() if st in ("blocked", "error")}
    passed = {rid for rid, st in status.items() if st == "pass"}
    return broken, unjudged, passed


def assert_exactly(results: dict, code: int, faults: list[str]) -> None:
    """Each fault's requirements are named as failed (or warned), nothing else fails, and nothing
    ends blocked or errored unless a fault declares it logically impossible to judge (blocks)."""
    specs = [FAULTS[f] for f in faults]
    breaks = set().union(*(s.breaks for s in specs))
    blocks = set().union(*(s.blocks for s in specs))
    if any(s.blocks_http for s in specs):  # the suite's HTTPS client cannot use the DVA at all
        blocks |= {r["id"] for r in results["requirements"] if r["id"].startswith(("AS-", "RS-", "LIST-"))}
        blocks.add("TLS-MTLS-01")  # judged by HTTPS requests that need the server's certificate too
    broken, unjudged, passed = judged(results)
    label = ",".join(faults)
    assert broken == breaks, f"{label}: broken {sorted(broken)}, expected exactly {sorted(breaks)}"
    assert unjudged <= blocks, (f"{label}: not judged although judgeable: {sorted(unjudged - blocks)}: "
                                + "; ".join(c["reason"][:160] for c in results["checks"]
                                            if c["status"] in ("blocked", "error")
                                            and set(c["requirements"]) & (unjudged - blocks))[:1200])
    assert sorted(results["faults"]) == sorted(faults)
    blocking = any(r["status"] == "fail" for r in results["requirements"])
    assert code == (3 if blocking or results["verdict"] == "INCOMPLETE" else 0)
    assert results["verdict"] == ("NOT READY" if blocking else results["verdict"])
    if not blocking:
        assert results["verdict"] in ("READY", "INCOMPLETE")


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_exactly_its_requirements(run_json, fault, monkeypatch):
    """The proof that no check is vacuous: each fault breaks exactly the requirements it names,
    on a strict reference DVA (only the gegevensdienst's catalogued queries are served).

    A requirement the brief marks ⚠ (or a SHOULD) ends as a warning instead of a failure; such a
    fault alone leaves the run READY with warnings (exit 0). Every other fault makes it NOT READY.
    """
    monkeypatch.setenv("VALIDATIESTRAAT_SLOW_SECONDS", "2")
    code, results, _ = run_json("--fault", fault)
    assert_exactly(results, code, [fault])
    spec = FAULTS[fault]
    if not any(r["status"] == "fail" for r in results["requirements"]) and not spec.blocks:
        assert (code, results["verdict"]) == (0, "READY"), results.get("incomplete")


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_fault_profile_names_every_broken_requirement(run_json, profile, monkeypatch):
    """Many faults at once, as on real DVAs: every requirement of every fault is named, nothing
    else fails, nothing judgeable ends blocked; exit 3 (strict mode)."""
    monkeypatch.setenv("VALIDATIESTRAAT_SLOW_SECONDS", "2")
    code, results, _ = run_json("--fault-profile", profile)
    assert code == 3
    assert_exactly(results, code, list(PROFILES[profile].faults))


def test_a_subset_run_is_never_ready(run_json):
    code, results, _ = run_json("-k", "*code-reuse*")
    assert (code, results["verdict"]) == (3, "INCOMPLETE")
    assert results["counts"]["fail"] == 0
    assert results["incomplete"]


def test_the_full_default_run_judges_every_in_scope_must(run_json):
    code, results, _ = run_json()
    assert (code, results["verdict"]) == (0, "READY")
    assert results["incomplete"] == []
    untested = [r["id"] for r in results["requirements"] if r.get("in_scope") and r["status"] in (None, "untested")]
    assert untested == []


def test_the_clean_reference_has_no_warnings(run_json):
    code, results, _ = run_json()
    assert code == 0
    assert [r["id"] for r in results["requirements"] if r["status"] in ("warning", "fail", "error")] == []


def test_console_entry_point_subprocess(tmp_path):
    """The real entry point, as a user runs it: python -m validatiestraat run."""
    t0 = time.perf_counter()
    root = str(Path(__file__).resolve().parents[2])  # works installed (CI) and from a checkout
    env = {**os.environ, "COLUMNS": "120", "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "validatiestraat", "run"], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"(?<!NOT )\bREADY\b", proc.stdout) and "NOT READY" not in proc.stdout and "INCOMPLETE" not in proc.stdout
    assert time.perf_counter() - t0 < 60


def test_unknown_fault_is_a_usage_error(run_json):
    code, _, _ = run_json("--fault", "no-such-fault")
    assert code == 4
