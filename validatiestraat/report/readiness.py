"""Label readiness: from check results to a verdict per requirement, per area and overall.

A requirement's status is the worst status of the checks that name it. The run is READY only
when no MUST requirement failed or errored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from validatiestraat.report.model import CheckResult, RunResult, Status, worst
from validatiestraat.requirements import AREAS, Requirement, catalogue


@dataclass
class RequirementOutcome:
    requirement: Requirement
    status: Status | None  # None: not tested in this run
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return self.status is not None and self.status.blocking and self.requirement.blocking

    def first_problem(self) -> CheckResult | None:
        for status in (Status.ERROR, Status.FAIL, Status.WARNING):
            for c in self.checks:
                if c.status is status:
                    return c
        return None


@dataclass
class Readiness:
    ready: bool
    counts: dict[str, int]
    requirements: dict[str, RequirementOutcome]
    #: checks that failed or errored without naming a MUST requirement still matter; listed here
    blocking: list[RequirementOutcome]
    unmapped_blocking: list[CheckResult]

    @property
    def verdict(self) -> str:
        return "READY" if self.ready else "NOT READY"

    def areas(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for outcome in self.requirements.values():
            if outcome.status is None:
                continue
            area = out.setdefault(outcome.requirement.area, {s.value: 0 for s in Status})
            area[outcome.status.value] += 1
        return dict(sorted(out.items(), key=lambda kv: list(AREAS).index(kv[0]) if kv[0] in AREAS else 99))


def assess(result: RunResult) -> Readiness:
    cat = catalogue()
    by_req: dict[str, list[CheckResult]] = {}
    unmapped: list[CheckResult] = []
    for check in result.checks:
        known = [r for r in check.requirements if r in cat]
        if not known and check.status.blocking:
            unmapped.append(check)
        for rid in known:
            by_req.setdefault(rid, []).append(check)
    outcomes = {
        rid: RequirementOutcome(req, worst([c.status for c in by_req.get(rid, [])]), by_req.get(rid, []))
        for rid, req in cat.items()
    }
    blocking = [o for o in outcomes.values() if o.blocking]
    counts = {s.value: 0 for s in Status}
    for check in result.checks:
        counts[check.status.value] += 1
    return Readiness(
        ready=not blocking and not unmapped,
        counts=counts,
        requirements=outcomes,
        blocking=blocking,
        unmapped_blocking=unmapped,
    )
