"""Fault profiles: expansion, the command line, and every profile on a real server.

A profile switches several faults on at once; the servers must handle each combination without
a crash or hang, and every fault of a profile must still show its behaviour (the probes of
test_faults.py), except where the profile's description says that one fault masks another.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from validatiestraat.errors import UserError
from validatiestraat.reference.faults import (
    FAULTS,
    PROFILES,
    SLOW_SECONDS_ENV,
    IncompatibleFaults,
    UnknownFault,
    check_faults,
    describe_profile,
    expand,
)

from .conftest import PATIENT
from .test_command import run_cli
from .test_faults import PROBES, run_probe

#: faults whose behaviour another fault of the same profile hides (said in the profile's description)
MASKED: dict[str, set[str]] = {
    "resource": {"no-www-authenticate", "invalid-token-no-error"},
}


# ---------------------------------------------------------------------- expand
def test_expand_splits_commas_dedupes_and_sorts():
    assert expand(["no-include,code-reusable", " no-include "], []) == ["code-reusable", "no-include"]
    assert expand([], ["lists"]) == sorted(PROFILES["lists"].faults)
    assert expand(["code-reusable"], ["lists,token"]) == sorted(
        {"code-reusable", *PROFILES["lists"].faults, *PROFILES["token"].faults})
    assert expand([], []) == []


def test_expand_refuses_unknown_names_with_the_known_ones():
    with pytest.raises(UnknownFault) as info:
        expand(["code-reusable,nope"], [])
    assert info.value.exit_code == 4 and "nope" in str(info.value) and "state-not-echoed" in str(info.value)
    with pytest.raises(UnknownFault) as info:
        expand([], ["realistic-broken-dva-1,no-such-profile"])
    assert info.value.exit_code == 4 and "no-such-profile" in str(info.value)
    assert all(name in str(info.value) for name in PROFILES)


def test_faults_that_cannot_share_a_server_are_refused():
    with pytest.raises(IncompatibleFaults) as info:
        expand(["tls-expired-certificate,tls-weak-key"], [])
    assert isinstance(info.value, UserError) and info.value.exit_code == 4
    assert "tls-expired-certificate" in str(info.value) and "tls-weak-key" in str(info.value)
    with pytest.raises(IncompatibleFaults):
        check_faults(["tls-no-tls13", "tls-only-tls13"])


# ---------------------------------------------------------------------- the table of profiles
def test_one_profile_per_component_with_all_its_faults():
    for component in ("authorize", "token", "resource", "lists"):
        everything = {n for n, f in FAULTS.items() if f.component == component}
        if component == "authorize":  # it hides the endpoint from a browser: said in the description
            everything.discard("frontchannel-client-cert-required")
            assert "frontchannel-client-cert-required" in PROFILES[component].description
        assert set(PROFILES[component].faults) == everything, component
    tls = set(PROFILES["tls"].faults)
    assert tls <= {n for n, f in FAULTS.items() if f.component == "tls"}
    check_faults(tls)  # can share one server
    for left_out in {n for n, f in FAULTS.items() if f.component == "tls"} - tls:
        # adding any other TLS fault conflicts, or it is a certificate fault mentioned as left out
        assert left_out in PROFILES["tls"].description or "certificate" in left_out, left_out
    assert len(tls) >= 5


def test_realistic_profiles():
    for name in ("realistic-broken-dva-1", "realistic-broken-dva-2"):
        faults = PROFILES[name].faults
        assert len(faults) >= 12, name
        assert {FAULTS[f].component for f in faults} >= {"authorize", "token", "resource"}, name
    assert {"token-endpoint-json-only", "resource-no-token-check"} <= set(PROFILES["realistic-broken-dva-1"].faults)


def test_every_profile_is_valid_and_described():
    for profile in PROFILES.values():
        assert check_faults(profile.faults) == frozenset(profile.faults)
        assert list(profile.faults) == sorted(set(profile.faults))
        assert describe_profile(profile) == {"name": profile.name, "description": profile.description,
                                             "faults": list(profile.faults)}
        for masked in MASKED.get(profile.name, ()):
            assert masked in profile.description
            # whatever a masked fault breaks, another fault of the profile breaks too
            others = {r for f in profile.faults if f not in MASKED[profile.name] for r in FAULTS[f].breaks}
            assert set(FAULTS[masked].breaks) <= others, masked


# ---------------------------------------------------------------------- command line
def test_faults_json_has_faults_and_profiles():
    code, out, _ = run_cli("faults", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"faults", "profiles"}
    assert {r["name"] for r in data["faults"]} == set(FAULTS)
    assert data["profiles"] == [describe_profile(p) for p in PROFILES.values()]


def test_faults_text_lists_profiles_after_the_faults():
    code, out, _ = run_cli("faults")
    assert code == 0
    last_fault = max(out.index(name) for name in FAULTS)
    heading = out.index("profiles (--fault-profile NAME):")
    assert heading > last_fault
    for name, profile in PROFILES.items():
        assert name in out[heading:]
        for fault in profile.faults:
            assert fault in out[heading:]


def test_serve_unknown_profile_is_exit_4():
    code, _, err = run_cli("serve", "--fault-profile", "no-such-profile")
    assert code == 4 and "no-such-profile" in err and "realistic-broken-dva-1" in err


def test_serve_with_comma_faults_a_profile_and_lenient(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "validatiestraat", "serve", "--workdir", str(tmp_path / "dva"), "--json",
         "--fault", "no-include,code-reusable", "--fault-profile", "lists", "--lenient"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        info = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert info["faults"] == sorted({"no-include", "code-reusable", *PROFILES["lists"].faults})
        assert info["strict"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0


# ---------------------------------------------------------------------- every profile on a server
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_serves_a_query_and_an_authorization_request(make_pgo, name, monkeypatch):
    monkeypatch.setenv(SLOW_SECONDS_ENV, "0.15")
    p = make_pgo(*PROFILES[name].faults)
    assert p.dva.faults == frozenset(PROFILES[name].faults)
    r = p.authorize()
    assert r.status_code == 200, r.text[:300]
    r = p.get(PATIENT, p.target["resource"]["access_token"])
    assert r.status_code == 200 and r.json()["resourceType"] == "Bundle"
    # and a whole login with token exchange and a query
    tokens = p.tokens()
    assert p.get("/Condition", tokens["access_token"]).status_code == 200
    assert not [e for e in p.dva.events if e.get("event") == "error"]


@pytest.mark.parametrize("name", sorted(n for n, p in PROFILES.items()
                                        if any(f in PROBES for f in p.faults)))
def test_every_fault_of_a_profile_still_shows(make_pgo, name, monkeypatch):
    monkeypatch.setenv(SLOW_SECONDS_ENV, "0.15")
    p = make_pgo(*PROFILES[name].faults)
    hidden = MASKED.get(name, set())
    missing = [f for f in PROFILES[name].faults if f in PROBES and f not in hidden and run_probe(f, p) is not True]
    assert not missing, f"{name}: not observed: {missing}"
    for f in hidden:  # the masking is real, or the profile's description is out of date
        assert run_probe(f, p) is not True, f
    # only the long-state-crash fault may have made the server answer 500
    errors = [e for e in p.dva.events if e.get("event") == "error"]
    assert all("long-state-crash" in e.get("error", "") for e in errors), errors


def test_tls_profile_faults_all_show_on_one_server(make_pgo):
    """The TLS scanner sees every fault of the tls profile on one reference DVA."""
    import asyncio

    from validatiestraat.tls.policy import TlsPolicy
    from validatiestraat.tls.scan import scan_endpoint

    p = make_pgo(*PROFILES["tls"].faults)
    pki = p.dva.pki
    found: dict[str, str] = {}
    for channel, url in (("backchannel", p.token_url), ("frontchannel", p.authorization)):
        policy = TlsPolicy(channel=channel, trust=[pki.ca_path], issuing_cas=["validatiestraat Test Root CA"],
                           client_cert=pki.client.cert_path, client_key=pki.client.key_path,
                           untrusted_cert=pki.untrusted_client.cert_path, untrusted_key=pki.untrusted_client.key_path,
                           timeout=2.0, total_timeout=20.0)
        report = asyncio.run(scan_endpoint(url, policy))
        for f in report.findings:
            if f.status.value in ("fail", "warning"):
                found[f.code] = found.get(f.code, "") + " | " + f.message
    assert "version.tlsv10_accepted" in found  # tls-allow-tls10
    assert "version.tls13_missing" in found  # tls-no-tls13
    assert "TLS 1.2 accepts" in found["ciphers.below_level"] and "AES_128_CBC_SHA" in found["ciphers.below_level"]
    assert "ciphers.no_forward_secrecy" in found  # tls-no-forward-secrecy
    assert "mtls.no_cert_accepted" in found  # tls-no-client-auth
    assert "cert.wildcard" in found  # tls-wildcard-certificate
