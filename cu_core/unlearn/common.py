"""Pieces every unlearning method shares: a private copy of the model, the optimiser, one supervised step,
timing, and the per-epoch record. A method module imports these instead of repeating them.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from ..data import Part
from ..metrics import accuracy
from ..runtime import autocast


def private_copy(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A deep copy on `device` in train mode, with float32 weights (float16/bfloat16 weights are upcast: the
    data are float32): methods never modify the caller's model."""
    clone = copy.deepcopy(model).to(device=device, dtype=torch.float32)
    clone.train()
    return clone


def sgd(model: torch.nn.Module, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, where: str) -> float:
    """Backward and one optimiser step; a non-finite loss stops the method with `where` in the message."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise FloatingPointError(f"loss is {value} at {where}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return value


def cross_entropy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool) -> torch.Tensor:
    """Mean cross-entropy of `model` on a batch (B, C, H, W), labels (B,)."""
    with autocast(x.device, amp):
        logits, _ = model(x)
    return F.cross_entropy(logits.float(), y)


class Clock:
    """Seconds spent in the method and in its evaluations, measured apart."""

    def __init__(self) -> None:
        self.seconds = {"unlearn": 0.0, "eval": 0.0}

    @contextmanager
    def __call__(self, kind: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[kind] += time.perf_counter() - start


def epoch_record(model: torch.nn.Module, forget: Part, epoch: int, steps: int, amp: bool) -> dict[str, float]:
    """One row of `UnlearnResult.passes`: the forget-set accuracy after an epoch."""
    return {"pass": epoch, "steps": steps, "forget_acc": accuracy(model, forget.data, forget.indices, amp=amp)}
