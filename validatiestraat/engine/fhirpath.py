"""FHIRPath for scenario assertions and captures: compiled once per expression, cached."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any, Callable

from fhirpathpy import compile as _compile
from fhirpathpy.models import models

_lock = threading.Lock()


@lru_cache(maxsize=1024)
def compiled(expression: str, fhir_version: str = "stu3") -> Callable[..., list]:
    with _lock:  # the antlr parser is not re-entrant
        return _compile(expression, models["r4" if fhir_version == "r4" else "stu3"])


def evaluate(resource: Any, expression: str, fhir_version: str = "stu3") -> list:
    return compiled(expression, fhir_version)(resource, {})
