"""Helpers for the TLS tests (imported as ``tls_helpers``)."""

from __future__ import annotations

import asyncio

from validatiestraat.reference.pki import TestPKI
from validatiestraat.tls.policy import TlsPolicy
from validatiestraat.tls.report import TlsReport
from validatiestraat.tls.scan import scan_endpoint

TEST_ISSUER = "validatiestraat Test Root CA"


def make_policy(pki: TestPKI, channel: str = "backchannel", **kw) -> TlsPolicy:
    base = dict(
        channel=channel,
        trust=[pki.ca_path],
        issuing_cas=[TEST_ISSUER],
        client_cert=pki.client.cert_path,
        client_key=pki.client.key_path,
        untrusted_cert=pki.untrusted_client.cert_path,
        untrusted_key=pki.untrusted_client.key_path,
        timeout=2.0,
        total_timeout=20.0,
    )
    base.update(kw)
    return TlsPolicy(**base)


def scan(url: str, policy: TlsPolicy) -> TlsReport:
    return asyncio.run(scan_endpoint(url, policy))


def codes(report: TlsReport, *statuses: str) -> set[str]:
    return {f.code for f in report.findings if not statuses or f.status.value in statuses}


def messages(report: TlsReport, topic: str) -> str:
    return " | ".join(f.message for f in report.topic_findings(topic))


class ThreadedTLSServer:
    """A blocking, thread-per-connection TLS server (like http.server): it rejects a missing or
    untrusted client certificate right after the client considers a TLS 1.3 handshake done."""

    def __init__(self, ctx, status: int = 200):
        import socket
        import threading

        self.ctx, self.status = ctx, status
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn) -> None:
        conn.settimeout(5)
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                data += chunk
            tls.sendall(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            tls.close()
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
