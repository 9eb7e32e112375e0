"""Hand-made TLS answers for fake servers (what the local OpenSSL cannot serve: SSLv3, compression,
a server that does not negotiate the highest version, …)."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from validatiestraat.tls import wire


@dataclass
class ParsedHello:
    record_version: int
    client_version: int
    suites: list[int]
    compression: list[int]
    extensions: dict[int, bytes]

    @property
    def supported_versions(self) -> list[int]:
        data = self.extensions.get(wire.EXT_SUPPORTED_VERSIONS)
        if not data:
            return []
        return [struct.unpack_from("!H", data, 1 + 2 * i)[0] for i in range(data[0] // 2)]

    @property
    def groups(self) -> list[int]:
        data = self.extensions.get(wire.EXT_SUPPORTED_GROUPS)
        if not data:
            return []
        n = struct.unpack_from("!H", data, 0)[0]
        return [struct.unpack_from("!H", data, 2 + 2 * i)[0] for i in range(n // 2)]

    @property
    def server_name(self) -> str | None:
        data = self.extensions.get(wire.EXT_SERVER_NAME)
        if not data:
            return None
        n = struct.unpack_from("!H", data, 3)[0]
        return data[5:5 + n].decode()


def parse_client_hello(data: bytes) -> ParsedHello:
    ctype, record_version, length = struct.unpack_from("!BHH", data, 0)
    assert ctype == 22, "not a handshake record"
    hs = data[5:5 + length]
    assert hs[0] == 1, "not a ClientHello"
    body = hs[4:4 + int.from_bytes(hs[1:4], "big")]
    assert len(body) == int.from_bytes(hs[1:4], "big"), "handshake length mismatch"
    client_version = struct.unpack_from("!H", body, 0)[0]
    pos = 34
    pos += 1 + body[pos]
    n = struct.unpack_from("!H", body, pos)[0]
    suites = [struct.unpack_from("!H", body, pos + 2 + 2 * i)[0] for i in range(n // 2)]
    pos += 2 + n
    comp = list(body[pos + 1: pos + 1 + body[pos]])
    pos += 1 + body[pos]
    exts: dict[int, bytes] = {}
    if pos < len(body):
        total = struct.unpack_from("!H", body, pos)[0]
        pos += 2
        end = pos + total
        assert end == len(body), "extensions length mismatch"
        while pos < end:
            t, n = struct.unpack_from("!HH", body, pos)
            exts[t] = body[pos + 4: pos + 4 + n]
            pos += 4 + n
    return ParsedHello(record_version, client_version, suites, comp, exts)


def record(ctype: int, payload: bytes, version: int = wire.TLS12) -> bytes:
    return struct.pack("!BHH", ctype, version, len(payload)) + payload


def handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def server_hello_body(version: int, suite: int, *, compression: int = 0, tls13: bool = False,
                      group: int = 0x001D, reneg: bool = True, hrr: bool = False) -> bytes:
    exts = b""
    if tls13:
        exts += struct.pack("!HHH", wire.EXT_SUPPORTED_VERSIONS, 2, wire.TLS13)
        if hrr:
            exts += struct.pack("!HHH", wire.EXT_KEY_SHARE, 2, group)
        else:
            share = os.urandom(32)
            exts += struct.pack("!HHHH", wire.EXT_KEY_SHARE, 4 + len(share), group, len(share)) + share
    elif reneg:
        exts += struct.pack("!HHB", wire.EXT_RENEGOTIATION_INFO, 1, 0)
    random = wire.HRR_RANDOM if hrr else os.urandom(32)
    legacy = wire.TLS12 if tls13 else version
    body = struct.pack("!H", legacy) + random + b"\x00" + struct.pack("!HB", suite, compression)
    if exts or version >= wire.TLS10:
        body += struct.pack("!H", len(exts)) + exts
    return body


def server_hello(version: int, suite: int, **kw) -> bytes:
    rec_version = wire.SSL3 if version == wire.SSL3 else wire.TLS12
    return record(22, handshake(2, server_hello_body(version, suite, **kw)), rec_version)


def alert(description: int = 40) -> bytes:
    return record(21, bytes([2, description]))


def first_offered(hello: ParsedHello, allowed: set[int] | None = None) -> int | None:
    for s in hello.suites:
        if s != wire.SCSV_RENEGOTIATION and (allowed is None or s in allowed):
            return s
    return None


# -- behaviours for LoopbackHub.serve(behaviour=…) -----------------------------------------------


def ssl3_and_tls12_server(first: bytes) -> bytes:
    """Accepts SSLv3 (!) and TLS 1.2 (first offered suite), refuses TLS 1.0/1.1/1.3."""
    hello = parse_client_hello(first)
    if wire.TLS13 in hello.supported_versions and wire.TLS12 not in hello.supported_versions:
        return alert(70)
    if hello.client_version in (wire.SSL3, wire.TLS12):
        suite = first_offered(hello)
        return server_hello(hello.client_version, suite) + record(22, handshake(14, b""))
    return alert(70)


def not_highest_server(first: bytes) -> bytes:
    """Supports TLS 1.3 and 1.2, but answers TLS 1.2 when the client offers both (violates core.tls.304)."""
    hello = parse_client_hello(first)
    versions = hello.supported_versions
    good13 = {0x1301, 0x1302, 0x1303}
    good12 = {0xC02B, 0xC02C, 0xCCA9}
    if versions == [wire.TLS13]:
        suite = first_offered(hello, good13)
        if suite is None:
            return alert(40)
        if not hello.extensions.get(wire.EXT_KEY_SHARE) or hello.extensions[wire.EXT_KEY_SHARE] == b"\x00\x00":
            groups = [g for g in hello.groups if g in (0x001D, 0x0017)]
            if not groups:
                return alert(40)
            return server_hello(wire.TLS13, suite, tls13=True, hrr=True, group=groups[0])
        return server_hello(wire.TLS13, suite, tls13=True)
    if hello.client_version >= wire.TLS12:
        suite = first_offered(hello, good12)
        if suite is None:
            return alert(40)
        return server_hello(wire.TLS12, suite) + record(22, handshake(14, b""))
    return alert(70)


def compression_server(first: bytes) -> bytes:
    """TLS 1.2 only; picks DEFLATE compression when offered."""
    hello = parse_client_hello(first)
    if hello.client_version != wire.TLS12 or hello.supported_versions:
        return alert(70)
    suite = first_offered(hello, {0xC02B, 0xC02C})
    if suite is None:
        return alert(40)
    return server_hello(wire.TLS12, suite, compression=1 if 1 in hello.compression else 0) + record(22, handshake(14, b""))


def wrong_suite_server(first: bytes) -> bytes:
    """Answers TLS 1.2 with a suite the client never offered (a protocol violation)."""
    hello = parse_client_hello(first)
    if hello.client_version < wire.TLS12:
        return alert(70)
    if hello.supported_versions == [wire.TLS13]:
        return alert(70)
    return server_hello(wire.TLS12, 0xFEFE) + record(22, handshake(14, b""))
