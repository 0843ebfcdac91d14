"""Question 5: what the class task's denominator |N| ("damping") does. Five forms of the loss on one random
class-task batch (value and gradient against the pull terms alone), the class-task `variant` ablation as a
figure, and how far the paper's and the code's forms end apart."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from .report import provenance
from .report_studies import knob_rows, placeholder_figure, plot_knob

#: The columns of `loss_forms_table`.
FORM_COLUMNS = ["Loss for a forgotten class", "Value", "Value − pull terms", "Max. gradient difference to the pull",
                "What the gradient does"]
#: The numbers compared between the paper's and the code's class loss, per seed.
VARIANT_COLUMNS = ["acc_forget_train", "acc_retain_test", "avg_gap", "epochs"]


def _forms(y_u: Any, z_r: Any, y_r: Any, tau: float) -> dict[str, Callable[[Any], Any]]:
    """The five forms of the loss for anchors of a forgotten class, as functions of the anchors (summed)."""
    from cu_core.losses import class_unlearning_loss, sample_unlearning_loss

    def sample(policy: str) -> Callable[[Any], Any]:
        return lambda z: sample_unlearning_loss(z, y_u, z_r, y_r, tau, reduction="sum", no_positive=policy)

    def cls(variant: str) -> Callable[[Any], Any]:
        return lambda z: class_unlearning_loss(z, y_u, z_r, y_r, tau, reduction="sum", variant=variant)

    return {"Eq. (5), no guard": sample("none"),
            "Eq. (5), skip anchors without a positive": sample("skip"),
            "Eq. (5), add 1 inside the log (CLIP/MoCo code)": sample("add_one"),
            "Eq. (6), denominator |N| (paper)": cls("paper"),
            "Eq. (6), denominator 1 (authors' code)": cls("official")}


def loss_forms_table(dim: int = 16, anchors: int = 4, retain: int = 32, tau: float = 0.7,
                     seed: int = 0) -> pd.DataFrame:
    """One class-task batch under the five forms of the loss (`FORM_COLUMNS`): `anchors` random unit embeddings
    of dimension `dim` from the forgotten class (label 0) against `retain` random unit embeddings of other
    classes (float64, generator seeded with `seed`). Per form: the summed value, the value minus the pull terms
    -(1/|N|) Σ s, the largest absolute difference between its gradient and the pull's (minus the mean retain
    embedding over τ), and what the gradient does; '–' and the error where cu_core refuses to evaluate it."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    z_u = F.normalize(torch.randn(anchors, dim, generator=gen, dtype=torch.float64), dim=1)
    z_r = F.normalize(torch.randn(retain, dim, generator=gen, dtype=torch.float64), dim=1)
    y_u = torch.zeros(anchors, dtype=torch.long)           # the forgotten class
    y_r = torch.randint(1, 10, (retain,), generator=gen)   # only other classes: no anchor has a positive
    pull = -(z_u @ z_r.T / tau).mean(1).sum()              # the pull terms alone
    pull_grad = -(z_r.mean(0) / tau).expand(anchors, dim)  # their gradient: minus the mean retain embedding over τ
    rows = []
    for name, fn in _forms(y_u, z_r, y_r, tau).items():
        z = z_u.clone().requires_grad_(True)
        try:
            loss = fn(z)
            (grad,) = torch.autograd.grad(loss, z)
        except (ValueError, FloatingPointError) as err:  # cu_core refuses log(0) instead of returning NaN
            error = str(err).split(":")[1].strip() if ":" in str(err) else str(err)
            rows.append([name, "–", "–", "–", f"error: {error}"])
            continue
        value = float(loss.detach())
        diff = float((grad - pull_grad).abs().max())
        rows.append([name, f"{value:.4f}", f"{value - float(pull):.4f}", f"{diff:.1e}",
                     "no update" if float(grad.abs().max()) == 0 else "pull only"])
    return pd.DataFrame(rows, columns=FORM_COLUMNS)


def log_n_offset(anchors: int, retain: int) -> str:
    """What the paper's Eq. (6) adds to the pull terms over `anchors` anchors: B_u log|N| (four decimals)."""
    return f"{anchors * math.log(retain):.4f}"


def class_variant_figure(cls: pd.DataFrame, profile: str = "ablations") -> tuple[Any, str]:
    """(figure, caption provenance) of the class-task `variant` ablation (`ablation_table` rows of the class
    task), the paper's form in bold; a placeholder without runs."""
    rows = knob_rows(cls, "variant")
    fig = plot_knob(cls, "variant", default="paper", tasks=("class",)) if not rows.empty \
        else placeholder_figure("No class-task variant ablation yet.", "variant", "metric")
    return fig, provenance(rows, profile if not cls.empty else None, "the variant ablation")


def variant_agreement(cls: pd.DataFrame) -> tuple[str, str]:
    """How far the paper's and the code's class loss end apart: (the largest absolute difference over
    `VARIANT_COLUMNS` and seeds, two decimals or '–', the number of seeds with both forms)."""
    r = knob_rows(cls, "variant")
    diffs = []
    for _, part in r.groupby("seed") if not r.empty else []:
        if set(part["value"]) >= {"paper", "official"}:
            a = part[part["value"] == "paper"][VARIANT_COLUMNS].astype(float).to_numpy()[0]
            b = part[part["value"] == "official"][VARIANT_COLUMNS].astype(float).to_numpy()[0]
            diffs.append(float(abs(a - b).max()))
    return ("–" if not diffs else f"{max(diffs):.2f}"), str(len(diffs))
