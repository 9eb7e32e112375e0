"""The synthetic BgZ data: valid STU3, qualification-style content rules, no BSN, resolvable references."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.STU3 import get_fhir_model_class

from validatiestraat.reference.data import PERSONS
from validatiestraat.reference.data.bgz import BSN_SYSTEM, build_compartment

COMPARTMENTS = {p.username: build_compartment(p) for p in PERSONS}
ALL = [(user, key, res) for user, comp in COMPARTMENTS.items() for key, res in comp.items()]


def walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


@pytest.mark.parametrize("user,key,res", ALL, ids=[f"{u}:{k[0]}/{k[1]}" for u, k, _ in ALL])
def test_every_resource_is_valid_stu3(user, key, res):
    model = get_fhir_model_class(key[0])
    model.model_validate(res)


def test_two_persons_with_distinct_data():
    assert len(PERSONS) >= 2
    families = {p.family for p in PERSONS}
    assert {"XXX_Testpersoon", "XXX_Proefpersoon"} <= families
    ids = [set(k for k in comp if k[0] not in ("Organization", "Practitioner", "Medication"))
           for comp in COMPARTMENTS.values()]
    assert not ids[0] & ids[1]


@pytest.mark.parametrize("user", sorted(COMPARTMENTS))
def test_qualification_content_rules(user):
    problems = []
    for (rtype, rid), res in COMPARTMENTS[user].items():
        where = f"{rtype}/{rid}"
        if not res.get("meta", {}).get("profile"):
            problems.append(f"{where}: no meta.profile")
        for path, node in walk(res):
            if "coding" in node and isinstance(node["coding"], list):  # CodeableConcept
                if not (node.get("text") or any(c.get("display") for c in node["coding"])):
                    problems.append(f"{where}{path}: CodeableConcept without display or text")
                for c in node["coding"]:
                    if not (c.get("system") and c.get("code")):
                        problems.append(f"{where}{path}: Coding without system and code")
                    if str(c.get("system", "")).startswith("urn:oid:2.16.840.1.113883.2.4.3.11.60.40.2"):
                        problems.append(f"{where}{path}: zib ValueSet OID used as a code system")
            if "reference" in node and not node.get("display"):
                problems.append(f"{where}{path}: Reference without display")
            if path.endswith("identifier") or ".identifier[" in path:
                if not (node.get("system") and node.get("value")):
                    problems.append(f"{where}{path}: Identifier without system and value")
    assert not problems, "\n".join(problems)


def test_no_bsn_anywhere():
    for user, comp in COMPARTMENTS.items():
        text = json.dumps(list(comp.values()))
        assert BSN_SYSTEM not in text, user
        for p in PERSONS:
            assert p.bsn not in text, (user, p.username)


@pytest.mark.parametrize("user", sorted(COMPARTMENTS))
def test_literal_references_resolve_in_the_compartment(user):
    comp = COMPARTMENTS[user]
    missing = []
    for (rtype, rid), res in comp.items():
        for path, node in walk(res):
            ref = node.get("reference")
            if isinstance(ref, str):
                t, i = ref.split("/")[-2:]
                if (t, i) not in comp:
                    missing.append(f"{rtype}/{rid}{path} -> {ref}")
    assert not missing, missing


@pytest.mark.parametrize("user", sorted(COMPARTMENTS))
def test_own_resources_point_at_their_own_patient(user):
    comp = COMPARTMENTS[user]
    patient = next(rid for (t, rid) in comp if t == "Patient")
    for (rtype, rid), res in comp.items():
        for field in ("subject", "patient"):
            ref = res.get(field)
            if isinstance(ref, dict) and ref.get("reference", "").startswith("Patient/"):
                assert ref["reference"] == f"Patient/{patient}", f"{rtype}/{rid}"


def test_canonical_profile_urls():
    profiles = {p for comp in COMPARTMENTS.values() for res in comp.values() for p in res["meta"]["profile"]}
    for p in profiles:
        assert p.startswith(("http://nictiz.nl/fhir/StructureDefinition/zib-",
                             "http://fhir.nl/fhir/StructureDefinition/nl-core-",
                             "http://nictiz.nl/fhir/StructureDefinition/eAfspraak-")), p
    assert "http://fhir.nl/fhir/StructureDefinition/nl-core-patient" in profiles
    assert "http://nictiz.nl/fhir/StructureDefinition/zib-Problem" in profiles
