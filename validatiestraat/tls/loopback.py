"""Loopback servers with deliberately good and bad TLS configurations (tests and benchmarks).

A :class:`LoopbackHub` runs one asyncio event loop in a background thread and serves any number
of listeners on 127.0.0.1:

* ``tls``: a TLS server (any ``ssl.SSLContext``) that answers every request with a small HTTP
  response (configurable status and headers; optionally HTTP 401 when no client certificate
  was presented);
* ``drop``: accepts and closes at once;
* ``stall``: accepts and never answers;
* ``garbage``: answers with bytes that are not TLS;
* a callable ``fn(first_bytes) -> bytes``: a fake TLS peer answering the ClientHello with
  hand-made records (to test what the local OpenSSL cannot serve, such as SSLv3).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import warnings
from typing import Callable

Behaviour = str | Callable[[bytes], bytes]


class LoopbackHub:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tls-loopback", daemon=True)
        self._servers: list[asyncio.base_events.Server] = []
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def serve(
        self,
        ctx: ssl.SSLContext | None = None,
        *,
        behaviour: Behaviour = "tls",
        status: int = 200,
        headers: dict[str, str] | None = None,
        http_client_cert_required: bool = False,
    ) -> int:
        """Start a listener; returns its port."""
        if behaviour == "tls" and ctx is None:
            raise ValueError("a tls listener needs an SSLContext")
        fut = asyncio.run_coroutine_threadsafe(
            self._start(ctx, behaviour, status, headers or {}, http_client_cert_required), self._loop
        )
        return fut.result(10)

    async def _start(self, ctx, behaviour, status, headers, cert_required) -> int:
        if behaviour == "tls":
            handler = _http_handler(status, headers, cert_required)
            server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ctx, backlog=512,
                                                ssl_handshake_timeout=10)
        else:
            server = await asyncio.start_server(_raw_handler(behaviour), "127.0.0.1", 0, backlog=512)
        self._servers.append(server)
        return server.sockets[0].getsockname()[1]

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> "LoopbackHub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _http_handler(status: int, headers: dict[str, str], cert_required: bool):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = await asyncio.wait_for(reader.read(4096), 10)
                if not chunk:
                    return
                data += chunk
            code = status
            sslobj = writer.get_extra_info("ssl_object")
            if cert_required and (sslobj is None or not sslobj.getpeercert(binary_form=True)):
                code = 401
            body = b"ok\n" if code < 400 else b"client certificate required\n"
            head = f"HTTP/1.1 {code} {'OK' if code == 200 else 'Error'}\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            head += "Connection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await asyncio.wait_for(writer.drain(), 10)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            writer.transport.abort()

    return handle


def _raw_handler(behaviour: Behaviour):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if behaviour == "drop":
                return
            if behaviour == "stall":
                await asyncio.sleep(3600)
                return
            first = await asyncio.wait_for(reader.read(65536), 10)
            if behaviour == "garbage":
                writer.write(b"\x00\x01garbage, not TLS\r\n" * 4)
            elif behaviour == "plain_http":
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            elif callable(behaviour):
                writer.write(behaviour(first))
            await writer.drain()
            await asyncio.sleep(0.05)
        except (OSError, asyncio.TimeoutError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()

    return handle


def server_context(
    cert: str,
    key: str,
    *,
    minimum: ssl.TLSVersion | None = ssl.TLSVersion.TLSv1_2,
    maximum: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    client_ca: str | None = None,
    client_auth: str = "none",  # none | optional | required
) -> ssl.SSLContext:
    """A server-side context; ``ciphers`` uses OpenSSL syntax (add ``@SECLEVEL=0`` for legacy)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if ciphers:
            ctx.set_ciphers(ciphers)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(cafile=client_ca)
    ctx.verify_mode = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}[client_auth]
    return ctx
