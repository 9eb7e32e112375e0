"""Making a PGO act: the target's ``pgo:`` block turned into requests (see pgo/target.py).

A PGO starts flows on its user's behalf, so the harness asks it to (a ``start`` request, or a
``command`` hook that prints the authorization URL), then acts as the user's browser: it opens
the authorization URL (the harness's own authorization endpoint answers at once, or as the
scenario scripted), follows the redirect back to the PGO's redirect_uri with one cookie jar, and
stops at the ``done`` prefix. Triggers (``fetch``, ``refresh``, ``lists_refresh``) ask the PGO
for actions it otherwise takes only on its own schedule.

Every request to the PGO goes through the flow's recording HTTP layer, so it is evidence too.
A PGO that does not answer, or answers with something the driver cannot use, ends the step with
an error that says what was expected, never a hang: every wait has the block's ``timeout``.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from validatiestraat.engine.context import FlowContext, HttpSubject

DEFAULT_TIMEOUT = 20.0
MAX_HOPS = 12
_VAR = re.compile(r"\$\{([a-z_]+)\}")


@dataclass
class Browse:
    """One flow as the browser saw it."""

    authorization_url: str | None = None
    start: HttpSubject | None = None
    pages: list[HttpSubject] = field(default_factory=list)
    callback_url: str | None = None  # the redirect to the PGO's redirect_uri
    done_url: str | None = None  # where the browser stopped (the done prefix)
    error: str | None = None
    config_error: str | None = None

    @property
    def exchanges(self) -> list[str]:
        out = [self.start.exchange_id] if self.start is not None else []
        return out + [p.exchange_id for p in self.pages]


def harness_vars(ctx: FlowContext) -> dict[str, str]:
    """The ``${...}`` names a ``pgo:`` block may use."""
    harness = ctx.target.harness
    urls = dict(harness.urls)
    return {
        "aanbieder": urls.get("aanbieder", ctx.target.aanbieder),  # the ZAL Zorgaanbiedernaam
        "gegevensdienst": str((ctx.target.gegevensdiensten or ["48"])[0]),
        "zal": urls.get("zal", ""), "whitelist": urls.get("whitelist", ""), "ocl": urls.get("ocl", ""),
        "gnl": urls.get("gnl", ""), "authorization": urls.get("authorization", ""),
        "token": urls.get("token", ""), "resource": urls.get("resource", ""), "ca": urls.get("ca", ""),
        "interfaceversie": urls.get("interfaceversie", ""),
    }


def fill(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: fill(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, variables) for v in value]
    return value


class PgoDriver:
    def __init__(self, block: dict[str, Any]):
        self.block = block
        self.timeout = float(block.get("timeout", DEFAULT_TIMEOUT))
        self.login = block.get("login") or {"mode": "none"}
        self._logged_in = False

    # -- requests to the PGO ------------------------------------------------------------------
    async def send(self, ctx: FlowContext, spec: dict[str, Any]) -> HttpSubject:
        spec = fill(spec, harness_vars(ctx))
        headers = dict(spec.get("headers") or {})
        if self.login.get("mode") == "header":
            headers.update(self.login.get("headers") or {})
        await self._ensure_login(ctx)
        return await ctx.request(spec.get("method", "GET").upper(), spec["url"], identity="none", headers=headers,
                                 json=spec.get("json"), data=spec.get("form"), content=spec.get("body"),
                                 timeout=self.timeout)

    async def _ensure_login(self, ctx: FlowContext) -> None:
        mode = self.login.get("mode", "none")
        if mode == "cookie" and not self._logged_in:
            client = ctx.client("none")
            for name, value in (self.login.get("cookies") or {}).items():
                client.cookies.set(name, value)
        elif mode == "form" and not self._logged_in and self.login.get("url"):
            self._logged_in = True
            await ctx.request("POST", self.login["url"], identity="none", data=self.login.get("fields") or {},
                              timeout=self.timeout)
        self._logged_in = True

    async def trigger(self, ctx: FlowContext, action: str) -> HttpSubject | None:
        spec = self.block.get(action)
        if not spec:
            return None
        return await self.send(ctx, spec)

    # -- a flow ---------------------------------------------------------------------------------
    async def authorization_url(self, ctx: FlowContext, result: Browse) -> None:
        if self.block.get("command"):
            await self._command(ctx, result)
            return
        start = self.block.get("start")
        if not start:
            result.config_error = "the target's pgo block has neither start nor command: the harness cannot make " \
                                  "the PGO start a flow (use manual: true to start it by hand)"
            return
        http = await self.send(ctx, {k: v for k, v in start.items() if k != "authorization_url"})
        result.start = http
        if http.response is None:
            result.config_error = (f"the PGO's start request got no answer ({http.error}); check pgo.start.url "
                                   "and that the PGO is running")
            return
        if http.status in (401, 403, 404, 405):
            result.config_error = (f"the PGO refused the start request ({http.describe()}); check pgo.start and "
                                   "pgo.login (a test session, the method, the URL)")
            return
        how = (start.get("authorization_url") or {"from": "location"})
        result.authorization_url = _extract(http, how)
        if not result.authorization_url:
            result.config_error = (f"the PGO's start request ({http.describe()}) gave no authorization URL where "
                                   f"pgo.start.authorization_url says ({how}); check the target's pgo.start block")

    async def _command(self, ctx: FlowContext, result: Browse) -> None:
        env = {**os.environ, **{f"VS_{k.upper()}": v for k, v in harness_vars(ctx).items()}}
        try:
            proc = await asyncio.create_subprocess_exec(*self.block["command"], env=env,
                                                        stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            result.config_error = f"pgo.command cannot be started: {exc}"
            return
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            result.config_error = f"pgo.command printed no authorization URL within {self.timeout:g} s"
            return
        lines = [line.strip() for line in out.decode("utf-8", "replace").splitlines() if line.strip()]
        if proc.returncode != 0 or not lines or not lines[-1].startswith("https://"):
            result.config_error = (f"pgo.command exited {proc.returncode} without printing an https authorization "
                                   f"URL as its last line (stderr: {err.decode('utf-8', 'replace')[-200:]!r})")
            return
        result.authorization_url = lines[-1]

    async def run_flow(self, ctx: FlowContext) -> Browse:
        """Start a flow at the PGO and be its user's browser until the done prefix."""
        result = Browse()
        if self.block.get("manual"):
            await self._manual(ctx, result)
            return result
        await self.authorization_url(ctx, result)
        if result.authorization_url is None:
            return result
        await self.browse(ctx, result, result.authorization_url)
        return result

    async def browse(self, ctx: FlowContext, result: Browse, url: str) -> None:
        redirect_uri = self.block["redirect_uri"]
        done = self.block["done"]
        for _ in range(MAX_HOPS):
            if url.startswith(done):
                result.done_url = url
                return
            if url.split("?")[0] == redirect_uri.split("?")[0]:
                result.callback_url = url
            page = await ctx.request("GET", url, identity="none", timeout=self.timeout)
            result.pages.append(page)
            if page.response is None:
                result.error = f"the browser got no answer from {url.split('?')[0]}: {page.error}"
                return
            location = page.header("location") if page.status in (301, 302, 303, 307, 308) else None
            if not location:
                if result.callback_url is not None:
                    result.done_url = url  # the PGO answered the callback with a page of its own
                    return
                result.error = (f"{page.describe()}: the browser expected a redirect towards the PGO's "
                                f"redirect_uri {redirect_uri}")
                return
            url = urljoin(url, location)
        result.error = f"gave up after {MAX_HOPS} redirects without reaching {done}"

    async def _manual(self, ctx: FlowContext, result: Browse) -> None:
        harness = ctx.target.harness
        since = harness.mark()
        print(f"validatiestraat: start a flow in the PGO now (aanbieder {ctx.target.aanbieder}); waiting up to "
              f"{self.timeout:g} s for its authorization request at {harness.urls.get('authorization')}",
              file=sys.stderr, flush=True)
        seen = await harness.wait_for("authorize", since, self.timeout)
        if not seen:
            result.config_error = f"no authorization request arrived within {self.timeout:g} s (manual mode)"
            return
        first = seen[0]
        result.authorization_url = f"{harness.urls['authorization']}?{first.raw_query}"
        location = dict((k.lower(), v) for k, v in first.response_headers).get("location")
        if location:
            print(f"validatiestraat: open this URL in the PGO's browser to continue: {location}", file=sys.stderr,
                  flush=True)
            await harness.wait_for("token", since, self.timeout)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "form"):
            for name, value in attrs:
                if name in ("href", "action") and value:
                    self.hrefs.append(value)


def _extract(http: HttpSubject, how: dict[str, Any]) -> str | None:
    source = how.get("from", "location")
    if source == "location":
        location = http.header("location")
        return urljoin(http.url, location) if location else None
    if source == "json":
        import jmespath

        body = http.json()
        value = jmespath.search(how.get("path", "authorization_url"), body) if body is not None else None
        return value if isinstance(value, str) else None
    text = http.response.text if http.response is not None else ""
    if source == "body":
        text = text.strip()
        return text if text.startswith("https://") else None
    parser = _Links()
    parser.feed(text)
    for href in parser.hrefs:
        if "response_type=" in href and urlsplit(href).scheme == "https":
            return href.replace("&amp;", "&")
    return None
