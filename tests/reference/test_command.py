"""`validatiestraat serve` and `validatiestraat faults`."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import yaml

from validatiestraat.cli import main
from validatiestraat.reference.faults import FAULTS


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_faults_json_lists_every_fault():
    code, out, _ = run_cli("faults", "--json")
    assert code == 0
    rows = json.loads(out)["faults"]
    assert {r["name"] for r in rows} == set(FAULTS)
    assert all(r["breaks"] and r["description"] for r in rows)


def test_faults_text():
    code, out, _ = run_cli("faults")
    assert code == 0
    for name, fault in FAULTS.items():
        assert name in out
        assert ", ".join(fault.breaks) in out


def test_help_has_examples():
    for cmd in ("serve", "faults"):
        code, out, _ = run_cli(cmd, "--help")
        assert code == 0 and "examples:" in out


def test_serve_unknown_fault_is_exit_4_with_the_list():
    code, out, err = run_cli("serve", "--fault", "no-such-fault")
    assert code == 4
    assert "no-such-fault" in err and "code-reusable" in err and "state-not-echoed" in err


def test_serve_runs_until_sigterm_and_writes_a_target(tmp_path: Path):
    workdir = tmp_path / "dva"
    proc = subprocess.Popen(
        [sys.executable, "-m", "validatiestraat", "serve", "--workdir", str(workdir), "--fault", "no-include", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        info = json.loads(line)
        assert info["faults"] == ["no-include"]
        assert info["endpoints"]["authorization"].startswith("https://localhost:")
        target = yaml.safe_load(Path(info["target"]).read_text())
        assert target["client"]["certificate"] == str(workdir / "client.pem")
        assert target["options"]["faults"] == ["no-include"]
        assert Path(info["ca"]).is_file()
        # the listener answers
        import httpx
        import ssl

        ctx = ssl.create_default_context(cafile=info["ca"])
        with httpx.Client(verify=ctx, timeout=5) as c:
            assert c.get(info["endpoints"]["authorization"]).status_code == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    assert (workdir / "target.yaml").is_file()
