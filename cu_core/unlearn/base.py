"""What every unlearning method returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass
class UnlearnResult:
    """The unlearned model (a copy; the caller's model is untouched) and how it got there."""

    model: nn.Module
    history: list[dict[str, Any]]  # one row per gradient step: pass, step, loss, loss_ul, loss_ce
    passes: list[dict[str, Any]]  # one row per pass over the forget set: forget/held-out accuracy, check
    stop_reason: str  # "condition" (Eq. 8/9 met), "max_passes" or "fixed_passes"
    steps: int  # optimiser steps
    seconds: dict[str, float] = field(default_factory=dict)  # {"unlearn": ..., "eval": ...}, measured apart
    samples: int = 0  # examples through forward + backward (forget and retain), for cost comparisons

    @property
    def epochs(self) -> int:
        """Passes over the forget set."""
        return len(self.passes)
