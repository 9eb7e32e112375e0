"""Login drivers on hand-made pages: when a driver that cannot complete reports a configuration error
(LoginResult.config_error) and when the outcome is the DVA's own doing (never config_error).

The pages come from a fake flow context (no network); tests/e2e/test_login_drivers.py covers the
same over the reference DVA's real HTTPS pages.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from validatiestraat.engine.context import HttpSubject
from validatiestraat.oauth.login import CONFIG_ERROR_PREFIX, FormDriver, LoginResult, ManualDriver, StepsDriver

DVA = "https://dva.example"
REDIRECT = "https://pgo.example/callback"
AUTHORIZE = f"{DVA}/authorize?client_id=pgo&state=s3cr3tstate&redirect_uri={REDIRECT}"

Page = Callable[[str, str, dict | None], httpx.Response | str | None]


def html(body: str, title: str = "Pagina", status: int = 200) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/html; charset=utf-8"},
                          text=f"<html><head><title>{title}</title></head><body>{body}</body></html>")


def redirect(location: str) -> httpx.Response:
    return httpx.Response(302, headers={"location": location})


class FakeContext:
    """The part of FlowContext a login driver uses: request() -> HttpSubject, never raising."""

    def __init__(self, site: Page):
        self.site = site
        self.sent: list[tuple[str, str, dict | None]] = []

    async def request(self, method: str, url: str, *, identity: str = "target", data=None, **_) -> HttpSubject:
        self.sent.append((method, url, data))
        answer = self.site(method, url, data)
        if isinstance(answer, str):  # a transport failure
            return HttpSubject(f"x{len(self.sent)}", method, url, {}, None, answer, 1.0)
        answer = answer or html("<p>Deze pagina bestaat niet.</p>", status=404)
        return HttpSubject(f"x{len(self.sent)}", method, url, {}, answer, None, 1.0)


def run(driver, site: Page, login: bool = True) -> LoginResult:
    return asyncio.run(asyncio.wait_for(driver.login(FakeContext(site), AUTHORIZE, REDIRECT, login=login), 10))


def config(result: LoginResult, *words: str) -> str:
    assert result.redirect_url is None and result.error
    text = result.config_error
    assert text and text.startswith(CONFIG_ERROR_PREFIX), (result.error, text)
    assert "s3cr3tstate" not in text and "?" not in text.split(", on the page ")[-1]
    for word in words:
        assert word in text, text
    return text


def not_config(result: LoginResult) -> None:
    assert result.config_error is None, result.config_error


LOGIN = {"fields": {"username": "jan", "password": "geheim"}, "submit": {"decision": "approve"},
         "deny": {"decision": "deny"}}
CONSENT = ('<form method="post" action="/consent"><input type="hidden" name="flow" value="f1">'
           '<button name="decision" value="approve">Ja</button><button name="decision" value="deny">Nee</button></form>')


def two_step_site(method: str, url: str, data: dict | None):
    """username on one page, password on the next, then consent with an optional remark field."""
    path = urlsplit(url).path
    if path == "/authorize":
        return html('<form method="post" action="/user"><input name="username"><button>Volgende</button></form>')
    if path == "/user":
        assert data["username"] == "jan"
        return html('<form method="post" action="/pass"><input type="hidden" name="u" value="jan">'
                    '<input type="password" name="password"><button>Inloggen</button></form>')
    if path == "/pass":
        assert data["password"] == "geheim"
        return html(CONSENT.replace("</form>", '<input name="opmerking" placeholder="optioneel"></form>'))
    if path == "/consent":
        return redirect(f"{REDIRECT}?code=c1&state=s3cr3tstate" if data["decision"] == "approve"
                        else f"{REDIRECT}?error=access_denied&state=s3cr3tstate")
    return None


# --------------------------------------------------------------------------- no false alarms

def test_a_login_spread_over_pages_with_an_optional_field_completes():
    result = run(FormDriver(LOGIN), two_step_site)
    assert result.redirect_params == {"code": "c1", "state": "s3cr3tstate"} and result.error is None
    not_config(result)
    result = run(FormDriver(LOGIN, deny=True), two_step_site)
    assert result.redirect_params["error"] == "access_denied"
    not_config(result)


def test_steps_in_deny_mode_keep_the_login_button_where_no_choice_is_offered():
    site = two_step_site
    steps = {"steps": [
        {"match": "Volgende", "fill": {"username": "jan"}, "submit": "Volgende"},
        {"match": "password", "fill": {"password": "geheim"}, "submit": "Inloggen"},
        {"match": "decision", "submit": {"decision": "approve"}},
    ], "deny": {"decision": "deny"}}
    assert run(StepsDriver(steps, deny=True), site).redirect_params["error"] == "access_denied"
    assert run(StepsDriver(steps), site).redirect_params["code"] == "c1"


# --------------------------------------------------------------------------- the DVA's doing

def test_the_dvas_answers_are_never_configuration_errors():
    fields = FormDriver(LOGIN)
    cases = {
        "HTTP 500": lambda m, u, d: html("<p>Interne fout</p>", status=500),
        "HTTP 400 with a form": lambda m, u, d: html('<form><input name="x"></form>', status=400),
        "a redirect to the client's host, another path": lambda m, u, d: redirect("https://pgo.example/elders?x=1"),
        "an error redirect": lambda m, u, d: redirect(f"{REDIRECT}?error=invalid_request&state=s3cr3tstate"),
        "JSON": lambda m, u, d: httpx.Response(200, json={"error": "invalid_request"}),
        "a TLS failure": lambda m, u, d: "localhost:443: the server demanded a client certificate",
    }
    for name, site in cases.items():
        for driver in (fields, StepsDriver({"steps": [{"match": "never", "click": "x"}]})):
            result = run(driver, site)
            assert result.config_error is None, (name, result.config_error)
            assert result.error or result.redirect_params, name


def test_login_false_stops_without_a_configuration_error():
    site = two_step_site
    for driver in (FormDriver({}), StepsDriver({"steps": []}), ManualDriver({"timeout": 30}, out=io.StringIO())):
        t0 = time.monotonic()
        result = run(driver, site, login=False)
        assert time.monotonic() - t0 < 2  # the manual driver does not wait for a person here
        assert result.error == "stopped before login (login: false)" and result.first.status == 200
        not_config(result)


def test_a_page_without_a_form_after_everything_was_used_is_the_dvas_doing():
    """Logged in and consent given, then an HTML 200 error page instead of the redirect."""
    def site(method, url, data):
        if urlsplit(url).path == "/consent":
            return html("<h1>Er is iets misgegaan</h1>", title="Fout")
        return two_step_site(method, url, data)

    result = run(FormDriver(LOGIN), site)
    assert result.error == "no form or login link on the page; cannot continue the login"
    not_config(result)
    steps = StepsDriver({"steps": [
        {"match": "Volgende", "fill": {"username": "jan"}, "submit": "Volgende"},
        {"match": "password", "fill": {"password": "geheim"}, "submit": "Inloggen"},
        {"match": "decision|misgegaan", "submit": {"decision": "approve"}},
    ]})
    result = run(steps, site)
    assert "no login step can act" in result.error
    not_config(result)


# --------------------------------------------------------------------------- configuration errors

def test_a_page_without_a_form_while_fields_are_still_unused():
    """An HTML 200 page with no forms before any login: the settings have nothing to act on."""
    result = run(FormDriver(LOGIN), lambda m, u, d: html("<p>Onderhoud</p>", title="Onderhoud"))
    config(result, "the page ('Onderhoud') has no form", "expected fields ['username', 'password'] and the button "
           "{'decision': 'approve'}", "on the page https://dva.example/authorize;", "login.fields")
    result = run(StepsDriver({"steps": [{"match": "Onderhoud", "click": "Inloggen"}]}),
                 lambda m, u, d: html("<p>Onderhoud</p>", title="Onderhoud"))
    config(result, "nothing to click matching 'Inloggen'", "has no form")


def test_an_unexpected_page_with_a_form_after_all_steps_acted():
    def site(method, url, data):
        if urlsplit(url).path == "/consent":
            return html('<form method="post" action="/sure"><button name="sure" value="1">Zeker weten?</button></form>',
                        title="Bevestigen")
        return two_step_site(method, url, data)

    steps = StepsDriver({"steps": [
        {"match": "Volgende", "fill": {"username": "jan"}, "submit": "Volgende"},
        {"match": "password", "fill": {"password": "geheim"}, "submit": "Inloggen"},
        {"match": "Ja", "submit": {"decision": "approve"}},
    ]})
    config(run(steps, site), "no login step's match fits the page", "https://dva.example/consent;")


def test_the_query_of_a_get_form_never_reaches_the_message():
    """A login form sent with GET puts the password in the URL; the message names the page without it."""
    def site(method, url, data):
        path = urlsplit(url).path
        if path == "/authorize":
            return html('<form action="/login"><input name="username"><input type="password" name="password">'
                        '<button>Inloggen</button></form>')
        if path == "/login":
            assert parse_qs(urlsplit(url).query)["password"] == ["geheim"]
            return html('<form><button name="besluit" value="ja">Ja</button><button name="besluit" value="nee">Nee'
                        '</button></form>', title="Toestemming")
        return None

    text = config(run(FormDriver({**LOGIN, "submit": {"besluit": "misschien"}}), site),
                  "login.submit {'besluit': 'misschien'} is not among the page's buttons (besluit=ja, besluit=nee)",
                  "on the page https://dva.example/login;")
    assert "geheim" not in text


@pytest.mark.parametrize("fields,words", [
    ({"gebruiker": "jan", "wachtwoord": "geheim"}, ["the form asks for ['username']", "['gebruiker', 'wachtwoord']"]),
    ({"username": "jan", "pasword": "geheim"}, ["the form asks for ['password']", "login.fields ['pasword']"]),
])
def test_misspelt_fields(fields, words):
    config(run(FormDriver({**LOGIN, "fields": fields}), two_step_site), *words, "check login.fields")


def test_a_manual_timeout_is_a_configuration_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    driver = ManualDriver({"timeout": 0.3}, out=io.StringIO())
    t0 = time.monotonic()
    result = asyncio.run(driver.login(FakeContext(two_step_site), AUTHORIZE, f"https://localhost:{port}/cb?x=1"))
    assert time.monotonic() - t0 < 2
    assert result.error.startswith(f"no redirect arrived at https://localhost:{port}/cb")
    text = result.config_error
    assert text.startswith(f"{CONFIG_ERROR_PREFIX}no redirect arrived at https://localhost:{port}/cb within 0.3 s")
    assert "x=1" not in text and "login.timeout" in text
