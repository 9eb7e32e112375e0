"""resolve_endpoints (as a PGO does) and Whitelist.allows."""

from __future__ import annotations

import pytest

from validatiestraat.lists.checks import load_document
from validatiestraat.lists.fetch import FetchOptions, load_list
from validatiestraat.lists.resolve import ListResolutionError, Whitelist, resolve_endpoints, resolve_target_lists

from .conftest import VALID


@pytest.fixture(scope="module")
def zal3():
    return load_list(VALID / "zal-release3.xml")


def test_resolve_highest_interfaceversie_by_default(zal3) -> None:
    got = resolve_endpoints(zal3, "ziekenhuisnoord", "48")
    assert got["authorization"] == "https://inlog.ziekenhuisnoord.test/oauth/authorize"
    assert got["token"] == "https://api.ziekenhuisnoord.test:8443/oauth/token"
    assert got["resource"] == "https://api.ziekenhuisnoord.test:8443/fhir/stu3"
    assert got["interfaceversie"] == "2.2.4"
    assert got["systeemrol"] == "MM-2.1-BZB-FHIR"
    assert got["resources"] == {"MM-2.1-BZB-FHIR": "https://api.ziekenhuisnoord.test:8443/fhir/stu3",
                                "MM-3.0-BZB-FHIR": "https://api.ziekenhuisnoord.test:8443/fhir/r4"}
    assert got["subscription"] == "https://api.ziekenhuisnoord.test:8443/subscription"
    assert got["maximale_duur"] == 90
    assert got["aanbieder"] == "ziekenhuisnoord@medmij" and got["aanbiedertype"] == "ZA"


def test_resolve_named_interfaceversie_and_systeemrol(zal3) -> None:
    old = resolve_endpoints(zal3, "ziekenhuisnoord@medmij", 48, "1.4.0")
    assert old["token"] == "https://api.ziekenhuisnoord.test/oauth/token"
    assert old["resource"] == "https://api.ziekenhuisnoord.test/fhir-old"
    r4 = resolve_endpoints(zal3, "ziekenhuisnoord", "48", systeemrol="MM-3.0-BZB-FHIR")
    assert r4["resource"].endswith("/fhir/r4")


def test_resolve_gegevensdienst_only_under_one_version(zal3) -> None:
    # 51 is only offered under 2.2.4: asking for 1.4.0 must not silently fall back
    with pytest.raises(ListResolutionError) as exc:
        resolve_endpoints(zal3, "ziekenhuisnoord", "51", "1.4.0")
    assert str(exc.value) == ("ziekenhuisnoord@medmij does not offer gegevensdienst 51 under interfaceversie 1.4.0 "
                              "on zal-release3.xml".replace("zal-release3.xml", str(VALID / "zal-release3.xml"))
                              + "; offered: 1.4.0: gegevensdiensten 48; 2.2.4: gegevensdiensten 48, 51")


def test_resolve_errors_list_what_is_on_the_list(zal3) -> None:
    with pytest.raises(ListResolutionError) as exc:
        resolve_endpoints(zal3, "ziekenhuisnord", "48")
    msg = str(exc.value)
    assert "aanbieder 'ziekenhuisnord@medmij' is not on the Zorgaanbiederslijst" in msg
    assert "on the list: ziekenhuisnoord@medmij, huisarts.de-linde2&zn@medmij" in msg
    with pytest.raises(ListResolutionError) as exc:
        resolve_endpoints(zal3, "ziekenhuisnoord", "48", "9.9.9")
    assert "offers no interfaceversie 9.9.9" in str(exc.value)
    assert "offered: 1.4.0: gegevensdiensten 48; 2.2.4: gegevensdiensten 48, 51" in str(exc.value)
    with pytest.raises(ListResolutionError) as exc:
        resolve_endpoints(zal3, "ziekenhuisnoord", "48", systeemrol="XX")
    assert "has no Systeemrol 'XX'; on the list: MM-2.1-BZB-FHIR, MM-3.0-BZB-FHIR" in str(exc.value)


def test_resolve_many_aanbieders_suggests_close_names() -> None:
    rows = "".join(
        f"<Zorgaanbieder><Zorgaanbiedernaam>aanbieder{chr(97 + i // 26)}{chr(97 + i % 26)}@medmij</Zorgaanbiedernaam>"
        "<Aanbiedertype>ZA</Aanbiedertype><Interfaceversies/></Zorgaanbieder>" for i in range(40))
    data = ('<Zorgaanbiederslijst xmlns="xmlns://afsprakenstelsel.medmij.nl/zorgaanbiederslijst/release3/">'
            "<Tijdstempel>2025-03-01T09:30:00Z</Tijdstempel><Volgnummer>1</Volgnummer>"
            f"<Zorgaanbieders>{rows}</Zorgaanbieders></Zorgaanbiederslijst>").encode()
    with pytest.raises(ListResolutionError) as exc:
        resolve_endpoints(data, "aanbiederzz", "48")
    assert "closest: " in str(exc.value) and "40 in total" in str(exc.value)


def test_resolve_release2() -> None:
    got = resolve_endpoints(VALID / "zal-release2.xml", "apotheekwest", "1")
    assert got["interfaceversie"] is None
    assert got["resource"] == "https://api.apotheekwest.test/fhir"
    # an interfaceversie cannot narrow a release2 list: it is ignored
    assert resolve_endpoints(VALID / "zal-release2.xml", "apotheekwest", "1", "2.2.4")["token"] == \
        "https://api.apotheekwest.test/token"


def test_resolve_missing_endpoint() -> None:
    data = ('<Zorgaanbiederslijst xmlns="xmlns://afsprakenstelsel.medmij.nl/zorgaanbiederslijst/release3/">'
            "<Tijdstempel>2025-03-01T09:30:00Z</Tijdstempel><Volgnummer>1</Volgnummer><Zorgaanbieders>"
            "<Zorgaanbieder><Zorgaanbiedernaam>abc@medmij</Zorgaanbiedernaam><Aanbiedertype>ZA</Aanbiedertype>"
            "<Interfaceversies><Interfaceversie><InterfaceversieId>2.2.4</InterfaceversieId><Gegevensdiensten>"
            "<Gegevensdienst><GegevensdienstId>48</GegevensdienstId><Systeemrollen><Systeemrol>"
            "<Systeemrolcode>X</Systeemrolcode><ResourceEndpoint><ResourceEndpointuri>https://a.test/fhir"
            "</ResourceEndpointuri></ResourceEndpoint></Systeemrol></Systeemrollen></Gegevensdienst>"
            "</Gegevensdiensten></Interfaceversie></Interfaceversies></Zorgaanbieder></Zorgaanbieders>"
            "</Zorgaanbiederslijst>").encode()
    with pytest.raises(ListResolutionError) as exc:
        resolve_endpoints(data, "abc", "48")
    assert "has no AuthorizationEndpoint, TokenEndpoint" in str(exc.value)


def test_resolve_rejects_other_kinds() -> None:
    with pytest.raises(Exception) as exc:
        resolve_endpoints(VALID / "whitelist-release2.xml", "abc", "48")
    assert "expected a Zorgaanbiederslijst (ZAL), got a Whitelist" in str(exc.value)


def test_whitelist_allows() -> None:
    wl = Whitelist.load(VALID / "whitelist-release2.xml")
    assert len(wl) == 7 and wl.volgnummer == 40
    assert wl.allows("https://api.ziekenhuisnoord.test:8443/fhir/Patient?x=1")
    assert wl.allows("https://API.Ziekenhuisnoord.test./oauth/token")
    assert wl.allows("api.ziekenhuisnoord.test")
    assert wl.allows("api.ziekenhuisnoord.test:8443")
    assert not wl.allows("https://evil.api.ziekenhuisnoord.test/")
    assert not wl.allows("https://ziekenhuisnoord.test/")
    assert not wl.allows("https://api.ziekenhuisnoord.test.evil.test/")
    assert not wl.allows("https://user@evil.test/")
    assert not wl.allows("")
    assert wl.refusal("https://evil.test/x") == (f"host 'evil.test' is not on the MedMij Whitelist "
                                                 f"({VALID / 'whitelist-release2.xml'})")
    assert wl.refusal("https://api.ziekenhuisnoord.test/x") is None
    old = Whitelist.load(VALID / "whitelist-release2-2018.xml")
    assert old.allows("https://auth.apotheekwest.test/authorize")


def test_whitelist_ip_literals() -> None:
    wl = Whitelist(["127.0.0.1", "[::1]"])
    assert wl.allows("https://127.0.0.1:8443/fhir")
    assert wl.allows("https://[::1]:8443/fhir")
    assert not wl.allows("https://127.0.0.2:8443/fhir")


def test_whitelist_from_url(list_server, pki) -> None:
    data = (VALID / "whitelist-release2.xml").read_bytes()
    list_server.routes["/MedMij_Whitelist.xml?api=2"] = (200, "application/xml", data)
    wl = Whitelist.load(list_server.url("/MedMij_Whitelist.xml?api=2"), FetchOptions(trust=[pki.ca_path]))
    assert wl.allows("pgo.gezondmijn.test")
    # without the test CA the TLS handshake fails: nothing is trusted by accident
    with pytest.raises(Exception) as exc:
        Whitelist.load(list_server.url("/MedMij_Whitelist.xml?api=2"), FetchOptions(timeout=5))
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc.value) or "certificate" in str(exc.value).lower()


def test_resolve_target_lists(tmp_path) -> None:
    target_dir = tmp_path
    (target_dir / "zal.xml").write_bytes((VALID / "zal-release3.xml").read_bytes())
    (target_dir / "wl.xml").write_bytes((VALID / "whitelist-release2.xml").read_bytes())
    resolved = resolve_target_lists({"zal": "zal.xml", "whitelist": "wl.xml", "interfaceversie": "2.2.4"},
                                    "ziekenhuisnoord", ["48"], base_dir=target_dir)
    assert resolved.endpoints["authorization"] == "https://inlog.ziekenhuisnoord.test/oauth/authorize"
    assert resolved.whitelist is not None and resolved.whitelist.allows(resolved.endpoints["token"])
    assert resolved.problems == []
    with pytest.raises(ListResolutionError):
        resolve_target_lists({"zal": "zal.xml"}, "ziekenhuisnoord", ["99"], base_dir=target_dir)


def test_load_document_from_bytes_for_resolution() -> None:
    doc = load_document((VALID / "zal-release3.xml").read_bytes(), "zal")
    assert resolve_endpoints(doc.content, "huisarts.de-linde2&zn", "49")["resource"] == \
        "https://backend.bazb-huisarts.test/fhir"
