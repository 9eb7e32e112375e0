"""Raw TLS ClientHello / ServerHello at the byte level (RFC 5246, RFC 8446).

The stdlib ``ssl`` module can only offer what the local OpenSSL build allows: OpenSSL 3 has no
SSLv3, no RC4/3DES/EXPORT suites, and Python cannot choose TLS 1.3 suites at all. To learn what a
*server* accepts we therefore write our own ClientHello with exactly the versions, suites and
groups we want, and read the server's first flight far enough to know its answer:

* the ServerHello (negotiated version, suite, compression, extensions, TLS 1.3 key share group,
  HelloRetryRequest);
* for TLS 1.2 and lower also the plaintext Certificate, ServerKeyExchange (ECDHE curve or DHE
  prime size) and CertificateRequest (does the server ask for a client certificate).

The handshake is never completed: we close the connection after reading. No keys are derived and
nothing here is used to protect data.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from functools import lru_cache

# -- protocol versions -------------------------------------------------------------------------

SSL3 = 0x0300
TLS10 = 0x0301
TLS11 = 0x0302
TLS12 = 0x0303
TLS13 = 0x0304

VERSION_NAMES = {
    SSL3: "SSLv3",
    TLS10: "TLSv1.0",
    TLS11: "TLSv1.1",
    TLS12: "TLSv1.2",
    TLS13: "TLSv1.3",
}
VERSION_CODES = {v: k for k, v in VERSION_NAMES.items()}

# -- record and handshake types ----------------------------------------------------------------

CT_CHANGE_CIPHER_SPEC = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23

HS_SERVER_HELLO = 2
HS_CERTIFICATE = 11
HS_SERVER_KEY_EXCHANGE = 12
HS_CERTIFICATE_REQUEST = 13
HS_SERVER_HELLO_DONE = 14

EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_PADDING = 21
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SESSION_TICKET = 35
EXT_SUPPORTED_VERSIONS = 43
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_KEY_SHARE = 51
EXT_RENEGOTIATION_INFO = 0xFF01

SCSV_RENEGOTIATION = 0x00FF

#: ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3)
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")

ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    116: "certificate_required",
    120: "no_application_protocol",
}

# -- named groups (IANA "TLS Supported Groups") ------------------------------------------------

GROUPS: dict[int, str] = {
    0x0001: "sect163k1", 0x0002: "sect163r1", 0x0003: "sect163r2", 0x0004: "sect193r1",
    0x0005: "sect193r2", 0x0006: "sect233k1", 0x0007: "sect233r1", 0x0008: "sect239k1",
    0x0009: "sect283k1", 0x000A: "sect283r1", 0x000B: "sect409k1", 0x000C: "sect409r1",
    0x000D: "sect571k1", 0x000E: "sect571r1", 0x000F: "secp160k1", 0x0010: "secp160r1",
    0x0011: "secp160r2", 0x0012: "secp192k1", 0x0013: "secp192r1", 0x0014: "secp224k1",
    0x0015: "secp224r1", 0x0016: "secp256k1", 0x0017: "secp256r1", 0x0018: "secp384r1",
    0x0019: "secp521r1", 0x001A: "brainpoolP256r1", 0x001B: "brainpoolP384r1",
    0x001C: "brainpoolP512r1", 0x001D: "x25519", 0x001E: "x448",
    0x001F: "brainpoolP256r1tls13", 0x0020: "brainpoolP384r1tls13", 0x0021: "brainpoolP512r1tls13",
    0x0100: "ffdhe2048", 0x0101: "ffdhe3072", 0x0102: "ffdhe4096", 0x0103: "ffdhe6144",
    0x0104: "ffdhe8192",
    0x11EB: "SecP256r1MLKEM768", 0x11EC: "X25519MLKEM768",
}
GROUP_CODES = {v: k for k, v in GROUPS.items()}

#: groups that exist in TLS 1.3 (RFC 8446 §4.2.7 plus later registrations)
TLS13_GROUPS = [0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x001F, 0x0020, 0x0021,
                0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x11EC, 0x11EB]
#: elliptic curves usable for ECDHE in TLS 1.2 and lower
TLS12_EC_GROUPS = [g for g in GROUPS if g <= 0x001E]

#: signature algorithms offered (broad on purpose: we want the server to answer, not to judge here)
SIGNATURE_ALGORITHMS = [
    0x0403, 0x0503, 0x0603,  # ecdsa_secp256r1_sha256, secp384r1_sha384, secp521r1_sha512
    0x0807, 0x0808,  # ed25519, ed448
    0x0804, 0x0805, 0x0806,  # rsa_pss_rsae_sha256/384/512
    0x0809, 0x080A, 0x080B,  # rsa_pss_pss_sha256/384/512
    0x0401, 0x0501, 0x0601,  # rsa_pkcs1_sha256/384/512
    0x081A, 0x081B, 0x081C,  # ecdsa_brainpool*tls13
    0x0303, 0x0301, 0x0302,  # sha224 ecdsa/rsa/dsa
    0x0203, 0x0201, 0x0202,  # sha1 ecdsa/rsa/dsa
    0x0402, 0x0502, 0x0602,  # dsa sha256/384/512
]


_SIGALGS = struct.pack(f"!{len(SIGNATURE_ALGORITHMS)}H", *SIGNATURE_ALGORITHMS)


class ProtocolError(Exception):
    """The peer sent something that is not a (well-formed) TLS answer."""

    def __init__(self, message: str, data: bytes = b""):
        super().__init__(message)
        self.data = data


@dataclass
class ClientHelloSpec:
    """What one probe offers."""

    version: int  # legacy_version / record version (≤ TLS 1.2) or TLS13 (uses supported_versions)
    suites: list[int]
    server_name: str | None = None
    groups: list[int] | None = None  # None: a broad default list
    #: TLS 1.3: versions for supported_versions (default: [version])
    supported_versions: list[int] | None = None
    #: TLS 1.3: groups for which a key share is sent (None: x25519 + secp256r1, [] = none)
    key_shares: list[int] | None = None
    compression: list[int] = field(default_factory=lambda: [0])
    extensions: bool = True  # SSLv3 probes send none


@lru_cache(maxsize=None)
def _key_share(group: int) -> bytes:
    """A valid public key for ``group`` (x25519, x448, secp256r1/384r1/521r1)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

    if group == 0x001D:
        return x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    if group == 0x001E:
        return x448.X448PrivateKey.generate().public_key().public_bytes_raw()
    curve = {0x0017: ec.SECP256R1(), 0x0018: ec.SECP384R1(), 0x0019: ec.SECP521R1()}[group]
    return ec.generate_private_key(curve).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _u8(n: int) -> bytes:
    return struct.pack("!B", n)


def _u16(n: int) -> bytes:
    return struct.pack("!H", n)


def _u24(n: int) -> bytes:
    return struct.pack("!I", n)[1:]


def _vec8(data: bytes) -> bytes:
    return _u8(len(data)) + data


def _vec16(data: bytes) -> bytes:
    return _u16(len(data)) + data


def _ext(ext_type: int, data: bytes) -> bytes:
    return _u16(ext_type) + _vec16(data)


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def build_client_hello(spec: ClientHelloSpec) -> bytes:
    """The bytes of one TLS record holding the ClientHello described by ``spec``."""
    tls13 = spec.version == TLS13 or bool(spec.supported_versions and TLS13 in spec.supported_versions)
    legacy_version = TLS12 if spec.version == TLS13 else spec.version
    body = _u16(legacy_version) + os.urandom(32)
    body += _vec8(os.urandom(32) if tls13 else b"")
    suites = list(spec.suites)
    if not spec.extensions:
        suites.append(SCSV_RENEGOTIATION)
    body += _vec16(struct.pack(f"!{len(suites)}H", *suites))
    body += _vec8(bytes(spec.compression if not tls13 else [0]))
    if spec.extensions:
        exts = b""
        if spec.server_name and not _is_ip(spec.server_name):
            name = spec.server_name.encode("idna")
            exts += _ext(EXT_SERVER_NAME, _vec16(b"\x00" + _vec16(name)))
        groups = spec.groups
        if groups is None:
            groups = TLS13_GROUPS + [g for g in TLS12_EC_GROUPS if g not in TLS13_GROUPS] if tls13 else (
                [0x001D, 0x0017, 0x0018, 0x0019, 0x001E] + [g for g in TLS12_EC_GROUPS if g not in
                                                            (0x001D, 0x0017, 0x0018, 0x0019, 0x001E)]
                + [0x0100, 0x0101, 0x0102, 0x0103, 0x0104]
            )
        exts += _ext(EXT_SUPPORTED_GROUPS, _vec16(struct.pack(f"!{len(groups)}H", *groups)))
        exts += _ext(EXT_EC_POINT_FORMATS, _vec8(b"\x00"))
        if legacy_version >= TLS12 or tls13:
            exts += _ext(EXT_SIGNATURE_ALGORITHMS, _vec16(_SIGALGS))
        exts += _ext(EXT_RENEGOTIATION_INFO, b"\x00")
        exts += _ext(EXT_EXTENDED_MASTER_SECRET, b"")
        exts += _ext(EXT_SESSION_TICKET, b"")
        if tls13:
            versions = spec.supported_versions or [TLS13]
            exts += _ext(EXT_SUPPORTED_VERSIONS, _vec8(b"".join(_u16(v) for v in versions)))
            exts += _ext(EXT_PSK_KEY_EXCHANGE_MODES, _vec8(b"\x01"))
            shares = spec.key_shares if spec.key_shares is not None else [0x001D, 0x0017]
            shares = [g for g in shares if g in groups]
            entries = b"".join(_u16(g) + _vec16(_key_share(g)) for g in shares)
            exts += _ext(EXT_KEY_SHARE, _vec16(entries))
        # Some middleboxes mishandle ClientHellos of 256..511 bytes: pad those to 512 (RFC 7685).
        length = 4 + len(body) + 2 + len(exts)
        if 256 <= length < 512:
            pad = 512 - length - 4
            exts += _ext(EXT_PADDING, b"\x00" * max(pad, 0))
        body += _vec16(exts)
    handshake = _u8(1) + _u24(len(body)) + body
    record_version = SSL3 if spec.version == SSL3 else TLS10
    return _u8(CT_HANDSHAKE) + _u16(record_version) + _vec16(handshake)


# -- parsing the server's answer ---------------------------------------------------------------


@dataclass
class ServerHello:
    version: int  # negotiated (supported_versions if present)
    legacy_version: int
    cipher_suite: int
    compression: int
    extensions: dict[int, bytes]
    retry_request: bool  # a HelloRetryRequest
    key_share_group: int | None  # TLS 1.3: group of the server's share / the HRR's selected group

    @property
    def secure_renegotiation(self) -> bool:
        return EXT_RENEGOTIATION_INFO in self.extensions

    @property
    def extended_master_secret(self) -> bool:
        return EXT_EXTENDED_MASTER_SECRET in self.extensions


@dataclass
class ServerFlight:
    """What the server answered to one ClientHello."""

    hello: ServerHello | None = None
    alert: tuple[int, int] | None = None  # (level, description)
    closed: bool = False  # the connection ended without a ServerHello or alert
    certificates: list[bytes] | None = None  # DER, leaf first (TLS ≤ 1.2 only)
    ske_group: int | None = None  # ECDHE named curve from ServerKeyExchange
    dh_bits: int | None = None  # DHE prime size from ServerKeyExchange
    dh_prime: bytes | None = None
    certificate_request: bool = False  # TLS ≤ 1.2: the server asked for a client certificate
    certificate_authorities: list[bytes] | None = None  # DER names from CertificateRequest
    hello_done: bool = False

    @property
    def alert_name(self) -> str | None:
        if self.alert is None:
            return None
        return ALERTS.get(self.alert[1], f"alert {self.alert[1]}")


def parse_server_hello(body: bytes) -> ServerHello:
    try:
        legacy_version = struct.unpack_from("!H", body, 0)[0]
        random = body[2:34]
        sid_len = body[34]
        pos = 35 + sid_len
        cipher_suite = struct.unpack_from("!H", body, pos)[0]
        compression = body[pos + 2]
        pos += 3
        extensions: dict[int, bytes] = {}
        if pos + 2 <= len(body):
            ext_len = struct.unpack_from("!H", body, pos)[0]
            pos += 2
            end = pos + ext_len
            if end > len(body):
                raise ProtocolError("ServerHello extensions overrun the message", body[:64])
            while pos + 4 <= end:
                etype, elen = struct.unpack_from("!HH", body, pos)
                extensions[etype] = body[pos + 4: pos + 4 + elen]
                pos += 4 + elen
    except (struct.error, IndexError) as exc:
        raise ProtocolError(f"truncated ServerHello ({exc})", body[:64]) from exc
    version = legacy_version
    sv = extensions.get(EXT_SUPPORTED_VERSIONS)
    if sv is not None and len(sv) == 2:
        version = struct.unpack("!H", sv)[0]
    group = None
    ks = extensions.get(EXT_KEY_SHARE)
    if ks is not None and len(ks) >= 2:
        group = struct.unpack_from("!H", ks, 0)[0]
    return ServerHello(
        version=version,
        legacy_version=legacy_version,
        cipher_suite=cipher_suite,
        compression=compression,
        extensions=extensions,
        retry_request=random == HRR_RANDOM,
        key_share_group=group,
    )


def _parse_certificates(body: bytes) -> list[bytes]:
    total = int.from_bytes(body[0:3], "big")
    pos, end, certs = 3, 3 + total, []
    while pos + 3 <= end and pos + 3 <= len(body):
        n = int.from_bytes(body[pos: pos + 3], "big")
        certs.append(body[pos + 3: pos + 3 + n])
        pos += 3 + n
    return certs


def _parse_ske(body: bytes, flight: ServerFlight) -> None:
    """ECDHE: curve_type(3)=named_curve; DHE: dh_p, dh_g, dh_Ys. Which one is guessed from shape."""
    if len(body) >= 4 and body[0] == 3:
        group = struct.unpack_from("!H", body, 1)[0]
        point_len = body[3]
        if 4 + point_len <= len(body) and group in GROUPS:
            flight.ske_group = group
            return
    if len(body) >= 2:
        p_len = struct.unpack_from("!H", body, 0)[0]
        if 2 + p_len <= len(body) and p_len > 0:
            prime = body[2: 2 + p_len]
            flight.dh_prime = prime
            flight.dh_bits = int.from_bytes(prime, "big").bit_length()


def _parse_cert_request(body: bytes, version: int, flight: ServerFlight) -> None:
    flight.certificate_request = True
    try:
        pos = 1 + body[0]  # certificate_types
        if version >= TLS12:
            n = struct.unpack_from("!H", body, pos)[0]
            pos += 2 + n  # supported_signature_algorithms
        total = struct.unpack_from("!H", body, pos)[0]
        pos += 2
        end, names = pos + total, []
        while pos + 2 <= end:
            n = struct.unpack_from("!H", body, pos)[0]
            names.append(body[pos + 2: pos + 2 + n])
            pos += 2 + n
        flight.certificate_authorities = names
    except (struct.error, IndexError):
        flight.certificate_authorities = None


class FlightReader:
    """Incremental parser of the server's first flight (records → handshake messages)."""

    def __init__(self, full: bool):
        self.full = full  # read up to ServerHelloDone (TLS ≤ 1.2), not just the ServerHello
        self.flight = ServerFlight()
        self._buf = b""
        self._hs = b""
        self._seen_any = False

    def feed(self, data: bytes) -> bool:
        """Add received bytes. Returns True when enough has been read."""
        self._buf += data
        while True:
            if len(self._buf) < 5:
                return False
            ctype, version, length = struct.unpack_from("!BHH", self._buf, 0)
            if not self._seen_any:
                self._check_plausible(ctype, version, length)
            if len(self._buf) < 5 + length:
                return False
            fragment = self._buf[5: 5 + length]
            self._buf = self._buf[5 + length:]
            self._seen_any = True
            if ctype == CT_ALERT:
                if len(fragment) >= 2:
                    self.flight.alert = (fragment[0], fragment[1])
                    return True
                raise ProtocolError("truncated alert record", fragment)
            if ctype == CT_CHANGE_CIPHER_SPEC:
                continue
            if ctype == CT_APPLICATION_DATA:
                # TLS 1.3: everything after the ServerHello is encrypted
                if self.flight.hello is not None:
                    return True
                raise ProtocolError("application data before ServerHello", fragment[:32])
            if ctype != CT_HANDSHAKE:
                raise ProtocolError(f"unexpected record type {ctype}", fragment[:32])
            self._hs += fragment
            if self._consume_handshake():
                return True

    def _check_plausible(self, ctype: int, version: int, length: int) -> None:
        if ctype not in (CT_ALERT, CT_HANDSHAKE, CT_CHANGE_CIPHER_SPEC) or version >> 8 != 3 or length > 18432:
            raise ProtocolError("the server did not answer with TLS", self._buf[:32])

    def _consume_handshake(self) -> bool:
        while len(self._hs) >= 4:
            mtype = self._hs[0]
            n = int.from_bytes(self._hs[1:4], "big")
            if len(self._hs) < 4 + n:
                return False
            body = self._hs[4: 4 + n]
            self._hs = self._hs[4 + n:]
            if self.flight.hello is None:
                if mtype != HS_SERVER_HELLO:
                    raise ProtocolError(f"expected ServerHello, got handshake type {mtype}", body[:32])
                self.flight.hello = parse_server_hello(body)
                hello = self.flight.hello
                if not self.full or hello.version >= TLS13 or hello.retry_request:
                    return True
                continue
            if mtype == HS_CERTIFICATE:
                self.flight.certificates = _parse_certificates(body)
            elif mtype == HS_SERVER_KEY_EXCHANGE:
                _parse_ske(body, self.flight)
            elif mtype == HS_CERTIFICATE_REQUEST:
                _parse_cert_request(body, self.flight.hello.version, self.flight)
            elif mtype == HS_SERVER_HELLO_DONE:
                self.flight.hello_done = True
                return True
        return False

    def eof(self) -> ServerFlight:
        """The peer closed the connection."""
        if self.flight.hello is None and self.flight.alert is None:
            if self._buf and not self._seen_any:
                raise ProtocolError("the server did not answer with TLS", self._buf[:32])
            self.flight.closed = True
        return self.flight
