from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from validatiestraat.cli import main


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture
def run_json(tmp_path):
    """Run `validatiestraat run --json --report-dir DIR ...`; return (exit code, results, report dir)."""

    def _run(*args: str) -> tuple[int, dict, Path]:
        report = tmp_path / "report"
        code, out = run_cli("run", "--json", "--report-dir", str(report), *args)
        return code, json.loads(out) if out.strip().startswith("{") else {}, report

    return _run
