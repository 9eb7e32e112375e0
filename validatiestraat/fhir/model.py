"""Validation results: :class:`Issue` and :class:`ValidationResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
INFORMATION = "information"

_SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFORMATION: 2}

# Issue.code -> OperationOutcome.issue.code (http://hl7.org/fhir/issue-type)
_OO_CODE = {
    "structure": "structure",
    "unknown-element": "structure",
    "json-type": "structure",
    "array": "structure",
    "empty": "structure",
    "null": "structure",
    "invalid-value": "value",
    "required": "required",
    "cardinality": "structure",
    "choice": "structure",
    "fixed": "value",
    "pattern": "value",
    "code-invalid": "code-invalid",
    "binding": "code-invalid",
    "not-checked": "informational",
    "invariant": "invariant",
    "slice": "structure",
    "type": "structure",
    "reference": "structure",
    "profile-not-found": "not-found",
    "resource-type": "structure",
    "parse": "structure",
    "processing": "processing",
}


@dataclass(slots=True)
class Issue:
    """One finding. ``path`` is FHIRPath-like: ``Bundle.entry[3].resource.identifier[0].system``."""

    severity: str  # "error" | "warning" | "information"
    path: str
    message: str
    profile: str | None = None  # canonical URL of the profile the rule comes from (None: base FHIR)
    source: str | None = None  # element id (e.g. "Patient.identifier:BSN.system") or constraint key
    code: str = "structure"  # short machine code, see _OO_CODE

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
            "profile": self.profile,
            "source": self.source,
            "code": self.code,
        }

    def __str__(self) -> str:
        where = f" [{self.source}]" if self.source else ""
        return f"{self.severity}: {self.path}: {self.message}{where}"


@dataclass
class ValidationResult:
    """Everything found while validating one resource (or Bundle)."""

    issues: list[Issue] = field(default_factory=list)
    profiles_used: list[dict[str, Any]] = field(default_factory=list)  # {url, version, source}
    fhir_version: str = ""
    resource_type: str | None = None

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not any(i.severity == ERROR for i in self.issues)

    def sorted_issues(self) -> list[Issue]:
        return sorted(self.issues, key=lambda i: (_SEVERITY_RANK.get(i.severity, 9), i.path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "fhirVersion": self.fhir_version,
            "resourceType": self.resource_type,
            "counts": {
                ERROR: sum(1 for i in self.issues if i.severity == ERROR),
                WARNING: sum(1 for i in self.issues if i.severity == WARNING),
                INFORMATION: sum(1 for i in self.issues if i.severity == INFORMATION),
            },
            "profilesUsed": list(self.profiles_used),
            "issues": [i.to_dict() for i in self.issues],
        }

    def to_operation_outcome(self) -> dict[str, Any]:
        """The issues as a FHIR OperationOutcome (``expression`` exists in STU3 and R4)."""
        issues = []
        for i in self.issues:
            entry: dict[str, Any] = {
                "severity": i.severity,
                "code": _OO_CODE.get(i.code, "processing"),
                "diagnostics": i.message,
                "expression": [i.path],
            }
            if i.profile or i.source:
                entry["details"] = {
                    "text": " ".join(x for x in (i.profile and f"profile {i.profile}", i.source and f"({i.source})") if x)
                }
            issues.append(entry)
        if not issues:
            issues.append({"severity": "information", "code": "informational", "diagnostics": "No issues found"})
        return {"resourceType": "OperationOutcome", "issue": issues}
