"""Parsing list XML safely.

MedMij lists come from the network, so the parser is locked down:

- a size cap (default :data:`DEFAULT_MAX_BYTES`, configurable) is enforced before parsing;
- any DOCTYPE is refused outright (no DTDs, so no entity expansion "billion laughs" and no
  external entities); it is looked for in the raw bytes first and again after parsing
  (for encodings that hide it from a byte scan);
- the lxml parser never loads a DTD, never resolves entities, never touches the network and
  keeps libxml2's "huge tree" limits on (depth, text node size).

Errors are raised as :class:`ListReadError` carrying a located :class:`Problem`.
"""

from __future__ import annotations

import re

from lxml import etree

from validatiestraat.errors import Problem, UserError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # a real ZAL is a few MB; 50 MiB leaves room without inviting abuse

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


class ListReadError(UserError):
    """A list could not be read or parsed (missing, too big, not XML, hostile XML)."""

    def __init__(self, source: str, message: str, line: int | None = None, column: int | None = None):
        super().__init__(f"{source}: {message}", [Problem(source, line, column, message)])
        self.source = source
        self.reason = message
        self.line = line
        #: the list kind this source was expected to be (from --kind, kind: or its file name), if known
        self.kind: str | None = None
        #: io: could not be read at all; http: the server answered with another status than 200;
        #: xml: read but not acceptable XML (a finding against the list)
        self.category = "xml"


def safe_parser() -> etree.XMLParser:
    """The only parser this package uses for untrusted XML."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=False,
        collect_ids=False,
    )


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


_WIDE = [
    (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"),
    (b"\x00<", "utf-16-be"), (b"<\x00", "utf-16-le"),
]


def _scannable(data: bytes, source: str) -> bytes:
    """The bytes to scan for declarations: wide encodings (UTF-16/32) are transcoded first, so
    a DOCTYPE cannot hide from the scan; encodings that are not ASCII-compatible otherwise
    (EBCDIC) are refused."""
    for magic, codec in _WIDE:
        if data.startswith(magic):
            try:
                return data.decode(codec).encode("utf-8")
            except UnicodeDecodeError:
                raise ListReadError(source, f"not valid {codec.upper()} text", 1) from None
    if data.startswith(b"\x4c\x6f\xa7\x94"):
        raise ListReadError(source, "EBCDIC-encoded XML is not accepted (MedMij lists are UTF-8)", 1)
    return data


def parse_xml(data: bytes, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse untrusted list XML, refusing oversized input, DTDs and entities."""
    if max_bytes and len(data) > max_bytes:
        raise ListReadError(source, f"file is {len(data)} bytes, larger than the limit of {max_bytes} bytes "
                                    "(raise it with --max-size)")
    if not data.strip():
        raise ListReadError(source, "file is empty", 1)
    scan = _scannable(data, source)
    match = _DOCTYPE.search(scan) or _ENTITY.search(scan)
    if match:
        raise ListReadError(
            source,
            "DOCTYPE/ENTITY declarations are not allowed in a MedMij list (refused without parsing: "
            "DTDs enable entity expansion and external entities)",
            _line_of(scan, match.start()),
        )
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser=safe_parser()))
    except etree.XMLSyntaxError as exc:
        line, column = (exc.position if exc.position else (None, None))
        message = exc.msg or str(exc)
        message = re.sub(r",? line \d+, column \d+$", "", message)
        raise ListReadError(source, f"not well-formed XML: {message}", line, column) from None
    except ValueError as exc:  # e.g. unicode strings with an encoding declaration
        raise ListReadError(source, f"cannot parse: {exc}") from None
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ListReadError(source, "DOCTYPE declarations are not allowed in a MedMij list", 1)
    for node in tree.iter():
        if isinstance(node, etree._Entity):
            raise ListReadError(source, "entity references are not allowed in a MedMij list", node.sourceline)
    return tree
