"""Flat notebook parameters → configs (the base of the driver's parameter handling): `run_config` maps the shared
template parameters onto a validated `RunConfig`; `unlearn_config` builds a method's config from its public
defaults, a preset (`cu_core.unlearn.presets`) and a JSON string of overrides. Every default comes from the config
dataclasses themselves. Re-exported by `cu_core.experiments.params`.
"""
from __future__ import annotations

import json
from typing import Any

from ..config import RunConfig
from ..errors import ConfigError, check_choice, did_you_mean
from ..unlearn import METHODS, method_config
from ..unlearn.presets import method_settings

#: Template parameters → run_config's keyword arguments (the same names).
RUN_PARAMETERS = ("dataset", "data_source", "model", "head", "train_epochs", "train_select", "train_bf16", "task",
                  "forget_class", "num_forget", "forget_selection", "seed", "device")
#: The config field a `run_config` error names → the template parameter that set it.
_CONFIG_TO_PARAMETER = {"source": "data_source", "epochs": "train_epochs", "select": "train_select",
                        "cpu_bf16": "train_bf16", "name": "model"}


def run_config(*, dataset: str = "digits", data_source: str = "auto", model: str = "cnn4", head: str = "supcon",
               train_epochs: int = 30, task: str = "class", forget_class: int = 5, num_forget: int = 100,
               forget_selection: str = "random", seed: int = 0, device: str = "auto", train_select: str = "best_val",
               train_bf16: bool = False, progress: bool = False) -> RunConfig:
    """The run's `RunConfig`: one seed for the split and the training of the original and Retrain.

    `train_select` and `train_bf16` are `TrainConfig.select` and `TrainConfig.cpu_bf16`."""
    return RunConfig.from_dict({
        "data": {"dataset": dataset, "source": data_source},
        "model": {"name": model, "head": head},
        "split": {"task": task, "forget_class": forget_class, "num_forget": num_forget,
                  "forget_selection": forget_selection, "seed": seed},
        "train": {"epochs": train_epochs, "seed": seed, "device": device, "select": train_select,
                  "cpu_bf16": train_bf16, "progress": progress},
    })


def parse_overrides(text: str, parameter: str = "method_overrides") -> dict[str, Any]:
    """A JSON object of config overrides, e.g. '{"lr": 0.01}'; '' means none."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as err:
        raise ConfigError(parameter, text, f"a JSON object such as '{{\"lr\": 0.01}}' ({err})") from None
    if not isinstance(value, dict):
        raise ConfigError(parameter, text, "a JSON object such as '{\"lr\": 0.01}'")
    return value


def unlearn_config(method: str, *, preset: str = "defaults", overrides: dict[str, Any] | str = "",
                   seed: int = 0, progress: bool = False) -> Any:
    """`method`'s config: its public defaults, then the `preset`'s settings, then `overrides` (validated).

    Retrain has no config of its own (the original's recipe): returns None, and overrides are refused."""
    check_choice("method", method, METHODS)
    extra = parse_overrides(overrides) if isinstance(overrides, str) else dict(overrides)
    if METHODS[method].reference:
        if extra:
            raise ConfigError("method_overrides", extra, f"none for {method}: it uses the original model's recipe "
                              "(set train_epochs instead)")
        return None
    settings = {**method_settings(method, preset), **extra}
    fields = METHODS[method].config.__dataclass_fields__
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise ConfigError("method_overrides", unknown, f"fields of {METHODS[method].config.__name__}"
                          f"{did_you_mean(unknown[0], fields)}: " + ", ".join(fields))
    base = {k: v for k, v in (("seed", seed), ("progress", progress)) if k in fields}
    return method_config(method, **{**base, **settings})
