"""The reference DVA's FHIR STU3 Resource Server for gegevensdienst 48 (BgZ 3.0).

Read-only: ``GET [base]/<Type>?params`` (and ``POST [base]/<Type>/_search``),
``GET [base]/Observation/$lastn?params``, ``GET [base]/<Type>/<id>`` and ``GET [base]/metadata``.
Every request needs ``Authorization: Bearer <token>`` (RFC 6750 §2.1 only) issued by the
reference Authorization Server; the person of the token decides which data is visible.

Search is table driven: :data:`SEARCH_PARAMS` maps, per resource type, each supported search
parameter to its kind (token, reference, date, string) and the element paths it looks at.
Supported everywhere: ``_id``, ``_include`` (also ``:iterate``/``:recurse``), ``_format``.
Unknown parameters are ignored (FHIR's lenient default) but still echoed in the self link.
JSON and XML are served (``Accept`` or ``_format``); the FHIR version is 3.0.

Strict mode (the default, as real DVAs behave): only the gegevensdienst's catalogued queries
(:mod:`validatiestraat.rs.catalogue`: same resource path, same parameter names, same ``_include``
values) and reads ``<Type>/<id>`` of the types this server serves are answered, plus
``metadata``; anything else is 404 with an OperationOutcome, before and regardless of any token
(a catalogued query or a read goes through the normal token handling). ``access_token``
parameters do not count for the shape, so that a token sent that way still meets the token check.
Lenient mode answers any search of :data:`SEARCH_PARAMS`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from validatiestraat.reference.data import PERSONS, TestPerson
from validatiestraat.reference.faults import slow_seconds
from validatiestraat.reference.data.bgz import BSN_SYSTEM, all_compartments
from validatiestraat.reference.oauth import AANBIEDER, SERVED_GEGEVENSDIENST, AuthorizationServer
from validatiestraat.rs.catalogue import is_catalogued
from validatiestraat.reference.web import Request, Response

Resource = dict[str, Any]
FHIR_VERSION = "3.0"
JSON_TYPE = f"application/fhir+json; fhirVersion={FHIR_VERSION}"
XML_TYPE = f"application/fhir+xml; fhirVersion={FHIR_VERSION}"
REALM = AANBIEDER


# --------------------------------------------------------------------------- search parameter table
@dataclass(frozen=True)
class Param:
    kind: str  # "token" | "reference" | "date" | "string"
    paths: tuple[str, ...]


def _t(*paths: str) -> Param:
    return Param("token", paths)


def _r(*paths: str) -> Param:
    return Param("reference", paths)


def _d(*paths: str) -> Param:
    return Param("date", paths)


def _s(*paths: str) -> Param:
    return Param("string", paths)


COMMON_PARAMS: dict[str, Param] = {"_id": _t("id")}

SEARCH_PARAMS: dict[str, dict[str, Param]] = {
    "Patient": {"identifier": _t("identifier"), "name": _s("name"), "family": _s("name.family"),
                "given": _s("name.given"), "gender": _t("gender"), "birthdate": _d("birthDate"),
                "general-practitioner": _r("generalPractitioner")},
    "Practitioner": {"identifier": _t("identifier"), "name": _s("name"), "family": _s("name.family")},
    "Organization": {"identifier": _t("identifier"), "name": _s("name"), "type": _t("type")},
    "Coverage": {"status": _t("status"), "type": _t("type"), "payor": _r("payor"),
                 "beneficiary": _r("beneficiary"), "subscriber": _r("subscriber"), "identifier": _t("identifier")},
    "Consent": {"category": _t("category"), "status": _t("status"), "patient": _r("patient"),
                "date": _d("dateTime"), "period": _d("period"), "identifier": _t("identifier")},
    "Observation": {"category": _t("category"), "code": _t("code"), "status": _t("status"),
                    "date": _d("effective[x]"), "subject": _r("subject"), "patient": _r("subject"),
                    "specimen": _r("specimen"), "related-target": _r("related.target"),
                    "related-type": _t("related.type"), "value-concept": _t("valueCodeableConcept"),
                    "identifier": _t("identifier")},
    "Condition": {"category": _t("category"), "clinical-status": _t("clinicalStatus"), "code": _t("code"),
                  "verification-status": _t("verificationStatus"), "onset-date": _d("onset[x]"),
                  "subject": _r("subject"), "patient": _r("subject"), "identifier": _t("identifier")},
    "NutritionOrder": {"status": _t("status"), "datetime": _d("dateTime"), "patient": _r("patient"),
                       "identifier": _t("identifier")},
    "Flag": {"status": _t("status"), "date": _d("period"), "subject": _r("subject"), "patient": _r("subject"),
             "identifier": _t("identifier")},
    "AllergyIntolerance": {"category": _t("category"), "clinical-status": _t("clinicalStatus"),
                           "code": _t("code"), "criticality": _t("criticality"),
                           "verification-status": _t("verificationStatus"), "patient": _r("patient"),
                           "identifier": _t("identifier")},
    "Medication": {"code": _t("code")},
    "MedicationStatement": {"category": _t("category"), "status": _t("status"),
                            "medication": _r("medicationReference"), "code": _t("medicationCodeableConcept"),
                            "effective": _d("effective[x]"), "subject": _r("subject"), "patient": _r("subject"),
                            "periodofuse": _d("effective[x]"), "identifier": _t("identifier")},
    "MedicationRequest": {"category": _t("category"), "status": _t("status"), "intent": _t("intent"),
                          "medication": _r("medicationReference"), "code": _t("medicationCodeableConcept"),
                          "authoredon": _d("authoredOn"), "subject": _r("subject"), "patient": _r("subject"),
                          "periodofuse": _d("extension.valuePeriod"), "identifier": _t("identifier")},
    "MedicationDispense": {"category": _t("category"), "status": _t("status"),
                           "medication": _r("medicationReference"), "code": _t("medicationCodeableConcept"),
                           "whenhandedover": _d("whenHandedOver"), "subject": _r("subject"),
                           "patient": _r("subject"), "performer": _r("performer.actor"),
                           "identifier": _t("identifier")},
    "Device": {"type": _t("type"), "patient": _r("patient"), "identifier": _t("identifier")},
    "DeviceUseStatement": {"device": _r("device"), "subject": _r("subject"), "patient": _r("subject"),
                           "identifier": _t("identifier")},
    "DeviceRequest": {"status": _t("status"), "device": _r("codeReference"), "code": _t("codeCodeableConcept"),
                      "subject": _r("subject"), "patient": _r("subject"), "event-date": _d("occurrence[x]"),
                      "identifier": _t("identifier")},
    "Immunization": {"status": _t("status"), "vaccine-code": _t("vaccineCode"), "date": _d("date"),
                     "patient": _r("patient"), "practitioner": _r("practitioner.actor"),
                     "identifier": _t("identifier")},
    "ImmunizationRecommendation": {"vaccine-type": _t("recommendation.vaccineCode"),
                                   "status": _t("recommendation.forecastStatus"),
                                   "date": _d("recommendation.date"), "patient": _r("patient"),
                                   "identifier": _t("identifier")},
    "Specimen": {"type": _t("type"), "subject": _r("subject"), "patient": _r("subject"),
                 "collected": _d("collection.collected[x]"), "identifier": _t("identifier")},
    "Procedure": {"category": _t("category"), "code": _t("code"), "status": _t("status"),
                  "date": _d("performed[x]"), "subject": _r("subject"), "patient": _r("subject"),
                  "performer": _r("performer.actor"), "identifier": _t("identifier")},
    "Encounter": {"class": _t("class"), "status": _t("status"), "date": _d("period"), "type": _t("type"),
                  "subject": _r("subject"), "patient": _r("subject"), "participant": _r("participant.individual"),
                  "service-provider": _r("serviceProvider"), "diagnosis": _r("diagnosis.condition"),
                  "identifier": _t("identifier")},
    "ProcedureRequest": {"status": _t("status"), "code": _t("code"), "intent": _t("intent"),
                         "occurrence": _d("occurrence[x]"), "subject": _r("subject"), "patient": _r("subject"),
                         "performer": _r("performer"), "identifier": _t("identifier")},
    "Appointment": {"status": _t("status"), "date": _d("start"), "actor": _r("participant.actor"),
                    "patient": _r("participant.actor"), "practitioner": _r("participant.actor"),
                    "identifier": _t("identifier")},
}

#: result parameters this server implements (everything else starting with _ is ignored)
RESULT_PARAMS = {"_include", "_format"}


class SearchError(Exception):
    def __init__(self, message: str, code: str = "invalid", status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


# --------------------------------------------------------------------------- element access
def _choice(node: dict[str, Any], name: str) -> list[Any]:
    """Values of a choice element ``name[x]`` (e.g. effective[x] → effectiveDateTime/effectivePeriod)."""
    base = name[:-3]
    return [v for k, v in node.items() if k.startswith(base) and k[len(base):len(base) + 1].isupper()]


def values_at(resource: Any, path: str) -> list[Any]:
    """Flattened values at a dotted path; ``extension.valuePeriod`` style and ``x[x]`` choices work."""
    nodes: list[Any] = [resource]
    for part in path.split("."):
        nxt: list[Any] = []
        for node in nodes:
            if not isinstance(node, dict):
                continue
            found = _choice(node, part) if part.endswith("[x]") else ([node[part]] if part in node else [])
            for value in found:
                if isinstance(value, list):
                    nxt.extend(value)
                else:
                    nxt.append(value)
        nodes = nxt
    return nodes


def _split_or(value: str) -> list[str]:
    """Comma-separated OR values; ``\\,`` is a literal comma."""
    parts = re.split(r"(?<!\\),", value)
    return [p.replace("\\,", ",") for p in parts]


# --------------------------------------------------------------------------- matchers
def _token_match(element: Any, query: str, modifier: str) -> bool:
    if modifier == "text":
        needle = _fold(query)
        texts: list[str] = []
        if isinstance(element, dict):
            texts += [element.get("text", ""), element.get("display", "")]
            texts += [c.get("display", "") for c in element.get("coding", []) if isinstance(c, dict)]
        return any(needle in _fold(t) for t in texts if t)
    if "|" in query:
        system, code = query.split("|", 1)
        has_system = True
    else:
        system, code, has_system = "", query, False

    def one(sys_value: str | None, code_value: Any) -> bool:
        if code and str(code_value) != code:
            return False
        if has_system:
            if system == "":
                return not sys_value
            return sys_value == system
        return True

    if isinstance(element, dict):
        is_codeable_concept = "coding" in element or ("text" in element and "system" not in element)
        if is_codeable_concept:
            return any(one(c.get("system"), c.get("code")) for c in element.get("coding", []) if isinstance(c, dict))
        if "value" in element and ("system" in element or "type" in element):  # Identifier
            return one(element.get("system"), element.get("value"))
        if "code" in element:  # Coding
            return one(element.get("system"), element.get("code"))
        return False
    if isinstance(element, bool):
        return (not has_system) and code == ("true" if element else "false")
    if isinstance(element, (str, int, float)):
        return (not has_system or system == "") and code != "" and str(element) == code
    return False


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


def _string_match(element: Any, query: str, modifier: str) -> bool:
    if isinstance(element, dict):
        texts = []
        for key in ("text", "family", "given", "prefix", "suffix", "line", "city", "postalCode", "country",
                    "district", "state"):
            v = element.get(key)
            if isinstance(v, list):
                texts.extend(str(x) for x in v)
            elif v is not None:
                texts.append(str(v))
    else:
        texts = [str(element)]
    if modifier == "exact":
        return any(t == query for t in texts)
    q = _fold(query)
    if modifier == "contains":
        return any(q in _fold(t) for t in texts)
    return any(_fold(t).startswith(q) for t in texts)


def _reference_match(element: Any, query: str, modifier: str) -> bool:
    if not isinstance(element, dict) or not isinstance(element.get("reference"), str):
        return False
    segs = element["reference"].rstrip("/").split("/")
    a_type, a_id = (segs[-2], segs[-1]) if len(segs) >= 2 else ("", segs[-1])
    if modifier and modifier[0].isupper():  # subject:Patient=123
        return a_type == modifier and a_id == query.rstrip("/").split("/")[-1]
    if "/" in query:
        q_segs = query.rstrip("/").split("/")
        return (a_type, a_id) == (q_segs[-2], q_segs[-1])
    return a_id == query


_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_MIN = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)
_MAX = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)


def date_range(value: str) -> tuple[dt.datetime, dt.datetime] | None:
    """[low, high) of a FHIR date/dateTime/instant with its precision; None if unparsable."""
    m = _DATE_RE.match(value.strip())
    if not m:
        return None
    y = int(m["y"])
    tz = dt.timezone.utc
    if m["tz"] and m["tz"] != "Z":
        sign = 1 if m["tz"][0] == "+" else -1
        hh, mm = int(m["tz"][1:3]), int(m["tz"][4:6])
        tz = dt.timezone(sign * dt.timedelta(hours=hh, minutes=mm))
    try:
        if m["m"] is None:
            return dt.datetime(y, 1, 1, tzinfo=tz), dt.datetime(y + 1, 1, 1, tzinfo=tz)
        mo = int(m["m"])
        if m["d"] is None:
            lo = dt.datetime(y, mo, 1, tzinfo=tz)
            hi = dt.datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=tz)
            return lo, hi
        d = int(m["d"])
        if m["H"] is None:
            lo = dt.datetime(y, mo, d, tzinfo=tz)
            return lo, lo + dt.timedelta(days=1)
        lo = dt.datetime(y, mo, d, int(m["H"]), int(m["M"]), int(m["S"] or 0), tzinfo=tz)
        return lo, lo + (dt.timedelta(seconds=1) if m["S"] else dt.timedelta(minutes=1))
    except ValueError:
        return None


def _element_range(element: Any) -> tuple[dt.datetime, dt.datetime] | None:
    if isinstance(element, str):
        return date_range(element)
    if isinstance(element, dict) and ("start" in element or "end" in element):
        start = date_range(element["start"]) if element.get("start") else None
        end = date_range(element["end"]) if element.get("end") else None
        return (start[0] if start else _MIN), (end[1] if end else _MAX)
    return None


_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def _date_match(element: Any, query: str, modifier: str) -> bool:
    prefix = query[:2] if query[:2] in _PREFIXES else "eq"
    raw = query[2:] if query[:2] in _PREFIXES else query
    wanted = date_range(raw)
    if wanted is None:
        raise SearchError(f"invalid date search value '{query}'", "value")
    got = _element_range(element)
    if got is None:
        return False
    (lo, hi), (slo, shi) = got, wanted
    if prefix == "eq":
        return slo <= lo and hi <= shi
    if prefix == "ne":
        return not (slo <= lo and hi <= shi)
    if prefix == "gt":
        return hi > shi
    if prefix == "lt":
        return lo < slo
    if prefix == "ge":
        return hi > slo
    if prefix == "le":
        return lo < shi
    if prefix == "sa":
        return lo >= shi
    if prefix == "eb":
        return hi <= slo
    return lo < shi and hi > slo  # ap: overlaps


MATCHERS: dict[str, Callable[[Any, str, str], bool]] = {
    "token": _token_match,
    "string": _string_match,
    "reference": _reference_match,
    "date": _date_match,
}


def _matches(resource: Resource, param: Param, values: list[str], modifier: str) -> bool:
    elements = [e for p in param.paths for e in values_at(resource, p)]
    if modifier == "missing":
        want_missing = values[0].lower() == "true"
        return (len(elements) == 0) == want_missing
    if modifier == "not" and param.kind == "token":
        return not any(_token_match(e, v, "") for e in elements for v in values)
    matcher = MATCHERS[param.kind]
    return any(matcher(e, v, modifier) for e in elements for v in values)


# --------------------------------------------------------------------------- the server
@dataclass
class SearchResult:
    matches: list[Resource]
    includes: list[Resource]


class ResourceServer:
    def __init__(self, auth: AuthorizationServer, faults: frozenset[str] = frozenset(),
                 record: Callable[[dict[str, Any]], None] | None = None, *, strict: bool = True):
        self.auth = auth
        self.faults = faults
        #: answer only the gegevensdienst's catalogued queries and reads (see the module docstring)
        self.strict = strict
        self._record = record or (lambda event: None)
        self.compartments = all_compartments()
        self._apply_data_faults()

    # ------------------------------------------------------------------ data faults
    def _apply_data_faults(self) -> None:
        for person in PERSONS:
            comp = self.compartments[person.username]
            for (rtype, _), res in comp.items():
                if rtype == "Patient" and "bsn-in-response" in self.faults:
                    res["identifier"] = [{"use": "official", "system": BSN_SYSTEM, "value": person.bsn},
                                         *res.get("identifier", [])]
                if "profile-violation" in self.faults:
                    if rtype == "Condition":
                        res.pop("clinicalStatus", None)
                    if rtype == "Patient":
                        res.pop("meta", None)
                if rtype == "Condition" and "dangling-reference" in self.faults:
                    res["asserter"] = {"reference": "Practitioner/onbekende-behandelaar",
                                       "display": "Onbekende behandelaar"}

    def person_for(self, username: str) -> TestPerson:
        return next(p for p in PERSONS if p.username == username)

    def _with_bsn(self, patient: Resource, username: str) -> Resource:
        """bsn-on-direct-read: the Patient of a direct read, with the person's BSN identifier."""
        identifiers = patient.get("identifier", [])
        if any(isinstance(i, dict) and i.get("system") == BSN_SYSTEM for i in identifiers):
            return patient  # bsn-in-response put it there already
        bsn = {"use": "official", "system": BSN_SYSTEM, "value": self.person_for(username).bsn}
        return {**patient, "identifier": [bsn, *identifiers]}

    # ------------------------------------------------------------------ responses
    def _outcome(self, status: int, code: str, diagnostics: str, fmt: str, req: Request,
                 extra: list[tuple[str, str]] | None = None) -> Response:
        if "error-not-operationoutcome" in self.faults:
            response = Response.text(status, diagnostics, extra=extra)
        else:
            oo = {"resourceType": "OperationOutcome", "id": str(uuid.uuid4()),
                  "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}
            response = self._resource_response(status, oo, fmt, extra)
        return self._finish(response, req)

    def _resource_response(self, status: int, resource: Resource, fmt: str,
                           extra: list[tuple[str, str]] | None = None) -> Response:
        if fmt == "xml":
            from fhir.resources.STU3 import get_fhir_model_class

            body = get_fhir_model_class(resource["resourceType"]).model_validate(resource).model_dump_xml()
            return Response(status, [("Content-Type", XML_TYPE), *(extra or [])], body)
        return Response.json(status, resource, content_type=JSON_TYPE, extra=extra)

    def _finish(self, response: Response, req: Request) -> Response:
        response.set_header("Cache-Control", "no-store")
        request_id = req.header("MedMij-Request-ID")
        if request_id and "no-request-id-echo" not in self.faults:
            response.set_header("MedMij-Request-ID", request_id)
        correlation = req.header("X-Correlation-ID")
        if correlation:
            response.set_header("X-Correlation-ID", correlation)
        return response

    # ------------------------------------------------------------------ content negotiation
    def negotiate(self, req: Request, params: list[tuple[str, str]]) -> str | None:
        """"json", "xml", or None when nothing acceptable can be produced (406)."""
        fmt = next((v for k, v in params if k == "_format"), None)
        wanted: str | None = None
        if fmt is not None:
            f = fmt.strip().lower().split(";")[0].strip()
            if f in ("json", "application/json", "application/fhir+json", "application/json+fhir"):
                wanted = "json"
            elif f in ("xml", "text/xml", "application/xml", "application/fhir+xml", "application/xml+fhir"):
                wanted = "xml"
            else:
                return None
        else:
            wanted = self._from_accept(req.header("Accept"))
        if wanted == "xml" and "xml-not-supported" in self.faults:
            return "json"
        return wanted

    @staticmethod
    def _from_accept(accept: str | None) -> str | None:
        if not accept or not accept.strip():
            return "json"
        ranges: list[tuple[float, int, str]] = []
        for i, part in enumerate(accept.split(",")):
            pieces = [p.strip() for p in part.split(";")]
            mime = pieces[0].lower()
            q, version = 1.0, None
            for p in pieces[1:]:
                k, _, v = p.partition("=")
                k, v = k.strip().lower(), v.strip().strip('"')
                if k == "q":
                    try:
                        q = float(v)
                    except ValueError:
                        q = 0.0
                elif k == "fhirversion":
                    version = v
            if q <= 0 or (version is not None and not version.startswith(FHIR_VERSION)):
                continue
            if mime in ("application/fhir+json", "application/json", "application/json+fhir"):
                ranges.append((q, -i, "json"))
            elif mime in ("application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir"):
                ranges.append((q, -i, "xml"))
            elif mime in ("*/*", "application/*"):
                ranges.append((q, -i - 1000, "json"))
        if not ranges:
            return None
        return max(ranges)[2]

    # ------------------------------------------------------------------ authentication
    def _challenge(self, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
        parts = [f'realm="{REALM}"']
        if error:
            parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{description}"')
        if scope:
            parts.append(f'scope="{scope}"')
        return "Bearer " + ", ".join(parts)

    def _unchecked(self, req: Request, body_token: list[str]) -> str:
        """resource-no-token-check: no token is checked. The person of a known token (expired,
        revoked, of another gegevensdienst or client: it does not matter) is served, test person
        1 otherwise. A query/form token is read only under token-in-query-accepted."""
        scheme, _, value = (req.header("Authorization") or "").strip().partition(" ")
        candidates = [value.strip()] if scheme.lower() == "bearer" else []
        if "token-in-query-accepted" in self.faults:
            candidates += body_token
        for candidate in candidates:
            username = self.auth.token_owner(candidate)
            if username is not None:
                return username
        return PERSONS[0].username

    def authenticate(self, req: Request, params: list[tuple[str, str]], fmt: str) -> str | Response:
        """The username whose data this request may see, or the error response."""
        body_token = [v for k, v in params if k == "access_token"]
        if "resource-no-token-check" in self.faults:
            return self._unchecked(req, body_token)
        authorization = req.header("Authorization")
        if not authorization:
            if body_token and "token-in-query-accepted" in self.faults:
                who = self._check_token(req, body_token[0], fmt)
                if isinstance(who, Response) and "resource-without-token" in self.faults:
                    return PERSONS[0].username
                return who
            if "resource-without-token" in self.faults:
                return PERSONS[0].username
            if body_token:
                return self._outcome(400, "security", "the access token must be sent in the Authorization header "
                                     "(RFC 6750 §2.1), not as a query or form parameter", fmt, req,
                                     [("WWW-Authenticate", self._challenge("invalid_request",
                                                                           "access_token parameter not allowed"))])
            extra = [] if "no-www-authenticate" in self.faults else [("WWW-Authenticate", self._challenge())]
            return self._outcome(401, "login", "authentication required: Authorization: Bearer <token>", fmt, req,
                                 extra)
        if body_token and "token-in-query-accepted" not in self.faults:
            return self._outcome(400, "security", "the access token was sent in more than one way", fmt, req,
                                 [("WWW-Authenticate", self._challenge("invalid_request",
                                                                       "access_token parameter not allowed"))])
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return self._outcome(401, "login", "only Bearer tokens are accepted", fmt, req,
                                 [("WWW-Authenticate", self._challenge())])
        return self._check_token(req, value.strip(), fmt)

    def _check_token(self, req: Request, value: str, fmt: str) -> str | Response:
        check = self.auth.check_access_token(value, req.peer_names) if value else None
        if check is None or not check.ok or check.token is None:
            reason = check.reason if check else "empty bearer token"
            if "invalid-token-no-error" in self.faults:
                challenge = self._challenge()
            else:
                challenge = self._challenge("invalid_token", reason)
            return self._outcome(401, "login", reason, fmt, req, [("WWW-Authenticate", challenge)])
        token = check.token
        if SERVED_GEGEVENSDIENST not in token.services and "scope-not-enforced" not in self.faults:
            return self._outcome(403, "forbidden",
                                 f"the access token is not valid for gegevensdienst {SERVED_GEGEVENSDIENST}", fmt, req,
                                 [("WWW-Authenticate", self._challenge("insufficient_scope",
                                                                       "token not valid for this gegevensdienst",
                                                                       AANBIEDER))])
        return token.username

    # ------------------------------------------------------------------ entry point
    def handle(self, req: Request, base_path: str = "/fhir") -> Response:
        rest = req.path[len(base_path):]
        params = req.query
        is_search_post = req.method == "POST" and rest.endswith("/_search")
        if is_search_post or (req.method == "POST" and req.content_type == "application/x-www-form-urlencoded"):
            params = params + req.form()
        fmt = self.negotiate(req, params)
        if self.strict:
            refusal = self._strict_refusal(req, rest, params, is_search_post, fmt or "json")
            if refusal is not None:
                self._record({"event": "fhir", "path": req.path, "status": refusal.status, "strict": True})
                return refusal
        if fmt is None:
            return self._outcome(406, "not-supported",
                                 f"only FHIR {FHIR_VERSION} as application/fhir+json or application/fhir+xml is served",
                                 "json", req)
        who = self.authenticate(req, params, fmt)
        if isinstance(who, Response):
            self._record({"event": "fhir", "path": req.path, "status": who.status})
            return who
        if "slow-resource" in self.faults and rest.rstrip("/") == "/Patient":
            time.sleep(slow_seconds())
        response = self._route(req, rest, params, fmt, who, is_search_post)
        self._record({"event": "fhir", "path": req.path, "status": response.status,
                      "request_id": req.header("MedMij-Request-ID"),
                      "correlation_id": req.header("X-Correlation-ID")})
        return self._finish(response, req)

    def _strict_refusal(self, req: Request, rest: str, params: list[tuple[str, str]], is_search_post: bool,
                        fmt: str) -> Response | None:
        """Strict mode: the 404 for a request that is neither a catalogued query of the
        gegevensdienst, nor a read of a served type, nor ``metadata`` (None when it may go on)."""
        method = "GET" if req.method == "HEAD" else req.method
        if method not in ("GET", "POST"):
            return None  # the read-only answer (405) after the token check, as in lenient mode
        segments = [s for s in rest.split("/") if s]
        if method == "GET" and segments == ["metadata"]:
            return None
        if method == "GET" and len(segments) == 2 and segments[0] in SEARCH_PARAMS \
                and not segments[1].startswith(("_", "$")):
            return None  # a read: whether the resource exists is answered after the token check
        if is_search_post:
            path = "/".join(segments[:-1])
        elif method == "GET":
            path = "/".join(segments)
        else:
            path = ""
        shape = [(k, v) for k, v in params if k != "access_token"]
        if path and is_catalogued(SERVED_GEGEVENSDIENST, path, shape):
            return None
        names = sorted({k for k, _ in shape})  # names only: a parameter value may be a secret
        what = f"{req.method} {'/'.join(segments) or '(base)'}" + (f" with parameters {', '.join(names)}"
                                                                    if names else " without parameters")
        return self._outcome(404, "not-supported",
                             f"{what} is not one of the queries of gegevensdienst {SERVED_GEGEVENSDIENST}: "
                             "this server answers only the gegevensdienst's queries and reads of its resources",
                             fmt, req)

    def _route(self, req: Request, rest: str, params: list[tuple[str, str]], fmt: str, username: str,
               is_search_post: bool) -> Response:
        segments = [s for s in rest.split("/") if s]
        method = "GET" if req.method == "HEAD" else req.method
        if method not in ("GET", "POST") or (method == "POST" and not is_search_post):
            return self._outcome(405, "not-supported", "this resource server is read-only", fmt, req,
                                 [("Allow", "GET")])
        if segments == ["metadata"]:
            return self._resource_response(200, self.capability_statement(req), fmt)
        if "search-unsupported" in self.faults and segments[:1] == ["ImmunizationRecommendation"]:
            return self._outcome(404, "not-supported", "ImmunizationRecommendation is not supported", fmt, req)
        if not segments or segments[0] not in SEARCH_PARAMS:
            what = segments[0] if segments else "(none)"
            return self._outcome(404, "not-supported", f"resource type {what} is not supported", fmt, req)
        rtype = segments[0]
        try:
            if len(segments) == 1 or (len(segments) == 2 and segments[1] == "_search"):
                return self._search_response(req, rtype, params, fmt, username, lastn=False)
            if len(segments) == 2 and segments[1] == "$lastn" and rtype == "Observation":
                return self._search_response(req, rtype, params, fmt, username, lastn=True)
            if len(segments) == 2 and method == "GET":
                res = self.compartments[username].get((rtype, segments[1]))
                if res is None:
                    return self._outcome(404, "not-found", f"{rtype}/{segments[1]} is not known", fmt, req)
                if rtype == "Patient" and "bsn-on-direct-read" in self.faults:
                    res = self._with_bsn(res, username)
                return self._resource_response(200, res, fmt)
        except SearchError as exc:
            return self._outcome(exc.status, exc.code, str(exc), fmt, req)
        return self._outcome(404, "not-supported", f"{req.path} is not supported", fmt, req)

    # ------------------------------------------------------------------ search
    def search(self, username: str, rtype: str, params: list[tuple[str, str]], lastn: bool = False) -> SearchResult:
        comp = self.compartments[username]
        table = {**COMMON_PARAMS, **SEARCH_PARAMS[rtype]}
        criteria: list[tuple[Param, list[str], str]] = []
        includes: list[tuple[str, bool]] = []
        max_per_code = 1
        for name, value in params:
            base_name, _, modifier = name.partition(":")
            if base_name == "_include":
                if "no-include" not in self.faults:
                    includes.append((value, modifier in ("iterate", "recurse")))
                continue
            if lastn and base_name == "max":
                try:
                    max_per_code = max(1, int(value))
                except ValueError:
                    raise SearchError(f"max must be a positive integer, got '{value}'", "value") from None
                continue
            param = table.get(base_name)
            if param is None:
                continue  # unknown or unsupported parameter: ignored (lenient)
            criteria.append((param, _split_or(value), modifier))
        matches = [res for (t, _), res in comp.items() if t == rtype
                   and all(_matches(res, p, vals, mod) for p, vals, mod in criteria)]
        matches.sort(key=lambda r: r["id"])
        if lastn:
            matches = _last_n(matches, max_per_code)
        return SearchResult(matches, self._includes(comp, matches, includes))

    def _includes(self, comp: dict[tuple[str, str], Resource], matches: list[Resource],
                  includes: list[tuple[str, bool]]) -> list[Resource]:
        seen = {(r["resourceType"], r["id"]) for r in matches}
        out: list[Resource] = []
        frontier = list(matches)
        rounds = 0
        while frontier and includes and rounds < 4:
            rounds += 1
            new: list[Resource] = []
            for spec, iterate in includes:
                if rounds > 1 and not iterate:
                    continue
                parts = spec.split(":")
                if len(parts) < 2:
                    raise SearchError(f"_include value '{spec}' must be Type:parameter[:TargetType]", "value")
                src_type, param_name = parts[0], parts[1]
                target_type = parts[2] if len(parts) > 2 else None
                param = SEARCH_PARAMS.get(src_type, {}).get(param_name)
                if param is None or param.kind != "reference":
                    continue  # not a supported include: ignored
                for res in frontier:
                    if res["resourceType"] != src_type:
                        continue
                    for element in (e for p in param.paths for e in values_at(res, p)):
                        reference = element.get("reference") if isinstance(element, dict) else None
                        if not isinstance(reference, str) or "/" not in reference:
                            continue
                        t, i = reference.split("/")[-2:]
                        if target_type and t != target_type:
                            continue
                        key = (t, i)
                        if key in seen or key not in comp:
                            continue
                        seen.add(key)
                        new.append(comp[key])
            out.extend(new)
            frontier = new
        return out

    def _search_response(self, req: Request, rtype: str, params: list[tuple[str, str]], fmt: str,
                         username: str, lastn: bool) -> Response:
        result = self.search(username, rtype, params, lastn)
        if not result.matches and "empty-search-404" in self.faults:
            return self._outcome(404, "not-found", f"no {rtype} found", fmt, req)
        return self._resource_response(200, self.bundle(req, result, params), fmt)

    def bundle(self, req: Request, result: SearchResult, params: list[tuple[str, str]]) -> Resource:
        base = req.base_url + "/fhir"
        bundle: Resource = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")},
            "type": "searchset",
            "total": len(result.matches),
        }
        if "searchset-missing-self-link" not in self.faults:
            path = req.raw_path
            if path.endswith("/_search"):
                path = path[: -len("/_search")]
            query = req.raw_query if req.method != "POST" else urlencode(params)
            bundle["link"] = [{"relation": "self", "url": req.base_url + path + (f"?{query}" if query else "")}]
        entries = []
        for res, mode in [(r, "match") for r in result.matches] + [(r, "include") for r in result.includes]:
            entries.append({"fullUrl": f"{base}/{res['resourceType']}/{res['id']}", "resource": res,
                            "search": {"mode": mode}})
        if entries:
            bundle["entry"] = entries
        return bundle

    # ------------------------------------------------------------------ capability statement
    def capability_statement(self, req: Request) -> Resource:
        resources = []
        for rtype in sorted(SEARCH_PARAMS):
            resources.append({
                "type": rtype,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchInclude": sorted(f"{rtype}:{n}" for n, p in SEARCH_PARAMS[rtype].items()
                                        if p.kind == "reference"),
                "searchParam": [{"name": n, "type": p.kind} for n, p in sorted(SEARCH_PARAMS[rtype].items())],
            })
        return {
            "resourceType": "CapabilityStatement",
            "id": "validatiestraat-reference-dva",
            "status": "active",
            "date": "2026-01-01",
            "publisher": "validatiestraat",
            "kind": "instance",
            "implementation": {"description": "validatiestraat reference DVA (gegevensdienst 48, BgZ 3.0)",
                               "url": req.base_url + "/fhir"},
            "fhirVersion": "3.0.2",
            "acceptUnknown": "no",
            "format": ["application/fhir+json", "application/fhir+xml"],
            "rest": [{"mode": "server",
                      "security": {"description": "mutual TLS plus an OAuth 2.0 Bearer token of the MedMij "
                                                  "authorization server"},
                      "resource": resources,
                      "operation": [{"name": "lastn",
                                     "definition": {"reference": "OperationDefinition/Observation-lastn",
                                                    "display": "Observation $lastn"}}]}],
        }


def _effective_key(res: Resource) -> str:
    for element in values_at(res, "effective[x]") + ([res["issued"]] if "issued" in res else []):
        rng = _element_range(element)
        if rng:
            return rng[0].astimezone(dt.timezone.utc).isoformat() if rng[0] != _MIN else rng[1].isoformat()
    return ""


def _last_n(observations: list[Resource], n: int) -> list[Resource]:
    """The ``n`` most recent observations per code (Observation $lastn)."""
    groups: dict[tuple[tuple[str, str], ...], list[Resource]] = {}
    for obs in observations:
        key = tuple(sorted((c.get("system", ""), c.get("code", "")) for c in obs.get("code", {}).get("coding", [])))
        groups.setdefault(key, []).append(obs)
    out: list[Resource] = []
    for key in sorted(groups):
        ranked = sorted(groups[key], key=_effective_key, reverse=True)
        out.extend(ranked[:n])
    return out
