"""The compiled forms give exactly the results of the interpreted ones.

The validator compiles what it meets often (object shapes in pass 1, profile plan elements in
pass 3, FHIRPath constraints of a common subset, pattern values, slice discriminators, bindings).
Each compiled form must report the same issues, in the same order, at the same locations as the
interpreted code it replaces; these tests compare the two on the mutation suite, on random
mutations of a BgZ searchset and of the real Nictiz examples, and check the facts the compiled
forms rely on.
"""

from __future__ import annotations

import copy
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fhir.bgz_fixture import TEST_PACKAGE, bundle as fixture_bundle
from tests.fhir.conftest import EXAMPLE_DIRS, PACKAGES
from tests.fhir.test_mutations import CASES
from validatiestraat.fhir import fhirpath
from validatiestraat.fhir import validator as vm
from validatiestraat.fhir.conformance import load_json_or_xml
from validatiestraat.fhir.profile import NOVAL

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from fhir_data import make_bundle  # noqa: E402

_THRESHOLDS = ("SHAPE_THRESHOLD", "PLAN_THRESHOLD", "COLD_THRESHOLD")


def _issues(res: Any) -> list[tuple[Any, ...]]:
    return [(i.severity, i.path, i.message, i.profile, i.source, i.code) for i in res.issues]


def _validate_all(monkeypatch: pytest.MonkeyPatch, threshold: int, docs: list[Any], version: str = "stu3",
                  packages: tuple[str, ...] = (), profiles: tuple[str, ...] = ()) -> list[list[tuple[Any, ...]]]:
    """Validate ``docs`` with a fresh validator that compiles everything it meets twice
    (threshold 1) or nothing (a huge threshold)."""
    for name in _THRESHOLDS:
        monkeypatch.setattr(vm, name, threshold)
    v = vm.Validator(version, packages)
    out = []
    for d in docs:
        res = v.validate(copy.deepcopy(d), profiles)
        out.append(_issues(res) + [("used", str(res.profiles_used))])
    # every document twice: the second time through the forms compiled during the first
    for d in docs:
        res = v.validate(copy.deepcopy(d), profiles)
        out.append(_issues(res) + [("used", str(res.profiles_used))])
    return out


_WEIRD = [None, [], {}, "", 0, 1, 1.5, True, "x", " two  spaces ", "1990-13-01", "2020-01-01T10:00:00", {"id": "x"},
          [None], ["a"], {"foo": 1}, "#", "#nope", "Patient/unknown", "urn:uuid:00000000-0000-0000-0000-000000000000",
          "http://a b", "x" * 70, "\x07", {"extension": [{"url": "http://x.test/e", "valueString": "v"}]}]


def _mutate(doc: Any, rng: random.Random, strings: list[str], values: list[Any]) -> None:
    nodes: list[tuple[Any, Any, Any]] = []

    def collect(o: Any, parent: Any, key: Any) -> None:
        nodes.append((o, parent, key))
        if isinstance(o, dict):
            for k, x in list(o.items()):
                collect(x, o, k)
        elif isinstance(o, list):
            for i, x in enumerate(o):
                collect(x, o, i)

    collect(doc, None, None)
    node, parent, key = rng.choice(nodes)
    op = rng.randrange(8)
    if isinstance(node, dict) and node:
        k = rng.choice(list(node))
        if op == 0:
            del node[k]
        elif op == 1:
            node[k] = copy.deepcopy(rng.choice(_WEIRD))
        elif op == 2:
            node[k] = copy.deepcopy(rng.choice(values))
        elif op == 3:
            node[rng.choice(["foo", "_" + k, k + "String", "valueString", "extension", "id"])] = copy.deepcopy(rng.choice(_WEIRD))
        else:
            node[k] = rng.choice(strings)
    elif isinstance(node, list) and node:
        if op < 3:
            node.pop(rng.randrange(len(node)))
        elif op < 6:
            node.append(copy.deepcopy(rng.choice(node)))
        else:
            rng.shuffle(node)
    elif parent is not None:
        parent[key] = rng.choice(strings) if op < 4 else copy.deepcopy(rng.choice(_WEIRD))


def _mutants(base: list[Any], n: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        src = base[i % len(base)]
        strings: list[str] = []
        values: list[Any] = []

        def collect(o: Any) -> None:
            if isinstance(o, dict):
                values.append(o)
                for x in o.values():
                    collect(x)
            elif isinstance(o, list):
                values.append(o)
                for x in o:
                    collect(x)
            elif isinstance(o, str) and len(o) < 100:
                strings.append(o)

        collect(src)
        doc = copy.deepcopy(src)
        for _ in range(rng.choice([1, 1, 2, 3])):
            _mutate(doc, rng, strings, values[:200])
        out.append(doc)
    return out


def _mutation_suite_docs() -> list[Any]:
    docs = [fixture_bundle()]
    for _kind, mutate, _path, _what, _severity in CASES:
        b = fixture_bundle()
        mutate(b)
        docs.append(b)
    return docs


def test_compiled_equals_interpreted_on_the_mutation_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _mutation_suite_docs()
    compiled = _validate_all(monkeypatch, 1, docs, packages=(str(TEST_PACKAGE),))
    interpreted = _validate_all(monkeypatch, 10**9, docs, packages=(str(TEST_PACKAGE),))
    assert compiled == interpreted


def test_compiled_equals_interpreted_on_random_mutations(monkeypatch: pytest.MonkeyPatch) -> None:
    base = [make_bundle(40), fixture_bundle()]
    docs = base + _mutants(base, 80, seed=7)
    extra = ("http://nictiz.nl/fhir/StructureDefinition/zib-BloodPressure",)
    compiled = _validate_all(monkeypatch, 1, docs, profiles=extra)
    interpreted = _validate_all(monkeypatch, 10**9, docs, profiles=extra)
    assert compiled == interpreted


@pytest.mark.parametrize("version", ["stu3", "r4"])
def test_compiled_equals_interpreted_on_the_real_examples(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    pkg = PACKAGES[version]
    if not pkg.is_dir():
        pytest.skip(f"real Nictiz package not found at {pkg}")
    files = sorted(p for p in EXAMPLE_DIRS[version].iterdir() if p.suffix in (".xml", ".json"))
    examples = [load_json_or_xml(f.read_bytes(), version) for f in files[::5]]
    docs = examples + _mutants(examples, 60, seed=11)
    compiled = _validate_all(monkeypatch, 1, docs, version=version, packages=(str(pkg),))
    interpreted = _validate_all(monkeypatch, 10**9, docs, version=version, packages=(str(pkg),))
    assert compiled == interpreted


def _one_edit_variants(doc: Any, depth: int = 3) -> list[Any]:
    """Every copy of ``doc`` with one key deleted (or one list item dropped), down to ``depth``."""
    out = []

    def walk(path: tuple[Any, ...], node: Any, d: int) -> None:
        if d > depth:
            return
        if isinstance(node, dict):
            for k, x in node.items():
                if k != "resourceType":
                    out.append(path + (k,))
                walk(path + (k,), x, d + 1)
        elif isinstance(node, list):
            for i, x in enumerate(node):
                out.append(path + (i,))
                walk(path + (i,), x, d)

    walk((), doc, 0)
    variants = []
    for p in out:
        c = copy.deepcopy(doc)
        node = c
        for k in p[:-1]:
            node = node[k]
        del node[p[-1]]
        variants.append(c)
    return variants


def test_compiled_equals_interpreted_with_every_element_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # one resource per profile of the BgZ searchset, each with every single element left out
    seen: set[str] = set()
    docs: list[Any] = []
    for e in make_bundle(60)["entry"]:
        r = e["resource"]
        prof = r["meta"]["profile"][0]
        if prof not in seen:
            seen.add(prof)
            docs.append(r)
            docs.extend(_one_edit_variants(r, depth=2))
    compiled = _validate_all(monkeypatch, 1, docs)
    interpreted = _validate_all(monkeypatch, 10**9, docs)
    assert compiled == interpreted


def test_printable_without_space_has_no_whitespace() -> None:
    # the compiled walks accept a uri or code as valid when it is printable and has no " " (or
    # no leading, trailing or double " "): every other whitespace character must be non-printable,
    # and Python's \s must be str.isspace()
    ws = re.compile(r"\s")
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        space = ch.isspace()
        assert (ws.fullmatch(ch) is not None) == space, hex(cp)
        if space and ch != " ":
            assert not ch.isprintable(), hex(cp)


def test_compiled_patterns_equal_pattern_match() -> None:
    rng = random.Random(3)
    atoms: list[Any] = ["a", "b", "", 1, 0, True, False, None, 1.0, "1", [], {}]

    def value(depth: int = 0) -> Any:
        r = rng.random()
        if depth > 3 or r < 0.4:
            return copy.deepcopy(rng.choice(atoms))
        if r < 0.7:
            return {rng.choice(["coding", "system", "code", "x"]): value(depth + 1) for _ in range(rng.randrange(3))}
        return [value(depth + 1) for _ in range(rng.randrange(3))]

    patterns = [{"coding": [{"system": "a", "code": "b"}]}, {"coding": [{"system": "a", "code": "b"}, {"system": "a"}]},
                {"system": "a"}, ["a", 1], True, 1, "a", {"x": [True]}] + [value() for _ in range(100)]
    for p in patterns:
        f = vm._compile_pattern(p)
        for _ in range(100):
            v = value()
            if isinstance(p, dict) and rng.random() < 0.3:
                v = copy.deepcopy(p)
                if v and rng.random() < 0.5:
                    v[rng.choice(list(v))] = value()
            assert f(v) == vm._pattern_match(v, p), (p, v)


def test_mixed_slicing_lookup_equals_testing_every_slice() -> None:
    rng = random.Random(11)
    v = vm.Validator("stu3")
    pes = []
    for entry in v.registry.entries("StructureDefinition"):
        cp = v.profile(entry.url)
        stack = [cp.root] if cp is not None else []
        while stack:
            pe = stack.pop()
            stack.extend(pe.slices.values())
            stack.extend(pe.variants.values())
            for ch in pe.children.values():
                stack.extend(ch.values())
            if pe.slices and pe.slicing is not None and pe.fast_slices is None and vm._hybrid_slices(pe) is not None:
                pes.append(pe)
    assert pes  # zib-LaboratoryTestResult-Observation.category, zib-AdvanceDirective.category
    for pe in pes:
        codes = [tuple(c.get(k) for k in ("system", "code"))
                 for s in pe.slices.values() for t in s.disc or [] if t[0] == "pattern"
                 for ex in t[2] if isinstance(ex, dict) for c in ex.get("coding") or []]
        codes += [("http://snomed.info/sct", "1"), (None, "y")]
        for _ in range(200):
            items = []
            for i in range(rng.randrange(4)):
                cs = [dict(zip(("system", "code"), rng.choice(codes))) for _ in range(rng.randrange(3))]
                x = {"coding": cs} if rng.random() < 0.85 else {"coding": cs[0] if cs else {}}
                items.append((x, None, "CodeableConcept", ("P", "x", i)))
            out = []
            for hybrid in (NOVAL, None):
                ctx = vm._Ctx()
                pe.hybrid = hybrid
                v._check_slicing(items, pe, "P", ctx)
                out.append([(i.severity, i.path, i.message) for i in ctx.issues])
            pe.hybrid = NOVAL
            assert out[0] == out[1], (pe.eid, items)


def _constraint_samples(validators: list[Any], docs_per_validator: list[list[Any]]) -> dict[tuple[Any, ...], list[Any]]:
    """(version, expression, type path, primitive) -> values the validator checked it on."""
    samples: dict[tuple[Any, ...], list[Any]] = {}
    orig = vm.Validator._check_constraint

    def record(self: Any, c: Any, value: Any, ext: Any, tcode: str, pe: Any, path: Any, ctx: Any) -> None:
        key = (self.version, c.expression, vm._type_path(pe, tcode, self.base), tcode in vm.PRIMITIVES)
        got = samples.setdefault(key, [])
        if len(got) < 10:
            got.append((copy.deepcopy(value), copy.deepcopy(ext)))
        orig(self, c, value, ext, tcode, pe, path, ctx)

    vm.Validator._check_constraint = record  # type: ignore[method-assign]
    try:
        for v, docs in zip(validators, docs_per_validator):
            for d in docs:
                v.validate(d)
    finally:
        vm.Validator._check_constraint = orig  # type: ignore[method-assign]
    return samples


def test_compiled_fhirpath_equals_fhirpathpy() -> None:
    from fhirpathpy.engine.nodes import ResourceNode

    validators = [vm.Validator("stu3"), vm.Validator("stu3", (str(TEST_PACKAGE),))]
    docs = [[make_bundle(60)], [fixture_bundle()]]
    for version in ("stu3", "r4"):
        pkg = PACKAGES[version]
        if pkg.is_dir():
            validators.append(vm.Validator(version, (str(pkg),)))
            files = sorted(p for p in EXAMPLE_DIRS[version].iterdir() if p.suffix in (".xml", ".json"))
            docs.append([load_json_or_xml(f.read_bytes(), version) for f in files[::2]])
    samples = _constraint_samples(validators, docs)
    rng = random.Random(5)
    compared = compiled = 0
    for (version, expr, type_path, primitive), values in samples.items():
        fast = fhirpath.compile_fast(expr, version, type_path)
        if fast is None:
            continue
        compiled += 1
        ce = fhirpath.compile_expression(expr, version)
        candidates = []
        for value, ext in values:
            candidates.append((value, ext))
            for _ in range(8):
                x = copy.deepcopy(value)
                if isinstance(x, (dict, list)):
                    _mutate(x, rng, ["nl", "NL", "1234 AB", "x", ""], [{"system": "http://loinc.org", "code": "9272-6"}])
                else:
                    x = rng.choice(["", "x", "123456789", "12345678", None, 1])
                candidates.append((x, ext))
        for value, ext in candidates:
            try:
                got = fast(value)
            except fhirpath.Fallback:
                continue
            if primitive:
                ok, _ = fhirpath.evaluate(ce, ResourceNode.create_node(value, type_path, _data=ext), None, value, value)
            else:
                ok, _ = fhirpath.evaluate(ce, value, type_path, value, value)
            assert (not any(r is False for r in got)) == ok, (expr, type_path, value)
            compared += 1
    assert compiled >= 2 and compared >= 20


@pytest.mark.parametrize("broken", [
    {"coding": [{"system": {"x": 1}, "code": "1"}]},
    {"coding": [{"system": "http://snomed.info/sct", "code": ["1"]}]},
    {"coding": 5},
    {"coding": [{"system": [], "code": {}}]},
])
def test_broken_codings_are_reported_not_a_crash(broken: Any) -> None:
    # found by the differential fuzzing of this work: codings whose system or code is a JSON
    # object or array, or whose coding is not an array, raised TypeError in bindings and slicing
    b = make_bundle(40)
    for e in b["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Observation":
            r["category"] = [copy.deepcopy(broken)]
            r["code"] = copy.deepcopy(broken)
    res = vm.Validator("stu3").validate(b)
    assert not res.ok
