"""Using the lists the way a PGO does: find endpoints in the ZAL, enforce the Whitelist.

- :func:`resolve_endpoints` finds the authorization, token and resource endpoints of an
  aanbieder, gegevensdienst and interfaceversie in a ZAL;
- :class:`Whitelist` answers ``allows(url)``;
- :func:`resolve_target_lists` does both for the ``lists:`` section of a target file.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from validatiestraat.errors import UserError
from validatiestraat.lists import model as M
from validatiestraat.lists.checks import ListDocument, host_of, load_document
from validatiestraat.lists.fetch import FetchOptions, load_list, load_list_async


class ListResolutionError(UserError):
    """The requested aanbieder/gegevensdienst/interfaceversie combination is not on the list."""


# -- Whitelist -------------------------------------------------------------------------------


class Whitelist:
    """The set of MedMij node hostnames a PGO (or the suite acting as one) may contact."""

    def __init__(self, hostnames: Iterable[str], source: str = "<memory>", volgnummer: int | None = None):
        self.hostnames = frozenset(h.strip().lower().rstrip(".") for h in hostnames if h and h.strip())
        self.source = source
        self.volgnummer = volgnummer

    @classmethod
    def from_document(cls, doc: ListDocument) -> "Whitelist":
        if not isinstance(doc.content, M.WhitelistContent):
            raise UserError(f"{doc.source}: not a Whitelist (it is a {doc.kind})")
        return cls((h.value for h in doc.content.hostnames), doc.source, doc.volgnummer_int)

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<memory>") -> "Whitelist":
        return cls.from_document(load_document(data, source))

    @classmethod
    def load(cls, source: str | Path, options: FetchOptions | None = None) -> "Whitelist":
        """From a file or an http(s) URL (TLS verified against ``options.trust``)."""
        return cls.from_document(load_list(source, options, kind="whitelist"))

    @classmethod
    async def load_async(cls, source: str, options: FetchOptions | None = None) -> "Whitelist":
        return cls.from_document(await load_list_async(source, options, kind="whitelist"))

    def allows(self, url: str) -> bool:
        """True when the host of ``url`` (or ``url`` itself, if it is a bare hostname) is listed.

        Hostnames compare case-insensitively and exactly: no wildcards, no parent domains; the
        port is ignored (the Whitelist lists hosts, not services).
        """
        host = _host(url)
        return bool(host) and host in self.hostnames

    def refusal(self, url: str) -> str | None:
        """None when allowed, else a one-line reason for a finding."""
        if self.allows(url):
            return None
        return f"host {_host(url)!r} is not on the MedMij Whitelist ({self.source})"

    def __contains__(self, url: str) -> bool:
        return self.allows(url)

    def __len__(self) -> int:
        return len(self.hostnames)

    def __repr__(self) -> str:
        return f"Whitelist({len(self.hostnames)} hosts from {self.source})"


def _host(url_or_host: str) -> str:
    s = url_or_host.strip()
    if "://" in s:
        return host_of(s) or ""
    s = s.split("/", 1)[0]
    if s.startswith("["):
        return s[: s.find("]") + 1].lower()
    return s.rsplit(":", 1)[0].lower().rstrip(".") if s.count(":") == 1 else s.lower().rstrip(".")


# -- ZAL resolution --------------------------------------------------------------------------


def _version_key(v: str) -> tuple:
    parts = re.findall(r"\d+|[A-Za-z]+", v)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _listing(names: list[str], wanted: str, limit: int = 12) -> str:
    if len(names) <= limit:
        return ", ".join(names) if names else "(none)"
    close = difflib.get_close_matches(wanted, names, n=5, cutoff=0.5)
    hint = f"closest: {', '.join(close)}; " if close else ""
    return f"{hint}{len(names)} in total, e.g. {', '.join(names[:limit])}, ..."


def _as_zal(zal_document: Any) -> tuple[M.Zal, str]:
    if isinstance(zal_document, ListDocument):
        if not isinstance(zal_document.content, M.Zal):
            raise ListResolutionError(f"{zal_document.source}: not a Zorgaanbiederslijst (it is a {zal_document.kind})")
        return zal_document.content, zal_document.source
    if isinstance(zal_document, M.Zal):
        return zal_document, "<ZAL>"
    if isinstance(zal_document, (bytes, bytearray)):
        return _as_zal(load_document(bytes(zal_document), "<ZAL>"))
    if isinstance(zal_document, (str, Path)):
        return _as_zal(load_list(zal_document, kind="zal"))
    raise TypeError(f"cannot resolve endpoints from {type(zal_document).__name__}")


def resolve_endpoints(
    zal_document: Any,
    aanbieder: str,
    gegevensdienst: str | int,
    interfaceversie: str | None = None,
    *,
    systeemrol: str | None = None,
) -> dict[str, Any]:
    """Find the endpoints of one aanbieder, gegevensdienst and interfaceversie, as a PGO does.

    ``zal_document``: a :class:`ListDocument` (from :func:`load_list`), a parsed ``Zal``, the XML
    bytes, or a file path / URL. ``aanbieder`` may be given with or without ``@medmij``.
    ``interfaceversie`` None: the only one, or else the highest interfaceversie under which the
    aanbieder offers the gegevensdienst (release2 lists have no interfaceversies).
    ``systeemrol``: which Systeemrolcode's ResourceEndpoint to use; None: the first.

    Returns ``{"authorization", "token", "resource", "interfaceversie", "systeemrol",
    "resources" (Systeemrolcode -> URI), "subscription", "maximale_duur", "aanbieder",
    "aanbiedertype", "gegevensdienst"}``. Raises :class:`ListResolutionError` naming what the
    list does offer when the combination is not on it.
    """
    zal, source = _as_zal(zal_document)
    gid = str(gegevensdienst).strip()
    naam = aanbieder.strip().lower()
    if not naam.endswith("@medmij"):
        naam += "@medmij"
    za = zal.find(naam)
    if za is None:
        names = [z.naam.value for z in zal.zorgaanbieders if z.naam]
        raise ListResolutionError(f"aanbieder {naam!r} is not on the Zorgaanbiederslijst {source}; "
                                  f"on the list: {_listing(names, naam)}")
    offered = {(iv.id.value if iv.id else None): iv for iv in za.interfaceversies}

    def offer_text() -> str:
        rows = []
        for ver, iv in offered.items():
            ids = [g.id.value for g in iv.gegevensdiensten if g.id]
            rows.append(f"{ver or '(no interfaceversie)'}: gegevensdiensten {', '.join(ids) or '(none)'}")
        return "; ".join(rows) or "(nothing)"

    if interfaceversie is not None and any(v is not None for v in offered):
        iv = offered.get(str(interfaceversie))
        if iv is None:
            raise ListResolutionError(f"{naam} offers no interfaceversie {interfaceversie} on {source}; "
                                      f"offered: {offer_text()}")
        candidates = [iv]
    else:
        candidates = sorted(offered.values(), key=lambda v: _version_key(v.id.value if v.id else ""), reverse=True)
    chosen = None
    for iv in candidates:
        for gd in iv.gegevensdiensten:
            if gd.id is not None and gd.id.value == gid:
                chosen = (iv, gd)
                break
        if chosen:
            break
    if chosen is None:
        under = f" under interfaceversie {interfaceversie}" if interfaceversie and any(offered) else ""
        raise ListResolutionError(f"{naam} does not offer gegevensdienst {gid}{under} on {source}; "
                                  f"offered: {offer_text()}")
    iv, gd = chosen
    resources_by_code = {r.code.value: r.resource.value for r in gd.systeemrollen if r.code and r.resource}
    if systeemrol is not None:
        if systeemrol not in resources_by_code:
            raise ListResolutionError(f"gegevensdienst {gid} of {naam} has no Systeemrol {systeemrol!r}; "
                                      f"on the list: {', '.join(resources_by_code) or '(none)'}")
        resource, code = resources_by_code[systeemrol], systeemrol
    else:
        code, resource = next(iter(resources_by_code.items()), (None, None))
    missing = [name for name, v in (("AuthorizationEndpoint", gd.authorization), ("TokenEndpoint", gd.token),
                                    ("ResourceEndpoint", resource)) if v is None]
    if missing:
        raise ListResolutionError(f"gegevensdienst {gid} of {naam} (interfaceversie "
                                  f"{iv.id.value if iv.id else '-'}) on {source} has no {', '.join(missing)}")
    return {
        "authorization": gd.authorization.value,  # type: ignore[union-attr]
        "token": gd.token.value,  # type: ignore[union-attr]
        "resource": resource,
        "interfaceversie": iv.id.value if iv.id else None,
        "systeemrol": code,
        "resources": resources_by_code,
        "subscription": gd.subscription.value if gd.subscription else None,
        "maximale_duur": int(gd.maximale_duur.value) if gd.maximale_duur and gd.maximale_duur.value.isdigit() else None,
        "aanbieder": naam,
        "aanbiedertype": za.aanbiedertype.value if za.aanbiedertype else None,
        "gegevensdienst": gid,
    }


# -- the lists: section of a target file ------------------------------------------------------

#: JSON Schema of the ``lists:`` key of a target file (for validatiestraat.target.TARGET_SCHEMA).
TARGET_LISTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["zal"],
    "properties": {
        "zal": {"type": "string", "minLength": 1, "description": "ZAL file or URL to take the endpoints from"},
        "whitelist": {"type": "string", "minLength": 1,
                      "description": "Whitelist file or URL; when set, non-listed hosts are not contacted"},
        "interfaceversie": {"type": ["string", "number"]},
        "gegevensdienst": {"type": ["string", "integer"],
                           "description": "default: the first of the target's gegevensdiensten"},
        "systeemrol": {"type": "string"},
        "check": {"type": "boolean", "description": "validate the lists when loading (default true)"},
    },
}


@dataclass
class ResolvedLists:
    endpoints: dict[str, Any]  # authorization, token, resource, ... (see resolve_endpoints)
    whitelist: Whitelist | None
    zal: ListDocument
    whitelist_document: ListDocument | None = None
    problems: list[str] = field(default_factory=list)  # schema/semantic errors of the lists (when check)


def resolve_target_lists(
    lists: dict[str, Any],
    aanbieder: str,
    gegevensdiensten: list[str] | None = None,
    *,
    base_dir: Path = Path("."),
    options: FetchOptions | None = None,
) -> ResolvedLists:
    """Load the ZAL (and Whitelist) named in a target's ``lists:`` and resolve the endpoints.

    Relative file paths are taken relative to ``base_dir`` (the target file's folder).
    Raises UserError (ListReadError, ListResolutionError) with a clear message.
    """
    from validatiestraat.lists.checks import check_lists  # local: avoid a cycle at import time

    def where(src: str) -> str:
        if "://" in src or Path(src).is_absolute():
            return src
        return str(base_dir / src)

    zal = load_list(where(str(lists["zal"])), options, kind="zal")
    wl_doc = load_list(where(str(lists["whitelist"])), options, kind="whitelist") if lists.get("whitelist") else None
    gid = lists.get("gegevensdienst") or (gegevensdiensten[0] if gegevensdiensten else None)
    if gid is None:
        raise ListResolutionError("lists: name a gegevensdienst (or give the target gegevensdiensten)")
    iv = lists.get("interfaceversie")
    endpoints = resolve_endpoints(zal, aanbieder, gid, str(iv) if iv is not None else None,
                                  systeemrol=lists.get("systeemrol"))
    problems: list[str] = []
    if lists.get("check", True):
        from urllib.parse import urlsplit

        from validatiestraat.lists.checks import CheckOptions, is_loopback

        source = str(lists["zal"])
        # lists published by a local test DVA (the reference) carry loopback hosts with ports
        loopback = "://" in source and is_loopback(urlsplit(source).hostname or "")
        report = check_lists([d for d in (zal, wl_doc) if d is not None], options=CheckOptions(allow_loopback=loopback))
        problems = [str(f) for f in report.errors]
    return ResolvedLists(endpoints, Whitelist.from_document(wl_doc) if wl_doc else None, zal, wl_doc, problems)
