"""Redaction of secrets in everything a report writes.

Two layers: (1) known secret values collected during the run (tokens, codes, passwords, keys)
are replaced wherever they appear; (2) structural rules catch what was never captured:
Authorization/Cookie headers, ``code``/``access_token``/``refresh_token``/``password`` in query
strings, form bodies and JSON bodies, PEM private keys.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization"}
SECRET_PARAMS = {"code", "access_token", "refresh_token", "id_token", "password", "wachtwoord",
                 "client_secret", "subject_token", "actor_token", "pin", "otp"}
#: JSON members masked by name; not ``code``, which is everywhere in FHIR (an OAuth code never
#: travels in JSON, and known code values are masked wherever they appear anyway)
SECRET_JSON_KEYS = SECRET_PARAMS - {"code"}
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)


def _secret_param(key: str, value: str) -> bool:
    """``code`` is also a FHIR search parameter (``code=http://loinc.org|8302-2``): keep those."""
    key = key.lower()
    if key not in SECRET_PARAMS or value.startswith("[REDACTED"):
        return False
    return not (key == "code" and ("|" in value or "://" in value))


def mask(value: str) -> str:
    """A stable, non-reversible stand-in that still lets a reader correlate occurrences."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"[REDACTED:{digest}]"


class Redactor:
    def __init__(self, secrets: set[str] | list[str]):
        # longest first so that a value containing another is masked whole
        values = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 6}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        if self._pattern is not None:
            value = self._pattern.sub(lambda m: mask(m.group(0)), value)
        value = _PEM_KEY.sub("[REDACTED PRIVATE KEY]", value)
        return value

    def url(self, url: str) -> str:
        url = self.text(url) or url
        parts = urlsplit(url)
        if not parts.query:
            return url
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if not any(_secret_param(k, v) for k, v in pairs):
            return url
        cleaned = [(k, mask(v) if _secret_param(k, v) else v) for k, v in pairs]
        return parts._replace(query=urlencode(cleaned, safe="[]:")).geturl()

    def headers(self, headers: list[tuple[str, str]] | list[list[str]]) -> list[list[str]]:
        out = []
        for name, value in headers:
            low = name.lower()
            if low in SECRET_HEADERS:
                scheme = value.split(" ", 1)[0] if low.endswith("authorization") and " " in value else ""
                value = f"{scheme} {mask(value)}".strip()
            elif low == "location":
                value = self.url(value)
            else:
                value = self.text(value) or value
            out.append([name, value])
        return out

    def body(self, body: str | None) -> str | None:
        if not body:
            return body
        body = self.text(body) or body
        stripped = body.lstrip()
        if stripped.startswith("{"):
            try:
                data = json.loads(body)
            except ValueError:
                return body
            return json.dumps(self.json(data), ensure_ascii=False)
        if "=" in body and "\n" not in body and " " not in body.strip():
            pairs = parse_qsl(body, keep_blank_values=True)
            if pairs and any(_secret_param(k, v) for k, v in pairs):
                return urlencode([(k, mask(v) if _secret_param(k, v) else v) for k, v in pairs], safe="[]:")
        return body

    def json(self, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (mask(v) if k.lower() in SECRET_JSON_KEYS and isinstance(v, str) and not v.startswith("[REDACTED")
                        else self.json(v)) for k, v in data.items()}
        if isinstance(data, list):
            return [self.json(v) for v in data]
        if isinstance(data, str):
            return self.text(data)
        return data
