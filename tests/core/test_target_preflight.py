"""Target files: schema errors with locations, ${ENV} secrets, preflight problems all at once."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from validatiestraat.engine.preflight import preflight
from validatiestraat.errors import UserError
from validatiestraat.reference.pki import TestPKI
from validatiestraat.target import load_target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> TestPKI:
    return TestPKI.generate(tmp_path_factory.mktemp("pki"))


def target_text(pki: TestPKI, port: int, **over: str) -> str:
    values = {
        "cert": str(pki.client.cert_path), "key": str(pki.client.key_path), "ca": str(pki.ca_path),
        "auth": f"https://localhost:{port}/oauth/authorize", "token": f"https://localhost:{port}/oauth/token",
        "resource": f"https://localhost:{port}/fhir",
    }
    values.update(over)
    return f"""name: test DVA
aanbieder: testzorg
endpoints:
  authorization: {values['auth']}
  token: {values['token']}
  resource: {values['resource']}
client:
  client_id: pgo.validatiestraat.test
  redirect_uri: https://pgo.validatiestraat.test/callback
  certificate: {values['cert']}
  key: {values['key']}
trust: [{values['ca']}]
login:
  driver: form
  fields: {{username: tester, password: "${{DVA_PASSWORD}}"}}
"""


def test_env_substitution_and_secrets(tmp_path, pki):
    path = tmp_path / "t.yaml"
    path.write_text(target_text(pki, 1))
    target = load_target(path, env={"DVA_PASSWORD": "s3cret-password"})
    assert target.login["fields"]["password"] == "s3cret-password"
    assert "s3cret-password" in target.secrets
    assert "s3cret-password" not in str(target.describe())
    with pytest.raises(UserError) as info:
        load_target(path, env={})
    assert "${DVA_PASSWORD} is not set" in str(info.value.problems[0])


def test_schema_error_is_located(tmp_path, pki):
    path = tmp_path / "t.yaml"
    path.write_text(target_text(pki, 1).replace("  token:", "  tokken:"))
    with pytest.raises(UserError) as info:
        load_target(path, env={"DVA_PASSWORD": "x"})
    text = "\n".join(map(str, info.value.problems))
    assert f"{path}:3:" in text and "'token' is a required property" in text
    assert f"{path}:5:3:" in text and "tokken" in text


def test_preflight_reports_every_problem(tmp_path, pki):
    path = tmp_path / "t.yaml"
    closed = free_port()
    path.write_text(target_text(pki, closed, cert=str(tmp_path / "missing.pem"), key=str(pki.other_client.key_path),
                                resource="http://localhost/fhir"))
    target = load_target(path, env={"DVA_PASSWORD": "x"})
    problems = [p.message for p in preflight(target)]
    assert any("client.certificate: file not found" in p for p in problems)
    assert any("endpoints.resource" in p and "not an https URL" in p for p in problems)
    # the https URLs are fine syntactically; reachability is skipped while a URL is broken
    path.write_text(target_text(pki, closed, key=str(pki.other_client.key_path)))
    target = load_target(path, env={"DVA_PASSWORD": "x"})
    problems = [p.message for p in preflight(target)]
    assert any("the key does not belong to the certificate" in p for p in problems)
    assert any(f"localhost:{closed} does not answer" in p for p in problems)
