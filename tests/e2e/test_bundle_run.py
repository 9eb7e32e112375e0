"""`run --bundle` writes one signed file that `verify` accepts, holding the reports and inputs."""

from __future__ import annotations

import json
import zipfile

import pytest

from validatiestraat.report.bundle import verify_bundle

from .conftest import run_cli

pytestmark = pytest.mark.e2e


def test_a_default_run_bundle_verifies(tmp_path, monkeypatch):
    monkeypatch.setenv("VALIDATIESTRAAT_HOME", str(tmp_path / "home"))
    bundle = tmp_path / "out" / "run.vsb"
    code, out = run_cli("run", "--json", "--bundle", str(bundle))
    assert code == 0 and json.loads(out)["verdict"] == "READY"
    result = verify_bundle(bundle)
    assert result.intact, result.problems
    assert result.verdict == "READY" and result.scope["role"] == "dva"
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        everything = b"".join(zf.read(n) for n in names)
    assert {"reports/results.json", "reports/junit.xml", "reports/exchanges.json", "reports/report.html",
            "inputs/requirements.yaml", "target.json", "meta.json", "manifest.json", "signature.json"} <= names
    assert any(n.startswith("inputs/scenarios/dva/oauth/") for n in names)
    assert b"PRIVATE KEY-----" not in everything  # the signing key never travels
