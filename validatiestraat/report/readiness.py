"""Label readiness: from check results to a verdict per requirement, per area and overall.

A requirement's status is the worst status (``STATUS_ORDER``) of the checks that name it, where
``skip`` and ``omitted`` count only when no other check judged it: pass + skip is pass, skip
alone is skip. ``None`` means no check named it in this run (shown as ``untested``).

The verdict has three values:

``NOT READY`` (exit 3)
    a MUST requirement failed (in scope or not), or a check that names no known requirement
    failed. Only root failures count: ``blocked`` checks (whose input a failure kept from them)
    never do, and ``error`` (the tool could not decide) does not either.
``INCOMPLETE`` (exit 3)
    nothing failed, but READY cannot be promised: the run was a subset (-k/--tag/--scenarios),
    or a MUST requirement in scope was not judged and passed: untested, omitted, skipped,
    blocked or errored. :attr:`Readiness.incomplete` says which and why.
``READY`` (exit 0)
    every MUST requirement in scope (run role, declared gegevensdiensten, target options and
    parts: ``Requirement.applies``) was judged and passed (a warning, on a ⚠ uncertain rule or a
    SHOULD, counts as passed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from validatiestraat.report.model import STATUS_ORDER, CheckResult, RunResult, Status, worst
from validatiestraat.requirements import AREAS, Requirement, catalogue

READY = "READY"
NOT_READY = "NOT READY"
INCOMPLETE = "INCOMPLETE"
VERDICTS = (READY, NOT_READY, INCOMPLETE)

#: exit code of `validatiestraat run` per verdict (exitcodes.NOT_READY for both non-READY ones)
EXIT_CODES = {READY: 0, NOT_READY: 3, INCOMPLETE: 3}

SUBSET_REASON = "a subset run (-k/--tag/--scenarios) cannot be READY"

#: statuses that say nothing about the requirement when another check judged it
_UNJUDGED = (Status.SKIP, Status.OMITTED)
#: statuses that mean the requirement was judged and met
_PASSED = (Status.PASS, Status.WARNING, Status.WAIVED)


def requirement_status(checks: list[CheckResult]) -> Status | None:
    """The worst status of ``checks``; skip and omitted only when nothing else judged it."""
    statuses = [c.status for c in checks]
    judged = [s for s in statuses if s not in _UNJUDGED]
    return worst(judged or statuses)


@dataclass
class RequirementOutcome:
    requirement: Requirement
    status: Status | None  # None: not tested in this run
    checks: list[CheckResult] = field(default_factory=list)
    #: whether READY promises this requirement (run role, gegevensdiensten, options, parts)
    in_scope: bool = True
    #: when not in scope: why not (e.g. "target option abonneren is not set")
    scope_reason: str | None = None

    @property
    def label(self) -> str:
        """The status as shown in reports: a status value, or ``untested``."""
        return self.status.value if self.status is not None else "untested"

    @property
    def blocking(self) -> bool:
        """A MUST requirement that failed: it makes the run NOT READY (in scope or not)."""
        return self.status is Status.FAIL and self.requirement.blocking

    @property
    def passed(self) -> bool:
        """Judged and met (a warning on a ⚠ rule or a SHOULD counts as met)."""
        return self.status in _PASSED

    @property
    def blocked_by(self) -> list[str]:
        """The requirement IDs of the root failures that blocked its checks (union, in order)."""
        out: list[str] = []
        for c in self.checks:
            if c.status is Status.BLOCKED:
                out.extend(r for r in c.blocked_by if r not in out)
        return out

    def first_problem(self) -> CheckResult | None:
        """The first check with the requirement's status (or worse than pass): what to show."""
        for status in STATUS_ORDER:
            if status is Status.PASS:
                continue
            for c in self.checks:
                if c.status is status:
                    return c
        return None


@dataclass
class IncompleteItem:
    """Why READY could not be promised: a MUST requirement in scope not judged-and-passed, an
    error of a check that names no known requirement, or the run being a subset."""

    id: str | None  # requirement ID; None for the subset note and for unmapped checks
    status: str  # untested | omitted | skip | blocked | error | subset
    reason: str
    check: str | None = None  # the check the reason comes from
    blocked_by: list[str] = field(default_factory=list)
    how_to_test: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status, "reason": self.reason}
        if self.check:
            out["check"] = self.check
        if self.blocked_by:
            out["blocked_by"] = list(self.blocked_by)
        if self.how_to_test:
            out["how_to_test"] = self.how_to_test
        return out


@dataclass
class Readiness:
    verdict: str  # READY, NOT READY or INCOMPLETE
    counts: dict[str, int]  # checks per status
    requirements: dict[str, RequirementOutcome]
    #: MUST requirements that failed: the root failures that make the run NOT READY
    blocking: list[RequirementOutcome]
    #: failed checks that name no known requirement (they make the run NOT READY too)
    unmapped_blocking: list[CheckResult]
    #: what keeps the run from READY besides failures (also filled when NOT READY)
    incomplete: list[IncompleteItem] = field(default_factory=list)
    #: the scope the verdict was judged against (RunResult.scope, or inferred from the target)
    scope: dict[str, Any] = field(default_factory=dict)
    #: distinct texts of checks judged in degraded mode
    degraded: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.verdict == READY

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def subset(self) -> bool:
        return bool(self.scope.get("subset"))

    @property
    def blocked(self) -> int:
        """How many checks were blocked by an earlier failure."""
        return self.counts.get(Status.BLOCKED.value, 0)

    def areas(self) -> dict[str, dict[str, int]]:
        """Per area: requirements per status, ``untested`` (in scope, no check) and ``n/a``
        (out of scope, no check)."""
        out: dict[str, dict[str, int]] = {}
        for outcome in self.requirements.values():
            area = out.setdefault(outcome.requirement.area, {**{s.value: 0 for s in Status}, "untested": 0, "n/a": 0})
            if outcome.status is not None:
                area[outcome.status.value] += 1
            elif outcome.in_scope:
                area["untested"] += 1
            else:
                area["n/a"] += 1
        return dict(sorted(out.items(), key=lambda kv: list(AREAS).index(kv[0]) if kv[0] in AREAS else 99))


def effective_scope(result: RunResult) -> dict[str, Any]:
    """``result.scope`` with defaults; inferred from the target description when the runner
    recorded none (role dva, the declared gegevensdiensten, the scalar options that are set)."""
    scope = dict(result.scope or {})
    if not scope:
        target = result.target or {}
        options = target.get("options") or {}
        scope = {
            "role": "dva",
            "gegevensdiensten": [str(g) for g in target.get("gegevensdiensten") or []],
            "options": {k: v for k, v in options.items() if v} if isinstance(options, dict) else {},
            "has": [],
            "subset": False,
            "selection": {},
            "inferred": "the run recorded no scope; inferred from the target description",
        }
    scope.setdefault("role", "dva")
    scope.setdefault("gegevensdiensten", [])
    scope.setdefault("options", {})
    scope.setdefault("has", [])
    scope.setdefault("subset", False)
    scope.setdefault("selection", {})
    return scope


def describe_selection(selection: dict[str, Any] | list[Any] | None) -> str:
    """``{"k": ["*code*"], "tag": ["tls"]}`` -> ``-k *code*, --tag tls``."""
    if not selection:
        return ""
    if isinstance(selection, (list, tuple)):
        return ", ".join(str(s) for s in selection)
    flags = {"k": "-k", "tag": "--tag", "scenarios": "--scenarios"}
    parts = []
    for key, values in selection.items():
        for value in values if isinstance(values, (list, tuple)) else [values]:
            parts.append(f"{flags.get(key, '--' + str(key))} {value}")
    return ", ".join(parts)


def blocked_reason(blocked_by: list[str], reason: str) -> str:
    """``blocked by AS-TOKEN-02: <reason>`` (the reason as is when it already says so)."""
    reason = (reason or "").strip()
    if reason.lower().startswith("blocked"):
        return reason
    head = f"blocked by {', '.join(blocked_by)}" if blocked_by else "blocked by an earlier failure"
    return f"{head}: {reason}" if reason else head


def _with_hint(reason: str, requirement: Requirement) -> str:
    return f"{reason}; to test it: {requirement.how_to_test}" if requirement.how_to_test else reason


def _incomplete_item(outcome: RequirementOutcome, subset: bool) -> IncompleteItem:
    req = outcome.requirement
    if outcome.status is None:
        if req.not_tested:
            reason = f"no scenario tests it yet: {req.not_tested}"
        elif subset:
            reason = "not in this subset run (-k/--tag/--scenarios)"
        else:
            reason = _with_hint("not tested in this run", req)
        return IncompleteItem(req.id, "untested", reason, how_to_test=req.how_to_test)
    problem = outcome.first_problem()
    text = (problem.reason or "").strip() if problem else ""
    check = problem.id if problem else None
    if outcome.status is Status.BLOCKED:
        by = outcome.blocked_by
        return IncompleteItem(req.id, "blocked", blocked_reason(by, text), check, by)
    if outcome.status is Status.ERROR:
        reason = text or "the tool could not decide and gave no reason"
        return IncompleteItem(req.id, "error", reason, check)
    if outcome.status is Status.OMITTED:
        return IncompleteItem(req.id, "omitted", _with_hint(text or "omitted", req), check, how_to_test=req.how_to_test)
    # skip only: a precondition of every check was missing
    return IncompleteItem(req.id, "skip", _with_hint(text or "skipped", req), check, how_to_test=req.how_to_test)


def assess(result: RunResult) -> Readiness:
    cat = catalogue()
    scope = effective_scope(result)
    subset = bool(scope.get("subset"))
    by_req: dict[str, list[CheckResult]] = {}
    unmapped_failed: list[CheckResult] = []
    unmapped_errors: list[CheckResult] = []
    for check in result.checks:
        known = [r for r in check.requirements if r in cat]
        if not known:
            if check.status is Status.FAIL:
                unmapped_failed.append(check)
            elif check.status is Status.ERROR:
                unmapped_errors.append(check)
        for rid in known:
            by_req.setdefault(rid, []).append(check)
    outcomes: dict[str, RequirementOutcome] = {}
    for rid, req in cat.items():
        checks = by_req.get(rid, [])
        why_not = req.scope_reason(scope)
        outcomes[rid] = RequirementOutcome(req, requirement_status(checks), checks,
                                           in_scope=why_not is None, scope_reason=why_not)
    blocking = [o for o in outcomes.values() if o.blocking]

    incomplete: list[IncompleteItem] = []
    if getattr(result, "interrupted", None):
        incomplete.append(IncompleteItem(None, "interrupted", f"the run was interrupted ({result.interrupted}) "
                                                               "before every scenario finished; what ran is reported"))
    if subset:
        selection = describe_selection(scope.get("selection"))
        incomplete.append(IncompleteItem(None, "subset", SUBSET_REASON + (f" (selection: {selection})" if selection else "")))
    for o in outcomes.values():
        if o.in_scope and o.requirement.blocking and not o.passed and o.status is not Status.FAIL:
            incomplete.append(_incomplete_item(o, subset))
    for c in unmapped_errors:
        incomplete.append(IncompleteItem(None, "error", (c.reason or "").strip() or
                                         "the tool could not decide and gave no reason", c.id))

    if blocking or unmapped_failed:
        verdict = NOT_READY
    elif incomplete:
        verdict = INCOMPLETE
    else:
        verdict = READY

    counts = {s.value: 0 for s in Status}
    for check in result.checks:
        counts[check.status.value] += 1
    degraded: list[str] = []
    for check in result.checks:
        if check.degraded and check.degraded not in degraded:
            degraded.append(check.degraded)
    return Readiness(
        verdict=verdict,
        counts=counts,
        requirements=outcomes,
        blocking=blocking,
        unmapped_blocking=unmapped_failed,
        incomplete=incomplete,
        scope=scope,
        degraded=degraded,
    )
