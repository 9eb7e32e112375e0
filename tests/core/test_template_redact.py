from __future__ import annotations

import pytest

from validatiestraat.report.redact import Redactor
from validatiestraat.scenario.template import MissingVariable, render


def test_render_variables_target_functions():
    target = {"aanbieder": "zorg", "client": {"client_id": "pgo.example"}}
    assert render("${code}", {"code": 5}) == 5  # whole-string keeps the type
    assert render("a=${code}&b=${target.client.client_id}", {"code": "x"}, target) == "a=x&b=pgo.example"
    assert len(render("${random(43)}", {})) == 43
    assert render("${repeat('a', 4)}", {}) == "aaaa"
    assert render("${missing|fallback}", {}) == "fallback"
    with pytest.raises(MissingVariable) as info:
        render({"k": ["${access_token}"]}, {})
    assert info.value.name == "access_token"


def test_redaction_of_known_and_structural_secrets():
    r = Redactor({"supersecrettoken123", "codevalue987"})
    url = r.url("https://pgo.test/cb?code=codevalue987&state=abc")
    assert "codevalue987" not in url and "state=abc" in url
    headers = r.headers([("Authorization", "Bearer other-unknown-token-xyz"), ("Accept", "x")])
    assert "other-unknown-token-xyz" not in str(headers) and headers[0][1].startswith("Bearer [REDACTED:")
    body = r.body('{"access_token": "never-captured-abc", "token_type": "bearer", "note": "supersecrettoken123"}')
    assert "never-captured-abc" not in body and "supersecrettoken123" not in body and "bearer" in body
    form = r.body("grant_type=authorization_code&code=whatever12345&redirect_uri=https%3A%2F%2Fx")
    assert "whatever12345" not in form and "grant_type=authorization_code" in form
    fhir = r.body('{"code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}}')
    assert "85354-9" in fhir  # FHIR codes are evidence, not secrets
    assert "PRIVATE KEY" in r.text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----") and "abc" not in r.text(
        "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----")


def test_function_arguments_from_target_with_default():
    assert len(render("${random(target.options.n|7)}", {}, {"options": {}})) == 7
    assert len(render("${random(target.options.n|7)}", {}, {"options": {"n": 9}})) == 9
