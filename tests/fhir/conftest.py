"""Shared fixtures for the FHIR validation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

# /work/main/tests/fhir/conftest.py -> /work/shared/fhir-packages
SHARED_PACKAGES = Path(__file__).resolve().parents[2].parent / "shared" / "fhir-packages"
STU3_PACKAGE = SHARED_PACKAGES / "nictiz.fhir.nl.stu3.zib2017"
R4_PACKAGE = SHARED_PACKAGES / "nictiz.fhir.nl.r4.zib2020"
PACKAGES = {"stu3": STU3_PACKAGE, "r4": R4_PACKAGE}
EXAMPLE_DIRS = {"stu3": STU3_PACKAGE / "Examples", "r4": R4_PACKAGE / "examples"}


def require_package(version: str) -> Path:
    path = PACKAGES[version]
    if not path.is_dir():
        pytest.skip(
            f"real Nictiz package not found at {path}; these tests need ../shared/fhir-packages "
            "next to the repository (test material only, never copied into the project)"
        )
    return path


@pytest.fixture(scope="session")
def stu3():
    from validatiestraat.fhir import get_validator

    return get_validator("stu3")


@pytest.fixture(scope="session")
def r4():
    from validatiestraat.fhir import get_validator

    return get_validator("r4")
