"""Waivers: accepted deviations, recorded with a reason, an approver and an expiry date.

``run --waivers FILE`` reads a YAML list::

    - requirement: AS-TOKEN-04
      check: dva-oauth-code-reuse/token-again/1-oauth.token_error   # optional: only this check
      reason: the code store is replaced in release 4.2 (ticket 1234)
      approved_by: J. Jansen, security officer
      expires: 2027-03-01

A failed check (or a warning) of a waived requirement becomes ``waived``: judged, not blocking,
with the waiver's reason, approver and expiry in its reason, in every report. A waiver past its
expiry date no longer applies and is reported as ``expired`` (the failure stands); a waiver whose
requirement did not fail is reported as ``unused``. The file is checked against a schema like
every other input (located errors, exit 4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from validatiestraat.errors import Problem, UserError
from validatiestraat.report.model import CheckResult, Status

SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["requirement", "reason", "approved_by", "expires"],
        "properties": {
            "requirement": {"type": "string", "pattern": "^[A-Z]+(-[A-Z]+)?-[0-9]{2}$"},
            "check": {"type": "string", "minLength": 1, "description": "a check id: only that check is waived"},
            "reason": {"type": "string", "minLength": 3},
            "approved_by": {"type": "string", "minLength": 2},
            "expires": {"type": "string", "format": "date",
                        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "YYYY-MM-DD; applies up to and "
                                                                              "including that day"},
        },
    },
}


@dataclass
class Waiver:
    requirement: str
    reason: str
    approved_by: str
    expires: dt.date
    check: str | None = None
    line: int | None = None

    def matches(self, check: CheckResult) -> bool:
        return self.requirement in check.requirements and (self.check is None or self.check == check.id)


def load_waivers(path: Path) -> list[Waiver]:
    """Read and check a waivers file (exit 4 with located problems when it is not valid)."""
    import jsonschema

    from validatiestraat.requirements import catalogue
    from validatiestraat.scenario.yamlpos import YamlError, load_with_positions, schema_error_location

    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the waivers file {display}: {exc}") from None
    try:
        data, positions = load_with_positions(text, display)
    except YamlError as exc:
        raise UserError("the waivers file is not valid YAML", [exc.problem]) from None
    problems = []
    if data is None:
        data = []
    if isinstance(data, list):  # YAML reads an unquoted 2027-03-01 as a date: take it as written
        data = [{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in item.items()}
                if isinstance(item, dict) else item for item in data]
    for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(data):
        line, col = schema_error_location(error, positions)
        where = "/".join(map(str, error.absolute_path)) or "(top level)"
        problems.append(Problem(display, line, col, f"{where}: {error.message}"))
    if problems:
        raise UserError(f"the waivers file has {len(problems)} problem(s)", problems)
    known = catalogue()
    waivers = []
    for index, item in enumerate(data):
        line = (positions.get((index,)) or (None, None))[0] if isinstance(positions, dict) else None
        if item["requirement"] not in known:
            problems.append(Problem(display, line, None, f"{index}/requirement: {item['requirement']} is not in the "
                                                          "requirement catalogue"))
            continue
        try:
            expires = dt.date.fromisoformat(item["expires"])
        except ValueError:
            problems.append(Problem(display, line, None, f"{index}/expires: {item['expires']!r} is not a date"))
            continue
        waivers.append(Waiver(item["requirement"], item["reason"], item["approved_by"], expires, item.get("check"), line))
    if problems:
        raise UserError(f"the waivers file has {len(problems)} problem(s)", problems)
    return waivers


def apply_waivers(checks: list[CheckResult], waivers: list[Waiver], today: dt.date | None = None) -> list[dict[str, Any]]:
    """Turn waived failures into WAIVED; return what became of each waiver."""
    today = today or dt.date.today()
    report = []
    for waiver in waivers:
        entry: dict[str, Any] = {"requirement": waiver.requirement, "check": waiver.check, "reason": waiver.reason,
                                 "approved_by": waiver.approved_by, "expires": waiver.expires.isoformat()}
        hits = [c for c in checks if waiver.matches(c) and c.status in (Status.FAIL, Status.WARNING)]
        if waiver.expires < today:
            entry["status"] = "expired"
            entry["note"] = (f"expired on {waiver.expires.isoformat()}: no longer applied"
                             + (f"; {len(hits)} failure(s) stand" if hits else ""))
        elif not hits:
            entry["status"] = "unused"
            entry["note"] = "the requirement did not fail in this run: the waiver was not needed"
        else:
            entry["status"] = "applied"
            entry["checks"] = [c.id for c in hits]
            for c in hits:
                c.reason = (f"{c.reason} [waived until {waiver.expires.isoformat()} by {waiver.approved_by}: "
                            f"{waiver.reason}]")
                c.status = Status.WAIVED
        report.append(entry)
    return report
