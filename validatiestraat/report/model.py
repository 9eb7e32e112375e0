"""The result model: what a run produces, independent of how it is shown.

Every writer (console, JSON, JUnit, HTML) reads these objects and nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(str, enum.Enum):
    """How a single check ended."""

    PASS = "pass"
    FAIL = "fail"
    WARNING = "warning"  # a rule was not met, but the rule is uncertain (⚠) or a SHOULD
    SKIP = "skip"  # nothing to judge in what the step saw (e.g. no error redirect to inspect)
    #: the check's input could not be produced because an earlier check failed; ``blocked_by``
    #: names the requirement(s) of that root failure. Not blocking by itself: the root failure is.
    BLOCKED = "blocked"
    OMITTED = "omitted"  # not applicable to this target (e.g. optional extension not offered)
    ERROR = "error"  # the tool could not decide (timeout, connection refused, garbage)
    #: a failure an approved, unexpired waiver accepts (report/waivers.py): judged, not blocking
    WAIVED = "waived"

    @property
    def blocking(self) -> bool:
        return self in (Status.FAIL, Status.ERROR)


# Order used to combine several outcomes into one (worst first).
STATUS_ORDER = [Status.FAIL, Status.ERROR, Status.BLOCKED, Status.WAIVED, Status.WARNING, Status.PASS, Status.SKIP,
                Status.OMITTED]


def worst(statuses: list[Status]) -> Status | None:
    for status in STATUS_ORDER:
        if status in statuses:
            return status
    return None


@dataclass
class Exchange:
    """One recorded HTTP request/response pair (already redacted when stored in a report)."""

    id: str
    scenario: str
    step: str
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: str | None
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: str | None = None
    elapsed_ms: float | None = None
    error: str | None = None
    started: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "step": self.step,
            "started": self.started,
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": [list(h) for h in self.request_headers],
                "body": self.request_body,
            },
            "response": None
            if self.status is None
            else {
                "status": self.status,
                "headers": [list(h) for h in self.response_headers],
                "body": self.response_body,
            },
            "elapsed_ms": self.elapsed_ms,
            "error": self.error,
        }


@dataclass
class CheckResult:
    """The outcome of one check: one assertion of one step of one scenario."""

    id: str  # stable within a run: "<scenario>/<step>/<n>-<check>"
    title: str
    requirements: list[str]
    status: Status
    reason: str
    scenario: str
    step: str
    check: str  # the check kind, e.g. "status", "oauth.state_echoed"
    evidence: list[str] = field(default_factory=list)  # exchange ids
    details: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    #: with status BLOCKED: the requirement IDs whose failure kept this check from its input
    blocked_by: list[str] = field(default_factory=list)
    #: the check was judged in degraded mode (e.g. token requests sent as JSON because the token
    #: endpoint refused form bodies); the text says how
    degraded: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "title": self.title,
            "check": self.check,
            "scenario": self.scenario,
            "step": self.step,
            "requirements": list(self.requirements),
            "status": self.status.value,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "details": self.details,
        }
        if self.blocked_by:
            out["blocked_by"] = list(self.blocked_by)
        if self.degraded:
            out["degraded"] = self.degraded
        return out


@dataclass
class ScenarioResult:
    id: str
    title: str
    role: str
    file: str
    started: str
    finished: str
    duration_ms: float
    status: Status | None
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "role": self.role,
            "file": self.file,
            "tags": self.tags,
            "started": self.started,
            "finished": self.finished,
            "duration_ms": round(self.duration_ms, 1),
            "status": self.status.value if self.status else None,
        }


@dataclass
class RunResult:
    tool_version: str
    suite_version: str
    target: dict[str, Any]  # redacted description of the target
    started: str
    finished: str
    scenarios: list[ScenarioResult]
    checks: list[CheckResult]
    exchanges: list[Exchange]
    faults: list[str] = field(default_factory=list)
    #: what the run covers: {"role": "dva", "gegevensdiensten": [...], "options": [enabled option
    #: names], "has": [other_client, untrusted_client, lists, ...], "subset": bool (-k/--tag/
    #: --scenarios narrowed the bundled suite), "selection": [...]}; decides which MUST
    #: requirements READY promises (see report/readiness.py)
    scope: dict[str, Any] = field(default_factory=dict)
    #: the run was stopped (SIGINT, SIGTERM) before every scenario finished: a partial result
    interrupted: str | None = None
    #: the waivers file's entries and what became of them (applied, expired, unused)
    waivers: list[dict[str, Any]] = field(default_factory=list)
