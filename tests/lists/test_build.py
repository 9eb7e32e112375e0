"""build_lists: the reference DVA's own lists validate cleanly; fault variants give their findings."""

from __future__ import annotations

import pytest

from validatiestraat.lists.build import LIST_PATHS, build_lists, list_for_path, write_lists
from validatiestraat.lists.checks import CheckOptions, check_lists, load_document
from validatiestraat.lists.fetch import load_list
from validatiestraat.lists.resolve import Whitelist, resolve_endpoints

ENDPOINTS = {
    "authorization": "https://inlog.dva.validatiestraat.test/oauth/authorize",
    "token": "https://api.dva.validatiestraat.test:8443/oauth/token",
    "resource": "https://api.dva.validatiestraat.test:8443/fhir",
}
LOCAL = {
    "authorization": "https://127.0.0.1:8443/oauth/authorize",
    "token": "https://127.0.0.1:8443/oauth/token",
    "resource": "https://localhost:8443/fhir",
}
CLIENTS = [("pgo.validatiestraat.test", "Validatiestraat PGO"), ("pgo2.validatiestraat.test", "Tweede PGO")]
GDS = {"48": "Basisgegevens zorg", "49": "Medicatiegegevens"}


def _docs(lists):
    return [load_document(data, kind) for kind, data in lists.items()]


def test_reference_lists_validate_cleanly() -> None:
    lists = build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS, hostnames=["lijsten.validatiestraat.test"])
    assert set(lists) == {"zal", "ocl", "whitelist", "gnl"}
    report = check_lists(_docs(lists))
    assert report.findings == []
    assert {r: report.status(r) for r in report.applicable} == {r: "pass" for r in report.applicable}
    assert {"LIST-SEM-03", "LIST-SEM-04", "LIST-SEM-06"} <= report.applicable
    zal = load_document(lists["zal"], "zal")
    assert zal.release.release == "release3"
    got = resolve_endpoints(zal, "umcvalidatie", "49", "2.2.4")
    assert (got["authorization"], got["token"], got["resource"]) == tuple(ENDPOINTS.values())
    wl = Whitelist.from_bytes(lists["whitelist"])
    assert wl.hostnames == {"inlog.dva.validatiestraat.test", "api.dva.validatiestraat.test",
                            "pgo.validatiestraat.test", "pgo2.validatiestraat.test", "lijsten.validatiestraat.test"}


def test_loopback_reference_lists_validate_with_allow_loopback() -> None:
    lists = build_lists("umcvalidatie", LOCAL, CLIENTS, GDS, volgnummer=3)
    assert check_lists(_docs(lists), options=CheckOptions(allow_loopback=True)).findings == []
    strict = check_lists(_docs(lists))
    assert {f.requirement for f in strict.errors} == {"LIST-XSD-01", "LIST-XSD-03", "LIST-SEM-02"}
    assert Whitelist.from_bytes(lists["whitelist"]).allows("https://127.0.0.1:8443/x")


def test_subscription_and_systeemrollen() -> None:
    endpoints = dict(ENDPOINTS, subscription="https://api.dva.validatiestraat.test:8443/subscription",
                     maximale_duur=30,
                     resource={"MM-2.1-BZB-FHIR": ENDPOINTS["resource"],
                               "MM-3.0-BZB-FHIR": "https://api.dva.validatiestraat.test:8443/r4"})
    lists = build_lists("umcvalidatie@medmij", endpoints, CLIENTS, GDS)
    assert check_lists(_docs(lists)).findings == []
    got = resolve_endpoints(lists["zal"], "umcvalidatie", "48", systeemrol="MM-3.0-BZB-FHIR")
    assert got["resource"].endswith("/r4") and got["maximale_duur"] == 30


def test_fault_break_schema() -> None:
    lists = build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS, break_schema=True)
    report = check_lists(_docs(lists))
    assert [(f.requirement, f.source, f.line) for f in report.errors] == [("LIST-XSD-01", "zal", 3)]
    assert "Element 'Volgnummer': This element is not expected" in report.errors[0].message
    # and the PGO-facing variant of another kind
    lists = build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS, break_schema="whitelist")
    assert [(f.requirement, f.source) for f in check_lists(_docs(lists)).errors] == [("LIST-XSD-03", "whitelist")]


def test_fault_host_missing_from_whitelist() -> None:
    lists = build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS, missing_from_whitelist=True)
    report = check_lists(_docs(lists))
    assert [(f.requirement, f.severity) for f in report.findings] == [("LIST-SEM-03", "warning")]
    assert "'api.dva.validatiestraat.test'" in report.findings[0].message
    wl = Whitelist.from_bytes(lists["whitelist"])
    assert not wl.allows(ENDPOINTS["resource"]) and wl.allows(ENDPOINTS["authorization"])
    lists = build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS, missing_from_whitelist="pgo2.validatiestraat.test")
    report = check_lists(_docs(lists))
    assert [f.source for f in report.findings] == ["ocl"]


def test_fault_decreasing_volgnummer() -> None:
    first = build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS, volgnummer=5)
    later = build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS, volgnummer=5, decreasing_volgnummer=True)
    prev = [load_document(first["zal"], "first")]
    report = check_lists([load_document(later["zal"], "later")], prev)
    assert [(f.requirement, f.line) for f in report.errors] == [("LIST-SEM-01", 4)]
    assert "Volgnummer 4 is lower than the previously seen 5" in report.errors[0].message
    with pytest.raises(ValueError):
        build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS, volgnummer=1, decreasing_volgnummer=True)


def test_paths_and_writing(tmp_path) -> None:
    lists = build_lists("umcvalidatie", ENDPOINTS, CLIENTS, GDS)
    assert LIST_PATHS["zal"] == "/MedMij_Zorgaanbiederslijst.xml"
    assert list_for_path(lists, "/MedMij_Whitelist.xml?api=2") == lists["whitelist"]
    assert list_for_path(lists, "/MedMij_Catalogus.xml?api=2") is None
    written = write_lists(lists, tmp_path / "lists")
    assert written["gnl"].name == "MedMij_Gegevensdienstnamenlijst.xml"
    assert load_list(written["ocl"]).kind == "ocl"
