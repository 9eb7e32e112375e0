"""Login drivers against the reference DVA's two login-page variants, over real HTTPS.

Also: which outcomes are configuration errors (the tester's `login:` block does not fit the DVA's
pages: LoginResult.config_error) and which are the DVA's own behaviour (never config_error).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from contextlib import redirect_stderr

import pytest
import yaml

from validatiestraat.engine.context import FlowContext, Recorder, TLSContexts
from validatiestraat.oauth.login import CONFIG_ERROR_PREFIX, FormDriver, ManualDriver, StepsDriver
from validatiestraat.reference.server import ReferenceDVA
from validatiestraat.target import target_from_dict

from .conftest import run_cli

pytestmark = pytest.mark.e2e

STEPS = [
    {"match": "DigiD", "click": "Inloggen met DigiD"},
    {"match": "wachtwoord", "fill": {"bsn": "999910036", "wachtwoord": "validatiestraat-test"}, "submit": "Inloggen"},
    {"match": "toestemming", "submit": {"decision": "approve"}},
]


@pytest.fixture(scope="module")
def variant2(tmp_path_factory):
    with ReferenceDVA(workdir=tmp_path_factory.mktemp("dva2"), login_variant=2) as dva:
        yield dva


def test_steps_driver_in_a_target_file_reaches_ready(variant2, tmp_path):
    data = variant2.target_dict()
    data["login"] = {"driver": "steps", "steps": STEPS, "deny": {"decision": "deny"}}
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump(data))
    code, out = run_cli("run", "--target", str(target), "--json", "-k", "dva-oauth-authorization-*",
                        "-k", "dva-oauth-authorize-deny")
    results = json.loads(out)
    # a subset run (-k) is never READY: INCOMPLETE (exit 3) with nothing failed or errored
    assert results["counts"]["fail"] == 0 and results["counts"]["error"] == 0, results["blocking"]
    assert code in (0, 3) and results["verdict"] in ("READY", "INCOMPLETE")
    assert all(i["status"] in ("subset", "untested") for i in results.get("incomplete", []))
    status = {r["id"]: r["status"] for r in results["requirements"]}
    assert status["AS-AUTHZ-01"] == "pass" and status["AS-AUTHZ-11"] == "pass"


def _login(driver, dva: ReferenceDVA, tmp_path, redirect_uri: str | None = None, *, login: bool = True,
           client_id: str | None = None, extra: str = "", endpoint: str | None = None, data: dict | None = None):
    data = data or dva.target_dict()
    target = target_from_dict(data, tmp_path)
    if redirect_uri:
        target.client.redirect_uri = redirect_uri

    async def go():
        ctx = FlowContext(target, "t", Recorder(), TLSContexts(target))
        try:
            url = (f"{endpoint or target.authorization_endpoint}?response_type=code"
                   f"&client_id={client_id or target.client.client_id}"
                   f"&redirect_uri={target.client.redirect_uri}&scope={target.aanbieder}&state=abc123state{extra}")
            return await asyncio.wait_for(driver.login(ctx, url, target.client.redirect_uri, login=login), 30)
        finally:
            await ctx.aclose()

    return asyncio.run(go())


def test_steps_driver_reports_a_step_that_matches_nothing(variant2, tmp_path):
    driver = StepsDriver({"steps": [{"match": "DigiD", "click": "Log in with eHerkenning"}]})
    result = _login(driver, variant2, tmp_path)
    assert result.redirect_url is None and "nothing to click matching" in result.error
    assert_config_error(result, "/oauth/authorize", "nothing to click matching 'Log in with eHerkenning'", "login.steps")


def test_form_driver_guesses_variant_2_too(variant2, tmp_path):
    fields = {"bsn": "999910036", "wachtwoord": "validatiestraat-test"}
    result = _login(FormDriver({"fields": fields, "submit": {"decision": "approve"}}), variant2, tmp_path)
    assert result.redirect_params and result.redirect_params["state"] == "abc123state" and result.redirect_params["code"]


def test_manual_driver_catches_the_browser_redirect(tmp_path, unused_port=None):
    """The manual driver prints the URL and waits on a local HTTPS callback; a scripted 'browser'
    (the form driver, which then follows the final redirect) plays the person."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    callback = f"https://localhost:{port}/callback"
    with ReferenceDVA(workdir=tmp_path / "dva") as dva:
        data = dva.target_dict()
        data["client"]["redirect_uri"] = callback
        target = target_from_dict(data, tmp_path)
        printed = io.StringIO()

        async def browser(url: str) -> None:
            """A person in a browser: logs in at the DVA, and the browser follows the DVA's redirect to
            the callback (the reference DVA only redirects to its OCL client's host, so the scripted
            browser takes the code and state from that redirect and delivers them to the callback)."""
            import httpx
            from urllib.parse import urlencode

            from validatiestraat.oauth.login import FormDriver as Browser

            real = target_from_dict(dva.target_dict(), tmp_path)
            ctx = FlowContext(real, "browser", Recorder(), TLSContexts(real))
            try:
                fields = data["login"]["fields"]
                url = url.replace(f"redirect_uri={callback}", f"redirect_uri={real.client.redirect_uri}")
                result = await Browser({"fields": fields, "submit": {"decision": "approve"}}).login(
                    ctx, url, real.client.redirect_uri)
            finally:
                await ctx.aclose()
            assert result.redirect_params and result.redirect_params.get("code")
            async with httpx.AsyncClient(verify=False, timeout=5) as client:  # the callback's own certificate
                await client.get(f"{callback}?{urlencode(result.redirect_params)}")

        async def main():
            ctx = FlowContext(target, "t", Recorder(), TLSContexts(target))
            driver = ManualDriver({"timeout": 20}, out=printed)
            url = (f"{target.authorization_endpoint}?response_type=code&client_id={target.client.client_id}"
                   f"&redirect_uri={callback}&scope={target.aanbieder}&state=manualstate1")
            task = asyncio.create_task(driver.login(ctx, url, callback))
            for _ in range(100):
                await asyncio.sleep(0.05)
                if "Open this URL" in printed.getvalue():
                    break
            shown = re.search(r"https://\S+/oauth/authorize\S+", printed.getvalue()).group(0)
            await browser(shown)
            result = await task
            await ctx.aclose()
            return result

        result = asyncio.run(main())
    assert result.error is None
    assert result.redirect_params["state"] == "manualstate1" and result.redirect_params["code"]


def test_manual_driver_times_out_cleanly(tmp_path):
    with ReferenceDVA(workdir=tmp_path / "dva") as dva:
        driver = ManualDriver({"timeout": 0.5}, out=io.StringIO())
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        result = _login(driver, dva, tmp_path, redirect_uri=f"https://localhost:{port}/cb")
    assert result.redirect_url is None and "no redirect arrived" in result.error
    assert result.config_error.startswith(CONFIG_ERROR_PREFIX + f"no redirect arrived at https://localhost:{port}/cb")
    assert "login.timeout" in result.config_error


# --------------------------------------------------------------------------- configuration errors

FIELDS_1 = {"username": "testpersoon", "password": "validatiestraat-test"}  # the reference DVA's first test person
FIELDS_2 = {"bsn": "999910036", "wachtwoord": "validatiestraat-test"}


@pytest.fixture(scope="module")
def variant1(tmp_path_factory):
    with ReferenceDVA(workdir=tmp_path_factory.mktemp("dva1"), login_variant=1) as dva:
        yield dva


@pytest.fixture(scope="module")
def extra_param_rejected(tmp_path_factory):
    with ReferenceDVA(workdir=tmp_path_factory.mktemp("dva-extra"), faults=["extra-param-rejected"]) as dva:
        yield dva


def assert_config_error(result, page_path: str, *words: str) -> None:
    """A configuration error: no redirect, error and config_error set, the page named without its query."""
    assert result.redirect_url is None and result.error, result
    text = result.config_error
    assert text and text.startswith(CONFIG_ERROR_PREFIX), result.error
    assert re.search(rf"on the page https://localhost:\d+{re.escape(page_path)};", text), text
    assert "abc123state" not in text and "sessie=" not in text and "flow=" not in text  # no query string
    assert "in the target's `login:` block" in text or "in the target" in text
    for word in words:
        assert word in text, text


def assert_dva_behaviour(result) -> None:
    assert result.config_error is None, result.config_error


def test_the_reference_login_is_no_configuration_error(variant1, variant2, tmp_path):
    ok = _login(FormDriver({"fields": FIELDS_1, "submit": {"decision": "approve"}}), variant1, tmp_path)
    assert ok.redirect_params["code"] and ok.config_error is None and ok.error is None
    ok = _login(StepsDriver({"steps": STEPS}), variant2, tmp_path)
    assert ok.redirect_params["code"] and ok.config_error is None and ok.error is None
    denied = _login(StepsDriver({"steps": STEPS, "deny": {"decision": "deny"}}, deny=True), variant2, tmp_path)
    assert denied.redirect_params["error"] == "access_denied" and denied.config_error is None
    denied = _login(FormDriver({"fields": FIELDS_1, "deny": {"decision": "deny"}}, deny=True), variant1, tmp_path)
    assert denied.redirect_params["error"] == "access_denied" and denied.config_error is None


# -- steps driver

def test_steps_no_step_matches(variant2, tmp_path):
    result = _login(StepsDriver({"steps": [{"match": "eHerkenning", "click": "Inloggen"}]}), variant2, tmp_path)
    assert_config_error(result, "/oauth/authorize", "no login step's match fits the page", "'eHerkenning'",
                        "the page ('Welkom - ", "has no form; expected step 1: something to click", "login.steps")
    assert "no login step matches the page" in result.error  # the old text for current callers


def test_steps_fill_field_not_on_the_page(variant2, tmp_path):
    steps = [STEPS[0], {"match": "wachtwoord", "fill": {"bsn": "999910036", "pincode": "12345"}, "submit": "Inloggen"},
             STEPS[2]]
    result = _login(StepsDriver({"steps": steps}), variant2, tmp_path)
    assert_config_error(result, "/digid/inloggen", "fields ['pincode'] are not in the form", "'wachtwoord'")


def test_steps_submit_button_not_on_the_page(variant2, tmp_path):
    result = _login(StepsDriver({"steps": STEPS[:2] + [{"match": "toestemming", "submit": {"decision": "ja"}}]}),
                    variant2, tmp_path)
    assert_config_error(result, "/digid/inloggen", "no button {'decision': 'ja'}", "decision=approve", "decision=deny")
    result = _login(StepsDriver({"steps": [STEPS[0], {**STEPS[1], "submit": "Aanmelden"}, STEPS[2]]}), variant2, tmp_path)
    assert_config_error(result, "/digid/inloggen", "no button matching 'Aanmelden'", "'Inloggen'")


def test_steps_deny_without_a_deny_button(variant2, tmp_path):
    result = _login(StepsDriver({"steps": STEPS}, deny=True), variant2, tmp_path)  # no login.deny
    assert_config_error(result, "/digid/inloggen", "login.deny is not set", "decision=deny", "login.deny")
    result = _login(StepsDriver({"steps": STEPS, "deny": {"besluit": "nee"}}, deny=True), variant2, tmp_path)
    assert_config_error(result, "/digid/inloggen", "no deny button {'besluit': 'nee'}")


def test_steps_wrong_password(variant2, tmp_path):
    steps = [STEPS[0], {**STEPS[1], "fill": {"bsn": "999910036", "wachtwoord": "wrong"}}, STEPS[2]]
    result = _login(StepsDriver({"steps": steps}), variant2, tmp_path)
    assert_config_error(result, "/digid/inloggen", "came back after its fields were submitted")


# -- form driver

def test_form_fields_not_on_the_login_page(variant1, tmp_path):
    result = _login(FormDriver({"fields": FIELDS_2, "submit": {"decision": "approve"}}), variant1, tmp_path)
    assert_config_error(result, "/oauth/login-page", "the form asks for ['username', 'password']",
                        "login.fields ['bsn', 'wachtwoord'] are not on the page", "check login.fields")
    result = _login(FormDriver({"submit": {"decision": "approve"}}), variant1, tmp_path)
    assert_config_error(result, "/oauth/login-page", "login.fields is empty")


def test_form_submit_or_deny_button_not_there(variant1, tmp_path):
    result = _login(FormDriver({"fields": FIELDS_1, "submit": {"decision": "ja"}}), variant1, tmp_path)
    assert_config_error(result, "/oauth/login", "login.submit {'decision': 'ja'} is not among the page's buttons",
                        "decision=approve, decision=deny")
    result = _login(FormDriver({"fields": FIELDS_1, "submit": {"decision": "approve"}}, deny=True), variant1, tmp_path)
    assert_config_error(result, "/oauth/login", "login.deny is not set", "check login.deny")
    result = _login(FormDriver({"fields": FIELDS_1, "submit": {"decision": "approve"}, "deny": {"besluit": "nee"}},
                               deny=True), variant1, tmp_path)
    assert_config_error(result, "/oauth/login", "login.deny {'besluit': 'nee'} is not among them")


def test_form_wrong_password(variant1, tmp_path):
    result = _login(FormDriver({"fields": {**FIELDS_1, "password": "wrong"}, "submit": {"decision": "approve"}}),
                    variant1, tmp_path)
    assert_config_error(result, "/oauth/login", "the login form came back", "wrong test credentials")


def test_form_a_200_page_without_a_form(variant1, tmp_path):
    """A plain HTML 200 page without forms while the fields are still unused: the settings do not fit
    (here: the DVA's start page instead of its authorization endpoint)."""
    front = variant1.target_dict()["endpoints"]["authorization"].rsplit("/oauth/", 1)[0]
    result = _login(FormDriver({"fields": FIELDS_1, "submit": {"decision": "approve"}}), variant1, tmp_path,
                    endpoint=f"{front}/")
    assert_config_error(result, "/", "the page ('Start - ", "has no form", "expected fields ['username', 'password']")


# -- manual driver

def test_manual_driver_redirect_uri_elsewhere_is_a_configuration_error(variant1, tmp_path):
    result = _login(ManualDriver({"timeout": 1}, out=io.StringIO()), variant1, tmp_path)
    assert result.error.startswith("manual login driver: the redirect_uri must point at this machine")
    assert result.config_error.startswith(CONFIG_ERROR_PREFIX) and "client.redirect_uri" in result.config_error


# --------------------------------------------------------------------------- the DVA's own behaviour

def _drivers():
    return {
        "form": FormDriver({"fields": FIELDS_1, "submit": {"decision": "approve"}}),
        "steps": StepsDriver({"steps": [{"match": "nothing-matches-this", "click": "x"}]}),  # would never fit
        "manual": ManualDriver({"timeout": 1}, out=io.StringIO()),
    }


@pytest.mark.parametrize("kind", ["form", "steps", "manual"])
def test_unknown_client_error_page_with_login_false(variant1, tmp_path, kind):
    result = _login(_drivers()[kind], variant1, tmp_path, login=False, client_id="unknown.pgo.invalid")
    assert_dva_behaviour(result)
    assert result.redirect_url is None and result.first.status == 400 and "login: false" in result.error


@pytest.mark.parametrize("kind", ["form", "steps"])
def test_unknown_client_error_page_with_a_login(variant1, tmp_path, kind):
    result = _login(_drivers()[kind], variant1, tmp_path, client_id="unknown.pgo.invalid")
    assert_dva_behaviour(result)
    assert result.http.status == 400 and "HTTP 400" in result.error


@pytest.mark.parametrize("kind", ["form", "steps"])
def test_a_fault_that_error_redirects(extra_param_rejected, tmp_path, kind):
    result = _login(_drivers()[kind], extra_param_rejected, tmp_path, extra="&foo=bar")
    assert_dva_behaviour(result)
    assert result.redirect_params["error"] == "invalid_request" and result.redirect_params["state"] == "abc123state"


@pytest.mark.parametrize("kind", ["form", "steps"])
def test_tls_and_connection_failures(variant1, tmp_path, kind):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _login(_drivers()[kind], variant1, tmp_path, endpoint=f"https://localhost:{port}/oauth/authorize")
    assert_dva_behaviour(result)
    assert result.http.response is None and result.error
    # a server certificate the target does not trust
    from validatiestraat.reference.pki import make_ca

    other = make_ca("Another CA").write(tmp_path / "other-ca", "ca")
    data = {**variant1.target_dict(), "trust": [str(other.cert_path)]}
    result = _login(_drivers()[kind], variant1, tmp_path, data=data)
    assert_dva_behaviour(result)
    assert result.http.response is None and "certif" in result.error.lower()


@pytest.mark.parametrize("kind", ["form", "steps"])
def test_a_non_html_answer(variant1, tmp_path, kind):
    front = variant1.target_dict()["endpoints"]["authorization"].rsplit("/oauth/", 1)[0]
    result = _login(_drivers()[kind], variant1, tmp_path, endpoint=f"{front}/MedMij_Zorgaanbiederslijst.xml")
    assert_dva_behaviour(result)
    assert "expected an HTML page" in result.error
