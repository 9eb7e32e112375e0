"""Loopback TLS servers with deliberately good and bad configurations: every check passes on the
good one and fails, with the right message, on each bad one."""

from __future__ import annotations

import time

import pytest
from tls_helpers import TEST_ISSUER, codes, make_policy, messages, scan

from validatiestraat.report.model import Status
from validatiestraat.tls.faults import TLS_FAULTS, server_context
from validatiestraat.tls.loopback import server_context as plain_server_context

ALL_TOPICS = {"tls12", "tls13", "legacy_versions", "highest_version", "ciphers", "false_start", "certificate",
              "hostname", "info"}


@pytest.fixture(scope="module")
def good_port(hub, pki):
    return hub.serve(server_context(pki), headers={"Strict-Transport-Security": "max-age=31536000",
                                                   "X-Content-Type-Options": "nosniff"})


@pytest.mark.parametrize("channel", ["frontchannel", "backchannel"])
def test_good_server_passes_every_check_within_two_seconds(pki, good_port, channel):
    t0 = time.perf_counter()
    report = scan(f"https://localhost:{good_port}/oauth/token", make_policy(pki, channel))
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, f"a full check of one endpoint took {elapsed:.2f} s"
    expected = ALL_TOPICS | ({"mtls"} if channel == "backchannel" else set())
    assert set(report.topics) == expected
    bad = [(f.topic, f.code, f.message) for f in report.findings if f.status not in (Status.PASS, Status.OMITTED)]
    assert bad == []
    assert report.status is Status.PASS
    assert report.topic_status("false_start") is Status.OMITTED
    assert {s["level"] for lst in report.suites.values() for s in lst} == {"good"}
    assert [s["name"] for s in report.suites["TLSv1.3"]] == [
        "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]
    assert report.groups["TLSv1.3"] == [{"name": "secp256r1", "level": "good"}]
    assert report.versions["SSLv3"]["accepted"] is False
    assert report.negotiated["stdlib_client"]["version"] == "TLSv1.3"
    assert "chains to" in messages(report, "certificate")
    if channel == "frontchannel":
        assert "HSTS: max-age=31536000" in messages(report, "info")
        assert "X-Content-Type-Options" in messages(report, "info")
    else:
        assert codes(report, "pass") >= {"mtls.no_cert_refused", "mtls.untrusted_cert_refused"}


# fault -> channels it is visible on, [(topic, code, status, message fragment)]
FAULT_EXPECTATIONS = {
    "tls-allow-tls10": (("frontchannel", "backchannel"), [
        ("legacy_versions", "version.tlsv10_accepted", "fail", "TLS 1.0 is accepted"),
        ("legacy_versions", "version.tlsv11_accepted", "fail", "TLS 1.1 is accepted"),
        ("ciphers", "ciphers.below_level", "fail", "CBC mode"),
    ]),
    "tls-no-tls13": (("frontchannel",), [
        ("tls13", "version.tls13_missing", "warning", "TLS 1.3 is not offered"),
    ]),
    "tls-only-tls13": (("backchannel",), [
        ("tls12", "version.tls12_missing", "fail", "TLS 1.2 is not offered"),
    ]),
    "tls-cbc-suite": (("backchannel",), [
        ("ciphers", "ciphers.below_level", "fail", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA (sufficient (voldoende): CBC mode)"),
    ]),
    "tls-no-forward-secrecy": (("backchannel",), [
        ("ciphers", "ciphers.below_level", "fail", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
        ("ciphers", "ciphers.no_forward_secrecy", "fail",
         "suites without forward secrecy are accepted: TLS_RSA_WITH_AES_128_GCM_SHA256 (TLS 1.2)"),
    ]),
    "tls-expired-certificate": (("frontchannel", "backchannel"), [
        ("certificate", "cert.expired", "fail", "the certificate expired on"),
    ]),
    "tls-wrong-host-certificate": (("frontchannel", "backchannel"), [
        ("hostname", "cert.wrong_host", "fail",
         "wrong host: the certificate is for wrong-host.validatiestraat.invalid, not for localhost"),
    ]),
    "tls-self-signed-certificate": (("frontchannel", "backchannel"), [
        ("certificate", "cert.self_signed", "fail", "the certificate is self-signed"),
    ]),
    "tls-weak-key": (("frontchannel", "backchannel"), [
        ("certificate", "cert.weak_key", "fail", "weak key: RSA 1024 bits"),
    ]),
    "tls-wildcard-certificate": (("frontchannel",), [
        ("certificate", "cert.wildcard", "fail", "wildcard certificate (*.validatiestraat.test)"),
    ]),
    "tls-dv-certificate": (("frontchannel",), [
        ("certificate", "cert.validation_level", "fail", "DV certificate (domain validated)"),
    ]),
    "tls-no-client-auth": (("backchannel",), [
        ("mtls", "mtls.no_cert_accepted", "fail", "a client without a client certificate is served: HTTP 200"),
        ("mtls", "mtls.untrusted_cert_accepted", "fail", "a client with a certificate from an untrusted CA is served"),
        ("mtls", "mtls.no_certificate_request", "fail", "does not request a client certificate"),
    ]),
}


def test_every_fault_has_an_expectation():
    assert set(FAULT_EXPECTATIONS) == set(TLS_FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULT_EXPECTATIONS))
def test_each_bad_configuration_fails_exactly_its_checks(hub, pki, fault):
    channels, expected = FAULT_EXPECTATIONS[fault]
    port = hub.serve(server_context(pki, [fault]))
    for channel in channels:
        report = scan(f"https://localhost:{port}/fhir", make_policy(pki, channel))
        not_passed = {(f.topic, f.code, f.status.value) for f in report.findings
                      if f.status not in (Status.PASS, Status.OMITTED)}
        assert not_passed == {(t, c, s) for t, c, s, _ in expected}, (channel, [f.message for f in report.findings])
        for topic, code, _status, fragment in expected:
            message = next(f.message for f in report.findings if f.code == code)
            assert fragment in message, (code, message)


def test_fault_breaks_name_the_requirements_of_the_failing_topics():
    from validatiestraat.tls.report import requirements_for

    for fault, (channels, expected) in FAULT_EXPECTATIONS.items():
        reqs = {r for ch in channels for t, _c, s, _m in expected for r in requirements_for(t, ch)}
        assert reqs <= set(TLS_FAULTS[fault].breaks), fault


def test_backchannel_issuer_trust_and_missing_anchor(pki, good_port, tmp_path):
    url = f"https://localhost:{good_port}/token"
    report = scan(url, make_policy(pki, parts=frozenset({"certificate"}),
                                   issuing_cas=["KPN PKIoverheid Private Services CA - G1"]))
    assert codes(report, "fail") == {"cert.issuer_not_allowed"}
    assert f"issued by '{TEST_ISSUER}', not by one of the allowed issuing CAs" in messages(report, "certificate")
    # default list: the four PKIoverheid Private Services G1 CAs
    report = scan(url, make_policy(pki, parts=frozenset({"certificate"}), issuing_cas=None))
    assert "Digidentity BV PKIoverheid Private Services CA - G1" in messages(report, "certificate")
    # another trust anchor
    from validatiestraat.reference.pki import make_ca

    other = make_ca("Some Other Root").write(tmp_path, "other")
    report = scan(url, make_policy(pki, parts=frozenset({"certificate"}), trust=[other.cert_path]))
    assert codes(report, "fail") == {"cert.untrusted"}
    assert "does not chain to the configured trust anchors (other.pem)" in messages(report, "certificate")
    # no anchor at all on the backchannel
    report = scan(url, make_policy(pki, parts=frozenset({"certificate"}), trust=[]))
    assert codes(report, "error") == {"cert.no_trust_anchor"}
    assert "Staat der Nederlanden Private Root CA - G1" in messages(report, "certificate")


def test_certificate_without_validation_policy_is_a_frontchannel_warning(hub, pki, tmp_path):
    from validatiestraat.reference.pki import issue

    leaf = issue(pki.ca, "localhost", dns_names=["localhost"]).write(tmp_path, "nopolicy", chain=[pki.ca])
    port = hub.serve(plain_server_context(str(leaf.cert_path), str(leaf.key_path), ciphers="ECDHE+AESGCM"))
    report = scan(f"https://localhost:{port}/", make_policy(pki, "frontchannel", parts=frozenset({"certificate"})))
    assert codes(report, "warning") == {"cert.validation_unknown"}
    assert report.topic_status("certificate") is Status.WARNING


def test_default_openssl_groups_are_reported_and_policy_decides(hub, pki):
    # OpenSSL's default groups include ffdhe2048 (NCSC: phase out) for TLS 1.3
    ctx = plain_server_context(str(pki.server.cert_path), str(pki.server.key_path), ciphers="ECDHE+AESGCM:DHE+AESGCM")
    port = hub.serve(ctx)
    url = f"https://localhost:{port}/"
    report = scan(url, make_policy(pki, "frontchannel", parts=frozenset({"versions", "ciphers"})))
    names = {g["name"] for g in report.groups["TLSv1.3"]}
    assert {"x25519", "secp256r1", "ffdhe2048"} <= names
    assert codes(report, "warning") == {"ciphers.weak_groups"}
    assert ("TLS 1.3: ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192 (sufficient (voldoende)); ffdhe2048 (phase out "
            "(uitfaseren))") in messages(report, "ciphers")
    strict = scan(url, make_policy(pki, "frontchannel", parts=frozenset({"versions", "ciphers"}), group_policy="fail"))
    assert "ciphers.weak_groups" in codes(strict, "fail")
    lenient = scan(url, make_policy(pki, "frontchannel", parts=frozenset({"versions", "ciphers"}),
                                    min_cipher_level="sufficient", group_policy="ignore"))
    assert codes(lenient, "fail", "warning", "error") == set()


def test_http_level_client_certificate_refusal_counts_as_refusal(hub, pki):
    ctx = server_context(pki, client_auth="optional")
    port = hub.serve(ctx, http_client_cert_required=True)
    report = scan(f"https://localhost:{port}/fhir/Patient", make_policy(pki, parts=frozenset({"mtls"})))
    assert codes(report) == {"mtls.no_cert_refused_http", "mtls.untrusted_cert_refused"}
    assert "refused at HTTP level (HTTP 401; with the valid certificate: HTTP 200)" in messages(report, "mtls")
    assert report.topic_status("mtls") is Status.PASS


def test_refused_valid_certificate_is_flagged(hub, pki, tmp_path):
    from validatiestraat.reference.pki import issue, make_ca

    stranger = issue(make_ca("Stranger CA"), "pgo.other", server=False, client=True).write(tmp_path, "stranger")
    port = hub.serve(server_context(pki))
    report = scan(f"https://localhost:{port}/", make_policy(pki, parts=frozenset({"mtls"}),
                                                            client_cert=stranger.cert_path,
                                                            client_key=stranger.key_path))
    assert "mtls.baseline_refused" in codes(report, "warning")


def test_client_certificate_problems_are_usage_errors(pki, good_port, tmp_path):
    from validatiestraat.errors import UserError

    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(UserError, match="cannot load client certificate"):
        scan(f"https://localhost:{good_port}/", make_policy(pki, client_cert=bad, client_key=bad))
    with pytest.raises(UserError) as exc:
        make_policy(pki, trust=[tmp_path / "missing.pem"], min_cipher_level="great").validate("x")
    text = " ".join(p.message for p in exc.value.problems)
    assert "trust anchor file not found" in text and "minimum cipher level" in text


def test_server_context_rejects_two_certificate_faults(pki):
    with pytest.raises(ValueError, match="one certificate fault"):
        server_context(pki, ["tls-weak-key", "tls-expired-certificate"])


def test_faults_compose(hub, pki):
    port = hub.serve(server_context(pki, ["tls-allow-tls10", "tls-cbc-suite", "tls-no-tls13", "tls-weak-key"]))
    report = scan(f"https://localhost:{port}/", make_policy(pki, parts=frozenset({"versions", "ciphers", "certificate"})))
    found = codes(report, "fail", "warning")
    assert {"version.tlsv10_accepted", "version.tls13_missing", "ciphers.below_level", "cert.weak_key"} <= found
    assert any("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" in s["name"] for s in report.suites["TLSv1.2"])




def test_threaded_server_rejecting_right_after_the_handshake(pki):
    # a blocking server (like the reference DVA) sends the TLS 1.3 certificate_required alert after
    # the client's handshake is done; the scanner must treat that as a refusal, not crash
    from tls_helpers import ThreadedTLSServer

    server = ThreadedTLSServer(server_context(pki))
    try:
        for _ in range(5):
            report = scan(f"https://localhost:{server.port}/fhir", make_policy(pki))
            assert codes(report, "error") == set(), [f.message for f in report.findings]
            assert {"mtls.no_cert_refused", "mtls.untrusted_cert_refused"} <= codes(report, "pass")
    finally:
        server.close()


def test_same_401_with_and_without_certificate_is_inconclusive(hub, pki):
    port = hub.serve(server_context(pki, client_auth="optional"), status=401)
    report = scan(f"https://localhost:{port}/fhir", make_policy(pki, parts=frozenset({"mtls"})))
    assert "mtls.no_cert_inconclusive" in codes(report, "warning")
    assert "cannot tell whether the refusal is about the certificate" in messages(report, "mtls")


def test_tls12_mtls_server_without_our_client_certificate(hub, pki):
    port = hub.serve(server_context(pki, ["tls-no-tls13"]))
    report = scan(f"https://localhost:{port}/", make_policy(pki, client_cert=None, client_key=None,
                                                            parts=frozenset({"certificate", "mtls"})))
    # the certificate still comes from the plaintext TLS 1.2 flight
    assert report.certificate and report.certificate["subject_cn"] == "localhost"
    assert "cert.verify_incomplete" in codes(report, "warning")
    assert {"mtls.no_cert_refused", "mtls.untrusted_cert_refused"} <= codes(report, "pass")
    assert any("no positive control" in n for n in report.notes)
