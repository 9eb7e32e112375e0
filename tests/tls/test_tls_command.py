"""``validatiestraat tls check`` / ``tls ratings``: output, JSON, exit codes, usage errors."""

from __future__ import annotations

import json

import pytest
from tls_helpers import TEST_ISSUER

from validatiestraat import exitcodes
from validatiestraat.cli import main
from validatiestraat.tls.faults import server_context


@pytest.fixture(scope="module")
def ports(hub, pki):
    return {
        "good": hub.serve(server_context(pki)),
        "cbc": hub.serve(server_context(pki, ["tls-cbc-suite"])),
        "front": hub.serve(server_context(pki, client_auth="none"),
                           headers={"Strict-Transport-Security": "max-age=63072000"}),
    }


def _back_args(pki):
    return ["tls", "check", "--channel", "backchannel", "--trust", str(pki.ca_path), "--issuer", TEST_ISSUER,
            "--client-cert", str(pki.client.cert_path), "--client-key", str(pki.client.key_path),
            "--timeout", "2"]


def test_good_backchannel_endpoint_exits_0_with_readable_output(pki, ports, capsys):
    code = main(_back_args(pki) + [f"https://localhost:{ports['good']}/oauth/token"])
    out = capsys.readouterr().out
    assert code == exitcodes.OK, out
    assert "[backchannel]  PASS" in out
    assert "mutual TLS (client certificate required)  [TLS-MTLS-01]" in out
    assert "TLSv1.3 suites (3): TLS_AES_256_GCM_SHA384 [good]" in out
    assert "1 endpoint(s): 1 pass" in out


def test_failing_endpoint_exits_1_and_names_the_suite(pki, ports, capsys):
    code = main(_back_args(pki) + [f"https://localhost:{ports['good']}/", f"https://localhost:{ports['cbc']}/"])
    out = capsys.readouterr().out
    assert code == exitcodes.FINDINGS
    assert "FAIL  TLS 1.2 accepts 1 suite(s) below NCSC 'good': TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" in out
    assert "2 endpoint(s): 1 fail, 1 pass" in out


def test_json_output(pki, ports, capsys):
    code = main(["tls", "check", "--json", "--trust", str(pki.ca_path), "--timeout", "2",
                 f"https://localhost:{ports['front']}/authorize"])
    doc = json.loads(capsys.readouterr().out)
    assert code == exitcodes.OK
    assert doc["summary"] == {"endpoints": 1, "by_status": {"pass": 1}, "ok": True}
    report = doc["reports"][0]
    assert report["channel"] == "frontchannel"
    assert report["topics"]["certificate"]["requirements"] == ["TLS-CERT-02"]
    assert report["topics"]["false_start"]["status"] == "omitted"
    assert "mtls" not in report["topics"]
    assert report["info"]["security_headers"]["Strict-Transport-Security"] == "max-age=63072000"
    assert report["certificate"]["validation_level"] == "OV"
    assert doc["ncsc"]["title"].endswith("versie 2.1")


def test_unreachable_endpoint_is_a_finding_not_a_crash(pki, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["tls", "check", "--timeout", "0.5", f"https://127.0.0.1:{port}/"])
    out = capsys.readouterr().out
    assert code == exitcodes.FINDINGS
    assert "ERROR" in out and "refused" in out


@pytest.mark.parametrize("argv, message", [
    (["tls", "check", "http://example.org/"], "not an https URL"),
    (["tls", "check", "--trust", "/nonexistent/ca.pem", "https://127.0.0.1:1/"], "trust anchor file not found"),
    (["tls", "check", "--client-cert", "/nonexistent.pem", "https://127.0.0.1:1/"], "give both a client certificate"),
    (["tls", "check", "--only", "versions,bogus", "https://127.0.0.1:1/"], "unknown parts: bogus"),
    (["tls", "check", "--client-key-password-env", "VALIDATIESTRAAT_NO_SUCH_VAR", "https://127.0.0.1:1/"],
     "VALIDATIESTRAAT_NO_SUCH_VAR is not set"),
])
def test_usage_errors_exit_4_with_a_located_message(argv, message, capsys):
    assert main(argv) == exitcodes.CONFIG_ERROR
    assert message in capsys.readouterr().err


def test_help_has_examples_and_ratings_print_the_source(capsys):
    assert main(["tls", "check", "--help"]) == exitcodes.OK
    out = capsys.readouterr().out
    assert "examples:" in out and "--channel backchannel" in out
    assert main(["tls", "ratings"]) == exitcodes.OK
    out = capsys.readouterr().out
    assert "versie 2.1" in out and "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in out
    assert main(["tls", "ratings", "--json"]) == exitcodes.OK
    assert "good" in json.loads(capsys.readouterr().out)["suites"]


def test_backchannel_json_is_complete(pki, ports, capsys):
    code = main(_back_args(pki) + ["--json", f"https://localhost:{ports['cbc']}/fhir"])
    doc = json.loads(capsys.readouterr().out)
    assert code == exitcodes.FINDINGS
    report = doc["reports"][0]
    assert report["topics"]["mtls"] == {"title": "mutual TLS (client certificate required)",
                                        "requirements": ["TLS-MTLS-01"], "status": "pass"}
    assert report["mtls"]["tls12_certificate_request"] is True
    assert report["topics"]["ciphers"]["status"] == "fail"
    assert any(f["code"] == "ciphers.below_level" for f in report["findings"])
    assert report["policy"]["allowed_issuers"] == [TEST_ISSUER]
