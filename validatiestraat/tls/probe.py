"""The network layer of the TLS scanner: bounded, time-limited connections.

Two kinds of probe:

* :func:`raw_probe` sends one hand-made ClientHello (:mod:`validatiestraat.tls.wire`) and reads
  the server's first flight. It does not depend on what the local OpenSSL can negotiate.
* :func:`ssl_probe` makes a real handshake with the stdlib ``ssl`` module (certificate
  verification, client certificates, session resumption, one HTTP request).

Every connection goes through a :class:`Limiter` (a bounded number of connections per server and
overall) and every network operation has a timeout. Network trouble never raises out of
:func:`ssl_probe`; :func:`raw_probe` raises :class:`ProbeError` with a plain-language message.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ssl
import weakref
from dataclasses import dataclass, field
from typing import AsyncIterator

from validatiestraat.tls import wire

DEFAULT_PER_SERVER = 6
DEFAULT_TOTAL = 256


class ProbeError(Exception):
    """A probe could not get an answer. ``kind``: refused, timeout, network, garbage."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Limiter:
    """At most ``per_server`` concurrent connections to one host:port, ``total`` overall."""

    def __init__(self, per_server: int = DEFAULT_PER_SERVER, total: int = DEFAULT_TOTAL):
        self.per_server = max(1, per_server)
        self._total = asyncio.Semaphore(max(1, total))
        self._servers: dict[tuple[str, int], asyncio.Semaphore] = {}
        self.connections = 0  # how many connections were made (for reports and benchmarks)

    @contextlib.asynccontextmanager
    async def slot(self, host: str, port: int) -> AsyncIterator[None]:
        sem = self._servers.setdefault((host.lower(), port), asyncio.Semaphore(self.per_server))
        async with self._total, sem:
            self.connections += 1
            yield


_shared: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Limiter]]" = weakref.WeakKeyDictionary()


def shared_limiter(per_server: int = DEFAULT_PER_SERVER) -> Limiter:
    """One limiter per event loop (and per-server bound), shared by all scans running in it."""
    loop = asyncio.get_running_loop()
    by_bound = _shared.setdefault(loop, {})
    if per_server not in by_bound:
        by_bound[per_server] = Limiter(per_server)
    return by_bound[per_server]


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the server"
    text = str(exc) or type(exc).__name__
    return text


async def _open(host: str, port: int, timeout: float, **kwargs) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port, **kwargs), timeout)
    except asyncio.TimeoutError:
        raise ProbeError("timeout", f"no TCP connection to {host}:{port} within {timeout:g} s") from None
    except ConnectionRefusedError:
        raise ProbeError("refused", f"connection to {host}:{port} refused") from None
    except OSError as exc:
        if isinstance(exc, ssl.SSLError):
            raise
        if kwargs.get("ssl") is not None and isinstance(exc, (ConnectionResetError, BrokenPipeError,
                                                               ConnectionAbortedError)):
            raise  # the TCP connection was up: this is the server ending the TLS handshake
        raise ProbeError("network", f"cannot connect to {host}:{port}: {_describe_os_error(exc)}") from None


async def raw_probe(
    host: str,
    port: int,
    hello: bytes,
    *,
    full: bool = False,
    timeout: float = 5.0,
    limiter: Limiter,
) -> wire.ServerFlight:
    """Send one ClientHello and parse the answer (ServerHello, alert or close)."""
    loop = asyncio.get_running_loop()
    async with limiter.slot(host, port):
        reader, writer = await _open(host, port, timeout)
        reader_state = wire.FlightReader(full)
        received = b""
        try:
            try:
                writer.write(hello)
                await asyncio.wait_for(writer.drain(), timeout)
            except (ConnectionResetError, BrokenPipeError):
                return reader_state.eof()
            deadline = loop.time() + timeout
            while True:
                remaining = deadline - loop.time()
                try:
                    if remaining <= 0:
                        raise asyncio.TimeoutError
                    data = await asyncio.wait_for(reader.read(65536), remaining)
                except asyncio.TimeoutError:
                    if reader_state.flight.hello is not None:
                        return reader_state.flight  # the rest of the flight did not come; the hello is enough
                    raise ProbeError(
                        "timeout",
                        f"no answer to the ClientHello within {timeout:g} s"
                        + (f" (received {len(received)} bytes)" if received else "")
                        + " (the server stalls)",
                    ) from None
                except (ConnectionResetError, BrokenPipeError):
                    return reader_state.eof()
                if not data:
                    return reader_state.eof()
                received += data
                if reader_state.feed(data):
                    return reader_state.flight
        except wire.ProtocolError as exc:
            raise ProbeError("garbage", f"{exc}; first bytes: {received[:24]!r}") from None
        finally:
            writer.transport.abort()


# -- stdlib handshakes --------------------------------------------------------------------------


#: the session the next connection of the current task should resume (asyncio has no ``session=``)
RESUME_SESSION: contextvars.ContextVar[ssl.SSLSession | None] = contextvars.ContextVar("resume_session", default=None)


class ClientContext(ssl.SSLContext):
    """An SSLContext that resumes :data:`RESUME_SESSION` (set in the calling task) through asyncio.

    A context can be shared by concurrent connections: the session is per task, not per context.
    """

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):  # type: ignore[override]
        return super().wrap_bio(
            incoming, outgoing, server_side=server_side, server_hostname=server_hostname,
            session=session or RESUME_SESSION.get(),
        )


@dataclass
class HttpAnswer:
    status: int
    reason: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Handshake:
    """The result of one stdlib handshake (and optional HTTP request)."""

    ok: bool = False  # the handshake completed (from the client's point of view)
    version: str | None = None
    cipher: str | None = None
    peer_der: bytes | None = None
    session: ssl.SSLSession | None = None
    session_reused: bool = False
    http: HttpAnswer | None = None
    #: where it ended, if not ok or the request failed: connect, handshake, request
    failed_at: str | None = None
    error_kind: str | None = None  # refused, timeout, network, tls_alert, verify, closed, garbage
    error: str | None = None
    verify_code: int | None = None
    verify_message: str | None = None
    compression: str | None = None
    raw_response: bytes = field(default=b"", repr=False)

    @property
    def refused_by_peer(self) -> bool:
        """The server ended the connection with a TLS alert, a reset or a close (not a timeout)."""
        return self.error_kind in ("tls_alert", "closed", "reset")


def _ssl_error_text(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None)
        if reason:
            return reason.lower().replace("_", " ")
    return str(exc) or type(exc).__name__


def _parse_http_head(data: bytes) -> HttpAnswer | None:
    head = data.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1", "replace")
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return None
    headers = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return HttpAnswer(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


async def ssl_probe(
    host: str,
    port: int,
    ctx: ssl.SSLContext,
    *,
    server_hostname: str | None,
    timeout: float,
    limiter: Limiter,
    request: bytes | None = None,
    keep_session: bool = False,
    resume: ssl.SSLSession | None = None,
) -> Handshake:
    """One real handshake with ``ctx``; optionally send ``request`` and read the response head.

    ``resume``: a session (from an earlier handshake with the same ``ctx``) to resume;
    ``keep_session``: return the session of this handshake for a later resumption.
    """
    result = Handshake()
    loop = asyncio.get_running_loop()
    async with limiter.slot(host, port):
        token = RESUME_SESSION.set(resume)
        try:
            reader, writer = await _open(
                host, port, timeout + 0.5, ssl=ctx, server_hostname=server_hostname or None,
                ssl_handshake_timeout=timeout,
            )
        except ProbeError as exc:
            result.failed_at, result.error_kind, result.error = "connect", exc.kind, str(exc)
            return result
        except ssl.SSLCertVerificationError as exc:
            result.failed_at, result.error_kind = "handshake", "verify"
            result.verify_code, result.verify_message = exc.verify_code, exc.verify_message
            result.error = f"certificate verification failed: {exc.verify_message}"
            return result
        except ssl.SSLError as exc:
            result.failed_at, result.error_kind = "handshake", "tls_alert"
            result.error = f"TLS handshake failed: {_ssl_error_text(exc)}"
            return result
        except ConnectionAbortedError as exc:  # asyncio's handshake timeout
            result.failed_at, result.error_kind = "handshake", "timeout"
            result.error = f"TLS handshake did not finish within {timeout:g} s ({exc})"
            return result
        except (ConnectionResetError, BrokenPipeError, EOFError):
            result.failed_at, result.error_kind = "handshake", "reset"
            result.error = "the server closed the connection during the TLS handshake"
            return result
        except OSError as exc:
            result.failed_at, result.error_kind = "handshake", "network"
            result.error = f"TLS handshake failed: {_describe_os_error(exc)}"
            return result
        finally:
            RESUME_SESSION.reset(token)
        try:
            sslobj = writer.get_extra_info("ssl_object")
            result.ok = True
            try:
                if sslobj is None:
                    raise ValueError("connection already closed")
                result.version = sslobj.version()
                cipher = sslobj.cipher()
                result.cipher = cipher[0] if cipher else None
                result.peer_der = sslobj.getpeercert(binary_form=True)
                result.session_reused = bool(sslobj.session_reused)
                result.compression = sslobj.compression()
            except (ValueError, ssl.SSLError, OSError):
                # the server ended the connection (e.g. a TLS 1.3 certificate_required alert) as soon as
                # the client considered the handshake done
                result.failed_at, result.error_kind = "request", "closed"
                result.error = "the server ended the connection right after the TLS handshake"
                return result
            if request is not None:
                await _exchange_request(reader, writer, request, timeout, result, loop)
            if keep_session:
                try:
                    result.session = sslobj.session
                except (ValueError, ssl.SSLError, OSError):
                    result.session = None
        finally:
            writer.transport.abort()
    return result


async def _exchange_request(reader, writer, request: bytes, timeout: float, result: Handshake, loop) -> None:
    data = b""
    try:
        writer.write(request)
        await asyncio.wait_for(writer.drain(), timeout)
        deadline = loop.time() + timeout
        while b"\r\n\r\n" not in data and len(data) < 65536:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError
            chunk = await asyncio.wait_for(reader.read(16384), remaining)
            if not chunk:
                break
            data += chunk
    except asyncio.TimeoutError:
        result.failed_at, result.error_kind = "request", "timeout"
        result.error = f"no HTTP response within {timeout:g} s"
        return
    except ssl.SSLError as exc:
        result.failed_at, result.error_kind = "request", "tls_alert"
        result.error = f"the server ended the connection with a TLS alert: {_ssl_error_text(exc)}"
        return
    except (ConnectionResetError, BrokenPipeError):
        result.failed_at, result.error_kind = "request", "reset"
        result.error = "the server reset the connection instead of answering the request"
        return
    except OSError as exc:
        result.failed_at, result.error_kind = "request", "network"
        result.error = f"request failed: {_describe_os_error(exc)}"
        return
    result.raw_response = data[:512]
    if not data:
        result.failed_at, result.error_kind = "request", "closed"
        result.error = "the server closed the connection without answering the request"
        return
    answer = _parse_http_head(data)
    if answer is None:
        result.failed_at, result.error_kind = "request", "garbage"
        result.error = f"the answer is not HTTP: {data[:32]!r}"
        return
    result.http = answer


def http_request(host: str, port: int, path: str) -> bytes:
    host_header = host if port == 443 else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" + ("" if port == 443 else f":{port}")
    return (
        f"GET {path or '/'} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: validatiestraat-tls\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "replace")
