"""The two real Nictiz packages (XML, differential-only): everything loads, every example is valid.

Skipped with a clear message when ../shared/fhir-packages is absent.
"""

from __future__ import annotations

import pytest

from tests.fhir.conftest import EXAMPLE_DIRS, require_package
from validatiestraat.fhir import get_validator
from validatiestraat.fhir.conformance import load_json_or_xml

# Examples that are themselves wrong, with the reason. (None so far: every example in both
# packages validates with zero errors against the profiles it declares.)
KNOWN_BAD_EXAMPLES: dict[str, str] = {}

# Compile notes that are acceptable: the base definition is a core profile we do not have.
_ACCEPTABLE_NOTE = ("is not available",)


def _validator(version: str):
    pkg = require_package(version)
    return get_validator(version, packages=(str(pkg),))


@pytest.mark.parametrize("version", ["stu3", "r4"])
def test_every_conformance_resource_loads_and_compiles(version: str) -> None:
    v = _validator(version)
    assert not v.registry.problems, v.registry.problems
    counts = {rt: 0 for rt in ("StructureDefinition", "ValueSet", "CodeSystem")}
    for entry in v.registry.entries():
        counts[entry.resource_type] += 1
        assert entry.resource["resourceType"] == entry.resource_type
        assert entry.resource.get("url") == entry.url
        if entry.resource_type == "StructureDefinition":
            cp = v.profile(entry.url)
            assert cp is not None, entry.url
            bad = [n for n in cp.notes if not any(a in n for a in _ACCEPTABLE_NOTE)]
            assert not bad, (entry.location, bad)
        elif entry.resource_type == "ValueSet":
            idx = v.terminology.value_set(entry.url)
            assert not idx.missing, (entry.location, idx.missing)
    assert counts["StructureDefinition"] > 200
    assert counts["ValueSet"] > 250
    if version == "r4":
        assert counts["CodeSystem"] > 100


def _examples(version: str) -> list:
    d = EXAMPLE_DIRS[version]
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.suffix in (".xml", ".json"))


@pytest.mark.parametrize("version", ["stu3", "r4"])
def test_every_example_validates_without_errors(version: str) -> None:
    v = _validator(version)
    files = _examples(version)
    assert len(files) > 200
    failures = {}
    with_profile = 0
    for f in files:
        resource = load_json_or_xml(f.read_bytes(), version)
        res = v.validate(resource)
        if res.profiles_used:
            with_profile += 1
        if f.name in KNOWN_BAD_EXAMPLES:
            assert not res.ok, f"{f.name} is listed as wrong but validates; remove it from KNOWN_BAD_EXAMPLES"
            continue
        if not res.ok:
            failures[f.name] = [str(i) for i in res.errors[:5]]
    assert not failures, failures
    # nearly every example declares a profile that is in the package
    assert with_profile >= len(files) - 5


@pytest.mark.parametrize("version", ["stu3", "r4"])
def test_examples_declare_profiles_that_are_applied(version: str) -> None:
    v = _validator(version)
    f = next(p for p in _examples(version) if "Patient" in p.name or "patient" in p.name)
    res = v.validate(load_json_or_xml(f.read_bytes(), version))
    assert res.profiles_used
    used = res.profiles_used[0]
    assert used["source"] != "validatiestraat (bundled essential profiles)"  # --package wins
    assert used["url"] and "source" in used
