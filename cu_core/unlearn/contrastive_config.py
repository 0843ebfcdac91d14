"""The settings of contrastive unlearning (`ContrastiveConfig`): the authors' code's defaults, its variants, and
the diagnosis mode and remedies of `cu_core.unlearn.contrastive`, whose module doc tells what each does.
Re-exported by `cu_core.unlearn.contrastive`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..losses import NO_POSITIVE, REDUCTIONS, VARIANTS
from ..settings import check_settings, setting
from .spaces import choice, integer, real

RETAIN_SAMPLING = ("random", "sequential")
STOP_RULES = ("val", "test", "fixed", "no_heldout")


@dataclass(frozen=True)
class ContrastiveConfig:
    temperature: float = setting(0.7, "τ in Eq. 5-6", low=0.0, low_open=True)
    lambda_ul: float = setting(3.0, "λ_UL, weight of the contrastive term (Eq. 7)", low=0.0)
    lambda_ce: float = setting(1.0, "λ_CE, weight of the retain cross-entropy (Eq. 7); 0 = the code's loss_ver 1",
                               low=0.0)
    omega: int = setting(4, "ω, retain batches (= optimiser steps) per forget batch", low=1)
    lr: float = setting(1e-3, "SGD learning rate", low=0.0, low_open=True)
    momentum: float = setting(0.9, "SGD momentum", low=0.0, high=1.0, high_open=True)
    weight_decay: float = setting(0.0, "SGD weight decay (the code parses one but never uses it)", low=0.0)
    batch_size: int = setting(0, "B for forget and retain batches; 0: 64 (class task) or 128 (sample task)", low=0)
    max_passes: int = setting(30, "cap on passes over the forget set (the code's README: 30)", low=1)
    variant: str = setting("paper", "paper (Eq. 5-6 as written) | official (the authors' code arithmetic)",
                           choices=VARIANTS)
    reduction: str = setting("mean", "mean over anchors (the code; its lr was tuned for it) | sum (Eq. 5-6 as written)",
                             choices=REDUCTIONS)
    no_positive: str = setting("skip", "sample task, anchor without a same-class retain sample: skip | add_one | none",
                               choices=NO_POSITIVE)
    retain_sampling: str = setting("random", "random (fresh batch with replacement per step) | sequential (the code)",
                                   choices=RETAIN_SAMPLING)
    stop_rule: str = setting("val", "val (held-out validation split) | test (paper/code; leaks test) | fixed | "
                                    "no_heldout (our proposal: forget set vs retain set only, see the module doc)",
                             choices=STOP_RULES)
    self_quantile: float = setting(0.1, "no_heldout, sample task: stop when the forget set's median true-class "
                                        "confidence is at or below this quantile of the retain set's",
                                   low=0.0, high=1.0)
    trace: bool = setting(False, "diagnosis: evaluate the stop condition after every pass but keep going to "
                                 "max_passes; passes.csv then draws the whole curve, with a pass-0 row before "
                                 "unlearning (stop_reason 'traced'; with stop_rule=fixed the held-out set is "
                                 "evaluated as the val rule would)")
    repair_steps: int = setting(0, "remedy A: after the last pass, this many retain-only steps (λ_UL = 0: "
                                   "cross-entropy on fresh random retain batches of size B, same optimiser, "
                                   "momentum buffers cleared) to climb out of the accuracy trough; 0 = the paper",
                                low=0)
    heldout_guard: float = setting(1.0, "remedy B, sample task: the stop counts only when held-out accuracy is at "
                                        "least (its value before unlearning) - guard; 1.0 = no guard, the paper",
                                   low=0.0, high=1.0)
    joint_forward: bool = setting(True, "one forward pass over forget+retain images (the code) or two")
    detach_retain: bool = setting(False, "stop gradients through the retain embeddings in L_UL")
    seed: int = setting(0, "batch order and retain draws", low=0)
    amp: bool = setting(True, "bf16 autocast on CUDA")
    progress: bool = setting(True, "tqdm progress bars")

    def __post_init__(self) -> None:
        check_settings(self)
        if self.heldout_guard < 1.0 and self.stop_rule not in ("val", "test"):
            raise ConfigError("heldout_guard", self.heldout_guard, "a guard needs a held-out accuracy at the stop: "
                              f"stop_rule 'val' or 'test', not {self.stop_rule!r} (or guard 1.0)")

    def batch_size_for(self, task: str) -> int:
        """B: the configured size, else the authors' README value for the task."""
        return self.batch_size or (64 if task == "class" else 128)



_CU = "CU paper §5 and its code's README (τ 0.7, λ_UL 3, ω 4, lr 1e-3, 30 passes): ranges around them"
#: What `tune` searches for CU (`registry.Method.space`): τ, λ_UL, ω, lr and the stop rule (never "test": it
#: reads the test set), with the pass cap the "fixed" rule runs to.
CONTRASTIVE_SPACE = {
    "temperature": real(0.05, 1.0, log=True, source=_CU), "lambda_ul": real(0.1, 10.0, log=True, source=_CU),
    "omega": integer(1, 8, source=_CU), "lr": real(1e-4, 1e-2, log=True, source=_CU),
    "stop_rule": choice("val", "fixed", "no_heldout", source="Eq. 8/9 on validation, a fixed pass count, or ours"),
    "max_passes": integer(5, 30, source=_CU),
}
