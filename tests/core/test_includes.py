"""``include:`` resolves against the including file's own folder first, then the root of the
scenario folder being loaded; never a bundled fragment for a user's folder, never outside the roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from validatiestraat.cli import main
from validatiestraat.errors import UserError
from validatiestraat.scenario.loader import bundled_scenarios_dir, load_scenarios, scenario_root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def scenario(include: str, sid: str = "s") -> str:
    return f"id: {sid}\ntitle: t\nrole: dva\nsteps:\n  - include: {include}\n"


def fragment(step_name: str) -> str:
    return (f"fragment: {step_name}\nsteps:\n  - name: {step_name}\n    kind: http\n"
            "    url: https://x.invalid/\n")


def problems_of(*paths: Path) -> list[str]:
    with pytest.raises(UserError) as info:
        load_scenarios(list(paths))
    assert info.value.exit_code == 4
    return [str(p) for p in info.value.problems]


def test_own_folder_first_then_the_root(tmp_path):
    root = tmp_path / "mine"
    write(root / "fragments" / "login.yaml", fragment("root-login"))
    write(root / "fragments" / "shared.yaml", fragment("root-shared"))
    write(root / "dva" / "fragments" / "login.yaml", fragment("own-login"))
    write(root / "dva" / "a.yaml", "id: a\ntitle: t\nrole: dva\nsteps:\n  - include: fragments/login.yaml\n"
                                    "  - include: fragments/shared.yaml\n")
    write(root / "b.yaml", scenario("fragments/login.yaml", "b"))
    by_id = {s.id: [step["name"] for step in s.steps] for s in load_scenarios([root])}
    assert by_id["a"] == ["own-login", "root-shared"]  # own folder first, then the folder's root
    assert by_id["b"] == ["root-login"]


def test_nested_include_resolves_from_the_fragment_folder(tmp_path):
    root = tmp_path / "mine"
    write(root / "fragments" / "outer.yaml", "fragment: outer\nsteps:\n  - include: inner.yaml\n")
    write(root / "fragments" / "inner.yaml", fragment("inner"))
    write(root / "dva" / "a.yaml", scenario("fragments/outer.yaml", "a"))
    (s,) = load_scenarios([root])
    assert [step["name"] for step in s.steps] == ["inner"]


def test_a_users_folder_never_takes_a_bundled_fragment(tmp_path, capsys):
    assert (bundled_scenarios_dir() / "fragments" / "login-and-token.yaml").is_file()
    root = tmp_path / "mine"
    path = write(root / "dva" / "a.yaml", "id: a\ntitle: t\nrole: dva\nsteps:\n"
                                          "  - include: fragments/login-and-token.yaml\n")
    (problem,) = problems_of(root)
    assert problem.startswith(f"{path.resolve()}:5:14: include 'fragments/login-and-token.yaml' not found") \
        or ":5:14: include 'fragments/login-and-token.yaml' not found" in problem
    assert str(root.resolve()) in problem
    assert "the bundled scenarios have" in problem and "copy it into your folder" in problem
    # the same through the command line: exit 4, located
    assert main(["scenarios", "lint", str(root)]) == 4
    assert ":5:14: include 'fragments/login-and-token.yaml' not found" in capsys.readouterr().out
    # a single file of a user's folder: its folder is the root
    (problem,) = problems_of(path)
    assert "not found" in problem


@pytest.mark.parametrize("ref", ["../../etc/passwd", "../../../../../../../../etc/passwd", "/etc/passwd",
                                 "../outside.yaml", "fragments/../../outside.yaml"])
def test_includes_outside_the_root_are_refused(tmp_path, ref):
    write(tmp_path / "outside.yaml", fragment("outside"))
    root = tmp_path / "mine"
    write(root / "dva" / "a.yaml", scenario(ref if ref != "../outside.yaml" else "../../outside.yaml", "a"))
    write(root / "b.yaml", scenario(ref, "b"))
    found = problems_of(root)
    assert len(found) == 2
    for problem in found:
        assert ":5:14: include " in problem and "outside the scenario root(s)" in problem, problem
        assert str(root.resolve()) in problem


def test_a_symlink_that_leaves_the_root_is_refused(tmp_path):
    write(tmp_path / "elsewhere" / "secret.yaml", fragment("secret"))
    root = tmp_path / "mine"
    (root / "fragments").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere" / "secret.yaml", root / "fragments" / "link.yaml")
    os.symlink(tmp_path / "elsewhere", root / "fragments" / "dir")
    write(root / "a.yaml", scenario("fragments/link.yaml", "a"))
    write(root / "b.yaml", scenario("fragments/dir/secret.yaml", "b"))
    found = problems_of(root / "a.yaml", root / "b.yaml")
    assert len(found) == 2 and all("outside the scenario root(s)" in p for p in found), found
    # a symlink that stays inside the root is fine
    write(root / "fragments" / "real.yaml", fragment("real"))
    os.symlink(root / "fragments" / "real.yaml", root / "fragments" / "alias.yaml")
    write(root / "c.yaml", scenario("fragments/alias.yaml", "c"))
    (s,) = load_scenarios([root / "c.yaml"])
    assert s.steps[0]["name"] == "real"


def test_bundled_scenarios_and_paths_inside_them_keep_working(capsys):
    bundled = bundled_scenarios_dir()
    assert scenario_root(bundled / "dva" / "oauth") == bundled.resolve()
    assert scenario_root(bundled / "dva" / "oauth" / "code-reuse.yaml") == bundled.resolve()
    assert {s.id for s in load_scenarios([bundled / "dva" / "oauth" / "code-reuse.yaml"])} == {"dva-oauth-code-reuse"}
    assert len(load_scenarios([bundled / "dva" / "rs"])) >= 3
    assert main(["scenarios", "lint"]) == 0
    assert "scenario(s) valid" in capsys.readouterr().out


def test_an_explicit_extra_root(tmp_path):
    path = write(tmp_path / "s.yaml", scenario("fragments/login-and-token.yaml"))
    (s,) = load_scenarios([path], root=bundled_scenarios_dir())
    assert [step["name"] for step in s.steps][:1] == ["authorize"]
