"""The target schema: every key described, unknown keys rejected with the closest valid name and
their own file:line:column, wrong values located, exit 4 before any network access; the pre-issued
access token is a redacted secret; docs/target.md documents every key of the schema."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from validatiestraat.cli import main
from validatiestraat.errors import UserError
from validatiestraat.report.redact import Redactor
from validatiestraat.target import LOGIN_DRIVER_KEYS, OPTIONS_SCHEMA, TARGET_SCHEMA, closest, load_target, schema_problems

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "target.md"

GOOD = """\
name: test DVA
aanbieder: testzorg
endpoints:
  authorization: https://localhost:PORT/oauth/authorize
  token: https://localhost:PORT/oauth/token
  resource: https://localhost:PORT/fhir
client:
  client_id: pgo.validatiestraat.test
  redirect_uri: https://pgo.validatiestraat.test/callback
trust: []
login:
  driver: form
  fields: {username: tester, password: "${DVA_PASSWORD}"}
  submit: {decision: approve}
options:
  long_lived_consent: true
  code_lifetime_seconds: 60
"""


def write(tmp_path: Path, text: str, name: str = "bad.yaml", port: int = 1) -> Path:
    path = tmp_path / name
    path.write_text(text.replace("PORT", str(port)), encoding="utf-8")
    return path


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(UserError) as info:
        load_target(path, env={"DVA_PASSWORD": "x"} if env is None else env)
    assert info.value.exit_code == 4
    return [str(p) for p in info.value.problems]


def test_the_good_target_loads(tmp_path):
    target = load_target(write(tmp_path, GOOD), env={"DVA_PASSWORD": "x"})
    assert target.option("long_lived_consent") is True and target.access_token is None


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, GOOD + "optoins: {}\n")
    (problem,) = problems(path)
    assert problem == f"{path}:18:1: (top level): unknown key 'optoins' (did you mean 'options'?)"


def test_unknown_option_with_suggestion(tmp_path):
    path = write(tmp_path, GOOD.replace("long_lived_consent", "long_lived_consnet"))
    (problem,) = problems(path)
    assert problem == f"{path}:16:3: options: unknown key 'long_lived_consnet' (did you mean 'long_lived_consent'?)"


def test_each_unknown_key_reported_on_its_own(tmp_path):
    path = write(tmp_path, GOOD + "  consent_managment: {url: x}\n  frobnicate: 1\n")
    found = problems(path)
    assert f"{path}:18:3: options: unknown key 'consent_managment' (did you mean 'consent_management'?)" in found
    assert f"{path}:19:3: options: unknown key 'frobnicate' (see docs/target.md for every key)" in found
    assert len(found) == 2


def test_unknown_nested_keys(tmp_path):
    text = (GOOD.replace("  token: https", "  tokn: https")
            .replace("  submit: {decision: approve}", "  submti: {decision: approve}")
            .replace("  client_id:", "  clientid:"))
    text += "  lists: {zal: https://x.example/zal.xml, ocls: https://x.example/ocl.xml}\nresource: {acces_token: abc}\n"
    path = write(tmp_path, text)
    found = problems(path)
    assert f"{path}:5:3: endpoints: unknown key 'tokn' (did you mean 'token'?)" in found
    assert f"{path}:3:1: endpoints: 'token' is a required property" in found
    assert f"{path}:8:3: client: unknown key 'clientid' (did you mean 'client_id'?)" in found
    assert f"{path}:14:3: login: unknown key 'submti' (did you mean 'submit'?)" in found
    assert f"{path}:18:43: options.lists: unknown key 'ocls' (did you mean 'ocl'?)" in found
    assert f"{path}:19:12: resource: unknown key 'acces_token' (did you mean 'access_token'?)" in found


def test_unknown_key_in_a_login_step_and_steps_only_keys(tmp_path):
    text = GOOD.replace("  driver: form\n", "  driver: form\n  steps:\n    - {match: x, clik: Inloggen}\n")
    found = problems(write(tmp_path, text))
    assert any(":14:18: login.steps[0]: unknown key 'clik' (did you mean 'click'?)" in p for p in found)
    assert any(":13:3: login.steps: only driver 'steps' reads this key, but the driver is 'form'" in p for p in found)
    text = GOOD.replace("  driver: form\n", "  driver: steps\n")
    found = problems(write(tmp_path, text))
    assert any(":12:3: login: driver 'steps' needs a 'steps' list" in p for p in found), found


def test_enum_mismatch_with_suggestion(tmp_path):
    path = write(tmp_path, GOOD.replace("driver: form", "driver: from") + "  tls_min_cipher_level: goood\n")
    found = problems(path)
    assert f"{path}:12:11: login.driver: 'from' is not one of 'form', 'steps', 'manual' (did you mean 'form'?)" in found
    assert any(":18:25: options.tls_min_cipher_level: 'goood' is not one of" in p and "did you mean 'good'" in p
               for p in found)


@pytest.mark.parametrize("line, message", [
    ("  code_lifetime_seconds: -5", ":17:26: options.code_lifetime_seconds: must be greater than 0, got -5"),
    ("  code_lifetime_seconds: abc", ":17:26: options.code_lifetime_seconds: expected a number, got the string 'abc'"),
    ("  code_lifetime_seconds: 0", ":17:26: options.code_lifetime_seconds: must be greater than 0, got 0"),
    ("  code_lifetime_seconds: true", ":17:26: options.code_lifetime_seconds: expected a number, got true"),
    ("  code_lifetime_seconds:", ":17:3: options.code_lifetime_seconds: expected a number, got nothing (null)"),
])
def test_wrong_option_values_are_located(tmp_path, line, message):
    path = write(tmp_path, GOOD.replace("  code_lifetime_seconds: 60", line))
    found = problems(path)
    assert any(p == f"{path}{message}" for p in found), found


def test_more_wrong_option_values(tmp_path):
    text = GOOD.replace("long_lived_consent: true", 'long_lived_consent: "yes"') + (
        "  max_state_length: 12.5\n"
        "  untrusted_client_certificate: untrusted.pem\n"
        "  partial_availability: {scope: a~48}\n"
        "  vertegenwoordiging_geboortedatum: 1970-09-01\n")
    path = write(tmp_path, text)
    found = "\n".join(problems(path))
    assert ":16:23: options.long_lived_consent: expected true or false, got the string 'yes'" in found
    assert ":18:21: options.max_state_length: expected a whole number, got 12.5" in found
    assert ":19:3: options.untrusted_client_certificate: needs 'untrusted_client_key' as well" in found
    assert ":20:3: options.partial_availability: 'login_fields' is a required property" in found
    assert "options.vertegenwoordiging_geboortedatum:" in found
    found = problems(write(tmp_path, GOOD + "  vertegenwoordiging_geboortedatum: 1970\n"))
    assert any(":18:37: options.vertegenwoordiging_geboortedatum: must be at least 10000101, got 1970" in p
               for p in found), found


def test_unset_environment_variable_is_located(tmp_path):
    path = write(tmp_path, GOOD)
    (problem,) = problems(path, env={})
    assert problem == f"{path}:13:40: login.fields.password: ${{DVA_PASSWORD}} is not set"


def test_not_a_mapping_and_not_utf8(tmp_path):
    path = write(tmp_path, "- just a list\n")
    assert any("(top level): expected a mapping" in p for p in problems(path))
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(UserError) as info:
        load_target(path, env={})
    assert "not UTF-8" in str(info.value)


def test_cli_exit_4_before_any_network_access(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    text = (GOOD.replace("long_lived_consent", "long_lived_consnet").replace("driver: form", "driver: from")
            .replace("code_lifetime_seconds: 60", "code_lifetime_seconds: soon") + "extra: 1\n")
    path = write(tmp_path, text, port=port)
    try:
        proc = subprocess.run([sys.executable, "-m", "validatiestraat", "run", "--target", str(path)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env={"PATH": "/usr/bin:/bin", "DVA_PASSWORD": "x", "PYTHONPATH": str(REPO)})
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected: the schema errors stopped the run before the preflight
    finally:
        listener.close()
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    err = proc.stderr
    assert f"{path.name}:16:3: options: unknown key 'long_lived_consnet' (did you mean 'long_lived_consent'?)" in err
    assert f"{path.name}:12:11: login.driver: 'from' is not one of" in err
    assert f"{path.name}:17:26: options.code_lifetime_seconds: expected a number, got the string 'soon'" in err
    assert f"{path.name}:18:1: (top level): unknown key 'extra'" in err


def test_cli_in_process_unknown_nested_key(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("  resource:", "  resuorce:"))
    assert main(["run", "--target", str(path)]) == 4
    err = capsys.readouterr().err
    assert ":6:3: endpoints: unknown key 'resuorce' (did you mean 'resource'?)" in err


def test_pre_issued_access_token_is_a_secret(tmp_path):
    path = write(tmp_path, GOOD + "resource:\n  access_token: ${QUALIFICATION_TOKEN}\n")
    token = "eyJhbGciOi-qualification-token-123"
    target = load_target(path, env={"DVA_PASSWORD": "x", "QUALIFICATION_TOKEN": token})
    assert target.access_token == token
    assert token in target.secrets
    described = target.describe()
    assert described["pre_issued_access_token"] is True
    assert token not in repr(described)
    assert token not in (Redactor(set(target.secrets)).text(f"Authorization: Bearer {token}") or "")
    plain = load_target(write(tmp_path, GOOD, name="plain.yaml"), env={"DVA_PASSWORD": "x"})
    assert plain.describe()["pre_issued_access_token"] is False and plain.access_token is None


def test_option_passwords_and_other_client_key_password_are_secrets(tmp_path):
    text = GOOD + textwrap.indent(textwrap.dedent("""\
        consent_management:
          url: https://localhost/consents
          fields: {username: tester, password: consent-pw-123}
          revoke_button: revoke
        token_expiry_wait_seconds: 61
        token_expiry_login_fields: {username: short, password: short-pw-456}
    """), "  ") + ("other_client: {client_id: pgo2, redirect_uri: https://pgo2/cb, key_password: other-key-pw}\n")
    target = load_target(write(tmp_path, text), env={"DVA_PASSWORD": "x"})
    assert {"consent-pw-123", "short-pw-456", "other-key-pw"} <= set(target.secrets)
    assert "token_expiry_wait_seconds" not in target.secrets


def test_the_reference_dva_target_matches_the_schema(tmp_path):
    from validatiestraat.reference.server import ReferenceDVA
    from validatiestraat.target import target_from_dict

    with ReferenceDVA(tmp_path / "dva") as dva:
        data = dva.target_dict()
        assert schema_problems(data, {}, "<reference>") == []
        target = target_from_dict(data, tmp_path)
        assert target.describe()["pre_issued_access_token"] is bool(target.access_token)
        written = dva.write_target(tmp_path / "dva" / "target.yaml")
        loaded = load_target(written, env={})
        assert loaded.options.keys() == target.options.keys()


# --------------------------------------------------------------------------- drift guards

def _keys(schema: dict, path: str = "") -> list[tuple[str, str]]:
    """(dotted path, key) for every property of every object in the schema, recursively."""
    out = []
    for name, sub in (schema.get("properties") or {}).items():
        here = f"{path}.{name}" if path else name
        out.append((here, name))
        out.extend(_keys(sub, here))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out.extend(_keys(schema[key], path + ("[]" if key == "items" else "")))
    return out


def test_every_object_rejects_unknown_keys():
    def walk(schema: dict, where: str) -> None:
        if schema.get("type") == "object" or (isinstance(schema.get("type"), list) and "object" in schema["type"]):
            assert "properties" in schema or isinstance(schema.get("additionalProperties"), dict), where
            if "properties" in schema:
                assert schema.get("additionalProperties") is False, f"{where} accepts unknown keys"
        for name, sub in (schema.get("properties") or {}).items():
            assert sub.get("description"), f"{where}.{name} has no description"
            walk(sub, f"{where}.{name}")
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], where + "[]")

    walk(TARGET_SCHEMA, "target")


def test_docs_document_every_key_of_the_schema():
    doc = DOC.read_text(encoding="utf-8")
    missing = sorted({path for path, name in _keys(TARGET_SCHEMA) if f"`{name}`" not in doc})
    assert not missing, f"docs/target.md does not mention: {', '.join(missing)}"
    # every option has its own row in the options table
    rows = set(re.findall(r"^\| `([a-z_0-9]+)` \|", doc, re.M))
    assert not set(OPTIONS_SCHEMA["properties"]) - rows, "options without a row in docs/target.md"
    # and the docs describe no option the schema does not have
    table = doc.split("## `options`", 1)[1].split("### ", 1)[0]
    assert set(re.findall(r"^\| `([a-z_0-9]+)` \|", table, re.M)) <= set(OPTIONS_SCHEMA["properties"])


def _doc_examples() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return [yaml.safe_load(b) for b in blocks]


def test_docs_examples_match_the_schema():
    base = {"aanbieder": "x", "endpoints": {"authorization": "https://a", "token": "https://t", "resource": "https://r"},
            "client": {"client_id": "c", "redirect_uri": "https://c/cb"}}
    examples = _doc_examples()
    assert len(examples) >= 10
    complete = examples[0]
    assert schema_problems(complete, {}, "docs") == []
    used = {path for path, _ in _keys({"properties": {k: {} for k in complete}})}
    assert {"endpoints", "client", "other_client", "login", "options", "resource", "timeouts", "preflight"} <= used
    for example in examples[1:]:
        merged = dict(base, **example)
        assert schema_problems(merged, {}, "docs") == [], example
    # the example in the module's docstring too
    import validatiestraat.target as module

    docstring = textwrap.dedent(module.__doc__.split("Example target file::")[1].split("\n\nEvery key")[0])
    assert schema_problems(yaml.safe_load(docstring), {}, "validatiestraat/target.py") == []


def test_options_read_by_scenarios_and_code_are_in_the_schema():
    known = set(OPTIONS_SCHEMA["properties"])
    read: dict[str, str] = {}
    for path in (REPO / "scenarios").rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"target\.options\.([A-Za-z_0-9]+)", text):
            read.setdefault(name, str(path))
        for name in re.findall(r"\{\s*option:\s*([A-Za-z_0-9]+)", text):
            read.setdefault(name, str(path))
    for path in (REPO / "validatiestraat").rglob("*.py"):
        for name in re.findall(r"\.option\(\s*\"([A-Za-z_0-9]+)\"|\bopt\(\s*\"([A-Za-z_0-9]+)\"", path.read_text(encoding="utf-8")):
            read.setdefault(next(n for n in name if n), str(path))
    requirements = (REPO / "validatiestraat" / "requirements.yaml").read_text(encoding="utf-8")
    for name in re.findall(r"options\.([a-z_0-9]+)|\{option: ([a-z_0-9]+)\}", requirements):
        read.setdefault(next(n for n in name if n), "requirements.yaml")
    unknown = {name: where for name, where in read.items() if name not in known}
    assert not unknown, f"options read but not in the target schema: {unknown}"


def test_requirement_ids_in_descriptions_exist():
    from validatiestraat.requirements import catalogue

    ids = set(re.findall(r"\b[A-Z]+-[A-Z]+-\d\d\b", repr(TARGET_SCHEMA)))
    assert ids and ids <= set(catalogue())


def test_closest_names_and_driver_keys():
    assert closest("long_lived_consnet", list(OPTIONS_SCHEMA["properties"])) == "long_lived_consent"
    assert closest("Long_Lived_Consent", list(OPTIONS_SCHEMA["properties"])) == "long_lived_consent"
    assert closest("xyzzy", ["form", "steps"]) is None
    assert set(LOGIN_DRIVER_KEYS) <= set(TARGET_SCHEMA["properties"]["login"]["properties"])
