"""The toy of the losses page (`book/method/losses.md`): forget embeddings moved by `cu_core`'s losses.

Three classes of 2-D unit vectors, one cluster per class. `toy` moves (a) one forget sample of class 0 by
projected gradient descent on Eq. (5) (`cu_core.losses.sample_unlearning_loss`) and (b) the whole class 0 on
Eq. (6) (`class_unlearning_loss`), putting every forget embedding back on the unit circle after each step.
Nothing here implements a loss: the gradients are autograd's, of `cu_core`'s functions. Everything is computed
in float64 (`method_pages.float64`), whatever the caller's default dtype.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from cu_book.method_pages import angle, float64, unit
from cu_core.losses import class_unlearning_loss, sample_unlearning_loss


@dataclass
class Toy:
    """The toy's retain set, its forget sample(s) and the two descent paths, (steps + 1, n, 2) each."""

    centres: torch.Tensor  # one cluster centre per class, degrees
    z_r: torch.Tensor  # retain embeddings (every cluster), (n, 2)
    y_r: torch.Tensor  # their classes
    z_u0: torch.Tensor  # (a): the forget sample of class 0 before any step, (1, 2)
    y_u: torch.Tensor  # its label
    forget: torch.Tensor  # (b): the rows of z_r that form the forgotten class 0
    path_sample: torch.Tensor  # (a) Eq. (5)
    path_class: torch.Tensor  # (b) Eq. (6)
    per_class: int
    steps: int
    lr: float


def descend(loss_of: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, steps: int,
            lr: float) -> torch.Tensor:
    """Projected gradient descent on the embeddings z (rows kept on the unit circle); the path (steps + 1, n, 2)."""
    z, path = z0.clone(), [z0.clone()]
    for _ in range(steps):
        z.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_of(z), z)
        z = F.normalize(z.detach() - lr * grad, dim=1)
        path.append(z.clone())
    return torch.stack(path)


def toy(temperature: float, centres: tuple[float, ...] = (90.0, 210.0, 330.0), per_class: int = 6,
        spread: float = 12.0, steps: int = 100, lr: float = 0.1, start: float = 100.0, seed: int = 0) -> Toy:
    """The toy at `temperature`: clusters around `centres` (degrees, spread `spread`), forget sample at `start`."""
    with float64():
        centre = torch.tensor(centres)
        gen = torch.Generator().manual_seed(seed)
        ang_r = torch.cat([c + spread * torch.randn(per_class, generator=gen) for c in centre])
        y_r = torch.arange(len(centre)).repeat_interleave(per_class)
        z_r = unit(ang_r)
        # (a) sample unlearning: one forget sample of class 0, all retain samples as reference (Eq. 5)
        z_u0, y_u = unit(torch.tensor([start])), torch.tensor([0])
        path_sample = descend(lambda z: sample_unlearning_loss(z, y_u, z_r, y_r, temperature), z_u0, steps, lr)
        # (b) single-class unlearning: class 0 is the forget set, the other classes the retain set (Eq. 6)
        forget = y_r == 0
        y_cls = torch.zeros(int(forget.sum()), dtype=torch.long)
        path_class = descend(lambda z: class_unlearning_loss(z, y_cls, z_r[~forget], y_r[~forget], temperature),
                             z_r[forget], steps, lr)
    return Toy(centre, z_r, y_r, z_u0, y_u, forget, path_sample, path_class, per_class, steps, lr)


def toy_figure(t: Toy) -> Figure:
    """The two panels of the toy: (a) Eq. (5), one forget sample; (b) Eq. (6), the whole class 0."""
    palette = sns.color_palette("colorblind", len(t.centres))
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 5.4), dpi=120)
    circle = np.linspace(0, 2 * np.pi, 361)
    panels = ((axes[0], t.path_sample, "(a) sample unlearning, Eq. (5)", t.y_r >= 0),
              (axes[1], t.path_class, "(b) single-class unlearning, Eq. (6)", ~t.forget))
    for ax, path, title, shown in panels:
        ax.plot(np.cos(circle), np.sin(circle), color="0.8", linewidth=1, zorder=0)
        for c in range(len(t.centres)):
            keep = (t.y_r == c) & shown
            if not bool(keep.any()):
                continue  # (b): class 0 is the forget set, drawn as the forget samples below
            ax.scatter(t.z_r[keep, 0], t.z_r[keep, 1], s=40, color=palette[c], label=f"class {c} (retain)",
                       zorder=2)
        for k in range(path.shape[1]):
            ax.plot(path[:, k, 0], path[:, k, 1], color="black", linewidth=0.8, zorder=3)
            ax.scatter(path[::10, k, 0], path[::10, k, 1], s=8, color="black", zorder=3,
                       label="every 10th step" if k == 0 else None)
            ax.scatter(path[0, k, 0], path[0, k, 1], s=70, marker="o", facecolors="white",
                       edgecolors="black", zorder=4, label="forget sample, start" if k == 0 else None)
            ax.scatter(path[-1, k, 0], path[-1, k, 1], s=90, marker="*", color="black", zorder=4,
                       label=f"after {t.steps} steps" if k == 0 else None)
        ax.set_aspect("equal")
        ax.set_xlim(-1.35, 1.35)
        ax.set_ylim(-1.35, 1.35)
        ax.set_xlabel("embedding coordinate $z_1$")
        ax.set_ylabel("embedding coordinate $z_2$")
        ax.set_title(title, fontsize=10)
    legend = {}  # one legend for both panels, below them
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def toy_readings(t: Toy) -> dict[str, str]:
    """The numbers the page quotes about the toy (glue name -> text): angles and mean cosines before and after."""
    def mean_cos(z: torch.Tensor, mask: torch.Tensor) -> float:
        return float((z @ t.z_r[mask].T).mean())

    start, end = t.path_sample[0], t.path_sample[-1]
    end_class = angle(t.path_class[-1])
    return {
        "toy_steps": f"{t.steps:d}",
        "toy_lr": f"{t.lr:g}",
        "toy_per_class": f"{t.per_class:d}",
        "toy_start_angle": f"{float(angle(start[0])):.0f}",
        "toy_end_angle": f"{float(angle(end[0])):.0f}",
        "toy_centres": ", ".join(f"{float(c):.0f}°" for c in t.centres),
        "toy_own_before": f"{mean_cos(start, t.y_r == 0):.2f}",
        "toy_own_after": f"{mean_cos(end, t.y_r == 0):.2f}",
        "toy_other_before": f"{mean_cos(start, t.y_r != 0):.2f}",
        "toy_other_after": f"{mean_cos(end, t.y_r != 0):.2f}",
        "toy_class_lo": f"{float(end_class.min()):.0f}",
        "toy_class_hi": f"{float(end_class.max()):.0f}",
        "toy_mean_neg_angle": f"{float(angle(t.z_r[~t.forget].mean(0))):.0f}",
    }
