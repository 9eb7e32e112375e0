"""FHIRPath constraints through fhirpathpy, compiled once per expression.

fhirpathpy lacks functions that profiles use; they are added through its user invocation table:
``hasValue()``, ``memberOf(vs)`` (against the offline terminology), ``resolve()`` (within the
Bundle or the resource's contained resources), ``conformsTo(url)``, ``htmlChecks()`` and
``getValue()``. The validator sets the evaluation environment (:data:`ENV`) before it evaluates.
"""

from __future__ import annotations

import operator as _operator
import re
import threading
from decimal import Decimal
from typing import Any, Callable

_LOCK = threading.RLock()
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


# ---------------------------------------------------------------------------------------------
# The common subset, compiled to Python closures
#
# fhirpathpy interprets its parse tree on every evaluation (and rebuilds its function tables on
# every call); one constraint on one element costs ~100 µs. Constraints of the common subset —
# navigation to elements (no choice types), literals, unions of literals, = != and or xor implies
# in contains, where() exists() all() empty() not() count() matches() lower() upper() hasValue()
# extension('url') subsetOf() supersetOf() and $this — are compiled into closures over plain
# JSON values, following fhirpathpy's semantics for them (including its quirks, e.g. a
# non-boolean singleton is "true" for not()). Whatever such a closure cannot decide exactly as
# fhirpathpy would (a primitive with an extension, a value that is an object where a string is
# expected, a decimal in a comparison, a contained resource ...) raises Fallback, and the
# expression is then evaluated by fhirpathpy as before. Expressions outside the subset are
# never compiled. tests/fhir/test_fhirpath_compiled.py compares both on every constraint of the
# real packages.


class Fallback(Exception):
    """The compiled form cannot decide this input exactly as fhirpathpy would."""


class _NoCompile(Exception):
    """The expression is outside the compiled subset."""


_FAST: dict[tuple[str, str, str], Any] = {}
_NODES, _PLAIN = "nodes", "plain"  # result kinds: navigation results (ResourceNodes) or plain values


def _simple(x: Any) -> bool:
    t = type(x)
    return t is str or t is bool or t is int


class _C:
    """A compiled sub-expression: fn(focus, this) -> list; kind; static type path; constant value."""

    __slots__ = ("fn", "kind", "path", "const")

    def __init__(self, fn: Any, kind: str, path: str | None = None, const: list[Any] | None = None):
        self.fn = fn
        self.kind = kind
        self.path = path
        self.const = const


def compile_fast(expression: str, version: str, type_path: str) -> Any:
    """A closure ``f(value) -> list`` evaluating ``expression`` on ``value`` (of type ``type_path``),
    or None when the expression is outside the compiled subset. ``f`` raises Fallback."""
    key = (version, expression, type_path)
    if key in _FAST:
        return _FAST[key]
    with _LOCK:
        if key in _FAST:
            return _FAST[key]
        fn = None
        try:
            from fhirpathpy.models import models
            from fhirpathpy.parser import parse

            model = models["stu3" if version == "stu3" else "r4"]
            ce = compile_expression(expression, version)
            parsed = getattr(ce.fn, "parsedPath", None)
            if ce.fn is None:
                raise _NoCompile()
            # the parse tree fhirpathpy made (unless the expression was wrapped in select())
            tree = parsed if parsed is not None and not _THIS_AT_ROOT.search(expression) else parse(expression)
            root = tree["children"][0]
            c = _Compiler(model).compile(root, _NODES, type_path, (_NODES, type_path))
            body = c.fn

            def fn(value: Any, body: Any = body, root_path: str = type_path) -> list[Any]:
                if type(value) is dict:
                    rt = value.get("resourceType")
                    if rt is not None and rt != root_path:
                        raise Fallback()
                elif value is None:
                    raise Fallback()
                focus = [value]
                return body(focus, focus)
        except _NoCompile:
            fn = None
        except Exception:  # noqa: BLE001 - a parse error: fhirpathpy reports it
            fn = None
        _FAST[key] = fn
        return fn


class _Compiler:
    def __init__(self, model: dict[str, Any]):
        self.model = model

    def compile(self, node: Any, kind: str, path: str | None, this: tuple[str, str | None] | None) -> _C:
        """``kind``/``path``: what the focus is; ``this``: what $this is (None: not available)."""
        if not isinstance(node, dict):
            raise _NoCompile()
        t = node.get("type")
        ch = node.get("children") or []
        if t in ("TermExpression", "InvocationTerm", "ParenthesizedTerm", "LiteralTerm"):
            if len(ch) != 1:
                raise _NoCompile()
            return self.compile(ch[0], kind, path, this)
        if t == "StringLiteral":
            text = node.get("text") or ""
            if "\\" in text or len(text) < 2 or text[0] != "'" or text[-1] != "'":
                raise _NoCompile()
            return _const([text[1:-1]])
        if t == "BooleanLiteral":
            return _const([node.get("text") == "true"])
        if t == "NumberLiteral":
            text = node.get("text") or ""
            if not text.isdigit():
                raise _NoCompile()
            return _const([int(text)])
        if t == "ThisInvocation":
            if this is None:
                raise _NoCompile()

            def this_fn(focus: list[Any], th: list[Any]) -> list[Any]:
                return th

            return _C(this_fn, this[0], this[1])
        if t == "InvocationExpression":
            if not ch:
                raise _NoCompile()
            c = self.compile(ch[0], kind, path, this)
            for nxt in ch[1:]:
                c = self.invoke(c, nxt, this)
            return c
        if t == "MemberInvocation":
            return self.member(node, kind, path)
        if t == "FunctionInvocation":
            return self.function(_C(_focus, kind, path), node, this)
        if t == "EqualityExpression":
            return self.equality(node, kind, path, this)
        if t in ("OrExpression", "AndExpression", "ImpliesExpression", "XorExpression"):
            return self.logic(node, kind, path, this)
        if t == "InequalityExpression":
            return self.inequality(node, kind, path)
        if t == "UnionExpression":
            a, b = (self.compile(x, kind, path, this) for x in _two(ch))
            if a.const is None or b.const is None:
                raise _NoCompile()
            return _const(_uniq(a.const + b.const))
        if t == "MembershipExpression":
            return self.membership(node, kind, path, this)
        raise _NoCompile()

    def invoke(self, c: _C, node: Any, this: tuple[str, str | None] | None) -> _C:
        """``c`` followed by a member or function invocation (the focus is c's result)."""
        t = node.get("type") if isinstance(node, dict) else None
        if t == "MemberInvocation":
            m = self.member(node, c.kind, c.path)
            return _chain(c, m)
        if t == "FunctionInvocation":
            return self.function(c, node, this)
        raise _NoCompile()

    def member(self, node: dict[str, Any], kind: str, path: str | None) -> _C:
        ch = node.get("children") or []
        if len(ch) != 1 or ch[0].get("type") != "Identifier":
            raise _NoCompile()
        key = ch[0].get("text") or ""
        if not key or "`" in key or '"' in key or not key[0].islower() or kind != _NODES or not path:
            raise _NoCompile()
        model = self.model
        child = f"{path}.{key}"
        child = model["pathsDefinedElsewhere"].get(child, child)
        choice = model["choiceTypePaths"].get(child)
        if choice:
            return self.choice_member(key, list(choice))
        if key == "extension":
            child = "Extension"
        child = model.get("path2Type", {}).get(child, child)
        ukey = "_" + key
        if key == "length":
            raise _NoCompile()

        def member_fn(focus: list[Any], th: list[Any]) -> list[Any]:
            out: list[Any] = []
            for d in focus:
                if type(d) is not dict:
                    continue
                if ukey in d:
                    x_ = d[ukey]
                    if x_ is not None and x_ != []:
                        raise Fallback()  # a primitive with an extension: fhirpathpy adds its _ object
                x = d.get(key)
                if x is None:
                    continue
                if type(x) is list:
                    for y in x:
                        if y is None or (type(y) is dict and "resourceType" in y):
                            raise Fallback()
                    out.extend(x)
                elif x != []:
                    if type(x) is dict and "resourceType" in x:
                        raise Fallback()
                    out.append(x)
            return out

        return _C(member_fn, _NODES, child)

    def choice_member(self, key: str, types: list[str]) -> _C:
        """A choice element (``value``): the first of its types that is present, per item.

        The items' types (and so their paths) differ, so nothing can navigate further into them.
        """
        fields = [(key + t, "_" + key + t) for t in types]

        def choice_fn(focus: list[Any], th: list[Any]) -> list[Any]:
            out: list[Any] = []
            for d in focus:
                if type(d) is not dict:
                    continue
                x = x_ = None
                for f, f_ in fields:
                    x, x_ = d.get(f), d.get(f_)
                    if x is not None or x_ is not None:
                        break
                if x_ is not None and x_ != []:
                    raise Fallback()
                if x is None:
                    continue
                if type(x) is list:
                    for y in x:
                        if y is None or (type(y) is dict and "resourceType" in y):
                            raise Fallback()
                    out.extend(x)
                elif x != []:
                    if type(x) is dict and "resourceType" in x:
                        raise Fallback()
                    out.append(x)
            return out

        return _C(choice_fn, _NODES, None)

    def params(self, node: dict[str, Any]) -> list[Any]:
        ch = node.get("children") or []
        if not ch or ch[0].get("type") != "Functn":
            raise _NoCompile()
        fch = ch[0].get("children") or []
        if not fch or fch[0].get("type") != "Identifier":
            raise _NoCompile()
        name = fch[0].get("text")
        params: list[Any] = []
        if len(fch) > 1:
            if len(fch) != 2 or fch[1].get("type") != "ParamList":
                raise _NoCompile()
            params = fch[1].get("children") or []
        return [name] + params

    def function(self, c: _C, node: dict[str, Any], this: tuple[str, str | None] | None) -> _C:
        name, *params = self.params(node)
        src = c.fn
        if name in ("empty", "exists", "count", "not", "hasValue", "lower", "upper") and not params:
            return _C(_FUNCS[name](src), _PLAIN)
        if name in ("where", "exists", "all") and len(params) == 1:
            arg = self.compile(params[0], c.kind, c.path, (c.kind, c.path))
            truthy_nodes = arg.kind == _NODES
            argf = arg.fn
            if name == "all":
                def all_fn(focus: list[Any], th: list[Any]) -> list[Any]:
                    for x in src(focus, th):
                        one = [x]
                        r = argf(one, one)
                        if not (len(r) == 1 and r[0] == True):  # noqa: E712 - fhirpathpy's is_true
                            return [False]
                    return [True]

                return _C(all_fn, _PLAIN)

            def where_fn(focus: list[Any], th: list[Any]) -> list[Any]:
                out = []
                for x in src(focus, th):
                    one = [x]
                    r = argf(one, one)
                    if r and (truthy_nodes or r[0]):
                        out.append(x)
                return out

            if name == "where":
                return _C(where_fn, c.kind, c.path)

            def exists_fn(focus: list[Any], th: list[Any]) -> list[Any]:
                return [bool(where_fn(focus, th))]

            return _C(exists_fn, _PLAIN)
        if name == "matches" and len(params) == 1:
            p = self.compile(params[0], _PLAIN, None, None)
            if p.const is None or len(p.const) != 1 or type(p.const[0]) is not str:
                raise _NoCompile()
            regex = p.const[0]
            try:
                rx = re.compile(regex, re.DOTALL)
            except re.error:
                raise _NoCompile() from None
            empty_regex = not regex

            def matches_fn(focus: list[Any], th: list[Any]) -> list[Any]:
                coll = src(focus, th)
                if not coll or empty_regex:
                    return []
                if len(coll) != 1 or type(coll[0]) is not str:
                    raise Fallback()
                return [rx.search(coll[0]) is not None]

            return _C(matches_fn, _PLAIN)
        if name == "extension" and len(params) == 1:
            p = self.compile(params[0], _PLAIN, None, None)
            if p.const is None or len(p.const) != 1 or type(p.const[0]) is not str:
                raise _NoCompile()
            url = p.const[0]

            def extension_fn(focus: list[Any], th: list[Any]) -> list[Any]:
                out = []
                for d in src(focus, th):
                    if type(d) is not dict:
                        if type(d) is float:
                            continue
                        continue
                    exts = d.get("extension", [])
                    if type(exts) is not list:
                        raise Fallback()
                    hit = None
                    for e in exts:
                        if type(e) is not dict or "url" not in e:
                            raise Fallback()
                        if hit is None and e["url"] == url:
                            hit = e
                    if hit is not None:
                        if "resourceType" in hit:
                            raise Fallback()
                        out.append(hit)
                return out

            return _C(extension_fn, _NODES, "Extension")
        if name == "memberOf" and len(params) == 1:
            p = self.compile(params[0], _PLAIN, None, None)
            if p.const is None or len(p.const) != 1 or type(p.const[0]) is not str:
                raise _NoCompile()
            vs = p.const[0]

            def member_of_fn(focus: list[Any], th: list[Any]) -> list[Any]:
                inputs = src(focus, th)
                if not inputs or ENV.member_of is None:
                    return []
                results = [ENV.member_of(i, vs) for i in inputs]
                if any(r is None for r in results):
                    return []
                return [all(results)]

            return _C(member_of_fn, _PLAIN)
        if name in ("subsetOf", "supersetOf") and len(params) == 1:
            p = self.compile(params[0], _PLAIN, None, None)
            if p.const is None:
                raise _NoCompile()
            other = p.const
            sub = name == "subsetOf"

            def subset_fn(focus: list[Any], th: list[Any]) -> list[Any]:
                coll = src(focus, th)
                for x in coll:
                    if not _simple(x):
                        raise Fallback()
                if sub:
                    return [all(x in other for x in coll)]
                return [all(x in coll for x in other)]

            return _C(subset_fn, _PLAIN)
        raise _NoCompile()

    def equality(self, node: dict[str, Any], kind: str, path: str | None, this: Any) -> _C:
        op = (node.get("terminalNodeText") or [None])[0]
        if op not in ("=", "!="):
            raise _NoCompile()
        # fhirpathpy evaluates both operands with $this set to the focus
        a, b = (self.compile(x, kind, path, (kind, path)) for x in _two(node.get("children")))
        af, bf = a.fn, b.fn
        neg = op == "!="

        def eq_fn(focus: list[Any], th: list[Any]) -> list[Any]:
            x, y = af(focus, focus), bf(focus, focus)
            if not x or not y:
                return []
            if len(x) != len(y):
                return [neg]
            if not _simple(x[0]) or not _simple(y[0]):
                raise Fallback()
            return [(x[0] == y[0]) != neg]

        return _C(eq_fn, _PLAIN)

    def inequality(self, node: dict[str, Any], kind: str, path: str | None) -> _C:
        op = (node.get("terminalNodeText") or [None])[0]
        cmp = {"<": _operator.lt, ">": _operator.gt, "<=": _operator.le, ">=": _operator.ge}.get(op)
        if cmp is None:
            raise _NoCompile()
        a, b = (self.compile(x, kind, path, (kind, path)) for x in _two(node.get("children")))
        af, bf = a.fn, b.fn

        def ineq_fn(focus: list[Any], th: list[Any]) -> list[Any]:
            x, y = af(focus, focus), bf(focus, focus)
            if not x or not y:
                return []
            if len(x) > 1 or len(y) > 1:
                raise Fallback()
            return [cmp(*_comparable(x[0], y[0]))]

        return _C(ineq_fn, _PLAIN)

    def logic(self, node: dict[str, Any], kind: str, path: str | None, this: Any) -> _C:
        op = (node.get("terminalNodeText") or [None])[0]
        impl = _LOGIC.get(op)
        if impl is None:
            raise _NoCompile()
        # fhirpathpy evaluates both operands with $this set to the focus
        a, b = (self.compile(x, kind, path, (kind, path)) for x in _two(node.get("children")))
        af, bf = a.fn, b.fn

        def logic_fn(focus: list[Any], th: list[Any]) -> list[Any]:
            x = _boolean(af(focus, focus))
            y = _boolean(bf(focus, focus))
            r = impl(x, y)
            return r if type(r) is list else [r]

        return _C(logic_fn, _PLAIN)

    def membership(self, node: dict[str, Any], kind: str, path: str | None, this: Any) -> _C:
        op = (node.get("terminalNodeText") or [None])[0]
        if op not in ("in", "contains"):
            raise _NoCompile()
        # fhirpathpy evaluates both operands with $this set to the focus
        a, b = (self.compile(x, kind, path, (kind, path)) for x in _two(node.get("children")))
        af, bf = a.fn, b.fn
        if op == "contains":
            af, bf = bf, af  # "a contains b" is "b in a" (with the sides' checks swapped below)
        is_in = op == "in"

        def in_fn(focus: list[Any], th: list[Any]) -> list[Any]:
            if is_in:
                x, coll = af(focus, focus), bf(focus, focus)
            else:
                coll, x = bf(focus, focus), af(focus, focus)
                # collections.contains: empty right side first
                if not x:
                    return []
                if not coll:
                    return [False]
            if not x:
                return []
            if not coll:
                return [False]
            if len(x) > 1:
                raise Fallback()
            v = x[0]
            if not _simple(v):
                raise Fallback()
            for y in coll:
                if not _simple(y):
                    raise Fallback()
                if y == v:
                    return [True]
            return [False]

        return _C(in_fn, _PLAIN)


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """fhirpathpy's typecheck for < > <= >=: numbers (floats as Decimal), or two strings or booleans."""
    ta, tb = type(a), type(b)
    if ta is float:
        a, ta = Decimal(str(a)), Decimal
    if tb is float:
        b, tb = Decimal(str(b)), Decimal
    if (ta is int or ta is Decimal) and (tb is int or tb is Decimal):
        return a, b
    if ta is tb and (ta is str or ta is bool):
        return a, b
    raise Fallback()


def _two(ch: Any) -> list[Any]:
    if not isinstance(ch, list) or len(ch) != 2:
        raise _NoCompile()
    return ch


def _focus(focus: list[Any], th: list[Any]) -> list[Any]:
    return focus


def _const(values: list[Any]) -> _C:
    def const_fn(focus: list[Any], th: list[Any]) -> list[Any]:
        return list(values)

    return _C(const_fn, _PLAIN, None, values)


def _chain(a: _C, b: _C) -> _C:
    af, bf = a.fn, b.fn

    def chain_fn(focus: list[Any], th: list[Any]) -> list[Any]:
        return bf(af(focus, th), th)

    return _C(chain_fn, b.kind, b.path)


def _uniq(values: list[Any]) -> list[Any]:
    """fhirpathpy's util.uniq for plain values: first position, keyed by JSON."""
    import json

    seen: dict[str, Any] = {}
    for x in values:
        seen[json.dumps(x, sort_keys=True)] = x
    return list(seen.values())


def _boolean(res: list[Any]) -> Any:
    """A ["Boolean"] parameter of fhirpathpy's logic operators: [] or True/False."""
    if not res:
        return []
    if len(res) > 1:
        raise Fallback()
    d = res[0]
    if d is True or d is False:
        return d
    raise Fallback()


def _or(a: Any, b: Any) -> Any:
    if isinstance(b, list):
        if a is True:
            return True
        return []
    if isinstance(a, list):
        if b is True:
            return True
        return []
    return a or b


def _and(a: Any, b: Any) -> Any:
    if isinstance(b, list):
        if a is False:
            return False
        return []
    if isinstance(a, list):
        if b is True:
            return []
        return False
    return a and b


def _xor(a: Any, b: Any) -> Any:
    if isinstance(a, list) or isinstance(b, list):
        return []
    return (a and not b) or (not a and b)


def _implies(a: Any, b: Any) -> Any:
    if isinstance(b, list):
        if a is False:
            return True
        return []
    if isinstance(a, list):
        if b is True:
            return True
        return []
    if a is False:
        return True
    return a and b


_LOGIC = {"or": _or, "and": _and, "xor": _xor, "implies": _implies}


def _f_empty(src: Any) -> Any:
    return lambda focus, th: [not src(focus, th)]


def _f_exists(src: Any) -> Any:
    return lambda focus, th: [bool(src(focus, th))]


def _f_count(src: Any) -> Any:
    return lambda focus, th: [len(src(focus, th))]


def _f_not(src: Any) -> Any:
    def not_fn(focus: list[Any], th: list[Any]) -> list[Any]:
        x = src(focus, th)
        if len(x) != 1:
            return []
        d = x[0]
        if d is True or d is False:
            return [not d]
        return [False]  # fhirpathpy: a single non-boolean item counts as true

    return not_fn


def _f_has_value(src: Any) -> Any:
    def has_value_fn(focus: list[Any], th: list[Any]) -> list[Any]:
        x = src(focus, th)
        return [len(x) == 1 and x[0] is not None and not isinstance(x[0], (dict, list))]

    return has_value_fn


def _f_case(upper: bool) -> Any:
    def make(src: Any) -> Any:
        def case_fn(focus: list[Any], th: list[Any]) -> list[Any]:
            x = src(focus, th)
            if not x:
                return []
            if len(x) != 1 or type(x[0]) is not str:
                raise Fallback()
            return [x[0].upper() if upper else x[0].lower()]

        return case_fn

    return make


_FUNCS = {
    "empty": _f_empty, "exists": _f_exists, "count": _f_count, "not": _f_not, "hasValue": _f_has_value,
    "lower": _f_case(False), "upper": _f_case(True),
}
