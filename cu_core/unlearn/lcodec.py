r"""LCODEC (Mehta et al., CVPR 2022): deletions one batch at a time, each a noisy Newton step on the few
parameters that FOCI finds to matter for that batch (evaluation.md §2.7; `vsingh-group/LCODEC-deep-unlearning`,
`scrub/scrub_tools.py::inp_perturb`).

For every batch B of `scrub_batch_size` forget samples (in order):

1. **Selection.** The batch is perturbed `n_perturbations` times (x + 0.1·N(0, I)); each time the mean
   activation of every unit (a Conv2d output channel or a Linear output feature) and the batch's CE loss are
   recorded. FOCI (:mod:`cu_core.unlearn.codec`) picks the units whose activations predict the loss. A unit's
   parameters are its weight slice and bias entry (the code's `reverseLinearIndexingToLayers`).
2. **Hessians** on those k parameters, finite differences as the code's `getHessian(approxType="FD")`:
   H(g1, g2) = (g1 - g2)(g1 - g2)^T / ||w1 - w2||_1, where g2 is the gradient after one SGD step of `fd_lr`.
   H_s on the deleted batch; H_old on a retain batch of `hessian_batch` samples at the current weights.
   *Scope:* the code's H_old comes from gradients it saved at the last two training epochs; our training does
   not save them, so H_old is the same finite-difference estimate on retain data. Units whose parameters get
   no gradient from the loss (e.g. the contrastive head) are not candidates.
3. **Newton step with noise** (`HessType="Sekhari"`): H = (n H_old - H_s)/(n - 1), n = |D_tr|;
   θ_S ← θ_S + (H + λI)^{-1} g / (n - 1), g the batch-mean gradient; then θ_S += N(0, σ²) with
   σ = (γ/ε)·sqrt(2 ln(1.25/δ)), γ = 2 M L² m² / (n² λ³), M = 0.25, L = 1, m = 1 (the code's `NoisyReturn`).
   H is rank 2, so the solve is exact via the Woodbury identity (no k×k matrix).

Gradients are taken in eval mode (BatchNorm on running statistics; the code's `DisableBatchNorm` keeps
BatchNorm in train mode but without updating statistics).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data import Part
from ..errors import ConfigError
from ..runtime import seed_everything
from ..settings import check_settings, setting
from .spaces import real
from .base import UnlearnResult
from .codec import foci
from .common import Clock, private_copy

SELECTIONS = ("foci", "full", "random")


@dataclass(frozen=True)
class LcodecConfig:
    """Defaults: the public CIFAR-10 script `scrub/scrub_scripts/cifar_scrub.sh` (evaluation.md §2.7)."""

    selection: str = setting("foci", "foci: FOCI on unit activations (the paper) | full: every unit | random: as "
                                     "many random units as FOCI picks (the code's ablations)", choices=SELECTIONS)
    n_perturbations: int = setting(1000, "input perturbations per deletion batch for FOCI (code: 1000)", low=3)
    perturbation_std: float = setting(0.1, "std of the Gaussian input perturbation (code: 0.1)", low=0.0, low_open=True)
    max_selected: int = setting(0, "cap on the units FOCI selects per batch; 0 = none (the code has none)", low=0)
    scrub_batch_size: int = setting(32, "forget samples deleted per Newton step (code: 32)", low=1)
    l2_reg: float = setting(0.01, "λ: (H + λI) in the Newton step and in the noise scale (code: 0.01)",
                            low=0.0, low_open=True)
    epsilon: float = setting(0.1, "ε of the (ε, δ) noise calibration (code: 0.1)", low=0.0, low_open=True)
    delta: float = setting(0.01, "δ of the (ε, δ) noise calibration (code: 0.01)",
                           low=0.0, high=1.0, low_open=True, high_open=True)
    noise: bool = setting(True, "add the calibrated Gaussian noise after each Newton step")
    fd_lr: float = setting(1e-3, "SGD step for the finite-difference Hessian (code: 1e-3)", low=0.0, low_open=True)
    hessian_batch: int = setting(128, "retain samples for H_old (the code uses saved training gradients)", low=1)
    seed: int = setting(0, "perturbations, the retain batch, random selection and the noise", low=0)
    progress: bool = setting(True, "tqdm progress bar")

    def __post_init__(self) -> None:
        check_settings(self)


def noise_std(n: int, cfg: LcodecConfig, m: int = 1, big_m: float = 0.25, lip: float = 1.0) -> float:
    """σ of the code's `NoisyReturn` for a training set of n samples."""
    gamma = 2 * big_m * lip ** 2 * m ** 2 / (n ** 2 * cfg.l2_reg ** 3)
    return gamma / cfg.epsilon * float(np.sqrt(2 * np.log(1.25 / cfg.delta)))


def woodbury_solve(lam: float, vectors: list[torch.Tensor], coefs: list[float], g: torch.Tensor) -> torch.Tensor:
    """(λI + Σ_j c_j v_j v_j^T)^{-1} g for a few vectors v_j (k,), exactly (Woodbury identity)."""
    keep = [(v, c) for v, c in zip(vectors, coefs) if c != 0 and bool(v.abs().sum() > 0)]
    if not keep:
        return g / lam
    u = torch.stack([v for v, _ in keep], 1)  # (k, r)
    inner = torch.diag(torch.tensor([1.0 / c for _, c in keep], dtype=g.dtype, device=g.device)) + u.T @ u / lam
    return g / lam - u @ torch.linalg.solve(inner, u.T @ g) / lam ** 2


def units(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, nn.Module]]:
    """Conv2d / Linear modules whose weights get a non-zero gradient from the CE loss on (x, y)."""
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x)[0].float(), y).backward()
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
             and m.weight.grad is not None and bool(m.weight.grad.abs().sum() > 0)]
    model.zero_grad(set_to_none=True)
    return found


@torch.no_grad()
def unit_responses(model: nn.Module, layers: list[tuple[str, nn.Module]], x: torch.Tensor, y: torch.Tensor,
                   cfg: LcodecConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_perturbations, units) mean activations and (n_perturbations,) batch losses under input noise."""
    acts: list[torch.Tensor] = []

    def hook(module: nn.Module, _inp: object, out: torch.Tensor) -> None:
        dims = [d for d in range(out.ndim) if d != (1 if isinstance(module, nn.Conv2d) else out.ndim - 1)]
        acts.append(out.float().mean(dims))

    handles = [m.register_forward_hook(hook) for _, m in layers]
    rows, losses = [], []
    try:
        for _ in range(cfg.n_perturbations):
            acts.clear()
            noise = torch.randn(x.shape, generator=generator).to(x.device) * cfg.perturbation_std
            losses.append(F.cross_entropy(model(x + noise)[0].float(), y))
            rows.append(torch.cat(acts))
    finally:
        for h in handles:
            h.remove()
    return torch.stack(rows).cpu(), torch.stack(losses).cpu()


def _slices(layers: list[tuple[str, nn.Module]], chosen: list[int]) -> list[tuple[nn.Parameter, int]]:
    """(parameter, output index) for the weight and bias of every chosen unit (global unit numbering)."""
    offsets = np.cumsum([0] + [m.weight.shape[0] for _, m in layers])
    out = []
    for u in chosen:
        layer = int(np.searchsorted(offsets, u, side="right") - 1)
        module, index = layers[layer][1], int(u - offsets[layer])
        out += [(p, index) for p in (module.weight, module.bias) if p is not None]
    return out


def _flat_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, slices) -> tuple[torch.Tensor, float]:
    """Gradient of the batch-mean CE restricted to `slices` (k,), float64, and the loss."""
    params = list({id(p): p for p, _ in slices}.values())
    loss = F.cross_entropy(model(x)[0].float(), y)
    grads = dict(zip(map(id, params), torch.autograd.grad(loss, params)))
    return torch.cat([grads[id(p)][i].flatten() for p, i in slices]).double(), float(loss.detach())


def _fd_hessian_factor(model: nn.Module, x: torch.Tensor, y: torch.Tensor, slices, fd_lr: float
                       ) -> tuple[torch.Tensor, float]:
    """v and c with H_FD = c v v^T: v = g(w1) - g(w2), c = 1/||w1 - w2||_1, w2 = w1 - fd_lr ∇L (full SGD step)."""
    g1, _ = _flat_grad(model, x, y, slices)
    stepped = private_copy(model, x.device).eval()
    loss = F.cross_entropy(stepped(x)[0].float(), y)
    grads = torch.autograd.grad(loss, list(stepped.parameters()), allow_unused=True)
    with torch.no_grad():
        for p, g in zip(stepped.parameters(), grads):
            if g is not None:
                p -= fd_lr * g
    names = {id(p): n for n, p in model.named_parameters()}
    moved = dict(stepped.named_parameters())
    mapped = [(moved[names[id(p)]], i) for p, i in slices]
    g2, _ = _flat_grad(stepped, x, y, mapped)
    w1 = torch.cat([p[i].detach().flatten() for p, i in slices]).double()
    w2 = torch.cat([p[i].detach().flatten() for p, i in mapped]).double()
    dist = float((w1 - w2).abs().sum())
    return g1 - g2, (1.0 / dist if dist > 0 else 0.0)


def lcodec(model: nn.Module, forget: Part, retain: Part, val: Part, config: LcodecConfig, *, task: str,
           num_classes: int) -> UnlearnResult:
    """Sequential noisy Newton deletions of `scrub_batch_size` forget samples on FOCI-selected units.
    history: one row per deletion (units chosen, parameters moved, loss before/after). `val` is unused."""
    if len(forget) == 0 or len(retain) == 0:
        raise ConfigError("forget" if len(forget) == 0 else "retain", 0, "a non-empty set")
    cfg, device, clock = config, forget.data.device, Clock()
    generator = seed_everything(cfg.seed)
    n = len(forget) + len(retain)
    sigma = noise_std(n, cfg) if cfg.noise else 0.0
    history, samples = [], 0
    with clock("unlearn"):
        edited = private_copy(model, device).eval()
        for p in edited.parameters():
            p.requires_grad_(True)
        x0, y0 = forget.take(0, cfg.scrub_batch_size)
        layers = units(edited, x0, y0)
        total_units = sum(m.weight.shape[0] for _, m in layers)
        batches = [forget.indices[s:s + cfg.scrub_batch_size] for s in range(0, len(forget), cfg.scrub_batch_size)]
        for b, idx in enumerate(tqdm(batches, desc="lcodec", disable=not cfg.progress, leave=False)):
            x, y = forget.data.batch(torch.as_tensor(idx, device=device))
            acts, losses = unit_responses(edited, layers, x, y, cfg, generator)
            chosen, scores = foci(acts, losses, max_features=cfg.max_selected)
            if cfg.selection == "full":
                chosen = list(range(total_units))
            elif cfg.selection == "random":
                chosen = torch.randperm(total_units, generator=generator)[:len(chosen)].tolist()
            slices = _slices(layers, chosen)
            g, loss_before = _flat_grad(edited, x, y, slices)
            v_s, c_s = _fd_hessian_factor(edited, x, y, slices, cfg.fd_lr)
            xr, yr = retain.random_batch(min(cfg.hessian_batch, len(retain)), generator)
            v_o, c_o = _fd_hessian_factor(edited, xr, yr, slices, cfg.fd_lr)
            newton = woodbury_solve(cfg.l2_reg, [v_o, v_s], [n * c_o / (n - 1), -c_s / (n - 1)], g)
            update = newton / (n - 1)
            if sigma > 0:
                update = update + sigma * torch.randn(update.shape, generator=generator, dtype=torch.float64)
            with torch.no_grad():
                start = 0
                for p, i in slices:
                    size = p[i].numel()
                    p[i] += update[start:start + size].reshape(p[i].shape).to(p.device, p.dtype)
                    start += size
            _, loss_after = _flat_grad(edited, x, y, slices)
            samples += 3 * len(x) + 2 * len(xr)
            history.append({"step": b, "units": len(chosen), "parameters": int(g.numel()),
                            "codec_first": scores[0] if scores else float("nan"),
                            "loss_before": loss_before, "loss_after": loss_after, "noise_std": sigma})
        edited.zero_grad(set_to_none=True)
    return UnlearnResult(edited, history, [], "one_shot", len(batches), clock.seconds, samples)


METHODS = (
    ("lcodec", ("class", "sample"), LcodecConfig, lcodec,
     "LCODEC (Mehta et al. 2022): per-batch noisy Newton deletion on FOCI-selected units",
     {"display": "LCODEC", "acts_on": "weights", "paper_name": "LCODEC", "space": {
         "l2_reg": real(1e-3, 1.0, log=True, source="LCODEC code: λ 0.01"),
         "epsilon": real(1.0, 1000.0, log=True, source="LCODEC code ε 0.1 at n 45,000; ≈ 100 at digits' n")}}),
)
