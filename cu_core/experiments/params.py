"""Flat notebook parameters → configs, in one place (the templates' "build the config" cell calls this).

A template's `parameters` cell holds flat typed literals (papermill can only pass those); `run_config` maps the
shared ones onto a validated `RunConfig`, and `unlearn_config` builds a method's config from a preset and a
JSON string of overrides. Every default here comes from the config dataclasses themselves.

`check_parameters` checks every parameter a template has, before any work: each template's first code cell calls
it with all of its parameters (so a bad `method_overrides` fails in seconds, not after training the original),
and `python -m cu_core.experiments validate` calls it with every run's parameters without running anything.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ..config import RunConfig
from ..errors import ConfigError, check_choice, check_int, did_you_mean
from ..unlearn import METHODS
from ..unlearn.presets import PRESETS
from .knobs import ablation_plan, parse_variants, with_knob
from .overrides import (RUN_PARAMETERS, _CONFIG_TO_PARAMETER, parse_overrides,  # noqa: F401  (read as params.<name>)
                        run_config, unlearn_config)

#: Every parameter a template may declare (`check_parameters` refuses others, naming the closest).
TEMPLATE_PARAMETERS = (*RUN_PARAMETERS, "preset", "out_dir", "method", "method_overrides", "methods", "variants",
                       "ulira_shadows", "knob", "values", "base_overrides", "forget_sizes", "max_points")


@contextmanager
def _about(parameter: str, *others: str) -> Iterator[None]:
    """Mark a `ConfigError` raised inside with the template parameter being checked (`err.template_parameter`:
    `parameter`, or the one of `others` that the error names), so that `validate` can point at the profile key
    that set it."""
    try:
        yield
    except ConfigError as err:
        if getattr(err, "template_parameter", None) is None:
            err.template_parameter = err.parameter if err.parameter in others else parameter  # type: ignore
        raise


def _text(parameter: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(parameter, value, "expected a string")
    return value


def check_method(parameter: str, method: object, task: str) -> str:
    """`method` is a registered method that supports `task`."""
    check_choice(parameter, method, METHODS)
    if task not in METHODS[method].tasks:
        raise ConfigError(parameter, method, f"a method for {task} tasks: {method!r} supports "
                          f"{', '.join(METHODS[method].tasks)} tasks only")
    return method  # type: ignore[return-value]


def method_names(methods: str, task: str) -> list[str]:
    """'all' → every method that supports `task`; else the comma-separated names, each checked."""
    text = _text("methods", methods)
    if text.strip() == "all":
        return [m for m in METHODS if task in METHODS[m].tasks]
    names = [m.strip() for m in text.split(",")]
    for name in names:
        check_method("methods", name, task)
    if len(set(names)) != len(names):
        raise ConfigError("methods", methods, "each method once")
    return names


def forget_sizes(text: str, cfg: RunConfig) -> list[int]:
    """'50,100' → [50, 100]: forget-set sizes of the sample task, each a valid `num_forget` for `cfg`'s data."""
    sizes = []
    for item in (v.strip() for v in _text("forget_sizes", text).split(",")):
        try:
            size = int(item)
        except ValueError:
            raise ConfigError("forget_sizes", text, "comma-separated integers such as '50,100,200'") from None
        if cfg.split.task == "sample":
            with_knob(cfg, "num_forget", size)  # RunConfig checks the range for the data
        else:
            check_int("forget_sizes", size, 1)
        sizes.append(size)
    return sizes


def check_shadows(value: object) -> int:
    check_int("ulira_shadows", value, 0)
    if value and (value < 8 or value % 2):  # type: ignore[operator]
        raise ConfigError("ulira_shadows", value, "0 (off) or an even integer >= 8 (shadows come in complementary "
                          "pairs)")
    return value  # type: ignore[return-value]


def check_parameters(**values: Any) -> RunConfig:
    """Check every parameter of a template run before any work; returns the run's `RunConfig`.

    Called by each template's first code cell with all of its parameters, and by `python -m cu_core.experiments
    validate` (and `run`, before it starts) with every run's. Checks, by parameter name: the run config
    (`run_config`), `preset`, `out_dir`, `method` (registered, supports the task) with `method_overrides` (a JSON
    object of the method's config fields), `methods`, `variants`, `ulira_shadows`, `knob` with `values` and
    `base_overrides` (every value's config is built), `forget_sizes` and `max_points`. A `ConfigError` names the
    parameter (and carries it as `template_parameter`)."""
    unknown = sorted(set(values) - set(TEMPLATE_PARAMETERS))
    if unknown:
        raise ConfigError(unknown[0], values[unknown[0]], "a template parameter" + did_you_mean(unknown[0],
                          TEMPLATE_PARAMETERS) + ": " + ", ".join(TEMPLATE_PARAMETERS))
    try:
        cfg = run_config(**{k: values[k] for k in RUN_PARAMETERS if k in values})
    except ConfigError as err:
        name = err.parameter.split(".")[-1]
        err.template_parameter = _CONFIG_TO_PARAMETER.get(name, name)  # type: ignore[attr-defined]
        raise
    task, seed = cfg.split.task, cfg.split.seed
    with _about("preset"):
        preset = values.get("preset", "defaults")
        check_choice("preset", preset, PRESETS)
    with _about("out_dir"):
        _text("out_dir", values.get("out_dir", ""))
    if "method" in values:
        with _about("method"):
            check_method("method", values["method"], task)
        with _about("method_overrides"):
            unlearn_config(values["method"], preset=preset, overrides=_text("method_overrides",
                           values.get("method_overrides", "")), seed=seed)
    if "methods" in values:
        with _about("methods"):
            method_names(values["methods"], task)
    if "variants" in values:
        with _about("variants"):
            for name, (method, _) in parse_variants(_text("variants", values["variants"]), preset=preset,
                                                    seed=seed).items():
                check_method(f"variants.{name}.method", method, task)
    if "ulira_shadows" in values:
        with _about("ulira_shadows"):
            check_shadows(values["ulira_shadows"])
    if "knob" in values:
        with _about("knob", "values", "base_overrides"):
            ablation_plan(cfg, _text("knob", values["knob"]), _text("values", values.get("values", "")),
                          preset=preset, base_overrides=_text("base_overrides", values.get("base_overrides", "")))
    if "forget_sizes" in values:
        with _about("forget_sizes"):
            forget_sizes(values["forget_sizes"], cfg)
    if "max_points" in values:
        with _about("max_points"):
            check_int("max_points", values["max_points"], 1)
    return cfg
