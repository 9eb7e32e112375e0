"""Waivers: exactly the waived failure becomes `waived`, the verdict READY when nothing else
blocks; after the expiry date the failure stands again (issue 12, item 4)."""

from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import redirect_stderr

import pytest
import yaml

from .conftest import run_cli

pytestmark = pytest.mark.e2e


def waivers(tmp_path, expires: dt.date, requirement: str = "AS-TOKEN-04"):
    path = tmp_path / "waivers.yaml"
    path.write_text(yaml.safe_dump([{"requirement": requirement, "reason": "code store replaced in release 4.2",
                                     "approved_by": "J. Jansen, security officer", "expires": expires.isoformat()}]))
    return path


def test_a_waiver_turns_exactly_the_waived_failure_into_waived(tmp_path):
    path = waivers(tmp_path, dt.date.today() + dt.timedelta(days=30))
    code, out = run_cli("run", "--json", "--fault", "code-reusable", "--waivers", str(path))
    results = json.loads(out)
    assert (code, results["verdict"]) == (0, "READY"), results["blocking"]
    waived = [c for c in results["checks"] if c["status"] == "waived"]
    assert waived and all("AS-TOKEN-04" in c["requirements"] for c in waived)
    assert "J. Jansen" in waived[0]["reason"] and "release 4.2" in waived[0]["reason"]
    assert results["waivers"][0]["status"] == "applied"
    assert {r["id"]: r["status"] for r in results["requirements"]}["AS-TOKEN-04"] == "waived"


def test_an_expired_waiver_no_longer_applies(tmp_path):
    path = waivers(tmp_path, dt.date.today() - dt.timedelta(days=1))
    code, out = run_cli("run", "--json", "--fault", "code-reusable", "--waivers", str(path))
    results = json.loads(out)
    assert (code, results["verdict"]) == (3, "NOT READY")
    assert results["waivers"][0]["status"] == "expired"
    assert not [c for c in results["checks"] if c["status"] == "waived"]


def test_an_unused_waiver_is_reported_and_a_bad_file_is_exit_4(tmp_path):
    path = waivers(tmp_path, dt.date.today() + dt.timedelta(days=30), "AS-TOKEN-09")
    code, out = run_cli("run", "--json", "--fault", "code-reusable", "--waivers", str(path))
    results = json.loads(out)
    assert code == 3 and results["waivers"][0]["status"] == "unused"
    bad = tmp_path / "bad.yaml"
    bad.write_text("- requirement: AS-TOKEN-04\n  reason: x\n")
    err = io.StringIO()
    with redirect_stderr(err):
        code, _ = run_cli("run", "--waivers", str(bad))
    assert code == 4 and "bad.yaml:1" in err.getvalue()
