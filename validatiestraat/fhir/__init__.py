"""FHIR validation without Java: base structure, profiles, terminology, XML <-> JSON.

Library API (used by the ``validate`` command and by the engine's ``expect: profile``)::

    from validatiestraat.fhir import get_validator, Issue, ValidationResult

    v = get_validator("stu3", packages=())        # cached per (version, packages)
    res = v.validate(resource_dict, profiles=())  # meta.profile + extra profiles
    res.ok, res.errors, res.issues, res.profiles_used, res.to_operation_outcome()

    from validatiestraat.fhir.xml import xml_to_json, json_to_xml
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Sequence

from validatiestraat.fhir.model import ERROR, INFORMATION, WARNING, Issue, ValidationResult

if TYPE_CHECKING:  # pragma: no cover
    from validatiestraat.fhir.validator import Validator

__all__ = ["get_validator", "Issue", "ValidationResult", "ERROR", "WARNING", "INFORMATION"]

_VALIDATORS: dict[tuple[str, tuple[str, ...]], "Validator"] = {}
_LOCK = threading.Lock()


def get_validator(fhir_version: str = "stu3", packages: Sequence[str] = ()) -> "Validator":
    """A validator for ``fhir_version`` ("stu3" or "r4"), with extra conformance packages.

    ``packages`` are directories, files or FHIR npm tarballs; they take precedence over the
    bundled profiles. Validators are cached, so repeated calls are cheap and compiled profile
    plans are reused.
    """
    from validatiestraat.fhir.base import normalize_version
    from validatiestraat.fhir.validator import Validator

    version = normalize_version(fhir_version)
    key = (version, tuple(str(p) for p in packages))
    v = _VALIDATORS.get(key)
    if v is None:
        with _LOCK:
            v = _VALIDATORS.get(key)
            if v is None:
                v = Validator(version, key[1])
                _VALIDATORS[key] = v
    return v
