"""Loading conformance resources (StructureDefinition, ValueSet, CodeSystem) and resolving them by
canonical URL.

Sources, in order of precedence (first wins for the same canonical URL):

1. packages and directories given with ``--package`` (in the order given);
2. the bundled ``profiles/`` directory (``validatiestraat.profiles``): validatiestraat's own
   *essential* versions of the MedMij profiles.

A source is a directory (searched recursively), a single ``.json``/``.xml`` file, a FHIR npm
package tarball (``.tgz``/``.tar.gz`` with a ``package/`` folder and ``package.json``) or an
unpacked package folder. JSON and XML are both accepted. Files are indexed cheaply (url, version,
type) and converted to JSON only when a resource is actually used.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from lxml import etree

from validatiestraat.fhir.base import normalize_version

CONFORMANCE_TYPES = ("StructureDefinition", "ValueSet", "CodeSystem")
_F = "{http://hl7.org/fhir}"
BUNDLED_LABEL = "validatiestraat"


class ConformanceError(ValueError):
    """A source could not be read (missing path, broken tarball)."""


@dataclass
class Source:
    label: str  # e.g. "nictiz.fhir.nl.stu3.zib2017#2.2.18", "validatiestraat (bundled)"
    path: str
    bundled: bool = False
    version: str | None = None

    def describe(self) -> str:
        return self.label


@dataclass
class Entry:
    resource_type: str
    url: str
    version: str | None
    source: Source
    location: str  # file (or tarball member) it came from
    _loader: Callable[[], dict[str, Any]] | None = field(default=None, repr=False)
    _resource: dict[str, Any] | None = field(default=None, repr=False)
    error: str | None = None

    @property
    def resource(self) -> dict[str, Any]:
        if self._resource is None:
            assert self._loader is not None
            self._resource = self._loader()
            self._loader = None
        return self._resource

    def info(self) -> dict[str, Any]:
        return {"url": self.url, "version": self.version, "source": self.source.label}


@dataclass
class LoadProblem:
    location: str
    message: str


def bundled_profiles_dir() -> Path:
    """The bundled profiles/ folder, installed (validatiestraat.profiles) or in the repository."""
    try:
        import importlib.resources as ir

        p = ir.files("validatiestraat.profiles")
        path = Path(str(p))
        if path.is_dir():
            return path
    except Exception:  # noqa: BLE001 - not installed: fall back to the source tree
        pass
    return Path(__file__).resolve().parents[2] / "profiles"


class Registry:
    """Conformance resources of one FHIR version, indexed by canonical URL."""

    def __init__(self, fhir_version: str):
        self.version = normalize_version(fhir_version)
        self.sources: list[Source] = []
        self._by_url: dict[str, list[Entry]] = {}
        self.problems: list[LoadProblem] = []
        self.count = 0

    # -- loading ---------------------------------------------------------------------------

    def add_bundled(self) -> None:
        d = bundled_profiles_dir()
        src = Source(f"{BUNDLED_LABEL} (bundled essential profiles)", str(d), bundled=True)
        self.sources.append(src)
        if d.is_dir():
            prefix = f"{self.version}-"
            for f in sorted(d.iterdir()):
                if f.is_file() and f.name.startswith(prefix) and f.suffix in (".json", ".xml"):
                    self._add_file(f, src)

    def add_path(self, path: str | Path) -> Source:
        p = Path(path)
        if not p.exists():
            raise ConformanceError(f"{path}: no such file or directory")
        if p.is_file() and (p.name.endswith(".tgz") or p.name.endswith(".tar.gz") or p.name.endswith(".tar")):
            return self._add_tarball(p)
        label = _package_label(p) or str(p)
        src = Source(label, str(p))
        self.sources.append(src)
        if p.is_file():
            self._add_file(p, src)
        else:
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in (".json", ".xml") and not _skip_name(f.name):
                    self._add_file(f, src)
        return src

    def _add_tarball(self, p: Path) -> Source:
        try:
            tf = tarfile.open(p, "r:*")
        except (tarfile.TarError, OSError) as exc:
            raise ConformanceError(f"{p}: not a readable package tarball: {exc}") from None
        with tf:
            members = [m for m in tf.getmembers() if m.isfile()]
            label = str(p)
            for m in members:
                if m.name.rstrip("/").endswith("package/package.json") or m.name == "package.json":
                    try:
                        meta = json.loads(tf.extractfile(m).read())  # type: ignore[union-attr]
                        label = f"{meta.get('name')}#{meta.get('version')}"
                    except Exception:  # noqa: BLE001
                        pass
                    break
            src = Source(label, str(p))
            self.sources.append(src)
            for m in members:
                name = m.name
                if not (name.endswith(".json") or name.endswith(".xml")):
                    continue
                base = name.rsplit("/", 1)[-1]
                if _skip_name(base) or "/example" in name or "/other/" in name:
                    continue
                data = tf.extractfile(m).read()  # type: ignore[union-attr]
                self._add_bytes(data, f"{p}!{name}", src, xml=name.endswith(".xml"))
        return src

    def _add_file(self, f: Path, src: Source) -> None:
        try:
            data = f.read_bytes()
        except OSError as exc:
            self.problems.append(LoadProblem(str(f), str(exc)))
            return
        self._add_bytes(data, str(f), src, xml=f.suffix.lower() == ".xml")

    def _add_bytes(self, data: bytes, location: str, src: Source, xml: bool) -> None:
        if xml:
            try:
                root = etree.fromstring(
                    data, parser=etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, huge_tree=True)
                )
            except etree.XMLSyntaxError as exc:
                self.problems.append(LoadProblem(location, f"not well-formed XML: {exc}"))
                return
            tag = root.tag if isinstance(root.tag, str) else ""
            if not tag.startswith(_F):
                return
            rt = tag[len(_F):]
            if rt not in CONFORMANCE_TYPES:
                return
            url = _xml_child_value(root, "url")
            version = _xml_child_value(root, "version")
            fv = self.version

            def load(root: etree._Element = root, fv: str = fv) -> dict[str, Any]:
                from validatiestraat.fhir.xml import element_to_json

                return element_to_json(root, fv)

            self._index(rt, url, version, src, location, load, None)
        else:
            try:
                res = json.loads(data)
            except (ValueError, UnicodeDecodeError) as exc:
                self.problems.append(LoadProblem(location, f"not valid JSON: {exc}"))
                return
            if not isinstance(res, dict):
                return
            if res.get("resourceType") == "Bundle":
                for e in res.get("entry") or []:
                    r = e.get("resource") if isinstance(e, dict) else None
                    if isinstance(r, dict) and r.get("resourceType") in CONFORMANCE_TYPES:
                        self._index(r["resourceType"], r.get("url"), r.get("version"), src, location, None, r)
                return
            rt = res.get("resourceType")
            if rt not in CONFORMANCE_TYPES:
                return
            self._index(rt, res.get("url"), res.get("version"), src, location, None, res)

    def _index(
        self,
        rt: str,
        url: str | None,
        version: str | None,
        src: Source,
        location: str,
        loader: Callable[[], dict[str, Any]] | None,
        resource: dict[str, Any] | None,
    ) -> None:
        if not url:
            self.problems.append(LoadProblem(location, f"{rt} without url; ignored"))
            return
        entry = Entry(rt, url, version, src, location, loader, resource)
        self._by_url.setdefault(url, []).append(entry)
        self.count += 1

    # -- lookup ----------------------------------------------------------------------------

    def resolve(self, canonical: str, resource_type: str | None = None) -> Entry | None:
        """The entry for ``url`` or ``url|version`` (first source wins; a version picks that one)."""
        url, _, version = canonical.partition("|")
        entries = self._by_url.get(url)
        if not entries:
            return None
        candidates = [e for e in entries if resource_type is None or e.resource_type == resource_type]
        if not candidates:
            return None
        if version:
            for e in candidates:
                if e.version == version:
                    return e
        return candidates[0]

    def entries(self, resource_type: str | None = None) -> Iterable[Entry]:
        for entries in self._by_url.values():
            for e in entries:
                if resource_type is None or e.resource_type == resource_type:
                    yield e

    def preferred_entries(self, resource_type: str | None = None) -> Iterable[Entry]:
        """One entry per canonical URL: the one that wins resolution."""
        for url, entries in self._by_url.items():
            cands = [e for e in entries if resource_type is None or e.resource_type == resource_type]
            if cands:
                yield cands[0]

    def __len__(self) -> int:
        return self.count


def _skip_name(name: str) -> bool:
    low = name.lower()
    return low in ("package.json", ".index.json", "fhirpkg.lock.json", "folder.settings.json") or low.startswith(".")


def _xml_child_value(root: etree._Element, name: str) -> str | None:
    for child in root:
        if isinstance(child.tag, str) and child.tag == _F + name:
            return child.get("value")
    return None


def _package_label(p: Path) -> str | None:
    for cand in (p / "package" / "package.json", p / "package.json"):
        if cand.is_file():
            try:
                meta = json.loads(cand.read_text(encoding="utf-8-sig"))
                return f"{meta.get('name')}#{meta.get('version')}"
            except (ValueError, OSError):
                return None
    return None


def load_json_or_xml(data: bytes, fhir_version: str, name: str = "") -> dict[str, Any]:
    """Parse a resource from bytes; XML when it starts with '<'."""
    text = data.lstrip()
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:].lstrip()
    if text.startswith(b"<"):
        from validatiestraat.fhir.xml import xml_to_json

        return xml_to_json(text, fhir_version)
    return json.loads(io.TextIOWrapper(io.BytesIO(text), encoding="utf-8").read())
