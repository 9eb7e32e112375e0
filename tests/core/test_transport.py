"""engine/transport.py: transport failures explained, against real TLS servers on 127.0.0.1.

Two kinds of server: blocking OpenSSL sockets in threads (like the reference DVA: they send TLS
alerts) and asyncio servers (validatiestraat.tls.loopback: they hang up without an alert, so only a
handshake trace can say why). Every client call has a timeout of a few seconds; every server is
closed and its threads joined at the end of its test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import threading
from pathlib import Path

import httpx
import pytest

from validatiestraat.engine import transport
from validatiestraat.engine.transport import classify, explain, last_handshake, trace_handshakes
from validatiestraat.reference.pki import Issued, issue, make_ca
from validatiestraat.tls.loopback import LoopbackHub, server_context

TIMEOUT = 3.0
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


class Certs:
    def __init__(self, directory: Path):
        self.ca = make_ca().write(directory, "ca")
        self.server = issue(self.ca, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"]).write(
            directory, "server")
        self.client = issue(self.ca, "pgo.test", server=False, client=True).write(directory, "client")
        rogue = make_ca("Untrusted CA")
        self.rogue_client = issue(rogue, "pgo.test", server=False, client=True).write(directory, "rogue-client")
        self.expired_client = issue(self.ca, "pgo.test", server=False, client=True, not_before=LONG_AGO,
                                    not_after=LONG_AGO + dt.timedelta(days=30)).write(directory, "expired-client")
        other_ca = make_ca("Other Root CA")
        self.foreign_server = issue(other_ca, "localhost", dns_names=["localhost"]).write(directory, "foreign")
        self.expired_server = issue(self.ca, "localhost", dns_names=["localhost"], not_before=LONG_AGO,
                                    not_after=LONG_AGO + dt.timedelta(days=30)).write(directory, "expired-server")
        self.wrong_name = issue(self.ca, "elsewhere", dns_names=["elsewhere.example"]).write(directory, "wrong-name")


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("transport-pki"))


def server_ctx(leaf: Issued, certs: Certs, *, client_auth: str = "none", maximum=None, minimum=ssl.TLSVersion.TLSv1_2,
               ciphers: str | None = None) -> ssl.SSLContext:
    return server_context(str(leaf.cert_path), str(leaf.key_path), client_ca=str(certs.ca.cert_path),
                          client_auth=client_auth, maximum=maximum, minimum=minimum, ciphers=ciphers)


class ThreadedServer:
    """A blocking, thread-per-connection server on 127.0.0.1 (OpenSSL sends its TLS alerts).

    behaviour: ``tls`` (handshake, then HTTP 200), ``drop`` (close at once), ``hello-close`` (read
    the ClientHello, then close), ``stall`` (never answer), ``plain`` (answer in plain HTTP)."""

    def __init__(self, behaviour: str = "tls", ctx: ssl.SSLContext | None = None):
        self.behaviour, self.ctx = behaviour, ctx
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.server_errors: list[str] = []
        self._accept = threading.Thread(target=self._loop, daemon=True)
        self._accept.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(TIMEOUT)
        try:
            if self.behaviour == "drop":
                return
            if self.behaviour == "hello-close":
                conn.recv(4096)
                return
            if self.behaviour == "stall":
                self.stop.wait(TIMEOUT * 2)
                return
            if self.behaviour == "plain":
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            assert self.ctx is not None
            tls = self.ctx.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                data += chunk
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            tls.close()
        except (OSError, ssl.SSLError) as exc:
            self.server_errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/fhir/metadata"

    def __enter__(self) -> "ThreadedServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._accept.join(TIMEOUT)
        self.sock.close()
        for t in self.threads:
            t.join(TIMEOUT)
        assert not self._accept.is_alive() and not any(t.is_alive() for t in self.threads)


def fetch(url: str, certs: Certs, *, cert: Issued | None = None, traced: bool = True,
          maximum: ssl.TLSVersion | None = None) -> tuple[BaseException, transport.Handshake | None]:
    """GET with a real httpx.AsyncClient configured like the suite's (TLS 1.2+, the test CA as the
    only trust anchor); returns the exception and the handshake record of that task."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(certs.ca.cert_path))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if maximum:
        ctx.maximum_version = maximum
    if cert:
        ctx.load_cert_chain(str(cert.cert_path), str(cert.key_path))
    if traced:
        assert trace_handshakes(ctx)

    async def go():
        async with httpx.AsyncClient(verify=ctx, timeout=httpx.Timeout(TIMEOUT)) as client:
            try:
                response = await client.get(url)
            except Exception as exc:  # noqa: BLE001 - the point of the test
                return exc, last_handshake("localhost") if traced else None
        raise AssertionError(f"expected a failure, got HTTP {response.status_code}")

    return asyncio.run(asyncio.wait_for(go(), TIMEOUT * 3))


def both(exc: BaseException, url: str, client_certificate: bool, handshake=None) -> tuple[str, str]:
    code = classify(exc, client_certificate=client_certificate, handshake=handshake)
    text = explain(exc, url, client_certificate, handshake=handshake)
    assert code in transport.CODES
    host_port = url.split("/")[2]
    assert text.startswith(f"{host_port}: "), text
    assert type(exc).__name__ in text, text  # the original exception, in short
    return code, text


# --------------------------------------------------------------------------- client certificates

@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_a_demanded_client_certificate_without_one(certs, version):
    ctx = server_ctx(certs.server, certs, client_auth="required", maximum=version)
    with ThreadedServer("tls", ctx) as server:
        exc, handshake = fetch(server.url, certs)
        code, text = both(exc, server.url, False, handshake)
        assert code == "client_certificate_required", text
        assert "demanded a client certificate" in text and transport.FRONTCHANNEL_NOTE in text
        assert handshake is not None and handshake.certificate_request and handshake.certificate_sent is False
        # classify(exc) alone, as the brief has it: TLS 1.3's alert is unambiguous
        if version is ssl.TLSVersion.TLSv1_3:
            assert classify(exc) in ("client_certificate_required", "connection_reset")
        # with a certificate configured but none accepted by the server's request: still "required", no frontchannel note
        code, text = both(exc, server.url, True, handshake)
        assert code == "client_certificate_required" and transport.FRONTCHANNEL_NOTE not in text


def test_tls12_handshake_failure_without_a_trace_names_both_causes(certs):
    """TLS 1.2 ends a missing client certificate with alert handshake_failure, the same alert as for
    no common cipher suite: without a handshake trace the two cannot be told apart, and the text says so."""
    ctx = server_ctx(certs.server, certs, client_auth="required", maximum=ssl.TLSVersion.TLSv1_2)
    with ThreadedServer("tls", ctx) as server:
        exc, _ = fetch(server.url, certs, traced=False)
        code, text = both(exc, server.url, False)
        assert code == "handshake_failure", text
        assert "client certificate" in text and "cipher suite" in text and transport.FRONTCHANNEL_NOTE in text
        assert classify(exc) == "handshake_failure"


def test_tls13_without_a_trace_still_points_at_the_client_certificate(certs):
    """TLS 1.3: the alert comes on the first read after the handshake; sometimes the server's reset
    overtakes it (a bare ReadError('') <- ConnectionResetError). Either way the text mentions it."""
    ctx = server_ctx(certs.server, certs, client_auth="required", maximum=ssl.TLSVersion.TLSv1_3)
    with ThreadedServer("tls", ctx) as server:
        seen = set()
        for _ in range(5):
            exc, _ = fetch(server.url, certs, traced=False)
            code, text = both(exc, server.url, False)
            assert code in ("client_certificate_required", "connection_reset"), text
            assert "client certificate" in text and transport.FRONTCHANNEL_NOTE in text
            seen.add(code)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
@pytest.mark.parametrize("which,words", [("rogue_client", "does not trust the certificate's issuer"),
                                         ("expired_client", "expired")])
def test_a_refused_client_certificate(certs, version, which, words):
    ctx = server_ctx(certs.server, certs, client_auth="required", maximum=version)
    with ThreadedServer("tls", ctx) as server:
        exc, handshake = fetch(server.url, certs, cert=getattr(certs, which))
        code, text = both(exc, server.url, True, handshake)
        assert code == "client_certificate_refused", text
        assert handshake is not None and handshake.certificate_sent is True
        if handshake.alerts_received:
            assert words in text
            assert classify(exc) == "client_certificate_refused"  # the alert alone says it (unknown_ca, certificate_expired)
        else:  # TLS 1.3: the server's reset overtook its alert (ReadError('') <- ConnectionResetError)
            assert version is ssl.TLSVersion.TLSv1_3 and "probably refused" in text and "inferred" in text


def test_the_accepted_client_certificate_works(certs):
    """Control: the same server with the right client certificate answers (the trace does not get in the way)."""
    ctx = server_ctx(certs.server, certs, client_auth="required")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile=str(certs.ca.cert_path))
    client.load_cert_chain(str(certs.client.cert_path), str(certs.client.key_path))
    trace_handshakes(client)
    trace_handshakes(client)  # twice: idempotent

    async def go():
        async with httpx.AsyncClient(verify=client, timeout=TIMEOUT) as c:
            response = await c.get(server.url)
            return response.status_code, last_handshake("localhost")

    with ThreadedServer("tls", ctx) as server:
        status, handshake = asyncio.run(asyncio.wait_for(go(), TIMEOUT * 3))
    assert status == 200
    assert handshake.certificate_request and handshake.certificate_sent is True and not handshake.alerts_received


# --------------------------------------------------------------------------- asyncio servers: no alert

@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_a_server_that_hangs_up_instead_of_alerting(certs, version):
    """asyncio's TLS server drops the connection without an alert. With the trace (CertificateRequest,
    empty Certificate, hang-up) the reason is still 'client certificate required', marked inferred;
    without it, a reset/close with a hint."""
    hub = LoopbackHub()
    try:
        port = hub.serve(server_ctx(certs.server, certs, client_auth="required", maximum=version))
        url = f"https://localhost:{port}/oauth/authorize"
        exc, handshake = fetch(url, certs)
        code, text = both(exc, url, False, handshake)
        assert code == "client_certificate_required" and "inferred" in text, text
        exc, _ = fetch(url, certs, traced=False)
        code, text = both(exc, url, False)
        assert code in ("connection_reset", "connection_closed"), text
        if version is ssl.TLSVersion.TLSv1_3:
            assert "client certificate" in text  # the hint: closed after the handshake
        exc, handshake = fetch(url, certs, cert=certs.rogue_client)
        code, text = both(exc, url, True, handshake)
        assert code == "client_certificate_refused" and "probably" in text, text
    finally:
        hub.close()


# --------------------------------------------------------------------------- the server's certificate

@pytest.mark.parametrize("which,words", [
    ("foreign_server", "unknown issuer"),
    ("expired_server", "expired"),
    ("wrong_name", "hostname mismatch"),
])
def test_an_invalid_server_certificate(certs, which, words):
    with ThreadedServer("tls", server_ctx(getattr(certs, which), certs)) as server:
        exc, handshake = fetch(server.url, certs)
        code, text = both(exc, server.url, True, handshake)
        assert code == "server_certificate_invalid" and words in text, text
        assert classify(exc) == "server_certificate_invalid"


def test_a_self_signed_server_certificate(certs, tmp_path):
    ca = make_ca("localhost")  # a self-signed certificate that is its own issuer
    ca.write(tmp_path, "self")
    with ThreadedServer("tls", server_context(str(ca.cert_path), str(ca.key_path))) as server:
        exc, _ = fetch(server.url, certs)
        code, text = both(exc, server.url, False)
        assert code == "server_certificate_invalid" and "self-signed" in text, text


# --------------------------------------------------------------------------- protocol, connection

def test_no_common_protocol_version(certs):
    ctx = server_ctx(certs.server, certs, minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1_1,
                     ciphers="DEFAULT@SECLEVEL=0")
    with ThreadedServer("tls", ctx) as server:
        exc, handshake = fetch(server.url, certs)
        code, text = both(exc, server.url, False, handshake)
        assert code == "protocol_mismatch" and "TLS 1.2" in text and "protocol version" in text, text


def test_no_common_cipher_suite(certs):
    ctx = server_ctx(certs.server, certs, maximum=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA")
    with ThreadedServer("tls", ctx) as server:
        exc, handshake = fetch(server.url, certs)
        code, text = both(exc, server.url, False, handshake)
        assert code == "protocol_mismatch" and "cipher suite" in text and "TLS 1.2" in text, text
        assert handshake is not None and not handshake.server_hello
        exc, _ = fetch(server.url, certs, traced=False)
        assert classify(exc, client_certificate=False) == "handshake_failure"


@pytest.mark.parametrize("behaviour", ["drop", "hello-close"])
def test_a_server_that_closes_during_the_handshake(certs, behaviour):
    with ThreadedServer(behaviour) as server:
        exc, handshake = fetch(server.url, certs)
        code, text = both(exc, server.url, False, handshake)
        assert code == "connection_reset", text
        assert "during the TLS handshake" in text or "reset the connection" in text
        exc, _ = fetch(server.url, certs, traced=False)
        assert classify(exc) == "connection_reset"


def test_a_refused_port(certs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"https://127.0.0.1:{port}/oauth/token"
    exc, handshake = fetch(url, certs)
    code, text = both(exc, url, True, handshake)
    assert code == "connection_refused" and f"127.0.0.1:{port}" in text and "nothing listens" in text, text


def test_a_stalled_handshake_times_out(certs):
    with ThreadedServer("stall") as server:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=str(certs.ca.cert_path))

        async def go():
            async with httpx.AsyncClient(verify=ctx, timeout=httpx.Timeout(0.5)) as client:
                try:
                    await client.get(server.url)
                except Exception as exc:  # noqa: BLE001
                    return exc
            raise AssertionError("expected a timeout")

        exc = asyncio.run(asyncio.wait_for(go(), TIMEOUT))
        code, text = both(exc, server.url, False)
    assert code == "timeout" and "TLS handshake did not complete" in text, text


def test_plain_http_on_the_port(certs):
    with ThreadedServer("plain") as server:
        exc, handshake = fetch(server.url, certs)
        code, text = both(exc, server.url, False, handshake)
    assert code == "not_tls", text


# --------------------------------------------------------------------------- chains without a server

def _wrapped(outer: BaseException, *inner: BaseException) -> BaseException:
    """outer <- inner[0] <- inner[1] ... as __cause__ links (how httpx/httpcore raise)."""
    current = outer
    for e in inner:
        current.__cause__ = e
        current = e
    return outer


def test_a_bare_read_error_with_the_alert_underneath():
    exc = _wrapped(httpx.ReadError(""), ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert "
                                                        "certificate required (_ssl.c:2580)"))
    assert classify(exc) == "client_certificate_required"
    text = explain(exc, "https://api.dva.example/fhir/Patient?x=1", client_certificate=False)
    assert text.startswith("api.dva.example:443: the server demanded a client certificate")
    assert transport.FRONTCHANNEL_NOTE in text and "ReadError" in text and "SSLError" in text


def test_only_the_text_survived():
    exc = httpx.ConnectError("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:1006)")
    assert classify(exc) == "client_certificate_refused"
    exc = httpx.ConnectError("tlsv13 alert certificate required")
    assert classify(exc) == "client_certificate_required"


def test_dns():
    exc = _wrapped(httpx.ConnectError("[Errno -2] Name or service not known"),
                   socket.gaierror(-2, "Name or service not known"))
    assert classify(exc) == "dns"
    assert explain(exc, "https://dva.invalid:8443/x", True).startswith("dva.invalid:8443: the host name could not")


def test_other_and_read_timeouts():
    assert classify(httpx.ReadTimeout("")) == "timeout"
    assert "read timeout" in explain(httpx.ReadTimeout(""), "https://h/", True)
    assert classify(ValueError("the response body is larger than 64 MiB; not read")) == "other"
    assert classify(httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'.")) == "other"


def test_last_handshake_is_per_host_and_resettable(certs):
    ctx = server_ctx(certs.server, certs, client_auth="required")
    with ThreadedServer("tls", ctx) as server:
        _, handshake = fetch(server.url, certs)
    assert handshake is not None and handshake.host == "localhost"

    async def in_a_task():
        ctx2 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        trace_handshakes(ctx2)
        assert last_handshake() is None  # a fresh task/run sees nothing
        transport.reset_handshake()
        return last_handshake("localhost")

    assert asyncio.run(in_a_task()) is None
