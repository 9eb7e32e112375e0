"""Generate realistic STU3 BgZ searchsets for the FHIR validation benchmark.

The templates are the reference DVA's BgZ data (every BgZ section, zib2017 meta.profile on every
resource, extensions, primitive extensions, slices, references). A Bundle of N entries holds one
Patient, the directory resources (organisations, practitioners, medications, devices) once, and
then copies of the patient's clinical resources with new ids, with their references rewired to
the copies. Every generated Bundle validates without errors.

Usage: python bench/fhir_data.py N [--out FILE]   (prints a summary; writes the Bundle JSON to FILE when given)
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script from a checkout: the repository is not on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BASE = "https://dva.validatiestraat.test/fhir/"


def _templates() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    from validatiestraat.reference.data.bgz import all_compartments

    compartments = all_compartments()
    comp = next(iter(compartments.values()))
    patient = next(r for (t, _), r in comp.items() if t == "Patient")
    directory = [r for (t, _), r in comp.items() if t in ("Organization", "Practitioner", "PractitionerRole", "Medication")]
    clinical = [r for (t, _), r in comp.items() if t not in ("Patient", "Organization", "Practitioner", "PractitionerRole", "Medication")]
    return patient, directory, clinical


def _rewire(node: Any, idmap: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and "/" in ref:
            rtype, _, rid = ref.rpartition("/")
            new = idmap.get(f"{rtype.rsplit('/', 1)[-1]}/{rid}")
            if new is not None:
                node["reference"] = f"{rtype}/{new}"
        for v in node.values():
            _rewire(v, idmap)
    elif isinstance(node, list):
        for v in node:
            _rewire(v, idmap)


def make_bundle(n: int) -> dict[str, Any]:
    patient, directory, clinical = _templates()
    resources: list[dict[str, Any]] = [copy.deepcopy(patient)] + [copy.deepcopy(r) for r in directory]
    copy_no = 0
    while len(resources) < n:
        idmap = {f"{r['resourceType']}/{r['id']}": f"{r['id']}-{copy_no}" for r in clinical}
        for r in clinical:
            if len(resources) >= n:
                break
            c = copy.deepcopy(r)
            c["id"] = idmap[f"{r['resourceType']}/{r['id']}"]
            _rewire(c, idmap)
            resources.append(c)
        copy_no += 1
    resources = resources[:n]
    entries = [
        {"fullUrl": f"{BASE}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for r in resources
    ]
    return {
        "resourceType": "Bundle",
        "id": f"bgz-{n}",
        "meta": {"lastUpdated": "2026-01-01T12:00:00+01:00"},
        "type": "searchset",
        "total": n,
        "link": [{"relation": "self", "url": f"{BASE}Patient?_count={n}"}],
        "entry": entries,
    }


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=500)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    b = make_bundle(args.n)
    types: dict[str, int] = {}
    for e in b["entry"]:
        types[e["resource"]["resourceType"]] = types.get(e["resource"]["resourceType"], 0) + 1
    text = json.dumps(b, separators=(",", ":"))
    print(f"{args.n} entries, {len(text) // 1024} KiB, {len(types)} resource types: "
          + ", ".join(f"{t} {c}" for t, c in sorted(types.items(), key=lambda x: -x[1])))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
