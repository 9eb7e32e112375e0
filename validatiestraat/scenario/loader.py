"""Load and lint scenario files.

A scenario is one flow per YAML file. Steps may ``include:`` a fragment file (a list of steps
shared by several scenarios, e.g. "log in and get a token"). An include resolves against the
including file's own folder first, then against the root of the scenario folder being loaded:
the folder the user named (``--scenarios PATH``, ``scenarios lint PATH``; for a file, its
folder), or the bundled scenarios folder for the bundled scenarios and any path inside it. A
user's folder never silently takes a bundled fragment, and an include that resolves (after
symlinks and ``..``) outside the scenario root is refused with a located error.
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
from validatiestraat.scenario.yamlpos import (
    YamlError,
    load_with_positions,
    position_of,
    schema_error_location,
    value_position_of,
)

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
    """Loads scenario files, resolving includes, collecting every problem.

    ``root``: an extra scenario root that every file may include from, searched after the file's
    own root (for programmatic use; the command line never passes one).
    """

    def __init__(self, root: Path | None = None):
        self.root = root.resolve() if root is not None else None
        self.problems: list[Problem] = []
        self._fragments: dict[tuple[Path, tuple[Path, ...]], list[dict[str, Any]] | None] = {}

    def roots_for(self, path: Path, root: Path | None = None) -> tuple[Path, ...]:
        """The scenario roots of a file: its folder's root (see :func:`scenario_root`), then ``self.root``."""
        own = root.resolve() if root is not None else scenario_root(path)
        return tuple(dict.fromkeys(r for r in (own, self.root) if r is not None))

    def load_file(self, path: Path, root: Path | None = None) -> Scenario | None:
        """Load one scenario; ``root`` is the scenario folder it was found under (default: see roots_for)."""
        roots = self.roots_for(path, root)
        display = _display(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.problems.append(Problem(display, None, None, f"cannot read: {exc.strerror}"))
            return None
        except UnicodeDecodeError as exc:
            self.problems.append(Problem(display, None, None, f"cannot read: not UTF-8 text ({exc.reason})"))
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
        steps = self._expand(data["steps"], path, positions, ("steps",), display, problems, roots)
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

    def lint_fragment(self, path: Path, root: Path | None = None) -> None:
        self._load_fragment(path.resolve(), _display(path), self.roots_for(path, root))

    def _load_fragment(self, path: Path, display: str, roots: tuple[Path, ...]) -> list[dict[str, Any]] | None:
        key = (path, roots)
        if key in self._fragments:
            return self._fragments[key]
        self._fragments[key] = None  # guards against include cycles
        try:
            data, positions = load_with_positions(path.read_text(encoding="utf-8"), display)
        except YamlError as exc:
            self.problems.append(exc.problem)
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(Problem(display, None, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
            return None
        problems = _schema_problems(_fragment_validator(), data, positions, display)
        if not problems:
            problems = self._semantic_problems(data, positions, display)
        steps = None
        if not problems:
            steps = self._expand(data["steps"], path, positions, ("steps",), display, problems, roots)
        self.problems.extend(problems)
        self._fragments[key] = steps if not problems else None
        return self._fragments[key]

    def _expand(self, steps, path: Path, positions, base, display, problems,
                roots: tuple[Path, ...] = ()) -> list[dict[str, Any]]:
        roots = roots or self.roots_for(path)
        out: list[dict[str, Any]] = []
        for i, step in enumerate(steps):
            if "include" not in step:
                if "expect" in step:
                    step = dict(step, expect=[item for _, item in _expectations(step["expect"], ())])
                out.append(step)
                continue
            ref = step["include"]
            line, col = value_position_of(positions, base + (i, "include"))
            target, outside = self._resolve_include(ref, path, roots)
            if target is None:
                shown = ", ".join(_display(r) for r in roots)
                if outside is not None:
                    problems.append(Problem(display, line, col, (
                        f"include {ref!r} resolves to {outside}, outside the scenario root(s) {shown}; "
                        "an include must stay inside the scenario folder")))
                else:
                    looked = ", ".join(dict.fromkeys(_display(b) for b in (path.resolve().parent, *roots)))
                    message = f"include {ref!r} not found (looked in {looked})"
                    bundled = _bundled_fragment(ref)
                    if bundled is not None and not any(r == bundled_scenarios_dir().resolve() for r in roots):
                        message += (f"; the bundled scenarios have {_display(bundled)}, but a scenario folder "
                                    "includes only its own files: copy it into your folder")
                    problems.append(Problem(display, line, col, message))
                continue
            fragment_steps = self._load_fragment(target, _display(target), roots)
            if fragment_steps is None:
                problems.append(Problem(display, line, col, f"include {ref!r} is broken (see its own errors) or cyclic"))
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

    def _resolve_include(self, ref: str, including: Path, roots: tuple[Path, ...]) -> tuple[Path | None, Path | None]:
        """(the fragment file, None), or (None, where it would be) when that is outside every root,
        or (None, None) when it is not found. The including file's own folder comes first."""
        outside: Path | None = None
        for base in dict.fromkeys((including.resolve().parent, *roots)):
            try:
                candidate = (base / ref).resolve()
            except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte ...
                continue
            if not any(candidate == r or r in candidate.parents for r in roots):
                outside = outside or candidate
                continue
            if candidate.is_file():
                return candidate, None
        return None, outside

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


def _bundled_fragment(ref: str) -> Path | None:
    """The bundled file an include names, if there is one (for a hint; never included from a user's folder)."""
    bundled = bundled_scenarios_dir().resolve()
    try:
        candidate = (bundled / ref).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return candidate if bundled in candidate.parents and candidate.is_file() else None


def scenario_root(path: Path) -> Path:
    """The root a scenario path includes from: the bundled scenarios folder for the bundled folder
    and anything inside it, else the folder itself (for a file: its folder). Resolved."""
    resolved = path.resolve()
    bundled = bundled_scenarios_dir().resolve()
    if resolved == bundled or bundled in resolved.parents:
        return bundled
    return resolved if resolved.is_dir() else resolved.parent


def load_scenarios(paths: list[Path], root: Path | None = None) -> list[Scenario]:
    """Load every scenario under ``paths``; raise one UserError listing every problem.

    Each file includes from its own folder, then from the root of the path it was found under
    (see :func:`scenario_root`); ``root`` adds one more root for every file.
    """
    loader = ScenarioLoader(root)
    scenarios = []
    for p in paths:
        if not p.exists():
            loader.problems.append(Problem(str(p), None, None, "no such file or directory"))
            continue
        path_root = scenario_root(p)
        for f in scenario_files([p]):
            if is_fragment_file(f):
                loader.lint_fragment(f, path_root)
                continue
            scenario = loader.load_file(f, path_root)
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
