"""Login drivers against the reference DVA's two login-page variants, over real HTTPS."""

from __future__ import annotations

import asyncio
import io
import json
import re
from contextlib import redirect_stderr

import pytest
import yaml

from validatiestraat.engine.context import FlowContext, Recorder, TLSContexts
from validatiestraat.oauth.login import FormDriver, ManualDriver, StepsDriver
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
    assert code == 0, results["blocking"]
    status = {r["id"]: r["status"] for r in results["requirements"]}
    assert status["AS-AUTHZ-01"] == "pass" and status["AS-AUTHZ-11"] == "pass"


def _login(driver, dva: ReferenceDVA, tmp_path, redirect_uri: str | None = None):
    data = dva.target_dict()
    target = target_from_dict(data, tmp_path)
    if redirect_uri:
        target.client.redirect_uri = redirect_uri

    async def go():
        ctx = FlowContext(target, "t", Recorder(), TLSContexts(target))
        try:
            url = (f"{target.authorization_endpoint}?response_type=code&client_id={target.client.client_id}"
                   f"&redirect_uri={target.client.redirect_uri}&scope={target.aanbieder}&state=abc123state")
            return await driver.login(ctx, url, target.client.redirect_uri)
        finally:
            await ctx.aclose()

    return asyncio.run(go())


def test_steps_driver_reports_a_step_that_matches_nothing(variant2, tmp_path):
    driver = StepsDriver({"steps": [{"match": "DigiD", "click": "Log in with eHerkenning"}]})
    result = _login(driver, variant2, tmp_path)
    assert result.redirect_url is None and "nothing to click matching" in result.error


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
