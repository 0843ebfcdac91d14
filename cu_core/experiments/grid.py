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
point, then `seed`. Its id is stable: the grid values and the seed in readable form, then 8 hex digits of the sha256
of all its parameters, so the same parameters always land in the same folder (`<profile>/<experiment>/<run_id>`).

`load_profile` checks a profile against its schema (`cu_core.experiments.validate`) before anything else reads it:
unknown keys (with the closest allowed name), wrong types (with the key path and the expected type), names that
are not safe folder names, parameters its templates do not declare, and YAML with a key given twice are all
refused at once, as one `InputFileError` (a `ConfigError`) that lists every problem.
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

from ..errors import ConfigError, InputFileError, check_choice
from .templates import (TEMPLATE_DIR, Parameter, declared_parameters,  # noqa: F401  (read as grid.<name>)
                        template_parameters, templates)
from .validate_profiles import profile_problems

PROFILE_DIR = Path(__file__).with_name("profiles")


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


def profile_path(name_or_path: str | Path) -> Path:
    """The YAML file of a profile given by name (`profiles()`) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        check_choice("profile", str(name_or_path), profiles())
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError("profile", str(name_or_path), "a profile name (" + ", ".join(profiles()) + ") or a YAML "
                          "file")
    return path


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that gives one key twice (PyYAML would keep the last silently)."""


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            twice = key in seen
        except TypeError:  # an unhashable key: the constructor below says so
            twice = False
        if twice:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found the key {key!r} twice (the first is at line "
                f"{seen[key].start_mark.line + 1})", key_node.start_mark)
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


def read_yaml(path: str | Path) -> Any:
    """A YAML file's contents (safe loading; a key given twice, bad YAML or an unreadable file is an
    `InputFileError` naming the file and the line)."""
    path = Path(path)
    try:
        return yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise InputFileError(str(path), [f"not valid YAML: {' '.join(str(err).split())}"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(str(path), [f"cannot be read: {err}"]) from None


def load_profile(name_or_path: str) -> Profile:
    """A profile by name (`profiles()`) or by path to a YAML file, checked against the profile schema
    (`cu_core.experiments.validate_profiles.profile_problems`): any problem is an `InputFileError` listing them all."""
    path = profile_path(name_or_path)
    raw = read_yaml(path)
    problems = profile_problems(raw)
    if problems:
        raise InputFileError(f"profile {path}", problems)
    return Profile(raw["name"], raw.get("description", ""), list(raw["seeds"]), dict(raw.get("defaults") or {}),
                   dict(raw["experiments"]))


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
        declared = declared_parameters(spec["template"])
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
