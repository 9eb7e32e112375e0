"""``validatiestraat scenarios lint|list|schema``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from validatiestraat import exitcodes
from validatiestraat.errors import UserError
from validatiestraat.scenario.loader import bundled_scenarios_dir, load_scenarios
from validatiestraat.scenario.schema import build_schema


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scenarios",
        help="lint, list or describe scenario files",
        description="Work with scenario files (YAML, one flow per file).",
        epilog="examples:\n  validatiestraat scenarios lint my-scenarios/\n  validatiestraat scenarios list --json\n"
               "  validatiestraat scenarios schema > scenario.schema.json\n\n"
               "lint exit codes: 0 all valid, 4 problems found (printed as file:line:column: message)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lint = s.add_parser("lint", help="check scenario files against the schema and the rules",
                        epilog="example:\n  validatiestraat scenarios lint scenarios/dva/oauth/code-reuse.yaml",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    lint.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the bundled scenarios)")
    lint.add_argument("--json", action="store_true", help="print problems as JSON")
    lint.set_defaults(func=lint_command)
    ls = s.add_parser("list", help="list scenarios with their requirement IDs",
                      epilog="example:\n  validatiestraat scenarios list --json",
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("paths", nargs="*", type=Path)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_command)
    sc = s.add_parser("schema", help="print the JSON Schema of scenario files",
                      epilog="example:\n  validatiestraat scenarios schema > scenario.schema.json",
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    sc.set_defaults(func=lambda args: (print(json.dumps(build_schema(), indent=2)), exitcodes.OK)[1])


def lint_command(args: argparse.Namespace) -> int:
    paths = args.paths or [bundled_scenarios_dir()]
    try:
        scenarios = load_scenarios(paths)
    except UserError as exc:
        if args.json:
            print(json.dumps({"ok": False, "problems": [p.__dict__ for p in exc.problems]}, indent=2))
        else:
            for problem in exc.problems:
                print(problem)
            print(f"{len(exc.problems)} problem(s)")
        return exitcodes.CONFIG_ERROR
    if args.json:
        print(json.dumps({"ok": True, "scenarios": [s.file for s in scenarios], "problems": []}, indent=2))
    else:
        print(f"{len(scenarios)} scenario(s) valid")
    return exitcodes.OK


def list_command(args: argparse.Namespace) -> int:
    scenarios = load_scenarios(args.paths or [bundled_scenarios_dir()])
    rows = [{"id": s.id, "title": s.title, "role": s.role, "file": s.file, "tags": s.tags,
             "requirements": sorted(s.covered_requirements())} for s in scenarios]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("id", "requirements", "title")
        for r in rows:
            table.add_row(r["id"], ", ".join(r["requirements"]), r["title"])
        Console().print(table)
    return exitcodes.OK
