"""The numbers the variants page (`book/method/variants.md`) quotes about three differences, from `cu_core`.

1. The push weight B/|N_i| of the authors' code, read from the gradients of `cu_core.losses.sample_unlearning_loss`:
   for one anchor and a random retain batch, the ratio of the official variant's push on the positives to the
   paper's, compared with B/|N_i| counted from the labels.
2. The chance that an anchor finds no positive among B retain labels drawn uniformly from C classes.
3. Sum over anchors versus mean: the ratio of `sample_unlearning_loss`'s two reductions on one random batch.

(1) and (3) draw from one generator, in this order. Everything is computed in float64.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from cu_book.method_pages import float64
from cu_core.losses import sample_unlearning_loss
from cu_core.unlearn.contrastive import ContrastiveConfig


def p_no_positive(classes: int, batch_size: int) -> float:
    """Chance that none of `batch_size` labels drawn uniformly from `classes` classes is the anchor's."""
    return (1 - 1 / classes) ** batch_size


def push_weight_ratios(gen: torch.Generator, temperature: float, batch_size: int, classes: int, trials: int,
                       dim: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Per trial: official push / paper push on the positives (from gradients), and B/|N_i| from the labels."""
    ratios, counted = [], []
    for _ in range(trials):
        z_u = F.normalize(torch.randn(1, dim, generator=gen), dim=1)
        z_r = F.normalize(torch.randn(batch_size, dim, generator=gen), dim=1).requires_grad_(True)
        y_r = torch.randint(0, classes, (batch_size,), generator=gen)
        y_u = y_r[:1].clone()  # the anchor's class occurs in the batch
        pos = y_r == y_u[0]
        push = {}
        for variant in ("paper", "official"):
            loss = sample_unlearning_loss(z_u, y_u, z_r, y_r, temperature, variant=variant)
            (g,) = torch.autograd.grad(loss, z_r)
            push[variant] = float((g[pos] @ z_u[0]).sum())
        ratios.append(push["official"] / push["paper"])
        counted.append(batch_size / int((~pos).sum()))
    return torch.tensor(ratios), torch.tensor(counted)


def reduction_ratio(gen: torch.Generator, temperature: float, batch_size: int, classes: int,
                    dim: int = 32) -> tuple[float, int]:
    """Sum over anchors / mean over anchors on one random batch, and the number of anchors with a positive."""
    z_u = F.normalize(torch.randn(batch_size, dim, generator=gen), dim=1)
    z_r = F.normalize(torch.randn(batch_size, dim, generator=gen), dim=1)
    y_u = torch.randint(0, classes, (batch_size,), generator=gen)
    y_r = torch.randint(0, classes, (batch_size,), generator=gen)
    active = int((y_u[:, None] == y_r[None, :]).any(1).sum())
    ratio = float(sample_unlearning_loss(z_u, y_u, z_r, y_r, temperature, reduction="sum")
                  / sample_unlearning_loss(z_u, y_u, z_r, y_r, temperature, reduction="mean"))
    return ratio, active


def variant_readings(config: ContrastiveConfig, classes: int = 10, many_classes: int = 100,
                     batch_sizes: tuple[int, ...] = (128, 64, 16), trials: int = 200,
                     seed: int = 0) -> dict[str, str]:
    """The page's numbers (glue name -> text) at `config`'s temperature, sample batch size and reduction."""
    tau, b = config.temperature, config.batch_size_for("sample")
    with float64():
        gen = torch.Generator().manual_seed(seed)
        ratios, counted = push_weight_ratios(gen, tau, b, classes, trials)
        red_ratio, red_active = reduction_ratio(gen, tau, b, classes)
    out = {
        "pw_mean": f"{float(ratios.mean()):.2f}",
        "pw_min": f"{float(ratios.min()):.2f}",
        "pw_max": f"{float(ratios.max()):.2f}",
        "pw_err": f"{float((ratios - counted).abs().max()):.1e}",
        "pw_balanced": f"{1 / (1 - 1 / classes):.2f}",
        "pw_trials": f"{trials:d}",
        "b_sample": f"{b:d}",
        "c_paper": f"{classes:d}",
        "tau": f"{tau:g}",
        "np_paper": f"{p_no_positive(classes, b):.1e}",
    }
    for k, size in enumerate(batch_sizes):
        out[f"np_b{k}"] = f"{size:d}"
        out[f"np_p{k}"] = f"{100 * p_no_positive(many_classes, size):.0f}"
    out.update({"np_many": f"{many_classes:d}", "red_ratio": f"{red_ratio:.1f}", "red_active": f"{red_active:d}",
                "red_reduction": config.reduction})
    return out
