"""Login drivers: how the suite gets from an authorization URL to the redirect with a code.

- ``form``: an HTML-form-following user agent (httpx + html.parser). It follows redirects on the
  DVA's side, fills configured fields, keeps hidden inputs, presses the configured submit button
  and stops at the redirect to the client's redirect_uri. Works with the reference DVA and with
  simple test login pages.
- ``manual``: for real DVAs with a DigiD test login. Prints the authorization URL and waits, with
  a timeout, for the browser's redirect on a local HTTPS callback listener.

Both return a :class:`LoginResult`.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import sys
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from validatiestraat.engine.context import FlowContext, HttpSubject

MAX_HOPS = 20


@dataclass
class LoginResult:
    #: the redirect to the client's redirect_uri (None when the DVA never redirected there)
    redirect_url: str | None
    redirect_params: dict[str, str] | None
    #: the last HTTP exchange (e.g. an error page when there was no redirect)
    http: HttpSubject | None
    first: HttpSubject | None
    exchanges: list[str] = field(default_factory=list)
    error: str | None = None
    pages: list[str] = field(default_factory=list)  # URLs visited


# --------------------------------------------------------------------------- HTML forms

@dataclass
class Form:
    action: str
    method: str
    inputs: list[tuple[str, str, str]]  # (type, name, value)
    buttons: list[tuple[str, str, str]]  # (name, value, label)


@dataclass
class Link:
    href: str
    text: str


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[Link] = []
        self._form: Form | None = None
        self._button: list[str] | None = None
        self._link: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), (a.get("method") or "get").lower(), [], [])
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "image"):
                self._form.buttons.append((a.get("name", ""), a.get("value", ""), a.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.inputs.append((kind, a.get("name", ""), a.get("value", "on")))
                else:
                    self._form.inputs.append((kind + ":unchecked", a.get("name", ""), a.get("value", "on")))
            else:
                self._form.inputs.append((kind, a.get("name", ""), a.get("value", "")))
        elif tag == "button" and self._form is not None:
            if (a.get("type") or "submit").lower() == "submit":
                self._button = [a.get("name", ""), a.get("value", ""), ""]
        elif tag == "a" and a.get("href"):
            self._link = [a["href"], ""]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data
        if self._link is not None:
            self._link[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None and self._form is not None:
            name, value, label = self._button
            self._form.buttons.append((name, value, label.strip()))
            self._button = None
        elif tag == "a" and self._link is not None:
            self.links.append(Link(self._link[0], self._link[1].strip()))
            self._link = None


def parse_page(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


def _same_target(url: str, redirect_uri: str) -> bool:
    a, b = urlsplit(url), urlsplit(redirect_uri)
    return (a.scheme, a.hostname, a.port, a.path.rstrip("/")) == (b.scheme, b.hostname, b.port, b.path.rstrip("/"))


def _params_of(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    # implicit-style fragments are wrong for MedMij but must be visible as evidence
    for k, v in parse_qs(parts.fragment, keep_blank_values=True).items():
        params.setdefault(k, v[0])
    return params


def choose_submission(form: Form, fields: dict[str, str], submit: dict[str, str]) -> dict[str, str]:
    """The form data a user would send: hidden and default values, configured fields, one button."""
    data: dict[str, str] = {}
    for kind, name, value in form.inputs:
        if not name or kind.endswith(":unchecked"):
            continue
        data[name] = value
    for name, value in fields.items():
        if any(n == name for _, n, _ in form.inputs):
            data[name] = str(value)
    chosen = None
    for name, value, label in form.buttons:
        if name and name in submit and (str(submit[name]) in (value, label)):
            chosen = (name, value)
            break
    if chosen is None and form.buttons:
        # no configured button on this page: the first submit button (e.g. "Inloggen")
        name, value, _ = form.buttons[0]
        if name and not any(n in submit for n, _, _ in form.buttons):
            chosen = (name, value)
    if chosen:
        data[chosen[0]] = chosen[1]
    return data


class FormDriver:
    """Follows plain HTML forms until the redirect to the redirect_uri."""

    def __init__(self, settings: dict[str, Any], deny: bool = False):
        self.fields = {str(k): str(v) for k, v in (settings.get("fields") or {}).items()}
        self.submit = {str(k): str(v) for k, v in ((settings.get("deny") if deny else settings.get("submit")) or {}).items()}
        self.link_text = settings.get("link_text", r"(?i)inloggen|log ?in|digid|verder|doorgaan|continue")

    async def login(self, ctx: FlowContext, authorize_url: str, redirect_uri: str, login: bool = True) -> LoginResult:
        result = LoginResult(None, None, None, None)
        url, method, data = authorize_url, "GET", None
        for _ in range(MAX_HOPS):
            if _same_target(url, redirect_uri):
                result.redirect_url, result.redirect_params = url, _params_of(url)
                return result
            subject = await ctx.request(method, url, identity="none", data=data)
            result.exchanges.append(subject.exchange_id)
            result.pages.append(url)
            result.http = subject
            if result.first is None:
                result.first = subject
            if subject.response is None:
                result.error = f"{subject.describe()}"
                return result
            response = subject.response
            if response.is_redirect and "location" in response.headers:
                url, method, data = urljoin(url, response.headers["location"]), "GET", None
                if _same_target(url, redirect_uri):
                    result.redirect_url, result.redirect_params = url, _params_of(url)
                    return result
                if urlsplit(url).hostname == urlsplit(redirect_uri).hostname:
                    # sent to the client's host, but not to the redirect_uri: the DVA got the URI wrong
                    result.error = f"the DVA redirected to {url.split('?')[0]}, not to the redirect_uri {redirect_uri}"
                    return result
                continue
            if not login:
                result.error = "stopped before login (login: false)"
                return result
            if response.status_code >= 400:
                result.error = f"the DVA answered HTTP {response.status_code} instead of a login page or redirect"
                return result
            if "html" not in response.headers.get("content-type", "html"):
                result.error = f"expected an HTML page, got {response.headers.get('content-type')}"
                return result
            action = self._act(parse_page(response.text), response.text, url)
            if isinstance(action, str):
                result.error = action
                return result
            url, method, data = action
        result.error = f"gave up after {MAX_HOPS} pages without a redirect to the redirect_uri"
        return result

    def _act(self, page: _PageParser, text: str, url: str) -> tuple[str, str, dict | None] | str:
        """What a user does on this page: (url, method, form data), or an error message."""
        forms = [f for f in page.forms if f.buttons or f.inputs]
        if forms:
            form = self._pick_form(forms)
            return _submit(form, choose_submission(form, self.fields, self.submit), url)
        link = next((l for l in page.links if re.search(self.link_text, l.text)), None)
        if link:
            return urljoin(url, link.href), "GET", None
        return "no form or login link on the page; cannot continue the login"

    def _pick_form(self, forms: list[Form]) -> Form:
        for form in forms:  # prefer the form with exactly the configured button (name and value)
            if any(n in self.submit and self.submit[n] in (v, label) for n, v, label in form.buttons):
                return form
        for form in forms:  # then a form that has a configured button or field
            if any(n in self.submit for n, _, _ in form.buttons):
                return form
            if any(n in self.fields for _, n, _ in form.inputs):
                return form
        return forms[0]


def _submit(form: Form, data: dict[str, str], url: str) -> tuple[str, str, dict | None]:
    target = urljoin(url, form.action or url)
    if form.method == "post":
        return target, "POST", data
    return _with_query(target, data), "GET", None


def _with_query(url: str, data: dict[str, str]) -> str:
    from urllib.parse import urlencode

    parts = urlsplit(url)
    query = urlencode(data)
    return parts._replace(query=query).geturl()


class StepsDriver(FormDriver):
    """Declarative login steps from the target file, for login pages the form driver cannot guess.

    Each step: ``match`` (regex on the page URL or text; optional), then one action:
    ``click`` (regex on a link's or button's text), or ``fill`` (field values) with ``submit``
    (button text regex, or ``{name: value}``). The first step whose ``match`` fits the page acts.
    In deny mode, a ``submit`` mapping is replaced by the target's ``deny`` mapping where the page
    offers that button.
    """

    def __init__(self, settings: dict[str, Any], deny: bool = False):
        super().__init__(settings, deny=False)
        self.steps = list(settings.get("steps") or [])
        self.deny = {str(k): str(v) for k, v in (settings.get("deny") or {}).items()} if deny else {}

    def _act(self, page: _PageParser, text: str, url: str) -> tuple[str, str, dict | None] | str:
        tried: list[str] = []
        for n, step in enumerate(self.steps, start=1):
            pattern = step.get("match")
            if pattern and not (re.search(pattern, url) or re.search(pattern, text)):
                continue
            action = self._step_action(step, page, url)
            if isinstance(action, tuple):
                return action
            tried.append(f"step {n}: {action}")  # matched, but cannot act here: try the next step
        if tried:
            return f"no login step can act on {url} ({'; '.join(tried)})"
        return f"no login step matches the page {url}"

    def _step_action(self, step: dict[str, Any], page: _PageParser, url: str) -> tuple[str, str, dict | None] | str:
        if "click" in step:
            link = next((l for l in page.links if re.search(step["click"], l.text)), None)
            if link:
                return urljoin(url, link.href), "GET", None
            for form in page.forms:
                for name, value, label in form.buttons:
                    if re.search(step["click"], label or value):
                        return _submit(form, choose_submission(form, {}, {name: value} if name else {}), url)
            return f"nothing to click matching {step['click']!r}"
        fields = {str(k): str(v) for k, v in (step.get("fill") or {}).items()}
        submit = step.get("submit")
        candidates = [f for f in page.forms if not fields or any(n in fields for _, n, _ in f.inputs)]
        if not candidates:
            return f"no form with fields {sorted(fields)}"
        form = candidates[0]
        if isinstance(submit, dict):
            wanted = {str(k): str(v) for k, v in submit.items()}
            if not any(n in wanted for n, _, _ in form.buttons):
                return f"no button {sorted(wanted)}"
            if self.deny and any(n in self.deny for n, _, _ in form.buttons):
                wanted = self.deny
            return _submit(form, choose_submission(form, fields, wanted), url)
        data = choose_submission(form, fields, {})
        if isinstance(submit, str):
            button = next(((n, v) for n, v, label in form.buttons if re.search(submit, label or v)), None)
            if button is None:
                return f"no button matching {submit!r}"
            for n, _, _ in form.buttons:
                if n:
                    data.pop(n, None)
            if button[0]:
                data[button[0]] = button[1]
        return _submit(form, data, url)


# --------------------------------------------------------------------------- manual driver

class ManualDriver:
    """Prints the authorization URL and waits for the browser's redirect on a local callback.

    The target's redirect_uri must point at this machine, e.g. ``https://localhost:8443/callback``.
    The listener uses ``login.callback_certificate``/``callback_key`` when given, else a fresh
    self-signed certificate (the browser will warn once).
    """

    def __init__(self, settings: dict[str, Any], out=None):
        self.settings = settings
        self.timeout = float(settings.get("timeout", 300))
        self.out = out or sys.stderr

    async def login(self, ctx: FlowContext, authorize_url: str, redirect_uri: str, login: bool = True) -> LoginResult:
        parts = urlsplit(redirect_uri)
        if parts.hostname not in ("localhost", "127.0.0.1"):
            return LoginResult(None, None, None, None, error=(
                "manual login driver: the redirect_uri must point at this machine (https://localhost:PORT/...), "
                f"got {redirect_uri}"))
        loop = asyncio.get_running_loop()
        received: asyncio.Future[str] = loop.create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                line = await asyncio.wait_for(reader.readline(), 10)
                while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                    pass
                target = line.decode("latin-1").split(" ")[1] if line.count(b" ") >= 2 else "/"
                body = b"<html><body><p>validatiestraat received the redirect. You can close this window.</p></body></html>"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                await writer.drain()
                if not received.done() and target.split("?")[0].rstrip("/") == (parts.path or "/").rstrip("/"):
                    received.set_result(urljoin(redirect_uri, target))
            except (asyncio.TimeoutError, ConnectionError, IndexError):
                pass
            finally:
                writer.close()

        ssl_ctx = self._server_context()
        server = await asyncio.start_server(handle, "127.0.0.1", parts.port or 443, ssl=ssl_ctx)
        try:
            print(f"\nOpen this URL in a browser and log in with a test account:\n\n  {authorize_url}\n\n"
                  f"Waiting up to {self.timeout:.0f} s for the redirect to {redirect_uri} ...", file=self.out, flush=True)
            try:
                url = await asyncio.wait_for(received, self.timeout)
            except asyncio.TimeoutError:
                return LoginResult(None, None, None, None,
                                   error=f"no redirect arrived at {redirect_uri} within {self.timeout:.0f} s")
        finally:
            server.close()
            await server.wait_closed()
        return LoginResult(url, _params_of(url), None, None)

    def _server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert, key = self.settings.get("callback_certificate"), self.settings.get("callback_key")
        if not (cert and key):
            from validatiestraat.reference.pki import issue, make_ca

            ca = make_ca("validatiestraat callback")
            leaf = issue(ca, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
            directory = Path(tempfile.mkdtemp(prefix="validatiestraat-callback-"))
            leaf.write(directory, "callback", chain=[ca])
            cert, key = leaf.cert_path, leaf.key_path
        ctx.load_cert_chain(str(cert), str(key))
        return ctx


def driver_for(settings: dict[str, Any], deny: bool = False):
    kind = settings.get("driver", "form")
    if kind == "manual":
        return ManualDriver(settings)
    if kind == "steps":
        return StepsDriver(settings, deny=deny)
    return FormDriver(settings, deny=deny)


async def drive_forms(ctx: FlowContext, url: str, fields: dict[str, str], submit: dict[str, str],
                      max_pages: int = 10) -> LoginResult:
    driver = FormDriver({"fields": fields, "submit": submit})
    result = LoginResult(None, None, None, None)
    method, data, pressed = "GET", None, False
    for _ in range(max_pages):
        subject = await ctx.request(method, url, identity="none", data=data)
        result.exchanges.append(subject.exchange_id)
        result.pages.append(url)
        result.http = subject
        result.first = result.first or subject
        if subject.response is None:
            result.error = subject.describe()
            return result
        response = subject.response
        if response.is_redirect and "location" in response.headers:
            url, method, data = urljoin(url, response.headers["location"]), "GET", None
            continue
        if pressed or response.status_code >= 400:
            return result
        page = parse_page(response.text)
        forms = [f for f in page.forms if f.buttons or f.inputs]
        if not forms:
            result.error = f"no form on {url}"
            return result
        form = driver._pick_form(forms)
        pressed = any(n in submit and submit[n] in (v, label) for n, v, label in form.buttons)
        url, method, data = _submit(form, choose_submission(form, driver.fields, driver.submit), url)
    result.error = f"gave up after {max_pages} pages"
    return result
