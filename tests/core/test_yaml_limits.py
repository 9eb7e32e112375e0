"""Hostile YAML (issue 14's first class): every input gets a located error and exit 4, never a
traceback, a RecursionError or unbounded memory."""

from __future__ import annotations

import contextlib
import io

import pytest

from validatiestraat.cli import main
from validatiestraat.scenario.yamlpos import MAX_VALUES, YamlError, load_with_positions


def laughs(levels: int = 9) -> str:
    text = "a0: &a0 [x,x,x,x,x,x,x,x,x]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n"
    return text


CASES = {
    "nul": ("id: x\x00\ntitle: t\n", "not allowed"),
    "self-alias": ("a: &a [*a]\n", "refers to itself"),
    "deep": ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nested"),
    "laughs": (laughs(), "expanded too often"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_yaml_is_a_located_error(name):
    text, words = CASES[name]
    with pytest.raises(YamlError) as info:
        load_with_positions(text, f"{name}.yaml")
    assert words in info.value.problem.message and info.value.problem.file == f"{name}.yaml"


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("command", ["lint", "target"])
def test_hostile_yaml_through_the_cli_is_exit_4(tmp_path, name, command):
    path = tmp_path / f"{name}.yaml"
    path.write_text(CASES[name][0], encoding="utf-8")
    argv = ["scenarios", "lint", str(path)] if command == "lint" else ["run", "--target", str(path)]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        assert main(argv) == 4
    text = err.getvalue() + out.getvalue()
    assert "Traceback" not in text and f"{name}.yaml" in text


def test_the_value_budget_is_large_enough_for_real_scenarios():
    text = "steps:\n" + "".join(f"  - {{name: s{i}, kind: http, url: 'https://x/{i}'}}\n" for i in range(5000))
    data, _ = load_with_positions(text, "big.yaml")
    assert len(data["steps"]) == 5000 and MAX_VALUES > 20000
