"""The live run of the algorithm page (`book/method/algorithm.md`): its table, figure and readings.

The page runs `cu_core.unlearn.unlearn("contrastive", ...)` itself, once per stopping rule, on the default
experiment (the demonstration of `cu_core`'s Python API). This module reads what those runs return: the
accuracies of the original and each unlearned model (`accuracies`, `run_table`), the stopping check after each
pass and the loss terms of every step (`run_figure`), and the numbers the text quotes (`run_readings`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from torch import nn

from cu_book.formatting import device_text
from cu_core.config import RunConfig
from cu_core.metrics import split_accuracies
from cu_core.references import Prepared
from cu_core.results import device_description
from cu_core.unlearn.base import UnlearnResult
from cu_core.unlearn.contrastive import ContrastiveConfig

SPLITS = ("forget_train", "forget_test", "retain_test")  # the class task's accuracies the page reports
STYLES = {"val": ("#1f77b4", "stop_rule=val (validation split)"),
          "test": ("#d62728", "stop_rule=test (paper: test set)")}


def accuracies(prep: Prepared, original: nn.Module,
               runs: Mapping[str, UnlearnResult]) -> dict[str, dict[str, float]]:
    """`split_accuracies` of the original model and of each run's unlearned model, by name ('original', rule)."""
    models = [("original", original)] + [(rule, run.model) for rule, run in runs.items()]
    return {name: split_accuracies(model, prep.train, prep.test, prep.split) for name, model in models}


def run_table(runs: Mapping[str, UnlearnResult], acc: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One column per model: passes, steps and stop reason of each run, and the three accuracies in percent."""
    return pd.DataFrame({
        name: {"passes": runs[name].epochs if name in runs else "",
               "optimiser steps": runs[name].steps if name in runs else "",
               "stop reason": runs[name].stop_reason if name in runs else "",
               "forget set (training images), %": round(100 * a["forget_train"], 2),
               "forgotten class (test images), %": round(100 * a["forget_test"], 2),
               "other classes (test images), %": round(100 * a["retain_test"], 2)}
        for name, a in acc.items()})


def run_figure(runs: Mapping[str, UnlearnResult], num_classes: int, loss_run: str = "test") -> Figure:
    """(a) the stopping check after each pass of each run; (b) the two loss terms of every step of `loss_run`."""
    passes = {rule: pd.DataFrame(run.passes) for rule, run in runs.items()}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.2), dpi=120)
    for rule, (color, label) in STYLES.items():
        p = passes[rule]
        ax1.plot(p["pass"], 100 * p["heldout_acc"], marker="o", color=color, label=f"checked images, {label}")
        ax1.plot(p["pass"], 100 * p["forget_acc"], color=color, linestyle="--", marker=".", alpha=0.7,
                 label=f"forget set (training images), {label.split(' ')[0]}")
    ax1.axhline(100 / num_classes, color="black", linewidth=1, linestyle=":", label="threshold 1/C")
    ax1.set_xlabel("pass over the forget set")
    ax1.set_ylabel("accuracy on the forgotten class (%)")
    ax1.set_title("(a) the stopping check after each pass", fontsize=10)
    ax1.legend(fontsize=7, loc="lower left")

    h = pd.DataFrame(runs[loss_run].history)
    ax2.plot(h["step"], h["loss_ul"], label=r"$\mathcal{L}_{UL}$ (Eq. 6, mean over anchors)", color="#2ca02c")
    ax2.plot(h["step"], h["loss_ce"], label=r"$\mathcal{L}_{CE}$ on the retain batch", color="#9467bd")
    for end in passes[loss_run]["steps"]:
        ax2.axvline(end, color="0.85", linewidth=0.8, zorder=0)
    ax2.set_xlabel("optimiser step (grey lines: end of a pass)")
    ax2.set_ylabel("loss term (unweighted)")
    ax2.set_title(f"(b) the two loss terms, stop_rule={loss_run} run", fontsize=10)
    ax2.set_ylim(top=1.4 * float(h[["loss_ul", "loss_ce"]].max().max()))
    ax2.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def run_readings(cfg: RunConfig, prep: Prepared, original: Any, runs: Mapping[str, UnlearnResult],
                 acc: Mapping[str, Mapping[str, float]], seconds: float) -> dict[str, str]:
    """The numbers the page quotes (glue name -> text): provenance, split sizes, accuracies, passes, times.

    `original` is `train_reference`'s result (its `seconds` is the recorded training time); `seconds` the cell's.
    """
    passes = {rule: pd.DataFrame(run.passes) for rule, run in runs.items()}
    device = device_text(device_description(prep.device))
    sizes = prep.split.sizes()
    b = ContrastiveConfig().batch_size_for(prep.split.task)
    out = {
        "provenance": (f"Dataset: {prep.display}. Model: {cfg.model.name}. Hardware: {device}. "
                       f"Seed: {cfg.train.seed}."),
        "device": device,
        "dataset": prep.display,
        "run_seconds": f"{seconds:.1f}",
        "n_forget": f"{sizes['forget']:d}",
        "n_val_forget": f"{sizes['val_forget']:d}",
        "n_test_forget": f"{sizes['test_forget']:d}",
        "run_b": f"{b:d}",
        "steps_per_pass": f"{int(passes['val']['steps'].iloc[0]):d}",
        "last_batch": f"{sizes['forget'] % b or b:d}",
    }
    for name, a in acc.items():
        for split in SPLITS:
            out[f"{name}_{split}"] = f"{100 * a[split]:.1f}"
    chance = f"{100 / prep.num_classes:.0f}%"
    for rule, run in runs.items():
        out[f"{rule}_passes"] = f"{run.epochs:d}"
        out[f"{rule}_steps"] = f"{run.steps:d}"
        out[f"{rule}_reason"] = run.stop_reason
        out[f"{rule}_last_check"] = f"{100 * float(passes[rule]['heldout_acc'].iloc[-1]):.1f}"
        out[f"{rule}_unlearn_s"] = f"{run.seconds['unlearn']:.1f}"
        out[f"{rule}_verdict"] = (f"at or below the chance level of {chance}" if run.stop_reason == "condition"
                                  else f"still above the chance level of {chance}, so the cap on passes ended "
                                  "the run")
    out["original_train_s"] = f"{original.seconds:.1f}"
    return out
