"""The ``pgo:`` block of a target file: how the harness makes a PGO act.

A PGO starts flows on its user's behalf, so the suite needs a way to make it do so:

```yaml
role: pgo
name: My PGO (test)
pgo:
  client_id: pgo.example.nl                    # its OCL Hostname (the harness publishes it in the OCL)
  redirect_uri: https://pgo.example.nl/callback
  client_ca: certs/pgo-client-ca.pem           # CA of the PGO's mTLS client certificate (default: the
                                               # harness issues one: see `serve --role pgo`)
  trust: [certs/pgo-server-ca.pem]             # to reach the PGO's own HTTPS endpoints
  start:                                       # a request to the PGO that starts a flow ...
    method: POST
    url: https://pgo.example.nl/api/test/connect
    headers: {Authorization: "Bearer ${PGO_TEST_SESSION}"}
    json: {aanbieder: "${aanbieder}", gegevensdienst: "${gegevensdienst}", zal: "${zal}"}
    authorization_url: {from: location}        # or {from: json, path: "authorizeUrl"}, {from: html_link}
  # command: [./start-flow.sh]                 # ... or a hook: gets VS_* variables, prints the URL
  login: {mode: none}                          # none | header | cookie | form | manual
  done: https://pgo.example.nl/connected       # the browser stops at a URL with this prefix
  fetch: {method: POST, url: https://pgo.example.nl/api/test/fetch}
  refresh: {method: POST, url: https://pgo.example.nl/api/test/refresh}
  lists_refresh: {method: POST, url: https://pgo.example.nl/api/test/lists}
  timeout: 20                                  # seconds the harness waits for the PGO each time
not_applicable:
  PGO-RES-04: "searches are chosen by the app, not by this backend"
```

Values may use ``${NAME}`` from the environment (resolved when the file is loaded) and the
harness variables ``${aanbieder}``, ``${gegevensdienst}``, ``${zal}``, ``${whitelist}``,
``${ocl}``, ``${gnl}``, ``${authorization}``, ``${token}``, ``${resource}``, ``${ca}``,
``${interfaceversie}`` (resolved at each request, never from the environment).
"""

from __future__ import annotations

from typing import Any

#: the harness variables a ``pgo:`` block may use as ``${name}`` (resolved per request, not from
#: the environment)
HARNESS_VARIABLES = ("aanbieder", "gegevensdienst", "zal", "whitelist", "ocl", "gnl", "authorization", "token",
                     "resource", "ca", "interfaceversie")

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "method": {"type": "string", "description": "HTTP method (default GET)"},
        "url": {"type": "string", "description": "https URL of the PGO's endpoint"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "json": {"description": "a JSON body"},
        "form": {"type": "object", "additionalProperties": {"type": "string"}, "description": "a form body"},
        "body": {"type": "string", "description": "a raw body"},
    },
}

AUTH_URL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["from"],
    "properties": {
        "from": {"enum": ["location", "json", "html_link", "body"],
                 "description": "where the authorization URL is: the Location header of a redirect, a JSON "
                                "member (path: JMESPath), the first link to the authorization endpoint in an "
                                "HTML page, or the whole body"},
        "path": {"type": "string", "description": "JMESPath into the JSON body (from: json)"},
    },
}

PGO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["client_id", "redirect_uri", "done"],
    "properties": {
        "client_id": {"type": "string", "minLength": 1, "description": "the PGO's OCL Hostname"},
        "redirect_uri": {"type": "string", "description": "the PGO's registered redirect_uri"},
        "organisation_name": {"type": "string", "description": "OCL OAuthclientOrganisatienaam"},
        "client_ca": {"type": "string", "description": "PEM CA of the PGO's mTLS client certificate"},
        "client_certificate": {"type": "string", "description": "the client certificate the PGO presents "
                                                                 "(PEM; checked in the handshake: PGO-TOKEN-01)"},
        "trust": {"type": "array", "items": {"type": "string"},
                  "description": "trust anchors for the PGO's own HTTPS endpoints"},
        "start": {**REQUEST_SCHEMA, "properties": {**REQUEST_SCHEMA["properties"],
                                                   "authorization_url": AUTH_URL_SCHEMA}},
        "command": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                    "description": "instead of start: a program that gets the harness endpoints in VS_* "
                                   "environment variables and prints the authorization URL"},
        "login": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "mode": {"enum": ["none", "header", "cookie", "form", "manual"]},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "cookies": {"type": "object", "additionalProperties": {"type": "string"}},
                "url": {"type": "string", "description": "form: the PGO's login page"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "done": {"type": "string", "description": "URL prefix where the browser stops after the callback"},
        "fetch": REQUEST_SCHEMA,
        "refresh": REQUEST_SCHEMA,
        "lists_refresh": REQUEST_SCHEMA,
        "manual": {"type": "boolean", "description": "print each step and wait for the PGO instead of driving it"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600,
                    "description": "seconds the harness waits for the PGO each time (default 20)"},
        "gegevensdienst": {"type": "string", "description": "the gegevensdienst the PGO collects (default 48)"},
    },
    "anyOf": [{"required": ["start"]}, {"required": ["command"]}, {"required": ["manual"]}],
}

NOT_APPLICABLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"pattern": "^PGO-[A-Z]+-[0-9]{2}$"},
    "additionalProperties": {"type": "string", "minLength": 3},
    "description": "requirements out of the PGO's scope, each with the reason; reported as omitted, never passed",
}
