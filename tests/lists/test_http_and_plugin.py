"""LIST-HTTP-01 over real HTTPS on 127.0.0.1, and the engine plug-in (lists.check + checks)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from validatiestraat.engine.plugins import CHECKS, STEP_KINDS, StepOutcome
from validatiestraat.lists.build import build_lists
from validatiestraat.lists.checks import check_lists
from validatiestraat.lists.fetch import FetchOptions, read_report
from validatiestraat.report.model import Status

from .conftest import INVALID, VALID

ZAL = (VALID / "zal-release3.xml").read_bytes()
WL = (VALID / "whitelist-release2.xml").read_bytes()


def _http_findings(report):
    return [(f.requirement, f.severity, f.message) for f in report.findings if f.requirement == "LIST-HTTP-01"]


def test_http01_served_correctly(list_server, pki) -> None:
    list_server.routes["/MedMij_Zorgaanbiederslijst.xml?api=2"] = (200, "application/xml; charset=utf-8", ZAL)
    doc = read_report(list_server.url("/MedMij_Zorgaanbiederslijst.xml?api=2"), FetchOptions(trust=[pki.ca_path]))
    report = check_lists([doc])
    assert report.findings == [] and report.status("LIST-HTTP-01") == "pass"
    assert doc.document.http.content_type == "application/xml; charset=utf-8"


def test_http01_wrong_name_no_api_wrong_content_type(list_server, pki) -> None:
    list_server.routes["/lists/zal.xml"] = (200, "text/plain", ZAL)
    doc = read_report(list_server.url("/lists/zal.xml"), FetchOptions(trust=[pki.ca_path]))
    report = check_lists([doc])
    assert _http_findings(report) == [
        ("LIST-HTTP-01", "error", "URL path '/lists/zal.xml' does not end in /MedMij_Zorgaanbiederslijst.xml"),
        ("LIST-HTTP-01", "error", "URL has no ?api=<major> version parameter"),
        ("LIST-HTTP-01", "error", "Content-Type 'text/plain' is not an XML media type (application/xml or text/xml)"),
    ]
    assert report.status("LIST-HTTP-01") == "fail"


def test_http01_plain_http(plain_server) -> None:
    # the plain server answers every path with a body that is not a list: unreadable (exit 4 in the CLI)
    doc = read_report(f"http://127.0.0.1:{plain_server.port}/MedMij_Whitelist.xml?api=2")
    assert doc.read_error is not None and "not well-formed" in doc.read_error.problems[0].message
    # a list served over http is an HTTP-01 finding
    from validatiestraat.lists.checks import HttpInfo, load_document

    d = load_document(WL, "http://lists.test/MedMij_Whitelist.xml?api=2",
                      http=HttpInfo("http://lists.test/MedMij_Whitelist.xml?api=2", 200, "text/xml"))
    assert _http_findings(check_lists([d])) == [("LIST-HTTP-01", "error", "list is served over 'http', not https")]


def test_http_error_status_is_unreadable(list_server, pki) -> None:
    doc = read_report(list_server.url("/MedMij_Whitelist.xml?api=2"), FetchOptions(trust=[pki.ca_path]))
    assert doc.read_error is not None and doc.read_error.category == "http"
    assert doc.read_error.problems[0].message == "HTTP 404"


# -- plug-in -----------------------------------------------------------------------------------


def test_plugin_registered() -> None:
    import validatiestraat.lists.plugin  # noqa: F401

    assert "lists.check" in STEP_KINDS
    for name in ("lists.schema", "lists.semantics", "lists.http", "lists.timestamp_volgnummer", "lists.endpoint_uris",
                 "lists.whitelisted", "lists.gegevensdiensten_known", "lists.zorgaanbiedernaam", "lists.aanbiedertype",
                 "lists.kind"):
        assert name in CHECKS, name
    assert CHECKS["lists.schema"].requirements == ("LIST-XSD-01", "LIST-XSD-02", "LIST-XSD-03", "LIST-XSD-04")
    assert CHECKS["lists.whitelisted"].requirements == ("LIST-SEM-03",)


def _run_step(spec, ctx=None) -> StepOutcome:
    import validatiestraat.lists.plugin  # noqa: F401

    ctx = ctx or SimpleNamespace(target=SimpleNamespace(trust=[]))
    return asyncio.run(STEP_KINDS["lists.check"].run(spec, ctx))


def _verdict(name, outcome, arg=True):
    return CHECKS[name].evaluate(arg, outcome, None)


def test_step_with_files() -> None:
    outcome = _run_step({"file": str(INVALID / "zal3-host-not-whitelisted.xml"),
                         "with": [str(VALID / "whitelist-release2.xml"), str(VALID / "gnl-release1.xml")]})
    assert outcome.error is None
    assert _verdict("lists.schema", outcome).status == Status.PASS
    v = _verdict("lists.whitelisted", outcome)
    assert v.status == Status.WARNING and "fhir.onbekend.test" in v.reason
    assert _verdict("lists.semantics", outcome).status == Status.WARNING
    assert _verdict("lists.semantics", outcome, ["LIST-SEM-02", "LIST-SEM-05"]).status == Status.PASS
    assert _verdict("lists.http", outcome).status == Status.OMITTED  # read from a file
    assert _verdict("lists.kind", outcome, "zal").status == Status.PASS
    assert _verdict("lists.kind", outcome, "ocl").status == Status.FAIL


def test_step_failures_and_previous() -> None:
    outcome = _run_step({"file": str(INVALID / "zal3-volgnummer-8.xml"), "previous": str(VALID / "zal-release3.xml")})
    v = _verdict("lists.timestamp_volgnummer", outcome)
    assert v.status == Status.FAIL and "Volgnummer 8 is lower than the previously seen 9" in v.reason
    assert v.details["findings"][0]["line"] == 5
    outcome = _run_step({"file": str(INVALID / "zal3-order.xml")})
    assert _verdict("lists.schema", outcome).status == Status.FAIL
    outcome = _run_step({"file": str(VALID / "gnl-release1.xml"), "list_kind": "whitelist"})
    v = _verdict("lists.schema", outcome)
    assert v.status == Status.FAIL and "expected a Whitelist" in v.reason


def test_step_hostile_and_missing(tmp_path) -> None:
    evil = tmp_path / "MedMij_Whitelist.xml"
    evil.write_text('<!DOCTYPE x [<!ENTITY a "b">]><Whitelist>&a;</Whitelist>')
    v = _verdict("lists.schema", _run_step({"file": str(evil)}))
    assert v.status == Status.FAIL and "DOCTYPE" in v.reason
    outcome = _run_step({"file": str(tmp_path / "nothing.xml")})
    assert outcome.error and "no such file" in outcome.error
    assert _verdict("lists.schema", outcome).status == Status.ERROR


def test_step_through_flow_context(list_server, pki, tmp_path) -> None:
    """With the engine's recording HTTP layer: the exchange is evidence, loopback is accepted."""
    context = pytest.importorskip("validatiestraat.engine.context")
    from validatiestraat.target import target_from_dict

    base = f"https://127.0.0.1:{list_server.port}"
    lists = build_lists("umcvalidatie", {"authorization": base + "/oauth/authorize", "token": base + "/oauth/token",
                                         "resource": base + "/fhir"},
                        [("pgo.validatiestraat.test", "Validatiestraat PGO")], {"48": "Basisgegevens zorg"},
                        missing_from_whitelist="pgo.validatiestraat.test")
    for kind, path in (("zal", "/MedMij_Zorgaanbiederslijst.xml?api=2"), ("whitelist", "/MedMij_Whitelist.xml?api=2"),
                       ("ocl", "/MedMij_OAuthclientlist.xml?api=2"), ("gnl", "/MedMij_Gegevensdienstnamenlijst.xml?api=2")):
        list_server.routes[path] = (200, "application/xml", lists[kind])
    target = target_from_dict({"aanbieder": "umcvalidatie", "endpoints": {"authorization": base + "/a", "token": base + "/t",
                                                                          "resource": base + "/r"},
                               "client": {"client_id": "pgo.validatiestraat.test",
                                          "redirect_uri": "https://pgo.validatiestraat.test/cb"},
                               "trust": [str(pki.ca_path)]}, Path("."))
    recorder = context.Recorder()

    async def go():
        ctx = context.FlowContext(target, "lists", recorder, context.TLSContexts(target))
        try:
            return await STEP_KINDS["lists.check"].run(
                {"url": base + "/MedMij_Zorgaanbiederslijst.xml?api=2",
                 "with": [base + "/MedMij_Whitelist.xml?api=2", base + "/MedMij_OAuthclientlist.xml?api=2",
                          base + "/MedMij_Gegevensdienstnamenlijst.xml?api=2"],
                 "client_certificate": "none"}, ctx)
        finally:
            await ctx.aclose()

    outcome = asyncio.run(go())
    assert outcome.error is None and len(outcome.exchanges) == 4
    assert [x.url for x in recorder.exchanges][0].endswith("/MedMij_Zorgaanbiederslijst.xml?api=2")
    assert _verdict("lists.schema", outcome).status == Status.PASS
    assert _verdict("lists.http", outcome).status == Status.PASS
    assert _verdict("lists.endpoint_uris", outcome).status == Status.PASS  # loopback accepted: served from 127.0.0.1
    v = _verdict("lists.whitelisted", outcome)
    assert v.status == Status.WARNING and "pgo.validatiestraat.test" in v.reason
    assert outcome.subject.http is not None and outcome.subject.http.status == 200


def test_step_not_served_is_an_http_failure(list_server, pki) -> None:
    ctx = SimpleNamespace(target=SimpleNamespace(trust=[pki.ca_path]))
    outcome = _run_step({"url": list_server.url("/MedMij_Whitelist.xml?api=2")}, ctx)  # own client: 404
    assert outcome.error is None
    v = _verdict("lists.http", outcome)
    assert v.status == Status.FAIL and "HTTP 404" in v.reason
    assert _verdict("lists.schema", outcome).status == Status.ERROR


def test_step_garbage_of_unknown_kind_fails_schema(tmp_path) -> None:
    junk = tmp_path / "something.xml"
    junk.write_text("<html><body>maintenance</body></html>")
    outcome = _run_step({"file": str(junk)})
    v = _verdict("lists.schema", outcome)
    assert v.status == Status.FAIL and "root element <html> is not a MedMij list" in v.reason
    assert _verdict("lists.semantics", outcome).status == Status.ERROR
