"""File writers: results.json, junit.xml, exchanges.json and report.html (all redacted).

Each writer takes the same inputs (the run result, its readiness and a redactor); adding an
output format means adding a function here and a line in :func:`write_reports`.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from validatiestraat.report.model import CheckResult, RunResult, Status
from validatiestraat.report.readiness import NOT_READY, Readiness, blocked_reason
from validatiestraat.report.redact import Redactor

RESULTS_SCHEMA_ID = "https://validatiestraat.invalid/schemas/results-1.json"


def results_document(result: RunResult, readiness: Readiness, redactor: Redactor) -> dict[str, Any]:
    checks = []
    for c in result.checks:
        d = c.to_dict()
        d["reason"] = redactor.text(d["reason"])
        d["details"] = redactor.json(d["details"])
        if "degraded" in d:
            d["degraded"] = redactor.text(d["degraded"])
        checks.append(d)
    requirements = []
    for rid, outcome in readiness.requirements.items():
        req = outcome.requirement
        entry: dict[str, Any] = {
            "id": rid,
            "title": req.title,
            "area": req.area,
            "level": req.level,
            "uncertain": req.uncertain,
            "status": outcome.label,
            "blocking": outcome.blocking,
            "in_scope": outcome.in_scope,
            "checks": [c.id for c in outcome.checks],
        }
        if outcome.scope_reason:
            entry["scope_reason"] = outcome.scope_reason
        if req.applies_when:
            entry["applies_when"] = req.applies_when
        if outcome.blocked_by:
            entry["blocked_by"] = outcome.blocked_by
        requirements.append(entry)
    incomplete = []
    for item in readiness.incomplete:
        d = item.to_dict()
        d["reason"] = redactor.text(d["reason"]) or ""
        incomplete.append(d)
    return {
        "$schema": RESULTS_SCHEMA_ID,
        "tool": {"name": "validatiestraat", "version": result.tool_version},
        "suite_version": result.suite_version,
        "target": redactor.json(result.target),
        "faults": result.faults,
        "started": result.started,
        "finished": result.finished,
        **({"interrupted": result.interrupted} if getattr(result, "interrupted", None) else {}),
        "verdict": readiness.verdict,
        "ready": readiness.ready,
        "exit_code": readiness.exit_code,
        "scope": redactor.json(readiness.scope),
        "counts": readiness.counts,
        "blocking": [
            {"requirement": o.requirement.id, "reason": redactor.text(p.reason) if (p := o.first_problem()) else ""}
            for o in readiness.blocking
        ] + [{"requirement": None, "check": c.id, "reason": redactor.text(c.reason)} for c in readiness.unmapped_blocking],
        "incomplete": incomplete,
        "degraded": [redactor.text(d) for d in readiness.degraded],
        **({"waivers": result.waivers} if getattr(result, "waivers", None) else {}),
        "scenarios": [s.to_dict() for s in result.scenarios],
        "requirements": requirements,
        "checks": checks,
        "exchanges_file": "exchanges.json",
    }


def exchanges_document(result: RunResult, redactor: Redactor) -> dict[str, Any]:
    out = []
    for x in result.exchanges:
        d = x.to_dict()
        d["request"]["url"] = redactor.url(d["request"]["url"])
        d["request"]["headers"] = redactor.headers(d["request"]["headers"])
        d["request"]["body"] = redactor.body(d["request"]["body"])
        if d["response"]:
            d["response"]["headers"] = redactor.headers(d["response"]["headers"])
            d["response"]["body"] = redactor.body(d["response"]["body"])
        d["error"] = redactor.text(d["error"])
        out.append(d)
    return {"exchanges": out}


def _blocked_message(c: CheckResult, reason: str) -> str:
    return blocked_reason(c.blocked_by, reason)


def junit_xml(result: RunResult, redactor: Redactor, readiness: Readiness | None = None) -> bytes:
    """A testsuite per scenario and a testcase per check: fail as <failure>, error (the tool could
    not decide) as <error>, blocked, skip and omitted as <skipped>. With ``readiness``, a last
    testsuite ``label-readiness`` holds the verdict: a <failure> unless READY."""
    suites = ET.Element("testsuites", name="validatiestraat")
    by_scenario: dict[str, list] = {}
    for c in result.checks:
        by_scenario.setdefault(c.scenario, []).append(c)
    for sres in result.scenarios:
        checks = by_scenario.get(sres.id, [])
        suite = ET.SubElement(
            suites, "testsuite", name=sres.id, tests=str(len(checks)),
            failures=str(sum(c.status is Status.FAIL for c in checks)),
            errors=str(sum(c.status is Status.ERROR for c in checks)),
            skipped=str(sum(c.status in (Status.SKIP, Status.OMITTED, Status.BLOCKED) for c in checks)),
            time=f"{sres.duration_ms / 1000:.3f}", timestamp=sres.started, file=sres.file,
        )
        for c in checks:
            case = ET.SubElement(suite, "testcase", classname=f"{c.scenario}.{c.step}",
                                 name=f"{c.check} [{', '.join(c.requirements)}]",
                                 time=f"{c.duration_ms / 1000:.3f}")
            reason = redactor.text(c.reason) or ""
            if c.status is Status.FAIL:
                ET.SubElement(case, "failure", message=reason, type="|".join(c.requirements)).text = reason
            elif c.status is Status.ERROR:
                ET.SubElement(case, "error", message=reason or "the tool could not decide").text = reason
            elif c.status is Status.BLOCKED:
                ET.SubElement(case, "skipped", message=_blocked_message(c, reason))
            elif c.status in (Status.SKIP, Status.OMITTED):
                ET.SubElement(case, "skipped", message=f"{c.status.value}: {reason}")
            props = ET.SubElement(case, "properties")
            for rid in c.requirements:
                ET.SubElement(props, "property", name="requirement", value=rid)
            ET.SubElement(props, "property", name="status", value=c.status.value)
            for rid in c.blocked_by:
                ET.SubElement(props, "property", name="blocked_by", value=rid)
            if c.degraded:
                ET.SubElement(props, "property", name="degraded", value=redactor.text(c.degraded) or "")
            if c.evidence:
                ET.SubElement(props, "property", name="evidence", value=" ".join(c.evidence))
            if c.status is Status.WARNING:
                ET.SubElement(case, "system-out").text = f"WARNING: {reason}"
            if c.status is Status.WAIVED:
                ET.SubElement(case, "system-out").text = f"WAIVED: {reason}"
    if readiness is not None:
        suite = ET.SubElement(suites, "testsuite", name="label-readiness", tests="1",
                              failures="0" if readiness.ready else "1", errors="0", skipped="0")
        case = ET.SubElement(suite, "testcase", classname="label-readiness", name="verdict")
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="verdict", value=readiness.verdict)
        if not readiness.ready:
            lines = [f"{o.requirement.id}: {redactor.text(p.reason) if (p := o.first_problem()) else ''}"
                     for o in readiness.blocking]
            lines += [f"{c.id}: {redactor.text(c.reason) or ''}" for c in readiness.unmapped_blocking]
            lines += [f"not judged {item.id or item.check or item.status} ({item.status}): {redactor.text(item.reason)}"
                      for item in readiness.incomplete]
            if readiness.verdict == NOT_READY:
                message = f"NOT READY: {len(readiness.blocking) + len(readiness.unmapped_blocking)} blocking failure(s)"
            else:
                message = f"INCOMPLETE: {len(readiness.incomplete)} item(s) not judged"
            ET.SubElement(case, "failure", message=message, type=readiness.verdict).text = "\n".join(lines)
    ET.indent(suites)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="utf-8")


_STATUS_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#8250df", "blocked": "#bc4c00",
                   "warning": "#9a6700", "waived": "#0969da", "skip": "#57606a", "omitted": "#57606a", "untested": "#8c959f",
                   "subset": "#9a6700"}
_VERDICT_COLOURS = {"READY": "#1a7f37", "NOT READY": "#cf222e", "INCOMPLETE": "#9a6700"}
_VERDICT_MEANING = {
    "READY": "every MUST requirement in scope was judged and passed",
    "NOT READY": "a MUST requirement failed",
    "INCOMPLETE": "nothing failed, but not every MUST requirement in scope was judged and passed",
}


def _scope_text(scope: dict[str, Any]) -> str:
    parts = [f"role {scope.get('role', '?')}"]
    if scope.get("gegevensdiensten"):
        parts.append("gegevensdiensten " + ", ".join(str(g) for g in scope["gegevensdiensten"]))
    options = scope.get("options") or {}
    names = list(options) if isinstance(options, dict) else list(options)
    if names:
        parts.append("options " + ", ".join(str(n) for n in names))
    if scope.get("has"):
        parts.append("has " + ", ".join(str(h) for h in scope["has"]))
    if scope.get("subset"):
        parts.append("subset run")
    return " · ".join(parts)


def html_report(doc: dict[str, Any], exchanges: dict[str, Any]) -> str:
    """A single offline HTML file: verdict, blocking failures, what was not judged,
    requirements, checks, exchanges."""
    e = html.escape
    rows = []
    for r in doc["requirements"]:
        colour = _STATUS_COLOURS.get(r["status"], "#000")
        status = e(r["status"])
        if r.get("blocked_by"):
            status += f"<br><small>by {e(', '.join(r['blocked_by']))}</small>"
        scope = "yes" if r.get("in_scope", True) else f"<span title='{e(r.get('scope_reason') or '')}'>no</span>"
        rows.append(f"<tr><td>{e(r['id'])}</td><td>{e(r['level'])}{' ⚠' if r['uncertain'] else ''}</td>"
                    f"<td>{scope}</td><td style='color:{colour}'>{status}</td><td>{e(r['title'])}</td></tr>")
    checks = []
    for c in doc["checks"]:
        colour = _STATUS_COLOURS.get(c["status"], "#000")
        links = " ".join(f"<a href='#{e(x)}'>{e(x)}</a>" for x in c["evidence"])
        status = e(c["status"])
        if c.get("blocked_by"):
            status += f"<br><small>by {e(', '.join(c['blocked_by']))}</small>"
        reason = e(c["reason"] or "")
        if c.get("degraded"):
            reason += f"<br><small>degraded: {e(c['degraded'])}</small>"
        checks.append(f"<tr id='{e(c['id'])}'><td>{e(c['scenario'])}<br><small>{e(c['step'])}</small></td>"
                      f"<td>{e(c['check'])}</td><td>{e(', '.join(c['requirements']))}</td>"
                      f"<td style='color:{colour}'>{status}</td><td>{reason}</td><td>{links}</td></tr>")
    xs = []
    for x in exchanges["exchanges"]:
        req, resp = x["request"], x["response"]
        head = "\n".join(f"{k}: {v}" for k, v in req["headers"])
        rhead = "\n".join(f"{k}: {v}" for k, v in (resp or {}).get("headers", []))
        xs.append(
            f"<details id='{e(x['id'])}'><summary>{e(x['id'])} {e(req['method'])} {e(req['url'])} → "
            f"{e(str(resp['status']) if resp else (x['error'] or ''))} ({x['elapsed_ms']} ms)</summary>"
            f"<pre>{e(head)}\n\n{e(req['body'] or '')}</pre><pre>{e(rhead)}\n\n{e((resp or {}).get('body') or '')[:20000]}</pre></details>"
        )
    verdict = doc["verdict"]
    verdict_colour = _VERDICT_COLOURS.get(verdict, "#cf222e")
    blocking = "".join(f"<li><b>{e(str(b.get('requirement') or b.get('check')))}</b>: {e(b['reason'] or '')}</li>"
                       for b in doc["blocking"]) or "<li>none</li>"
    incomplete = "".join(
        f"<li><b>{e(str(i.get('id') or i.get('check') or 'run'))}</b> "
        f"<span style='color:{_STATUS_COLOURS.get(i['status'], '#000')}'>{e(i['status'])}</span>: {e(i['reason'])}</li>"
        for i in doc.get("incomplete", [])) or "<li>none</li>"
    incomplete_title = "Not judged (INCOMPLETE)" if verdict == "INCOMPLETE" else "Not judged"
    degraded = ""
    if doc.get("degraded"):
        degraded = ("<h2>Degraded mode</h2><ul>" + "".join(f"<li>{e(d or '')}</li>" for d in doc["degraded"]) + "</ul>")
    counts = ", ".join(f"{k} {v}" for k, v in doc["counts"].items() if v)
    scope = doc.get("scope") or {}
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>validatiestraat report: {e(str(doc['target'].get('name', '')))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}}
pre{{background:#f6f8fa;padding:8px;white-space:pre-wrap;word-break:break-all;font-size:12px}}</style></head><body>
<h1>validatiestraat <span class="verdict" style="color:{verdict_colour}">{e(verdict)}</span></h1>
<p><i>{e(_VERDICT_MEANING.get(verdict, ''))}</i></p>
<p>Target <b>{e(str(doc['target'].get('name')))}</b> · tool {e(doc['tool']['version'])} · suite {e(doc['suite_version'])}
· {e(doc['started'])} – {e(doc['finished'])}{(' · faults: ' + e(', '.join(doc['faults']))) if doc['faults'] else ''}</p>
<p>Scope: {e(_scope_text(scope))}</p>
<p>Checks: {e(counts)}</p>
<h2>Blocking failures</h2><ul>{blocking}</ul>
<h2>{incomplete_title}</h2><ul>{incomplete}</ul>
{degraded}
<h2>Requirements</h2><table><tr><th>ID</th><th>Level</th><th>In scope</th><th>Status</th><th>Requirement</th></tr>{''.join(rows)}</table>
<h2>Checks</h2><table><tr><th>Scenario / step</th><th>Check</th><th>Requirements</th><th>Status</th><th>Reason</th><th>Evidence</th></tr>{''.join(checks)}</table>
<h2>Exchanges (secrets redacted)</h2>{''.join(xs)}
</body></html>"""


def write_reports(directory: Path, result: RunResult, readiness: Readiness, redactor: Redactor) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    doc = results_document(result, readiness, redactor)
    exchanges = exchanges_document(result, redactor)
    paths = {
        "results": directory / "results.json",
        "junit": directory / "junit.xml",
        "exchanges": directory / "exchanges.json",
        "html": directory / "report.html",
    }
    paths["results"].write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    paths["exchanges"].write_text(json.dumps(exchanges, indent=1, ensure_ascii=False), encoding="utf-8")
    paths["junit"].write_bytes(junit_xml(result, redactor, readiness))
    paths["html"].write_text(html_report(doc, exchanges), encoding="utf-8")
    return paths
