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

from validatiestraat.report.model import RunResult, Status
from validatiestraat.report.readiness import Readiness
from validatiestraat.report.redact import Redactor

RESULTS_SCHEMA_ID = "https://validatiestraat.invalid/schemas/results-1.json"


def results_document(result: RunResult, readiness: Readiness, redactor: Redactor) -> dict[str, Any]:
    checks = []
    for c in result.checks:
        d = c.to_dict()
        d["reason"] = redactor.text(d["reason"])
        d["details"] = redactor.json(d["details"])
        checks.append(d)
    requirements = []
    for rid, outcome in readiness.requirements.items():
        requirements.append({
            "id": rid,
            "title": outcome.requirement.title,
            "area": outcome.requirement.area,
            "level": outcome.requirement.level,
            "uncertain": outcome.requirement.uncertain,
            "status": outcome.status.value if outcome.status else "untested",
            "blocking": outcome.blocking,
            "checks": [c.id for c in outcome.checks],
        })
    return {
        "$schema": RESULTS_SCHEMA_ID,
        "tool": {"name": "validatiestraat", "version": result.tool_version},
        "suite_version": result.suite_version,
        "target": redactor.json(result.target),
        "faults": result.faults,
        "started": result.started,
        "finished": result.finished,
        "verdict": readiness.verdict,
        "ready": readiness.ready,
        "counts": readiness.counts,
        "blocking": [
            {"requirement": o.requirement.id, "reason": redactor.text(p.reason) if (p := o.first_problem()) else ""}
            for o in readiness.blocking
        ] + [{"requirement": None, "check": c.id, "reason": redactor.text(c.reason)} for c in readiness.unmapped_blocking],
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


def junit_xml(result: RunResult, redactor: Redactor) -> bytes:
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
            skipped=str(sum(c.status in (Status.SKIP, Status.OMITTED) for c in checks)),
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
                ET.SubElement(case, "error", message=reason).text = reason
            elif c.status in (Status.SKIP, Status.OMITTED):
                ET.SubElement(case, "skipped", message=f"{c.status.value}: {reason}")
            props = ET.SubElement(case, "properties")
            for rid in c.requirements:
                ET.SubElement(props, "property", name="requirement", value=rid)
            ET.SubElement(props, "property", name="status", value=c.status.value)
            if c.evidence:
                ET.SubElement(props, "property", name="evidence", value=" ".join(c.evidence))
            if c.status is Status.WARNING:
                ET.SubElement(case, "system-out").text = f"WARNING: {reason}"
    ET.indent(suites)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="utf-8")


_STATUS_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#8250df", "warning": "#9a6700",
                   "skip": "#57606a", "omitted": "#57606a", "untested": "#8c959f"}


def html_report(doc: dict[str, Any], exchanges: dict[str, Any]) -> str:
    """A single offline HTML file: verdict, blocking failures, requirements, checks, exchanges."""
    e = html.escape
    rows = []
    for r in doc["requirements"]:
        colour = _STATUS_COLOURS.get(r["status"], "#000")
        rows.append(f"<tr><td>{e(r['id'])}</td><td>{e(r['level'])}{' ⚠' if r['uncertain'] else ''}</td>"
                    f"<td style='color:{colour}'>{e(r['status'])}</td><td>{e(r['title'])}</td></tr>")
    checks = []
    for c in doc["checks"]:
        colour = _STATUS_COLOURS.get(c["status"], "#000")
        links = " ".join(f"<a href='#{e(x)}'>{e(x)}</a>" for x in c["evidence"])
        checks.append(f"<tr id='{e(c['id'])}'><td>{e(c['scenario'])}<br><small>{e(c['step'])}</small></td>"
                      f"<td>{e(c['check'])}</td><td>{e(', '.join(c['requirements']))}</td>"
                      f"<td style='color:{colour}'>{e(c['status'])}</td><td>{e(c['reason'])}</td><td>{links}</td></tr>")
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
    verdict_colour = "#1a7f37" if doc["ready"] else "#cf222e"
    blocking = "".join(f"<li><b>{e(str(b.get('requirement') or b.get('check')))}</b>: {e(b['reason'])}</li>"
                       for b in doc["blocking"]) or "<li>none</li>"
    counts = ", ".join(f"{k} {v}" for k, v in doc["counts"].items() if v)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>validatiestraat report: {e(doc['target'].get('name', ''))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}}
pre{{background:#f6f8fa;padding:8px;white-space:pre-wrap;word-break:break-all;font-size:12px}}</style></head><body>
<h1>validatiestraat <span style="color:{verdict_colour}">{e(doc['verdict'])}</span></h1>
<p>Target <b>{e(str(doc['target'].get('name')))}</b> · tool {e(doc['tool']['version'])} · suite {e(doc['suite_version'])}
· {e(doc['started'])} – {e(doc['finished'])}{(' · faults: ' + e(', '.join(doc['faults']))) if doc['faults'] else ''}</p>
<p>Checks: {e(counts)}</p>
<h2>Blocking failures</h2><ul>{blocking}</ul>
<h2>Requirements</h2><table><tr><th>ID</th><th>Level</th><th>Status</th><th>Requirement</th></tr>{''.join(rows)}</table>
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
    paths["junit"].write_bytes(junit_xml(result, redactor))
    paths["html"].write_text(html_report(doc, exchanges), encoding="utf-8")
    return paths
