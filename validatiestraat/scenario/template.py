"""``${...}`` templating of scenario values.

- ``${name}``: a flow variable (scenario ``variables:`` or a ``capture:`` of an earlier step)
- ``${target.token_endpoint}``, ``${target.client.client_id}``, ``${target.options.x}``: the target
- ``${uuid()}``: a new random UUID; ``${random(43)}``: a random URL-safe string of that length
  (``${random(target.options.max_state_length|512, 1)}``: one longer);
  ``${repeat('a', 512)}``: a repeated string; ``${add(x, 1)}``: a sum. Unquoted arguments are variables or target paths,
  with an optional default: ``${random(target.options.max_state_length|512)}``
- ``${name|default}``: a default when the variable is missing

A string that is exactly one ``${...}`` keeps the value's type (numbers stay numbers).
A missing variable raises :class:`MissingVariable`, which the engine turns into a *skip*.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from typing import Any

_EXPR = re.compile(r"\$\{([^}]+)\}")
_CALL = re.compile(r"^([a-z_]+)\((.*)\)$")
_ALPHABET = string.ascii_letters + string.digits + "-._~"


class MissingVariable(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _literal(arg: str) -> Any:
    arg = arg.strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "'\"":
        return arg[1:-1]
    try:
        return int(arg)
    except ValueError:
        return arg


def _arg(arg: str, variables: dict[str, Any], target: Any) -> Any:
    value = _literal(arg)
    if isinstance(value, str) and value == arg.strip() and re.match(r"^[A-Za-z_][\w.]*(\|.*)?$", value):
        return _lookup(value, variables, target)  # a variable or target path, e.g. target.options.x|512
    return value


def _call(name: str, raw_args: str, variables: dict[str, Any], target: Any) -> Any:
    args = [_arg(a, variables, target) for a in raw_args.split(",")] if raw_args.strip() else []
    if name == "uuid":
        return str(uuid.uuid4())
    if name == "random":
        n = sum(int(float(a)) for a in args) if args else 32  # random(n, k): length n + k
        return "".join(secrets.choice(_ALPHABET) for _ in range(n))
    if name == "repeat":
        return str(args[0]) * int(args[1])
    if name == "add":
        return sum(float(a) for a in args)
    raise ValueError(f"unknown template function {name}()")


def _lookup(expr: str, variables: dict[str, Any], target: Any) -> Any:
    expr = expr.strip()
    call = _CALL.match(expr)
    if call:
        return _call(call.group(1), call.group(2), variables, target)
    default_given = "|" in expr
    if default_given:
        expr, default = (s.strip() for s in expr.split("|", 1))
    parts = expr.split(".")
    try:
        if parts[0] == "target" and target is not None:
            value: Any = target
            for part in parts[1:]:
                if isinstance(value, dict):
                    value = value[part]
                elif isinstance(value, list) and part.isdigit():
                    value = value[int(part)]
                else:
                    value = getattr(value, part)
            if value is None:
                raise KeyError(expr)
            return value
        value = variables[parts[0]]
        for part in parts[1:]:
            value = value[part] if isinstance(value, dict) else getattr(value, part)
        return value
    except (KeyError, AttributeError, TypeError):
        if default_given:
            return _literal(default)
        raise MissingVariable(expr) from None


def render(value: Any, variables: dict[str, Any], target: Any = None) -> Any:
    """Render every ``${...}`` inside ``value`` (recursively for lists and dicts)."""
    if isinstance(value, str):
        whole = _EXPR.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), variables, target)
        if "${" not in value:
            return value
        return _EXPR.sub(lambda m: str(_lookup(m.group(1), variables, target)), value)
    if isinstance(value, list):
        return [render(v, variables, target) for v in value]
    if isinstance(value, dict):
        return {str(render(k, variables, target)): render(v, variables, target) for k, v in value.items()}
    return value
