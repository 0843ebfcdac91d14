"""Contrastive unlearning, Algorithm 1 of Lee et al. (arXiv:2401.10458 v1).

For each forget batch X_u, ω retain batches X_r of the same size are drawn; each gives one optimiser step on
Eq. 7: λ_UL·L_UL(z_u, z_r) + λ_CE·CE(H(z_r), y_r), with L_UL Eq. 5 (sample task) or Eq. 6 (class task).
After each pass over the forget set the termination condition is checked (`stop_rule`):

* class task, Eq. 8: Acc(held-out images of the forgotten class) ≤ 1/C;
* sample task, Eq. 9: Acc(forget set) ≤ Acc(held-out set).

Held-out means the validation split carved from the training data (`stop_rule="val"`, the default); the
paper's and the code's rule evaluates on the test set (`"test"`, a named variant that leaks the test set
into the stopping point); `"fixed"` runs `max_passes` passes without a check. `"no_heldout"` is our proposal for
when no held-out data exists (the paper has none): class task, Acc(forget set) ≤ 1/C on the *training* images of
the forgotten class; sample task, the forget set's median true-class confidence p_y(x) falls to the
`self_quantile` quantile of the retain set's (on a random retain subset of the forget set's size, at most 2,048):
the forget samples then look like the least confidently fitted training members, as unseen samples do.

Defaults are the authors' code: τ 0.7, λ_UL 3, λ_CE 1, ω 4, plain SGD (lr 1e-3, momentum 0.9, no weight
decay, no schedule), batch 64 for the class task and 128 for the sample task, at most 30 passes.
Variants of the code: `variant="official"` (its loss arithmetic, see `cu_core.losses`),
`retain_sampling="sequential"` (every forget batch meets the same first ω·B retain samples in dataset order,
and forget batches come in dataset order), `joint_forward` (one forward pass over forget and retain images
together in train mode, as the code does; False: two passes).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from ..config import setting
from ..data import Part
from ..errors import ConfigError, check_bool, check_choice, check_float, check_int
from ..losses import NO_POSITIVE, REDUCTIONS, VARIANTS, total_loss, unlearning_loss
from ..metrics import accuracy, model_outputs
from ..runtime import autocast, seed_everything
from .base import UnlearnResult

RETAIN_SAMPLING = ("random", "sequential")
STOP_RULES = ("val", "test", "fixed", "no_heldout")


@dataclass(frozen=True)
class ContrastiveConfig:
    temperature: float = setting(0.7, "τ in Eq. 5-6")
    lambda_ul: float = setting(3.0, "λ_UL, weight of the contrastive term (Eq. 7)")
    lambda_ce: float = setting(1.0, "λ_CE, weight of the retain cross-entropy (Eq. 7); 0 = the code's loss_ver 1")
    omega: int = setting(4, "ω, retain batches (= optimiser steps) per forget batch")
    lr: float = setting(1e-3, "SGD learning rate")
    momentum: float = setting(0.9, "SGD momentum")
    weight_decay: float = setting(0.0, "SGD weight decay (the code parses one but never uses it)")
    batch_size: int = setting(0, "B for forget and retain batches; 0: 64 (class task) or 128 (sample task)")
    max_passes: int = setting(30, "cap on passes over the forget set (the code's README: 30)")
    variant: str = setting("paper", "paper (Eq. 5-6 as written) | official (the authors' code arithmetic)")
    reduction: str = setting("mean", "mean over anchors (the code; its lr was tuned for it) | sum (Eq. 5-6 as written)")
    no_positive: str = setting("skip", "sample task, anchor without a same-class retain sample: skip | add_one | none")
    retain_sampling: str = setting("random", "random (fresh batch with replacement per step) | sequential (the code)")
    stop_rule: str = setting("val", "val (held-out validation split) | test (paper/code; leaks test) | fixed | "
                                    "no_heldout (our proposal: forget set vs retain set only, see the module doc)")
    self_quantile: float = setting(0.1, "no_heldout, sample task: stop when the forget set's median true-class "
                                        "confidence is at or below this quantile of the retain set's")
    joint_forward: bool = setting(True, "one forward pass over forget+retain images (the code) or two")
    detach_retain: bool = setting(False, "stop gradients through the retain embeddings in L_UL")
    seed: int = setting(0, "batch order and retain draws")
    amp: bool = setting(True, "bf16 autocast on CUDA")
    progress: bool = setting(True, "tqdm progress bars")

    def __post_init__(self) -> None:
        check_float("temperature", self.temperature, 0.0, low_open=True)
        check_float("lambda_ul", self.lambda_ul, 0.0)
        check_float("lambda_ce", self.lambda_ce, 0.0)
        check_int("omega", self.omega, 1)
        check_float("lr", self.lr, 0.0, low_open=True)
        check_float("momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_int("batch_size", self.batch_size, 0)
        check_int("max_passes", self.max_passes, 1)
        check_choice("variant", self.variant, VARIANTS)
        check_choice("reduction", self.reduction, REDUCTIONS)
        check_choice("no_positive", self.no_positive, NO_POSITIVE)
        check_choice("retain_sampling", self.retain_sampling, RETAIN_SAMPLING)
        check_choice("stop_rule", self.stop_rule, STOP_RULES)
        check_float("self_quantile", self.self_quantile, 0.0, 1.0)
        for name in ("joint_forward", "detach_retain", "amp", "progress"):
            check_bool(name, getattr(self, name))
        check_int("seed", self.seed, 0)

    def batch_size_for(self, task: str) -> int:
        """B: the configured size, else the authors' README value for the task."""
        return self.batch_size or (64 if task == "class" else 128)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stopping_set(heldout: Part, forget: Part, task: str) -> Part:
    """What Eq. 8/9 evaluates besides the forget set: for a class task the held-out images of the forgotten
    class (Eq. 8), for a sample task the whole held-out set (Eq. 9)."""
    if task == "sample":
        return heldout
    return Part(heldout.data, heldout.indices[heldout.labels == forget.labels[0]], f"{heldout.name}_forget")


def contrastive_unlearn(model: torch.nn.Module, forget: Part, retain: Part, *, config: ContrastiveConfig,
                        heldout: Part, task: str, num_classes: int) -> UnlearnResult:
    """Algorithm 1 on a copy of `model`.

    Args:
        model: returns (logits (B, C), z (B, d)); not modified.
        forget: D^u_tr; retain: D^r_tr.
        heldout: what the stopping rule evaluates besides the forget set: the held-out images of the
            forgotten class (class task, Eq. 8) or a held-out set of all classes (sample task, Eq. 9).
        task: "class" or "sample".
        num_classes: C in Eq. 8.
    """
    check_choice("task", task, ("class", "sample"))
    if len(forget) == 0:
        raise ConfigError("forget", 0, "a non-empty forget set")
    if len(retain) == 0:
        raise ConfigError("retain", 0, "a non-empty retain set")
    if task == "class" and len(set(forget.labels.tolist())) != 1:
        raise ConfigError("forget", sorted(set(forget.labels.tolist())), "a class task forgets one class: the "
                          "forget set must hold a single label")
    if config.stop_rule not in ("fixed", "no_heldout") and len(heldout) == 0:
        raise ConfigError("heldout", 0, f"a non-empty held-out set for stop_rule={config.stop_rule!r}")
    cfg = config
    device = forget.data.device
    batch_size = cfg.batch_size_for(task)
    generator = seed_everything(cfg.seed)
    model = copy.deepcopy(model).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sequential = cfg.retain_sampling == "sequential"
    history: list[dict[str, Any]] = []
    passes: list[dict[str, Any]] = []
    steps = samples = 0
    seconds = {"unlearn": 0.0, "eval": 0.0}
    stop_reason = "fixed_passes" if cfg.stop_rule == "fixed" else "max_passes"
    bar = tqdm(total=cfg.max_passes, desc=f"contrastive unlearning ({task})", unit="pass", disable=not cfg.progress)
    for pass_no in range(1, cfg.max_passes + 1):
        start = time.perf_counter()
        model.train()
        for x_u, y_u in forget.batches(batch_size, shuffle=not sequential, generator=generator):
            for k in range(cfg.omega):
                if sequential:  # the code: retain batch k of a fresh in-order iterator, cut to the forget batch
                    x_r, y_r = retain.take(k * batch_size, k * batch_size + len(y_u))
                else:
                    x_r, y_r = retain.random_batch(len(y_u), generator)
                try:
                    terms = _step(model, optimizer, x_u, y_u, x_r, y_r, cfg, task, device)
                except FloatingPointError as err:  # e.g. no_positive="none" and an anchor without positives
                    raise FloatingPointError(f"contrastive unlearning stopped at pass {pass_no}, step {steps + 1}: "
                                             f"{err}") from err
                steps += 1
                samples += len(y_u) + len(y_r)
                if not all(math.isfinite(v) for v in terms.values()):
                    raise FloatingPointError(f"contrastive unlearning loss is not finite at pass {pass_no}, step "
                                             f"{steps}: {terms}")
                history.append({"pass": pass_no, "step": steps, **terms})
        seconds["unlearn"] += time.perf_counter() - start
        start = time.perf_counter()
        row = _check(model, forget, heldout, cfg, task, num_classes, retain, generator)
        seconds["eval"] += time.perf_counter() - start
        passes.append({"pass": pass_no, "steps": steps, **row})
        bar.update(1)
        bar.set_postfix(forget_acc=f"{row['forget_acc']:.3f}")
        if row["condition_met"]:
            stop_reason = "condition"
            break
    bar.close()
    model.eval()
    return UnlearnResult(model, history, passes, stop_reason, steps, seconds, samples)


def _step(model, optimizer, x_u, y_u, x_r, y_r, cfg: ContrastiveConfig, task: str, device) -> dict[str, float]:
    """One optimiser step on Eq. 7 for forget batch (x_u, y_u) and retain batch (x_r, y_r)."""
    with autocast(device, cfg.amp):
        if cfg.joint_forward:
            logits, z = model(torch.cat([x_u, x_r]))
            z_u, z_r, logits_r = z[:len(y_u)], z[len(y_u):], logits[len(y_u):]
        else:
            _, z_u = model(x_u)
            logits_r, z_r = model(x_r)
    z_u, z_r, logits_r = z_u.float(), z_r.float(), logits_r.float()
    loss_ul = unlearning_loss(task, z_u, y_u, z_r.detach() if cfg.detach_retain else z_r, y_r,
                              temperature=cfg.temperature, reduction=cfg.reduction, variant=cfg.variant,
                              no_positive=cfg.no_positive)
    loss, terms = total_loss(loss_ul, logits_r, y_r, lambda_ul=cfg.lambda_ul, lambda_ce=cfg.lambda_ce)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return terms


def _check(model, forget: Part, heldout: Part, cfg: ContrastiveConfig, task: str, num_classes: int,
           retain: Part | None = None, generator: torch.Generator | None = None) -> dict[str, Any]:
    """The termination condition after a pass: Eq. 8 (class task) or Eq. 9 (sample task), or `no_heldout`."""
    forget_acc = accuracy(model, forget.data, forget.indices, amp=cfg.amp)
    if cfg.stop_rule == "fixed":
        return {"forget_acc": forget_acc, "heldout_acc": None, "threshold": None, "condition_met": False}
    if cfg.stop_rule == "no_heldout":
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


def true_class_confidence(model: torch.nn.Module, part: Part, amp: bool = True) -> torch.Tensor:
    """p_y(x), the softmax probability of each sample's own label: (len(part),) float32 on the CPU."""
    out = model_outputs(model, part.data, part.indices, amp=amp)
    probs = torch.softmax(torch.as_tensor(out.logits).float(), dim=1)
    return probs[torch.arange(len(probs)), torch.as_tensor(out.labels)]
