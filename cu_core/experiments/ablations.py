"""Ablations of contrastive unlearning (one knob, several values) and the embedding projections of the
geometry template. Every value is validated before the first run starts."""
from __future__ import annotations

import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from ..config import RunConfig
from ..errors import ConfigError, check_name, did_you_mean
from ..metrics import Evaluation
from ..unlearn import ContrastiveConfig
from . import runs
from .params import parse_overrides, unlearn_config


def _field_type(knob: str, cfg: RunConfig) -> type:
    if knob in runs.RUN_KNOBS:
        section, field = runs.RUN_KNOBS[knob]
        return type(getattr(getattr(cfg, section), field))
    hints = typing.get_type_hints(ContrastiveConfig)
    if knob not in hints:
        raise ConfigError("knob", knob, "a ContrastiveConfig field" + did_you_mean(knob, [*hints, *runs.RUN_KNOBS])
                          + " (" + ", ".join(hints) + ") or one of " + ", ".join(runs.RUN_KNOBS))
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
            if knob in runs.RUN_KNOBS:
                run_cfg, overrides = runs.with_knob(cfg, knob, value), base
            else:
                run_cfg, overrides = cfg, {**base, knob: value}
            unlearn_config("contrastive", preset=preset, overrides=overrides)
            name = f"{knob}-{value}"
            check_name("values", name, dots=True)
        plan.append((value, run_cfg, overrides, name))
    if len({name for *_, name in plan}) != len(plan):
        raise ConfigError("values", values, "each value once")
    return plan


def ablation_runs(out: str | Path, cfg: RunConfig, knob: str, values: str, *, preset: str = "defaults",
                  base_overrides: str = "") -> pd.DataFrame:
    """Contrastive unlearning once per value of `knob`; one table row per value (column "value")."""
    rows = []
    for value, run_cfg, overrides, name in ablation_plan(cfg, knob, values, preset=preset,
                                                         base_overrides=base_overrides):
        metrics = runs.unlearning(out, name, run_cfg, "contrastive", preset=preset, overrides=overrides)
        rows.append({"value": value, **runs.flatten(metrics, name)})
    return pd.DataFrame(rows)


def embedding_frames(out: str | Path, cfg: RunConfig, names: list[str], *, max_points: int = 300,
                     seed: int = 0) -> pd.DataFrame:
    """A t-SNE of each sub-run's embeddings (forget set, remaining training set, test set), one per model
    (their embedding spaces differ); column "model" names the sub-run."""
    from ..diagnostics import tsne_frame
    from ..pipeline import prepare

    split = prepare(cfg).split
    frames = []
    for name in names:
        ev = Evaluation.load(runs.run_dir(out, name) / "outputs.npz", split)
        parts = {"forget": ev.part("forget_train"), "retain": ev.part("retain_train"), "test": ev.part("test")}
        frames.append(tsne_frame(parts, max_per_part=max_points, seed=seed).assign(model=name))
    return pd.concat(frames, ignore_index=True)


__all__ = ["ablation_plan", "ablation_runs", "embedding_frames", "parse_values"]
