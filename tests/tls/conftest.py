from __future__ import annotations

from pathlib import Path

import pytest

from validatiestraat.reference.pki import TestPKI
from validatiestraat.tls.loopback import LoopbackHub


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI.generate(Path(tmp_path_factory.mktemp("tls-pki")))


@pytest.fixture(scope="session")
def hub():
    with LoopbackHub() as h:
        yield h
