"""`validatiestraat lists check|resolve` through the real CLI entry point."""

from __future__ import annotations

import json
import re

import pytest

from validatiestraat import cli

from .conftest import INVALID, VALID


@pytest.fixture(autouse=True)
def only_lists_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # other developers' commands may not be importable yet; the lists command stands alone
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["validatiestraat.lists.command"])


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_lists_exit_0(capsys) -> None:
    code, out, err = run(capsys, "lists", "check", str(VALID / "zal-release3.xml"), str(VALID / "ocl-release2.xml"),
                         str(VALID / "whitelist-release2.xml"), str(VALID / "gnl-release1.xml"))
    assert code == 0, out + err
    assert f"{VALID / 'zal-release3.xml'}: Zorgaanbiederslijst (ZAL) release3, Volgnummer 9, 2 zorgaanbieders: ok" in out
    assert "LIST-SEM-03 pass" in out and "valid: 4 list(s): 0 error(s), 0 warning(s)" in out


def test_findings_exit_1_with_located_lines(capsys) -> None:
    code, out, _ = run(capsys, "lists", "check", str(INVALID / "zal3-bad-uris.xml"))
    assert code == 1
    assert (f"  {INVALID / 'zal3-bad-uris.xml'}:17: error LIST-SEM-02: AuthorizationEndpointuri "
            "'https://inlog.ziekenhuisnoord.test:443/oauth/authorize' is not a valid frontchannel URI") in out
    assert out.rstrip().splitlines()[-1].startswith("NOT valid: 1 list(s): 6 error(s)")


def test_warnings_exit_0_unless_strict(capsys) -> None:
    args = ["lists", "check", str(INVALID / "zal3-host-not-whitelisted.xml"), str(VALID / "whitelist-release2.xml")]
    assert run(capsys, *args)[0] == 0
    code, out, _ = run(capsys, *args, "--strict")
    assert code == 1 and "warning LIST-SEM-03" in out


def test_previous(capsys) -> None:
    code, out, _ = run(capsys, "lists", "check", str(INVALID / "zal3-volgnummer-8.xml"),
                       "--previous", str(VALID / "zal-release3.xml"))
    assert code == 1 and "Volgnummer 8 is lower than the previously seen 9" in out
    code, _, err = run(capsys, "lists", "check", str(VALID / "zal-release3.xml"), "--previous", "/nonexistent.xml")
    assert code == 4 and "/nonexistent.xml: no such file" in err


def test_json(capsys) -> None:
    code, out, _ = run(capsys, "lists", "check", "--json", str(INVALID / "zal3-order.xml"))
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert data["requirements"]["LIST-XSD-01"] == "fail"
    assert data["findings"][0]["line"] == 4 and data["findings"][0]["requirement"] == "LIST-XSD-01"


def test_unreadable_exit_4_located(capsys, tmp_path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<Whitelist>\n  <oops>\n</Whitelist>\n")
    code, out, err = run(capsys, "lists", "check", str(bad), str(VALID / "gnl-release1.xml"))
    assert code == 4
    assert f"{bad}:3:" in err and "not well-formed XML" in err
    assert "Gegevensdienstnamenlijst (GNL) release1" in out  # the readable one is still reported
    code, _, err = run(capsys, "lists", "check", str(tmp_path / "missing.xml"))
    assert code == 4 and "missing.xml: no such file" in err


def test_hostile_exit_4_no_traceback(capsys, tmp_path) -> None:
    evil = tmp_path / "evil.xml"
    evil.write_text('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n<Whitelist>&a;</Whitelist>\n')
    code, _, err = run(capsys, "lists", "check", str(evil))
    assert code == 4 and f"{evil}:2: DOCTYPE/ENTITY declarations are not allowed" in err
    assert "Traceback" not in err


def test_kind_and_options(capsys) -> None:
    code, _, err = run(capsys, "lists", "check", "--kind", "whitelist", str(VALID / "gnl-release1.xml"))
    assert code == 4 and "expected a Whitelist, got a Gegevensdienstnamenlijst (GNL)" in err
    code, out, _ = run(capsys, "lists", "check", "--aanbiedertype", "apd", str(INVALID / "zal3-aanbiedertype.xml"))
    assert code == 1 and "'APD'" not in out and "'XYZ'" in out
    assert run(capsys, "lists", "check", "--kind", "nonsense", "x.xml")[0] == 4
    code, _, err = run(capsys, "lists", "check", "--max-size", "1k", str(VALID / "zal-release3.xml"))
    assert code == 4 and "larger than the limit of 1024 bytes" in err


def test_help_has_example(capsys) -> None:
    code, out, _ = run(capsys, "lists", "check", "--help")
    assert code == 0 and "examples:" in out and "validatiestraat lists check" in out
    code, out, _ = run(capsys, "lists", "resolve", "--help")
    assert code == 0 and "--aanbieder" in out and "examples:" in out


def test_resolve_command(capsys) -> None:
    code, out, _ = run(capsys, "lists", "resolve", str(VALID / "zal-release3.xml"), "--aanbieder", "ziekenhuisnoord",
                       "--gegevensdienst", "48", "--json")
    assert code == 0
    assert json.loads(out)["resource"] == "https://api.ziekenhuisnoord.test:8443/fhir/stu3"
    code, out, _ = run(capsys, "lists", "resolve", str(VALID / "zal-release3.xml"), "--aanbieder", "ziekenhuisnoord",
                       "--gegevensdienst", "48", "--interfaceversie", "1.4.0")
    assert code == 0 and re.search(r"^authorization +https://inlog.ziekenhuisnoord.test/oauth/authorize$", out, re.M)
    assert "subscription" not in out  # not offered under 1.4.0
    code, _, err = run(capsys, "lists", "resolve", str(VALID / "zal-release3.xml"), "--aanbieder", "nobody",
                       "--gegevensdienst", "48")
    assert code == 1 and "on the list: ziekenhuisnoord@medmij" in err


def test_check_urls(capsys, list_server, pki) -> None:
    from .conftest import VALID as V

    list_server.routes["/MedMij_Whitelist.xml?api=2"] = (200, "text/xml", (V / "whitelist-release2.xml").read_bytes())
    list_server.routes["/lijst.xml"] = (200, "text/html", (V / "gnl-release1.xml").read_bytes())
    code, out, err = run(capsys, "lists", "check", "--trust", str(pki.ca_path),
                         list_server.url("/MedMij_Whitelist.xml?api=2"))
    assert code == 0, out + err
    assert "LIST-HTTP-01 pass" in out
    code, out, _ = run(capsys, "lists", "check", "--trust", str(pki.ca_path), list_server.url("/lijst.xml"))
    assert code == 1 and "error LIST-HTTP-01: Content-Type 'text/html' is not an XML media type" in out
    code, _, err = run(capsys, "lists", "check", "--trust", str(pki.ca_path), list_server.url("/MedMij_OAuthclientlist.xml?api=2"))
    assert code == 4 and "HTTP 404" in err
    code, _, err = run(capsys, "lists", "check", "--timeout", "5", list_server.url("/MedMij_Whitelist.xml?api=2"))
    assert code == 4 and "cannot fetch" in err  # not trusted without --trust


def test_build_command(capsys, tmp_path) -> None:
    base = ["lists", "build", "--aanbieder", "umcvalidatie",
            "--authorization", "https://inlog.dva.validatiestraat.test/oauth/authorize",
            "--token", "https://api.dva.validatiestraat.test:8443/oauth/token",
            "--resource", "https://api.dva.validatiestraat.test:8443/fhir",
            "--client", "pgo.validatiestraat.test=Validatiestraat PGO", "--gegevensdienst", "48=Basisgegevens zorg"]
    code, out, err = run(capsys, *base, "--out", str(tmp_path / "good"))
    assert code == 0, err
    assert out.count("wrote ") == 4 and "error" not in out and "warning" not in out
    files = sorted(str(p) for p in (tmp_path / "good").iterdir())
    assert run(capsys, "lists", "check", *files)[0] == 0
    code, out, _ = run(capsys, *base, "--out", str(tmp_path / "bad"), "--fault", "missing-from-whitelist")
    assert code == 0 and "warning LIST-SEM-03" in out
    code, _, err = run(capsys, *base, "--out", str(tmp_path / "x"), "--fault", "decreasing-volgnummer")
    assert code == 4 and "needs volgnummer >= 2" in err
    assert run(capsys, "lists", "build", "--help")[0] == 0
