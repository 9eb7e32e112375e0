"""The shipped data: cipher suite registry, NCSC v2.1 ratings, MedMij profile; certificate facts."""

from __future__ import annotations

import datetime as dt

import pytest

from validatiestraat.reference.pki import POLICY_DV, POLICY_EV, POLICY_OV, issue, make_ca, new_key
from validatiestraat.tls import certs, suites, wire


def test_every_rated_suite_is_in_the_registry_and_ratings_have_a_source():
    names = {s.iana for s in suites.registry().values()}
    for level, listed in suites.ncsc()["suites"].items():
        assert level in suites.LEVELS
        assert set(listed) <= names, set(listed) - names
    src = suites.ncsc_source()
    assert "2.1" in src["title"] and src["url"].startswith("https://")
    assert suites.version_level("TLSv1.3") == "good"
    assert suites.version_level("TLSv1.2") == "sufficient"
    assert suites.version_level("TLSv1.0") == "phase_out"
    assert suites.version_level("SSLv3") == "insufficient"


@pytest.mark.parametrize("code, level, weakness", [
    (0x1301, "good", None),
    (0x1302, "good", None),
    (0xC02C, "good", None),
    (0xCCA8, "good", None),
    (0xC013, "sufficient", "CBC mode"),
    (0x009F, "sufficient", None),  # DHE-RSA-AES256-GCM
    (0x009C, "phase_out", "no forward secrecy (RSA key exchange)"),
    (0x000A, "phase_out", "3DES"),
    (0xC012, "phase_out", "3DES"),
    (0x0005, "insufficient", "RC4"),
    (0x0003, "insufficient", "EXPORT-grade"),
    (0x0002, "insufficient", "no encryption (NULL)"),
    (0x00A7, "insufficient", "anonymous (no server authentication)"),
    (0xC0AE, "insufficient", "short (8-byte) CCM tag"),
    (0x1305, "insufficient", "short (8-byte) CCM tag"),
    (0xC05C, "insufficient", "ARIA (not in the NCSC selection)"),
])
def test_suite_classification(code, level, weakness):
    assert suites.suite_level(code) == level
    if weakness:
        assert weakness in suites.registry()[code].weaknesses()


def test_suites_per_version():
    tls13 = suites.suites_for(wire.TLS13)
    assert set(tls13) == {0x1301, 0x1302, 0x1303, 0x1304, 0x1305}
    legacy = set(suites.suites_for(wire.TLS10))
    assert 0xC013 in legacy and 0xC02F not in legacy and 0x1301 not in legacy
    assert 0xC013 not in suites.suites_for(wire.SSL3)  # ECC suites came with TLS 1.0
    assert 0x0005 in suites.suites_for(wire.SSL3)
    assert suites.suite_name(0xFEFE) == "unknown suite 0xFEFE"


def test_group_and_dh_levels():
    assert suites.group_level("x25519") == "good"
    assert suites.group_level("ffdhe3072") == "sufficient"
    assert suites.group_level("ffdhe2048") == "phase_out"
    assert suites.group_level("secp192r1") == "insufficient"
    assert suites.dh_level(4096) == "sufficient" and suites.dh_level(2048) == "phase_out"
    assert suites.dh_level(1024) == "insufficient"


def test_medmij_profile_lists_the_four_private_services_cas():
    cas = suites.medmij_profile()["backchannel"]["issuing_cas"]
    assert len(cas) == 4 and all(c.endswith("Private Services CA - G1") for c in cas)


def _der(issued) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return issued.cert.public_bytes(Encoding.DER)


def test_certificate_facts():
    ca = make_ca("Facts CA")
    now = dt.datetime.now(dt.timezone.utc)
    weak = certs.analyze(_der(issue(ca, "w", dns_names=["w.test"], key=new_key("rsa", 1024), policies=[POLICY_DV])))
    assert (weak.key_type, weak.key_bits, weak.validation_level) == ("RSA", 1024, "DV")
    ev = certs.analyze(_der(issue(ca, "e", dns_names=["*.e.test"], policies=[POLICY_OV, POLICY_EV])))
    assert ev.validation_level == "EV" and ev.wildcard_names == ["*.e.test"] and ev.curve == "secp256r1"
    old = certs.analyze(_der(issue(ca, "o", not_before=now - dt.timedelta(days=10),
                                   not_after=now - dt.timedelta(days=2))))
    assert old.expired and old.days_left < 0
    assert not old.self_signed
    assert certs.analyze(_der(ca)).self_signed
    assert ev.signature_hash == "sha256" and ev.server_auth is True


def test_hostname_matching_follows_rfc6125_without_cn_fallback():
    ca = make_ca("Names CA")
    info = certs.analyze(_der(issue(ca, "cn-only.test", dns_names=["*.dva.test", "api.example"],
                                    ip_addresses=["127.0.0.1"])))
    assert certs.hostname_matches("API.example", info)
    assert certs.hostname_matches("inlog.dva.test", info)
    assert not certs.hostname_matches("a.b.dva.test", info)  # one label only
    assert not certs.hostname_matches("dva.test", info)
    assert certs.hostname_matches("127.0.0.1", info)
    assert not certs.hostname_matches("127.0.0.2", info)
    assert not certs.hostname_matches("cn-only.test", info)
