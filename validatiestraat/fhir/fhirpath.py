"""FHIRPath constraints through fhirpathpy, compiled once per expression.

fhirpathpy lacks functions that profiles use; they are added through its user invocation table:
``hasValue()``, ``memberOf(vs)`` (against the offline terminology), ``resolve()`` (within the
Bundle or the resource's contained resources), ``conformsTo(url)``, ``htmlChecks()`` and
``getValue()``. The validator sets the evaluation environment (:data:`ENV`) before it evaluates.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str], Any] = {}


class _Env(threading.local):
    """Per-thread hooks into the running validation (set by the validator)."""

    def __init__(self) -> None:
        self.resolve: Callable[[Any], Any] | None = None
        self.member_of: Callable[[Any, str], bool | None] | None = None
        self.conforms_to: Callable[[Any, str], bool] | None = None


ENV = _Env()


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], (dict, list))]


def _get_value(inputs: list[Any]) -> list[Any]:
    if len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], (dict, list)):
        return [inputs[0]]
    return []


def _member_of(inputs: list[Any], vs: Any) -> list[bool]:
    if not inputs or ENV.member_of is None:
        return []
    url = vs[0] if isinstance(vs, list) and vs else vs
    results = [ENV.member_of(i, str(url)) for i in inputs]
    if any(r is None for r in results):
        return []  # cannot be decided offline
    return [all(results)]


def _resolve(inputs: list[Any]) -> list[Any]:
    out = []
    if ENV.resolve is None:
        return out
    for i in inputs:
        r = ENV.resolve(i)
        if r is not None:
            out.append(r)
    return out


def _conforms_to(inputs: list[Any], url: Any) -> list[bool]:
    if not inputs or ENV.conforms_to is None:
        return []
    u = url[0] if isinstance(url, list) and url else url
    return [all(ENV.conforms_to(i, str(u)) for i in inputs)]


def _html_checks(inputs: list[Any]) -> list[bool]:
    return [True]


USER_FUNCTIONS = {
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "getValue": {"fn": _get_value, "arity": {0: []}},
    "memberOf": {"fn": _member_of, "arity": {1: ["String"]}},
    "resolve": {"fn": _resolve, "arity": {0: []}},
    "conformsTo": {"fn": _conforms_to, "arity": {1: ["String"]}},
    "htmlChecks": {"fn": _html_checks, "arity": {0: []}},
    "htmlchecks": {"fn": _html_checks, "arity": {0: []}},
}

_THIS_AT_ROOT = re.compile(r"\$this")


class CompiledExpression:
    __slots__ = ("expression", "fn", "error")

    def __init__(self, expression: str, fn: Any, error: str | None):
        self.expression = expression
        self.fn = fn
        self.error = error


def compile_expression(expression: str, version: str) -> CompiledExpression:
    key = (version, expression)
    ce = _CACHE.get(key)
    if ce is not None:
        return ce
    with _LOCK:
        ce = _CACHE.get(key)
        if ce is not None:
            return ce
        import fhirpathpy
        from fhirpathpy.models import models

        model = models["stu3" if version == "stu3" else "r4"]
        text = expression
        if _THIS_AT_ROOT.search(text):
            text = f"select({text})"  # fhirpathpy has no $this at the root
        try:
            fn = fhirpathpy.compile(text, model, options={"userInvocationTable": USER_FUNCTIONS})
            ce = CompiledExpression(expression, fn, None)
        except Exception as exc:  # noqa: BLE001 - a parse error in someone's profile
            ce = CompiledExpression(expression, None, f"cannot parse FHIRPath: {exc}")
        _CACHE[key] = ce
        return ce


def evaluate(ce: CompiledExpression, item: Any, type_path: str | None, resource: Any, root: Any) -> tuple[bool | None, str | None]:
    """(passed, problem). passed None: could not be evaluated (problem says why)."""
    if ce.fn is None:
        return None, ce.error
    from fhirpathpy.engine.nodes import ResourceNode

    node = ResourceNode.create_node(item, type_path) if type_path else item
    try:
        result = ce.fn(node, {"resource": resource, "rootResource": root, "context": item})
    except Exception as exc:  # noqa: BLE001 - unsupported function or type error inside fhirpathpy
        return None, f"{type(exc).__name__}: {exc}"
    if not result:
        return True, None
    for r in result:
        if r is False:
            return False, None
    return True, None
