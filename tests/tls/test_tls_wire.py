"""The hand-made ClientHello and the parser of the server's first flight."""

from __future__ import annotations

import struct

import pytest
from tls_fakes import alert, handshake, parse_client_hello, record, server_hello, server_hello_body

from validatiestraat.tls import suites, wire


def test_tls12_client_hello_is_well_formed_with_sni_and_reneg_info():
    data = wire.build_client_hello(wire.ClientHelloSpec(wire.TLS12, suites.suites_for(wire.TLS12),
                                                        server_name="api.dva.example"))
    hello = parse_client_hello(data)
    assert hello.record_version == wire.TLS10
    assert hello.client_version == wire.TLS12
    assert hello.suites == suites.suites_for(wire.TLS12)
    assert hello.server_name == "api.dva.example"
    assert wire.EXT_RENEGOTIATION_INFO in hello.extensions
    assert wire.EXT_SUPPORTED_VERSIONS not in hello.extensions
    assert hello.compression == [0]
    assert 0x001D in hello.groups


def test_no_sni_for_ip_addresses_and_padding_avoids_256_to_511_bytes():
    for n in range(1, 60):
        data = wire.build_client_hello(wire.ClientHelloSpec(wire.TLS12, list(range(0xC000, 0xC000 + n)),
                                                            server_name="127.0.0.1"))
        hello = parse_client_hello(data)
        assert hello.server_name is None
        assert not 256 <= len(data) - 5 < 512


def test_tls13_client_hello_offers_supported_versions_and_key_shares():
    data = wire.build_client_hello(wire.ClientHelloSpec(wire.TLS13, suites.suites_for(wire.TLS13),
                                                        supported_versions=[wire.TLS13, wire.TLS12]))
    hello = parse_client_hello(data)
    assert hello.client_version == wire.TLS12  # legacy_version
    assert hello.supported_versions == [wire.TLS13, wire.TLS12]
    ks = hello.extensions[wire.EXT_KEY_SHARE]
    groups = []
    pos = 2
    while pos < len(ks):
        group, n = struct.unpack_from("!HH", ks, pos)
        groups.append((group, n))
        pos += 4 + n
    assert groups == [(0x001D, 32), (0x0017, 65)]
    empty = parse_client_hello(wire.build_client_hello(
        wire.ClientHelloSpec(wire.TLS13, [0x1301], groups=[0x0018], key_shares=[])))
    assert empty.extensions[wire.EXT_KEY_SHARE] == b"\x00\x00"
    assert empty.groups == [0x0018]


def test_sslv3_client_hello_has_sslv3_record_and_scsv_instead_of_extensions():
    data = wire.build_client_hello(wire.ClientHelloSpec(wire.SSL3, suites.suites_for(wire.SSL3), extensions=False))
    hello = parse_client_hello(data)
    assert hello.record_version == wire.SSL3 and hello.client_version == wire.SSL3
    assert hello.suites[-1] == wire.SCSV_RENEGOTIATION
    assert hello.extensions == {}


def _read(data: bytes, full: bool = False, chunk: int = 0) -> wire.ServerFlight:
    reader = wire.FlightReader(full)
    pieces = [data] if not chunk else [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        if reader.feed(piece):
            return reader.flight
    return reader.eof()


def test_server_hello_tls12_parsed_even_when_split_into_single_bytes():
    flight = _read(server_hello(wire.TLS12, 0xC02B), chunk=1)
    assert flight.hello is not None
    assert flight.hello.version == wire.TLS12
    assert flight.hello.cipher_suite == 0xC02B
    assert flight.hello.secure_renegotiation
    assert not flight.hello.retry_request


def test_server_hello_tls13_and_hello_retry_request():
    flight = _read(server_hello(wire.TLS13, 0x1302, tls13=True, group=0x0017))
    assert flight.hello.version == wire.TLS13 and flight.hello.legacy_version == wire.TLS12
    assert flight.hello.key_share_group == 0x0017
    hrr = _read(server_hello(wire.TLS13, 0x1301, tls13=True, hrr=True, group=0x0018))
    assert hrr.hello.retry_request and hrr.hello.key_share_group == 0x0018


def test_alert_and_close_and_garbage():
    assert _read(alert(70)).alert_name == "protocol_version"
    assert _read(b"").closed
    with pytest.raises(wire.ProtocolError, match="did not answer with TLS"):
        _read(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(wire.ProtocolError):
        _read(record(22, handshake(11, b"\x00\x00\x00")))  # Certificate before ServerHello


def test_full_tls12_flight_certificate_ske_certificate_request():
    cert = b"\x30\x03\x02\x01\x01"
    certs = (len(cert) + 3).to_bytes(3, "big") + len(cert).to_bytes(3, "big") + cert
    ske = bytes([3]) + struct.pack("!H", 0x0018) + bytes([3]) + b"abc"
    # certificate_types, sig algs, one CA name (DER Name with CN=x)
    name = bytes.fromhex("300c310a300806035504030c0178")
    creq = bytes([1, 64]) + struct.pack("!H", 2) + b"\x04\x03" + struct.pack("!H", len(name) + 2) + \
        struct.pack("!H", len(name)) + name
    data = record(22, handshake(2, server_hello_body(wire.TLS12, 0xC02C)) + handshake(11, certs)
                  + handshake(12, ske) + handshake(13, creq) + handshake(14, b""))
    flight = _read(data, full=True, chunk=7)
    assert flight.certificates == [cert]
    assert flight.ske_group == 0x0018
    assert flight.certificate_request
    assert flight.hello_done
    from validatiestraat.tls.certs import name_of_der_name

    assert [name_of_der_name(n) for n in flight.certificate_authorities] == ["CN=x"]


def test_dhe_server_key_exchange_gives_prime_size():
    prime = b"\xff" * 256
    ske = struct.pack("!H", len(prime)) + prime + struct.pack("!H", 1) + b"\x02" + struct.pack("!H", 1) + b"\x05"
    flight = _read(record(22, handshake(2, server_hello_body(wire.TLS12, 0x009F)) + handshake(12, ske)
                          + handshake(14, b"")), full=True)
    assert flight.dh_bits == 2048
