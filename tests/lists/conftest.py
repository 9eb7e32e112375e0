"""Fixtures for the list tests: data paths and a small local HTTPS server (127.0.0.1 only)."""

from __future__ import annotations

import http.server
import ssl
import threading
from pathlib import Path
from typing import Iterator

import pytest

from validatiestraat.reference.pki import TestPKI

DATA = Path(__file__).parent / "data"
VALID = DATA / "valid"
INVALID = DATA / "invalid"


class ListServer:
    """Serves path -> (status, content type, body); records every request path."""

    def __init__(self, pki: TestPKI, require_client_cert: bool = False):
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.hits.append(self.path)
                status, ctype, body = server.routes.get(self.path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(pki.server.cert_path), str(pki.server.key_path))
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=str(pki.ca_path))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class PlainServer:
    """A plain HTTP server on 127.0.0.1 that only counts hits (to prove nothing is fetched)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.hits.append(self.path)
                body = b'<!ENTITY x "fetched">' if self.path.endswith(".dtd") else b"fetched"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI.generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def list_server(pki: TestPKI) -> Iterator[ListServer]:
    server = ListServer(pki)
    yield server
    server.close()


@pytest.fixture
def plain_server() -> Iterator[PlainServer]:
    server = PlainServer()
    yield server
    server.close()
