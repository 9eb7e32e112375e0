"""Publishing lists: the reference DVA's own ZAL (release3), OCL, Whitelist and GNL.

:func:`build_lists` writes four consistent lists describing one aanbieder and the suite's
client(s), plus fault variants for testing list consumers (a PGO under test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from lxml import etree

from validatiestraat.lists import kinds as K
from validatiestraat.lists.checks import host_of, utcnow_tijdstempel

NS = {r.kind: r.namespace for r in K.RELEASES if r.release in ("release3", "release2", "release1")}
NS["zal"] = K.NS_PREFIX + "zorgaanbiederslijst/release3/"


def _root(kind: str, tijdstempel: str, volgnummer: int, swap_header: bool) -> Any:
    root = etree.Element(f"{{{NS[kind]}}}{K.KINDS[kind].root}", nsmap={None: NS[kind]})
    first, second = ("Volgnummer", str(volgnummer)), ("Tijdstempel", tijdstempel)
    for name, val in ((first, second) if swap_header else (second, first)):
        _sub(root, kind, name, val)
    return root


def _sub(parent: Any, kind: str, name: str, text: str | None = None) -> Any:
    el = etree.SubElement(parent, f"{{{NS[kind]}}}{name}")
    if text is not None:
        el.text = text
    return el


def _bytes(root: Any) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_lists(
    aanbieder_name: str,
    endpoints: Mapping[str, Any],
    clients: Iterable[tuple[str, str]],
    gegevensdiensten: Mapping[str | int, str],
    interfaceversie: str = "2.2.4",
    volgnummer: int = 1,
    hostnames: Iterable[str] = (),
    *,
    aanbiedertype: str = "ZA",
    systeemrol: str = "MM-2.1-BZB-FHIR",
    tijdstempel: str | None = None,
    break_schema: bool | str = False,
    missing_from_whitelist: bool | str = False,
    decreasing_volgnummer: bool = False,
) -> dict[str, bytes]:
    """Four consistent lists: ``{"zal": ..., "ocl": ..., "whitelist": ..., "gnl": ...}`` (XML bytes).

    - ``aanbieder_name``: MedMij name, with or without ``@medmij`` (e.g. ``umcvalidatie``).
    - ``endpoints``: ``authorization``, ``token``, ``resource`` URIs (the same for every
      gegevensdienst); ``resource`` may also be a dict Systeemrolcode -> URI. Optional
      ``subscription`` (with ``maximale_duur``, default 365) adds Abonneren.
    - ``clients``: (hostname, OAuthclientOrganisatienaam) pairs for the OCL.
    - ``gegevensdiensten``: GegevensdienstId -> Weergavenaam (GNL; the ZAL offers all of them).
    - ``hostnames``: extra Whitelist entries (e.g. the list host); the Whitelist always holds
      every endpoint host and every client hostname.

    Fault variants (keyword options; several may be combined):

    - ``break_schema``: True (the ZAL) or a kind: Volgnummer is put before Tijdstempel, which
      breaks the element order of the schema;
    - ``missing_from_whitelist``: True (the host of the resource endpoint) or a hostname that
      is left out of the Whitelist;
    - ``decreasing_volgnummer``: every list carries ``volgnummer - 1`` (so serve ``volgnummer``
      first, then this variant; needs ``volgnummer >= 2``).
    """
    if volgnummer < 1:
        raise ValueError("volgnummer must be a positive integer")
    if decreasing_volgnummer:
        if volgnummer < 2:
            raise ValueError("decreasing_volgnummer needs volgnummer >= 2 (the list it decreases from)")
        volgnummer -= 1
    ts = tijdstempel or utcnow_tijdstempel()
    broken = {"zal"} if break_schema is True else ({str(break_schema)} if break_schema else set())
    naam = aanbieder_name.strip().lower()
    if not naam.endswith("@medmij"):
        naam += "@medmij"
    resource = endpoints["resource"]
    resources: dict[str, str] = dict(resource) if isinstance(resource, Mapping) else {systeemrol: str(resource)}
    clients = list(clients)
    out: dict[str, bytes] = {}

    # ZAL release3
    zal = _root("zal", ts, volgnummer, "zal" in broken)
    za = _sub(_sub(zal, "zal", "Zorgaanbieders"), "zal", "Zorgaanbieder")
    _sub(za, "zal", "Zorgaanbiedernaam", naam)
    _sub(za, "zal", "Aanbiedertype", aanbiedertype)
    iv = _sub(_sub(za, "zal", "Interfaceversies"), "zal", "Interfaceversie")
    _sub(iv, "zal", "InterfaceversieId", str(interfaceversie))
    gds = _sub(iv, "zal", "Gegevensdiensten")
    for gid in gegevensdiensten:
        gd = _sub(gds, "zal", "Gegevensdienst")
        _sub(gd, "zal", "GegevensdienstId", str(gid))
        _sub(_sub(gd, "zal", "AuthorizationEndpoint"), "zal", "AuthorizationEndpointuri", str(endpoints["authorization"]))
        _sub(_sub(gd, "zal", "TokenEndpoint"), "zal", "TokenEndpointuri", str(endpoints["token"]))
        if endpoints.get("subscription"):
            ab = _sub(gd, "zal", "Abonneren")
            _sub(ab, "zal", "MaximaleDuur", str(endpoints.get("maximale_duur", 365)))
            _sub(ab, "zal", "SubscriptionEndpointuri", str(endpoints["subscription"]))
        rollen = _sub(gd, "zal", "Systeemrollen")
        for code, uri in resources.items():
            rol = _sub(rollen, "zal", "Systeemrol")
            _sub(rol, "zal", "Systeemrolcode", code)
            _sub(_sub(rol, "zal", "ResourceEndpoint"), "zal", "ResourceEndpointuri", uri)
    out["zal"] = _bytes(zal)

    # OCL release2
    ocl = _root("ocl", ts, volgnummer, "ocl" in broken)
    ocs = _sub(ocl, "ocl", "OAuthclients")
    for hostname, organisatie in clients:
        oc = _sub(ocs, "ocl", "OAuthclient")
        _sub(oc, "ocl", "Hostname", hostname.lower())
        _sub(oc, "ocl", "OAuthclientOrganisatienaam", organisatie)
    out["ocl"] = _bytes(ocl)

    # Whitelist (current shape)
    hosts: list[str] = []
    uris = [endpoints["authorization"], endpoints["token"], *resources.values()]
    if endpoints.get("subscription"):
        uris.append(endpoints["subscription"])
    for h in [host_of(str(u)) for u in uris] + [c[0].lower() for c in clients] + [h.lower() for h in hostnames]:
        if h and h not in hosts:
            hosts.append(h)
    if missing_from_whitelist:
        drop = (host_of(next(iter(resources.values()))) if missing_from_whitelist is True
                else str(missing_from_whitelist).lower())
        hosts = [h for h in hosts if h != drop]
    wl = _root("whitelist", ts, volgnummer, "whitelist" in broken)
    nodes = _sub(wl, "whitelist", "MedMijNodes")
    for h in hosts:
        _sub(_sub(nodes, "whitelist", "MedMijNode"), "whitelist", "Hostname", h)
    out["whitelist"] = _bytes(wl)

    # GNL release1
    gnl = _root("gnl", ts, volgnummer, "gnl" in broken)
    gnl_gds = _sub(gnl, "gnl", "Gegevensdiensten")
    for gid, naam_gd in gegevensdiensten.items():
        gd = _sub(gnl_gds, "gnl", "Gegevensdienst")
        _sub(gd, "gnl", "GegevensdienstId", str(gid))
        _sub(gd, "gnl", "Weergavenaam", naam_gd)
    out["gnl"] = _bytes(gnl)
    return out


#: where each list is served (add ?api=<major>)
LIST_PATHS: dict[str, str] = {kind: "/" + K.KINDS[kind].filename for kind in ("zal", "ocl", "whitelist", "gnl")}


def list_for_path(lists: Mapping[str, bytes], path: str) -> bytes | None:
    """The list a request path asks for (``/MedMij_Whitelist.xml`` -> lists["whitelist"]), or None."""
    path = urlsplit(path).path
    for kind, p in LIST_PATHS.items():
        if path == p and kind in lists:
            return lists[kind]
    return None


def write_lists(lists: Mapping[str, bytes], directory: Path) -> dict[str, Path]:
    """Write the lists under their published file names; returns kind -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, data in lists.items():
        path = directory / K.KINDS[kind].filename
        path.write_bytes(data)
        written[kind] = path
    return written


def reference_lists(dva: Any, *, volgnummer: int = 2, break_schema: bool | str = False,
                    missing_from_whitelist: bool | str = False, decreasing_volgnummer: bool = False) -> dict[str, bytes]:
    """The lists of a running :class:`validatiestraat.reference.server.ReferenceDVA`.

    The ZAL offers every gegevensdienst of the reference aanbieder at its authorization, token
    and resource endpoints; the OCL holds its OAuth clients; the GNL its gegevensdiensten; the
    Whitelist every host. Its hosts are loopback hosts with ports, so check these lists with
    ``CheckOptions(allow_loopback=True)`` (the ``lists.check`` step does so by itself when the
    lists are served from a loopback host).
    """
    from validatiestraat.reference import oauth as ref  # local: the lists package does not need the server

    target = dva.target_dict()
    offered = getattr(ref, "OFFERED_GEGEVENSDIENSTEN", None) or set(ref.GNL)
    gnl = {gid: name for gid, name in ref.GNL.items() if gid in offered}
    return build_lists(
        ref.AANBIEDER,
        target["endpoints"],
        [(c.client_id, c.organisation_name) for c in ref.DEFAULT_OCL],
        gnl,
        volgnummer=volgnummer,
        break_schema=break_schema,
        missing_from_whitelist=missing_from_whitelist,
        decreasing_volgnummer=decreasing_volgnummer,
    )
