"""The training loop the gradient baselines share (`EpochLoop`): a private copy of the model trained for a fixed
number of epochs, each epoch a sequence of optimiser steps that the method yields, with the clock (unlearning
apart from evaluation), one history row per step and the forget-set accuracy after each epoch.

Users: Finetune, NegGrad, NegGrad+, Random Label, ℓ1-sparse, SalUn (`gradient_methods`), Bad Teacher
(`teacher_methods`), Boundary Shrink and Expanding (`boundary_methods`) and UNSIR (`unsir`). SCRUB keeps a loop of
its own: an epoch-wise learning-rate schedule and two kinds of steps whose history rows are filled after the step.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import Part
from ..errors import ConfigError, check_choice
from ..runtime import seed_everything
from .base import UnlearnResult
from .common import Clock, epoch_record, private_copy, step

Steps = Iterator[tuple[int, torch.Tensor, dict[str, Any]]]  # (examples, loss, extra history fields) per step


class EpochLoop:
    """A private copy of `model` (seeded by `cfg.seed`: `generator`), its clock, per-step history and per-epoch
    forget accuracy. `tasks`: the tasks the method supports; a class-only method refuses the sample task."""

    def __init__(self, name: str, model: nn.Module, forget: Part, retain: Part, cfg: Any, task: str,
                 tasks: tuple[str, ...] = ("class", "sample")) -> None:
        if tasks == ("class",) and task != "class":
            raise ConfigError("task", task, f"'class' ({name} forgets whole classes)")
        check_choice("task", task, tasks)
        for part_name, part in (("forget", forget), ("retain", retain)):
            if len(part) == 0:
                raise ConfigError(part_name, 0, f"a non-empty {part_name} set")
        self.name, self.forget, self.cfg = name, forget, cfg
        self.generator = seed_everything(cfg.seed)
        self.original, self.model = model, private_copy(model, forget.data.device)
        self.clock, self.history, self.passes, self.steps, self.samples = Clock(), [], [], 0, 0

    def fit(self, optimizer: torch.optim.Optimizer, epochs: int, epoch_steps: Callable[[int], Steps],
            phase: str = "") -> None:
        """`epochs` epochs of the steps `epoch_steps(epoch)` yields (examples, loss, extra history fields), each
        an optimiser step; BatchNorm stays in eval mode when the config says `bn_stats=False`."""
        label = f"{self.name} {phase}".strip()
        for epoch in tqdm(range(1, epochs + 1), desc=label, unit="epoch", disable=not self.cfg.progress):
            with self.clock("unlearn"):
                self.model.train()
                if not getattr(self.cfg, "bn_stats", True):
                    for m in self.model.modules():
                        if isinstance(m, nn.modules.batchnorm._BatchNorm):
                            m.eval()
                for n, loss, extra in epoch_steps(epoch):
                    value = step(self.model, optimizer, loss, f"{label} epoch {epoch} step {self.steps + 1}")
                    self.steps, self.samples = self.steps + 1, self.samples + n
                    self.history.append({"pass": len(self.passes) + 1, "step": self.steps, "loss": value,
                                         **({"phase": phase} if phase else {}), **extra})
            with self.clock("eval"):
                self.passes.append(epoch_record(self.model, self.forget, len(self.passes) + 1, self.steps,
                                                self.cfg.amp))

    def result(self) -> UnlearnResult:
        self.model.eval()
        return UnlearnResult(self.model, self.history, self.passes, "fixed_passes", self.steps, self.clock.seconds,
                             self.samples)
