"""``validatiestraat requirements``: the catalogue with coverage by the bundled scenarios."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from validatiestraat import exitcodes
from validatiestraat.requirements import AREAS, catalogue, describe_condition

#: the run that a requirement of each area belongs to (for "applies when")
ROLE_OF_AREA = {"dva-as": "dva", "dva-rs": "dva", "tls": "dva", "lists": "dva", "pgo": "pgo"}
from validatiestraat.scenario.loader import bundled_scenarios_dir, load_scenarios


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "requirements",
        help="print the requirement catalogue with coverage by scenarios",
        description="The MedMij requirement catalogue (IDs from the domain brief §8) and which scenarios test each.",
        epilog="examples:\n  validatiestraat requirements\n  validatiestraat requirements --untested\n"
               "  validatiestraat requirements --area dva-as --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scenarios", action="append", type=Path, help="scenario folders (default: the bundled ones)")
    p.add_argument("--area", choices=sorted(AREAS), help="only this area")
    p.add_argument("--untested", action="store_true", help="only requirements no scenario tests")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=requirements_command)


def coverage(paths: list[Path] | None = None) -> dict[str, list[str]]:
    scenarios = load_scenarios(paths or [bundled_scenarios_dir()])
    out: dict[str, list[str]] = {}
    for s in scenarios:
        for rid in s.covered_requirements():
            out.setdefault(rid, []).append(s.id)
    return out


def requirements_command(args: argparse.Namespace) -> int:
    cov = coverage(args.scenarios)
    rows = []
    for rid, req in catalogue().items():
        if args.area and req.area != args.area:
            continue
        scenarios = sorted(cov.get(rid, []))
        if args.untested and scenarios:
            continue
        rows.append({"id": rid, "title": req.title, "area": req.area, "role": req.role, "level": req.level,
                     "uncertain": req.uncertain, "optional": req.optional, "source": req.source,
                     "applies_when": req.applies_when, "how_to_test": req.how_to_test,
                     "scenarios": scenarios, "not_tested": None if scenarios else (req.not_tested or "no scenario yet")})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return exitcodes.OK
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("ID", "level", "title", "applies when", "tested by", title="MedMij requirements and coverage",
                  expand=True)
    for r in rows:
        level = r["level"] + (" ⚠" if r["uncertain"] else "") + (" opt" if r["optional"] else "")
        tested = Text(", ".join(r["scenarios"]), style="green") if r["scenarios"] else Text(r["not_tested"], style="yellow")
        if r["how_to_test"]:
            tested.append(f"\n({r['how_to_test']})", style="dim")
        applies = describe_condition(r["applies_when"]) or f"every {ROLE_OF_AREA.get(r['area'], r['role'])} run"
        table.add_row(r["id"], level, r["title"], Text(applies), tested)
    console = Console()
    console.print(table)
    covered = sum(1 for r in rows if r["scenarios"])
    console.print(f"{covered} of {len(rows)} requirements covered by at least one scenario")
    console.print("READY promises every MUST requirement that applies to the run (role, declared gegevensdiensten, "
                  "target options and parts): each must be judged and pass, or the verdict is INCOMPLETE", style="dim")
    return exitcodes.OK
