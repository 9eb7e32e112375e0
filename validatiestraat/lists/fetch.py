"""Reading lists from files and URLs (httpx, with timeouts, a size cap and explicit TLS trust)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from validatiestraat.lists import kinds as K
from validatiestraat.lists.checks import DocumentReport, HttpInfo, ListDocument, load_document
from validatiestraat.lists.xmlsafe import DEFAULT_MAX_BYTES, ListReadError

DEFAULT_TIMEOUT = 10.0


@dataclass
class FetchOptions:
    """How to reach a list host."""

    trust: list[Path] = field(default_factory=list)  # CA files; when given they replace the system store
    certificate: Path | None = None  # client certificate (mTLS), PEM
    key: Path | None = None
    key_password: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES

    def ssl_context(self) -> ssl.SSLContext:
        return ssl_context(self.trust, self.certificate, self.key, self.key_password)


def ssl_context(trust: list[Path] | None = None, certificate: Path | None = None, key: Path | None = None,
                key_password: str | None = None) -> ssl.SSLContext:
    if trust:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        for anchor in trust:
            ctx.load_verify_locations(cafile=str(anchor))
    else:
        ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if certificate:
        ctx.load_cert_chain(str(certificate), str(key) if key else None, password=key_password)
    return ctx


def is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def guess_kind(source: str) -> str | None:
    """The list kind a file name or URL suggests (MedMij_Whitelist.xml -> whitelist)."""
    low = source.lower()
    for kind in K.KINDS.values():
        if kind.filename.lower() in low:
            return kind.key
    return None


def _io_error(source: str, message: str, kind: str | None) -> ListReadError:
    err = ListReadError(source, message)
    err.category = "io"
    err.kind = kind
    return err


def read_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    p = Path(path)
    try:
        size = p.stat().st_size
        if max_bytes and size > max_bytes:
            raise ListReadError(path, f"file is {size} bytes, larger than the limit of {max_bytes} bytes "
                                      "(raise it with --max-size)")
        with p.open("rb") as fh:
            return fh.read(max_bytes + 1 if max_bytes else -1)
    except ListReadError:
        raise
    except FileNotFoundError:
        raise _io_error(path, "no such file", None) from None
    except IsADirectoryError:
        raise _io_error(path, "is a directory, not a list file", None) from None
    except OSError as exc:
        raise _io_error(path, f"cannot read: {exc.strerror or exc}", None) from None


def _content_type(response: httpx.Response) -> str | None:
    return response.headers.get("content-type")


def _check_status(source: str, response: httpx.Response) -> None:
    if response.status_code != 200:
        where = response.headers.get("location")
        extra = f" to {where} (redirects are not followed)" if where else ""
        err = _io_error(source, f"HTTP {response.status_code}{extra}", guess_kind(source))
        err.category = "http"  # the server answered, but not with the list
        raise err


def fetch_url(url: str, options: FetchOptions | None = None) -> tuple[bytes, HttpInfo]:
    """GET a list, streaming with a size cap. Raises ListReadError (category io) on trouble."""
    options = options or FetchOptions()
    try:
        with httpx.Client(verify=options.ssl_context(), timeout=httpx.Timeout(options.timeout),
                          follow_redirects=False, headers={"User-Agent": "validatiestraat", "Accept": "application/xml"}) as client:
            with client.stream("GET", url) as response:
                _check_status(url, response)
                chunks: list[bytes] = []
                total = 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if options.max_bytes and total > options.max_bytes:
                        raise ListReadError(url, f"response is larger than the limit of {options.max_bytes} bytes "
                                                 "(raise it with --max-size)")
                    chunks.append(chunk)
                return b"".join(chunks), HttpInfo(url, response.status_code, _content_type(response))
    except ListReadError:
        raise
    except httpx.TimeoutException:
        raise _io_error(url, f"timed out after {options.timeout:g} s", guess_kind(url)) from None
    except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
        raise _io_error(url, f"cannot fetch: {type(exc).__name__}: {exc}", guess_kind(url)) from None


async def fetch_url_async(url: str, options: FetchOptions | None = None,
                          client: httpx.AsyncClient | None = None) -> tuple[bytes, HttpInfo]:
    """Async variant of :func:`fetch_url`; uses ``client`` when given (it is not closed)."""
    options = options or FetchOptions()
    own = client is None
    if client is None:
        client = httpx.AsyncClient(verify=options.ssl_context(), timeout=httpx.Timeout(options.timeout),
                                   follow_redirects=False, headers={"User-Agent": "validatiestraat"})
    try:
        async with client.stream("GET", url, headers={"Accept": "application/xml"}) as response:
            _check_status(url, response)
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if options.max_bytes and total > options.max_bytes:
                    raise ListReadError(url, f"response is larger than the limit of {options.max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks), HttpInfo(url, response.status_code, _content_type(response))
    except ListReadError:
        raise
    except httpx.TimeoutException:
        raise _io_error(url, f"timed out after {options.timeout:g} s", guess_kind(url)) from None
    except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
        raise _io_error(url, f"cannot fetch: {type(exc).__name__}: {exc}", guess_kind(url)) from None
    finally:
        if own:
            await client.aclose()


def load_list(source: str | Path, options: FetchOptions | None = None, kind: str | None = None) -> ListDocument:
    """Read, parse and identify one list from a file path or an http(s) URL.

    Raises :class:`ListReadError` (a UserError: exit code 4 when it reaches the CLI).
    When ``kind`` is given, a list of another kind is refused.
    """
    options = options or FetchOptions()
    source = str(source)
    try:
        if is_url(source):
            data, http = fetch_url(source, options)
        else:
            data, http = read_file(source, options.max_bytes), None
        doc = load_document(data, source, max_bytes=options.max_bytes, http=http)
    except ListReadError as exc:
        exc.kind = exc.kind or kind or guess_kind(source)
        raise
    if kind and doc.kind != kind:
        err = ListReadError(source, f"expected a {K.KINDS[kind].title}, got a {K.KINDS[doc.kind].title}",
                            doc.root.sourceline)
        err.kind = kind
        raise err
    return doc


async def load_list_async(source: str, options: FetchOptions | None = None, kind: str | None = None,
                          client: httpx.AsyncClient | None = None) -> ListDocument:
    options = options or FetchOptions()
    try:
        if is_url(source):
            data, http = await fetch_url_async(source, options, client)
        else:
            data, http = read_file(source, options.max_bytes), None
        doc = load_document(data, source, max_bytes=options.max_bytes, http=http)
    except ListReadError as exc:
        exc.kind = exc.kind or kind or guess_kind(source)
        raise
    if kind and doc.kind != kind:
        err = ListReadError(source, f"expected a {K.KINDS[kind].title}, got a {K.KINDS[doc.kind].title}",
                            doc.root.sourceline)
        err.kind = kind
        raise err
    return doc


def read_report(source: str, options: FetchOptions | None = None, kind: str | None = None) -> DocumentReport:
    """Like :func:`load_list` but never raises: the error lands in the report."""
    try:
        return DocumentReport(str(source), load_list(source, options, kind))
    except ListReadError as exc:
        return DocumentReport(str(source), read_error=exc)


def summarise_error(exc: ListReadError) -> dict[str, Any]:
    p = exc.problems[0]
    return {"source": exc.source, "message": p.message, "line": p.line, "category": exc.category}
