"""The stopping side of contrastive unlearning (`cu_core.unlearn.contrastive`): the termination check after a
pass (Eq. 8/9 and our `no_heldout` rule), the held-out guard (remedy B) and the retain-only repair steps
(remedy A). `contrastive_unlearn` calls these; they hold no state of their own.
"""
from __future__ import annotations

from typing import Any

import torch

from ..data import Part
from ..errors import ConfigError
from ..metrics import accuracy, model_outputs
from .common import cross_entropy, step


def stopping_set(heldout: Part, forget: Part, task: str) -> Part:
    """What Eq. 8/9 evaluates besides the forget set: for a class task the held-out images of the forgotten
    class (Eq. 8), for a sample task the whole held-out set (Eq. 9)."""
    if task == "sample":
        return heldout
    return Part(heldout.data, heldout.indices[heldout.labels == forget.labels[0]], f"{heldout.name}_forget")


def check_run(cfg: Any, task: str, heldout: Part) -> None:
    """Refuse, before any work, a remedy or diagnosis the run's task or held-out set cannot support."""
    if cfg.heldout_guard < 1.0 and task == "class":
        # Eq. 8's held-out set is the forgotten class's held-out images, whose accuracy must *fall* to 1/C:
        # a floor on it contradicts the rule, and the other classes' held-out images never reach this function.
        raise ConfigError("heldout_guard", cfg.heldout_guard, "a guard applies to the sample task (Eq. 9) only; "
                          "the class task's held-out set is the forgotten class, whose accuracy must fall: use 1.0")
    rule = check_rule(cfg)
    if rule in ("val", "test") and len(heldout) == 0:
        what = "trace with stop_rule='fixed' evaluates the held-out set" if cfg.stop_rule == "fixed" else \
            f"stop_rule={cfg.stop_rule!r}"
        raise ConfigError("heldout", 0, f"a non-empty held-out set for {what}")


def check_rule(cfg: Any) -> str:
    """The rule the check after each pass evaluates: `stop_rule`, except that a traced `fixed` run evaluates
    the held-out set as the `val` rule would (so its curve has both lines; it still never stops)."""
    return "val" if cfg.trace and cfg.stop_rule == "fixed" else cfg.stop_rule


def check_condition(model: torch.nn.Module, forget: Part, heldout: Part, cfg: Any, task: str, num_classes: int,
                    retain: Part | None = None, generator: torch.Generator | None = None, *,
                    rule: str | None = None) -> dict[str, Any]:
    """The termination condition after a pass: Eq. 8 (class task) or Eq. 9 (sample task), or `no_heldout`.

    Returns {forget_acc, heldout_acc, threshold, condition_met}; `rule` defaults to `cfg.stop_rule`."""
    rule = cfg.stop_rule if rule is None else rule
    forget_acc = accuracy(model, forget.data, forget.indices, amp=cfg.amp)
    if rule == "fixed":
        return {"forget_acc": forget_acc, "heldout_acc": None, "threshold": None, "condition_met": False}
    if rule == "no_heldout":
        if task == "class":  # Eq. 8 on the forget set itself
            threshold = 1.0 / num_classes
            return {"forget_acc": forget_acc, "heldout_acc": None, "threshold": threshold,
                    "condition_met": forget_acc <= threshold}
        size = min(len(forget), len(retain), 2048)
        pick = torch.randperm(len(retain), generator=generator)[:size].numpy()
        median = float(true_class_confidence(model, forget, cfg.amp).median())
        threshold = float(torch.quantile(true_class_confidence(model, Part(retain.data, retain.indices[pick]),
                                                               cfg.amp), cfg.self_quantile))
        return {"forget_acc": forget_acc, "heldout_acc": median, "threshold": threshold,
                "condition_met": median <= threshold}
    heldout_acc = accuracy(model, heldout.data, heldout.indices, amp=cfg.amp)
    if task == "class":  # Eq. 8: Acc(held-out forget-class images) <= 1/C
        threshold = 1.0 / num_classes
        met = heldout_acc <= threshold
    else:  # Eq. 9: Acc(forget) <= Acc(held-out)
        threshold = heldout_acc
        met = forget_acc <= heldout_acc
    return {"forget_acc": forget_acc, "heldout_acc": heldout_acc, "threshold": threshold, "condition_met": met}


def guarded(row: dict[str, Any], floor: float | None) -> dict[str, Any]:
    """Remedy B on one check row: with a floor, `condition_met` also needs heldout_acc ≥ floor; the paper's
    condition alone stays in `paper_condition` and the floor in `heldout_floor`. No floor: the row as is."""
    if floor is None:
        return row
    return {**row, "condition_met": bool(row["condition_met"] and row["heldout_acc"] >= floor),
            "paper_condition": row["condition_met"], "heldout_floor": floor}


def repair(model: torch.nn.Module, optimizer: torch.optim.Optimizer, retain: Part, *, steps: int,
           batch_size: int, generator: torch.Generator, amp: bool, after_pass: int,
           first_step: int) -> tuple[list[dict[str, Any]], int]:
    """Remedy A: `steps` optimiser steps of plain cross-entropy (Eq. 7 with λ_UL = 0 and weight 1) on fresh
    random retain batches of `batch_size`, in train mode, with the run's optimiser (same lr, momentum, weight
    decay) whose momentum buffers are cleared first: carried over, the last unlearning steps' velocity keeps
    pushing the model down the trough for the first ~1/(1 − momentum) repair steps (digits, sample task, lr 0.01,
    λ_UL 10, stop at pass 2 with val 0.646: 4 repair steps gave val 0.292 carried, 0.896 cleared).

    Returns the history rows (pass `after_pass`, phase "repair", global step numbers from `first_step`) and the
    examples processed."""
    rows: list[dict[str, Any]] = []
    optimizer.state.clear()  # momentum buffers: the unlearning steps' velocity would carry the model further down
    model.train()
    for k in range(steps):
        x_r, y_r = retain.random_batch(batch_size, generator)
        value = step(model, optimizer, cross_entropy(model, x_r, y_r, amp),
                     f"contrastive unlearning, repair step {first_step + k}")
        rows.append({"pass": after_pass, "step": first_step + k, "phase": "repair", "loss": value,
                     "loss_ce": value})
    return rows, steps * batch_size


def true_class_confidence(model: torch.nn.Module, part: Part, amp: bool = True) -> torch.Tensor:
    """p_y(x), the softmax probability of each sample's own label: (len(part),) float32 on the CPU."""
    out = model_outputs(model, part.data, part.indices, amp=amp)
    probs = torch.softmax(torch.as_tensor(out.logits).float(), dim=1)
    return probs[torch.arange(len(probs)), torch.as_tensor(out.labels)]
