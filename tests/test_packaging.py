"""pyproject.toml and environment.yml declare the same dependencies; the README keeps two commands."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(map(_norm, project["dependencies"]))
    for extra in project["optional-dependencies"].values():
        declared |= set(map(_norm, extra))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"] if isinstance(d, str))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    mirrored = {_norm(p) for p in pip if not p.startswith("-e")}
    assert mirrored == declared, (sorted(declared - mirrored), sorted(mirrored - declared))


def test_readme_quick_start_has_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [line.strip() for line in block.splitlines()[1:] if line.strip() and not line.startswith("#")]
    assert commands == ["make book", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_readme_lists_every_method():
    from cu_core.unlearn import METHODS

    readme = (ROOT / "README.md").read_text()
    assert all(f"| `{name}` |" in readme for name in METHODS)
