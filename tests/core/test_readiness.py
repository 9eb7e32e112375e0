"""Label readiness: READY / NOT READY / INCOMPLETE from hand-built run results, and the
applies_when condition language of the requirement catalogue."""

from __future__ import annotations

import pytest

from validatiestraat.report.model import CheckResult, RunResult, Status
from validatiestraat.report.readiness import assess, requirement_status
from validatiestraat.requirements import catalogue, check_condition, condition_reason, describe_condition

DVA_SCOPE = {"role": "dva", "gegevensdiensten": ["48"], "options": {}, "has": [], "subset": False, "selection": {}}


def check(rid: str | list[str], status: Status = Status.PASS, reason: str = "", n: int = 1, **kw) -> CheckResult:
    rids = [rid] if isinstance(rid, str) else rid
    return CheckResult(id=f"s-{rids[0] if rids else 'none'}/step/{n}-x", title="t", requirements=rids, status=status,
                       reason=reason or f"{status.value} reason", scenario=f"s-{rids[0] if rids else 'none'}",
                       step="step", check="x", **kw)


def run(checks: list[CheckResult], scope: dict | None = None) -> RunResult:
    return RunResult(tool_version="0", suite_version="0", target={"name": "hand-built"}, started="2026-01-01T00:00:00Z",
                     finished="2026-01-01T00:00:01Z", scenarios=[], checks=checks, exchanges=[],
                     scope=dict(DVA_SCOPE if scope is None else scope))


def all_pass(scope: dict | None = None, *, drop: tuple[str, ...] = (), extra: list[CheckResult] = ()) -> RunResult:
    """One passing check for every requirement in scope, except ``drop``; then ``extra``."""
    scope = dict(DVA_SCOPE if scope is None else scope)
    checks = [check(rid) for rid, req in catalogue().items() if req.applies(scope) and rid not in drop]
    return run(checks + list(extra), scope)


# ------------------------------------------------------------------ the condition language
def test_applies_when_of_the_catalogue():
    cat = catalogue()
    assert cat["AS-AUTHZ-14"].applies_when == {"option": "vertegenwoordiging"}
    assert cat["AS-TOKEN-15"].applies_when == {"option": "abonneren"}
    assert cat["AS-TOKEN-11"].applies_when == cat["AS-TOKEN-12"].applies_when == {"option": "long_lived_consent"}
    assert cat["AS-TOKEN-14"].applies_when == {"any": [{"option": "partial_availability"}, {"min_gegevensdiensten": 2}]}
    assert cat["RS-FHIR-10"].applies_when == {"gegevensdienst": ["51"]}
    assert cat["RS-FHIR-11"].applies_when == {"gegevensdienst": ["53", "57", "60"]}
    assert all(r.applies_when == {"has": "lists"} for r in cat.values() if r.id.startswith("LIST-"))
    # every other DVA requirement is in scope of any dva run
    conditional = {"AS-AUTHZ-14", "AS-TOKEN-15", "AS-TOKEN-11", "AS-TOKEN-12", "AS-TOKEN-14", "RS-FHIR-10", "RS-FHIR-11"}
    for r in cat.values():
        if r.id.startswith(("AS-", "RS-", "TLS-")) and r.id not in conditional:
            assert r.applies_when is None and r.applies(DVA_SCOPE), r.id
        if r.id.startswith("PGO-"):
            assert not r.applies(DVA_SCOPE) and r.applies({"role": "pgo"}) is (not r.manual)
            assert "pgo" in r.scope_reason(DVA_SCOPE) or "PGO" in r.scope_reason(DVA_SCOPE)
    for rid in ("AS-TOKEN-07", "AS-TOKEN-08", "RS-AUTH-04", "RS-AUTH-05", "AS-TOKEN-12", "AS-AUTHZ-06",
                "AS-AUTHZ-10", "TLS-MTLS-01", "AS-TOKEN-01"):
        assert cat[rid].how_to_test, rid
    assert "code_lifetime_seconds" in cat["AS-TOKEN-07"].how_to_test
    assert "other_client" in cat["AS-TOKEN-08"].how_to_test
    assert "untrusted_client_certificate" in cat["TLS-MTLS-01"].how_to_test


def test_conditions():
    scope = {"role": "dva", "gegevensdiensten": ["48", "49"], "options": {"abonneren": True, "code_lifetime_seconds": 0},
             "has": ["other_client"]}
    assert condition_reason({"option": "abonneren"}, scope) is None
    assert condition_reason({"option": "code_lifetime_seconds"}, scope) == "target option code_lifetime_seconds is not set"
    assert condition_reason({"gegevensdienst": ["51", "48"]}, scope) is None
    assert "none of gegevensdienst 53/57" in condition_reason({"gegevensdienst": ["53", "57"]}, scope)
    assert condition_reason({"has": "other_client"}, scope) is None
    assert condition_reason({"has": "lists"}, scope) == "the target has no lists"
    assert condition_reason({"min_gegevensdiensten": 2}, scope) is None
    assert condition_reason({"min_gegevensdiensten": 3}, scope) is not None
    assert condition_reason({"any": [{"has": "lists"}, {"option": "abonneren"}]}, scope) is None
    why = condition_reason({"any": [{"has": "lists"}, {"option": "vertegenwoordiging"}]}, scope)
    assert "lists" in why and "vertegenwoordiging" in why
    # options given as a list of names (the model's older comment) work the same
    assert condition_reason({"option": "abonneren"}, {"options": ["abonneren"]}) is None
    assert describe_condition({"any": [{"option": "partial_availability"}, {"min_gegevensdiensten": 2}]}) == \
        "option partial_availability or ≥2 gegevensdiensten"
    # AS-TOKEN-14 is in scope with two gegevensdiensten, without partial_availability
    assert catalogue()["AS-TOKEN-14"].applies(scope)
    assert not catalogue()["AS-TOKEN-14"].applies(DVA_SCOPE)


@pytest.mark.parametrize("bad", [{}, {"option": ""}, {"has": "nothing"}, {"min_gegevensdiensten": 0},
                                 {"any": []}, {"gegevensdienst": "51"}, {"option": "a", "has": "lists"},
                                 {"all": [{"option": "a"}]}, {"any": [{"nope": 1}]}])
def test_bad_conditions_are_refused(bad):
    with pytest.raises(ValueError):
        check_condition(bad, "X-01")


def test_roles():
    cat = catalogue()
    assert cat["TLS-VER-01"].applies({"role": "tls"}) and not cat["AS-TOKEN-02"].applies({"role": "tls"})
    assert cat["AS-TLS-01"].applies({"role": "tls"})  # area tls
    assert cat["AS-TOKEN-02"].applies({"role": "all"}) and not cat["PGO-AUTHZ-01"].applies({"role": "all"})
    assert cat["LIST-XSD-01"].applies({"role": "dva", "has": ["lists"]})
    assert not cat["LIST-XSD-01"].applies({"role": "dva"})


# ------------------------------------------------------------------ requirement status
def test_requirement_status_ignores_skip_and_omitted_next_to_a_judgement():
    def st(*statuses):
        return requirement_status([check("AS-TOKEN-02", s, n=i) for i, s in enumerate(statuses)])

    assert st(Status.PASS, Status.SKIP, Status.OMITTED) is Status.PASS
    assert st(Status.SKIP, Status.OMITTED) is Status.SKIP
    assert st(Status.OMITTED) is Status.OMITTED
    assert st(Status.PASS, Status.WARNING) is Status.WARNING
    assert st(Status.PASS, Status.BLOCKED, Status.SKIP) is Status.BLOCKED
    assert st(Status.PASS, Status.ERROR, Status.BLOCKED) is Status.ERROR
    assert st(Status.FAIL, Status.ERROR) is Status.FAIL
    assert st() is None


# ------------------------------------------------------------------ verdicts
def test_all_pass_is_ready():
    r = assess(all_pass())
    assert r.verdict == "READY" and r.ready and r.exit_code == 0
    assert r.blocking == [] and r.incomplete == []
    assert r.requirements["AS-TOKEN-15"].in_scope is False
    assert r.requirements["AS-TOKEN-15"].scope_reason == "target option abonneren is not set"


def test_root_failure_with_blocked_dependents_is_not_ready_and_blocks_only_by_the_root():
    blocked = [check(rid, Status.BLOCKED, "no access token: the token request failed", blocked_by=["AS-TOKEN-02"])
               for rid in ("RS-FHIR-01", "RS-FHIR-02", "AS-TOKEN-03")]
    result = all_pass(drop=("AS-TOKEN-02", "RS-FHIR-01", "RS-FHIR-02", "AS-TOKEN-03"),
                      extra=[check("AS-TOKEN-02", Status.FAIL, "token endpoint answered 400"), *blocked])
    r = assess(result)
    assert r.verdict == "NOT READY" and not r.ready and r.exit_code == 3
    assert [o.requirement.id for o in r.blocking] == ["AS-TOKEN-02"]
    assert r.requirements["RS-FHIR-01"].status is Status.BLOCKED
    assert r.requirements["RS-FHIR-01"].blocked_by == ["AS-TOKEN-02"]
    assert not r.requirements["RS-FHIR-01"].blocking
    # the blocked ones are listed as not judged, naming the root failure
    items = {i.id: i for i in r.incomplete}
    assert set(items) == {"RS-FHIR-01", "RS-FHIR-02", "AS-TOKEN-03"}
    assert items["RS-FHIR-01"].status == "blocked" and items["RS-FHIR-01"].blocked_by == ["AS-TOKEN-02"]
    assert items["RS-FHIR-01"].reason.startswith("blocked by AS-TOKEN-02: no access token")
    assert r.counts["blocked"] == 3 and r.blocked == 3


def test_an_error_alone_is_incomplete_naming_it():
    result = all_pass(drop=("RS-PERF-01",), extra=[check("RS-PERF-01", Status.ERROR, "step timed out after 90 s")])
    r = assess(result)
    assert r.verdict == "INCOMPLETE" and r.exit_code == 3 and not r.ready
    assert r.blocking == []
    assert [i.to_dict() for i in r.incomplete] == [
        {"id": "RS-PERF-01", "status": "error", "reason": "step timed out after 90 s", "check": "s-RS-PERF-01/step/1-x"}]


def test_an_error_without_a_reason_still_gets_one():
    result = all_pass(drop=("RS-PERF-01",), extra=[check("RS-PERF-01", Status.ERROR, " ")])
    (item,) = assess(result).incomplete
    assert item.reason == "the tool could not decide and gave no reason"


def test_an_error_next_to_a_pass_is_incomplete():
    r = assess(all_pass(extra=[check("RS-FHIR-01", Status.ERROR, "connection reset", n=2)]))
    assert r.verdict == "INCOMPLETE" and [i.id for i in r.incomplete] == ["RS-FHIR-01"]


def test_an_untested_in_scope_must_is_incomplete_with_the_hint():
    r = assess(all_pass(drop=("AS-TOKEN-07",)))
    assert r.verdict == "INCOMPLETE"
    (item,) = r.incomplete
    assert item.id == "AS-TOKEN-07" and item.status == "untested"
    assert item.reason.startswith("not tested in this run")
    assert "set options.code_lifetime_seconds" in item.reason and item.how_to_test


def test_an_omitted_in_scope_must_is_incomplete_with_the_hint():
    omitted = check("AS-TOKEN-08", Status.OMITTED, "not applicable: the target has no other_client")
    r = assess(all_pass(drop=("AS-TOKEN-08",), extra=[omitted]))
    assert r.verdict == "INCOMPLETE"
    (item,) = r.incomplete
    assert (item.id, item.status) == ("AS-TOKEN-08", "omitted")
    assert "the target has no other_client" in item.reason and "add other_client" in item.reason


def test_skip_only_is_incomplete():
    r = assess(all_pass(drop=("AS-TOKEN-04",), extra=[check("AS-TOKEN-04", Status.SKIP, "missing code")]))
    assert r.verdict == "INCOMPLETE" and [(i.id, i.status) for i in r.incomplete] == [("AS-TOKEN-04", "skip")]


def test_an_untested_requirement_out_of_scope_leaves_ready():
    r = assess(all_pass())  # no abonneren, no vertegenwoordiging, no lists, gegevensdienst 48 only
    assert r.verdict == "READY"
    for rid in ("AS-TOKEN-15", "AS-AUTHZ-14", "AS-TOKEN-11", "AS-TOKEN-14", "RS-FHIR-10", "LIST-XSD-01", "PGO-AUTHZ-01"):
        assert r.requirements[rid].status is None and not r.requirements[rid].in_scope, rid
    # once the option is set it is in scope, and untested makes the run INCOMPLETE
    scope = {**DVA_SCOPE, "options": {"abonneren": True}}
    r = assess(all_pass(scope, drop=("AS-TOKEN-15",)))
    assert r.verdict == "INCOMPLETE" and [i.id for i in r.incomplete] == ["AS-TOKEN-15"]


def test_declared_gegevensdienst_brings_its_requirement_in_scope():
    scope = {**DVA_SCOPE, "gegevensdiensten": ["48", "51"]}
    r = assess(all_pass(scope, drop=("RS-FHIR-10",)))
    assert r.verdict == "INCOMPLETE"
    ids = [i.id for i in r.incomplete]
    assert ids == ["RS-FHIR-10"]
    assert r.incomplete[0].reason.startswith("no scenario tests it yet: needs gegevensdienst 51")


def test_a_failure_out_of_scope_still_makes_not_ready():
    r = assess(all_pass(extra=[check("AS-TOKEN-15", Status.FAIL, "granted duration too long")]))
    assert r.verdict == "NOT READY" and [o.requirement.id for o in r.blocking] == ["AS-TOKEN-15"]


def test_subset_is_incomplete_even_when_all_passed():
    scope = {**DVA_SCOPE, "subset": True, "selection": {"k": ["*code*"]}}
    r = assess(all_pass(scope))
    assert r.verdict == "INCOMPLETE" and r.exit_code == 3
    assert r.incomplete[0].id is None and r.incomplete[0].status == "subset"
    assert "a subset run (-k/--tag/--scenarios) cannot be READY" in r.incomplete[0].reason
    assert "-k *code*" in r.incomplete[0].reason
    # a subset can still be NOT READY
    r = assess(run([check("AS-TOKEN-04", Status.FAIL, "code accepted twice")], scope))
    assert r.verdict == "NOT READY"
    untested = [i for i in r.incomplete if i.status == "untested"]
    assert untested and all(i.reason.startswith("not in this subset run") or i.reason.startswith("no scenario")
                            for i in untested)


def test_a_warning_on_an_uncertain_must_is_ready():
    assert catalogue()["AS-AUTHZ-03"].uncertain and catalogue()["AS-AUTHZ-03"].level == "MUST"
    r = assess(all_pass(drop=("AS-AUTHZ-03",), extra=[check("AS-AUTHZ-03", Status.WARNING, "redirected anyway [⚠]")]))
    assert r.verdict == "READY" and r.incomplete == []
    assert r.requirements["AS-AUTHZ-03"].status is Status.WARNING


def test_unmapped_checks():
    failed = check([], Status.FAIL, "garbage from the server")
    assert assess(all_pass(extra=[failed])).verdict == "NOT READY"
    errored = check(["NOPE-99"], Status.ERROR, "internal error in check x")
    r = assess(all_pass(extra=[errored]))
    assert r.verdict == "INCOMPLETE"
    assert [i.to_dict() for i in r.incomplete] == [
        {"id": None, "status": "error", "reason": "internal error in check x", "check": errored.id}]


def test_non_must_problems_do_not_matter():
    r = assess(all_pass(drop=("TLS-VER-02", "AS-AUTHZ-08"),
                        extra=[check("TLS-VER-02", Status.ERROR, "probe failed"), check("AS-AUTHZ-08", Status.BLOCKED)]))
    assert r.verdict == "READY"


def test_degraded_texts_are_collected_once():
    note = "token requests sent as JSON: the token endpoint refused form bodies"
    r = assess(all_pass(extra=[check("AS-TOKEN-02", degraded=note, n=2), check("AS-TOKEN-03", degraded=note, n=2)]))
    assert r.verdict == "READY" and r.degraded == [note]


def test_scope_is_inferred_from_the_target_when_the_run_recorded_none():
    result = all_pass()
    result.scope = {}
    result.target = {"name": "x", "gegevensdiensten": ["48"], "options": {"abonneren": True, "code_lifetime_seconds": 2}}
    r = assess(result)
    assert r.scope["role"] == "dva" and r.scope["inferred"]
    assert r.verdict == "INCOMPLETE" and [i.id for i in r.incomplete] == ["AS-TOKEN-15"]


def test_areas_count_untested_and_out_of_scope():
    areas = assess(all_pass(drop=("AS-TOKEN-07",))).areas()
    assert areas["dva-as"]["untested"] == 1
    assert areas["pgo"]["n/a"] == sum(1 for r in catalogue().values() if r.role == "pgo")


def test_a_blocked_reason_that_says_so_is_not_repeated():
    reason = "blocked by AS-TOKEN-02: no access token"
    r = assess(all_pass(drop=("RS-FHIR-01",), extra=[check("RS-FHIR-01", Status.BLOCKED, reason, blocked_by=["AS-TOKEN-02"])]))
    assert [i.reason for i in r.incomplete] == [reason]


def test_manual_and_declared_not_applicable_requirements_are_out_of_what_ready_promises():
    cat = catalogue()
    assert cat["PGO-CONS-01"].manual and "manual" in cat["PGO-CONS-01"].scope_reason({"role": "pgo"})
    scope = {"role": "pgo", "not_applicable": {"PGO-RES-04": "searches are chosen by the app"}}
    assert not cat["PGO-RES-04"].applies(scope)
    assert "searches are chosen by the app" in cat["PGO-RES-04"].scope_reason(scope)
    assert cat["PGO-RES-03"].applies(scope)
