"""Step kinds of the PGO suite: the harness answers, the PGO acts, the checks judge what it sent.

- ``pgo.flow``: script the harness's answers (``authorize: deny``, ``token: server_error`` ...),
  make the PGO start ``flows`` authorization flows and be its user's browser (pgo/driver.py);
- ``pgo.trigger``: change the published lists or the resource server's answers, then ask the PGO
  to ``fetch``, ``refresh`` or ``lists_refresh`` (or just wait: ``action: none``);
- ``pgo.expect``: wait (at most ``within`` seconds) until the PGO sent ``count`` requests of an
  endpoint since the scenario's last action ("expect the PGO to send X within N s").

Each hands its checks a :class:`PgoWindow`: every request the PGO made to the harness during the
step (and after it, until the PGO went quiet), what the browser saw, and the harness itself.
The engine knows nothing of this: the target of a PGO run carries the harness and the driver.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from validatiestraat.engine.context import FlowContext, HttpSubject
from validatiestraat.engine.plugins import StepError, StepKind, StepOutcome, register_step
from validatiestraat.pgo.driver import Browse, PgoDriver
from validatiestraat.pgo.model import BEHAVIOURS, LIST_MODES, Seen

QUIET = 0.1  # the PGO is taken to be done when the harness saw nothing new for this long
MARK = "_pgo_mark"  # flow variable: the harness index where the scenario's last action began
START = "_pgo_start"  # flow variable: the harness index where the scenario began
BASELINE = "_pgo_baseline"  # flow variable: the window of a `baseline: true` flow (before changes)


@dataclass
class PgoWindow:
    """What one PGO step saw."""

    since: int
    seen: list[Seen]
    harness: Any
    flows: list[Browse] = field(default_factory=list)
    trigger: HttpSubject | None = None
    action: str = ""
    scripted: dict[str, str] = field(default_factory=dict)
    #: the harness index where the scenario began (earlier steps' requests are before ``since``)
    scenario_start: int = 0
    client_id: str = ""
    redirect_uri: str = ""
    aanbieder: str = ""
    gegevensdienst: str = "48"

    def of(self, endpoint: str) -> list[Seen]:
        return [s for s in self.seen if s.endpoint == endpoint]

    @property
    def exchanges(self) -> list[str]:
        out = [x for f in self.flows for x in f.exchanges]
        if self.trigger is not None:
            out.append(self.trigger.exchange_id)
        return out + [s.exchange_id for s in self.seen if s.exchange_id]


def _harness(ctx: FlowContext) -> Any:
    harness = getattr(ctx.target, "harness", None)
    if harness is None:
        raise StepError("this step needs the PGO harness: run it with `validatiestraat run --role pgo`")
    if getattr(harness, "scenario", None) != ctx.scenario_id:  # each scenario starts from the defaults
        harness.reset()
        harness.scenario = ctx.scenario_id
        ctx.vars[START] = harness.mark()
    harness.context = (ctx.scenario_id, ctx.step_name)
    return harness


def _driver(ctx: FlowContext) -> PgoDriver:
    driver = getattr(ctx.target, "pgo_driver", None)
    if driver is None:
        driver = PgoDriver(ctx.target.pgo or {})
        ctx.target.pgo_driver = driver
    return driver


async def settle(harness: Any, since: int, timeout: float) -> list[Seen]:
    """Wait until the PGO has been quiet for QUIET seconds (at most ``timeout``); all it sent."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        seen = harness.seen(since)
        if len(seen) == count:
            return seen
        count = len(seen)
        await asyncio.sleep(QUIET)
    return harness.seen(since)


def _script(harness: Any, spec: dict[str, Any]) -> dict[str, str]:
    scripted = {}
    for endpoint in ("authorize", "token", "resource"):
        behaviour = spec.get(endpoint)
        if behaviour:
            count = None if endpoint == "resource" or spec.get("persistent") else 1
            harness.answer(endpoint, behaviour, count)
            scripted[endpoint] = behaviour
    for kind, mode in (spec.get("lists") or {}).items():
        harness.set_list(kind, mode)
        scripted[f"list:{kind}"] = mode
    return scripted


def _unscript(harness: Any, scripted: dict[str, str]) -> None:
    """Scripted answers last for their step only: back to the defaults afterwards."""
    for endpoint in ("authorize", "token", "resource"):
        if endpoint in scripted:
            harness.answer(endpoint, BEHAVIOURS[endpoint][0], None)


def _window(ctx: FlowContext, harness: Any, since: int, seen: list[Seen], **kw: Any) -> PgoWindow:
    block = ctx.target.pgo or {}
    return PgoWindow(since=since, seen=seen, harness=harness, scenario_start=int(ctx.vars.get(START, 0)),
                     client_id=block.get("client_id", ""),
                     redirect_uri=block.get("redirect_uri", ""), aanbieder=ctx.target.aanbieder,
                     gegevensdienst=str((ctx.target.gegevensdiensten or ["48"])[0]), **kw)


_SCRIPT_SCHEMA = {
    "authorize": {"enum": list(BEHAVIOURS["authorize"])},
    "token": {"enum": list(BEHAVIOURS["token"])},
    "resource": {"enum": list(BEHAVIOURS["resource"])},
    "persistent": {"type": "boolean", "description": "the scripted authorize/token answers apply to every "
                                                     "request of the step, not only the first"},
    "lists": {"type": "object", "additionalProperties": {"enum": list(LIST_MODES)},
              "propertyNames": {"enum": ["zal", "ocl", "whitelist", "gnl"]}},
    "settle": {"type": "number", "minimum": 0, "maximum": 600,
               "description": "seconds to wait at most for the PGO to go quiet afterwards (default 5)"},
}


@register_step
class PgoFlow(StepKind):
    name = "pgo.flow"
    description = ("Make the PGO start authorization flows and act as its user's browser through the harness's "
                   "authorization endpoint back to the PGO (answers scripted with authorize/token/resource).")
    schema = {"properties": {"flows": {"type": "integer", "minimum": 1, "maximum": 20},
                             "baseline": {"type": "boolean", "description": "remember this flow as the scenario's "
                                                                            "baseline (how the PGO did before later "
                                                                            "changes)"},
                             **_SCRIPT_SCHEMA}}

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        harness = _harness(ctx)
        driver = _driver(ctx)
        since = harness.mark()
        ctx.vars[MARK] = since
        scripted = _script(harness, spec)
        flows = []
        for _ in range(int(spec.get("flows", 1))):
            if "authorize" in scripted and not spec.get("persistent") and flows:
                harness.answer("authorize", scripted["authorize"], 1)
            if "token" in scripted and not spec.get("persistent") and flows:
                harness.answer("token", scripted["token"], 1)
            browse = await driver.run_flow(ctx)
            flows.append(browse)
            ctx.run.logins += 1
            if browse.callback_url or browse.done_url:
                ctx.run.logins_completed += 1
            elif browse.config_error:
                ctx.run.login_config_errors.append(browse.config_error)
            if browse.config_error:
                raise _ConfigError(browse.config_error, [x for f in flows for x in f.exchanges])
        seen = await settle(harness, since, float(spec.get("settle", 5)))
        _unscript(harness, scripted)
        window = _window(ctx, harness, since, seen, flows=flows, scripted=scripted, action="flow")
        if spec.get("baseline"):
            ctx.vars[BASELINE] = window
        return StepOutcome(subject=window, exchanges=window.exchanges)


@register_step
class PgoTrigger(StepKind):
    name = "pgo.trigger"
    description = ("Change the lists or the harness's answers, then ask the PGO to fetch, refresh or refresh its "
                   "lists (action: none only waits).")
    schema = {
        "required": ["action"],
        "properties": {"action": {"enum": ["fetch", "refresh", "lists_refresh", "none"]}, **_SCRIPT_SCHEMA},
    }

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        harness = _harness(ctx)
        driver = _driver(ctx)
        since = harness.mark()
        ctx.vars[MARK] = since
        scripted = _script(harness, spec)
        action = spec["action"]
        trigger = None
        if action != "none":
            if not (ctx.target.pgo or {}).get(action):
                raise _ConfigError(f"the target's pgo block has no {action} request; the PGO cannot be asked to "
                                   f"{action.replace('_', ' ')}", [])
            trigger = await driver.trigger(ctx, action)
        seen = await settle(harness, since, float(spec.get("settle", 5)))
        _unscript(harness, scripted)
        window = _window(ctx, harness, since, seen, trigger=trigger, scripted=scripted, action=action)
        return StepOutcome(subject=window, exchanges=window.exchanges)


@register_step
class PgoExpect(StepKind):
    name = "pgo.expect"
    description = "Wait until the PGO sent `count` requests of an endpoint since the scenario's last action."
    schema = {
        "required": ["endpoint"],
        "properties": {"endpoint": {"enum": ["authorize", "token", "resource", "lists"]},
                       "count": {"type": "integer", "minimum": 1}, "within": {"type": "number", "minimum": 0}},
    }

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        harness = _harness(ctx)
        since = int(ctx.vars.get(MARK, 0))
        await harness.wait_for(spec["endpoint"], since, float(spec.get("within", 10)), int(spec.get("count", 1)))
        window = _window(ctx, harness, since, harness.seen(since), action=f"expect {spec['endpoint']}")
        return StepOutcome(subject=window, exchanges=window.exchanges)


@register_step
class ManualItem(StepKind):
    name = "manual"
    description = "A requirement the suite cannot judge by itself: its checks say what evidence to provide."
    schema = {"properties": {}}

    async def run(self, spec: dict[str, Any], ctx: FlowContext) -> StepOutcome:
        return StepOutcome(subject=None)


class _ConfigError(StepError):
    """The target's pgo block cannot make the PGO act: the tester's configuration, not the PGO."""

    def __init__(self, message: str, exchanges: list[str]):
        super().__init__(f"configuration: {message}")
        self.exchanges = exchanges
