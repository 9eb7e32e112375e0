"""The rich console: live progress while running, then the label-readiness panel."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from validatiestraat.report.model import CheckResult, RunResult, ScenarioResult, Status
from validatiestraat.report.readiness import Readiness
from validatiestraat.report.redact import Redactor
from validatiestraat.requirements import AREAS

STYLE = {
    Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold magenta", Status.BLOCKED: "dark_orange",
    Status.WARNING: "yellow", Status.SKIP: "dim", Status.OMITTED: "dim", Status.WAIVED: "cyan",
}


class ConsoleProgress:
    """Event handler for the runner: a progress bar and a line per finished scenario."""

    def __init__(self, console: Console, total: int):
        self.console = console
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self.task = self.progress.add_task("scenarios", total=total)
        self._failed: dict[str, int] = {}

    def __enter__(self) -> "ConsoleProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def scenario_started(self, scenario) -> None:
        pass

    def check_finished(self, result: CheckResult) -> None:
        if result.status is Status.FAIL:
            self._failed[result.scenario] = self._failed.get(result.scenario, 0) + 1

    def scenario_finished(self, scenario, result: ScenarioResult) -> None:
        status = result.status
        mark = {Status.PASS: "✔", Status.FAIL: "✘", Status.ERROR: "!", Status.BLOCKED: "⊘",
                Status.WARNING: "⚠"}.get(status, "·") if status else "·"
        style = STYLE.get(status, "") if status else "dim"
        failed = self._failed.get(scenario.id, 0)
        extra = f" ({failed} failed)" if failed else ""
        self.progress.console.print(Text(f" {mark} ", style=style) + Text(f"{scenario.id}") +
                                    Text(f"  {result.duration_ms / 1000:.2f} s{extra}", style="dim"))
        self.progress.advance(self.task)


VERDICT_STYLE = {
    "READY": ("bold white on green", "green"),
    "NOT READY": ("bold white on red", "red"),
    "INCOMPLETE": ("bold black on yellow", "yellow"),
}
#: the order of the status columns in the summary
SHOWN = (Status.PASS, Status.FAIL, Status.ERROR, Status.BLOCKED, Status.WAIVED, Status.WARNING, Status.SKIP,
         Status.OMITTED)
#: how many requirement IDs a line names before "and N more"
MAX_IDS = 12
#: reasons in the "Not judged" list are cut here unless --verbose (results.json has them whole)
MAX_REASON = 300


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS])
    return shown + (f" and {len(ids) - MAX_IDS} more" if len(ids) > MAX_IDS else "")


def summary(console: Console, result: RunResult, readiness: Readiness, redactor: Redactor, verbose: bool = False) -> None:
    counts = readiness.counts
    count_text = Text()
    for status in SHOWN:
        n = counts.get(status.value, 0)
        if n:
            count_text.append(f"{n} {status.value}  ", style=STYLE[status])
    badge, border = VERDICT_STYLE.get(readiness.verdict, VERDICT_STYLE["NOT READY"])
    verdict = Text(f" {readiness.verdict} ", style=badge)
    target = result.target.get("name", "?")
    header = Text.assemble(verdict, "  ", (f"{target}", "bold"), (f"  ({len(result.checks)} checks, "
                                                                   f"{len(result.scenarios)} scenarios)", "dim"))
    parts: list = [header, count_text]
    if result.faults:
        parts.append(Text(f"reference DVA faults: {', '.join(result.faults)}", style="yellow"))
    if readiness.blocking or readiness.unmapped_blocking:
        table = Table(box=box.SIMPLE, show_header=True, header_style="bold", expand=True, pad_edge=False)
        table.add_column("requirement", no_wrap=True)
        table.add_column("why it blocks the label", overflow="fold")
        for outcome in readiness.blocking:
            problem = outcome.first_problem()
            reason = redactor.text(problem.reason) if problem else ""
            evidence = ""
            if problem and problem.evidence:
                evidence = f"  [evidence {', '.join(problem.evidence[:3])}]"
            if problem and verbose:
                evidence += f"  [{problem.id}]"
            # Text, not a str: reasons and evidence contain brackets that rich would read as markup
            table.add_row(Text(outcome.requirement.id, style="bold red"), Text((reason or "") + evidence))
        for check in readiness.unmapped_blocking:
            table.add_row(Text(check.check, style="bold red"), Text(redactor.text(check.reason) or ""))
        parts.append(Text("Blocking failures", style="bold"))
        parts.append(table)
    if readiness.blocked:
        roots = sorted({rid for c in result.checks if c.status is Status.BLOCKED for rid in c.blocked_by})
        parts.append(Text(f"{readiness.blocked} check(s) blocked" + (f" by the failure of {_ids(roots)}" if roots else
                                                                    " by an earlier failure") +
                          " (not failures themselves)", style=STYLE[Status.BLOCKED]))
    if readiness.incomplete:
        parts.append(Text("Not judged (INCOMPLETE)" if readiness.verdict == "INCOMPLETE" else
                          "Not judged", style="bold yellow"))
        table = Table(box=box.SIMPLE, show_header=True, header_style="bold", expand=True, pad_edge=False)
        table.add_column("requirement", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("why it was not judged", overflow="fold")
        # in a subset run most requirements are simply not selected: one line for all of those
        not_selected = [i.id for i in readiness.incomplete
                        if readiness.subset and i.status == "untested" and i.id and i.reason.startswith("not in this subset")]
        for item in readiness.incomplete:
            if item.id in not_selected:
                continue
            name = item.id or (item.check or "run")
            style = "yellow" if item.status in ("subset", "untested", "omitted", "skip") else (
                STYLE[Status.BLOCKED] if item.status == "blocked" else STYLE[Status.ERROR])
            reason = redactor.text(item.reason) or ""
            if not verbose and len(reason) > MAX_REASON:
                reason = reason[:MAX_REASON - 1].rstrip() + "…"
            if verbose and item.check and item.id:
                reason += f"  [{item.check}]"
            table.add_row(Text(name, style="bold"), Text(item.status, style=style), Text(reason))
        if not_selected:
            table.add_row(Text(f"{len(not_selected)} more", style="bold"), Text("untested", style="yellow"),
                          Text(f"not in this subset run: {_ids(not_selected)}"))
        parts.append(table)
    if getattr(result, "waivers", None):
        parts.append(Text("Waivers", style="bold cyan"))
        for w in result.waivers:
            style = {"applied": "cyan", "expired": "bold red", "unused": "dim"}.get(w["status"], "")
            parts.append(Text(f"  • {w['requirement']} {w['status']}: {redactor.text(w['reason'])} (approved by "
                              f"{w['approved_by']}, until {w['expires']})", style=style))
    if readiness.degraded:
        parts.append(Text("Degraded mode", style="bold yellow"))
        for text in readiness.degraded:
            parts.append(Text(f"  • {redactor.text(text)}", style="yellow"))
    warnings = [o for o in readiness.requirements.values() if o.status is Status.WARNING]
    if warnings:
        parts.append(Text("Warnings: " + ", ".join(o.requirement.id for o in warnings), style="yellow"))
    area_counts = readiness.areas()
    rows = {a: c for a, c in area_counts.items()
            if any(v for k, v in c.items() if k != "n/a")}  # an area wholly out of scope is left out
    shown = [s for s in SHOWN if any(c.get(s.value) for c in rows.values())] or [Status.PASS]
    extra = [k for k in ("untested", "n/a") if any(c.get(k) for c in rows.values())]
    areas = Table(box=box.SIMPLE_HEAD, expand=False)
    areas.add_column("area", no_wrap=True)
    for status in shown:
        areas.add_column(status.value, justify="right", style=STYLE[status], no_wrap=True)
    for key in extra:
        areas.add_column(key, justify="right", style="yellow" if key == "untested" else "dim", no_wrap=True)
    for area in AREAS:
        c = rows.get(area)
        if not c:
            continue
        areas.add_row(AREAS[area], *[str(c.get(s.value, 0) or "") for s in shown],
                      *[str(c.get(k) or "") for k in extra])
    parts.append(Text("Requirements per area (untested: in scope but not tested; n/a: out of scope)", style="bold"))
    parts.append(areas)
    console.print(Panel(Group(*parts), title="validatiestraat · label readiness", border_style=border))
