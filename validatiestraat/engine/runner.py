"""Runs scenarios: steps in order within a flow, flows concurrently, every check recorded.

The runner knows no concrete step kind or check; it looks them up in the plug-in registries.
Progress is reported through an event handler (see :class:`EventHandler`), which is how the
console shows live progress without the engine knowing about the console.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any, Protocol

import jmespath

from validatiestraat import SUITE_VERSION, __version__
from validatiestraat.engine.context import FlowContext, HttpSubject, Recorder, RunState, TLSContexts
from validatiestraat.engine.plugins import (
    CHECKS,
    STEP_KINDS,
    PreconditionMissing,
    StepError,
    StepOutcome,
    Verdict,
    load_plugins,
)
from validatiestraat.report.model import CheckResult, RunResult, ScenarioResult, Status, worst
from validatiestraat.requirements import catalogue
from validatiestraat.scenario.loader import META, Scenario, check_name
from validatiestraat.scenario.template import MissingVariable
from validatiestraat.target import Target

DEFAULT_STEP_TIMEOUT = 90.0


class EventHandler(Protocol):
    def scenario_started(self, scenario: Scenario) -> None: ...
    def check_finished(self, result: CheckResult) -> None: ...
    def scenario_finished(self, scenario: Scenario, result: ScenarioResult) -> None: ...


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class Runner:
    def __init__(
        self,
        target: Target,
        scenarios: list[Scenario],
        handlers: list[Any] | None = None,
        concurrency: int = 8,
        whitelist: Any = None,
        faults: list[str] | None = None,
        scope: dict[str, Any] | None = None,
    ):
        load_plugins()
        self.scope = dict(scope or {})
        self.state = RunState()
        #: set by whoever cancels the run (e.g. "SIGTERM"), so that the result says why it is partial
        self.interrupted: str | None = None
        self.target = target
        self.scenarios = scenarios
        self.handlers = handlers or []
        self.concurrency = concurrency
        self.recorder = Recorder()
        for secret in target.secrets:
            self.recorder.secret(secret)
        self.tls = TLSContexts(target)
        self.whitelist = whitelist if whitelist is not None else target.whitelist
        self.faults = faults or []
        self.checks: list[CheckResult] = []
        self.scenario_results: list[ScenarioResult] = []

    def _emit(self, event: str, *args: Any) -> None:
        for handler in self.handlers:
            method = getattr(handler, event, None)
            if method:
                method(*args)

    async def run(self) -> RunResult:
        started = _now()
        semaphore = asyncio.Semaphore(self.concurrency)

        async def guarded(s: Scenario) -> None:
            async with semaphore:
                await self._run_scenario(s)

        self._whitelist_findings()
        interrupted = None
        try:
            await asyncio.gather(*(guarded(s) for s in self.scenarios))
        except asyncio.CancelledError:  # SIGINT/SIGTERM (engine/command.py): report what ran
            interrupted = self.interrupted or "cancelled"
        order = {s.id: i for i, s in enumerate(self.scenarios)}
        self.checks.sort(key=lambda c: (order.get(c.scenario, 0), c.id))
        self.scenario_results.sort(key=lambda r: order.get(r.id, 0))
        return RunResult(
            tool_version=__version__,
            suite_version=SUITE_VERSION,
            target=self.target.describe(),
            started=started,
            finished=_now(),
            scenarios=self.scenario_results,
            checks=self.checks,
            exchanges=sorted(self.recorder.exchanges, key=lambda x: x.id),
            faults=self.faults,
            scope=self.scope,
            interrupted=interrupted,
        )

    def _whitelist_findings(self) -> None:
        """With a Whitelist, every endpoint host of the target must be on it (LIST-SEM-03).

        Requests to a host that is not listed are never sent (see FlowContext); this records the
        finding once per endpoint so the reason is visible even where steps only show an error.
        """
        if self.whitelist is None:
            return
        now = _now()
        results = []
        for name, url in (("authorization", self.target.authorization_endpoint),
                          ("token", self.target.token_endpoint), ("resource", self.target.resource_endpoint)):
            refusal = self.whitelist.refusal(url) if hasattr(self.whitelist, "refusal") else (
                None if self.whitelist.allows(url) else "not on the Whitelist")
            status = Status.FAIL if refusal else Status.PASS
            reason = (f"{name} endpoint {url}: {refusal}; the suite did not contact it" if refusal
                      else f"{name} endpoint host is on the Whitelist")
            results.append(CheckResult(id=f"target-whitelist/{name}/1-lists.whitelisted", title=
                                       "Endpoint hosts are MedMij nodes on the Whitelist", requirements=["LIST-SEM-03"],
                                       status=status, reason=reason, scenario="target-whitelist", step=name,
                                       check="lists.whitelisted"))
        self.checks.extend(results)
        self.scenario_results.append(ScenarioResult(
            id="target-whitelist", title="Target endpoints on the MedMij Whitelist", role="lists",
            file=self.target.source, started=now, finished=now, duration_ms=0.0,
            status=worst([r.status for r in results])))

    async def _run_scenario(self, scenario: Scenario) -> None:
        self._emit("scenario_started", scenario)
        t0 = time.perf_counter()
        started = _now()
        ctx = FlowContext(self.target, scenario.id, self.recorder, self.tls, scenario.variables, self.whitelist,
                          run=self.state)
        results: list[CheckResult] = []
        omitted = self._omission(scenario.when)
        try:
            for index, step in enumerate(scenario.steps):
                results.extend(await self._run_step(scenario, index, step, ctx, omitted))
        finally:
            await ctx.aclose()
        finished = _now()
        status = worst([r.status for r in results])
        sres = ScenarioResult(
            id=scenario.id, title=scenario.title, role=scenario.role, file=scenario.file,
            started=started, finished=finished, duration_ms=(time.perf_counter() - t0) * 1000,
            status=status, tags=scenario.tags,
        )
        self.scenario_results.append(sres)
        self._emit("scenario_finished", scenario, sres)

    def _omission(self, when: dict[str, Any] | None) -> str | None:
        if not when:
            return None
        if "has" in when:
            present = {"other_client": self.target.other_client is not None,
                       "untrusted_client": bool(self.target.option("untrusted_client_certificate"))}[when["has"]]
            return None if present else f"not applicable: the target has no {when['has']}"
        value = self.target.option(when["option"])
        if "equals" in when:
            ok = value == when["equals"]
        else:
            ok = bool(value)
        if ok:
            return None
        return f"not applicable: target option {when['option']!r} is not set" + (
            f" to {when['equals']!r}" if "equals" in when else ""
        )

    async def _run_step(
        self, scenario: Scenario, index: int, step: dict[str, Any], ctx: FlowContext, omitted: str | None
    ) -> list[CheckResult]:
        ctx.step_name = step["name"]
        kind = STEP_KINDS[step["kind"]]
        omitted = omitted or self._omission(step.get("when"))
        t0 = time.perf_counter()
        outcome: StepOutcome
        if omitted:
            outcome = StepOutcome(subject=None, skipped=omitted)
        else:
            missing = [name for name in step.get("requires", []) if ctx.vars.get(name) in (None, "")]
            if missing:
                outcome = _blocked(missing, ctx)
            else:
                outcome = await self._execute(kind, step, ctx)
        if outcome.skipped is None and not outcome.error:
            self._capture(step.get("capture", {}), outcome, ctx)
        elif outcome.skipped is None:
            self._capture(step.get("capture", {}), outcome, ctx, quiet=True)
        duration = (time.perf_counter() - t0) * 1000
        results = []
        named = {check_name(item) for item in step.get("expect", [])}
        items = list(step.get("expect", [])) + [dict(c) for c in kind.implicit_checks if check_name(c) not in named]
        for n, item in enumerate(items, start=1):
            name = check_name(item)
            assert name is not None  # guaranteed by the loader
            check = CHECKS[name]
            requirements = list(item.get("requirements", check.requirements))
            if omitted:
                verdict = Verdict(Status.OMITTED, outcome.skipped or omitted)
            elif outcome.skipped is not None:
                verdict = Verdict.blocked(outcome.skipped, outcome.blocked_by)
            else:
                ctx.judging = requirements
                verdict = self._evaluate(check, item[name], outcome, ctx)
            verdict = self._apply_severity(verdict, item.get("severity"), requirements)
            declared = getattr(self.target, "not_applicable", None) or {}
            if requirements and all(r in declared for r in requirements) and verdict.status is not Status.OMITTED:
                verdict = Verdict(Status.OMITTED, "not applicable, as the target declares: "
                                  + "; ".join(f"{r}: {declared[r]}" for r in requirements))
            reason = verdict.reason
            if outcome.degraded and verdict.status not in (Status.OMITTED, Status.BLOCKED):
                reason = f"{reason} [judged in degraded mode: {outcome.degraded}]"
            result = CheckResult(
                id=f"{scenario.id}/{step['name']}/{n}-{name}",
                title=item.get("title") or step.get("title") or check.title or name,
                requirements=requirements,
                status=verdict.status,
                reason=reason,
                scenario=scenario.id,
                step=step["name"],
                check=name,
                evidence=list(verdict.evidence if verdict.evidence is not None else outcome.exchanges),
                details=verdict.details,
                duration_ms=duration,
                blocked_by=list(verdict.blocked_by),
                degraded=outcome.degraded if verdict.status not in (Status.OMITTED, Status.BLOCKED) else None,
            )
            results.append(result)
            self.checks.append(result)
            self._emit("check_finished", result)
        self._note_blockers(step, outcome, results, ctx)
        return results

    @staticmethod
    def _note_blockers(step: dict[str, Any], outcome: StepOutcome, results: list[CheckResult],
                       ctx: FlowContext) -> None:
        """Remember why a variable this step should have captured is missing: the requirements of
        the step's failed (or errored) checks, so that the steps needing it end as BLOCKED by them."""
        for var in step.get("capture", {}):
            if ctx.vars.get(var) not in (None, ""):
                ctx.blockers.pop(var, None)
                continue
            if outcome.skipped is not None:
                ctx.blockers[var] = (list(outcome.blocked_by), outcome.skipped)
                continue
            bad = [r for r in results if r.status in (Status.FAIL, Status.ERROR, Status.WARNING)]
            blocked = [r for r in results if r.status is Status.BLOCKED and r.blocked_by]
            reqs = list(dict.fromkeys([req for r in bad for req in r.requirements]
                                      + [req for r in blocked for req in r.blocked_by]))
            if not bad and blocked:
                bad = blocked
            verb = {Status.FAIL: "failed", Status.ERROR: "could not be judged", Status.WARNING: "warned",
                    Status.BLOCKED: "was blocked"}
            why = (f"step '{step['name']}' {verb[bad[0].status]}: {bad[0].reason}" if bad
                   else f"step '{step['name']}' did not produce it" + (f" ({outcome.error})" if outcome.error else ""))
            ctx.blockers[var] = (reqs, why)

    async def _execute(self, kind, step: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        spec = {k: v for k, v in step.items() if k not in ("expect", "capture")}
        try:
            if "sleep" in spec:
                await asyncio.sleep(float(ctx.render(spec["sleep"])))
            rendered = ctx.render({k: v for k, v in spec.items() if k not in ("name", "kind", "title", "when", "requires")})
        except MissingVariable as exc:
            return _blocked([exc.name], ctx)
        timeout = float(step.get("timeout", DEFAULT_STEP_TIMEOUT))
        try:
            return await asyncio.wait_for(kind.run(rendered, ctx), timeout=timeout)
        except PreconditionMissing as exc:
            if exc.variable:
                return _blocked([exc.variable], ctx)
            return StepOutcome(subject=None, skipped=str(exc))
        except MissingVariable as exc:
            return _blocked([exc.name], ctx)
        except asyncio.TimeoutError:
            return StepOutcome(subject=None, error=f"step timed out after {timeout:.0f} s")
        except StepError as exc:
            return StepOutcome(subject=getattr(exc, "subject", None), error=str(exc),
                               exchanges=list(getattr(exc, "exchanges", [])))
        except Exception as exc:  # a bug in a step kind must not stop the run
            return StepOutcome(subject=None, error=f"internal error in step kind {step['kind']}: {type(exc).__name__}: {exc}")

    def _evaluate(self, check, raw_arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        try:
            arg = ctx.render(raw_arg)
        except MissingVariable as exc:
            blocked = _blocked([exc.name], ctx)
            return Verdict.blocked(blocked.skipped or _missing_reason([exc.name]), blocked.blocked_by)
        if outcome.subject is None and outcome.error:
            return Verdict(Status.ERROR, f"step could not complete: {outcome.error}")
        try:
            return check.evaluate(arg, outcome, ctx)
        except Exception as exc:  # a bug in a check must not stop the run
            return Verdict(Status.ERROR, f"internal error in check {check.name}: {type(exc).__name__}: {exc}")

    @staticmethod
    def _apply_severity(verdict: Verdict, severity: str | None, requirements: list[str]) -> Verdict:
        if verdict.status is not Status.FAIL:
            return verdict
        cat = catalogue()
        reqs = [cat[r] for r in requirements if r in cat]
        non_blocking = reqs and all(not r.blocking for r in reqs)
        if severity in ("warning", "info") or non_blocking:
            why = "uncertain rule (⚠), reported as warning" if severity else "not a MUST requirement"
            return Verdict(Status.WARNING, f"{verdict.reason} [{why}]", verdict.details, verdict.evidence)
        return verdict

    def _capture(self, spec: dict[str, Any], outcome: StepOutcome, ctx: FlowContext, quiet: bool = False) -> None:
        for var, how in spec.items():
            value = _extract(how, outcome.subject, ctx)
            if value is not None:
                ctx.vars[var] = value
                if how.get("secret"):
                    ctx.recorder.secret(value)
            else:
                ctx.vars.pop(var, None)


def _missing_reason(names: list[str]) -> str:
    return "precondition missing: no " + ", ".join(f"'{n}'" for n in names) + " (an earlier step did not produce it)"


def _blocked(names: list[str], ctx: FlowContext) -> StepOutcome:
    """A step that cannot run because variables are missing: BLOCKED by whatever kept them from
    being captured (the requirements of the earlier step's failed checks)."""
    reqs: list[str] = []
    whys: list[str] = []
    for name in names:
        known = ctx.blockers.get(name)
        if known:
            reqs.extend(known[0])
            whys.append(f"no '{name}' because {known[1]}")
        else:
            whys.append(f"no '{name}' (no earlier step produced it)")
    reqs = list(dict.fromkeys(reqs))
    head = f"blocked by {', '.join(reqs)}: " if reqs else "blocked: "
    reason = head + "; ".join(whys)
    if len(reason) > 400:
        reason = reason[:397] + "..."
    return StepOutcome(subject=None, skipped=reason, blocked_by=reqs)


def _extract(how: dict[str, Any], subject: Any, ctx: FlowContext) -> Any:
    if "value" in how:
        return ctx.render(how["value"])
    if subject is None:
        return None
    if "query" in how:
        params = getattr(subject, "redirect_params", None)
        if params is None and isinstance(subject, HttpSubject) and subject.response is not None:
            from urllib.parse import parse_qs, urlsplit

            location = subject.header("location") or ""
            params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        return (params or {}).get(how["query"])
    http = subject if isinstance(subject, HttpSubject) else getattr(subject, "http", None)
    if http is None:
        return None
    if "header" in how:
        return http.header(how["header"])
    body = http.json()
    if body is None:
        return None
    if "json" in how:
        return jmespath.search(how["json"], body)
    if "fhirpath" in how:
        from validatiestraat.engine.fhirpath import evaluate

        result = evaluate(body, how["fhirpath"])
        return result[0] if result else None
    return None
