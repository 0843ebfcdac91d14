"""Every unlearning method under one interface, registered by name.

    unlearn(name, model, forget, retain, val, config=None, *, task, num_classes) -> UnlearnResult

`forget`, `retain` and `val` are `Part`s of the training array (val: the held-out validation split, for
stopping rules and tuning). A method declares the tasks it supports; asking a class-only method for a sample
task is a `ConfigError` before any work. No method modifies the caller's model.

Numerics: a model with float16/bfloat16 (or float64) weights is unlearned as a float32 copy (the data are
float32; mixed precision is the `amp` setting's job), so the result has float32 weights. A method that meets a
non-finite loss stops with a `FloatingPointError` naming where (pass/epoch and step); `unlearn` adds the method
and its hyperparameters to the message, and refuses a result whose weights are not all finite the same way
(e.g. a last step whose gradient overflowed), so no such model reaches an evaluation or a results folder.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..data import Part
from ..errors import ConfigError, check_choice, check_int
from .base import UnlearnResult
from .contrastive import ContrastiveConfig, contrastive_unlearn, stopping_set
from .contrastive_config import CONTRASTIVE_SPACE
from .spaces import Param, check_space

MethodFn = Callable[..., UnlearnResult]


ACTS_ON = ("representation", "output", "input", "weights", "retain data only", "reference", "other")


@dataclass(frozen=True)
class Method:
    """Every fact about a method that the command line, the driver, the schema and the book read."""

    name: str
    tasks: tuple[str, ...]  # "class", "sample"
    config: type  # a frozen dataclass with validated defaults
    run: MethodFn  # run(model, forget, retain, val, config, *, task, num_classes) -> UnlearnResult
    summary: str
    acts_on: str = "other"  # where it acts (`ACTS_ON`): the book groups the methods by it
    paper_name: str | None = None  # its name in the paper's tables and Figure 2, when it is there
    reference: bool = False  # a reference like Retrain: the original's training recipe, no preset, no method flags
    display: str | None = None  # its one spelling in the book's text, tables and legends (None: `name`)
    space: Mapping[str, Param] = field(default_factory=dict)  # what `tune` searches (`spaces`); {}: not tuned

    @property
    def display_name(self) -> str:
        """The name the book prints: `display`, else the registry name."""
        return self.display or self.name


METHODS: dict[str, Method] = {}



def register(method: Method) -> Method:
    check_choice(f"acts_on of method {method.name!r}", method.acts_on, ACTS_ON)
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is registered twice")
    check_space(method.name, method.config, method.space)
    METHODS[method.name] = method
    return method


def method_config(name: str, **overrides: Any) -> Any:
    """The method's config with `overrides` (validated)."""
    check_choice("method", name, METHODS)
    return METHODS[name].config(**overrides)


def unlearn(name: str, model: torch.nn.Module, forget: Part, retain: Part, val: Part, config: Any = None, *,
            task: str, num_classes: int) -> UnlearnResult:
    """Run method `name`; `config` defaults to the method's defaults."""
    check_choice("method", name, METHODS)
    method = METHODS[name]
    check_choice("task", task, ("class", "sample"))
    if task not in method.tasks:
        raise ConfigError("task", task, f"method {name!r} supports {', '.join(method.tasks)} tasks only")
    check_int("num_classes", num_classes, 2)
    config = method.config() if config is None else config
    if not isinstance(config, method.config):
        raise ConfigError("config", type(config).__name__, f"a {method.config.__name__} for method {name!r}")
    model = float32_model(model)
    try:
        result = method.run(model, forget, retain, val, config, task=task, num_classes=num_classes)
    except FloatingPointError as err:
        raise FloatingPointError(with_hyperparameters(str(err), name, config)) from err
    bad = non_finite_parameters(result.model)
    if bad:
        raise FloatingPointError(with_hyperparameters(
            f"{name} produced non-finite weights ({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}) after "
            f"step {result.steps}, its last", name, config))
    return result


def float32_model(model: Any) -> Any:
    """`model` itself when its floating-point weights and buffers are float32, else a float32 copy (the
    caller's model is never modified)."""
    if not isinstance(model, torch.nn.Module):
        return model
    tensors = [*model.parameters(), *model.buffers()]
    if all(t.dtype == torch.float32 for t in tensors if t.is_floating_point()):
        return model
    return copy.deepcopy(model).float()


def non_finite_parameters(model: Any) -> list[str]:
    """Names of the parameters of `model` holding NaN or ±inf (empty: all finite, or not a module)."""
    if not isinstance(model, torch.nn.Module):
        return []
    with torch.no_grad():
        return [n for n, p in model.named_parameters() if p.is_floating_point() and not bool(torch.isfinite(p).all())]


def hyperparameters(config: Any) -> str:
    """A method config as 'name=value, ...' for messages."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        items = dataclasses.asdict(config).items()
    elif isinstance(config, dict):
        items = config.items()
    else:
        return repr(config)
    return ", ".join(f"{k}={v!r}" for k, v in items)


def with_hyperparameters(message: str, name: str, config: Any) -> str:
    """`message` with the method and its hyperparameters appended (once)."""
    if "hyperparameters:" in message:
        return message
    return f"{message} (method {name!r}, hyperparameters: {hyperparameters(config)})"


def _contrastive(model, forget, retain, val, config: ContrastiveConfig, *, task, num_classes):
    """Contrastive unlearning; its held-out set for Eq. 8/9 is `val` (the class task: its forgotten-class part)."""
    return contrastive_unlearn(model, forget, retain, config=config, heldout=stopping_set(val, forget, task),
                               task=task, num_classes=num_classes)


register(Method("contrastive", ("class", "sample"), ContrastiveConfig, _contrastive,
                "Contrastive unlearning (Lee et al.): Eq. 5-7, Algorithm 1, stopping by Eq. 8/9",
                acts_on="representation", paper_name="Contrastive", display="CU", space=CONTRASTIVE_SPACE))


def _register_all(*modules: Any) -> None:
    """Register the `METHODS` tuples (name, tasks, config, run, summary[, {display, acts_on, paper_name,
    reference, space}]) of the method modules."""
    for module in modules:
        for name, tasks, config, run, summary, *facts in module.METHODS:
            register(Method(name, tasks, config, run, summary, **(facts[0] if facts else {})))


from . import (boundary_methods, gradient_methods, importance_methods, lcodec,  # noqa: E402  (none imports
               retrain, teacher_methods)  # this module)

_register_all(retrain, gradient_methods, teacher_methods, importance_methods, lcodec, boundary_methods)


def paper_names() -> dict[str, str]:
    """The paper's column and legend names → method names (its reference column "Retrain (ref)" is Retrain)."""
    names = {m.paper_name: name for name, m in METHODS.items() if m.paper_name}
    return {**names, **{f"{m.paper_name} (ref)": name for name, m in METHODS.items() if m.reference and m.paper_name}}


PAPER_NAMES = paper_names()  # of the methods registered above
