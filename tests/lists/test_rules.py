"""Every schema and semantic rule: valid lists pass, each invalid list fails with the expected
requirement, severity, line and message."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import INVALID, VALID
from validatiestraat.lists.checks import CheckOptions, check_lists, load_document


def doc(path: Path, name: str | None = None):
    return load_document(path.read_bytes(), name or path.name)


def findings(*paths: Path, previous: Path | None = None, options: CheckOptions | None = None):
    report = check_lists([doc(p) for p in paths], [doc(previous, "previous")] if previous else [], options)
    return report, [(f.requirement, f.severity, f.source, f.line, f.message) for f in report.findings]


@pytest.mark.parametrize("name, kind, release", [
    ("zal-release2.xml", "zal", "release2"),
    ("zal-release3.xml", "zal", "release3"),
    ("ocl-release2.xml", "ocl", "release2"),
    ("whitelist-release2.xml", "whitelist", "release2"),
    ("whitelist-release2-2018.xml", "whitelist", "release2-2018"),
    ("gnl-release1.xml", "gnl", "release1"),
    ("zakl-release1.xml", "zakl", "release1"),
])
def test_valid_lists_detected_and_clean(name: str, kind: str, release: str) -> None:
    d = doc(VALID / name)
    assert (d.kind, d.release.release) == (kind, release)
    report = check_lists([d])
    assert report.errors == []
    if release == "release2-2018":
        assert [f.requirement for f in report.warnings] == ["LIST-XSD-03"]
        assert "2018 Whitelist shape" in report.warnings[0].message
    else:
        assert report.warnings == []


def test_consistent_set_is_clean_against_each_other() -> None:
    names = ["zal-release3.xml", "ocl-release2.xml", "whitelist-release2.xml", "gnl-release1.xml", "zakl-release1.xml"]
    report = check_lists([doc(VALID / n) for n in names])
    assert report.findings == []
    for req in ("LIST-XSD-01", "LIST-XSD-02", "LIST-XSD-03", "LIST-XSD-04", "LIST-SEM-01", "LIST-SEM-02",
                "LIST-SEM-03", "LIST-SEM-04", "LIST-SEM-05", "LIST-SEM-06"):
        assert report.status(req) == "pass", req
    assert report.status("LIST-HTTP-01") == "not-applicable"


# (file, requirement, severity, line, message fragment)
CASES = [
    # LIST-XSD-01: ZAL (and ZAKL) schema
    ("zal3-order.xml", "LIST-XSD-01", "error", 4, "Element 'Volgnummer': This element is not expected. Expected is ( Tijdstempel )"),
    ("zal3-missing-systeemrollen.xml", "LIST-XSD-01", "error", 14, "Element 'Gegevensdienst': Missing child element(s)"),
    ("zal3-missing-systeemrollen.xml", "LIST-XSD-01", "error", 5, "'0' is not a valid value of the atomic type 'xs:positiveInteger'"),
    ("zal3-prefixed.xml", "LIST-XSD-01", "error", 2, "root element uses the prefix 'zal:'"),
    ("zal-unknown-namespace.xml", "LIST-XSD-01", "error", 2, "namespace 'xmlns://afsprakenstelsel.medmij.nl/zorgaanbiederslijst/release9/'; expected one of"),
    ("zal2-name-pattern.xml", "LIST-XSD-01", "error", 8, "The value 'zkh-zuid@medmij' is not accepted by the pattern '([a-z])+@medmij'"),
    ("zal2-name-pattern.xml", "LIST-XSD-01", "error", 13, "'https://medmij.ziekenhuiszuid.test:443/oauth/authorize' is not accepted by the pattern"),
    ("zal3-names.xml", "LIST-XSD-01", "error", 92, "Duplicate key-sequence ['ziekenhuisnoord@medmij'] in unique identity-constraint 'UniekeZorgaanbiedernaam'"),
    ("zal3-bad-uris.xml", "LIST-XSD-01", "error", 20, "(:(\\d){1,5})?"),
    ("zakl-invalid.xml", "LIST-XSD-01", "error", 11, "The value '1234' is not accepted by the pattern '[0-9]{8}'"),
    ("zakl-lowercase-namespace.xml", "LIST-XSD-01", "error", 2, "differs only in letter case"),
    # LIST-XSD-02: OCL
    ("ocl-invalid.xml", "LIST-XSD-02", "error", 8, "The value 'PGO.GezondMijn.test' is not accepted by the pattern"),
    ("ocl-invalid.xml", "LIST-XSD-02", "error", 13, "Element 'OAuthclientOrganisatienaam': [facet 'minLength']"),
    ("ocl-invalid.xml", "LIST-XSD-02", "error", 16, "Duplicate key-sequence ['medmij.dossierapp.test'] in unique identity-constraint 'UniekeHostname'"),
    # LIST-XSD-03: Whitelist
    ("whitelist-invalid.xml", "LIST-XSD-03", "error", 8, "The value 'api.ziekenhuisnoord.test:8443' is not accepted by the pattern"),
    ("whitelist-invalid.xml", "LIST-XSD-03", "error", 14, "Duplicate key-sequence ['pgo.gezondmijn.test'] in unique identity-constraint 'UniekeMedMijNode'"),
    ("whitelist-2018-empty.xml", "LIST-XSD-03", "error", 7, "Element 'MedMijNode': [facet 'pattern'] The value 'localhost'"),
    ("whitelist-2018-empty.xml", "LIST-XSD-03", "warning", 2, "2018 Whitelist shape"),
    # LIST-XSD-04: GNL
    ("gnl-invalid.xml", "LIST-XSD-04", "error", 9, "Element 'Weergavenaam': [facet 'maxLength'] The value has a length of '70'"),
    ("gnl-invalid.xml", "LIST-XSD-04", "error", 12, "Duplicate key-sequence ['48'] in unique identity-constraint 'UniekeGegevensdienstId'"),
    ("gnl-invalid.xml", "LIST-XSD-04", "error", 16, "Element 'GegevensdienstId': [facet 'maxLength']"),
    ("gnl-invalid.xml", "LIST-XSD-04", "error", 4, "'2025-03-01' is not a valid value"),
    # LIST-SEM-01: Tijdstempel / Volgnummer (own content)
    ("zal3-no-timezone.xml", "LIST-SEM-01", "error", 4, "Tijdstempel '2025-03-01T09:30:00.000' has no timezone"),
    ("gnl-invalid.xml", "LIST-SEM-01", "error", 4, "Tijdstempel '2025-03-01' is not an xs:dateTime"),
    ("zal3-missing-systeemrollen.xml", "LIST-SEM-01", "error", 5, "Volgnummer '0' is not a positive integer"),
    # LIST-SEM-02: endpoint URIs
    ("zal3-bad-uris.xml", "LIST-SEM-02", "error", 17, "AuthorizationEndpointuri 'https://inlog.ziekenhuisnoord.test:443/oauth/authorize' is not a valid frontchannel URI: a frontchannel URI must not carry a port"),
    ("zal3-bad-uris.xml", "LIST-SEM-02", "error", 20, "is not a valid backchannel URI: URI must not have a query"),
    ("zal3-bad-uris.xml", "LIST-SEM-02", "error", 26, "host must be lowercase; URI must not end with a slash"),
    ("zal3-http-localhost.xml", "LIST-SEM-02", "error", 17, "scheme must be https (got 'http')"),
    ("zal3-http-localhost.xml", "LIST-SEM-02", "error", 26, "host must be a fully qualified domain name"),
    ("zal2-name-pattern.xml", "LIST-SEM-02", "error", 13, "a frontchannel URI must not carry a port"),
    # LIST-SEM-05: naming policy and uniqueness
    ("zal3-names.xml", "LIST-SEM-05", "error", 8, "Zorgaanbiedernaam 'Ziekenhuis_Noord@medmij' does not follow the naming policy"),
    ("zal3-names.xml", "LIST-SEM-05", "error", 36, "Zorgaanbiedernaam 'lab12345x@medmij' does not follow the naming policy"),
    ("zal3-names.xml", "LIST-SEM-05", "error", 92, "Zorgaanbiedernaam 'ziekenhuisnoord@medmij' occurs more than once (first on line 64)"),
    ("zakl-invalid.xml", "LIST-SEM-05", "error", 8, "Zorgaanbiedernaam 'Ziekenhuis Noord@medmij' does not follow the naming policy"),
    # LIST-SEM-06: Aanbiedertype
    ("zal3-aanbiedertype.xml", "LIST-SEM-06", "error", 9, "Aanbiedertype 'XYZ' of ziekenhuisnoord@medmij is not one of: BAZB, ZA"),
    ("zal3-aanbiedertype.xml", "LIST-SEM-06", "warning", 37, "Aanbiedertype 'APD' of pgoapd@medmij is proposed"),
]


@pytest.mark.parametrize("name, requirement, severity, line, fragment", CASES,
                         ids=[f"{c[1]}-{c[0]}-{c[3]}" for c in CASES])
def test_invalid_list_rule(name: str, requirement: str, severity: str, line: int, fragment: str) -> None:
    _, found = findings(INVALID / name)
    matching = [f for f in found if f[0] == requirement and f[3] == line and fragment in f[4]]
    assert matching, f"expected {requirement} at line {line} with {fragment!r}; got:\n" + "\n".join(map(str, found))
    assert matching[0][1] == severity
    assert matching[0][2] == name


def test_every_requirement_has_a_failing_example() -> None:
    covered = {c[1] for c in CASES} | {"LIST-SEM-01", "LIST-SEM-03", "LIST-SEM-04", "LIST-HTTP-01"}
    # SEM-01 (Volgnummer vs previous), SEM-03, SEM-04 are cross-list: tested below; HTTP-01 in test_http.py
    assert covered == {"LIST-XSD-01", "LIST-XSD-02", "LIST-XSD-03", "LIST-XSD-04", "LIST-SEM-01", "LIST-SEM-02",
                       "LIST-SEM-03", "LIST-SEM-04", "LIST-SEM-05", "LIST-SEM-06", "LIST-HTTP-01"}


def test_sem01_volgnummer_lower_than_previous() -> None:
    report, found = findings(INVALID / "zal3-volgnummer-8.xml", previous=VALID / "zal-release3.xml")
    assert found == [("LIST-SEM-01", "error", "zal3-volgnummer-8.xml", 5,
                      "Volgnummer 8 is lower than the previously seen 9 (from previous); Volgnummer must increase")]
    assert report.status("LIST-SEM-01") == "fail"


def test_sem01_changed_content_same_volgnummer() -> None:
    _, found = findings(INVALID / "zal3-changed-same-volgnummer.xml", previous=VALID / "zal-release3.xml")
    assert [(f[0], f[3]) for f in found] == [("LIST-SEM-01", 5)]
    assert "content differs from the previously seen copy (previous) but Volgnummer stayed 9" in found[0][4]


def test_sem01_same_copy_and_increase_are_fine() -> None:
    _, found = findings(VALID / "zal-release3.xml", previous=VALID / "zal-release3.xml")
    assert found == []
    _, found = findings(VALID / "zal-release3.xml", previous=INVALID / "zal3-volgnummer-8.xml")
    assert found == []


def test_sem03_zal_host_not_on_whitelist_is_a_warning() -> None:
    report, found = findings(INVALID / "zal3-host-not-whitelisted.xml", VALID / "whitelist-release2.xml")
    assert found == [("LIST-SEM-03", "warning", "zal3-host-not-whitelisted.xml", 26,
                      "host 'fhir.onbekend.test' (ResourceEndpointuri) is not on the Whitelist (whitelist-release2.xml)")]
    assert report.status("LIST-SEM-03") == "warning"
    assert report.ok() and not report.ok(strict=True)


def test_sem03_ocl_host_not_on_whitelist() -> None:
    _, found = findings(INVALID / "ocl-not-whitelisted.xml", VALID / "whitelist-release2.xml")
    assert found == [("LIST-SEM-03", "warning", "ocl-not-whitelisted.xml", 12,
                      "host 'pgo.nietopdelijst.test' (OAuthclient Hostname) is not on the Whitelist "
                      "(whitelist-release2.xml)")]


def test_sem03_counts_repeated_hosts_once() -> None:
    _, found = findings(VALID / "zal-release2.xml", VALID / "whitelist-release2.xml")
    sem03 = [f for f in found if f[0] == "LIST-SEM-03"]
    assert [(f[3], f[4].split(" is not")[0]) for f in sem03] == [
        (13, "host 'medmij.ziekenhuiszuid.test' (AuthorizationEndpointuri) (3 occurrences)"),
        (35, "host 'auth.apotheekwest.test' (AuthorizationEndpointuri)"),
        (38, "host 'api.apotheekwest.test' (TokenEndpointuri) (2 occurrences)"),
    ]
    # the 2018-shape whitelist of the same generation covers them all
    _, found = findings(VALID / "zal-release2.xml", VALID / "whitelist-release2-2018.xml")
    assert [f for f in found if f[0] == "LIST-SEM-03"] == []


def test_sem04_unknown_gegevensdienst() -> None:
    _, found = findings(INVALID / "zal3-unknown-gegevensdienst.xml", VALID / "gnl-release1.xml")
    assert found == [("LIST-SEM-04", "warning", "zal3-unknown-gegevensdienst.xml", 15,
                      "GegevensdienstId '999' is not in the Gegevensdienstnamenlijst (gnl-release1.xml)")]


def test_sem06_apd_accepted_when_configured() -> None:
    options = CheckOptions(aanbiedertypes=frozenset({"ZA", "BAZB", "APD"}))
    _, found = findings(INVALID / "zal3-aanbiedertype.xml", options=options)
    assert [(f[0], f[1], f[3]) for f in found] == [("LIST-SEM-06", "error", 9)]


def test_loopback_option_relaxes_local_hosts_only() -> None:
    _, strict = findings(INVALID / "zal3-http-localhost.xml")
    _, relaxed = findings(INVALID / "zal3-http-localhost.xml", options=CheckOptions(allow_loopback=True))
    assert any(f[3] == 26 for f in strict)
    assert not any(f[3] == 26 for f in relaxed)  # https://localhost:8443/fhir accepted
    assert any(f[3] == 17 and f[0] == "LIST-SEM-02" for f in relaxed)  # http:// still wrong


def test_report_to_dict_shape() -> None:
    report, _ = findings(INVALID / "zal3-order.xml")
    data = report.to_dict()
    assert data["ok"] is False
    assert data["requirements"]["LIST-XSD-01"] == "fail"
    assert data["documents"][0]["kind"] == "zal" and data["documents"][0]["release"] == "release3"
    assert data["findings"][0] == {"requirement": "LIST-XSD-01", "severity": "error", "line": 4,
                                   "source": "zal3-order.xml", "message": data["findings"][0]["message"]}


def test_previous_of_another_release_is_not_compared() -> None:
    # release2 Volgnummer 3 vs release3 Volgnummer 9: different list API versions, no comparison
    _, found = findings(VALID / "zal-release2.xml", previous=VALID / "zal-release3.xml")
    assert found == []
