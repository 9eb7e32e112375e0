"""Servers that drop, stall or answer garbage give an error finding, never a hang; fake servers
show what the local OpenSSL cannot serve (SSLv3, compression, a wrong version choice)."""

from __future__ import annotations

import asyncio
import socket
import time

import tls_fakes
from tls_helpers import codes, make_policy, messages, scan

from validatiestraat.report.model import Status
from validatiestraat.tls.probe import Limiter
from validatiestraat.tls.scan import scan_endpoint


def _quick(pki, **kw):
    return make_policy(pki, "frontchannel", timeout=0.4, total_timeout=5.0, **kw)


def _assert_connect_error(report, fragment):
    assert [f.code for f in report.findings if f.topic == "connect"], report.findings
    assert report.status is Status.ERROR
    assert fragment in messages(report, "connect")
    # every topic a check asks for reports the connection error
    for topic in ("tls12", "ciphers", "certificate", "mtls"):
        assert report.topic_status(topic) is Status.ERROR


def test_stalling_server_times_out_cleanly(hub, pki):
    port = hub.serve(behaviour="stall")
    t0 = time.perf_counter()
    report = scan(f"https://127.0.0.1:{port}/", _quick(pki))
    assert time.perf_counter() - t0 < 2.0
    _assert_connect_error(report, "no answer to the ClientHello within 0.4 s (the server stalls)")


def test_dropping_server(hub, pki):
    port = hub.serve(behaviour="drop")
    report = scan(f"https://127.0.0.1:{port}/", _quick(pki))
    _assert_connect_error(report, "closes every connection without answering the ClientHello")


def test_garbage_and_plain_http(hub, pki):
    for behaviour in ("garbage", "plain_http"):
        port = hub.serve(behaviour=behaviour)
        report = scan(f"https://127.0.0.1:{port}/", _quick(pki))
        _assert_connect_error(report, "the server did not answer with TLS")


def test_closed_port_is_refused_quickly(pki):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    report = scan(f"https://127.0.0.1:{port}/", _quick(pki))
    assert time.perf_counter() - t0 < 1.0
    _assert_connect_error(report, "refused")


def test_total_timeout_gives_partial_results(hub, pki):
    port = hub.serve(behaviour="stall")
    report = scan(f"https://127.0.0.1:{port}/", make_policy(pki, timeout=5.0, total_timeout=0.3))
    assert "scan.timeout" in codes(report, "error")
    assert "did not finish within 0.3 s" in messages(report, "connect")


def test_sslv3_is_detected_with_a_raw_client_hello(hub, pki):
    port = hub.serve(behaviour=tls_fakes.ssl3_and_tls12_server)
    report = scan(f"https://127.0.0.1:{port}/", _quick(pki, parts=frozenset({"versions"})))
    assert report.versions["SSLv3"]["accepted"] is True
    assert "version.sslv3_accepted" in codes(report, "fail")
    assert "SSLv3 is accepted" in messages(report, "legacy_versions")
    assert report.versions["TLSv1.0"]["answer"] == "alert protocol_version"
    assert "version.tls13_missing" in codes(report, "warning")


def test_sslv3_suites_are_enumerated_and_all_insufficient(hub, pki):
    port = hub.serve(behaviour=tls_fakes.ssl3_and_tls12_server)
    report = scan(f"https://127.0.0.1:{port}/", _quick(pki, parts=frozenset({"versions", "ciphers"})))
    ssl3 = report.suites["SSLv3"]
    assert len(ssl3) > 50 and {s["level"] for s in ssl3} == {"insufficient"}
    assert any(s["name"] == "TLS_RSA_WITH_RC4_128_MD5" for s in ssl3)  # not offerable by the local OpenSSL
    assert "SSLv3 accepts" in messages(report, "ciphers")


def test_server_not_negotiating_the_highest_version(hub, pki):
    port = hub.serve(behaviour=tls_fakes.not_highest_server)
    report = scan(f"https://127.0.0.1:{port}/", _quick(pki, parts=frozenset({"versions", "ciphers"})))
    assert report.versions["TLSv1.3"]["accepted"] is True
    assert codes(report, "fail") == {"version.not_highest"}
    assert ("TLS 1.3 is supported, but a client offering TLS 1.2 and 1.3 got TLS 1.2 (core.tls.304)"
            in messages(report, "highest_version"))
    # HelloRetryRequest-based group enumeration
    assert [g["name"] for g in report.groups["TLSv1.3"]] == ["x25519", "secp256r1"]


def test_tls_compression_is_reported_as_information(hub, pki):
    port = hub.serve(behaviour=tls_fakes.compression_server)
    report = scan(f"https://127.0.0.1:{port}/", _quick(pki, parts=frozenset({"info"})))
    assert report.info["compression"] == "DEFLATE"
    assert "TLS compression is ENABLED" in messages(report, "info")
    assert report.topic_status("info") is Status.PASS  # information, not a MedMij failure


def test_server_selecting_an_unoffered_suite_is_an_error(hub, pki):
    port = hub.serve(behaviour=tls_fakes.wrong_suite_server)
    report = scan(f"https://127.0.0.1:{port}/", _quick(pki, parts=frozenset({"versions", "ciphers"})))
    assert "ciphers.enumeration_error" in codes(report, "error")
    assert "selected unknown suite 0xFEFE, which the client did not offer" in messages(report, "ciphers")


def test_connections_per_server_are_bounded(hub, pki):
    from validatiestraat.tls import probe

    peak = 0
    active = 0
    original = probe.Limiter.slot

    class Watching(Limiter):
        def slot(self, host, port):
            cm = original(self, host, port)

            class Wrap:
                async def __aenter__(self_inner):
                    nonlocal peak, active
                    await cm.__aenter__()
                    active += 1
                    peak = max(peak, active)

                async def __aexit__(self_inner, *exc):
                    nonlocal active
                    active -= 1
                    return await cm.__aexit__(*exc)

            return Wrap()

    from validatiestraat.tls.faults import server_context

    port = hub.serve(server_context(pki))
    limiter = Watching(per_server=2)
    report = asyncio.run(scan_endpoint(f"https://localhost:{port}/", make_policy(pki), limiter=limiter))
    assert report.status is Status.PASS
    assert 1 <= peak <= 2
    assert report.connections > 10


def test_total_timeout_cancels_background_probes(hub, pki, monkeypatch):
    # the raw probes answer at once, the stdlib handshakes hang: the deadline must still hold and
    # no handshake may outlive the scan
    from validatiestraat.tls import scan as scan_module
    from validatiestraat.tls.faults import server_context

    cancelled = []

    async def hanging_probe(*args, **kwargs):
        try:
            await asyncio.sleep(30)
        finally:
            cancelled.append(True)

    monkeypatch.setattr(scan_module, "ssl_probe", hanging_probe)
    port = hub.serve(server_context(pki))
    t0 = time.perf_counter()
    report = scan(f"https://localhost:{port}/", make_policy(pki, timeout=5.0, total_timeout=0.5))
    assert time.perf_counter() - t0 < 1.5
    assert "scan.timeout" in codes(report, "error")
    assert len(cancelled) >= 3  # main, verify, no-cert, untrusted handshakes were all stopped
    assert report.versions["TLSv1.3"]["accepted"] is True  # partial facts are still judged
