"""End to end: `validatiestraat run --role pgo` over real HTTPS and mTLS on 127.0.0.1.

The harness plays the DVA and the stelselnode; the embedded reference PGO is driven through the
same `pgo:` target interface a real PGO server gets (a start request, the browser following the
redirects back to the PGO, the done prefix, the fetch/refresh/lists triggers).
"""

from __future__ import annotations

import socket
import time

import pytest
import yaml

from validatiestraat.lists.build import LIST_PATHS
from validatiestraat.pgo.faults import PGO_FAULTS
from validatiestraat.pgo.reference import ReferencePGO
from validatiestraat.reference.pki import TestPKI

from .conftest import run_cli

pytestmark = pytest.mark.e2e


def pgo_status(results: dict) -> dict[str, str]:
    return {r["id"]: r["status"] for r in results["requirements"] if r["id"].startswith("PGO-")}


def test_the_reference_pgo_is_ready(run_json):
    t0 = time.perf_counter()
    code, results, report = run_json("--role", "pgo")
    assert (code, results["verdict"]) == (0, "READY"), results.get("incomplete") or results.get("blocking")
    status = pgo_status(results)
    manual = {"PGO-SEC-01", "PGO-CONS-01"}
    assert {rid for rid, st in status.items() if st != "pass"} == manual
    assert all(status[rid] == "omitted" for rid in manual)
    assert results["counts"]["fail"] == results["counts"]["error"] == results["counts"]["blocked"] == 0
    # every request the PGO made is evidence in the reports, with its secrets redacted
    exchanges = (report / "exchanges.json").read_text()
    assert "/oauth/token" in exchanges and "REDACTED" in exchanges
    assert time.perf_counter() - t0 < 120  # generous: the bench measures it


@pytest.mark.parametrize("fault", sorted(PGO_FAULTS))
def test_each_pgo_fault_fails_exactly_its_requirements(run_json, fault):
    spec = PGO_FAULTS[fault]
    code, results, _ = run_json("--role", "pgo", "--fault", fault)
    status = pgo_status(results)
    broken = {rid for rid, st in status.items() if st in ("fail", "warning")}
    unjudged = {rid for rid, st in status.items() if st in ("blocked", "error")}
    assert broken == set(spec.breaks), f"{fault}: broken {sorted(broken)}, expected exactly {sorted(spec.breaks)}"
    assert unjudged <= set(spec.blocks), f"{fault}: not judged although judgeable: {sorted(unjudged - set(spec.blocks))}"
    blocking = any(status[rid] == "fail" for rid in spec.breaks)
    assert code == (3 if blocking else 0)
    assert results["faults"] == [fault]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_pgo_server_driven_through_a_target_file(tmp_path):
    """The way a vendor runs it: a PGO server configured once against the harness (fixed ports,
    a CA kept in the harness's workdir), and a target file that says how to make it act."""
    workdir = tmp_path / "harness"
    pki = TestPKI.generate(workdir, client_id="localhost")  # what `serve --role pgo --workdir` leaves behind
    front, back = _free_port(), _free_port()
    lists = {kind: f"https://localhost:{front}{path}?api=2" for kind, path in LIST_PATHS.items()}
    with ReferencePGO(tmp_path / "pgo", lists, trust=pki.ca_path, client_certificate=pki.client.cert_path,
                      client_key=pki.client.key_path, client_id="localhost") as pgo:
        target = pgo.target_dict()
        target["harness"] = {"workdir": str(workdir), "front_port": front, "back_port": back}
        target["not_applicable"] = {"PGO-RES-04": "a pass-through backend: the app chooses the searches"}
        path = tmp_path / "pgo-target.yaml"
        path.write_text(yaml.safe_dump(target))
        import json

        code, out = run_cli("run", "--role", "pgo", "--target", str(path), "--json")
    results = json.loads(out)
    assert (code, results["verdict"]) == (0, "READY"), results.get("incomplete") or results.get("blocking")
    res04 = next(r for r in results["requirements"] if r["id"] == "PGO-RES-04")
    assert res04["status"] == "omitted" and not res04["in_scope"]
    checks = [c for c in results["checks"] if "PGO-RES-04" in c["requirements"]]
    assert checks and all(c["status"] == "omitted" and "pass-through backend" in c["reason"] for c in checks)
    assert pgo_status(results)["PGO-TOKEN-01"] == "pass"  # mTLS with the certificate from the kept PKI


def test_a_pgo_target_that_cannot_start_a_flow_is_a_configuration_error(tmp_path):
    target = {"role": "pgo", "pgo": {"client_id": "localhost", "redirect_uri": "https://localhost:9/callback",
                                     "done": "https://localhost:9/done", "timeout": 2,
                                     "start": {"url": "https://localhost:9/start"}}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(target))
    code, out = run_cli("run", "--role", "pgo", "--target", str(path), "--json", "-k", "pgo-authorization-flow")
    import json

    results = json.loads(out)
    assert results["counts"]["fail"] == 0  # a PGO that cannot be reached is not judged as failing
    assert code == 4  # the tester's mistake: a configuration error


def test_a_command_hook_starts_the_flow(tmp_path):
    """Some PGOs receive DVA endpoints as signed tokens, not from the ZAL: a command hook gets the
    harness's endpoints in VS_* variables and prints the authorization URL."""
    import json
    import sys

    workdir = tmp_path / "harness"
    pki = TestPKI.generate(workdir, client_id="localhost")
    front, back = _free_port(), _free_port()
    lists = {kind: f"https://localhost:{front}{path}?api=2" for kind, path in LIST_PATHS.items()}
    with ReferencePGO(tmp_path / "pgo", lists, trust=pki.ca_path, client_certificate=pki.client.cert_path,
                      client_key=pki.client.key_path, client_id="localhost") as pgo:
        hook = tmp_path / "start-flow.py"
        hook.write_text(
            "import os, ssl, http.client, urllib.parse\n"
            f"ctx = ssl.create_default_context(cafile={str(pgo.ca_path)!r})\n"
            f"conn = http.client.HTTPSConnection('localhost', {pgo.port}, context=ctx, timeout=10)\n"
            "query = urllib.parse.urlencode({'aanbieder': os.environ['VS_AANBIEDER'],\n"
            "                                'gegevensdienst': os.environ['VS_GEGEVENSDIENST']})\n"
            "conn.request('GET', '/start?' + query)\n"
            "print('resolved by the PGO from', os.environ['VS_ZAL'])\n"
            "print(conn.getresponse().getheader('Location'))\n")
        target = pgo.target_dict()
        del target["pgo"]["start"]
        target["pgo"]["command"] = [sys.executable, str(hook)]
        target["harness"] = {"workdir": str(workdir), "front_port": front, "back_port": back}
        path = tmp_path / "pgo-target.yaml"
        path.write_text(yaml.safe_dump(target))
        code, out = run_cli("run", "--role", "pgo", "--target", str(path), "--json", "-k", "pgo-authorization-flow")
    results = json.loads(out)
    assert results["counts"]["fail"] == results["counts"]["error"] == results["counts"]["blocked"] == 0
    assert (code, results["verdict"]) == (3, "INCOMPLETE")  # a subset run
    assert pgo_status(results)["PGO-RES-04"] == "pass"
