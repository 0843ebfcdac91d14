"""Retraining-free, importance-based baselines: SSD (Foster et al. 2024) and Fisher forgetting (Golatkar et al.
2020, as implemented in the SCRUB and SSD code bases). Both are one-shot edits of a copy of the model
(`stop_reason="one_shot"`, no passes, no optimiser steps); gradients are taken in eval mode as in both codes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from ..data import Part
from ..errors import ConfigError, check_choice
from ..runtime import autocast, seed_everything
from ..settings import check_settings, setting
from .spaces import real
from .base import UnlearnResult
from .common import Clock, private_copy


def _params(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


# ---------------------------------------------------------------------------------------------- SSD


@dataclass(frozen=True)
class SsdConfig:
    """Defaults: `if-loops/selective-synaptic-dampening` (evaluation.md §2.15)."""

    selection_weighting: float = setting(10.0, "α: select parameters with []_Df > α·[]_D (SSD code: 10)",
                                         low=0.0, low_open=True)
    dampening_constant: float = setting(1.0, "λ: β = min((λ·[]_D/[]_Df)^exponent, 1) (SSD code: 1)",
                                        low=0.0, low_open=True)
    exponent: float = setting(1.0, "exponent on λ·[]_D/[]_Df (SSD code: 1)", low=0.0, low_open=True)
    batch_size: int = setting(128, "mini-batch of the importance loaders (SSD code: 128)", low=1)
    seed: int = setting(0, "batch order (importances are means over mini-batches, so composition matters)", low=0)
    amp: bool = setting(True, "bf16 autocast on CUDA for the forward passes (loss and gradients in float32)")
    progress: bool = setting(True, "tqdm progress bar")

    def __post_init__(self) -> None:
        check_settings(self)


def importance(model: torch.nn.Module, part: Part, batch_size: int, generator: torch.Generator, amp: bool,
               progress: bool = False) -> dict[str, torch.Tensor]:
    """SSD's `calc_importance`: the mean over mini-batches of the squared gradient of the batch-mean CE."""
    params = _params(model)
    total = {n: torch.zeros_like(p) for n, p in params.items()}
    batches = 0
    for x, y in tqdm(part.batches(batch_size, shuffle=True, generator=generator), desc=f"importance {part.name}",
                     total=-(-len(part) // batch_size), disable=not progress, leave=False):
        with autocast(x.device, amp):
            logits, _ = model(x)
        grads = torch.autograd.grad(F.cross_entropy(logits.float(), y), list(params.values()), allow_unused=True)
        for (n, _), g in zip(params.items(), grads):
            if g is not None:
                total[n] += g.float().pow(2)
        batches += 1
    return {n: t / max(batches, 1) for n, t in total.items()}


def ssd(model: torch.nn.Module, forget: Part, retain: Part, val: Part, config: SsdConfig, *, task: str,
        num_classes: int) -> UnlearnResult:
    """Selective Synaptic Dampening. []_D on the full training set (forget ∪ retain, as the code's
    `full_train_dl`), []_Df on the forget set; every parameter tensor takes part (the code excludes none)."""
    if len(forget) == 0:
        raise ConfigError("forget", 0, "a non-empty forget set")
    cfg, device, clock = config, forget.data.device, Clock()
    generator = seed_everything(cfg.seed)
    with clock("unlearn"):
        edited = private_copy(model, device).eval()  # the code calls model.eval() before calc_importance
        full = Part(forget.data, np.concatenate([forget.indices, retain.indices]), "full_train")
        imp_f = importance(edited, Part(forget.data, forget.indices, "forget"), cfg.batch_size, generator, cfg.amp,
                           cfg.progress)
        imp_d = importance(edited, full, cfg.batch_size, generator, cfg.amp, cfg.progress)
        selected = total = 0
        with torch.no_grad():
            for n, p in _params(edited).items():
                where = imp_f[n] > imp_d[n] * cfg.selection_weighting
                beta = (imp_d[n] * cfg.dampening_constant / imp_f[n]).pow(cfg.exponent).clamp(max=1.0)
                p[where] = p[where] * beta[where].to(p.dtype)
                selected += int(where.sum())
                total += p.numel()
    history = [{"step": 0, "selected": selected, "parameters": total, "fraction_selected": selected / total}]
    return UnlearnResult(edited, history, [], "one_shot", 0, clock.seconds, len(forget) + len(full))


# ---------------------------------------------------------------------------------------------- Fisher


ESTIMATORS = ("per_sample", "batch")


@dataclass(frozen=True)
class FisherConfig:
    """Defaults: Golatkar et al.'s recipe as in the SCRUB small-scale / SSD code (evaluation.md §2.6)."""

    alpha: float = setting(1e-6, "noise scale α; variance α·min(1/(F+1e-8), 1e3) (SCRUB small-scale, SSD: 1e-6; "
                                 "SCRUB large-scale 1e-7). 0: no noise", low=0.0)
    estimator: str = setting("per_sample", "per_sample: exact Fisher over labels, per-sample gradients vectorised "
                                           "with torch.func (the code loops with batch 1) | batch: gradients of "
                                           "batch-mean CE weighted by batch-mean p_y (a coarse, ~B× smaller F)",
                             choices=ESTIMATORS)
    batch_size: int = setting(64, "retain samples per vectorised chunk (per_sample) or per batch (batch)", low=1)
    seed: int = setting(0, "the Gaussian draw of the new weights", low=0)
    progress: bool = setting(True, "tqdm progress bar")

    def __post_init__(self) -> None:
        check_settings(self)


def fisher_diagonal(model: torch.nn.Module, part: Part, *, estimator: str, batch_size: int,
                    progress: bool = False) -> dict[str, torch.Tensor]:
    """F = mean over samples of Σ_y p_y·(∇ CE(x, y))², the Fisher over labels (`hessian()` in the code), for
    `model` in eval mode (BatchNorm on running statistics). `batch`: the same with batch-mean CE and p̄_y."""
    params = _params(model)
    buffers = dict(model.named_buffers())
    total = {n: torch.zeros_like(p) for n, p in params.items()}

    def sample_loss(ps, x, y):
        logits, _ = functional_call(model, (ps, buffers), (x[None],))
        return F.cross_entropy(logits, y[None])

    per_sample_grad = vmap(grad(sample_loss), in_dims=(None, 0, 0))
    chunks = 0
    for x, _ in tqdm(part.batches(batch_size), desc="fisher", total=-(-len(part) // batch_size),
                     disable=not progress, leave=False):
        with torch.no_grad():
            probs = F.softmax(model(x)[0].float(), dim=1)
        for c in range(probs.shape[1]):
            target = torch.full((len(x),), c, dtype=torch.long, device=x.device)
            if estimator == "per_sample":
                grads = per_sample_grad({n: p.detach() for n, p in params.items()}, x, target)
                for n, g in grads.items():
                    w = probs[:, c].reshape(-1, *([1] * (g.ndim - 1)))
                    total[n] += (w * g.pow(2)).sum(0)
            else:
                logits, _ = model(x)
                gs = torch.autograd.grad(F.cross_entropy(logits, target), list(params.values()), allow_unused=True)
                for (n, _), g in zip(params.items(), gs):
                    if g is not None:
                        total[n] += probs[:, c].mean() * g.pow(2) * len(x)
        chunks += len(x)
    return {n: t / max(chunks, 1) for n, t in total.items()}


def last_layer(model: torch.nn.Module, num_classes: int) -> set[str]:
    """Names of the classifier's weight and bias: the last `nn.Linear` with `num_classes` outputs (the code
    keys on `p.size(0) == num_classes`, which could also catch an unrelated tensor of that size)."""
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m.out_features == num_classes]
    if not names:
        raise ConfigError("model", type(model).__name__, f"a final nn.Linear with {num_classes} outputs")
    return {f"{names[-1]}.{k}" if names[-1] else k for k, _ in model.get_submodule(names[-1]).named_parameters()}


def fisher_variance(p: torch.Tensor, fisher: torch.Tensor, alpha: float, *, last: bool) -> torch.Tensor:
    """The code's `get_mean_var` variance (without the forgotten-class row)."""
    var = (1.0 / (fisher + 1e-8)).clamp(max=1e2 if last else 1e3) * alpha
    if p.ndim > 1:  # the code: mean over dim 1 (input channels), broadcast back
        var = var.mean(dim=1, keepdim=True).expand_as(p).clone()
    return var


def fisher(model: torch.nn.Module, forget: Part, retain: Part, val: Part, config: FisherConfig, *, task: str,
           num_classes: int) -> UnlearnResult:
    """Fisher forgetting: θ ~ N(θ0, var) with var from the diagonal Fisher on the retain set. Class task only:
    the forgotten class's classifier row (weight and bias) gets mean 0 and variance 1e-4, which like the rest
    of the last layer is then ×10 (the code's order, so 1e-3 in effect). `val` is unused."""
    check_choice("task", task, ("class", "sample"))
    if len(retain) == 0:
        raise ConfigError("retain", 0, "a non-empty retain set")
    cfg, device, clock = config, retain.data.device, Clock()
    forgotten = None
    if task == "class":
        labels = sorted(set(forget.labels.tolist()))
        if len(labels) != 1:
            raise ConfigError("forget", labels, "a class task forgets one class: the forget set must hold one label")
        forgotten = labels[0]
    generator = seed_everything(cfg.seed)
    with clock("unlearn"):
        edited = private_copy(model, device).eval()  # the code's hessian() calls model.eval()
        last = last_layer(edited, num_classes)
        fim = fisher_diagonal(edited, retain, estimator=cfg.estimator, batch_size=cfg.batch_size,
                              progress=cfg.progress)
        with torch.no_grad():
            for n, p in _params(edited).items():
                var = fisher_variance(p, fim[n], cfg.alpha, last=n in last)
                mu = p.detach().clone()
                if n in last and forgotten is not None:  # class mode only (not SalUn's keyed-on-size bug)
                    mu[forgotten] = 0.0
                    var[forgotten] = 1e-4
                if n in last or p.ndim == 1:  # last layer, and "BatchNorm" (the code: every 1-D tensor)
                    var = var * 10
                noise = torch.randn(p.shape, generator=generator).to(device=device, dtype=p.dtype)
                p.copy_(mu + var.sqrt() * noise)
    history: list[dict[str, Any]] = [{"step": 0, "alpha": cfg.alpha, "fisher_mean": float(
        torch.cat([f.flatten() for f in fim.values()]).mean())}]
    return UnlearnResult(edited, history, [], "one_shot", 0, clock.seconds, len(retain) * num_classes)


METHODS = (
    ("ssd", ("class", "sample"), SsdConfig, ssd,
     "SSD (Foster et al. 2024): dampen parameters far more important to the forget set than to the training set",
     {"display": "SSD", "acts_on": "weights", "space": {
         "selection_weighting": real(1.0, 100.0, log=True, source="SSD paper: α 1-100 searched, 10 chosen"),
         "dampening_constant": real(0.1, 5.0, log=True, source="SSD paper: λ 0.1-5, 1 chosen")}}),
    ("fisher", ("class", "sample"), FisherConfig, fisher,
     "Fisher forgetting (Golatkar et al. 2020): Gaussian noise scaled by the inverse retain-set Fisher",
     {"display": "Fisher", "acts_on": "weights", "paper_name": "Fisher", "space": {
         "alpha": real(1e-9, 1e-5, log=True, source="SCRUB/SSD code: α 1e-6 (1e-7 on digits; 1e-6 collapses)")}}),
)
