"""Profiles (YAML files in `cu_core/experiments/profiles/`) and their expansion into runs.

A profile names its seeds, the parameters every template gets (`defaults`) and its experiments::

    name: quick
    description: digits, cnn4, every method, 3 seeds
    seeds: [0, 1, 2]
    defaults: {dataset: digits, preset: digits}
    experiments:
      compare_class:
        template: compare_methods.ipynb
        params: {task: class}
        grid: {}                 # optional: parameter -> list of values (a product)
        cases: []                # optional: a list of parameter sets, each crossed with the grid
        seeds: [0]               # optional: this experiment's seeds

One run = one template execution with one parameter set: `defaults`, then `params`, then one case, then one grid
point, then `seed`. Its id is stable: the grid values and the seed in readable form, then 8 hex digits of the sha256 of all
its parameters, so the same parameters always land in the same folder (`<profile>/<experiment>/<run_id>`).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, check_choice
from ..paths import project_root

PROFILE_DIR = Path(__file__).with_name("profiles")
TEMPLATE_DIR = project_root() / "notebooks"


@dataclass(frozen=True)
class Run:
    profile: str
    experiment: str
    template: str
    params: dict[str, Any]
    run_id: str
    problem: str | None = None  # a parameter error found at expansion: the run fails, the others go on

    @property
    def folder(self) -> str:
        return f"{self.profile}/{self.experiment}/{self.run_id}"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    seeds: list[int]
    defaults: dict[str, Any]
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)


def profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name_or_path: str) -> Profile:
    """A profile by name (`profiles()`) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        check_choice("profile", name_or_path, profiles())
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError("profile", name_or_path, "a profile name (" + ", ".join(profiles()) + ") or a YAML file")
    raw = yaml.safe_load(path.read_text()) or {}
    for key in ("name", "seeds", "experiments"):
        if key not in raw:
            raise ConfigError(f"profile.{key}", None, f"a value in {path}")
    for exp, spec in raw["experiments"].items():
        if not isinstance(spec, dict) or "template" not in spec:
            raise ConfigError(f"profile.experiments.{exp}", spec, "a mapping with a 'template'")
    return Profile(raw["name"], raw.get("description", ""), list(raw["seeds"]), dict(raw.get("defaults") or {}),
                   dict(raw["experiments"]))


def template_parameters(template: str) -> dict[str, Any]:
    """The parameters a template declares (papermill's inspection of its `parameters` cell)."""
    import papermill

    path = TEMPLATE_DIR / template
    if not path.is_file():
        raise ConfigError("template", template, ", ".join(sorted(p.name for p in TEMPLATE_DIR.glob("*.ipynb"))))
    return papermill.inspect_notebook(str(path))


def run_id(params: dict[str, Any], readable: list[str]) -> str:
    """Readable grid values and seed, then a hash of every parameter."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:8]
    parts = [f"{k}-{params[k]}" for k in readable if k in params]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "", "_".join(parts))[:80]
    return f"{slug}_{digest}" if slug else digest


def expand(profile: Profile, *, only: list[str] | None = None, seeds: list[int] | None = None) -> list[Run]:
    """Every run of `profile` (experiments in `only`; `seeds` replaces the profile's and experiments' seeds)."""
    if only:
        for name in only:
            check_choice("only", name, list(profile.experiments))
    runs = []
    for exp, spec in profile.experiments.items():
        if only and exp not in only:
            continue
        declared = template_parameters(spec["template"])
        grid = dict(spec.get("grid") or {})
        cases = list(spec.get("cases") or [{}])
        # long JSON parameters stay out of the readable part of run ids (the hash tells them apart)
        readable = list(dict.fromkeys([k for case in cases for k in case if k not in ("values", "variants")]
                                      + list(grid) + ["seed"]))
        for seed, case, point in itertools.product(seeds if seeds is not None else spec.get("seeds", profile.seeds),
                                                   cases, itertools.product(*grid.values())):
            params = {**profile.defaults, **(spec.get("params") or {}), **case, **dict(zip(grid, point)),
                      "seed": seed}
            unknown = sorted(set(params) - set(declared))
            params = {k: v for k, v in params.items() if k in declared}
            problem = (f"parameter(s) {unknown} not declared by {spec['template']} (it declares "
                       f"{', '.join(declared)})") if unknown else None
            runs.append(Run(profile.name, exp, spec["template"], params, run_id(params, readable), problem))
    return runs
