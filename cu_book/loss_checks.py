"""Checks and readings of the losses page (`book/method/losses.md`) on small random or hand-made embeddings.

- `class_loss_check`: Eq. (6) of `cu_core.losses.class_unlearning_loss` against a hand computation. The right
  side of the page's gradient equation (-mean of the negatives / tau) and the loss as pull terms plus
  `B_u log|N_i|` are computed here in plain torch, on purpose: they are the check, not the method. The paper's
  form is also compared with the authors' code (`variant="official"`).
- `temperature_weights` / `temperature_figure` / `temperature_readings`: the per-retain weights w_ij of one
  anchor's gradient of Eq. (5), read off autograd's gradient of `cu_core.losses.sample_unlearning_loss`.

Everything is computed in float64 (`method_pages.float64`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from matplotlib.figure import Figure

from cu_book.method_pages import float64, md_table, unit
from cu_core.losses import class_unlearning_loss, sample_unlearning_loss

CLASS_CHECK_HEADER = ["$\\lvert N_i\\rvert$", "loss, paper", "pull terms alone", "$B_u \\log\\lvert N_i\\rvert$",
                      "loss, code", "max. gradient error", "max. gradient gap, paper vs code"]
POS_ANGLES = (20.0, 60.0, 100.0)  # the temperature toy's positives, degrees from the anchor
NEG_ANGLES = (150.0, 190.0, 230.0, 270.0, 310.0)  # and its negatives


def class_loss_check(temperature: float, dim: int = 16, anchors: int = 4,
                     retain_sizes: Sequence[int] = (8, 32, 128), seed: int = 1) -> tuple[Markdown, dict[str, str]]:
    """The table of Eq. (6) on random unit embeddings (one row per retain size) and its readings (glue name -> text)."""
    rows, grad_errs, grad_gaps, value_errs = [], [], [], []
    with float64():
        gen = torch.Generator().manual_seed(seed)
        for b_r in retain_sizes:
            zu_c = F.normalize(torch.randn(anchors, dim, generator=gen), dim=1).requires_grad_(True)
            zr_c = F.normalize(torch.randn(b_r, dim, generator=gen), dim=1)
            yu_c = torch.zeros(anchors, dtype=torch.long)  # the forgotten class
            yr_c = torch.randint(1, 10, (b_r,), generator=gen)  # other classes only: every retain row a negative
            values, grads = {}, {}
            for variant in ("paper", "official"):
                loss = class_unlearning_loss(zu_c, yu_c, zr_c, yr_c, temperature, reduction="sum", variant=variant)
                (grads[variant],) = torch.autograd.grad(loss, zu_c)
                values[variant] = float(loss.detach())
            expected = -(zr_c.mean(0) / temperature).expand(anchors, dim)  # right side of the gradient equation
            pull = float(-(zu_c @ zr_c.T / temperature).mean(1).sum().detach())  # the pull terms alone
            grad_errs.append(float((grads["paper"] - expected).abs().max()))
            grad_gaps.append(float((grads["paper"] - grads["official"]).abs().max()))
            value_errs.append(abs(values["paper"] - pull - anchors * math.log(b_r)))
            rows.append([f"{b_r}", f"{values['paper']:.4f}", f"{pull:.4f}", f"{anchors * math.log(b_r):.4f}",
                         f"{values['official']:.4f}", f"{grad_errs[-1]:.1e}", f"{grad_gaps[-1]:.1e}"])
    readings = {"cls_anchors": f"{anchors:d}", "cls_dim": f"{dim:d}", "cls_grad_err": f"{max(grad_errs):.1e}",
                "cls_grad_gap": f"{max(grad_gaps):.1e}", "cls_value_err": f"{max(value_errs):.1e}"}
    return md_table(CLASS_CHECK_HEADER, rows), readings


def _toy_anchor() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The anchor (1, 2) at 0°, its retain embeddings (positives then negatives) and their labels (0: positive)."""
    anchor = unit(torch.tensor([0.0]))
    z_ret = unit(torch.tensor(POS_ANGLES + NEG_ANGLES))
    y_ret = torch.tensor([0] * len(POS_ANGLES) + [1] * len(NEG_ANGLES))
    return anchor, z_ret, y_ret


def temperature_weights(tau: float) -> tuple[torch.Tensor, float]:
    """Per-retain weights w_ij of the anchor's gradient (positives first), and the anchor's gradient norm, at tau."""
    with float64():
        anchor, z_ret, y_ret = _toy_anchor()
        z_r = z_ret.clone().requires_grad_(True)
        z_u = anchor.clone().requires_grad_(True)
        loss = sample_unlearning_loss(z_u, torch.tensor([0]), z_r, y_ret, tau)
        g_u, g_r = torch.autograd.grad(loss, (z_u, z_r))
        return g_r @ anchor[0], float(g_u.norm())


def temperature_figure(default_tau: float, taus: np.ndarray | None = None) -> Figure:
    """(a) each positive's share of the push and (b) the gradient norm and pull weight, against tau (log scale)."""
    taus = np.geomspace(0.05, 5.0, 41) if taus is None else taus
    n_pos = len(POS_ANGLES)
    share, norms, pulls = [], [], []
    for tau in taus:
        w, norm = temperature_weights(float(tau))
        push = w[:n_pos]
        share.append((push / push.sum()).numpy())
        pulls.append(float(-w[n_pos:].mean()))
        norms.append(norm)
    share = np.array(share)
    with float64():
        anchor, z_ret, _ = _toy_anchor()
        cosines = (z_ret @ anchor[0])[:n_pos]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=120)
    colors = sns.color_palette("flare", n_pos)
    for k, (deg, cos) in enumerate(zip(POS_ANGLES, cosines)):
        ax1.plot(taus, 100 * share[:, k], color=colors[k], linewidth=2,
                 label=f"positive at {float(deg):.0f}° (cosine {float(cos):.2f})")
    ax1.axhline(100 / n_pos, color="0.5", linestyle=":", linewidth=1, label="even split")
    ax2.plot(taus, norms, color="black", linewidth=2, label=r"gradient norm $\|\partial\ell_i/\partial z_i\|$")
    ax2.plot(taus, pulls, color=sns.color_palette("colorblind")[0], linewidth=2,
             label=r"pull weight per negative $1/(\tau|N_i|)$")
    for ax in (ax1, ax2):
        ax.axvline(default_tau, color="0.3", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel(r"temperature $\tau$ (log scale; dashed: default)")
    ax2.set_yscale("log")
    ax1.set_ylabel("share of the push weight (%)")
    ax2.set_ylabel("magnitude (log scale)")
    ax1.set_title("(a) how the push is shared among the positives", fontsize=10)
    ax2.set_title("(b) overall size of the update", fontsize=10)
    ax1.legend(fontsize=7, loc="center left")
    ax2.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def temperature_readings(default_tau: float, small: float = 0.1, large: float = 2.0) -> dict[str, str]:
    """The nearest positive's share of the push and the gradient norm at three temperatures (glue name -> text)."""
    out = {}
    for name, tau in (("small", small), ("default", default_tau), ("large", large)):
        w, norm = temperature_weights(tau)
        push = w[:len(POS_ANGLES)]
        out[f"tau_{name}"] = f"{tau:g}"
        out[f"tau_{name}_near"] = f"{100 * float(push[0] / push.sum()):.0f}"
        out[f"tau_{name}_norm"] = f"{norm:.2f}"
    with float64():
        anchor, z_ret, _ = _toy_anchor()
        near_cos = float((z_ret @ anchor[0])[0])
    out.update({"tau_n_pos": f"{len(POS_ANGLES):d}", "tau_n_neg": f"{len(NEG_ANGLES):d}",
                "tau_near_cos": f"{near_cos:.2f}"})
    return out
