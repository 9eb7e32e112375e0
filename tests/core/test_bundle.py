"""Result bundles: intact bundles verify; any altered, removed or added member, and a bundle
re-signed with another key, are detected and named (issue 12's bundle and verify)."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from validatiestraat.cli import main
from validatiestraat.reference.pki import issue, make_ca
from validatiestraat.report.bundle import MANIFEST, SIGNATURE, Signer, load_signer, verify_bundle, write_bundle

MEMBERS = {"reports/results.json": b'{"verdict": "READY"}', "reports/junit.xml": b"<testsuites/>",
           "inputs/scenarios/dva/a.yaml": b"id: a\n", "target.json": b"{}"}
META = {"verdict": "READY", "scope": {"role": "dva"}}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VALIDATIESTRAAT_HOME", str(tmp_path / "home"))


def verify(path: Path, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["verify", str(path), *extra])
    return code, out.getvalue()


def rewrite(src: Path, dst: Path, change) -> Path:
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members = change(members)
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def test_an_intact_self_signed_bundle_verifies(tmp_path):
    path = write_bundle(tmp_path / "b.vsb", MEMBERS, META, load_signer())
    code, out = verify(path)
    assert code == 0 and "intact" in out and "self-signed" in out and "READY" in out
    # the installation key is kept: a second bundle is signed with the same key
    again = write_bundle(tmp_path / "c.vsb", MEMBERS, META, load_signer())
    assert verify_bundle(again).signer == verify_bundle(path).signer


def test_every_member_flipped_is_detected_and_named(tmp_path):
    path = write_bundle(tmp_path / "b.vsb", MEMBERS, META, load_signer())
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    for i, name in enumerate(names):
        def flip(members, name=name):
            data = bytearray(members[name])
            data[len(data) // 2] ^= 0x01
            return {**members, name: bytes(data)}

        bad = rewrite(path, tmp_path / f"flip{i}.vsb", flip)
        code, out = verify(bad)
        assert code in (3, 4), (name, out)
        if code == 3:
            named = name if name not in (MANIFEST,) else SIGNATURE
            assert named in out or MANIFEST in out, (name, out)


def test_a_removed_or_added_member_is_detected(tmp_path):
    path = write_bundle(tmp_path / "b.vsb", MEMBERS, META, load_signer())
    removed = rewrite(path, tmp_path / "r.vsb", lambda m: {k: v for k, v in m.items() if k != "reports/junit.xml"})
    code, out = verify(removed)
    assert code == 3 and "reports/junit.xml: removed" in out
    added = rewrite(path, tmp_path / "a.vsb", lambda m: {**m, "reports/extra.txt": b"x"})
    code, out = verify(added)
    assert code == 3 and "reports/extra.txt: added" in out


def _certificate_signer(tmp_path: Path, name: str) -> tuple[Signer, Path]:
    ca = make_ca(f"{name} CA").write(tmp_path / name, "ca")
    leaf = issue(ca, f"{name} reviewer", server=False, client=True).write(tmp_path / name, "leaf")
    return load_signer(leaf.key_path, leaf.cert_path), ca.cert_path


def test_re_signing_with_another_key_is_detected(tmp_path):
    signer, ca = _certificate_signer(tmp_path, "zorgaanbieder")
    path = write_bundle(tmp_path / "b.vsb", MEMBERS, META, signer)
    code, out = verify(path, "--trust", str(ca))
    assert code == 0 and "zorgaanbieder reviewer" in out
    # someone changes the verdict and signs again, with a certificate of another CA or their own key
    forged_members = {**MEMBERS, "reports/results.json": b'{"verdict": "READY", "forged": true}'}
    other, _ = _certificate_signer(tmp_path, "someone-else")
    for forger in (other, load_signer()):
        forged = write_bundle(tmp_path / "forged.vsb", forged_members, META, forger)
        code, out = verify(forged, "--trust", str(ca))
        assert code == 3 and SIGNATURE in out, out
    # a self-signed bundle pinned by its public key
    self_signed = write_bundle(tmp_path / "s.vsb", MEMBERS, META, load_signer())
    key = tmp_path / "key.pem"
    key.write_text(load_signer().public_pem())
    assert verify(self_signed, "--trust", str(key))[0] == 0
    assert verify(write_bundle(tmp_path / "o.vsb", MEMBERS, META, other), "--trust", str(key))[0] == 3


def test_a_file_that_is_no_bundle_is_exit_4(tmp_path):
    junk = tmp_path / "junk.vsb"
    junk.write_bytes(b"not a zip")
    assert verify(junk)[0] == 4
    plain = tmp_path / "plain.vsb"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("results.json", "{}")
    assert verify(plain)[0] == 4


def test_verify_json(tmp_path):
    path = write_bundle(tmp_path / "b.vsb", MEMBERS, META, load_signer())
    code, out = verify(path, "--json")
    data = json.loads(out)
    assert code == 0 and data["intact"] and data["verdict"] == "READY" and data["members"] == len(MEMBERS) + 1
