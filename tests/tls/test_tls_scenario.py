"""The example scenario (for scenarios/tls/) loads, lints and runs through the engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tls_helpers import TEST_ISSUER

from validatiestraat.report.model import Status
from validatiestraat.scenario.loader import load_scenarios
from validatiestraat.target import target_from_dict
from validatiestraat.tls.faults import TLS_FAULTS, server_context

EXAMPLE = Path(__file__).parent / "data" / "tls-endpoints.yaml"


def _target(pki, front: int, back: int):
    return target_from_dict({
        "aanbieder": "test",
        "endpoints": {"authorization": f"https://localhost:{front}/oauth/authorize",
                      "token": f"https://localhost:{back}/oauth/token",
                      "resource": f"https://localhost:{back}/fhir"},
        "client": {"client_id": "pgo.test", "redirect_uri": "https://pgo.test/cb",
                   "certificate": str(pki.client.cert_path), "key": str(pki.client.key_path)},
        "trust": [str(pki.ca_path)],
        "options": {"tls_issuing_cas": [TEST_ISSUER], "tls_frontchannel_trust": "target"},
    }, pki.directory)


def _run(pki, hub, faults):
    from validatiestraat.engine.runner import Runner

    front = hub.serve(server_context(pki, faults, client_auth="none"))
    back = hub.serve(server_context(pki, faults))
    scenarios = load_scenarios([EXAMPLE])
    return asyncio.run(Runner(_target(pki, front, back), scenarios).run())


def test_example_scenario_passes_on_a_good_dva(pki, hub):
    result = _run(pki, hub, [])
    statuses = {c.id: c.status for c in result.checks}
    assert len(statuses) == 27
    assert {s for s in statuses.values()} == {Status.PASS, Status.OMITTED}
    covered = {r for c in result.checks for r in c.requirements}
    assert {"TLS-VER-01", "TLS-VER-02", "TLS-VER-03", "TLS-VER-04", "TLS-CIPH-01", "TLS-CIPH-02", "TLS-CERT-01",
            "TLS-CERT-02", "TLS-CERT-03", "TLS-MTLS-01", "TLS-HDR-01", "AS-TLS-01", "AS-TOKEN-01",
            "RS-TLS-01"} <= covered


@pytest.mark.parametrize("fault", sorted(TLS_FAULTS))
def test_example_scenario_fails_with_the_ids_the_fault_breaks(pki, hub, fault):
    result = _run(pki, hub, [fault])
    # TLS-VER-02 is a SHOULD: its failure is reported as a warning
    bad = {r for c in result.checks if c.status in (Status.FAIL, Status.WARNING) for r in c.requirements}
    assert bad == set(TLS_FAULTS[fault].breaks), [c.reason for c in result.checks if c.status is not Status.PASS]
    assert not [c for c in result.checks if c.status is Status.ERROR]
