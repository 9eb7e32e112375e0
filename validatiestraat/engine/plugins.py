"""The two plug-in interfaces of the engine: step kinds and checks.

A *step kind* (``http``, ``oauth.authorize``, ``fhir.search``, ``tls.probe`` ...) performs an
action and returns a :class:`StepOutcome`: a *subject* that checks look at, the exchanges it
recorded and the values it offers for ``capture:``.

A *check* (``status``, ``header``, ``oauth.state_echoed``, ``fhir.searchset`` ...) looks at the
subject of a step and returns a :class:`Verdict`. Checks name the requirement IDs they verify;
a scenario may add or narrow them per use.

Both register themselves with a decorator at import time; the engine knows nothing about any
concrete kind. To add a check, write a class in the package of its concern (``oauth/``, ``rs/``,
``tls/``, ``lists/``, ``fhir/``) and decorate it with :func:`register_check`. Then add the module
to :data:`PLUGIN_MODULES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from validatiestraat.report.model import Status

if TYPE_CHECKING:  # pragma: no cover
    from validatiestraat.engine.context import FlowContext

# Modules whose import registers step kinds and checks.
PLUGIN_MODULES: list[str] = [
    "validatiestraat.engine.steps_http",
    "validatiestraat.engine.checks_http",
    "validatiestraat.oauth.steps",
    "validatiestraat.oauth.sample",
    "validatiestraat.oauth.checks",
    "validatiestraat.rs.checks",
    "validatiestraat.rs.resolve",
    "validatiestraat.rs.probe",
    "validatiestraat.lists.plugin",
    "validatiestraat.tls.checks",
    "validatiestraat.pgo.steps",
    "validatiestraat.pgo.checks",
]


class StepError(Exception):
    """A step could not be carried out (the tool's problem or the server's garbage)."""


class PreconditionMissing(Exception):
    """A step needs a value (e.g. an access token) that an earlier step did not produce.

    ``variable`` names the missing flow variable, so that the runner can say which earlier
    failure blocked the step (see :attr:`FlowContext.blockers`)."""

    def __init__(self, message: str, variable: str | None = None):
        super().__init__(message)
        self.variable = variable


@dataclass
class StepOutcome:
    """What a step hands to its checks and captures."""

    subject: Any  # e.g. an HttpSubject, an AuthorizeResult, a TLS report
    exchanges: list[str] = field(default_factory=list)  # ids of recorded exchanges
    error: str | None = None  # set when the step could not complete; checks then end as ERROR/SKIP
    skipped: str | None = None  # set when a precondition was missing
    #: requirement IDs whose failure kept this step from its input (with ``skipped``: BLOCKED)
    blocked_by: list[str] = field(default_factory=list)
    #: the step ran in a degraded mode (e.g. token requests as JSON, the pre-issued access token);
    #: every check of the step carries this text
    degraded: str | None = None
    #: what a step kind hands its own checks besides the subject (e.g. a refused first attempt)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    status: Status
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    evidence: list[str] | None = None  # overrides the step's exchanges when given
    #: with status BLOCKED: the requirement IDs of the root failure
    blocked_by: list[str] = field(default_factory=list)

    @classmethod
    def passed(cls, reason: str = "ok", **details: Any) -> "Verdict":
        return cls(Status.PASS, reason, details)

    @classmethod
    def failed(cls, reason: str, **details: Any) -> "Verdict":
        return cls(Status.FAIL, reason, details)

    @classmethod
    def errored(cls, reason: str, **details: Any) -> "Verdict":
        return cls(Status.ERROR, reason, details)

    @classmethod
    def skipped(cls, reason: str, **details: Any) -> "Verdict":
        return cls(Status.SKIP, reason, details)

    @classmethod
    def omitted(cls, reason: str, **details: Any) -> "Verdict":
        return cls(Status.OMITTED, reason, details)

    @classmethod
    def blocked(cls, reason: str, blocked_by: list[str], **details: Any) -> "Verdict":
        return cls(Status.BLOCKED, reason, details, blocked_by=list(blocked_by))


class StepKind:
    """Base class of a step kind. Subclasses set ``name`` and ``schema`` and implement ``run``."""

    name: ClassVar[str]
    #: JSON Schema (draft 2020-12) of the step's own keys (besides the common ones:
    #: name, kind, expect, capture, requires, when, timeout).
    schema: ClassVar[dict[str, Any]] = {"type": "object"}
    #: keys that hold the step's parameters, used by the scenario JSON Schema.
    description: ClassVar[str] = ""
    #: checks the engine adds to every step of this kind (``expect:`` items, e.g. the inspection
    #: of every authorization redirect), unless the step already names that check
    implicit_checks: ClassVar[tuple[dict[str, Any], ...]] = ()

    async def run(self, spec: dict[str, Any], ctx: "FlowContext") -> StepOutcome:  # pragma: no cover
        raise NotImplementedError


class Check:
    """Base class of a check. ``evaluate`` gets the (already templated) argument of the check."""

    name: ClassVar[str]
    #: JSON Schema of the check's argument.
    schema: ClassVar[dict[str, Any]] = {}
    #: requirement IDs the check verifies unless the scenario names others.
    requirements: ClassVar[tuple[str, ...]] = ()
    title: ClassVar[str] = ""

    def evaluate(self, arg: Any, outcome: StepOutcome, ctx: "FlowContext") -> Verdict:  # pragma: no cover
        raise NotImplementedError


STEP_KINDS: dict[str, StepKind] = {}
CHECKS: dict[str, Check] = {}
_loaded = False


def register_step(cls: type[StepKind]) -> type[StepKind]:
    STEP_KINDS[cls.name] = cls()
    return cls


def register_check(cls: type[Check]) -> type[Check]:
    CHECKS[cls.name] = cls()
    return cls


def load_plugins() -> None:
    """Import every plug-in module once (registers their kinds and checks)."""
    global _loaded
    if _loaded:
        return
    for module in PLUGIN_MODULES:
        importlib.import_module(module)
    _loaded = True
