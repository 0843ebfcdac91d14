"""Gradient-based unlearning baselines (evaluation.md §2.2-2.5, §2.12, §2.13): FT, NegGrad (GA), NegGrad+,
Random Label (RL), ℓ1-sparse and SalUn, all plain SGD on a private copy of the model for a fixed number of
epochs (no stopping rule: `stop_reason="fixed_passes"`; a non-finite loss raises `FloatingPointError`).

Defaults are the public implementations' (each field's help names its source); the SalUn code's MultiStep
schedule (×0.1 at epochs 91/136) never triggers in runs this short and is omitted. SalUn's hard mask (PR #33,
default) restores the non-salient weights and zeroes their momentum after every step; `legacy_grad_mask=True`
only masks gradients (published, leaky). The mask covers parameters; BatchNorm buffers still update.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..data import Part
from ..errors import ConfigError, check_int
from ..settings import check_settings, setting
from .spaces import choice, lr_epochs, real
from .base import UnlearnResult
from .common import cross_entropy, sgd
from .loop import EpochLoop, Steps



@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int = setting(10, "passes over the retain set (SalUn code README: 10)", low=1)
    lr: float = setting(0.01, "SGD learning rate (SalUn code README and SCRUB notebooks: 0.01)", low=0.0, low_open=True)
    momentum: float = setting(0.9, "SGD momentum (SalUn code)", low=0.0, high=1.0, high_open=True)
    weight_decay: float = setting(5e-4, "SGD weight decay (SalUn code; the SCRUB notebooks use 0)", low=0.0)
    batch_size: int = setting(256, "batch size (SalUn code)", low=1)
    seed: int = setting(0, "batch order and random draws", low=0)
    amp: bool = setting(True, "bf16 autocast on CUDA")
    progress: bool = setting(True, "tqdm progress bar over epochs")

    def __post_init__(self) -> None:  # every field against its declaration, the subclasses' included
        check_settings(self)


@dataclass(frozen=True)
class NegGradConfig(FinetuneConfig):
    epochs: int = setting(5, "passes over the forget set (SalUn code README for GA: 5)", low=1)
    lr: float = setting(1e-4, "SGD learning rate (SalUn code README for GA: 1e-4)", low=0.0, low_open=True)


@dataclass(frozen=True)
class NegGradPlusConfig(FinetuneConfig):
    weight_decay: float = setting(0.0, "SGD weight decay (SCRUB small-scale notebook: plain SGD, none)", low=0.0)
    alpha: float = setting(0.95, "α: loss = α·CE(retain) − (1−α)·CE(forget) (SCRUB notebook, Deep Unlearn)",
                           low=0.0, high=1.0)


@dataclass(frozen=True)
class RandomLabelConfig(FinetuneConfig):
    exclude_true: bool = setting(False, "draw random labels ≠ the true one (SalUn code: may coincide, False)")


@dataclass(frozen=True)
class L1SparseConfig(FinetuneConfig):
    gamma: float = setting(5e-5, "γ of CE + γ_t·‖θ‖₁ (SalUn code `--alpha`, tuned; its flag default 0.2 "
                                 "shrinks every weight by lr·0.2 per step and destroys the model, §2.13)", low=0.0)
    no_l1_epochs: int = setting(0, "E₀: last epochs without the ℓ1 term; γ_t = γ·(1 − t/(E − E₀)) (SalUn code: 0)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("no_l1_epochs", self.no_l1_epochs, 0, self.epochs - 1)  # E₀ < E


@dataclass(frozen=True)
class SalUnConfig(RandomLabelConfig):
    lr: float = setting(0.013, "SGD learning rate (SalUn README example: 0.013)", low=0.0, low_open=True)
    mask_ratio: float = setting(0.5, "fraction of all parameters kept salient: top |∇CE(forget)| (README: 0.5)",
                                low=0.0, high=1.0, low_open=True)
    legacy_grad_mask: bool = setting(False, "published leaky mask: only gradients are masked, so weight decay "
                                            "and momentum move non-salient weights (SalUn issue #32)")


def _run(name: str, model: torch.nn.Module, forget: Part, retain: Part, cfg: FinetuneConfig, task: str,
         epoch_steps: Callable[[torch.nn.Module, int, torch.Generator], Steps],
         setup: Callable[[torch.nn.Module, torch.optim.Optimizer], int] | None = None) -> UnlearnResult:
    """`EpochLoop` with SGD: `epoch_steps(model, epoch, generator)` yields one loss per optimiser step; `setup`
    (e.g. SalUn's mask and optimiser hooks) runs first, timed as part of the method, and returns its examples."""
    loop = EpochLoop(name, model, forget, retain, cfg, task)
    optimizer = sgd(loop.model, cfg.lr, cfg.momentum, cfg.weight_decay)
    if setup is not None:
        with loop.clock("unlearn"):
            loop.samples = setup(loop.model, optimizer)
    loop.fit(optimizer, cfg.epochs, lambda epoch: epoch_steps(loop.model, epoch, loop.generator))
    return loop.result()


def _ce_steps(part: Part, cfg: FinetuneConfig, sign: float = 1.0, phase: str = "", l1: float = 0.0,
              relabel: int = 0, exclude_true: bool = False) -> Callable[..., Steps]:
    """One pass over `part`: sign·CE (+ l1·‖θ‖₁), with uniform random labels over `relabel` classes if > 0."""
    def steps(model: torch.nn.Module, epoch: int, g: torch.Generator) -> Steps:
        for x, y in part.batches(cfg.batch_size, shuffle=True, generator=g):
            if relabel:
                draw = torch.randint(1 if exclude_true else 0, relabel, y.shape, generator=g).to(y.device)
                y = (y + draw) % relabel if exclude_true else draw
            loss = sign * cross_entropy(model, x, y, cfg.amp)
            extra = {"phase": phase} if phase else {}
            if l1:  # the SalUn code's ‖θ‖₁: every parameter, un-normalised
                extra["loss_ce"], extra["gamma"] = float(loss.detach()), l1
                loss = loss + l1 * sum(p.abs().sum() for p in model.parameters())
            yield len(y), loss, extra
    return steps


def finetune(model, forget: Part, retain: Part, val: Part, config: FinetuneConfig, *, task: str,
             num_classes: int) -> UnlearnResult:
    """FT (§2.2): CE on the retain set only, relying on catastrophic forgetting."""
    return _run("finetune", model, forget, retain, config, task, _ce_steps(retain, config))


def neggrad(model, forget: Part, retain: Part, val: Part, config: NegGradConfig, *, task: str,
            num_classes: int) -> UnlearnResult:
    """NegGrad / GA (§2.3): minimise −CE on the forget set (fixed epochs; divergence raises)."""
    return _run("neggrad", model, forget, retain, config, task, _ce_steps(forget, config, sign=-1.0))


def neggrad_plus(model, forget: Part, retain: Part, val: Part, config: NegGradPlusConfig, *, task: str,
                 num_classes: int) -> UnlearnResult:
    """NG+ (§2.4): α·CE(retain batch) − (1−α)·CE(forget batch), over retain batches, forget batches cycled."""
    cfg = config
    cycle: dict[str, Iterator] = {"it": iter(())}

    def forget_batch(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        batch = next(cycle["it"], None)
        if batch is None:  # start a fresh shuffled pass over the forget set
            cycle["it"] = forget.batches(cfg.batch_size, shuffle=True, generator=g)
            batch = next(cycle["it"])
        return batch

    def steps(model: torch.nn.Module, epoch: int, g: torch.Generator) -> Steps:
        for x_r, y_r in retain.batches(cfg.batch_size, shuffle=True, generator=g):
            x_f, y_f = forget_batch(g)
            ce_r, ce_f = cross_entropy(model, x_r, y_r, cfg.amp), cross_entropy(model, x_f, y_f, cfg.amp)
            extra = {"loss_retain": float(ce_r.detach()), "loss_forget": float(ce_f.detach())}
            yield len(y_r) + len(y_f), cfg.alpha * ce_r - (1 - cfg.alpha) * ce_f, extra
    return _run("neggrad_plus", model, forget, retain, cfg, task, steps)


def _rl_steps(forget: Part, retain: Part, cfg: RandomLabelConfig, num_classes: int) -> Callable[..., Steps]:
    """SalUn code's CIFAR-10/SVHN RL epoch: a pass over the forget set with random labels, then the retain set."""
    if num_classes < 2 + cfg.exclude_true:
        raise ConfigError("num_classes", num_classes, "at least 2 (3 with exclude_true) classes to relabel")
    on_forget = _ce_steps(forget, cfg, phase="forget", relabel=num_classes, exclude_true=cfg.exclude_true)
    on_retain = _ce_steps(retain, cfg, phase="retain")

    def steps(model: torch.nn.Module, epoch: int, g: torch.Generator) -> Steps:
        yield from on_forget(model, epoch, g)
        yield from on_retain(model, epoch, g)
    return steps


def random_label(model, forget: Part, retain: Part, val: Part, config: RandomLabelConfig, *, task: str,
                 num_classes: int) -> UnlearnResult:
    """RL (§2.5): random labels on the forget set, true labels on the retain set, in sequential passes."""
    return _run("random_label", model, forget, retain, config, task, _rl_steps(forget, retain, config, num_classes))


def l1_sparse(model, forget: Part, retain: Part, val: Part, config: L1SparseConfig, *, task: str,
              num_classes: int) -> UnlearnResult:
    """ℓ1-sparse (§2.13, SalUn code `FT_l1`): FT with CE + γ_t·‖θ‖₁, γ_t decaying linearly to 0."""
    cfg, decay_epochs = config, config.epochs - config.no_l1_epochs

    def steps(model: torch.nn.Module, epoch: int, g: torch.Generator) -> Steps:
        gamma_t = cfg.gamma * (1 - (epoch - 1) / decay_epochs) if epoch <= decay_epochs else 0.0
        return _ce_steps(retain, cfg, l1=gamma_t)(model, epoch, g)
    return _run("l1_sparse", model, forget, retain, cfg, task, steps)


def saliency_mask(model: torch.nn.Module, forget: Part, ratio: float, batch_size: int, amp: bool) -> list[torch.Tensor]:
    """Boolean masks (one per parameter): the top `ratio` of |∑ ∇CE(forget batch)| over all parameters jointly,
    on `model` in eval mode, without optimiser steps (the current `generate_mask.py` logic)."""
    model.eval()
    params = list(model.parameters())
    model.zero_grad(set_to_none=True)
    for x, y in forget.batches(batch_size):
        cross_entropy(model, x, y, amp).backward()  # gradients accumulate over the forget batches
    scores = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).abs().flatten() for p in params])
    model.zero_grad(set_to_none=True)
    flat = torch.zeros_like(scores, dtype=torch.bool)
    flat[torch.topk(scores, max(1, int(len(scores) * ratio))).indices] = True
    return [m.view_as(p) for m, p in zip(flat.split([p.numel() for p in params]), params)]


def salun(model, forget: Part, retain: Part, val: Part, config: SalUnConfig, *, task: str,
          num_classes: int) -> UnlearnResult:
    """SalUn (§2.12): RL on the salient weights only; non-salient weights stay bit-identical (hard mask)."""
    cfg = config

    def setup(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
        masks = saliency_mask(model, forget, cfg.mask_ratio, cfg.batch_size, cfg.amp)
        params = list(model.parameters())
        frozen = [p.detach().clone() for p in params]

        def mask_grads(opt: torch.optim.Optimizer, *_: Any) -> None:  # the published mask: gradients only
            for p, m in zip(params, masks):
                if p.grad is not None:
                    p.grad.mul_(m)

        @torch.no_grad()
        def restore(opt: torch.optim.Optimizer, *_: Any) -> None:  # PR #33: θ0 back, momentum zeroed
            for p, m, p0 in zip(params, masks, frozen):
                p.copy_(torch.where(m, p, p0))
                if (buf := opt.state.get(p, {}).get("momentum_buffer")) is not None:
                    buf.mul_(m)
        optimizer.register_step_pre_hook(mask_grads)
        if not cfg.legacy_grad_mask:
            optimizer.register_step_post_hook(restore)
        return len(forget)  # examples through forward + backward for the mask
    return _run("salun", model, forget, retain, cfg, task, _rl_steps(forget, retain, cfg, num_classes), setup)


BOTH = ("class", "sample")
_FT = "SalUn and SCRUB code: lr 0.01-0.1, 5-10 epochs, batch 64-256; Deep Unlearn tunes lr, epochs, batch"
_GA = "SalUn code README: GA lr 1e-5 to 1e-4 at CIFAR scale; up to 0.1 for a 130-image forget set"
_NGP, _L1 = "SCRUB notebook and Deep Unlearn: α 0.9-0.999", "SalUn/Sparse code: γ (--alpha) 5e-6 to 5e-4"
_SAL = "SalUn paper: mask ratio 0.1-0.9 (README 0.5)"
METHODS = (  # (name, tasks, config class, function, summary, facts), for cu_core.unlearn.registry
    ("finetune", BOTH, FinetuneConfig, finetune, "Finetune (FT): CE on the retain set only",
     {"display": "Finetune", "acts_on": "retain data only", "paper_name": "Finetune", "space": {
         **lr_epochs((1e-3, 1e-1), (1, 10), _FT), "batch_size": choice(64, 128, 256, source=_FT)}}),
    ("neggrad", BOTH, NegGradConfig, neggrad, "NegGrad / gradient ascent (GA): −CE on the forget set",
     {"display": "NegGrad", "acts_on": "output", "paper_name": "Neggrad",
      "space": lr_epochs((1e-5, 1e-1), (1, 10), _GA)}),
    ("neggrad_plus", BOTH, NegGradPlusConfig, neggrad_plus, "NegGrad+ (NG+): α·CE(retain) − (1−α)·CE(forget)",
     {"display": "NegGrad+", "acts_on": "output", "space": {**lr_epochs((1e-3, 1e-1), (1, 10), _FT),
                                                       "alpha": real(0.5, 0.999, source=_NGP)}}),
    ("random_label", BOTH, RandomLabelConfig, random_label, "Random Label (RL): random-label forget pass, retain pass",
     {"display": "Random Label", "acts_on": "output", "space": {
         **lr_epochs((1e-3, 1e-1), (1, 10), _FT), "batch_size": choice(64, 128, 256, source=_FT)}}),
    ("l1_sparse", BOTH, L1SparseConfig, l1_sparse, "ℓ1-sparse: FT with CE + linearly decaying γ·‖θ‖₁",
     {"display": "ℓ1-sparse", "acts_on": "retain data only", "space": {
         **lr_epochs((1e-3, 1e-1), (1, 10), _FT), "gamma": real(1e-6, 1e-3, log=True, source=_L1)}}),
    ("salun", BOTH, SalUnConfig, salun, "SalUn: RL on the top-|∇CE(forget)| weights (hard mask)",
     {"display": "SalUn", "acts_on": "output", "space": {
         **lr_epochs((1e-3, 1e-1), (1, 10), _FT), "mask_ratio": real(0.1, 0.9, source=_SAL)}}),
)
