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
      fields: {username: testpatient1, password: ${DVA_TEST_PASSWORD}}
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLIENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["client_id", "redirect_uri"],
    "additionalProperties": False,
    "properties": {
        "client_id": {"type": "string", "minLength": 1},
        "redirect_uri": {"type": "string", "minLength": 1},
        "certificate": {"type": "string"},
        "key": {"type": "string"},
        "key_password": {"type": "string"},
    },
}

def _lists_schema() -> dict[str, Any]:
    from validatiestraat.lists.resolve import TARGET_LISTS_SCHEMA

    return TARGET_LISTS_SCHEMA


TARGET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "validatiestraat target file",
    "type": "object",
    "required": ["client", "aanbieder"],
    "anyOf": [{"required": ["endpoints"]}, {"required": ["lists"]}],
    "additionalProperties": False,
    "properties": {
        "lists": _lists_schema(),
        "name": {"type": "string"},
        "fhir_version": {"enum": ["stu3", "r4"]},
        "aanbieder": {"type": "string", "minLength": 1, "description": "Aanbieder's MedMij name without @medmij (the Verzamelen scope)"},
        "gegevensdiensten": {"type": "array", "items": {"type": ["string", "integer"]}},
        "endpoints": {
            "type": "object",
            "required": ["authorization", "token", "resource"],
            "additionalProperties": False,
            "properties": {
                "authorization": {"type": "string"},
                "token": {"type": "string"},
                "resource": {"type": "string"},
            },
        },
        "client": CLIENT_SCHEMA,
        "other_client": CLIENT_SCHEMA,
        "trust": {"type": "array", "items": {"type": "string"}},
        "login": {
            "type": "object",
            "properties": {
                "driver": {"enum": ["form", "manual", "steps"]},
                "fields": {"type": "object"},
                "submit": {"type": "object"},
                "deny": {"type": "object"},
                "link_text": {"type": "string"},
                "timeout": {"type": "number"},
                "callback_certificate": {"type": "string"},
                "callback_key": {"type": "string"},
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "match": {"type": "string"},
                            "click": {"type": "string"},
                            "fill": {"type": "object"},
                            "submit": {"type": ["string", "object"]},
                        },
                    },
                },
            },
            "required": ["driver"],
        },
        "options": {"type": "object"},
        "timeouts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "connect": {"type": "number", "exclusiveMinimum": 0},
                "read": {"type": "number", "exclusiveMinimum": 0},
                "total": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "preflight": {"type": "object"},
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
    timeouts = data.get("timeouts", {})
    login = dict(data.get("login") or {"driver": "form"})
    secrets = [v for v in _secret_values(login)] + [data.get("client", {}).get("key_password") or ""]
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
        options=dict(data.get("options", {})),
        connect_timeout=float(timeouts.get("connect", 5.0)),
        read_timeout=float(timeouts.get("read", 30.0)),
        source=source,
        secrets=[s for s in secrets if s],
        whitelist=resolved.whitelist if resolved else None,
        endpoints_source=f"ZAL {data['lists']['zal']}" if resolved and "endpoints" not in original else "target file",
        list_problems=list(resolved.problems) if resolved else [],
    )


def _secret_values(obj: Any) -> list[str]:
    """Values under keys that look secret (password, pin, secret, token)."""
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and re.search(r"pass|wachtwoord|secret|pin|token|otp|bsn", str(k), re.I):
                out.append(v)
            else:
                out.extend(_secret_values(v))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(_secret_values(v))
    return out


def load_target(path: Path, env: dict[str, str] | None = None) -> Target:
    """Read, env-substitute and schema-check a target file. Raises UserError with located problems."""
    import jsonschema

    from validatiestraat.errors import Problem, UserError
    from validatiestraat.scenario.yamlpos import YamlError, load_with_positions, schema_error_location

    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read target file {display}: {exc.strerror}") from None
    try:
        data, positions = load_with_positions(text, display)
    except YamlError as exc:
        raise UserError("the target file is not valid YAML", [exc.problem]) from None
    problems: list[Problem] = []
    validator = jsonschema.Draft202012Validator(TARGET_SCHEMA)
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = tuple(error.absolute_path)
        line, col = schema_error_location(error, positions)
        label = "/".join(map(str, where)) or "(top level)"
        problems.append(Problem(display, line, col, f"{label}: {error.message}"))
    if problems:
        raise UserError("the target file does not match the target schema", problems)
    missing: list[str] = []
    data = substitute_env(data, missing, env)
    if missing:
        raise UserError(
            "the target file refers to environment variables that are not set",
            [Problem(display, None, None, f"${{{name}}} is not set") for name in sorted(set(missing))],
        )
    return target_from_dict(data, path.parent.resolve(), source=display)
