"""A hostile or broken server gives an error finding with evidence, never a hang."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest

from validatiestraat.engine import context as context_module
from validatiestraat.engine.runner import Runner
from validatiestraat.report.model import Status
from validatiestraat.scenario.loader import load_scenarios
from validatiestraat.target import target_from_dict


class Hostile:
    """A plain-TCP server that misbehaves in one of several ways (no TLS: the https target is
    pointed at it, so the TLS handshake itself meets garbage or silence)."""

    def __init__(self, mode: str):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        conns = []
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conns.append(conn)
            if self.mode == "garbage":
                conn.sendall(b"\x00\xffthis is not TLS\r\n" * 50)
                conn.close()
            elif self.mode == "drop":
                conn.close()
            # "stall": keep the connection open and say nothing
        for c in conns:
            c.close()
        self.sock.close()


SCENARIO = """id: hostile
title: hostile
role: dva
steps:
  - name: search
    kind: fhir.search
    resource: Patient
    token: abc
    expect:
      - status: 200
        requirements: [RS-FHIR-01]
"""


@pytest.mark.parametrize("mode", ["stall", "garbage", "drop"])
def test_hostile_server_gives_an_error_not_a_hang(tmp_path, mode):
    server = Hostile(mode)
    try:
        (tmp_path / "s.yaml").write_text(SCENARIO)
        scenarios = load_scenarios([tmp_path / "s.yaml"])
        url = f"https://localhost:{server.port}"
        target = target_from_dict({
            "aanbieder": "x", "endpoints": {"authorization": url + "/a", "token": url + "/t", "resource": url + "/fhir"},
            "client": {"client_id": "pgo.test", "redirect_uri": "https://pgo.test/cb"},
            "timeouts": {"connect": 1, "read": 1},
        }, tmp_path)
        t0 = time.perf_counter()
        result = asyncio.run(Runner(target, scenarios).run())
        elapsed = time.perf_counter() - t0
    finally:
        server.stop.set()
    (check,) = result.checks
    assert check.status is Status.ERROR
    assert check.evidence and result.exchanges[0].error
    assert elapsed < 10


def test_oversized_response_is_not_read(monkeypatch):
    monkeypatch.setattr(context_module, "MAX_RESPONSE", 1000)
    import httpx

    async def go():
        def handler(request):
            return httpx.Response(200, content=b"x" * 5000)

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            request = client.build_request("GET", "https://dva.test/")
            streamed = await client.send(request, stream=True)
            with pytest.raises(ValueError, match="larger than"):
                await context_module._bounded(streamed, request)

    asyncio.run(go())
