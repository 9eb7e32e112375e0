"""Load YAML while remembering where every value came from (line and column).

``load_with_positions`` returns plain Python data plus a map from a JSON path (tuple of keys
and indexes) to a 1-based (line, column), so schema errors can be reported as
``file:line:column: message``.
"""

from __future__ import annotations

from typing import Any

import yaml

from validatiestraat.errors import Problem

Path_ = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    pass


def _construct(node: yaml.Node, path: Path_, positions: dict[Path_, tuple[int, int]], loader: _Loader) -> Any:
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
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
    loader = _Loader(text)
    positions: dict[Path_, tuple[int, int]] = {}
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
    finally:
        loader.dispose()


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


def schema_error_location(error, positions: dict[Path_, tuple[int, int]]) -> tuple[int | None, int | None]:
    """Where a jsonschema error points: the offending key for unknown keys, else the value."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = error.schema.get("patternProperties", {})
        import re

        for key in error.instance:
            if key not in allowed and not any(re.search(p, key) for p in patterns):
                if path + (key,) in positions:
                    return positions[path + (key,)]
    return position_of(positions, path)
