"""A tester's mistakes are configuration errors (exit 4), never failures of the DVA (issue 9)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr

import pytest
import yaml

from validatiestraat.reference.server import ReferenceDVA

from .conftest import run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dva(tmp_path_factory):
    with ReferenceDVA(workdir=tmp_path_factory.mktemp("dva-mistakes")) as server:
        yield server


def _run(tmp_path, data, *extra):
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump(data))
    err = io.StringIO()
    report = tmp_path / "report"
    with redirect_stderr(err):
        code, out = run_cli("run", "--target", str(target), "--report-dir", str(report), *extra)
    return code, out + err.getvalue(), report


def test_a_login_script_that_matches_no_page_is_exit_4_and_fails_no_dva_requirement(dva, tmp_path):
    data = dva.target_dict()
    data["login"] = {"driver": "steps", "steps": [{"match": "eHerkenning", "click": "Inloggen met eHerkenning"}],
                     "deny": {"decision": "deny"}}
    code, output, report = _run(tmp_path, data, "-k", "dva-oauth-authorization-code-flow", "-k", "dva-oauth-code-reuse")
    assert code == 4, output
    assert "no login could be completed" in output and "login could not be completed" in output
    results = json.loads((report / "results.json").read_text())
    failed = [r["id"] for r in results["requirements"] if r["status"] == "fail"]
    assert failed == [], failed  # the DVA is not blamed for the tester's script
    errors = [c for c in results["checks"] if c["status"] == "error"]
    assert errors and all(c["reason"].startswith("login could not be completed") for c in errors)


def test_wrong_login_fields_are_exit_4(dva, tmp_path):
    data = dva.target_dict()
    data["login"] = {"driver": "form", "fields": {"gebruikersnaam": "x", "geheim": "y"},
                     "submit": {"decision": "approve"}, "deny": {"decision": "deny"}}
    code, output, _ = _run(tmp_path, data, "-k", "dva-oauth-authorization-code-flow")
    assert code == 4, output


def test_a_misspelt_option_is_a_located_exit_4_before_any_request(dva, tmp_path):
    data = dva.target_dict()
    data["options"]["long_lived_consnet"] = True
    code, output, report = _run(tmp_path, data)
    assert code == 4
    assert "did you mean 'long_lived_consent'" in output and "target.yaml:" in output
    assert not (report / "results.json").exists()


def test_an_unwritable_report_dir_is_refused_before_any_request(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    err = io.StringIO()
    with redirect_stderr(err):
        code, _ = run_cli("run", "--report-dir", str(blocker / "out"))
    assert code == 4 and "cannot write reports there" in err.getvalue()


def test_login_fields_are_redacted_whatever_their_name(tmp_path):
    from validatiestraat.target import target_from_dict

    data = {"aanbieder": "x", "endpoints": {"authorization": "https://a.test/a", "token": "https://a.test/t",
                                            "resource": "https://a.test/r"},
            "client": {"client_id": "c", "redirect_uri": "https://c.test/cb"},
            "login": {"driver": "form", "fields": {"user": "tester01", "pwd": "Sup3rGeheim"}}}
    target = target_from_dict(data, tmp_path)
    assert "Sup3rGeheim" in target.secrets and "tester01" in target.secrets


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_run_writes_a_valid_partial_report(tmp_path, sig, code):
    import signal
    import subprocess
    import sys
    import time
    from importlib import resources
    from pathlib import Path

    import jsonschema

    root = str(Path(__file__).resolve().parents[2])
    env = {**__import__("os").environ, "PYTHONPATH": root}
    report = tmp_path / "report"
    proc = subprocess.Popen([sys.executable, "-m", "validatiestraat", "run", "--report-dir", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 60
    # wait until the run is under way (the expired-code scenario alone waits 3 s), then interrupt
    while time.monotonic() < deadline and not list(tmp_path.glob("report")):
        time.sleep(0.05)
    time.sleep(2.0)
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err.decode()[-2000:]
    results = json.loads((report / "results.json").read_text())
    assert results["interrupted"] == sig and results["verdict"] in ("INCOMPLETE", "NOT READY")
    assert any(i["status"] == "interrupted" for i in results["incomplete"])
    schema = json.loads(resources.files("validatiestraat.report").joinpath("schemas/results.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(results)
    for name in ("junit.xml", "exchanges.json", "report.html"):
        assert (report / name).is_file()
