"""Read the content of a list into plain data classes, remembering source lines.

The readers are tolerant: they work on documents that failed schema validation too (missing
elements become ``None``), so semantic checks and cross-list checks still say something useful.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from lxml import etree


def localname(el: Any) -> str:
    if not isinstance(el.tag, str):
        return ""
    return etree.QName(el).localname


def children(el: Any, name: str) -> Iterator[Any]:
    if el is None:
        return
    for c in el:
        if localname(c) == name:
            yield c


def child(el: Any, name: str) -> Any:
    return next(children(el, name), None)


def text(el: Any) -> str | None:
    if el is None:
        return None
    return (el.text or "").strip()


def path_child(el: Any, *names: str) -> Any:
    for name in names:
        el = child(el, name)
        if el is None:
            return None
    return el


@dataclass
class Value:
    """A text value with the line it was found on."""

    value: str
    line: int | None

    def __str__(self) -> str:
        return self.value


def value(el: Any) -> Value | None:
    if el is None:
        return None
    return Value(text(el) or "", el.sourceline)


@dataclass
class Systeemrol:
    code: Value | None
    resource: Value | None
    line: int | None


@dataclass
class ZalGegevensdienst:
    id: Value | None
    authorization: Value | None
    token: Value | None
    subscription: Value | None
    maximale_duur: Value | None
    systeemrollen: list[Systeemrol]
    line: int | None

    def endpoint_values(self) -> list[tuple[str, Value]]:
        """(role, value) of every endpoint URI: role is frontchannel or backchannel."""
        out: list[tuple[str, Value]] = []
        if self.authorization is not None:
            out.append(("AuthorizationEndpointuri", self.authorization))
        if self.token is not None:
            out.append(("TokenEndpointuri", self.token))
        if self.subscription is not None:
            out.append(("SubscriptionEndpointuri", self.subscription))
        for rol in self.systeemrollen:
            if rol.resource is not None:
                out.append(("ResourceEndpointuri", rol.resource))
        return out


@dataclass
class ZalInterfaceversie:
    id: Value | None  # None for release2 lists, which have no interfaceversies
    gegevensdiensten: list[ZalGegevensdienst]
    line: int | None


@dataclass
class Zorgaanbieder:
    naam: Value | None
    aanbiedertype: Value | None
    vertegenwoordiging: Value | None
    interfaceversies: list[ZalInterfaceversie]
    line: int | None


@dataclass
class Zal:
    zorgaanbieders: list[Zorgaanbieder]

    def find(self, naam: str) -> Zorgaanbieder | None:
        for za in self.zorgaanbieders:
            if za.naam is not None and za.naam.value == naam:
                return za
        return None


@dataclass
class OAuthclient:
    hostname: Value | None
    organisatienaam: Value | None
    line: int | None


@dataclass
class Ocl:
    clients: list[OAuthclient]


@dataclass
class WhitelistContent:
    hostnames: list[Value]
    old_shape: bool = False


@dataclass
class GnlEntry:
    id: Value | None
    weergavenaam: Value | None
    line: int | None


@dataclass
class Gnl:
    entries: list[GnlEntry]

    def ids(self) -> dict[str, str]:
        return {e.id.value: (e.weergavenaam.value if e.weergavenaam else "") for e in self.entries if e.id}


@dataclass
class ZaklGegevensdienst:
    id: Value | None
    weergavenaam: Value | None
    interfaceversies: list[Value]
    line: int | None


@dataclass
class ZaklAanbieder:
    naam: Value | None
    kenmerken: list[tuple[str, Value]]
    gegevensdiensten: list[ZaklGegevensdienst]
    line: int | None


@dataclass
class Zakl:
    zorgaanbieders: list[ZaklAanbieder] = field(default_factory=list)


Content = Zal | Ocl | WhitelistContent | Gnl | Zakl


def _zal_gegevensdienst(el: Any) -> ZalGegevensdienst:
    rollen = []
    for rol in children(child(el, "Systeemrollen"), "Systeemrol"):
        rollen.append(
            Systeemrol(
                code=value(child(rol, "Systeemrolcode")),
                resource=value(path_child(rol, "ResourceEndpoint", "ResourceEndpointuri")),
                line=rol.sourceline,
            )
        )
    return ZalGegevensdienst(
        id=value(child(el, "GegevensdienstId")),
        authorization=value(path_child(el, "AuthorizationEndpoint", "AuthorizationEndpointuri")),
        token=value(path_child(el, "TokenEndpoint", "TokenEndpointuri")),
        subscription=value(path_child(el, "Abonneren", "SubscriptionEndpointuri")),
        maximale_duur=value(path_child(el, "Abonneren", "MaximaleDuur")),
        systeemrollen=rollen,
        line=el.sourceline,
    )


def read_zal(root: Any) -> Zal:
    out = []
    for za in children(child(root, "Zorgaanbieders"), "Zorgaanbieder"):
        versies: list[ZalInterfaceversie] = []
        ivs = child(za, "Interfaceversies")
        if ivs is not None:  # release3
            for iv in children(ivs, "Interfaceversie"):
                diensten = [_zal_gegevensdienst(g) for g in children(child(iv, "Gegevensdiensten"), "Gegevensdienst")]
                versies.append(ZalInterfaceversie(value(child(iv, "InterfaceversieId")), diensten, iv.sourceline))
        else:  # release2: gegevensdiensten directly under the zorgaanbieder
            gds = child(za, "Gegevensdiensten")
            diensten = [_zal_gegevensdienst(g) for g in children(gds, "Gegevensdienst")]
            versies.append(ZalInterfaceversie(None, diensten, gds.sourceline if gds is not None else za.sourceline))
        out.append(
            Zorgaanbieder(
                naam=value(child(za, "Zorgaanbiedernaam")),
                aanbiedertype=value(child(za, "Aanbiedertype")),
                vertegenwoordiging=value(child(za, "Vertegenwoordiging")),
                interfaceversies=versies,
                line=za.sourceline,
            )
        )
    return Zal(out)


def read_ocl(root: Any) -> Ocl:
    return Ocl(
        [
            OAuthclient(value(child(c, "Hostname")), value(child(c, "OAuthclientOrganisatienaam")), c.sourceline)
            for c in children(child(root, "OAuthclients"), "OAuthclient")
        ]
    )


def read_whitelist(root: Any) -> WhitelistContent:
    hosts: list[Value] = []
    old = False
    for node in children(child(root, "MedMijNodes"), "MedMijNode"):
        h = child(node, "Hostname")
        if h is not None:
            hosts.append(Value(text(h) or "", h.sourceline))
        elif len(node) == 0:
            old = True
            hosts.append(Value(text(node) or "", node.sourceline))
    return WhitelistContent(hosts, old)


def whitelist_is_old_shape(root: Any) -> bool:
    """True when MedMijNode elements carry the hostname as text (the 2018 shape)."""
    nodes = list(children(child(root, "MedMijNodes"), "MedMijNode"))
    if not nodes:
        return False
    with_children = sum(1 for n in nodes if any(isinstance(c.tag, str) for c in n))
    return with_children == 0


def read_gnl(root: Any) -> Gnl:
    return Gnl(
        [
            GnlEntry(value(child(g, "GegevensdienstId")), value(child(g, "Weergavenaam")), g.sourceline)
            for g in children(child(root, "Gegevensdiensten"), "Gegevensdienst")
        ]
    )


def read_zakl(root: Any) -> Zakl:
    out = []
    for za in children(child(root, "Zorgaanbieders"), "Zorgaanbieder"):
        kenmerken = []
        for ik in children(child(za, "IdentificerendeKenmerken"), "IdentificerendKenmerk"):
            for c in ik:
                if isinstance(c.tag, str):
                    kenmerken.append((localname(c), Value(text(c) or "", c.sourceline)))
        diensten = []
        for g in children(child(za, "Gegevensdiensten"), "Gegevensdienst"):
            versies = [
                v for v in (value(child(iv, "InterfaceversieId"))
                            for iv in children(child(g, "Interfaceversies"), "Interfaceversie")) if v
            ]
            diensten.append(ZaklGegevensdienst(value(child(g, "GegevensdienstId")), value(child(g, "Weergavenaam")),
                                               versies, g.sourceline))
        out.append(ZaklAanbieder(value(child(za, "Zorgaanbiedernaam")), kenmerken, diensten, za.sourceline))
    return Zakl(out)


READERS = {"zal": read_zal, "ocl": read_ocl, "whitelist": read_whitelist, "gnl": read_gnl, "zakl": read_zakl}
