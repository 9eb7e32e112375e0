"""The reference DVA's own lists: they validate (loopback hosts accepted) and a ZAL-based
lookup finds exactly the endpoints the reference DVA serves."""

from __future__ import annotations

import pytest

from validatiestraat.lists.build import reference_lists
from validatiestraat.lists.checks import CheckOptions, check_lists, load_document
from validatiestraat.lists.resolve import Whitelist, resolve_endpoints


@pytest.fixture(scope="module")
def dva(tmp_path_factory):
    server = pytest.importorskip("validatiestraat.reference.server")
    instance = server.ReferenceDVA(tmp_path_factory.mktemp("refdva"))
    instance.start()
    yield instance
    instance.stop()


def test_reference_lists_clean_and_resolvable(dva) -> None:
    lists = reference_lists(dva)
    docs = [load_document(data, kind) for kind, data in lists.items()]
    report = check_lists(docs, options=CheckOptions(allow_loopback=True))
    assert report.findings == [], [str(f) for f in report.findings]
    target = dva.target_dict()
    got = resolve_endpoints(lists["zal"], target["aanbieder"], "48")
    assert {k: got[k] for k in ("authorization", "token", "resource")} == target["endpoints"]
    wl = Whitelist.from_bytes(lists["whitelist"])
    assert all(wl.allows(u) for u in target["endpoints"].values())
    assert wl.allows(target["client"]["client_id"])


def test_reference_list_faults(dva) -> None:
    target = dva.target_dict()
    lists = reference_lists(dva, missing_from_whitelist=True)
    assert not Whitelist.from_bytes(lists["whitelist"]).allows(target["endpoints"]["resource"])
    lists = reference_lists(dva, break_schema=True)
    report = check_lists([load_document(lists["zal"], "zal")], options=CheckOptions(allow_loopback=True))
    assert [f.requirement for f in report.errors] == ["LIST-XSD-01"]
    first, later = reference_lists(dva), reference_lists(dva, decreasing_volgnummer=True)
    report = check_lists([load_document(later["whitelist"], "later")], [load_document(first["whitelist"], "first")],
                         CheckOptions(allow_loopback=True))
    assert [f.requirement for f in report.errors] == ["LIST-SEM-01"]
