"""Load and lint scenario files.

A scenario is one flow per YAML file. Steps may ``include:`` a fragment file (a list of steps
shared by several scenarios, e.g. "log in and get a token"); includes are resolved relative to
the including file first and then to the scenarios root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import jsonschema

from validatiestraat.engine.plugins import CHECKS, load_plugins
from validatiestraat.errors import Problem, UserError
from validatiestraat.requirements import catalogue
from validatiestraat.scenario.schema import build_schema
from validatiestraat.scenario.yamlpos import YamlError, load_with_positions, position_of, schema_error_location

FRAGMENT_SCHEMA = {
    "type": "object",
    "required": ["fragment", "steps"],
    "additionalProperties": False,
    "properties": {
        "fragment": {"type": "string"},
        "description": {"type": "string"},
        "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
    },
}

META = {"requirements", "severity", "title"}


@dataclass
class Scenario:
    id: str
    title: str
    role: str
    file: str
    steps: list[dict[str, Any]]
    requirements: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    gegevensdienst: str | None = None
    fhir_version: str | None = None
    when: dict[str, Any] | None = None
    description: str = ""

    def covered_requirements(self) -> set[str]:
        """Every requirement ID this scenario's checks verify."""
        load_plugins()
        out = set(self.requirements)
        for step in self.steps:
            for item in step.get("expect", []):
                reqs = item.get("requirements")
                if reqs is None:
                    name = check_name(item)
                    reqs = list(CHECKS[name].requirements) if name in CHECKS else []
                out.update(reqs)
        return out


def check_name(item: dict[str, Any]) -> str | None:
    names = [k for k in item if k not in META]
    return names[0] if len(names) == 1 else None


def bundled_scenarios_dir() -> Path:
    """The scenarios shipped with the package (repo ``scenarios/`` when run from a checkout)."""
    try:
        # scenarios/ has an __init__.py, so this is a plain folder (never a MultiplexedPath)
        path = Path(str(resources.files("validatiestraat.scenarios")))
        if path.is_dir() and any(path.glob("*/*.yaml")):
            return path
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - running from an unusual layout
        pass
    return Path(__file__).resolve().parents[2] / "scenarios"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(build_schema())


@lru_cache(maxsize=1)
def _fragment_validator() -> jsonschema.Draft202012Validator:
    schema = dict(FRAGMENT_SCHEMA)
    schema["$defs"] = build_schema()["$defs"]
    return jsonschema.Draft202012Validator(schema)


def _schema_problems(validator: jsonschema.Draft202012Validator, data: Any, positions, filename: str) -> list[Problem]:
    problems = []
    for error in _best_errors(validator, data):
        path = tuple(error.absolute_path)
        line, col = schema_error_location(error, positions)
        where = "/".join(str(p) for p in path) or "(top level)"
        problems.append(Problem(filename, line, col, f"{where}: {_message(error)}"))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


def _best_errors(validator, data) -> list[jsonschema.ValidationError]:
    """Flatten oneOf/anyOf/if-then noise into the most specific errors."""
    out = []
    for error in validator.iter_errors(data):
        out.extend(_leaves(error))
    seen = set()
    unique = []
    for e in out:
        key = (tuple(e.absolute_path), e.message)
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return unique


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        # choose the branch that got deepest
        best = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.context or [])))
        return _leaves(best)
    return [error]


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        extras = error.message.split("(")[-1].rstrip(")")
        return f"unknown key(s) {extras}"
    if error.validator == "oneOf" and error.schema_path and "include" in str(error.schema):
        return "a step needs either 'kind' or 'include'"
    if error.validator == "enum" and error.absolute_path and error.absolute_path[-1] == "kind":
        return f"unknown step kind {error.instance!r}; known kinds: {', '.join(error.validator_value)}"
    return error.message


class ScenarioLoader:
    """Loads scenario files, resolving includes, collecting every problem."""

    def __init__(self, root: Path | None = None):
        self.root = root or bundled_scenarios_dir()
        self.problems: list[Problem] = []
        self._fragments: dict[Path, list[dict[str, Any]] | None] = {}

    def load_file(self, path: Path) -> Scenario | None:
        display = _display(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.problems.append(Problem(display, None, None, f"cannot read: {exc.strerror}"))
            return None
        try:
            data, positions = load_with_positions(text, display)
        except YamlError as exc:
            self.problems.append(exc.problem)
            return None
        if isinstance(data, dict) and "fragment" in data:
            return None  # fragments are checked when included (and by lint on their own)
        problems = _schema_problems(_validator(), data, positions, display)
        if problems:
            self.problems.extend(problems)
            return None
        problems = self._semantic_problems(data, positions, display)
        steps = self._expand(data["steps"], path, positions, ("steps",), display, problems)
        if problems:
            self.problems.extend(problems)
            return None
        return Scenario(
            id=data["id"],
            title=data["title"],
            role=data["role"],
            file=display,
            steps=steps,
            requirements=list(data.get("requirements", [])),
            tags=list(data.get("tags", [])),
            variables=dict(data.get("variables", {})),
            gegevensdienst=str(data["gegevensdienst"]) if "gegevensdienst" in data else None,
            fhir_version=data.get("fhir_version"),
            when=data.get("when"),
            description=data.get("description", ""),
        )

    def lint_fragment(self, path: Path) -> None:
        self._load_fragment(path, _display(path))

    def _load_fragment(self, path: Path, display: str) -> list[dict[str, Any]] | None:
        if path in self._fragments:
            return self._fragments[path]
        self._fragments[path] = None  # guards against include cycles
        try:
            data, positions = load_with_positions(path.read_text(encoding="utf-8"), display)
        except YamlError as exc:
            self.problems.append(exc.problem)
            return None
        problems = _schema_problems(_fragment_validator(), data, positions, display)
        if not problems:
            problems = self._semantic_problems(data, positions, display)
        steps = None
        if not problems:
            steps = self._expand(data["steps"], path, positions, ("steps",), display, problems)
        self.problems.extend(problems)
        self._fragments[path] = steps if not problems else None
        return self._fragments[path]

    def _expand(self, steps, path: Path, positions, base, display, problems) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, step in enumerate(steps):
            if "include" not in step:
                if "expect" in step:
                    step = dict(step, expect=[item for _, item in _expectations(step["expect"], ())])
                out.append(step)
                continue
            target = self._resolve_include(step["include"], path)
            if target is None:
                line, col = position_of(positions, base + (i, "include"))
                problems.append(Problem(display, line, col, f"include {step['include']!r} not found"))
                continue
            if target in self._fragments and self._fragments[target] is None and target != path:
                # either a cycle or a broken fragment (already reported)
                pass
            fragment_steps = self._load_fragment(target, _display(target))
            if fragment_steps is None:
                line, col = position_of(positions, base + (i, "include"))
                problems.append(Problem(display, line, col, f"include {step['include']!r} is broken (see its own errors) or cyclic"))
                continue
            out.extend(fragment_steps)
        # step names must be unique after expansion
        names: dict[str, int] = {}
        for step in out:
            names[step["name"]] = names.get(step["name"], 0) + 1
        for name, count in names.items():
            if count > 1:
                line, col = position_of(positions, base)
                problems.append(Problem(display, line, col, f"step name {name!r} is used {count} times (after includes)"))
        return out

    def _resolve_include(self, ref: str, including: Path) -> Path | None:
        for base in (including.parent, self.root):
            candidate = (base / ref).resolve()
            if candidate.is_file():
                return candidate
        return None

    def _semantic_problems(self, data: dict[str, Any], positions, display: str) -> list[Problem]:
        """Rules JSON Schema cannot express well: one check per expectation, known requirement IDs."""
        known = catalogue()
        problems: list[Problem] = []

        def check_reqs(reqs: Iterable[str], path: tuple) -> None:
            for j, rid in enumerate(reqs):
                if rid not in known:
                    line, col = position_of(positions, path + (j,))
                    problems.append(Problem(display, line, col, f"unknown requirement ID {rid!r} (see `validatiestraat requirements`)"))

        check_reqs(data.get("requirements", []), ("requirements",))
        for i, step in enumerate(data.get("steps", [])):
            for path, item in _expectations(step.get("expect", []) or [], ("steps", i, "expect")):
                names = [key for key in item if key not in META]
                if len(names) != 1:
                    line, col = position_of(positions, path)
                    what = "no check" if not names else f"{len(names)} checks ({', '.join(names)})"
                    problems.append(Problem(display, line, col, f"an expectation holds exactly one check; found {what}"))
                check_reqs(item.get("requirements", []), path + ("requirements",))
        return problems


def _expectations(items: list, base: tuple) -> list[tuple[tuple, dict]]:
    """Flatten expectation lists (an item may be a list of expectations) with their paths."""
    out = []
    for k, item in enumerate(items):
        if isinstance(item, list):
            out.extend(_expectations(item, base + (k,)))
        else:
            out.append((base + (k,), item))
    return out


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def scenario_files(paths: list[Path]) -> list[Path]:
    """Expand directories into their ``*.yaml``/``*.yml`` files (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml") and x.is_file()))
        else:
            out.append(p)
    return out


def is_fragment_file(path: Path) -> bool:
    """Fragments live in a ``fragments`` folder (cheap test, no parsing)."""
    return "fragments" in path.parts


def load_scenarios(paths: list[Path], root: Path | None = None) -> list[Scenario]:
    """Load every scenario under ``paths``; raise one UserError listing every problem."""
    loader = ScenarioLoader(root)
    scenarios = []
    files = scenario_files(paths)
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        loader.problems.append(Problem(str(p), None, None, "no such file or directory"))
    for f in files:
        if is_fragment_file(f):
            loader.lint_fragment(f)
            continue
        scenario = loader.load_file(f)
        if scenario:
            scenarios.append(scenario)
    ids: dict[str, str] = {}
    for s in scenarios:
        if s.id in ids:
            loader.problems.append(Problem(s.file, 1, 1, f"scenario id {s.id!r} is also used by {ids[s.id]}"))
        ids[s.id] = s.file
    if loader.problems:
        raise UserError(f"{len(loader.problems)} problem(s) in scenario files", loader.problems)
    return scenarios
