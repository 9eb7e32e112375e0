"""Engine plug-ins: the ``lists.check`` step kind and the list checks.

Scenario example::

    - name: zal
      kind: lists.check
      url: https://localhost:8443/MedMij_Zorgaanbiederslijst.xml?api=2
      with: [https://localhost:8443/MedMij_Whitelist.xml?api=2]   # cross-checked (LIST-SEM-03/04)
      expect:
        - lists.schema: true
        - lists.semantics: true
        - lists.http: true

The step's subject is a :class:`~validatiestraat.lists.checks.ListReport`; each check turns the
findings of its requirement(s) into a verdict: FAIL for errors, WARNING for findings of
uncertain (⚠) requirements, OMITTED when the requirement does not apply to what was checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from validatiestraat.engine.plugins import Check, StepError, StepKind, StepOutcome, Verdict, register_check, register_step
from validatiestraat.lists import kinds as K
from validatiestraat.lists.checks import (
    CheckOptions,
    DocumentReport,
    HttpInfo,
    ListReport,
    check_lists,
    is_loopback,
    load_document,
)
from validatiestraat.lists.fetch import FetchOptions, guess_kind, is_url, read_file
from validatiestraat.lists.xmlsafe import DEFAULT_MAX_BYTES, ListReadError
from validatiestraat.report.model import Status

if TYPE_CHECKING:
    from validatiestraat.engine.context import FlowContext

SOURCE = {"type": "string", "description": "a list file or an http(s) URL"}


@register_step
class ListsCheckStep(StepKind):
    name = "lists.check"
    description = "Fetch or read a MedMij list and check it (schema, semantics, serving, cross-list)."
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "URL of the list, e.g. https://host/MedMij_Whitelist.xml?api=2"},
            "file": {"type": "string", "description": "a list file (relative to the working directory)"},
            "list_kind": {"enum": sorted(K.KIND_ALIASES), "description": "the kind the list must be"},
            "with": {"type": "array", "items": SOURCE,
                     "description": "other lists checked together with this one (cross-list rules)"},
            "previous": {"anyOf": [SOURCE, {"type": "array", "items": SOURCE}],
                         "description": "previously seen copies; Volgnummer must not decrease (LIST-SEM-01)"},
            "allow_loopback": {"type": "boolean",
                               "description": "accept localhost/127.0.0.1 hosts with ports (default: true when "
                                              "the list itself is served from a loopback host)"},
            "aanbiedertypes": {"type": "array", "items": {"type": "string"},
                               "description": "extra accepted Aanbiedertype values, e.g. [APD]"},
            "max_size": {"type": "integer", "minimum": 1, "description": "size cap in bytes (default 50 MiB)"},
            "client_certificate": {"enum": ["target", "other", "untrusted", "none"],
                                   "description": "client certificate for list hosts that require mTLS"},
        },
    }

    async def run(self, spec: dict[str, Any], ctx: "FlowContext") -> StepOutcome:
        main = spec.get("url") or spec.get("file")
        if not main:
            raise StepError("lists.check needs url: or file:")
        kind = K.normalise_kind(spec["list_kind"]) if spec.get("list_kind") else None
        max_bytes = int(spec.get("max_size") or DEFAULT_MAX_BYTES)
        identity = spec.get("client_certificate", "target")
        exchanges: list[str] = []
        http_subject = None

        async def read(source: str, expect: str | None) -> DocumentReport:
            nonlocal http_subject
            subject = None
            try:
                if is_url(source):
                    data, info, subject = await _fetch(ctx, source, identity, max_bytes)
                    if subject is not None:
                        exchanges.append(subject.exchange_id)
                        if http_subject is None:
                            http_subject = subject
                else:
                    data, info = read_file(source, max_bytes), None
                doc = load_document(data, source, max_bytes=max_bytes, http=info)
                if info is not None and subject is not None:
                    info.exchange_id = subject.exchange_id
            except ListReadError as exc:
                exc.kind = exc.kind or expect or guess_kind(source)
                return DocumentReport(source, read_error=exc)
            if expect and doc.kind != expect:
                err = ListReadError(source, f"expected a {K.KINDS[expect].title}, got a {K.KINDS[doc.kind].title}",
                                    doc.root.sourceline)
                err.kind = expect
                return DocumentReport(source, read_error=err)
            return DocumentReport(source, doc)

        # previously seen copies are read first: they are the earlier fetches the new list follows
        previous_specs = spec.get("previous") or []
        if isinstance(previous_specs, str):
            previous_specs = [previous_specs]
        previous = []
        for p in previous_specs:
            r = await read(str(p), None)
            if r.document is None:
                raise StepError(f"previous copy {p}: {r.read_error}")
            previous.append(r.document)
        http_subject = None  # the evidence of serving is the main list's own fetch
        reports = [await read(str(main), kind)]
        for other in spec.get("with") or []:
            reports.append(await read(str(other), None))
        loopback = spec.get("allow_loopback")
        if loopback is None:
            loopback = is_url(str(main)) and is_loopback(urlsplit(str(main)).hostname or "")
        options = CheckOptions(
            aanbiedertypes=frozenset({"ZA", "BAZB"} | {t.upper() for t in spec.get("aanbiedertypes") or []}),
            allow_loopback=bool(loopback),
            max_bytes=max_bytes,
        )
        report = check_lists(reports, previous, options)
        report.http = http_subject
        first = reports[0]
        error = None
        if first.read_error is not None and first.read_error.category == "io":
            error = str(first.read_error)
        return StepOutcome(subject=report, exchanges=exchanges, error=error)


async def _fetch(ctx: Any, url: str, identity: str, max_bytes: int) -> tuple[bytes, HttpInfo, Any]:
    """GET through the flow's recording HTTP layer when there is one, else with an own client."""
    if hasattr(ctx, "request"):
        subject = await ctx.request("GET", url, identity=identity, headers={"Accept": "application/xml"})
        if subject.response is None:
            err = ListReadError(url, f"cannot fetch: {subject.error}")
            err.category = "io"
            raise err
        response = subject.response
        if response.status_code != 200:
            err = ListReadError(url, f"HTTP {response.status_code}")
            err.category = "http"
            raise err
        data = response.content
        if len(data) > max_bytes:
            raise ListReadError(url, f"response is larger than the limit of {max_bytes} bytes")
        return data, HttpInfo(url, response.status_code, response.headers.get("content-type")), subject
    from validatiestraat.lists.fetch import fetch_url_async

    target = getattr(ctx, "target", None)
    options = FetchOptions(trust=list(getattr(target, "trust", []) or []), max_bytes=max_bytes)
    data, info = await fetch_url_async(url, options)
    return data, info, None


# -- checks ------------------------------------------------------------------------------------


def _report(outcome: StepOutcome) -> tuple[ListReport | None, Verdict | None]:
    if isinstance(outcome.subject, ListReport):
        return outcome.subject, None
    return None, Verdict.errored(outcome.error or "this check applies to a lists.check step")


def verdict_for(report: ListReport, requirements: tuple[str, ...] | list[str], what: str) -> Verdict:
    """One verdict from the findings of some requirements."""
    findings = [f for f in report.findings if f.requirement in requirements]
    details: dict[str, Any] = {
        "findings": [f.to_dict() for f in findings[:200]],
        "requirements": {r: report.status(r) for r in requirements},
        "lists": [d.to_dict() for d in report.documents],
    }
    errors = [f for f in findings if f.severity == "error"]
    # read errors that did not become findings: no response, an HTTP status, or unusable XML of unknown kind
    unreadable = [d for d in report.documents if d.read_error is not None
                  and not (d.read_error.category == "xml" and d.read_error.kind)]
    bad_xml = [d for d in unreadable if d.read_error.category == "xml"]

    def some(items: list[Any]) -> str:
        shown = "; ".join(str(i) for i in items[:5])
        return shown + (f"; and {len(items) - 5} more" if len(items) > 5 else "")

    if errors:
        return Verdict(Status.FAIL, f"{what}: {len(errors)} error(s): {some(errors)}", details)
    if bad_xml and set(requirements) & set(K.XSD_REQUIREMENTS):
        return Verdict(Status.FAIL, f"{what}: not a usable list: {some([d.read_error.problems[0] for d in bad_xml])}",
                       details)
    if unreadable and not any(r in report.applicable for r in requirements):
        return Verdict(Status.ERROR, f"{what}: list could not be read: "
                                     f"{some([d.read_error.problems[0] for d in unreadable])}", details)
    if findings:
        return Verdict(Status.WARNING, f"{what}: {len(findings)} warning(s): {some(findings)}", details)
    if not any(r in report.applicable for r in requirements):
        return Verdict(Status.OMITTED, f"{what}: does not apply to the lists checked", details)
    return Verdict(Status.PASS, f"{what}: ok ({'; '.join(d.document.describe() for d in report.documents if d.document)})",
                   details)


class _ListCheck(Check):
    schema = {"type": "boolean", "description": "true: the rule must hold"}
    what = ""

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: "FlowContext") -> Verdict:
        report, problem = _report(outcome)
        if problem:
            return problem
        assert report is not None
        return verdict_for(report, self.requirements, self.what)


@register_check
class ListsSchema(_ListCheck):
    name = "lists.schema"
    title = "The lists validate against the XML Schema of their kind and release"
    requirements = K.XSD_REQUIREMENTS
    what = "schema"


@register_check
class ListsSemantics(Check):
    name = "lists.semantics"
    title = "The lists meet the semantic rules LIST-SEM-01..06 (own content and cross-list)"
    requirements = K.SEM_REQUIREMENTS
    schema = {"anyOf": [{"type": "boolean"},
                        {"type": "array", "items": {"enum": list(K.SEM_REQUIREMENTS)},
                         "description": "only these requirements"}]}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: "FlowContext") -> Verdict:
        report, problem = _report(outcome)
        if problem:
            return problem
        assert report is not None
        reqs = tuple(arg) if isinstance(arg, list) and arg else K.SEM_REQUIREMENTS
        return verdict_for(report, reqs, "semantics")


def _single(name: str, requirement: str, title: str, what: str) -> None:
    cls = type(f"Lists_{name.split('.')[-1]}", (_ListCheck,),
               {"name": name, "title": title, "requirements": (requirement,), "what": what})
    register_check(cls)


_single("lists.timestamp_volgnummer", "LIST-SEM-01",
        "Tijdstempel has a timezone; Volgnummer is positive and does not decrease", "Tijdstempel/Volgnummer")
_single("lists.endpoint_uris", "LIST-SEM-02",
        "ZAL endpoint URIs follow the frontchannel/backchannel rules", "endpoint URIs")
_single("lists.whitelisted", "LIST-SEM-03",
        "Every ZAL endpoint host and OCL Hostname is on the Whitelist", "Whitelist coverage")
_single("lists.gegevensdiensten_known", "LIST-SEM-04",
        "Every GegevensdienstId used is in the Gegevensdienstnamenlijst", "GegevensdienstIds")
_single("lists.zorgaanbiedernaam", "LIST-SEM-05",
        "Zorgaanbiedernamen follow the naming policy and are unique", "Zorgaanbiedernamen")
_single("lists.aanbiedertype", "LIST-SEM-06", "Aanbiedertype is ZA or BAZB", "Aanbiedertype")


@register_check
class ListsHttp(_ListCheck):
    name = "lists.http"
    title = "The list is served over HTTPS at /MedMij_<List>.xml?api=<major> with an XML content type"
    requirements = ("LIST-HTTP-01",)
    what = "serving"

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: "FlowContext") -> Verdict:
        report, problem = _report(outcome)
        if problem:
            return problem
        assert report is not None
        not_served = [d for d in report.documents if d.read_error is not None and d.read_error.category == "http"]
        if not_served:
            shown = "; ".join(str(d.read_error.problems[0]) for d in not_served)
            return Verdict.failed(f"serving: the list is not served at its URL: {shown}",
                                  lists=[d.to_dict() for d in report.documents])
        return verdict_for(report, self.requirements, self.what)


@register_check
class ListsKind(Check):
    name = "lists.kind"
    title = "The (first) list is of the expected kind"
    requirements = ()
    schema = {"enum": sorted(K.KIND_ALIASES)}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: "FlowContext") -> Verdict:
        report, problem = _report(outcome)
        if problem:
            return problem
        assert report is not None
        want = K.normalise_kind(str(arg))
        first = report.documents[0]
        if first.document is None:
            return Verdict.failed(f"the list could not be read: {first.read_error}")
        if first.document.kind != want:
            return Verdict.failed(f"expected a {K.KINDS[want].title if want else arg}, got {first.document.describe()}")
        return Verdict.passed(first.document.describe())

