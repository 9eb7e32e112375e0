"""Checks of the DVA resource server: search responses, BSN, bearer errors, MedMij headers.

The search-response rules follow the standard assert block of the Nictiz qualification
TestScripts (qualification-material.md §2.1): searchset, self link, total ≤ matches,
fullUrl/id, no BSN, Coding/Reference/Identifier rules.
Requirement IDs: RS-AUTH-*, RS-HDR-*, RS-FHIR-* (domain brief §8.3).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from validatiestraat.engine.checks_http import HttpCheck
from validatiestraat.engine.context import FlowContext, HttpSubject
from validatiestraat.engine.plugins import Check, StepOutcome, Verdict, register_check
from validatiestraat.report.model import Status

BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
BSN_SYSTEMS = {BSN_SYSTEM, "urn:oid:2.16.840.1.113883.2.4.6.3"}
ZIB_VALUESET_OID = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.2"


class BundleCheck(HttpCheck):
    """A check of a FHIR JSON body (usually a search Bundle): subclasses implement judge_bundle."""

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        body = http.json()
        if not isinstance(body, dict):
            return Verdict.failed(f"{http.describe()}; expected a FHIR JSON Bundle, got "
                                  f"content-type {http.header('content-type')!r}")
        return self.judge_bundle(arg, http, body, ctx)

    def judge_bundle(self, arg: Any, http: HttpSubject, body: dict, ctx: FlowContext) -> Verdict:  # pragma: no cover
        raise NotImplementedError


def _entries(bundle: dict) -> list[dict]:
    entries = bundle.get("entry") or []
    return [e for e in entries if isinstance(e, dict)]


@register_check
class Searchset(HttpCheck):
    name = "fhir.searchset"
    title = "The search returns 200 with a searchset Bundle"
    requirements = ("RS-FHIR-01",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        if http.status not in (200,):
            return Verdict.failed(f"{http.describe()}; a required search must return 200 with a searchset Bundle")
        body = http.json()
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            return Verdict.failed(f"{http.describe()}; the body is not a FHIR Bundle")
        if body.get("type") != "searchset":
            return Verdict.failed(f"{http.describe()}; Bundle.type is {body.get('type')!r}, expected 'searchset'")
        return Verdict.passed(f"searchset with {len(_entries(body))} entries")


@register_check
class SearchBundleRules(BundleCheck):
    name = "fhir.search_bundle"
    title = "Search Bundle: self link, total ≤ matches, entries with id and fullUrl"
    requirements = ("RS-FHIR-02",)
    schema = {"type": "boolean"}

    def judge_bundle(self, arg: Any, http: HttpSubject, body: dict, ctx: FlowContext) -> Verdict:
        if body.get("resourceType") != "Bundle":  # fhir.searchset reports that (RS-FHIR-01)
            return Verdict.skipped(f"{http.describe()}; not a Bundle, so no search Bundle rules to check")
        problems: list[str] = []
        links = [l for l in body.get("link") or [] if isinstance(l, dict)]
        if not any(l.get("relation") == "self" and l.get("url") for l in links):
            problems.append("no link with relation 'self'")
        entries = _entries(body)
        matches = [e for e in entries if (e.get("search") or {}).get("mode", "match") == "match"]
        total = body.get("total")
        if total is not None and (not isinstance(total, int) or total > len(matches)):
            problems.append(f"total {total!r} exceeds the {len(matches)} match entries")
        for i, entry in enumerate(entries):
            full_url = entry.get("fullUrl")
            resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
            rid = resource.get("id")
            uuid_like = isinstance(full_url, str) and full_url.startswith(("urn:uuid:", "urn:oid:"))
            if not full_url:
                problems.append(f"entry[{i}] has no fullUrl")
            elif not (uuid_like or re.match(r"^https?://", full_url)):
                problems.append(f"entry[{i}].fullUrl {full_url!r} is neither absolute http(s) nor urn:uuid/urn:oid")
            if not rid and not uuid_like:
                problems.append(f"entry[{i}].resource has no id")
            if rid and full_url and not uuid_like and not full_url.rstrip("/").endswith(f"{resource.get('resourceType')}/{rid}"):
                problems.append(f"entry[{i}].fullUrl {full_url!r} does not end with {resource.get('resourceType')}/{rid}")
        if problems:
            more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            return Verdict.failed(f"{http.describe()}; " + "; ".join(problems[:3]) + more, problems=problems)
        return Verdict.passed(f"self link, total {total}, {len(entries)} entries with fullUrl and id")


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def _is_masked(identifier: dict) -> bool:
    value = identifier.get("value")
    if value in (None, ""):
        return True
    ext = identifier.get("_value", {}).get("extension", []) if isinstance(identifier.get("_value"), dict) else []
    return any("data-absent-reason" in str(e.get("url", "")) for e in ext if isinstance(e, dict))


@register_check
class NoBsn(HttpCheck):
    name = "fhir.no_bsn"
    title = "No BSN anywhere in the response or its links"
    requirements = ("RS-FHIR-07",)
    schema = {"type": "boolean"}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        from validatiestraat.rs.probe import Reads

        if not isinstance(outcome.subject, Reads):
            return super().evaluate(arg, outcome, ctx)
        reads = [h for h in outcome.subject.reads if h.response is not None]
        if not reads:
            return Verdict.errored("no read got an answer: " + "; ".join(
                f"{h.url}: {h.error}" for h in outcome.subject.reads[:3]))
        for http in reads:
            verdict = self.judge(arg, http, ctx)
            if verdict.status is not Status.PASS:
                return Verdict(verdict.status, verdict.reason, verdict.details, evidence=[http.exchange_id])
        return Verdict.passed(f"no BSN in {len(reads)} direct read(s) of the resources the searches returned")

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        found: list[str] = []
        body = http.json()
        if body is not None:
            for path, node in _walk(body):
                if node.get("system") in BSN_SYSTEMS and "value" in node and not _is_masked(node):
                    found.append(path or "(root)")
        else:
            text = http.response.text
            if BSN_SYSTEM in text and re.search(r'<value value="\d{8,9}"', text):
                found.append("(XML body)")
        if BSN_SYSTEM in http.url or re.search(r"[?&](patient|subject)=", http.url):
            found.append("request URL")
        if found:
            return Verdict.failed(f"{http.describe()}; unmasked BSN identifier at {', '.join(found[:5])}", paths=found)
        return Verdict.passed("no BSN in the response")


@register_check
class ContentRules(BundleCheck):
    name = "fhir.content_rules"
    title = "Codings have system and code, CodeableConcepts a display or text, References a display, Identifiers a system and value"
    requirements = ("RS-FHIR-06",)
    schema = {"type": "boolean"}

    def judge_bundle(self, arg: Any, http: HttpSubject, body: dict, ctx: FlowContext) -> Verdict:
        problems: list[str] = []
        for i, entry in enumerate(_entries(body)):
            resource = entry.get("resource")
            if not isinstance(resource, dict) or resource.get("resourceType") in ("OperationOutcome", "Binary"):
                continue
            base = f"entry[{i}].resource"
            if not (resource.get("meta") or {}).get("profile"):
                problems.append(f"{base} ({resource.get('resourceType')}) has no meta.profile")
            for path, node in _walk(resource, base):
                last = path.rsplit(".", 1)[-1]
                if "coding" in node and isinstance(node["coding"], list):
                    if not (node.get("text") or node.get("extension") or any(
                            isinstance(c, dict) and c.get("display") for c in node["coding"])):
                        problems.append(f"{path}: CodeableConcept without display, text or extension")
                    for j, coding in enumerate(node["coding"]):
                        if isinstance(coding, dict):
                            if not (coding.get("system") and coding.get("code")):
                                problems.append(f"{path}.coding[{j}]: Coding without system and code")
                            if str(coding.get("system", "")).startswith(ZIB_VALUESET_OID):
                                problems.append(f"{path}.coding[{j}]: a zib ValueSet OID used as code system")
                if "reference" in node and isinstance(node.get("reference"), str) and not last.startswith("_"):
                    if not node.get("display") and not node.get("extension"):
                        problems.append(f"{path}: Reference without display")
                if re.sub(r"\[\d+\]$", "", last) == "identifier":
                    if not (node.get("system") or node.get("type")) or not (node.get("value") or node.get("_value")):
                        problems.append(f"{path}: Identifier needs a system (or type) and a value")
        if problems:
            more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            return Verdict.failed(f"{http.describe()}; " + "; ".join(problems[:3]) + more, problems=problems)
        return Verdict.passed("Coding, CodeableConcept, Reference and Identifier rules met")


@register_check
class Entries(BundleCheck):
    name = "fhir.entries"
    title = "Number of resources of a type in the Bundle"
    schema = {
        "type": "object",
        "required": ["resource"],
        "properties": {
            "resource": {"type": "string"},
            "mode": {"enum": ["match", "include", "any"]},
            "count": {"type": "integer"},
            "min": {"type": "integer"},
        },
        "additionalProperties": False,
    }

    def judge_bundle(self, arg: Any, http: HttpSubject, body: dict, ctx: FlowContext) -> Verdict:
        mode = arg.get("mode", "any")
        found = [
            e for e in _entries(body)
            if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == arg["resource"]
            and (mode == "any" or (e.get("search") or {}).get("mode", "match") == mode)
        ]
        n = len(found)
        what = f"{n} {arg['resource']} entr{'y' if n == 1 else 'ies'}" + (f" with search.mode={mode}" if mode != "any" else "")
        if "count" in arg and n != arg["count"]:
            return Verdict.failed(f"{http.describe()}; {what}, expected {arg['count']}")
        if "min" in arg and n < arg["min"]:
            return Verdict.failed(f"{http.describe()}; {what}, expected at least {arg['min']}")
        return Verdict.passed(what)


@register_check
class Includes(BundleCheck):
    name = "fhir.includes"
    title = "_include parameters are honoured (included resources with search.mode=include)"
    requirements = ("RS-FHIR-03",)
    schema = {"type": "object", "required": ["resource"], "properties": {"resource": {"type": "string"}},
              "additionalProperties": False}

    def judge_bundle(self, arg: Any, http: HttpSubject, body: dict, ctx: FlowContext) -> Verdict:
        entries = _entries(body)
        if not any((e.get("search") or {}).get("mode", "match") == "match" for e in entries):
            return Verdict.skipped("no match entries, so nothing to include")
        included = [e for e in entries if (e.get("search") or {}).get("mode") == "include"
                    and (e.get("resource") or {}).get("resourceType") == arg["resource"]]
        if not included:
            return Verdict.failed(f"{http.describe()}; no {arg['resource']} entry with search.mode=include "
                                  "although the search asked for it with _include")
        return Verdict.passed(f"{len(included)} included {arg['resource']}")


_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


@register_check
class BearerChallenge(HttpCheck):
    name = "bearer.challenge"
    title = "Refused with 401 and a WWW-Authenticate Bearer challenge (RFC 6750)"
    requirements = ("RS-AUTH-01",)
    schema = {
        "type": "object",
        "properties": {
            "status": {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]},
            "error": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        },
        "additionalProperties": False,
    }

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        statuses = (arg or {}).get("status", 401)
        statuses = statuses if isinstance(statuses, list) else [statuses]
        if http.status not in statuses:
            from validatiestraat.rs.probe import served

            data = f" with {served(http)}" if 200 <= (http.status or 0) < 300 else ""
            return Verdict.failed(f"{http.describe()}{data}{_token_note(http)}; expected HTTP "
                                  f"{'/'.join(map(str, statuses))} with a WWW-Authenticate: Bearer challenge")
        challenge = http.header("www-authenticate")
        if not challenge or not challenge.strip().lower().startswith("bearer"):
            return Verdict.failed(f"{http.describe()}; WWW-Authenticate is {challenge!r}, expected a Bearer challenge")
        wanted = (arg or {}).get("error")
        if wanted:
            wanted = wanted if isinstance(wanted, list) else [wanted]
            params = dict(_AUTH_PARAM.findall(challenge))
            if params.get("error") not in wanted:
                return Verdict.failed(f"{http.describe()}; WWW-Authenticate error={params.get('error')!r}, "
                                      f"expected {'|'.join(wanted)}")
        return Verdict.passed(f"HTTP {http.status}, WWW-Authenticate: {challenge}")


@register_check
class Refused(HttpCheck):
    name = "http.refused"
    title = "The request is refused: no 2xx and no data"
    schema = {"type": "boolean"}

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        from validatiestraat.rs.probe import served

        status = http.status or 0
        if 200 <= status < 300:
            return Verdict.failed(f"{http.describe()} with {served(http)}{_token_note(http)}; the request must be refused")
        if status in (401, 403):
            return Verdict.passed(f"refused with HTTP {status}")
        from validatiestraat.rs.probe import bearer_challenge

        if 400 <= status < 500 and bearer_challenge(http):
            return Verdict.passed(f"refused with HTTP {status} and WWW-Authenticate: {http.header('www-authenticate')}")
        return Verdict.errored(f"{http.describe()}; inconclusive: HTTP {status} does not show that the token was "
                               "refused (a 404 or 400 may only mean that the query is unknown); send the negative "
                               "on one of the gegevensdienst's own queries (step kind fhir.probe)")


def _token_note(http: HttpSubject) -> str:
    """' and no token' / ' and a token in the query string': how the credential travelled."""
    has_header = any(k.lower() == "authorization" for k in http.request_headers)
    if "access_token=" in http.url:
        return " and the token in the query string"
    if not has_header:
        return " and no Authorization header"
    return ""


@register_check
class OperationOutcome(HttpCheck):
    name = "fhir.operation_outcome"
    title = "Error responses carry a FHIR OperationOutcome"
    requirements = ("RS-FHIR-09",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        if (http.status or 0) < 400:
            return Verdict.skipped(f"HTTP {http.status} is not an error response")
        ctype = http.header("content-type") or ""
        body = http.json()
        if not ("fhir+json" in ctype or "fhir+xml" in ctype):
            return Verdict.failed(f"{http.describe()}; error content-type {ctype!r}, expected application/fhir+json or +xml")
        if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
            return Verdict.failed(f"{http.describe()}; the error body is not an OperationOutcome")
        return Verdict.passed("OperationOutcome")


@register_check
class RequestIdEchoed(HttpCheck):
    name = "medmij.request_id_echoed"
    title = "The response echoes the MedMij-Request-ID"
    requirements = ("RS-HDR-01",)
    schema = {"type": "boolean"}

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        sent = next((v for k, v in http.request_headers.items() if k.lower() == "medmij-request-id"), None)
        got = http.header("medmij-request-id")
        if got == sent:
            return Verdict.passed("MedMij-Request-ID echoed")
        return Verdict.failed(f"{http.describe()}; MedMij-Request-ID sent {sent!r}, response has {got!r}")


@register_check
class Profile(HttpCheck):
    name = "profile"
    title = "Every returned resource validates against its profiles"
    requirements = ("RS-FHIR-06",)
    schema = {
        "oneOf": [
            {"type": "boolean"},
            {"type": "object", "properties": {"profiles": {"type": "array", "items": {"type": "string"}},
                                              "warnings_fail": {"type": "boolean"}},
             "additionalProperties": False},
        ]
    }

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        try:
            from validatiestraat.fhir import get_validator
        except ImportError as exc:
            return Verdict.errored(f"the FHIR validator is not available: {exc}")
        body = http.json()
        if body is None and "xml" in (http.header("content-type") or ""):
            from validatiestraat.fhir.xml import xml_to_json

            try:
                body = xml_to_json(http.response.text)
            except Exception as exc:  # the converter reports malformed XML as an exception
                return Verdict.failed(f"{http.describe()}; the FHIR XML body cannot be read: {exc}")
        if not isinstance(body, dict) or "resourceType" not in body:
            return Verdict.failed(f"{http.describe()}; no FHIR resource to validate")
        extra = list((arg or {}).get("profiles", [])) if isinstance(arg, dict) else []
        result = get_validator(ctx.target.fhir_version).validate(body, extra)
        errors = [i for i in result.issues if i.severity == "error"]
        if errors:
            shown = "; ".join(f"{i.path}: {i.message}" for i in errors[:3])
            more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
            return Verdict.failed(f"{http.describe()}; {len(errors)} profile error(s): {shown}{more}",
                                  issues=[_issue(i) for i in errors[:50]],
                                  profiles=list(result.profiles_used))
        warnings = [i for i in result.issues if i.severity == "warning"]
        return Verdict.passed(f"valid ({len(warnings)} warning(s))", profiles=list(result.profiles_used))


def _issue(issue: Any) -> dict[str, Any]:
    return {"severity": issue.severity, "path": issue.path, "message": issue.message,
            "profile": getattr(issue, "profile", None), "source": getattr(issue, "source", None)}


@register_check
class XmlServed(HttpCheck):
    name = "fhir.xml"
    title = "FHIR XML is served when asked for"
    requirements = ("RS-FHIR-05",)
    schema = {"type": "object", "properties": {"resource": {"type": "string"}}, "additionalProperties": False}

    def judge(self, arg: Any, http: HttpSubject, ctx: FlowContext) -> Verdict:
        from lxml import etree

        ctype = http.header("content-type") or ""
        if "xml" not in ctype:
            return Verdict.failed(f"{http.describe()}; asked for application/fhir+xml, got content-type {ctype!r}")
        try:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            root = etree.fromstring(http.response.content, parser)
        except etree.XMLSyntaxError as exc:
            return Verdict.failed(f"{http.describe()}; the body is not well-formed XML: {exc}")
        ns = "{http://hl7.org/fhir}"
        want = (arg or {}).get("resource", "Bundle")
        if root.tag != f"{ns}{want}":
            return Verdict.failed(f"{http.describe()}; root element {root.tag!r}, expected {ns}{want}")
        return Verdict.passed(f"FHIR XML {want} ({ctype})")


@register_check
class ReferencesResolve(Check):
    name = "fhir.references_resolve"
    title = "Literal references in returned resources resolve (included entry or read)"
    requirements = ("RS-FHIR-08",)
    schema = {"type": "boolean"}

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: FlowContext) -> Verdict:
        from validatiestraat.rs.resolve import Resolution

        res = outcome.subject
        if not isinstance(res, Resolution):
            return Verdict.errored("this check applies to an fhir.resolve_references step")
        if res.error:
            return Verdict.errored(res.error)
        broken = [f"{ref} (in {where}): {why}" for ref, where, why in res.broken]
        if broken:
            return Verdict.failed(f"{len(broken)} of {res.checked} reference(s) do not resolve: " + "; ".join(broken[:3]),
                                  broken=broken)
        return Verdict.passed(f"{res.checked} reference(s) resolve ({res.included} included, {res.read} read)")
