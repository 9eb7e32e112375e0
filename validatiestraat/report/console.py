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
    Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold magenta",
    Status.WARNING: "yellow", Status.SKIP: "dim", Status.OMITTED: "dim",
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
        if result.status.blocking:
            self._failed[result.scenario] = self._failed.get(result.scenario, 0) + 1

    def scenario_finished(self, scenario, result: ScenarioResult) -> None:
        status = result.status
        mark = {Status.PASS: "✔", Status.FAIL: "✘", Status.ERROR: "!", Status.WARNING: "⚠"}.get(status, "·") if status else "·"
        style = STYLE.get(status, "") if status else "dim"
        failed = self._failed.get(scenario.id, 0)
        extra = f" ({failed} blocking)" if failed else ""
        self.progress.console.print(Text(f" {mark} ", style=style) + Text(f"{scenario.id}") +
                                    Text(f"  {result.duration_ms / 1000:.2f} s{extra}", style="dim"))
        self.progress.advance(self.task)


def summary(console: Console, result: RunResult, readiness: Readiness, redactor: Redactor, verbose: bool = False) -> None:
    counts = readiness.counts
    count_text = Text()
    for status in (Status.PASS, Status.FAIL, Status.ERROR, Status.WARNING, Status.SKIP, Status.OMITTED):
        n = counts.get(status.value, 0)
        if n:
            count_text.append(f"{n} {status.value}  ", style=STYLE[status])
    verdict = Text(f" {readiness.verdict} ", style="bold white on green" if readiness.ready else "bold white on red")
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
    warnings = [o for o in readiness.requirements.values() if o.status is Status.WARNING]
    if warnings:
        parts.append(Text("Warnings: " + ", ".join(o.requirement.id for o in warnings), style="yellow"))
    areas = Table(box=box.SIMPLE_HEAD, expand=False)
    areas.add_column("area")
    for status in (Status.PASS, Status.FAIL, Status.ERROR, Status.WARNING, Status.SKIP, Status.OMITTED):
        areas.add_column(status.value, justify="right", style=STYLE[status])
    areas.add_column("untested", justify="right", style="dim")
    untested: dict[str, int] = {}
    for o in readiness.requirements.values():
        if o.status is None:
            untested[o.requirement.area] = untested.get(o.requirement.area, 0) + 1
    area_counts = readiness.areas()
    for area in AREAS:
        c = area_counts.get(area)
        if not c and not untested.get(area):
            continue
        c = c or {}
        areas.add_row(AREAS[area], *[str(c.get(s.value, 0) or "") for s in (
            Status.PASS, Status.FAIL, Status.ERROR, Status.WARNING, Status.SKIP, Status.OMITTED)],
            str(untested.get(area, "")))
    parts.append(Text("Requirements per area", style="bold"))
    parts.append(areas)
    console.print(Panel(Group(*parts), title="validatiestraat · label readiness", border_style="green" if readiness.ready else "red"))
