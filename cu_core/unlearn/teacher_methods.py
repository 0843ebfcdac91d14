"""Teacher-student baselines: SCRUB (Kurmanji et al. 2023) and Bad Teacher (Chundawat et al. 2023).

Both start the student from the original model and distil from frozen teachers (in eval mode). Every KL term
is KL(target ‖ student) with `batchmean` reduction (evaluation.md §4: the public Bad Teacher code uses the
element-wise "mean", a 1/C scale factor; SCRUB's `DistillKL` is already a per-sample sum, i.e. batchmean).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..data import Part
from ..errors import ConfigError
from ..runtime import autocast, seed_everything
from ..settings import check_settings, setting
from .spaces import choice, real
from .spaces import integer as integer_
from .base import UnlearnResult
from .common import Clock, epoch_record, private_copy, sgd, step
from .loop import EpochLoop, Steps


def kl_to_student(student_logits: torch.Tensor, target_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(target ‖ softmax(student/T)) summed over classes, averaged over the batch (`batchmean`)."""
    log_p = F.log_softmax(student_logits.float() / temperature, dim=1)
    return F.kl_div(log_p, target_probs.float(), reduction="batchmean")


def frozen(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen eval-mode copy (teachers never train; BatchNorm uses its running statistics)."""
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def _check_inputs(forget: Part, retain: Part) -> None:
    if len(forget) == 0:
        raise ConfigError("forget", 0, "a non-empty forget set")
    if len(retain) == 0:
        raise ConfigError("retain", 0, "a non-empty retain set")


# ---------------------------------------------------------------------------------------------- SCRUB


@dataclass(frozen=True)
class ScrubConfig:
    """Defaults: the `meghdadk/SCRUB` MIA notebook row of evaluation.md §2.10 (SGD, 5 epochs, 3 max-epochs)."""

    epochs: int = setting(5, "passes (SCRUB MIA notebook: sgda_epochs 5; large-scale CIFAR runs: 3)", low=1)
    msteps: int = setting(3, "first epochs that include max-steps on the forget set (MIA notebook 3; large-scale 2)",
                          low=0)
    lr: float = setting(5e-4, "SGD learning rate (SCRUB notebooks: sgda_learning_rate 5e-4)", low=0.0, low_open=True)
    momentum: float = setting(0.9, "SGD momentum (SCRUB notebooks: 0.9)", low=0.0, high=1.0, high_open=True)
    weight_decay: float = setting(5e-4, "SGD weight decay (SCRUB MIA notebook: 5e-4)", low=0.0)
    gamma: float = setting(1.0, "γ, weight of the retain cross-entropy in min-steps (MIA notebook 1; large-scale 0.99)",
                           low=0.0)
    alpha: float = setting(0.5, "α, weight of the retain KL in min-steps (MIA notebook 0.5; large-scale 0.001)",
                           low=0.0)
    kd_T: float = setting(4.0, "distillation temperature; KL is scaled by T² as in SCRUB's DistillKL (notebook: 4)",
                          low=0.0, low_open=True)
    lr_decay_epochs: tuple[int, ...] = setting((3, 5, 9), "lr ×lr_decay_rate after each of these epochs (SCRUB: 3,5,9)")
    lr_decay_rate: float = setting(0.1, "lr decay factor (SCRUB: 0.1)", low=0.0)
    batch_size: int = setting(128, "retain (min-step) batch size (SCRUB notebook: 128)", low=1)
    forget_batch_size: int = setting(32, "forget (max-step) batch size (SCRUB notebook: 32)", low=1)
    seed: int = setting(0, "batch order", low=0)
    amp: bool = setting(True, "bf16 autocast on CUDA")
    progress: bool = setting(True, "tqdm progress bar")

    def __post_init__(self) -> None:
        check_settings(self)
        if not isinstance(self.lr_decay_epochs, tuple) or not all(
                isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in self.lr_decay_epochs):
            raise ConfigError("lr_decay_epochs", self.lr_decay_epochs, "expected a tuple of integers >= 0")


def scrub(model: torch.nn.Module, forget: Part, retain: Part, val: Part, config: ScrubConfig, *, task: str,
          num_classes: int) -> UnlearnResult:
    """SCRUB: max-steps push the student away from the teacher on the forget set (first `msteps` epochs),
    min-steps keep it close to the teacher (α·KL) and the labels (γ·CE) on the retain set. `val` is unused."""
    _check_inputs(forget, retain)
    cfg, device, clock = config, forget.data.device, Clock()
    generator = seed_everything(cfg.seed)
    teacher = frozen(model).to(device)
    student = private_copy(model, device)
    optimizer = sgd(student, cfg.lr, cfg.momentum, cfg.weight_decay)
    T = cfg.kd_T
    history: list[dict[str, Any]] = []
    passes: list[dict[str, Any]] = []
    steps = samples = 0

    def distill(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with autocast(device, cfg.amp):
            logits, _ = student(x)
            with torch.no_grad():
                t_logits, _ = teacher(x)
        target = F.softmax(t_logits.float() / T, dim=1)
        return logits.float(), kl_to_student(logits, target, T) * T ** 2

    for epoch in tqdm(range(1, cfg.epochs + 1), desc="SCRUB", unit="epoch", disable=not cfg.progress):
        # SCRUB's adjust_learning_rate: lr · rate^(number of decay epochs strictly before this epoch)
        lr = cfg.lr * cfg.lr_decay_rate ** int(np.sum(epoch > np.asarray(cfg.lr_decay_epochs or [np.inf])))
        for group in optimizer.param_groups:
            group["lr"] = lr
        with clock("unlearn"):
            student.train()
            if epoch <= cfg.msteps:
                for x, _ in forget.batches(cfg.forget_batch_size, shuffle=True, generator=generator):
                    _, kl = distill(x)
                    loss = step(student, optimizer, -kl, f"SCRUB max-step, epoch {epoch}")
                    steps += 1
                    samples += len(x)
                    history.append({"pass": epoch, "step": steps, "phase": "max", "loss": loss, "kl": -loss})
            for x, y in retain.batches(cfg.batch_size, shuffle=True, generator=generator):
                logits, kl = distill(x)
                ce = F.cross_entropy(logits, y)
                loss = step(student, optimizer, cfg.gamma * ce + cfg.alpha * kl, f"SCRUB min-step, epoch {epoch}")
                steps += 1
                samples += len(x)
                history.append({"pass": epoch, "step": steps, "phase": "min", "loss": loss,
                                "kl": float(kl.detach()), "ce": float(ce.detach())})
        with clock("eval"):
            passes.append({**epoch_record(student, forget, epoch, steps, cfg.amp), "lr": lr})
    student.eval()
    return UnlearnResult(student, history, passes, "fixed_passes", steps, clock.seconds, samples)


# ---------------------------------------------------------------------------------------------- Bad Teacher


@dataclass(frozen=True)
class BadTeacherConfig:
    """Defaults: the public code of Chundawat et al. (evaluation.md §2.14)."""

    epochs: int = setting(1, "passes over forget ∪ retain subset (public code: 1)", low=1)
    lr: float = setting(1e-4, "Adam learning rate (public code: 1e-4)", low=0.0, low_open=True)
    batch_size: int = setting(256, "batch size of the mixed loader (public code: 256; SSD's copy: 128)", low=1)
    temperature: float = setting(1.0, "KL temperature T (public code: KL_temperature 1)", low=0.0, low_open=True)
    retain_fraction: float = setting(0.3, "fraction of the retain set drawn at random, once (public code: 0.3)",
                                     low=0.0, high=1.0)
    seed: int = setting(0, "retain draw, incompetent teacher's initialisation and batch order", low=0)
    amp: bool = setting(True, "bf16 autocast on CUDA")
    progress: bool = setting(True, "tqdm progress bar")

    def __post_init__(self) -> None:
        check_settings(self)


def random_init(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` with every parameter and buffer re-initialised: `reset_parameters` on each module
    that has it (PyTorch's default init, from the global RNG), BatchNorm running statistics reset too.
    Raises if a parameter belongs to a module without `reset_parameters` (it would stay trained)."""
    fresh = copy.deepcopy(model)
    reset: set[int] = set()
    for module in fresh.modules():
        if hasattr(module, "reset_running_stats"):
            module.reset_running_stats()
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
            reset.update(id(p) for p in module.parameters(recurse=False))
    missed = [n for n, p in fresh.named_parameters() if id(p) not in reset]
    if missed:
        raise ValueError(f"cannot re-initialise parameters {missed}: their modules lack reset_parameters")
    return fresh


def bad_teacher(model: torch.nn.Module, forget: Part, retain: Part, val: Part, config: BadTeacherConfig, *,
                task: str, num_classes: int) -> UnlearnResult:
    """Bad Teacher: distil the incompetent (random) teacher on forget samples and the competent (original)
    teacher on a random `retain_fraction` of the retain set, shuffled together. `val` is unused."""
    loop = EpochLoop("Bad Teacher", model, forget, retain, config, task)
    if forget.data is not retain.data:
        raise ConfigError("retain", retain.name, "forget and retain must be parts of the same data")
    cfg, device, generator = config, forget.data.device, loop.generator
    with loop.clock("unlearn"):
        competent = frozen(model).to(device)
        incompetent = frozen(random_init(model)).to(device)
        optimizer = torch.optim.Adam(loop.model.parameters(), lr=cfg.lr)
        n_retain = round(cfg.retain_fraction * len(retain))
        keep = torch.randperm(len(retain), generator=generator)[:n_retain].numpy()
        indices = torch.as_tensor(np.concatenate([forget.indices, retain.indices[keep]]), dtype=torch.long)
        is_forget = torch.cat([torch.ones(len(forget)), torch.zeros(n_retain)]).to(device)
    T = cfg.temperature

    def steps(epoch: int) -> Steps:
        order = torch.randperm(len(indices), generator=generator)
        for start in range(0, len(order), cfg.batch_size):
            pick = order[start:start + cfg.batch_size]
            x, _ = forget.data.batch(indices[pick])
            flag = is_forget[pick.to(device)][:, None]
            with autocast(device, cfg.amp):
                logits, _ = loop.model(x)
                with torch.no_grad():
                    good, _ = competent(x)
                    bad, _ = incompetent(x)
            target = flag * F.softmax(bad.float() / T, dim=1) + (1 - flag) * F.softmax(good.float() / T, dim=1)
            yield len(pick), kl_to_student(logits, target, T), {"forget_in_batch": int(flag.sum().item())}

    loop.fit(optimizer, cfg.epochs, steps)
    return loop.result()


METHODS = (
    ("scrub", ("class", "sample"), ScrubConfig, scrub,
     "SCRUB (Kurmanji et al. 2023): alternating max-steps on forget / min-steps on retain against a frozen teacher",
     {"display": "SCRUB", "acts_on": "output", "paper_name": "SCRUB", "space": {
         "lr": real(1e-4, 5e-2, log=True, source="SCRUB notebooks: 5e-4; 1e-2 on digits"),
         "alpha": real(1e-3, 1.0, log=True, source="SCRUB: 0.001 (large-scale) to 0.5 (MIA notebook)"),
         "forget_batch_size": choice(16, 32, 64, source="SCRUB notebooks: 16-64")}}),
    ("bad_teacher", ("class", "sample"), BadTeacherConfig, bad_teacher,
     "Bad Teacher (Chundawat et al. 2023): distil a random teacher on forget, the original on 30% of retain",
     {"display": "Bad Teacher", "acts_on": "output", "space": {
         "lr": real(1e-5, 1e-2, log=True, source="public code: Adam 1e-4"),
         "epochs": integer_(1, 5, source="public code: 1 epoch"),
         "temperature": real(1.0, 4.0, source="public code: T 1; KD practice 1-4"),
         "retain_fraction": real(0.1, 0.5, source="public code: 0.3")}}),
)
