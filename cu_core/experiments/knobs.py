"""What one template parameter can vary: the ablation knobs (a `ContrastiveConfig` field or one of `RUN_KNOBS`)
with their values (`ablation_plan`, every value's config built before the first run), and extra sub-runs
(`parse_variants`). Re-exported by `cu_core.experiments.runs` and `cu_core.experiments.ablations`.
"""
from __future__ import annotations

import dataclasses
import typing
from contextlib import contextmanager
from typing import Any, Iterator

from ..config import RunConfig
from ..errors import ConfigError, check_name, did_you_mean
from ..unlearn import METHODS, ContrastiveConfig
from .overrides import parse_overrides, unlearn_config

# Ablation knobs: the field of ContrastiveConfig, or of the RunConfig section, each one changes.
RUN_KNOBS = {"num_forget": ("split", "num_forget"), "head": ("model", "head"), "model": ("model", "name"),
             "forget_selection": ("split", "forget_selection")}


def with_knob(cfg: RunConfig, knob: str, value: Any) -> RunConfig:
    """`cfg` with one RunConfig knob (`RUN_KNOBS`) changed."""
    section, field = RUN_KNOBS[knob]
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **{field: value})})


def parse_variants(text: str, *, preset: str = "defaults", seed: int = 0) -> dict[str, tuple[str, dict[str, Any]]]:
    """Extra sub-runs of a template: a JSON object `{"name": {"method": M, field: value, ...}}` → {name: (M,
    overrides)}, every config built once here so that a bad name, method or field fails before any training."""
    variants: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, spec in parse_overrides(text, "variants").items():
        if not (isinstance(name, str) and name.replace("_", "").isalnum()):
            raise ConfigError("variants", name, "sub-run names of letters, digits and underscores")
        if name in METHODS or name == "original":
            raise ConfigError("variants", name, "a name that is not a method's own sub-run")
        if not isinstance(spec, dict) or spec.get("method") not in METHODS:
            raise ConfigError(f"variants.{name}", spec, "an object with a 'method' among " + ", ".join(METHODS))
        overrides = {k: v for k, v in spec.items() if k != "method"}
        unlearn_config(spec["method"], preset=preset, overrides=overrides, seed=seed)
        variants[name] = (spec["method"], overrides)
    return variants


def _field_type(knob: str, cfg: RunConfig) -> type:
    if knob in RUN_KNOBS:
        section, field = RUN_KNOBS[knob]
        return type(getattr(getattr(cfg, section), field))
    hints = typing.get_type_hints(ContrastiveConfig)
    if knob not in hints:
        raise ConfigError("knob", knob, "a ContrastiveConfig field" + did_you_mean(knob, [*hints, *RUN_KNOBS])
                          + " (" + ", ".join(hints) + ") or one of " + ", ".join(RUN_KNOBS))
    return hints[knob]


def parse_values(knob: str, values: str, cfg: RunConfig) -> list[Any]:
    """'0.1,0.5' → [0.1, 0.5], typed like the knob's field (bool: true/false)."""
    kind = _field_type(knob, cfg)
    out = []
    for text in (v.strip() for v in values.split(",") if v.strip()):
        try:
            out.append(text.lower() in ("1", "true", "yes") if kind is bool else kind(text))
        except ValueError:
            raise ConfigError("values", text, f"values of type {kind.__name__} for knob {knob!r}") from None
    if not out:
        raise ConfigError("values", values, "at least one comma-separated value")
    return out


@contextmanager
def _from(parameter: str) -> Iterator[None]:
    """Mark a `ConfigError` raised inside as coming from the template parameter `parameter`."""
    try:
        yield
    except ConfigError as err:
        err.template_parameter = parameter  # type: ignore[attr-defined]
        raise


def ablation_plan(cfg: RunConfig, knob: str, values: str, *, preset: str = "defaults",
                  base_overrides: str = "") -> list[tuple[Any, RunConfig, dict[str, Any], str]]:
    """(value, run config, overrides, sub-run name) per value of `knob`, every config built (so validated) before
    any run starts; the sub-run names are checked to be safe folder names."""
    base = parse_overrides(base_overrides, "base_overrides")
    _field_type(knob, cfg)  # a known knob
    if knob in base:
        raise ConfigError("base_overrides", base_overrides, f"overrides of other fields than the knob {knob!r} (its "
                          "values come from `values`)")
    with _from("base_overrides"):
        unlearn_config("contrastive", preset=preset, overrides=base)
    plan = []
    for value in parse_values(knob, values, cfg):
        with _from("values"):  # every value's config is built (validated) before the first run starts
            if knob in RUN_KNOBS:
                run_cfg, overrides = with_knob(cfg, knob, value), base
            else:
                run_cfg, overrides = cfg, {**base, knob: value}
            unlearn_config("contrastive", preset=preset, overrides=overrides)
            name = f"{knob}-{value}"
            check_name("values", name, dots=True)
        plan.append((value, run_cfg, overrides, name))
    if len({name for *_, name in plan}) != len(plan):
        raise ConfigError("values", values, "each value once")
    return plan
