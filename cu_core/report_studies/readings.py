"""Prose the ablation pages and the questions share, computed from the results (never typed by hand)."""
from __future__ import annotations

import pandas as pd

from ._common import mean_text
from .ablations import value_mean

#: The utility a task keeps: remaining-class test accuracy (class task), test accuracy (sample task).
UTILITY = {"class": "acc_retain_test", "sample": "acc_test"}


def utility_cost(table: pd.DataFrame, value: str, task: str) -> float:
    """Points of utility CU loses against Retrain at one value of the `model` knob (mean over seeds; NaN if absent)."""
    rows = table[table["task"] == task] if not table.empty else table
    kept = value_mean(rows, "model", value, UTILITY[task])["mean"]
    retrain = value_mean(rows, "model", value, "retrain_" + UTILITY[task])["mean"]
    return retrain - kept


def vit_caveat(table: pd.DataFrame, margin: float = 5.0) -> str:
    """What the CNN-vs-ViT ablation (`ablation_table` rows) can and cannot say: whether the original ViT learned
    the task at all (at least 80 % of the CNN's test accuracy), and whether CU with the CNN's settings costs the
    ViT more than `margin` points of utility beyond what it costs the CNN (both against their own Retrain)."""
    vit = value_mean(table, "model", "vit_tiny", "original_acc_test")
    cnn = value_mean(table, "model", "cnn4", "original_acc_test")
    if not vit["n"]:
        return "The ViT runs have not been written yet."
    if vit["mean"] < 0.8 * cnn["mean"]:
        return (f"Caution: the original ViT reaches only {mean_text(vit)} % test accuracy against {mean_text(cnn)} % "
                "for the CNN: with this recipe (the CNN's, on tiny images) the Transformer has not learned the task, "
                "so its unlearning numbers say little about CU on Transformers; they show only that the loss runs "
                "on one.")
    text = (f"The original ViT reaches {mean_text(vit)} % test accuracy against {mean_text(cnn)} % for the CNN, so "
            "both start from a working model.")
    worse = []
    for task in ("class", "sample"):
        v, c = utility_cost(table, "vit_tiny", task), utility_cost(table, "cnn4", task)
        if v == v and c == c and v > c + margin:
            worse.append(f"{v:.1f} points below its Retrain in the {task} task (the CNN: {c:.1f})")
    if worse:
        text += (" But CU with the settings chosen for the CNN (the `digits` preset: learning rate, ω, λ) costs the "
                 "ViT far more utility: it ends " + " and ".join(worse) + ". The loss runs on a Transformer; its "
                 "settings do not carry over, and a ViT needs its own (the exercises of question 10).")
    return text
