"""``validatiestraat requirements``: the catalogue with coverage and applies_when."""

from __future__ import annotations

import argparse
import json

import pytest

from validatiestraat.report import command


@pytest.fixture
def no_scenarios(monkeypatch):
    """Coverage without loading the bundled scenarios: two requirements are tested."""
    monkeypatch.setattr(command, "coverage", lambda paths=None: {"AS-TOKEN-02": ["flow"], "AS-TOKEN-15": ["abo"]})


def args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"scenarios": None, "area": None, "untested": False, "json": False, **kw})


def test_json_shows_applies_when_and_how_to_test(no_scenarios, capsys):
    assert command.requirements_command(args(json=True)) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["AS-TOKEN-15"]["applies_when"] == {"option": "abonneren"}
    assert rows["AS-TOKEN-15"]["scenarios"] == ["abo"] and rows["AS-TOKEN-15"]["not_tested"] is None
    assert rows["AS-TOKEN-02"]["applies_when"] is None
    assert rows["RS-FHIR-11"]["applies_when"] == {"gegevensdienst": ["53", "57", "60"]}
    assert "code_lifetime_seconds" in rows["AS-TOKEN-07"]["how_to_test"]


def test_untested_only(no_scenarios, capsys):
    assert command.requirements_command(args(json=True, untested=True, area="dva-as")) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert "AS-TOKEN-02" not in rows and "AS-TOKEN-15" not in rows and "AS-TOKEN-14" in rows
    assert rows["AS-TOKEN-14"]["not_tested"] == "no scenario yet"


def test_text_shows_the_condition(no_scenarios, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    assert command.requirements_command(args(area="dva-as")) == 0
    out = capsys.readouterr().out
    assert "applies when" in out
    assert "option partial_availability or ≥2 gegevensdiensten" in out
    assert "every dva run" in out
