"""The MedMij list kinds, their releases, namespaces, schema files and requirement IDs."""

from __future__ import annotations

from dataclasses import dataclass

NS_PREFIX = "xmlns://afsprakenstelsel.medmij.nl/"


@dataclass(frozen=True)
class Release:
    kind: str  # zal | ocl | whitelist | gnl | zakl
    release: str  # e.g. release3, or release2-2018 for the old Whitelist shape
    namespace: str
    xsd: str  # file name under validatiestraat/lists/xsd/


@dataclass(frozen=True)
class Kind:
    key: str
    root: str  # root element local name
    title: str
    filename: str  # published file name, served at .../<filename>?api=<major>
    xsd_requirement: str  # the LIST-XSD-* requirement its schema findings belong to


KINDS: dict[str, Kind] = {
    "zal": Kind("zal", "Zorgaanbiederslijst", "Zorgaanbiederslijst (ZAL)", "MedMij_Zorgaanbiederslijst.xml", "LIST-XSD-01"),
    "ocl": Kind("ocl", "OAuthclientlist", "OAuth Client List (OCL)", "MedMij_OAuthclientlist.xml", "LIST-XSD-02"),
    "whitelist": Kind("whitelist", "Whitelist", "Whitelist", "MedMij_Whitelist.xml", "LIST-XSD-03"),
    "gnl": Kind("gnl", "Gegevensdienstnamenlijst", "Gegevensdienstnamenlijst (GNL)",
                "MedMij_Gegevensdienstnamenlijst.xml", "LIST-XSD-04"),
    # The catalogue has no requirement of its own for the koppellijst; it is the ZAL's companion.
    "zakl": Kind("zakl", "Zorgaanbiederskoppellijst", "Zorgaanbiederskoppellijst (ZAKL)",
                 "MedMij_Zorgaanbiederskoppellijst.xml", "LIST-XSD-01"),
}

ROOTS: dict[str, str] = {k.root: k.key for k in KINDS.values()}

RELEASES: list[Release] = [
    Release("zal", "release2", NS_PREFIX + "zorgaanbiederslijst/release2/", "zal-release2.xsd"),
    Release("zal", "release3", NS_PREFIX + "zorgaanbiederslijst/release3/", "zal-release3.xsd"),
    Release("ocl", "release2", NS_PREFIX + "oauthclientlist/release2/", "ocl-release2.xsd"),
    Release("whitelist", "release2", NS_PREFIX + "whitelist/release2/", "whitelist-release2.xsd"),
    Release("whitelist", "release2-2018", NS_PREFIX + "whitelist/release2/", "whitelist-release2-2018.xsd"),
    Release("gnl", "release1", NS_PREFIX + "gegevensdienstnamenlijst/release1/", "gnl-release1.xsd"),
    Release("zakl", "release1", NS_PREFIX + "Zorgaanbiederskoppellijst/release1/", "zakl-release1.xsd"),
]

# Aliases accepted for --kind / kind:
KIND_ALIASES = {
    "zal": "zal", "zorgaanbiederslijst": "zal", "aanbiederslijst": "zal",
    "ocl": "ocl", "oauthclientlist": "ocl",
    "whitelist": "whitelist", "wl": "whitelist",
    "gnl": "gnl", "gegevensdienstnamenlijst": "gnl",
    "zakl": "zakl", "zkl": "zakl", "zorgaanbiederskoppellijst": "zakl",
}

SEM_REQUIREMENTS = ("LIST-SEM-01", "LIST-SEM-02", "LIST-SEM-03", "LIST-SEM-04", "LIST-SEM-05", "LIST-SEM-06")
XSD_REQUIREMENTS = ("LIST-XSD-01", "LIST-XSD-02", "LIST-XSD-03", "LIST-XSD-04")
HTTP_REQUIREMENTS = ("LIST-HTTP-01",)
ALL_REQUIREMENTS = XSD_REQUIREMENTS + SEM_REQUIREMENTS + HTTP_REQUIREMENTS

#: requirements marked ⚠ (uncertain) in the catalogue: their findings are warnings
UNCERTAIN = frozenset({"LIST-SEM-03", "LIST-SEM-04"})


def releases_for(namespace: str) -> list[Release]:
    return [r for r in RELEASES if r.namespace == namespace]


def normalise_kind(name: str) -> str | None:
    return KIND_ALIASES.get(name.strip().lower())


def list_path(kind: str, api: int | str = 2) -> str:
    """The published path of a list, e.g. ``/MedMij_Zorgaanbiederslijst.xml?api=2``."""
    return f"/{KINDS[kind].filename}?api={api}"
