"""Checking MedMij lists: schema (LIST-XSD-*), semantics (LIST-SEM-*), serving (LIST-HTTP-01).

Entry points:

- :func:`load_document` turns bytes into a :class:`ListDocument` (safe parse + kind detection);
- :func:`check_lists` checks one or more documents (each on its own and against each other,
  optionally against previously seen copies) and returns a :class:`ListReport`.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterable
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from validatiestraat.lists import kinds as K
from validatiestraat.lists import model as M
from validatiestraat.lists.xmlsafe import DEFAULT_MAX_BYTES, ListReadError, parse_xml

ERROR = "error"
WARNING = "warning"


# -- options and results ---------------------------------------------------------------------


@dataclass
class CheckOptions:
    #: Aanbiedertype values that pass LIST-SEM-06
    aanbiedertypes: frozenset[str] = frozenset({"ZA", "BAZB"})
    #: values that are proposed but not adopted (⚠): a warning unless listed in aanbiedertypes
    pending_aanbiedertypes: frozenset[str] = frozenset({"APD"})
    #: accept loopback hosts (localhost, *.localhost, 127.0.0.0/8, ::1) with any port, for lists
    #: published by a local test server such as the reference DVA
    allow_loopback: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass
class Finding:
    requirement: str
    severity: str  # error | warning
    message: str
    source: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.severity} {self.requirement}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "severity": self.severity, "message": self.message,
                "source": self.source, "line": self.line}


@dataclass
class HttpInfo:
    """How a list was fetched (for LIST-HTTP-01)."""

    url: str
    status: int
    content_type: str | None
    exchange_id: str | None = None


@dataclass
class ListDocument:
    source: str
    kind: str
    release: K.Release | None  # None when the namespace is not a known release of the kind
    namespace: str | None
    prefix: str | None
    tree: Any
    content: M.Content
    tijdstempel: M.Value | None
    volgnummer: M.Value | None
    digest: str
    http: HttpInfo | None = None

    @property
    def root(self) -> Any:
        return self.tree.getroot()

    @property
    def volgnummer_int(self) -> int | None:
        try:
            return int(self.volgnummer.value) if self.volgnummer else None
        except ValueError:
            return None

    def describe(self) -> str:
        title = K.KINDS[self.kind].title
        rel = self.release.release if self.release else f"unknown namespace {self.namespace!r}"
        parts = [f"{title} {rel}"]
        if self.volgnummer:
            parts.append(f"Volgnummer {self.volgnummer.value}")
        parts.append(_count(self))
        return ", ".join(parts)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "release": self.release.release if self.release else None,
            "namespace": self.namespace,
            "tijdstempel": self.tijdstempel.value if self.tijdstempel else None,
            "volgnummer": self.volgnummer.value if self.volgnummer else None,
            "entries": entry_count(self),
            "sha256": self.digest,
            "http": None if self.http is None else {
                "url": self.http.url, "status": self.http.status, "content_type": self.http.content_type},
        }


def entry_count(doc: ListDocument) -> int:
    """How many entries a list holds (zorgaanbieders, clients, hostnames, gegevensdiensten)."""
    c = doc.content
    if isinstance(c, (M.Zal, M.Zakl)):
        return len(c.zorgaanbieders)
    if isinstance(c, M.Ocl):
        return len(c.clients)
    if isinstance(c, M.WhitelistContent):
        return len(c.hostnames)
    if isinstance(c, M.Gnl):
        return len(c.entries)
    return 0  # pragma: no cover


def _count(doc: ListDocument) -> str:
    noun = {"zal": "zorgaanbieders", "zakl": "zorgaanbieders", "ocl": "OAuth clients",
            "whitelist": "MedMij nodes", "gnl": "gegevensdiensten"}[doc.kind]
    return f"{entry_count(doc)} {noun}"


@dataclass
class DocumentReport:
    source: str
    document: ListDocument | None = None
    read_error: ListReadError | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        if self.document is not None:
            out.update(self.document.summary())
        if self.read_error is not None:
            p = self.read_error.problems[0]
            out["error"] = {"message": p.message, "line": p.line, "column": p.column}
        return out


@dataclass
class ListReport:
    """The result of checking one or more lists (the subject of the ``lists.check`` step)."""

    documents: list[DocumentReport]
    findings: list[Finding] = field(default_factory=list)
    applicable: set[str] = field(default_factory=set)
    options: CheckOptions = field(default_factory=CheckOptions)
    #: the HTTP subject of the fetch, when a step fetched the list (lets generic HTTP checks work)
    http: Any = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def unreadable(self) -> list[DocumentReport]:
        return [d for d in self.documents if d.read_error is not None]

    def for_requirement(self, requirement: str) -> list[Finding]:
        return [f for f in self.findings if f.requirement == requirement]

    def status(self, requirement: str) -> str:
        """pass | fail | warning | not-applicable for one requirement."""
        found = self.for_requirement(requirement)
        if any(f.severity == ERROR for f in found):
            return "fail"
        if found:
            return "warning"
        return "pass" if requirement in self.applicable else "not-applicable"

    def ok(self, strict: bool = False) -> bool:
        return not self.errors and not self.unreadable and not (strict and self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok(),
            "documents": [d.to_dict() for d in self.documents],
            "requirements": {r: self.status(r) for r in K.ALL_REQUIREMENTS},
            "findings": [f.to_dict() for f in self.findings],
            "counts": {"errors": len(self.errors), "warnings": len(self.warnings),
                       "unreadable": len(self.unreadable)},
        }


# -- loading -----------------------------------------------------------------------------------


def load_document(data: bytes, source: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  http: HttpInfo | None = None) -> ListDocument:
    """Parse list XML safely and detect its kind and release.

    Raises :class:`ListReadError` for unreadable, hostile or non-list XML.
    """
    tree = parse_xml(data, source, max_bytes)
    root = tree.getroot()
    qname = etree.QName(root)
    kind = K.ROOTS.get(qname.localname)
    if kind is None:
        known = ", ".join(sorted(K.ROOTS))
        raise ListReadError(source, f"root element <{qname.localname}> is not a MedMij list (expected one of: {known})",
                            root.sourceline)
    namespace = qname.namespace
    release = _detect_release(kind, namespace, root)
    content = M.READERS[kind](root)
    return ListDocument(
        source=source,
        kind=kind,
        release=release,
        namespace=namespace,
        prefix=root.prefix,
        tree=tree,
        content=content,
        tijdstempel=M.value(M.child(root, "Tijdstempel")),
        volgnummer=M.value(M.child(root, "Volgnummer")),
        digest=hashlib.sha256(data).hexdigest(),
        http=http,
    )


def _detect_release(kind: str, namespace: str | None, root: Any) -> K.Release | None:
    candidates = [r for r in K.releases_for(namespace or "") if r.kind == kind]
    if not candidates:
        return None
    if kind == "whitelist":
        old = M.whitelist_is_old_shape(root)
        for r in candidates:
            if (r.release == "release2-2018") == old:
                return r
    return candidates[0]


# -- schema ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def schema(xsd_name: str) -> etree.XMLSchema:
    """Our XSD for a release (parsed once). Local files only: no imports, no network."""
    data = resources.files("validatiestraat.lists").joinpath("xsd", xsd_name).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.fromstring(data, parser=parser))


# "{namespace}Name" in libxml2 messages (but not the {m,n} quantifiers of quoted patterns)
_NS_IN_MESSAGE = re.compile(r"\{(?![0-9,]+\})[^{}]*\}")


def validate_schema(doc: ListDocument, options: CheckOptions | None = None) -> list[Finding]:
    options = options or CheckOptions()
    req = K.KINDS[doc.kind].xsd_requirement
    out: list[Finding] = []
    root = doc.root
    if doc.prefix:
        out.append(Finding(req, ERROR, f"root element uses the prefix '{doc.prefix}:'; MedMij lists use the "
                                       "schema's namespace as default namespace without prefix",
                           doc.source, root.sourceline))
    if doc.release is None:
        expected = sorted({r.namespace for r in K.RELEASES if r.kind == doc.kind})
        hint = ""
        for ns in expected:
            if doc.namespace and ns.lower() == doc.namespace.lower():
                hint = f" (differs only in letter case from {ns!r})"
        got = f"namespace {doc.namespace!r}" if doc.namespace else "no namespace"
        out.append(Finding(req, ERROR, f"<{K.KINDS[doc.kind].root}> has {got}{hint}; expected one of: "
                                       + ", ".join(expected), doc.source, root.sourceline))
        return out
    tree = doc.tree
    if options.allow_loopback:
        tree = _normalise_loopback(tree)
    xsd = schema(doc.release.xsd)
    if not xsd.validate(tree):
        for e in xsd.error_log:
            if "No precomputed value available" in e.message:
                continue  # libxml2 noise following an invalid key value, already reported
            message = _NS_IN_MESSAGE.sub("", e.message).strip()
            out.append(Finding(req, ERROR, f"schema: {message}", doc.source, e.line or None))
    if doc.kind == "whitelist" and doc.release.release == "release2-2018":
        out.append(Finding(req, WARNING, "2018 Whitelist shape: MedMijNode holds the hostname as text; current "
                                         "Whitelists wrap it in MedMijNode/Hostname", doc.source, root.sourceline))
    return out


_URI_ELEMENTS = {"AuthorizationEndpointuri", "TokenEndpointuri", "ResourceEndpointuri", "SubscriptionEndpointuri"}


def _normalise_loopback(tree: Any) -> Any:
    """A copy whose loopback hosts are replaced by schema-conformant stand-ins (lines are kept)."""
    tree = copy.deepcopy(tree)
    for el in tree.getroot().iter():
        name = M.localname(el)
        if name in _URI_ELEMENTS and el.text:
            parts = _split_uri(el.text.strip())
            if parts and is_loopback(parts["host"]):
                port = "" if name == "AuthorizationEndpointuri" or not parts["port"] else f":{parts['port']}"
                el.text = f"https://{_stand_in(parts['host'])}{port}{parts['path']}"
        elif (name == "Hostname" or (name == "MedMijNode" and len(el) == 0)) and el.text and is_loopback(el.text.strip()):
            el.text = _stand_in(el.text.strip())
    return tree


def _stand_in(host: str) -> str:
    cleaned = re.sub(r"[^a-z0-9.-]", "-", host.lower().strip("[]")).strip("-.") or "loopback"
    return f"{cleaned}.loopback-test"


# -- URIs and hosts ----------------------------------------------------------------------------

_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)"
                  r"(?P<query>\?[^#]*)?(?P<fragment>#.*)?$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def _split_uri(uri: str) -> dict[str, str] | None:
    m = _URI.match(uri)
    if not m:
        return None
    authority = m.group("authority")
    userinfo = ""
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
    host, port = authority, ""
    if authority.startswith("["):
        end = authority.find("]")
        host, rest = authority[: end + 1], authority[end + 1:]
        port = rest[1:] if rest.startswith(":") else ""
    elif ":" in authority:
        host, port = authority.rsplit(":", 1)
    return {"scheme": m.group("scheme"), "userinfo": userinfo, "host": host, "port": port,
            "path": m.group("path"), "query": m.group("query") or "", "fragment": m.group("fragment") or ""}


def host_of(uri: str) -> str | None:
    parts = _split_uri(uri.strip())
    return parts["host"].lower().rstrip(".") if parts else None


def is_loopback(host: str) -> bool:
    h = host.strip().lower().strip("[]").rstrip(".")
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def hostname_problems(host: str) -> list[str]:
    """Why a hostname is not a lowercase FQDN as the MedMij Hostname pattern requires."""
    problems = []
    if host != host.lower():
        problems.append("host must be lowercase")
    h = host.lower()
    labels = h.split(".")
    if len(labels) < 2:
        problems.append("host must be a fully qualified domain name (at least one dot)")
    if any(not _LABEL.match(label) for label in labels):
        problems.append("host labels may only hold a-z, 0-9 and inner hyphens")
    elif len(labels[-1]) < 2:
        problems.append("the last label of the host must have at least two characters")
    return problems


def uri_problems(uri: str, frontchannel: bool, allow_loopback: bool = False) -> list[str]:
    """Why an endpoint URI breaks the MedMij Frontchannel/Backchannel URI rules (LIST-SEM-02)."""
    if uri != uri.strip() or any(c.isspace() for c in uri):
        return ["URI contains whitespace"]
    parts = _split_uri(uri)
    if parts is None:
        return ["not an absolute URI"]
    problems = []
    if parts["scheme"] != "https":
        problems.append(f"scheme must be https (got {parts['scheme']!r})")
    if parts["userinfo"]:
        problems.append("URI must not contain user information")
    loopback_ok = allow_loopback and is_loopback(parts["host"])
    if not loopback_ok:
        problems += hostname_problems(parts["host"])
        if parts["port"]:
            if frontchannel:
                problems.append("a frontchannel URI must not carry a port")
            elif not re.fullmatch(r"\d{1,5}", parts["port"]):
                problems.append(f"port must be 1 to 5 digits (got {parts['port']!r})")
    if parts["query"]:
        problems.append("URI must not have a query")
    if parts["fragment"]:
        problems.append("URI must not have a fragment")
    path = parts["path"]
    if path.endswith("/"):
        problems.append("URI must not end with a slash")
    elif "//" in path:
        problems.append("URI path must not contain empty segments")
    return problems


# -- semantics ---------------------------------------------------------------------------------

_DATETIME_TZ = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(?P<tz>Z|[+-]\d{2}:\d{2})?$")

# Naming policy (§2.10): segments joined by '-', '&' or '.', then '@medmij'; a segment is one or
# more fragments; a fragment is one or more a-z followed by at most four digits. Written without
# nested ambiguous quantifiers, so matching stays linear.
_SEGMENT = r"[a-z]+(?:[0-9]{1,4}[a-z]+)*[0-9]{0,4}"
ZORGAANBIEDERNAAM = re.compile(rf"^{_SEGMENT}(?:[-&.]{_SEGMENT})*@medmij$")


def check_timestamp_volgnummer(doc: ListDocument, previous: ListDocument | None = None) -> list[Finding]:
    """LIST-SEM-01."""
    out: list[Finding] = []
    req = "LIST-SEM-01"
    ts = doc.tijdstempel
    if ts is not None:
        m = _DATETIME_TZ.match(ts.value)
        if m is None:
            out.append(Finding(req, ERROR, f"Tijdstempel {ts.value!r} is not an xs:dateTime", doc.source, ts.line))
        elif not m.group("tz"):
            out.append(Finding(req, ERROR, f"Tijdstempel {ts.value!r} has no timezone (add Z or an offset such as "
                                           "+01:00)", doc.source, ts.line))
        elif len(ts.value) < 20:
            out.append(Finding(req, ERROR, f"Tijdstempel {ts.value!r} is shorter than 20 characters",
                               doc.source, ts.line))
    vn = doc.volgnummer
    if vn is not None:
        if not re.fullmatch(r"\+?\d+", vn.value) or int(vn.value) < 1:
            out.append(Finding(req, ERROR, f"Volgnummer {vn.value!r} is not a positive integer", doc.source, vn.line))
        elif previous is not None and previous.volgnummer_int is not None:
            now, before = int(vn.value), previous.volgnummer_int
            if now < before:
                out.append(Finding(req, ERROR, f"Volgnummer {now} is lower than the previously seen {before} "
                                               f"(from {previous.source}); Volgnummer must increase",
                                   doc.source, vn.line))
            elif now == before and doc.digest != previous.digest:
                out.append(Finding(req, ERROR, f"content differs from the previously seen copy ({previous.source}) "
                                               f"but Volgnummer stayed {now}; every republication increments it",
                                   doc.source, vn.line))
    return out


def check_endpoint_uris(doc: ListDocument, options: CheckOptions) -> list[Finding]:
    """LIST-SEM-02."""
    out: list[Finding] = []
    if not isinstance(doc.content, M.Zal):
        return out
    for za in doc.content.zorgaanbieders:
        for iv in za.interfaceversies:
            for gd in iv.gegevensdiensten:
                for role, val in gd.endpoint_values():
                    front = role == "AuthorizationEndpointuri"
                    problems = uri_problems(val.value, front, options.allow_loopback)
                    if problems:
                        channel = "frontchannel" if front else "backchannel"
                        out.append(Finding("LIST-SEM-02", ERROR,
                                           f"{role} {val.value!r} is not a valid {channel} URI: " + "; ".join(problems),
                                           doc.source, val.line))
    return out


def check_zorgaanbiedernamen(doc: ListDocument) -> list[Finding]:
    """LIST-SEM-05 (ZAL and ZAKL)."""
    out: list[Finding] = []
    if not isinstance(doc.content, (M.Zal, M.Zakl)):
        return out
    seen: dict[str, int | None] = {}
    for za in doc.content.zorgaanbieders:
        if za.naam is None:
            continue
        name = za.naam.value
        if not ZORGAANBIEDERNAAM.match(name):
            out.append(Finding("LIST-SEM-05", ERROR,
                               f"Zorgaanbiedernaam {name!r} does not follow the naming policy (lowercase segments of "
                               "letters with at most 4 digits per fragment, joined by '-', '&' or '.', then '@medmij')",
                               doc.source, za.naam.line))
        key = name.lower()
        if key in seen:
            out.append(Finding("LIST-SEM-05", ERROR,
                               f"Zorgaanbiedernaam {name!r} occurs more than once (first on line {seen[key]})",
                               doc.source, za.naam.line))
        else:
            seen[key] = za.naam.line
    return out


def check_aanbiedertype(doc: ListDocument, options: CheckOptions) -> list[Finding]:
    """LIST-SEM-06 (ZAL release3)."""
    out: list[Finding] = []
    if not isinstance(doc.content, M.Zal):
        return out
    allowed = sorted(options.aanbiedertypes)
    for za in doc.content.zorgaanbieders:
        t = za.aanbiedertype
        if t is None:
            continue
        if t.value in options.aanbiedertypes:
            continue
        who = za.naam.value if za.naam else "?"
        if t.value in options.pending_aanbiedertypes:
            out.append(Finding("LIST-SEM-06", WARNING,
                               f"Aanbiedertype {t.value!r} of {who} is proposed (PGO-koppelvlak) but not adopted; "
                               f"allowed: {', '.join(allowed)} (accept it with --aanbiedertype {t.value})",
                               doc.source, t.line))
        else:
            out.append(Finding("LIST-SEM-06", ERROR,
                               f"Aanbiedertype {t.value!r} of {who} is not one of: {', '.join(allowed)}",
                               doc.source, t.line))
    return out


def check_whitelisted(docs: list[ListDocument], whitelists: list[ListDocument]) -> list[Finding]:
    """LIST-SEM-03: every ZAL endpoint host and every OCL Hostname is on the Whitelist."""
    allowed = {h.value.lower() for w in whitelists for h in w.content.hostnames}  # type: ignore[union-attr]
    names = ", ".join(w.source for w in whitelists)
    out: list[Finding] = []
    for doc in docs:
        missing: dict[str, tuple[str, int | None, int]] = {}
        if isinstance(doc.content, M.Zal):
            for za in doc.content.zorgaanbieders:
                for iv in za.interfaceversies:
                    for gd in iv.gegevensdiensten:
                        for role, val in gd.endpoint_values():
                            host = host_of(val.value)
                            if host and host not in allowed:
                                what, line, n = missing.get(host, (role, val.line, 0))
                                missing[host] = (what, line, n + 1)
        elif isinstance(doc.content, M.Ocl):
            for c in doc.content.clients:
                if c.hostname is not None and c.hostname.value.lower() not in allowed:
                    host = c.hostname.value.lower()
                    what, line, n = missing.get(host, ("OAuthclient Hostname", c.hostname.line, 0))
                    missing[host] = (what, line, n + 1)
        for host, (what, line, n) in missing.items():
            more = f" ({n} occurrences)" if n > 1 else ""
            out.append(Finding("LIST-SEM-03", WARNING,
                               f"host {host!r} ({what}){more} is not on the Whitelist ({names})", doc.source, line))
    return out


def check_known_gegevensdiensten(docs: list[ListDocument], gnls: list[ListDocument]) -> list[Finding]:
    """LIST-SEM-04: every GegevensdienstId used in ZAL (and ZAKL) exists in the GNL."""
    known: set[str] = set()
    for g in gnls:
        known |= set(g.content.ids())  # type: ignore[union-attr]
    names = ", ".join(g.source for g in gnls)
    out: list[Finding] = []
    for doc in docs:
        missing: dict[str, tuple[int | None, int]] = {}
        ids: list[M.Value] = []
        if isinstance(doc.content, M.Zal):
            ids = [gd.id for za in doc.content.zorgaanbieders for iv in za.interfaceversies
                   for gd in iv.gegevensdiensten if gd.id is not None]
        elif isinstance(doc.content, M.Zakl):
            ids = [gd.id for za in doc.content.zorgaanbieders for gd in za.gegevensdiensten if gd.id is not None]
        for v in ids:
            if v.value not in known:
                line, n = missing.get(v.value, (v.line, 0))
                missing[v.value] = (line, n + 1)
        for gid, (line, n) in missing.items():
            more = f" ({n} occurrences)" if n > 1 else ""
            out.append(Finding("LIST-SEM-04", WARNING,
                               f"GegevensdienstId {gid!r}{more} is not in the Gegevensdienstnamenlijst ({names})",
                               doc.source, line))
    return out


XML_CONTENT_TYPE = re.compile(r"^(application|text)/([a-z0-9.+-]+\+)?xml$")


def check_http(doc: ListDocument) -> list[Finding]:
    """LIST-HTTP-01: served over HTTPS at .../MedMij_<List>.xml?api=<major> with an XML content type."""
    if doc.http is None:
        return []
    out: list[Finding] = []
    req = "LIST-HTTP-01"
    url = urlsplit(doc.http.url)
    if url.scheme != "https":
        out.append(Finding(req, ERROR, f"list is served over {url.scheme!r}, not https", doc.source))
    expected = K.KINDS[doc.kind].filename
    if not url.path.endswith("/" + expected):
        out.append(Finding(req, ERROR, f"URL path {url.path!r} does not end in /{expected}", doc.source))
    api = parse_qs(url.query).get("api")
    if not api or not re.fullmatch(r"\d+", api[0]):
        out.append(Finding(req, ERROR, "URL has no ?api=<major> version parameter", doc.source))
    ctype = (doc.http.content_type or "").split(";")[0].strip().lower()
    if not XML_CONTENT_TYPE.match(ctype):
        out.append(Finding(req, ERROR, f"Content-Type {doc.http.content_type!r} is not an XML media type "
                                       "(application/xml or text/xml)", doc.source))
    return out


# -- all together ------------------------------------------------------------------------------


def check_lists(
    documents: Iterable[ListDocument | DocumentReport],
    previous: Iterable[ListDocument] = (),
    options: CheckOptions | None = None,
) -> ListReport:
    """Check each document on its own, against previously seen copies, and against each other."""
    options = options or CheckOptions()
    reports = [d if isinstance(d, DocumentReport) else DocumentReport(d.source, d) for d in documents]
    docs = [r.document for r in reports if r.document is not None]
    # a previous copy is compared with a list of the same kind and namespace (list API version)
    prev_by_kind: dict[tuple[str, str | None], ListDocument] = {}
    for p in previous:
        prev_by_kind[(p.kind, p.namespace)] = p
    findings: list[Finding] = []
    applicable: set[str] = set()
    for r in reports:
        if r.read_error is not None and r.read_error.category == "xml" and r.read_error.kind:
            # a list that was fetched but is not well-formed (or hostile) fails its schema requirement
            req = K.KINDS[r.read_error.kind].xsd_requirement
            p = r.read_error.problems[0]
            findings.append(Finding(req, ERROR, p.message, r.source, p.line))
            applicable.add(req)
    for doc in docs:
        applicable |= {K.KINDS[doc.kind].xsd_requirement, "LIST-SEM-01"}
        findings += validate_schema(doc, options)
        findings += check_timestamp_volgnummer(doc, prev_by_kind.get((doc.kind, doc.namespace)))
        if doc.kind == "zal":
            applicable |= {"LIST-SEM-02", "LIST-SEM-05"}
            if doc.release is not None and doc.release.release != "release2":
                applicable.add("LIST-SEM-06")
            findings += check_endpoint_uris(doc, options)
            findings += check_aanbiedertype(doc, options)
        if doc.kind in ("zal", "zakl"):
            applicable.add("LIST-SEM-05")
            findings += check_zorgaanbiedernamen(doc)
        if doc.http is not None:
            applicable.add("LIST-HTTP-01")
            findings += check_http(doc)
    whitelists = [d for d in docs if d.kind == "whitelist"]
    users = [d for d in docs if d.kind in ("zal", "ocl")]
    if whitelists and users:
        applicable.add("LIST-SEM-03")
        findings += check_whitelisted(users, whitelists)
    gnls = [d for d in docs if d.kind == "gnl"]
    gd_users = [d for d in docs if d.kind in ("zal", "zakl")]
    if gnls and gd_users:
        applicable.add("LIST-SEM-04")
        findings += check_known_gegevensdiensten(gd_users, gnls)
    order = {r.source: i for i, r in enumerate(reports)}
    findings.sort(key=lambda f: (order.get(f.source, 99), f.line or 0))
    return ListReport(reports, findings, applicable, options)


def utcnow_tijdstempel() -> str:
    """A Tijdstempel value for now, with timezone and milliseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
