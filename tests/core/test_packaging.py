"""pyproject lists packages explicitly (profiles/ and scenarios/ are mapped into the package):
every folder of the package that holds files must be listed, or an installed copy lacks it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for folder in [ROOT / "validatiestraat", *(p for p in (ROOT / "validatiestraat").rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__" or not any(f.is_file() for f in folder.iterdir()):
            continue
        found.add(".".join(folder.relative_to(ROOT).parts))
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert {"validatiestraat.profiles", "validatiestraat.scenarios"} <= listed
    assert config["package-dir"] == {"validatiestraat.profiles": "profiles", "validatiestraat.scenarios": "scenarios"}
