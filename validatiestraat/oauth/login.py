"""Login drivers: how the suite gets from an authorization URL to the redirect with a code.

- ``form``: an HTML-form-following user agent (httpx + html.parser). It follows redirects on the
  DVA's side, fills configured fields, keeps hidden inputs, presses the configured submit button
  and stops at the redirect to the client's redirect_uri. Works with the reference DVA and with
  simple test login pages.
- ``manual``: for real DVAs with a DigiD test login. Prints the authorization URL and waits, with
  a timeout, for the browser's redirect on a local HTTPS callback listener.

All return a :class:`LoginResult`. When a driver cannot complete because the tester's login
settings do not fit the DVA's pages (no step matches, a field or button is missing, no redirect
within the manual timeout), ``LoginResult.config_error`` says so ("login could not be completed:
..."): a configuration error, not a failure of the DVA. The DVA's own answers (HTTP 4xx/5xx, a
redirect elsewhere, an error redirect, a TLS or connection failure, a non-HTML answer) never set it.
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
    #: set when the tester's login settings do not fit the DVA's pages ("login could not be
    #: completed: ..."; names the page without its query and what to check in `login:`);
    #: ``error`` is set too
    config_error: str | None = None


CONFIG_ERROR_PREFIX = "login could not be completed: "


def _bare(url: str) -> str:
    """A URL without query and fragment (a query may carry a session id, a code or a password)."""
    return url.split("#", 1)[0].split("?", 1)[0]


def config_message(what: str, url: str, check: str) -> str:
    """The configuration error text: what did not fit, on which page, and what to check."""
    return f"{CONFIG_ERROR_PREFIX}{what}, on the page {_bare(url)}; check {check} in the target's `login:` block"


@dataclass
class _Stop:
    """Why a driver stops on a page: the error, and the configuration error when the tester's
    login settings do not fit the page (None when the page is the DVA's doing)."""

    error: str
    config: str | None = None


@dataclass
class _Progress:
    """What a login has done so far (which fields went out, whether the configured button was pressed,
    which steps acted, which login forms were submitted)."""

    used_fields: set[str] = field(default_factory=set)
    pressed: bool = False
    acted_steps: set[int] = field(default_factory=set)
    submitted: dict[tuple[str, tuple[str, ...]], int] = field(default_factory=dict)


#: input types a person types into (not hidden, not buttons, not check boxes)
_FILLABLE = {"text", "password", "email", "tel", "number", "search", "url", "date", ""}


def _fillable(kind: str) -> bool:
    return kind in _FILLABLE


def _form_key(form: "Form", url: str) -> tuple[str, tuple[str, ...]]:
    return _bare(urljoin(url, form.action or url)), tuple(sorted(n for _, n, _ in form.inputs if n))


def _buttons_text(forms: list["Form"]) -> str:
    shown = []
    for form in forms:
        for name, value, label in form.buttons:
            shown.append(f"{name}={value}" if name else repr(label or value or "(unnamed)"))
    return ", ".join(shown) if shown else "none"


def _fields_text(forms: list["Form"]) -> str:
    names = sorted({n for f in forms for k, n, _ in f.inputs if n and _fillable(k)})
    return str(names) if names else "none"


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
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "form":
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
        if self._in_title:
            self.title += data
        if self._button is not None:
            self._button[2] += data
        if self._link is not None:
            self._link[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "form":
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
        self.deny_mode = deny
        #: the target setting that holds self.submit (for configuration error messages)
        self.submit_key = "login.deny" if deny else "login.submit"

    async def login(self, ctx: FlowContext, authorize_url: str, redirect_uri: str, login: bool = True) -> LoginResult:
        result = LoginResult(None, None, None, None)
        progress = _Progress()
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
            action = self._act(parse_page(response.text), response.text, url, progress)
            if isinstance(action, _Stop):
                result.error = action.error
                result.config_error = action.config
                return result
            url, method, data = action
        result.error = f"gave up after {MAX_HOPS} pages without a redirect to the redirect_uri"
        return result

    def _act(self, page: _PageParser, text: str, url: str,
             progress: _Progress) -> tuple[str, str, dict | None] | _Stop:
        """What a user does on this page: (url, method, form data), or why the login stops here."""
        forms = [f for f in page.forms if f.buttons or f.inputs]
        if forms:
            form = self._pick_form(forms)
            problem = self._mismatch(forms, form, url, progress)
            if problem is not None:
                return problem
            data = choose_submission(form, self.fields, self.submit)
            self._note(form, data, url, progress)
            return _submit(form, data, url)
        link = next((l for l in page.links if re.search(self.link_text, l.text)), None)
        if link:
            return urljoin(url, link.href), "GET", None
        error = "no form or login link on the page; cannot continue the login"
        expected = self._still_to_use(progress)
        if not expected:  # everything configured was used: a page without a way on is the DVA's doing
            return _Stop(error)
        title = f" ({page.title.strip()!r})" if page.title.strip() else ""
        return _Stop(error, config_message(
            f"the page{title} has no form and no link matching login.link_text; expected {expected}", url,
            "login.fields, " + self.submit_key + " and login.link_text"))

    def _still_to_use(self, progress: _Progress) -> str:
        """The configured fields and button not used yet, as text ('' when all were used)."""
        parts = []
        unused = [n for n in self.fields if n not in progress.used_fields]
        if unused:
            parts.append(f"fields {unused}")
        if self.submit and not progress.pressed:
            parts.append(f"the button {self.submit}")
        return " and ".join(parts)

    def _mismatch(self, forms: list[Form], form: Form, url: str, progress: _Progress) -> _Stop | None:
        """A configuration error when the login settings do not fit this page's forms."""
        on_page = {n for f in forms for _, n, _ in f.inputs if n}
        empty = [n for k, n, v in form.inputs if n and _fillable(k) and not v and n not in self.fields]
        if self.fields:
            unused = [n for n in self.fields if n not in progress.used_fields and n not in on_page]
            if empty and unused:
                return _Stop(f"login fields {unused} are not on the page {_bare(url)}", config_message(
                    f"the form asks for {empty}, and login.fields {unused} are not on the page", url, "login.fields"))
        elif empty and any(k == "password" and not v for k, _, v in form.inputs):
            return _Stop(f"the page {_bare(url)} asks for {empty} and no login fields are configured", config_message(
                f"the form asks for {empty} and login.fields is empty", url, "login.fields"))
        if progress.submitted.get(_form_key(form, url)) and any(n in self.fields for _, n, _ in form.inputs):
            error = f"the login form at {_bare(url)} came back after the login fields were submitted"
            return _Stop(error, config_message(
                f"the login form came back after login.fields {sorted(self.fields)} were submitted (wrong test "
                "credentials, or a field the DVA needs is missing?)", url, "login.fields"))
        named = [(n, v, label) for n, v, label in form.buttons if n]
        configured = [b for b in named if b[0] in self.submit]
        if configured and not any(self.submit[n] in (v, label) for n, v, label in configured):
            return _Stop(f"the button {self.submit} is not on the page {_bare(url)}", config_message(
                f"{self.submit_key} {self.submit} is not among the page's buttons ({_buttons_text([form])})",
                url, self.submit_key))
        names = [n for n, _, _ in named]
        choice = any(names.count(n) > 1 for n in names)
        if choice and not configured and (self.submit or self.deny_mode):
            what = (f"{self.submit_key} is not set" if not self.submit
                    else f"{self.submit_key} {self.submit} is not among them")
            return _Stop(f"the page {_bare(url)} offers a choice of buttons and {what}", config_message(
                f"the page offers a choice of buttons ({_buttons_text([form])}) and {what}", url, self.submit_key))
        return None

    def _note(self, form: Form, data: dict[str, str], url: str, progress: _Progress) -> None:
        names = {n for _, n, _ in form.inputs if n}
        filled = [n for n in self.fields if n in names]
        progress.used_fields.update(filled)
        if any(n in self.submit and self.submit[n] in (v, label) and data.get(n) == v for n, v, label in form.buttons):
            progress.pressed = True
        if filled:
            key = _form_key(form, url)
            progress.submitted[key] = progress.submitted.get(key, 0) + 1

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
    (button text regex, or ``{name: value}``). The first step whose ``match`` fits the page and that
    can act on it acts. In deny mode, a ``submit`` mapping is replaced by the target's ``deny``
    mapping where the page offers that button.

    Configuration errors: no step matches a page that has a form (or any page while some step has not
    acted yet), or the matching steps cannot act (a ``fill`` field, the ``click`` target or the
    ``submit`` button is not on the page; in deny mode, no ``deny`` button where the page offers a choice).
    """

    def __init__(self, settings: dict[str, Any], deny: bool = False):
        super().__init__(settings, deny=False)
        self.steps = list(settings.get("steps") or [])
        self.deny_mode = deny
        self.deny = {str(k): str(v) for k, v in (settings.get("deny") or {}).items()} if deny else {}

    def _act(self, page: _PageParser, text: str, url: str,
             progress: _Progress) -> tuple[str, str, dict | None] | _Stop:
        tried: list[str] = []
        for n, step in enumerate(self.steps, start=1):
            pattern = step.get("match")
            if pattern and not (re.search(pattern, url) or re.search(pattern, text)):
                continue
            action = self._step_action(step, page, url, n, progress)
            if isinstance(action, tuple):
                progress.acted_steps.add(n)
                return action
            tried.append(f"step {n}: {action}")  # matched, but cannot act here: try the next step
        has_form = any(f.buttons or f.inputs for f in page.forms)
        waiting = [n for n in range(1, len(self.steps) + 1) if n not in progress.acted_steps]
        if tried:
            error = f"no login step can act on {url} ({'; '.join(tried)})"
            what = f"no login step can act ({'; '.join(tried)})"
        else:
            error = f"no login step matches the page {url}"
            patterns = ", ".join(f"step {n}: {s.get('match')!r}"
                                 for n, s in enumerate(self.steps, start=1)) or "no steps"
            what = f"no login step's match fits the page ({patterns})"
        if not has_form and not waiting:
            return _Stop(error)  # every step acted and the page offers nothing: the DVA's doing
        if not has_form:
            title = f" ({page.title.strip()!r})" if page.title.strip() else ""
            what = f"{what}; the page{title} has no form"
            if waiting and not tried:
                what += f"; expected {self._expectations(waiting)}"
        return _Stop(error, config_message(what, url, "login.steps (match, fill, click, submit)"
                                           + (" and login.deny" if self.deny_mode else "")))

    def _expectations(self, numbers: list[int]) -> str:
        parts = []
        for n in numbers:
            step = self.steps[n - 1]
            if "click" in step:
                parts.append(f"step {n}: something to click matching {step['click']!r}")
            else:
                fill = sorted(str(k) for k in (step.get("fill") or {}))
                button = step.get("submit")
                parts.append(f"step {n}: " + " and ".join(
                    ([f"fields {fill}"] if fill else []) + ([f"the button {button!r}"] if button else [])
                    or ["a form"]))
        return "; ".join(parts)

    def _step_action(self, step: dict[str, Any], page: _PageParser, url: str, n: int = 0,
                     progress: _Progress | None = None) -> tuple[str, str, dict | None] | str:
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
        candidates = [f for f in page.forms if all(any(n == name for _, n, _ in f.inputs) for name in fields)]
        if not candidates:
            partial = [f for f in page.forms if any(n in fields for _, n, _ in f.inputs)]
            if partial:
                have = {n for _, n, _ in partial[0].inputs}
                return (f"fields {sorted(set(fields) - have)} are not in the form "
                        f"(its fields: {_fields_text(partial[:1])})")
            return f"no form with fields {sorted(fields)} (the page's fields: {_fields_text(page.forms)})"
        form = candidates[0]
        if fields and progress is not None:
            key = _form_key(form, url)
            if progress.submitted.get(key):
                return (f"its form came back after its fields were submitted (wrong test credentials in "
                        f"step {n}'s fill?)")
        if isinstance(submit, dict):
            wanted = {str(k): str(v) for k, v in submit.items()}
            offered = [(name, v, label) for name, v, label in form.buttons if name in wanted]
            if not offered:
                return f"no button {sorted(wanted)} (the page's buttons: {_buttons_text([form])})"
            if not any(wanted[name] in (v, label) for name, v, label in offered):
                return f"no button {wanted} (the page's buttons: {_buttons_text([form])})"
            if self.deny_mode:
                named = [name for name, _, _ in form.buttons if name]
                choice = len(named) > 1
                if self.deny and any(name in self.deny and self.deny[name] in (v, label)
                                     for name, v, label in form.buttons):
                    wanted = self.deny
                elif choice and not fields:
                    # the consent choice without the deny button: pressing the approve button would be wrong
                    what = "login.deny is not set" if not self.deny else f"no deny button {self.deny}"
                    return f"{what} (the page's buttons: {_buttons_text([form])})"
            data = choose_submission(form, fields, wanted)
        else:
            data = choose_submission(form, fields, {})
            if isinstance(submit, str):
                button = next(((name, v) for name, v, label in form.buttons if re.search(submit, label or v)), None)
                if button is None:
                    return f"no button matching {submit!r} (the page's buttons: {_buttons_text([form])})"
                for name, _, _ in form.buttons:
                    if name:
                        data.pop(name, None)
                if button[0]:
                    data[button[0]] = button[1]
        if fields and progress is not None:
            key = _form_key(form, url)
            progress.submitted[key] = progress.submitted.get(key, 0) + 1
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
        if not login:
            # a request without a login (negatives: error pages, error redirects) needs no person:
            # send it directly and report the DVA's answer
            return await FormDriver({}).login(ctx, authorize_url, redirect_uri, login=False)
        parts = urlsplit(redirect_uri)
        if parts.hostname not in ("localhost", "127.0.0.1"):
            message = ("manual login driver: the redirect_uri must point at this machine (https://localhost:PORT/...), "
                       f"got {redirect_uri}")
            return LoginResult(None, None, None, None, error=message, config_error=(
                f"{CONFIG_ERROR_PREFIX}the manual driver waits for the browser's redirect on this machine, but the "
                f"redirect_uri is {_bare(redirect_uri)}; check client.redirect_uri (https://localhost:PORT/...) and "
                "login.driver in the target"))
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
                waited = f"{self.timeout:g} s"
                return LoginResult(None, None, None, None,
                                   error=f"no redirect arrived at {redirect_uri} within {self.timeout:.0f} s",
                                   config_error=(
                                       f"{CONFIG_ERROR_PREFIX}no redirect arrived at {_bare(redirect_uri)} within "
                                       f"{waited} (the login in the browser was not finished in time, or the DVA "
                                       "redirected elsewhere); check login.timeout in the target's `login:` block, "
                                       "and that the browser can reach the callback"))
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
