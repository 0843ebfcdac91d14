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

Diagnosis and remedies for the stopping point (ours, off by default: the defaults are the paper). With
λ_UL = 3 the held-out accuracy can fall steeply within a few passes and then recover; Eq. 9 may fire inside
that trough.

* `trace=True` (diagnosis): the check runs after every pass but never stops the loop, which runs `max_passes`
  passes (`stop_reason="traced"`); `passes` starts with a pass-0 row (the untouched model, steps 0). The
  pass at which the rule would have stopped is the first row with pass ≥ 1 and `condition_met`; rows 1..k
  equal those of the untraced run with the same seed that stopped at pass k. With `stop_rule="fixed"` the
  check evaluates the held-out set and Eq. 8/9 as `"val"` would (the caller's held-out set must be non-empty).
* `repair_steps=K` (remedy A): after the last pass, whatever ended the loop, K steps of plain cross-entropy
  (Eq. 7 with λ_UL = 0, weight 1 whatever λ_CE) on fresh random retain batches of size B, with the same
  optimiser, its momentum buffers cleared first (`contrastive_stop.repair` says why). They count in `steps`,
  `samples` and `seconds["unlearn"]`; `history` rows then all carry a `phase` column ("unlearn" or "repair";
  repair rows carry the last pass's number). `passes` gets no row for them: the run's assessment reports the
  final model.
* `heldout_guard=g` (remedy B, sample task): a stop counts only when Acc(held-out) ≥ Acc₀(held-out) − g, with
  Acc₀ evaluated once before pass 1 (in `seconds["eval"]`); the rows then carry `paper_condition` (Eq. 9
  alone), `heldout_floor` and `condition_met` (both). A class task refuses g < 1: Eq. 8's held-out set is the
  forgotten class, whose accuracy must fall, and the other classes' held-out images are not passed in.
  `stop_rule` "fixed" and "no_heldout" refuse it as well (no held-out accuracy at the stop).

The check, the guard and the repair steps live in `cu_core.unlearn.contrastive_stop`, the settings
(`ContrastiveConfig`, `RETAIN_SAMPLING`, `STOP_RULES`) in `cu_core.unlearn.contrastive_config`.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from ..data import Part
from ..errors import ConfigError, check_choice
from ..losses import total_loss, unlearning_loss
from ..metrics import accuracy
from ..runtime import autocast, seed_everything
from .base import UnlearnResult
from .contrastive_config import RETAIN_SAMPLING, STOP_RULES, ContrastiveConfig  # noqa: F401  (re-exported)
from .contrastive_stop import (check_condition, check_rule, check_run, guarded, repair, stopping_set,  # noqa: F401
                               true_class_confidence)  # noqa: F401  (stopping_set, true_class_confidence: re-exported)


@dataclass
class ContrastiveResult(UnlearnResult):
    """`UnlearnResult` whose `epochs` counts passes over the forget set only (not a traced run's pass-0 row)."""

    @property
    def epochs(self) -> int:
        return sum(1 for row in self.passes if row["pass"] >= 1)


def contrastive_unlearn(model: torch.nn.Module, forget: Part, retain: Part, *, config: ContrastiveConfig,
                        heldout: Part, task: str, num_classes: int) -> ContrastiveResult:
    """Algorithm 1 on a copy of `model`, with the diagnosis mode and remedies of `config` (module doc).

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
    cfg = config
    check_run(cfg, task, heldout)
    device = forget.data.device
    batch_size = cfg.batch_size_for(task)
    generator = seed_everything(cfg.seed)
    model = copy.deepcopy(model).to(device=device, dtype=torch.float32)  # float16/bfloat16 weights: a float32 copy
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sequential = cfg.retain_sampling == "sequential"
    rule = check_rule(cfg)
    phase = {"phase": "unlearn"} if cfg.repair_steps else {}  # history.csv gets a phase column with repair only
    history: list[dict[str, Any]] = []
    passes: list[dict[str, Any]] = []
    steps = samples = 0
    seconds = {"unlearn": 0.0, "eval": 0.0}
    floor = None  # remedy B: the held-out accuracy a stop needs
    if cfg.trace or cfg.heldout_guard < 1.0:  # the untouched model: pass-0 row and/or the guard's reference
        start = time.perf_counter()
        if cfg.trace:  # a generator of its own: the no_heldout rule's retain draw must not shift batch order
            first = check_condition(model, forget, heldout, cfg, task, num_classes, retain,
                                    torch.Generator().manual_seed(cfg.seed), rule=rule)
            before = first["heldout_acc"]
        else:
            before = accuracy(model, heldout.data, heldout.indices, amp=cfg.amp)
        if cfg.heldout_guard < 1.0:
            floor = before - cfg.heldout_guard
        if cfg.trace:
            passes.append({"pass": 0, "steps": 0, **guarded(first, floor)})
        seconds["eval"] += time.perf_counter() - start
    if cfg.trace:
        stop_reason = "traced"
    else:
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
                history.append({"pass": pass_no, "step": steps, **phase, **terms})
        seconds["unlearn"] += time.perf_counter() - start
        start = time.perf_counter()
        row = guarded(check_condition(model, forget, heldout, cfg, task, num_classes, retain, generator, rule=rule),
                      floor)
        seconds["eval"] += time.perf_counter() - start
        passes.append({"pass": pass_no, "steps": steps, **row})
        bar.update(1)
        bar.set_postfix(forget_acc=f"{row['forget_acc']:.3f}")
        if row["condition_met"] and not cfg.trace:
            stop_reason = "condition"
            break
    bar.close()
    if cfg.repair_steps:  # remedy A, after the last pass whatever ended the loop
        start = time.perf_counter()
        rows, seen = repair(model, optimizer, retain, steps=cfg.repair_steps, batch_size=batch_size,
                            generator=generator, amp=cfg.amp, after_pass=pass_no, first_step=steps + 1)
        history += rows
        steps += cfg.repair_steps
        samples += seen
        seconds["unlearn"] += time.perf_counter() - start
    model.eval()
    return ContrastiveResult(model, history, passes, stop_reason, steps, seconds, samples)


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
