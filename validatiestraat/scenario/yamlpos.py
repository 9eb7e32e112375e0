"""Load YAML while remembering where every value came from (line and column).

``load_with_positions`` returns plain Python data plus a map from a JSON path (tuple of keys
and indexes) to a 1-based (line, column), so schema errors can be reported as
``file:line:column: message``. For a member of a mapping the map holds the position of its KEY
(where an "unknown key" error should point); the position of the value itself is kept in
``positions.value_positions`` (where "expected a number, got 'abc'" should point).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from validatiestraat.errors import Problem

Path_ = tuple[str | int, ...]

#: limits of what one YAML document may hold (scenarios, targets, waivers): deeper nesting, or an
#: alias that refers to itself, and alias expansion beyond the value budget ("billion laughs")
#: are located errors instead of a RecursionError or unbounded memory
MAX_DEPTH = 64
MAX_VALUES = 500_000
MAX_CHARACTERS = 10 * 1024 * 1024


class _Loader(yaml.SafeLoader):
    pass


class Positions(dict):
    """JSON path -> (line, column): the key's position for mapping members, else the value's.

    ``value_positions`` maps every path to the position of the value itself.
    """

    def __init__(self) -> None:
        super().__init__()
        self.value_positions: dict[Path_, tuple[int, int]] = {}


def _construct(node: yaml.Node, path: Path_, positions: dict[Path_, tuple[int, int]], loader: _Loader) -> Any:
    if len(path) > MAX_DEPTH:
        raise yaml.constructor.ConstructorError(
            None, None, f"nested deeper than {MAX_DEPTH} levels (or an alias that refers to itself)", node.start_mark)
    loader.values_made = getattr(loader, "values_made", 0) + 1
    if loader.values_made > MAX_VALUES:
        raise yaml.constructor.ConstructorError(
            None, None, f"more than {MAX_VALUES} values (an alias expanded too often?)", node.start_mark)
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(positions, Positions):
        positions.value_positions[path] = positions[path]
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping keys must be plain scalars", key_node.start_mark
                )
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            # the key's own position is useful for "unknown key" errors
            positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = _construct(value_node, path + (key,), positions, loader)
            positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(child, path + (i,), positions, loader) for i, child in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_with_positions(text: str, filename: str) -> tuple[Any, dict[Path_, tuple[int, int]]]:
    """Parse one YAML document. Raises :class:`YamlError` with a located problem."""
    positions: dict[Path_, tuple[int, int]] = Positions()
    if len(text) > MAX_CHARACTERS:
        raise YamlError(Problem(filename, None, None, f"YAML error: larger than {MAX_CHARACTERS // (1024 * 1024)} MB"))
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise YamlError(Problem(filename, *_line_col(text, exc.position), f"YAML error: {exc.reason} "
                                f"(character {exc.character!r} is not allowed)")) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, positions
        return _construct(node, (), positions, loader), positions
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = (exc.problem or str(exc)).strip()
        if exc.context and exc.problem:
            message = f"{exc.problem} ({exc.context})"
        raise YamlError(
            Problem(filename, mark.line + 1 if mark else None, mark.column + 1 if mark else None, f"YAML error: {message}")
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked
        raise YamlError(Problem(filename, None, None, f"YAML error: {exc}")) from None
    except RecursionError:  # the parser itself recursing on nesting deeper than Python's stack
        raise YamlError(Problem(filename, None, None, f"YAML error: nested too deeply (more than {MAX_DEPTH} "
                                                      "levels are refused)")) from None
    finally:
        loader.dispose()


def _line_col(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


class YamlError(Exception):
    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def position_of(positions: dict[Path_, tuple[int, int]], path: Path_) -> tuple[int | None, int | None]:
    """The position of ``path``, or of its nearest ancestor that has one."""
    path = tuple(path)
    while True:
        if path in positions:
            return positions[path]
        if not path:
            return None, None
        path = path[:-1]


def value_position_of(positions: dict[Path_, tuple[int, int]], path: Path_) -> tuple[int | None, int | None]:
    """The position of the value at ``path`` itself (not of its key), else as :func:`position_of`."""
    values = getattr(positions, "value_positions", None)
    path = tuple(path)
    if values and path in values:
        return values[path]
    return position_of(positions, path)


def unknown_keys(error) -> list[str]:
    """The keys an ``additionalProperties`` error is about (not allowed by properties or patterns)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    allowed = set(error.schema.get("properties", {}))
    patterns = error.schema.get("patternProperties", {})
    return [key for key in error.instance
            if key not in allowed and not any(re.search(p, str(key)) for p in patterns)]


def schema_error_location(error, positions: dict[Path_, tuple[int, int]]) -> tuple[int | None, int | None]:
    """Where a jsonschema error points: the (first) offending key for unknown keys, a scalar value
    itself for a wrong value (type, enum, pattern, range), else the key of the value."""
    path = tuple(error.absolute_path)
    for key in unknown_keys(error):
        if path + (key,) in positions:
            return positions[path + (key,)]
    if error.validator not in ("required", "dependentRequired", "additionalProperties") \
            and not isinstance(error.instance, (dict, list)):
        return value_position_of(positions, path)
    return position_of(positions, path)
