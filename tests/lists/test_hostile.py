"""Hostile XML is refused safely: no entity expansion, no external fetches, size and depth caps."""

from __future__ import annotations

import resource
import time

import pytest

from validatiestraat.lists.checks import load_document
from validatiestraat.lists.fetch import FetchOptions, load_list, read_report
from validatiestraat.lists.xmlsafe import ListReadError, parse_xml

NS = "xmlns://afsprakenstelsel.medmij.nl/whitelist/release2/"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Whitelist [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Whitelist xmlns="xmlns://afsprakenstelsel.medmij.nl/whitelist/release2/">
  <Tijdstempel>2025-03-01T09:30:00Z</Tijdstempel><Volgnummer>1</Volgnummer>
  <MedMijNodes><MedMijNode><Hostname>&lol9;</Hostname></MedMijNode></MedMijNodes>
</Whitelist>
"""


def _whitelist_with(doctype: str, hostname: str) -> bytes:
    return (f'<?xml version="1.0"?>\n{doctype}\n<Whitelist xmlns="{NS}">\n'
            f"  <Tijdstempel>2025-03-01T09:30:00Z</Tijdstempel><Volgnummer>1</Volgnummer>\n"
            f"  <MedMijNodes><MedMijNode><Hostname>{hostname}</Hostname></MedMijNode></MedMijNodes>\n"
            f"</Whitelist>\n").encode()


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_billion_laughs_refused_fast_and_small() -> None:
    before = _maxrss_mb()
    t0 = time.perf_counter()
    with pytest.raises(ListReadError) as exc:
        load_document(BILLION_LAUGHS, "laughs.xml")
    assert time.perf_counter() - t0 < 1.0
    assert _maxrss_mb() - before < 50
    problem = exc.value.problems[0]
    assert (problem.file, problem.line) == ("laughs.xml", 2)
    assert "DOCTYPE/ENTITY declarations are not allowed" in problem.message


def test_external_entity_file_not_read(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    data = _whitelist_with(f'<!DOCTYPE Whitelist [<!ENTITY xxe SYSTEM "file://{secret}">]>', "&xxe;")
    with pytest.raises(ListReadError) as exc:
        load_document(data, "xxe.xml")
    assert "TOPSECRET" not in str(exc.value)
    assert "DOCTYPE" in exc.value.problems[0].message


def test_external_entity_and_dtd_never_fetched(plain_server) -> None:
    base = f"http://127.0.0.1:{plain_server.port}"
    for doctype in (f'<!DOCTYPE Whitelist [<!ENTITY xxe SYSTEM "{base}/entity">]>',
                    f'<!DOCTYPE Whitelist SYSTEM "{base}/external.dtd">',
                    f'<!DOCTYPE Whitelist [<!ENTITY % p SYSTEM "{base}/param.dtd"> %p;]>'):
        with pytest.raises(ListReadError):
            load_document(_whitelist_with(doctype, "&xxe;"), "x.xml")
    assert plain_server.hits == []


def test_doctype_hidden_by_utf16_is_still_refused(plain_server) -> None:
    """A byte scan cannot see a DOCTYPE in UTF-16; the parsed document is checked too, and the
    parser itself never loads the external DTD."""
    base = f"http://127.0.0.1:{plain_server.port}"
    text = _whitelist_with(f'<!DOCTYPE Whitelist SYSTEM "{base}/external.dtd">', "node.example.test").decode()
    data = text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    assert b"<!DOCTYPE" not in data
    with pytest.raises(ListReadError) as exc:
        parse_xml(data, "utf16.xml")
    assert "DOCTYPE" in exc.value.problems[0].message
    assert plain_server.hits == []


def test_schema_location_and_xinclude_not_followed(plain_server) -> None:
    base = f"http://127.0.0.1:{plain_server.port}"
    data = (f'<?xml version="1.0"?>\n<Whitelist xmlns="{NS}" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xi="http://www.w3.org/2001/XInclude" '
            f'xsi:schemaLocation="{NS} {base}/evil.xsd">\n'
            f"  <Tijdstempel>2025-03-01T09:30:00Z</Tijdstempel><Volgnummer>1</Volgnummer>\n"
            f'  <MedMijNodes><xi:include href="{base}/include.xml"/></MedMijNodes>\n</Whitelist>\n').encode()
    doc = load_document(data, "x.xml")
    from validatiestraat.lists.checks import check_lists

    report = check_lists([doc])
    assert any("include" in f.message for f in report.errors)  # an unexpected element, nothing more
    assert plain_server.hits == []


def test_size_cap_before_parsing(tmp_path) -> None:
    big = tmp_path / "MedMij_Whitelist.xml"
    big.write_bytes(b"<Whitelist>" + b" " * 5000 + b"</Whitelist>")
    with pytest.raises(ListReadError) as exc:
        load_list(big, FetchOptions(max_bytes=1000))
    assert "larger than the limit of 1000 bytes" in str(exc.value)
    with pytest.raises(ListReadError):
        load_document(b"<Whitelist>" + b" " * 5000 + b"</Whitelist>", "mem", max_bytes=1000)


def test_size_cap_on_download(list_server, pki) -> None:
    list_server.routes["/MedMij_Whitelist.xml?api=2"] = (200, "application/xml", b"<Whitelist>" + b" " * 200_000 + b"</Whitelist>")
    report = read_report(list_server.url("/MedMij_Whitelist.xml?api=2"),
                         FetchOptions(trust=[pki.ca_path], max_bytes=100_000))
    assert report.read_error is not None
    assert "larger than the limit of 100000 bytes" in report.read_error.problems[0].message


def test_deep_nesting_refused_without_crash() -> None:
    depth = 5000
    data = b"<Whitelist>" + b"<a>" * depth + b"</a>" * depth + b"</Whitelist>"
    with pytest.raises(ListReadError) as exc:
        load_document(data, "deep.xml")
    assert "not well-formed XML" in exc.value.problems[0].message


def test_not_xml_and_empty() -> None:
    with pytest.raises(ListReadError) as exc:
        load_document(b"<Whitelist><oops></Whitelist>", "broken.xml")
    p = exc.value.problems[0]
    assert (p.line, p.column is not None) == (1, True) and "not well-formed XML" in p.message
    with pytest.raises(ListReadError) as exc:
        load_document(b"   ", "empty.xml")
    assert exc.value.problems[0].message == "file is empty"
    with pytest.raises(ListReadError) as exc:
        load_document(b"<html><body/></html>", "page.html")
    assert "root element <html> is not a MedMij list" in exc.value.problems[0].message
