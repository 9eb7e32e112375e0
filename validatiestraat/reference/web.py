"""A minimal request/response model shared by the reference DVA's handlers.

The HTTP listeners (``server.py``) turn each ``http.server`` request into a :class:`Request`,
hand it to an application callable and write the :class:`Response` back. The OAuth and FHIR
code never touches sockets, which keeps it easy to read and to test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

#: security headers on every HTML page of the frontchannel (domain brief §4.6)
HTML_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https:; frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


@dataclass
class Request:
    method: str
    path: str  # percent-decoded path, without query
    raw_path: str  # the path exactly as received, without query
    raw_query: str  # the query string exactly as received
    headers: Message
    body: bytes
    #: "front" (authorization endpoint, pages) or "back" (token endpoint, FHIR; mutual TLS)
    channel: str
    #: scheme://host:port of the listener, as used in the reference DVA's own URLs
    base_url: str
    #: DNS names and common name of the verified client certificate (empty without mTLS)
    peer_names: frozenset[str] = frozenset()

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def form(self) -> list[tuple[str, str]]:
        """The body as application/x-www-form-urlencoded pairs (empty for other content)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return []
        return parse_qsl(text, keep_blank_values=True)

    def form_dict(self) -> dict[str, str]:
        return {k: v for k, v in reversed(self.form())}  # first value wins


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    @classmethod
    def html(cls, status: int, page: str, extra: list[tuple[str, str]] | None = None) -> "Response":
        headers = [("Content-Type", "text/html; charset=utf-8"), *HTML_SECURITY_HEADERS, *(extra or [])]
        return cls(status, headers, page.encode("utf-8"))

    @classmethod
    def json(cls, status: int, data: Any, content_type: str = "application/json",
             extra: list[tuple[str, str]] | None = None) -> "Response":
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, [("Content-Type", content_type), *(extra or [])], body)

    @classmethod
    def text(cls, status: int, text: str, extra: list[tuple[str, str]] | None = None) -> "Response":
        return cls(status, [("Content-Type", "text/plain; charset=utf-8"), *(extra or [])], text.encode("utf-8"))

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> "Response":
        return cls(status, [("Location", location), ("Cache-Control", "no-store"),
                            ("Content-Type", "text/plain; charset=utf-8")], b"")


App = Callable[[Request], Response]
