"""A target that names a ZAL and a Whitelist instead of endpoints: resolved as a PGO would."""

from __future__ import annotations

import json

import pytest
import yaml

from validatiestraat.reference.server import ReferenceDVA

from .conftest import run_cli

pytestmark = pytest.mark.e2e


def zal_target(dva: ReferenceDVA, path) -> None:
    data = dva.target_dict()
    lists = data["options"]["lists"]
    del data["endpoints"]
    data["lists"] = {"zal": lists["zal"], "whitelist": lists["whitelist"], "gegevensdienst": "48"}
    path.write_text(yaml.safe_dump(data))


def test_zal_based_target_reaches_ready(tmp_path):
    with ReferenceDVA(workdir=tmp_path / "dva", code_lifetime=3.0) as dva:
        target = tmp_path / "target.yaml"
        zal_target(dva, target)
        code, out = run_cli("run", "--target", str(target), "--json", "-k", "dva-48-*", "-k", "dva-oauth-authorization-*")
        results = json.loads(out)
        # a subset run (-k) is at best INCOMPLETE: nothing failed, nothing errored
        assert (code, results["verdict"]) == (3, "INCOMPLETE"), results["blocking"]
        assert results["counts"]["fail"] == results["counts"]["error"] == 0
        assert results["target"]["endpoints_source"].startswith("ZAL https://localhost:")
        assert results["target"]["endpoints"]["token"] == dva.target_dict()["endpoints"]["token"]
        whitelist = [c for c in results["checks"] if c["scenario"] == "target-whitelist"]
        assert len(whitelist) == 3 and all(c["status"] == "pass" for c in whitelist)


def test_host_missing_from_whitelist_is_a_finding_and_never_contacted(tmp_path):
    with ReferenceDVA(workdir=tmp_path / "dva", faults=["list-host-missing"]) as dva:
        target = tmp_path / "target.yaml"
        zal_target(dva, target)
        data = yaml.safe_load(target.read_text())
        data["lists"]["check"] = False  # the list's own LIST-SEM-03 warning is not what this test is about
        target.write_text(yaml.safe_dump(data))
        before = len([e for e in dva.events if e.get("event") in ("token", "fhir")])
        code, out = run_cli("run", "--target", str(target), "--json", "-k", "dva-oauth-authorization-*")
        results = json.loads(out)
        assert code == 3
        status = {r["id"]: r["status"] for r in results["requirements"]}
        assert status["LIST-SEM-03"] == "fail"
        finding = next(c for c in results["checks"] if c["scenario"] == "target-whitelist" and c["status"] == "fail")
        assert "not on the MedMij Whitelist" in finding["reason"]
        refused = [c for c in results["checks"] if "not sent: host" in c["reason"]]
        assert refused, "requests to the non-whitelisted host must be refused, not sent"
        assert len([e for e in dva.events if e.get("event") in ("token", "fhir")]) == before


def test_combination_not_on_the_zal_is_a_clear_error(tmp_path, capsys):
    with ReferenceDVA(workdir=tmp_path / "dva") as dva:
        target = tmp_path / "target.yaml"
        zal_target(dva, target)
        data = yaml.safe_load(target.read_text())
        data["lists"]["gegevensdienst"] = "12345"
        target.write_text(yaml.safe_dump(data))
        code, _ = run_cli("run", "--target", str(target))
        assert code == 4
        assert "12345" in capsys.readouterr().err


def test_expired_token_scenario_with_short_lived_tokens(tmp_path):
    """RS-AUTH-05 needs a wait of expires_in; a reference DVA with 2-second tokens makes it quick."""
    with ReferenceDVA(workdir=tmp_path / "dva", access_token_lifetime=2.0) as dva:
        target = dva.write_target(tmp_path / "target.yaml")
        code, out = run_cli("run", "--target", str(target), "--json", "-k", "dva-rs-expired-token")
        results = json.loads(out)
        assert (code, results["verdict"]) == (3, "INCOMPLETE"), results["blocking"]  # a subset run
        assert results["counts"]["fail"] == results["counts"]["error"] == 0
        assert {r["id"]: r["status"] for r in results["requirements"]}["RS-AUTH-05"] == "pass"
