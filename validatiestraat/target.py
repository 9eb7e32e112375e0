"""The target: which DVA the suite tests, and as which PGO client.

A target is a YAML file (``${ENV}`` references are replaced from the environment, so secrets
stay out of the file) or, for the embedded reference DVA, a dict built in memory.

Example target file::

    name: Ziekenhuis Test DVA
    fhir_version: stu3
    aanbieder: ziekenhuistest            # MedMij name without @medmij; the Verzamelen scope
    gegevensdiensten: ["48"]
    endpoints:
      authorization: https://inlog.dva.example/oauth/authorize
      token: https://api.dva.example/oauth/token
      resource: https://api.dva.example/fhir
    client:
      client_id: pgo.example.nl
      redirect_uri: https://pgo.example.nl/callback
      certificate: certs/pgo-client.pem
      key: certs/pgo-client.key
      key_password: ${PGO_KEY_PASSWORD}
    trust: [certs/pkioverheid-private-root-g1.pem]
    login:
      driver: form
      fields: {username: testpatient1, password: "${DVA_TEST_PASSWORD}"}

Every key (and every option) is described in ``TARGET_SCHEMA`` and documented in
``docs/target.md``; unknown keys are errors with the closest valid name (see ``schema_problems``).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validatiestraat.errors import Problem, UserError

def _object(properties: dict[str, Any], description: str, required: list[str] | None = None,
            **extra: Any) -> dict[str, Any]:
    """An object schema that rejects unknown keys (a misspelt key is an error, never ignored)."""
    schema: dict[str, Any] = {"type": "object", "description": description, "additionalProperties": False,
                              "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _seconds(description: str) -> dict[str, Any]:
    return {"type": "number", "exclusiveMinimum": 0, "description": description}


def _flag(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


#: form fields to fill in (name: value); values may be numbers in YAML (``bsn: 999990019``)
_SCALAR = {"type": ["string", "number", "boolean"]}


def _fields(description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "additionalProperties": _SCALAR}


CLIENT_SCHEMA: dict[str, Any] = _object(
    {
        "client_id": _string("the PGO's client_id as registered on your OCL (the MedMij hostname of the PGO)",
                             minLength=1),
        "redirect_uri": _string("the redirect_uri registered for that client (https)", minLength=1),
        "certificate": _string("PEM client certificate for mutual TLS on the backchannel (token and resource "
                               "endpoints); relative to the target file's folder"),
        "key": _string("PEM private key of that certificate"),
        "key_password": _string("password of the private key (use ${ENV}); redacted everywhere"),
    },
    "a PGO client identity the suite plays",
    required=["client_id", "redirect_uri"],
)

ENDPOINTS_SCHEMA: dict[str, Any] = _object(
    {
        "authorization": _string("the OAuth authorization endpoint (frontchannel, https)"),
        "token": _string("the OAuth token endpoint (backchannel, mutual TLS)"),
        "resource": _string("the FHIR base URL of the resource server (backchannel, mutual TLS)"),
    },
    "the DVA's endpoints (or give `lists:` to resolve them from a ZAL)",
    required=["authorization", "token", "resource"],
)

LOGIN_STEP_SCHEMA: dict[str, Any] = _object(
    {
        "match": _string("regular expression on the page URL or text; the first step that matches acts "
                         "(no match: the step fits every page)"),
        "click": _string("regular expression on the text of a link or button to follow"),
        "fill": _fields("form fields to fill in (name: value)"),
        "submit": {"type": ["string", "object"], "additionalProperties": _SCALAR,
                   "description": "the button to press: a regular expression on its text, or {name: value}"},
    },
    "one declarative login step (driver steps): `click`, or `fill` with `submit`",
)

LOGIN_SCHEMA: dict[str, Any] = _object(
    {
        "driver": {"enum": ["form", "steps", "manual"],
                   "description": "form: follow plain HTML forms; steps: declarative steps; manual: a person "
                                  "logs in with a browser (real DigiD test login)"},
        "fields": _fields("login form fields of the test person (name: value; use ${ENV} for passwords); "
                          "values under names like password, wachtwoord, pin, bsn are redacted"),
        "submit": _fields("the consent button to press to approve ({name: value})"),
        "deny": _fields("the button to press to refuse consent ({name: value}; the access_denied scenario)"),
        "link_text": _string("form driver: regular expression on the text of the link that leads to the login "
                             "(default: inloggen|log in|digid|verder|doorgaan|continue)"),
        "steps": {"type": "array", "minItems": 1, "items": LOGIN_STEP_SCHEMA,
                  "description": "driver steps: the login steps, tried in order on every page"},
        "timeout": _seconds("driver manual: seconds to wait for the browser's redirect (default 300)"),
        "callback_certificate": _string("driver manual: PEM certificate of the local HTTPS callback listener "
                                        "(default: a fresh self-signed one)"),
        "callback_key": _string("driver manual: the private key of callback_certificate"),
    },
    "how the suite logs in as the test person and gives consent",
    required=["driver"],
)

#: keys of ``login`` that only one driver reads (using them with another driver is a mistake)
LOGIN_DRIVER_KEYS: dict[str, str] = {"steps": "steps", "timeout": "manual", "callback_certificate": "manual",
                                     "callback_key": "manual", "link_text": "form"}

OPTION_LISTS_SCHEMA: dict[str, Any] = _object(
    {
        "zal": _string("URL (or file) of the Zorgaanbiederslijst you publish"),
        "ocl": _string("URL (or file) of the OAuth Client List"),
        "whitelist": _string("URL (or file) of the Whitelist"),
        "gnl": _string("URL (or file) of the Gegevensdienstnamenlijst"),
    },
    "check the MedMij lists at these URLs: XML Schema, semantics, cross-list rules, serving "
    "(LIST-XSD-01..04, LIST-SEM-01..06, LIST-HTTP-01)",
)

OPTIONS_SCHEMA: dict[str, Any] = _object(
    {
        # --- what the DVA offers (scenarios that need them are omitted without) ---
        "long_lived_consent": _flag("the DVA issues refresh tokens (langdurige toestemming): enables "
                                    "refresh-token rotation (AS-TOKEN-11, AS-TOKEN-03)"),
        "vertegenwoordiging": _flag("the DVA offers the Vertegenwoordiging extension (AS-AUTHZ-14)"),
        "vertegenwoordiging_geboortedatum": {
            "type": ["string", "integer"], "pattern": "^[0-9]{8}$", "minimum": 10000101, "maximum": 99991231,
            "description": "birth date JJJJMMDD of the represented person sent as MedMij_geboortedatum "
                           "(default 19700901; AS-AUTHZ-14)"},
        "abonneren": _flag("the DVA offers the Abonneren extension (AS-TOKEN-15)"),
        "abonneren_maximale_duur": {"type": "integer", "minimum": 1,
                                    "description": "the ZAL MaximaleDuur in days: the longest subscription the "
                                                   "DVA may grant (default 30; AS-TOKEN-15)"},
        # --- timing ---
        "code_lifetime_seconds": _seconds("lifetime of an authorization code: enables the expired-code scenario, "
                                          "which waits this long + 1 s (AS-TOKEN-07)"),
        "token_expiry_wait_seconds": _seconds("enables the expired-token scenario: wait this long after issuance, "
                                              "then the access token must be refused (RS-AUTH-05)"),
        "token_expiry_login_fields": _fields(
            "login fields of a test person whose access tokens expire sooner (used with "
            "token_expiry_wait_seconds, so the expired-token scenario need not wait 15 minutes; RS-AUTH-05)"),
        "access_token_lifetime_seconds": _seconds("informational: how long the DVA's access tokens live "
                                                  "(set by the embedded reference DVA)"),
        "token_response_limit_seconds": _seconds("the token endpoint's response time limit (default 10; "
                                                 "AS-TOKEN-10)"),
        "resource_response_limit_seconds": _seconds("the resource server's response time limit (default 60; "
                                                    "RS-PERF-01)"),
        "token_min_entropy_bits": {"type": "integer", "minimum": 1,
                                   "description": "the least estimated entropy in bits of every code, access "
                                                  "token and refresh token over 5 flows (default 112; "
                                                  "AS-TOKEN-13)"},
        # --- authorization request ---
        "max_state_length": {"type": "integer", "minimum": 1,
                             "description": "the longest state the DVA must accept (default 512 ⚠; AS-AUTHZ-09)"},
        "encoded_redirect_uri": _string("a registered redirect_uri of the client with a percent-encoded "
                                        "character (AS-AUTHZ-10)", minLength=1),
        "consent_page_names": {"type": ["array", "string"], "items": {"type": "string"},
                               "description": "texts the login or consent pages must show, e.g. the PGO's "
                                              "organisation name and the gegevensdienst (AS-AUTHZ-13)"},
        "unlisted_service_scope": _string("a scope of a gegevensdienst you offer that your OCL does not allow "
                                          "for the client (AS-AUTHZ-06)", minLength=1),
        "other_service_scope": _string("a valid scope of another gegevensdienst: its token must not read the "
                                       "data of this one (RS-AUTH-04)", minLength=1),
        "partial_availability": _object(
            {
                "login_fields": _fields("login fields of a test person who lacks one of the requested "
                                        "gegevensdiensten"),
                "scope": _string("the scope to request (several gegevensdiensten)", minLength=1),
                "granted_scope": _string("the scope the DVA must grant: the requested one minus what that "
                                         "person lacks", minLength=1),
                "person": _string("informational: the test person's name"),
            },
            "a test person lacking one requested gegevensdienst: the token grants only part of the scope "
            "(AS-TOKEN-14)",
            required=["login_fields", "scope", "granted_scope"],
        ),
        "consent_management": _object(
            {
                "url": _string("the \"Beheren toestemmingen\" page", minLength=1),
                "fields": _fields("login fields for that page (name: value)"),
                "revoke_button": _string("name of the button that revokes a consent; its value is the client_id "
                                         "of other_client", minLength=1),
            },
            "revocation through your consent management page; needs other_client (AS-TOKEN-12)",
            required=["url", "fields", "revoke_button"],
        ),
        # --- mutual TLS negatives ---
        "untrusted_client_certificate": _string("PEM client certificate your DVA must refuse (mTLS negatives: "
                                                "AS-TOKEN-01, RS-TLS-01, TLS-MTLS-01)"),
        "untrusted_client_key": _string("the private key of untrusted_client_certificate"),
        # --- lists and TLS ---
        "lists": OPTION_LISTS_SCHEMA,
        "tls_issuing_cas": {"type": ["array", "string"], "items": {"type": "string"},
                            "description": "allowed issuing CA names of the backchannel certificates (default: "
                                           "PKIoverheid Private Services G1; TLS-CERT-01)"},
        "tls_frontchannel_trust": {"type": ["array", "string"], "items": {"type": "string"},
                                   "description": "CA files for the frontchannel certificate, or `target` for the "
                                                  "target's trust list (default: the system store; TLS-CERT-02)"},
        "tls_min_cipher_level": {"enum": ["good", "sufficient", "phase_out"],
                                 "description": "the lowest NCSC rating of an offered cipher suite that passes "
                                                "(default good; TLS-CIPH-01)"},
        "tls_group_policy": {"enum": ["fail", "warn", "ignore"],
                             "description": "what a key-exchange group rated phase-out does (default warn)"},
        "tls_min_validation": {"enum": ["DV", "OV", "EV"],
                               "description": "the lowest validation level of the frontchannel certificate "
                                              "(default OV; TLS-CERT-02)"},
        "tls_allow_wildcard": _flag("accept wildcard certificates (default false; TLS-CERT-03)"),
        "tls_timeout": _seconds("seconds per TLS network operation (default: the connect timeout, at most 10)"),
        "tls_connections": {"type": "integer", "minimum": 1,
                            "description": "concurrent TLS connections per server (default 6)"},
        # --- set by the embedded reference DVA (informational) ---
        "reference": _flag("informational: the target is the embedded reference DVA"),
        "faults": {"type": "array", "items": {"type": "string"},
                   "description": "informational: the reference DVA's fault switches that are on"},
        "login_variant": {"enum": [1, 2], "description": "informational: the reference DVA's login page "
                                                         "variant (1 username/password, 2 bsn/wachtwoord)"},
        "strict_queries": _flag("informational: the reference DVA's resource server answers only the "
                                "gegevensdienst's catalogued queries and reads"),
        "persons": {"type": "array", "items": {"type": "string"},
                    "description": "informational: the reference DVA's test persons"},
        "person_login_fields": {"type": "array", "items": _fields("login fields of one test person"),
                                "description": "informational: login fields of each of the reference DVA's "
                                               "test persons"},
    },
    "switches for scenarios that need something only you can provide; a scenario without its option "
    "is reported as omitted, never as failed",
    dependentRequired={
        "untrusted_client_certificate": ["untrusted_client_key"],
        "untrusted_client_key": ["untrusted_client_certificate"],
        "token_expiry_login_fields": ["token_expiry_wait_seconds"],
    },
)


def _lists_schema() -> dict[str, Any]:
    """The ``lists:`` key (owned by validatiestraat.lists.resolve), with a description on every key."""
    import copy

    from validatiestraat.lists.resolve import TARGET_LISTS_SCHEMA

    schema = copy.deepcopy(TARGET_LISTS_SCHEMA)
    schema.setdefault("description", "resolve the endpoints from the MedMij lists, as a PGO does")
    defaults = {
        "interfaceversie": "the interfaceversie to use (default: the highest that offers the gegevensdienst)",
        "systeemrol": "the Systeemrolcode whose ResourceEndpoint to use (default: the first)",
    }
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, dict) and "description" not in prop:
            prop["description"] = defaults.get(name, name)
    return schema


TARGET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "validatiestraat target file",
    "type": "object",
    "required": ["client", "aanbieder"],
    "anyOf": [{"required": ["endpoints"]}, {"required": ["lists"]}],
    "additionalProperties": False,
    "properties": {
        "name": _string("a name for reports (default: aanbieder)"),
        "fhir_version": {"enum": ["stu3", "r4"], "description": "FHIR version of the resource server (default stu3)"},
        "aanbieder": _string("the aanbieder's MedMij name without @medmij (the Verzamelen scope)", minLength=1),
        "gegevensdiensten": {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]},
                             "description": "the gegevensdiensten to test (default [\"48\"])"},
        "endpoints": ENDPOINTS_SCHEMA,
        "lists": _lists_schema(),
        "client": CLIENT_SCHEMA,
        "other_client": dict(CLIENT_SCHEMA, description=(
            "a second PGO client on your OCL: enables codes and tokens of another client (AS-TOKEN-08) and "
            "revocation of one client's consent (AS-TOKEN-11, AS-TOKEN-12)")),
        "trust": {"type": "array", "items": {"type": "string"},
                  "description": "PEM trust anchors for your endpoints (relative to the target file's folder)"},
        "login": LOGIN_SCHEMA,
        "options": OPTIONS_SCHEMA,
        "resource": _object(
            {"access_token": _string("a pre-issued access token (as Nictiz qualification uses; use ${ENV}): "
                                     "resource-server checks use it when no flow yields a token; redacted "
                                     "everywhere", minLength=1)},
            "the resource server without an OAuth flow",
        ),
        "timeouts": _object(
            {
                "connect": _seconds("seconds to set up a connection (default 5)"),
                "read": _seconds("seconds to wait for a response (default 30)"),
                "total": _seconds("reserved: accepted, not enforced yet"),
            },
            "network timeouts",
        ),
        "preflight": _object(
            {"network": _flag("false skips the reachability part of the preflight (like --no-preflight)")},
            "the checks of the target before any test",
        ),
    },
}


@dataclass
class ClientIdentity:
    client_id: str
    redirect_uri: str
    certificate: Path | None = None
    key: Path | None = None
    key_password: str | None = None


@dataclass
class Target:
    name: str
    fhir_version: str
    aanbieder: str
    gegevensdiensten: list[str]
    authorization_endpoint: str
    token_endpoint: str
    resource_endpoint: str
    client: ClientIdentity
    other_client: ClientIdentity | None = None
    trust: list[Path] = field(default_factory=list)
    login: dict[str, Any] = field(default_factory=lambda: {"driver": "form"})
    options: dict[str, Any] = field(default_factory=dict)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    source: str = "<memory>"
    #: secrets (passwords) that must be redacted wherever they might appear
    secrets: list[str] = field(default_factory=list)
    #: the MedMij Whitelist when the target names one: hosts not on it are never contacted
    whitelist: Any = None
    #: how the endpoints were found ("target file" or the ZAL they were resolved from)
    endpoints_source: str = "target file"
    #: schema or semantic errors of the lists named by the target (a PGO would refuse them)
    list_problems: list[str] = field(default_factory=list)
    #: a pre-issued access token (``resource.access_token``) for resource-server checks when no
    #: flow yields a token; a secret (in ``secrets``, never in ``describe()``)
    access_token: str | None = None
    #: ``preflight.network``: whether the preflight may check that the hosts answer
    preflight_network: bool = True
    #: "dva" (the suite plays the PGO) or "pgo" (the suite plays the DVA and the stelselnode)
    role: str = "dva"
    #: the ``pgo:`` block of a PGO target: how the harness makes the PGO act (pgo/target.py)
    pgo: dict[str, Any] | None = None
    #: requirement IDs the target declares out of its scope, with the reason (reported as omitted)
    not_applicable: dict[str, str] = field(default_factory=dict)
    #: the PGO harness of a PGO run (set when the run starts it), and where it must run (the
    #: target's ``harness:`` block: workdir, front_port, back_port)
    harness: Any = None
    harness_settings: dict[str, Any] = field(default_factory=dict)
    pgo_driver: Any = None

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def describe(self) -> dict[str, Any]:
        """A redaction-safe description for reports."""
        return {
            "name": self.name,
            "source": self.source,
            "fhir_version": self.fhir_version,
            "aanbieder": self.aanbieder,
            "gegevensdiensten": self.gegevensdiensten,
            "endpoints": {
                "authorization": self.authorization_endpoint,
                "token": self.token_endpoint,
                "resource": self.resource_endpoint,
            },
            "client_id": self.client.client_id,
            "redirect_uri": self.client.redirect_uri,
            "login_driver": self.login.get("driver"),
            "endpoints_source": self.endpoints_source,
            "whitelist": getattr(self.whitelist, "source", None),
            "options": {k: v for k, v in self.options.items() if not isinstance(v, (dict, list))},
            "pre_issued_access_token": bool(self.access_token),
            "role": self.role,
            **({"not_applicable": dict(self.not_applicable)} if self.not_applicable else {}),
        }


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute_env(value: Any, missing: list[str], env: dict[str, str] | None = None) -> Any:
    """Replace ``${NAME}`` with environment values, recording names that are not set."""
    env = os.environ if env is None else env
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                missing.append(name)
                return ""
            return env[name]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, list):
        return [substitute_env(v, missing, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute_env(v, missing, env) for k, v in value.items()}
    return value


def target_from_dict(data: dict[str, Any], base_dir: Path, source: str = "<memory>") -> Target:
    """Build a Target from a schema-valid dict. Relative paths are resolved against base_dir.

    With ``lists:`` the endpoints are resolved from the ZAL exactly as a PGO would (a combination
    that is not on the list raises a UserError naming what is on it).
    """
    original = data

    def path(p: str | None) -> Path | None:
        if not p:
            return None
        candidate = Path(p)
        return candidate if candidate.is_absolute() else (base_dir / candidate)

    def client(c: dict[str, Any] | None) -> ClientIdentity | None:
        if not c:
            return None
        return ClientIdentity(
            client_id=c["client_id"],
            redirect_uri=c["redirect_uri"],
            certificate=path(c.get("certificate")),
            key=path(c.get("key")),
            key_password=c.get("key_password") or None,
        )

    resolved = None
    if data.get("lists"):
        from validatiestraat.lists.fetch import FetchOptions
        from validatiestraat.lists.resolve import resolve_target_lists

        c = client(data["client"])
        assert c is not None
        fetch = FetchOptions(trust=[p for p in (path(t) for t in data.get("trust", [])) if p],
                             certificate=c.certificate, key=c.key, key_password=c.key_password)
        resolved = resolve_target_lists(data["lists"], data["aanbieder"],
                                        [str(g) for g in data.get("gegevensdiensten", [])] or None,
                                        base_dir=base_dir, options=fetch)
        if "endpoints" not in data:
            data = dict(data, endpoints={k: resolved.endpoints[k] for k in ("authorization", "token", "resource")})
    timeouts = data.get("timeouts") or {}
    login = dict(data.get("login") or {"driver": "form"})
    options = dict(data.get("options") or {})
    access_token = (data.get("resource") or {}).get("access_token") or None
    secrets = _secret_values(login) + _secret_values(options, _PASSWORD_KEYS) + [
        (data.get(who) or {}).get("key_password") or "" for who in ("client", "other_client")
    ] + [access_token or ""] + _filled_values(login)
    return Target(
        name=data.get("name", data["aanbieder"]),
        fhir_version=data.get("fhir_version", "stu3"),
        aanbieder=data["aanbieder"],
        gegevensdiensten=[str(g) for g in data.get("gegevensdiensten", ["48"])],
        authorization_endpoint=data["endpoints"]["authorization"],
        token_endpoint=data["endpoints"]["token"],
        resource_endpoint=data["endpoints"]["resource"].rstrip("/"),
        client=client(data["client"]),  # type: ignore[arg-type]
        other_client=client(data.get("other_client")),
        trust=[p for p in (path(t) for t in data.get("trust", [])) if p],
        login=login,
        options=options,
        connect_timeout=float(timeouts.get("connect", 5.0)),
        read_timeout=float(timeouts.get("read", 30.0)),
        source=source,
        secrets=[s for s in secrets if s],
        whitelist=resolved.whitelist if resolved else None,
        endpoints_source=f"ZAL {data['lists']['zal']}" if resolved and "endpoints" not in original else "target file",
        list_problems=list(resolved.problems) if resolved else [],
        access_token=access_token,
        preflight_network=bool((data.get("preflight") or {}).get("network", True)),
    )


_SECRET_KEYS = re.compile(r"pass|wachtwoord|secret|pin|token|otp|bsn", re.I)
#: in ``options`` (where names like ``token_expiry_wait_seconds`` are no secrets): passwords only
_PASSWORD_KEYS = re.compile(r"pass|wachtwoord|secret|pin|otp", re.I)


def _filled_values(login: dict[str, Any]) -> list[str]:
    """Every value a login driver types into a form (``fields``, ``steps[].fill``), whatever the
    field is called (a password field named ``pwd`` is still a password); redacted everywhere.
    Values shorter than 4 characters are left out: they would mask unrelated text."""
    values = list((login.get("fields") or {}).values())
    for step in login.get("steps") or []:
        if isinstance(step, dict):
            values += list((step.get("fill") or {}).values())
    return [str(v) for v in values if isinstance(v, (str, int)) and len(str(v)) >= 4]


def _secret_values(obj: Any, keys: re.Pattern[str] = _SECRET_KEYS) -> list[str]:
    """String values under keys that look secret (password, pin, secret, token, ...)."""
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (str, int)) and not isinstance(v, bool) and keys.search(str(k)):
                out.append(str(v))
            else:
                out.extend(_secret_values(v, keys))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(_secret_values(v, keys))
    return out


def load_target(path: Path, env: dict[str, str] | None = None) -> Target:
    """Read, schema-check and env-substitute a target file.

    Every problem is a :class:`UserError` (exit 4) with located problems, e.g.
    ``my.yaml:12:3: options: unknown key 'long_lived_consnet' (did you mean 'long_lived_consent'?)``.
    Nothing here touches the network unless the file names ``lists:`` and is otherwise valid.
    """
    from validatiestraat.scenario.yamlpos import YamlError, load_with_positions

    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read target file {display}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"cannot read target file {display}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data, positions = load_with_positions(text, display)
    except YamlError as exc:
        raise UserError("the target file is not valid YAML", [exc.problem]) from None
    is_pgo = isinstance(data, dict) and data.get("role") == "pgo"
    problems = schema_problems(data, positions, display, schema=PGO_TARGET_SCHEMA if is_pgo else None)
    if problems:
        raise UserError(f"the target file has {len(problems)} configuration error(s) (see docs/target.md)", problems)
    if is_pgo:
        from validatiestraat.pgo.target import HARNESS_VARIABLES

        env = dict(os.environ if env is None else env)
        env.update({name: "${" + name + "}" for name in HARNESS_VARIABLES if name not in env})
    unset = _unset_env_refs(data, os.environ if env is None else env)
    if unset:
        from validatiestraat.scenario.yamlpos import value_position_of

        raise UserError(
            "the target file refers to environment variables that are not set",
            [Problem(display, *value_position_of(positions, where), f"{_label(where)}: ${{{name}}} is not set")
             for where, name in unset],
        )
    data = substitute_env(data, [], env)
    if is_pgo:
        return pgo_target_from_dict(data, path.parent.resolve(), source=display)
    return target_from_dict(data, path.parent.resolve(), source=display)


def _pgo_target_schema() -> dict[str, Any]:
    from validatiestraat.pgo.target import NOT_APPLICABLE_SCHEMA, PGO_SCHEMA

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "validatiestraat target file for a PGO (role: pgo)",
        "type": "object",
        "additionalProperties": False,
        "required": ["role", "pgo"],
        "properties": {
            "role": {"const": "pgo", "description": "the suite plays the DVA and the stelselnode"},
            "name": {"type": "string", "description": "a name for reports"},
            "pgo": PGO_SCHEMA,
            "not_applicable": NOT_APPLICABLE_SCHEMA,
            "harness": {
                "type": "object",
                "additionalProperties": False,
                "description": "where the harness runs, so that a PGO can be configured once: fixed ports, and a "
                               "folder that keeps its PKI (CA, server and client certificates) from run to run "
                               "(the same folder `validatiestraat serve --role pgo --workdir` uses)",
                "properties": {
                    "workdir": {"type": "string"},
                    "front_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "back_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                },
            },
        },
    }


PGO_TARGET_SCHEMA: dict[str, Any] = _pgo_target_schema()


def pgo_target_from_dict(data: dict[str, Any], base_dir: Path, source: str = "<memory>") -> Target:
    """A PGO target: the harness fills in the DVA side (endpoints, aanbieder) when it starts."""
    block = dict(data["pgo"])

    def path(p: str) -> Path:
        candidate = Path(p)
        return candidate if candidate.is_absolute() else base_dir / candidate

    for key in ("client_ca", "client_certificate"):
        if block.get(key):
            block[key] = str(path(block[key]))
    trust = [path(t) for t in block.get("trust", [])]
    secrets = [v for v in _secret_values(block)]
    return Target(
        name=data.get("name", block["client_id"]),
        fhir_version="stu3",
        aanbieder="",
        gegevensdiensten=[str(block.get("gegevensdienst", "48"))],
        authorization_endpoint="", token_endpoint="", resource_endpoint="",
        client=ClientIdentity(client_id=block["client_id"], redirect_uri=block["redirect_uri"]),
        trust=trust,
        login={"driver": "none"},
        source=source,
        secrets=[s for s in secrets if s],
        role="pgo",
        pgo=block,
        not_applicable=dict(data.get("not_applicable") or {}),
        read_timeout=float(block.get("timeout", 20)),
        harness_settings={k: (str(path(v)) if k == "workdir" else v) for k, v in (data.get("harness") or {}).items()},
    )


def _unset_env_refs(value: Any, env: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Every ``${NAME}`` whose variable is not set, with the path of the value it is in."""
    if isinstance(value, str):
        return [(path, m.group(1)) for m in _ENV_REF.finditer(value) if m.group(1) not in env]
    if isinstance(value, list):
        return [ref for i, v in enumerate(value) for ref in _unset_env_refs(v, env, path + (i,))]
    if isinstance(value, dict):
        return [ref for k, v in value.items() for ref in _unset_env_refs(v, env, path + (k,))]
    return []
# --------------------------------------------------------------------------- validation messages

_TYPE_WORDS = {"string": "a string", "number": "a number", "integer": "a whole number",
               "boolean": "true or false", "object": "a mapping (key: value)", "array": "a list",
               "null": "nothing"}


def _label(path: tuple) -> str:
    """``("login", "steps", 0, "fill")`` -> ``login.steps[0].fill``; the root is ``(top level)``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _shown(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return repr(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def closest(name: str, valid: list[str] | tuple[str, ...]) -> str | None:
    """The valid name closest to a misspelt one (case-insensitive), or None when nothing is close."""
    name = str(name)
    by_lower = {v.lower(): v for v in map(str, valid)}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    match = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    if match:
        return by_lower[match[0]]
    # a prefix or a part: 'consent' -> 'consent_management', 'zal_url' -> 'zal'
    parts = [v for v in by_lower if len(name) >= 3 and (v.startswith(name.lower()) or name.lower().startswith(v))]
    return by_lower[parts[0]] if len(parts) == 1 else None


def _hint(name: str, valid: list[str]) -> str:
    suggestion = closest(name, valid)
    if suggestion is not None:
        return f" (did you mean {suggestion!r}?)"
    if len(valid) <= 12:
        return f" (known keys: {', '.join(sorted(valid))})"
    return " (see docs/target.md for every key)"


def schema_problems(data: Any, positions: dict, display: str, schema: dict[str, Any] | None = None) -> list[Problem]:
    """Every schema error of a target as a located, readable problem: each unknown key on its own
    with the closest valid name, wrong values with what was expected."""
    import jsonschema

    from validatiestraat.scenario.yamlpos import position_of, unknown_keys, value_position_of

    validator = jsonschema.Draft202012Validator(schema or TARGET_SCHEMA)
    problems: list[Problem] = []

    def add(path: tuple, message: str, value: bool = False) -> None:
        # a wrong value points at the value itself; an empty (null) value at its key
        value = value and error.instance is not None
        line, col = value_position_of(positions, path) if value else position_of(positions, path)
        problems.append(Problem(display, line, col, f"{_label(path)}: {message}"))

    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        kind = error.validator
        if kind == "additionalProperties":
            valid = list(error.schema.get("properties", {}))
            for key in unknown_keys(error):
                line, col = position_of(positions, path + (key,))
                problems.append(Problem(display, line, col, f"{_label(path)}: unknown key {key!r}{_hint(key, valid)}"))
        elif kind == "anyOf" and not path and error.validator_value == TARGET_SCHEMA.get("anyOf"):
            add(path, "give either 'endpoints' (the DVA's URLs) or 'lists' (a ZAL to resolve them from)")
        elif kind == "required":
            add(path, error.message)
        elif kind == "dependentRequired":
            for prop, needed in error.validator_value.items():
                missing = [n for n in needed if prop in error.instance and n not in error.instance]
                for name in missing:
                    line, col = position_of(positions, path + (prop,))
                    problems.append(Problem(display, line, col, f"{_label(path + (prop,))}: needs {name!r} as well"))
        elif kind == "enum":
            allowed = error.validator_value
            shown = repr(error.instance) if isinstance(error.instance, str) else _shown(error.instance)
            message = f"{shown} is not one of {', '.join(map(repr, allowed))}"
            if isinstance(error.instance, str):
                suggestion = closest(error.instance, [str(a) for a in allowed])
                if suggestion is not None:
                    message += f" (did you mean {suggestion!r}?)"
            add(path, message, value=True)
        elif kind == "type":
            wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            add(path, f"expected {_or([_TYPE_WORDS.get(w, w) for w in wanted])}, got {_shown(error.instance)}",
                value=True)
        elif kind == "exclusiveMinimum":
            add(path, f"must be greater than {_number(error.validator_value)}, got {_shown(error.instance)}", value=True)
        elif kind == "minimum":
            add(path, f"must be at least {_number(error.validator_value)}, got {_shown(error.instance)}", value=True)
        elif kind == "maximum":
            add(path, f"must be at most {_number(error.validator_value)}, got {_shown(error.instance)}", value=True)
        elif kind in ("minLength", "minItems"):
            add(path, "must not be empty", value=True)
        elif kind == "pattern":
            add(path, f"{_shown(error.instance)} does not have the form {error.validator_value}", value=True)
        else:
            add(path, error.message, value=not isinstance(error.instance, (dict, list)))
    problems.extend(_driver_problems(data, positions, display))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.message))
    return problems


def _driver_problems(data: Any, positions: dict, display: str) -> list[Problem]:
    """Login keys that the chosen driver never reads, and steps that mix actions."""
    from validatiestraat.scenario.yamlpos import position_of

    login = data.get("login") if isinstance(data, dict) else None
    if not isinstance(login, dict) or login.get("driver") not in ("form", "steps", "manual"):
        return []
    driver = login["driver"]
    problems = []
    for key, only in LOGIN_DRIVER_KEYS.items():
        if key in login and only != driver:
            line, col = position_of(positions, ("login", key))
            problems.append(Problem(display, line, col, f"login.{key}: only driver {only!r} reads this key, "
                                                        f"but the driver is {driver!r}"))
    if driver == "steps" and "steps" not in login:
        line, col = position_of(positions, ("login", "driver"))
        problems.append(Problem(display, line, col, "login: driver 'steps' needs a 'steps' list"))
    steps = login.get("steps") if driver == "steps" and isinstance(login.get("steps"), list) else []
    for i, step in enumerate(steps):
        if isinstance(step, dict) and "click" in step and ("fill" in step or "submit" in step):
            line, col = position_of(positions, ("login", "steps", i, "click"))
            problems.append(Problem(display, line, col, f"login.steps[{i}]: a step either clicks or fills and "
                                                        "submits, not both"))
    return problems
