"""UNSIR (evaluation.md §2.11; its notes in boundary_methods.py, which registers it): error-maximising noise per
forgotten class, one impair epoch over noise ∪ retain subset, one repair epoch over the retain subset."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import Part
from ..errors import ConfigError
from ..settings import check_settings, setting
from .spaces import integer, real
from .base import UnlearnResult
from .loop import EpochLoop, Steps
from .common import cross_entropy
from .teacher_methods import frozen


@dataclass(frozen=True)
class UnsirConfig:
    noise_steps: int = setting(40, "Adam steps on the noise (Fast-Machine-Unlearning: 5 epochs × 8 steps)", low=0)
    noise_batch: int = setting(256, "noise images per forgotten class (both UNSIR notebooks: 256)", low=1)
    noise_lr: float = setting(0.1, "Adam lr for the noise (notebooks: 0.1)", low=0.0, low_open=True)
    noise_lambda: float = setting(0.1, "λ of −CE(f(N), c) + λ·mean‖N‖² (notebooks: 0.1)", low=0.0)
    retain_per_class: int = setting(1000, "retain subset: at most this many per class, seeded random "
                                          "(Fast-Machine-Unlearning: 1000; bad-teaching: 500)", low=1)
    impair_lr: float = setting(0.02, "Adam lr of the impair epoch (Fast-Machine-Unlearning: 0.02)",
                               low=0.0, low_open=True)
    repair_lr: float = setting(0.01, "Adam lr of the repair epoch (Fast-Machine-Unlearning: 0.01)",
                               low=0.0, low_open=True)
    impair_epochs: int = setting(1, "impair epochs over noise ∪ retain subset (notebooks: 1)", low=1)
    repair_epochs: int = setting(1, "repair epochs over the retain subset (notebooks: 1)", low=0)
    batch_size: int = setting(256, "batch size (notebooks: 256)", low=1)
    seed: int = setting(0, "noise initialisation, subset and batch order", low=0)
    amp: bool = setting(True, "bf16 autocast on CUDA")
    progress: bool = setting(True, "tqdm progress bar over epochs")

    def __post_init__(self) -> None:
        check_settings(self)


def error_maximising_noise(teacher: torch.nn.Module, cls: int, shape: tuple[int, ...], cfg: UnsirConfig,
                           generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor, list[float]]:
    """(noise_batch, *shape) noise minimising −CE(teacher(N), cls) + λ·mean_i ‖N_i‖² (Adam); losses per step."""
    noise = torch.randn((cfg.noise_batch, *shape), generator=generator).to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([noise], lr=cfg.noise_lr)
    labels = torch.full((cfg.noise_batch,), cls, dtype=torch.long, device=device)
    losses = []
    for _ in range(cfg.noise_steps):
        loss = -cross_entropy(teacher, noise, labels, cfg.amp) + cfg.noise_lambda * noise.square().flatten(1).sum(1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return noise.detach(), losses


def retain_subset(retain: Part, per_class: int, generator: torch.Generator) -> np.ndarray:
    """At most `per_class` seeded-random retain positions per class (sorted)."""
    labels, keep = retain.labels, []
    for cls in np.unique(labels):
        where = np.flatnonzero(labels == cls)
        keep.append(where[torch.randperm(len(where), generator=generator).numpy()[:per_class]])
    return np.sort(np.concatenate(keep))


def impair_repair(model: torch.nn.Module, forget: Part, retain: Part, val: Part, config: UnsirConfig, *,
                  task: str, num_classes: int) -> UnlearnResult:
    """UNSIR (§2.11): learn noise for each forgotten class, impair on noise ∪ retain subset, repair on the subset."""
    run, cfg = EpochLoop("unsir", model, forget, retain, config, task, tasks=("class",)), config
    device, shape = forget.data.device, tuple(forget.data.images.shape[1:])
    classes = [int(c) for c in np.unique(forget.labels)]
    if any(not 0 <= c < num_classes for c in classes):
        raise ConfigError("num_classes", num_classes, f"more than the largest forget label {max(classes)}")
    with run.clock("unlearn"):
        teacher = frozen(model).to(device)
        noise, noise_labels = [], []
        for cls in classes:
            n, losses = error_maximising_noise(teacher, cls, shape, cfg, run.generator, device)
            noise.append(n)
            noise_labels.append(torch.full((len(n),), cls, dtype=torch.long, device=device))
            run.history.extend({"pass": 0, "step": 0, "loss": v, "phase": "noise", "class": cls} for v in losses)
        noise_x, noise_y = torch.cat(noise), torch.cat(noise_labels)
        run.samples += cfg.noise_steps * len(noise_x)
        subset = retain.indices[retain_subset(retain, cfg.retain_per_class, run.generator)]
        del teacher

    def steps(with_noise: bool) -> Steps:
        total = len(subset) + (len(noise_x) if with_noise else 0)
        order = torch.randperm(total, generator=run.generator)
        for start in range(0, total, cfg.batch_size):
            pick = order[start:start + cfg.batch_size]
            x, y = retain.data.batch(torch.as_tensor(subset)[pick[pick < len(subset)]])
            if with_noise:
                from_noise = (pick[pick >= len(subset)] - len(subset)).to(device)
                x, y = torch.cat([x, noise_x[from_noise]]), torch.cat([y, noise_y[from_noise]])
            yield len(y), cross_entropy(run.model, x, y, cfg.amp), {}

    run.fit(torch.optim.Adam(run.model.parameters(), lr=cfg.impair_lr), cfg.impair_epochs, lambda e: steps(True),
            phase="impair")
    if cfg.repair_epochs:
        run.fit(torch.optim.Adam(run.model.parameters(), lr=cfg.repair_lr), cfg.repair_epochs,
                lambda e: steps(False), phase="repair")
    return run.result()



_NB = "Fast-Machine-Unlearning notebooks: Adam 0.02 / 0.01, one repair epoch (they collapse digits)"
UNSIR_SPACE = {"impair_lr": real(1e-4, 2e-2, log=True, source=_NB), "repair_lr": real(1e-4, 1e-2, log=True, source=_NB),
               "repair_epochs": integer(1, 5, source=_NB)}  # registered with UNSIR in boundary_methods
