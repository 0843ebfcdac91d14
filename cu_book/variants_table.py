"""The tables of the variants page (`book/method/variants.md`), read from `cu_core`'s configuration and parser.

- `differences`, `differences_table`: the list of differences between paper, code and `cu_core`, with each setting's
  default read from its configuration dataclass when the book is built;
- `changed_settings`, `preset_table`, `cli_command`: what a configuration (e.g. the authors' code) changes with
  respect to the defaults, as a table and as the `python -m cu_core unlearn` command that runs it, its flags
  looked up in the parser of `cu_core.cli.build_parser`;
- `config_table`: every field of `ContrastiveConfig` with its flag, type, default and help text.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from IPython.display import Markdown

from cu_book.method_pages import md_table
from cu_core.cli import build_parser
from cu_core.config import DataConfig, ModelConfig, SplitConfig, TrainConfig
from cu_core.unlearn.contrastive import ContrastiveConfig

# the command-line section of each configuration class's fields (flag destinations are `<section>__<field>`)
SECTION = {DataConfig: "data", SplitConfig: "split", ModelConfig: "model", TrainConfig: "train",
           ContrastiveConfig: "unlearn"}
DIFFERENCES_HEADER = ["What differs", "Paper (v1)", "Authors' code", "Setting", "Default", "Our default, and why"]

Difference = tuple[str, str, str, "tuple[type, str] | None", str]  # what, paper, code, (class, field), why
Change = tuple[type, str, Any, Any]  # configuration class, field, default, new value


def default_of(cls: type, name: str) -> str:
    """The default of field `name` of dataclass `cls`, as code."""
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return f"`{f.default!r}`" if isinstance(f.default, str) else f"`{f.default}`"


def differences_table(rows: Sequence[Difference]) -> Markdown:
    """The differences as a table; a setting without a class ('—') means `cu_core` has one behaviour only."""
    out = []
    for what, paper, code, switch, why in rows:
        if switch is None:
            setting, default = "—", "—"
        else:
            cls, name = switch
            setting = f"`{name}`" if cls is ContrastiveConfig else f"`{cls.__name__}.{name}`"
            default = default_of(cls, name)
        out.append([what, paper, code, setting, default, why])
    return md_table(DIFFERENCES_HEADER, out)


def differences(push_weight: str, classes: int) -> list[Difference]:
    """Every difference between the paper (v1), the authors' code and `cu_core`: (what differs, paper, code,
    (configuration class, field) or None, our choice and why). `push_weight` is the code's measured push weight
    B/|N_i| on random batches of `classes` classes (`variant_numbers.variant_readings`)."""
    return [
        ("Push weight in Eq. (5)",
         "1 on $\\log\\sum_{p} e^{s_{ip}}$",
         f"$B/\\lvert N_i\\rvert$ (about {push_weight} on random batches of {classes} classes)",
         (ContrastiveConfig, "variant"),
         "the text; the code's factor tilts the balance towards the push ({ref}`sec-method-push-weight`)"),
        ("Shift before `exp`",
         "none",
         "subtracts the detached row maximum of $s_{ij}$ and adds a tiny constant to every exponential",
         (ContrastiveConfig, "variant"),
         "the text; the shift changes the loss value, never the gradient"),
        ("Denominator of Eq. (6)",
         "$\\lvert N_i\\rvert$, the \"damping\"",
         "1",
         (ContrastiveConfig, "variant"),
         "the text; both give the same gradient ({ref}`sec-method-class-loss`)"),
        ("Sum over anchors",
         "sum",
         "mean",
         (ContrastiveConfig, "reduction"),
         "the code: its learning rate and $\\lambda_{UL}$ were tuned with the mean; the sum is about $B$ times "
         "stronger ({ref}`sec-method-reduction`)"),
        ("Anchor with no same-class retain sample (sample task)",
         "not discussed; Eq. (5) takes $\\log 0$",
         "not handled: the loss becomes infinite and the step NaN",
         (ContrastiveConfig, "no_positive"),
         "skip the anchor, so a run never fails on an unlucky batch ({ref}`sec-method-no-positive`)"),
        ("Retain batches",
         "a random retain batch for each of the $\\omega$ steps",
         "the same first $\\omega B$ retain samples, in dataset order, for every forget batch; forget batches "
         "in dataset order",
         (ContrastiveConfig, "retain_sampling"),
         "the text: a fresh batch, drawn with replacement, for every step"),
        ("Size of the retain batch",
         "$B$, like the forget batch",
         "cut to the size of the current forget batch",
         None,
         "the retain batch always has the size of the current forget batch (both forms agree except on the "
         "last, partial forget batch)"),
        ("Data for the stopping rule",
         "small subsets of the test set",
         "the whole test set",
         (ContrastiveConfig, "stop_rule"),
         "the validation split, so the test set chooses nothing ({ref}`sec-method-stopping`); "
         "`test` is the paper's rule"),
        ("Size of the stopping check",
         "\"small\" subsets",
         "the whole forget set and the whole test set",
         None,
         "class task: the validation images of the forgotten class; sample task: the whole forget set and the "
         "whole validation split"),
        ("When the rule is checked",
         "after each pass over the forget set",
         "after each pass",
         None,
         "after each pass, as in both"),
        ("Embedding $z$",
         "not specified whether normalised",
         "ReLU of the L2-normalised projection (an in-place ReLU in the classifier overwrites it)",
         (ModelConfig, "embedding"),
         "the L2-normalised projection; the ReLU is a side effect the paper does not describe"),
        ("Cross-entropy term",
         "in Eq. (7) with weight $\\lambda_{CE}$; the printed algorithm leaves the weight out",
         "`loss_ver=2`: with $\\lambda_{CE}$; `loss_ver=1`: without the term",
         (ContrastiveConfig, "lambda_ce"),
         "the code's weight; `lambda_ce=0` is `loss_ver=1`"),
        ("Forward pass",
         "not specified",
         "forget and retain images in one batch, in training mode, so BatchNorm statistics mix both",
         (ContrastiveConfig, "joint_forward"),
         "the code"),
        ("Gradient through the retain embeddings",
         "not specified",
         "yes",
         (ContrastiveConfig, "detach_retain"),
         "the code (gradients flow through both sides)"),
        ("Weight decay while unlearning",
         "not specified",
         "none (a value is parsed but never used)",
         (ContrastiveConfig, "weight_decay"),
         "the code"),
        ("Which samples are forgotten (sample task)",
         "randomly selected",
         "the first $n$ training indices",
         (SplitConfig, "forget_selection"),
         "the text, with a recorded seed"),
        ("Forget set of a class task",
         "every training image of class $c$",
         "all but the last one (an off-by-one), which stays in the retain set",
         (SplitConfig, "class_drop_last"),
         "the text"),
        ("Checkpoint of the original model",
         "not specified",
         "meant to be the best on the test set; a bug saves the last epoch",
         (TrainConfig, "select"),
         "the best on the validation split, never the test set"),
        ("Input normalisation",
         "\"normalization\"",
         "CIFAR-10 statistics for every data set, SVHN included",
         (DataConfig, "normalization"),
         "each data set's own training statistics; `authors` gives the code's constants"),
    ]


def changed_settings(configs: Mapping[type, Any]) -> list[Change]:
    """Every field of each configuration (class -> instance) whose value differs from the class's default."""
    return [(cls, f.name, getattr(cls(), f.name), getattr(obj, f.name))
            for cls, obj in configs.items() for f in dataclasses.fields(cls)
            if getattr(obj, f.name) != getattr(cls(), f.name)]


def preset_table(changed: Sequence[Change]) -> Markdown:
    """The changed settings: configuration, setting, default and new value."""
    return md_table(["Configuration", "Setting", "Default", "Authors' code"],
                    [[f"`{cls.__name__}`", f"`{name}`", f"`{old!r}`", f"`{new!r}`"]
                     for cls, name, old, new in changed])


def unlearn_actions(method: str = "contrastive") -> dict[str, argparse.Action]:
    """The `unlearn` subcommand's parser actions for `method`, by destination."""
    parser = build_parser(method)
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {a.dest: a for a in subparsers.choices["unlearn"]._actions}


def cli_command(changed: Sequence[Change], method: str = "contrastive", out: str = "DIR") -> str:
    """The `python -m cu_core unlearn` command (one flag a line) that runs `method` with the changed settings."""
    actions = unlearn_actions(method)
    words = [f"python -m cu_core unlearn --method {method}"]
    for cls, name, _, value in changed:
        action = actions[f"{SECTION[cls]}__{name}"]
        if isinstance(value, bool):  # --flag / --no-flag
            words.append(action.option_strings[0 if value else 1])
        else:
            words.append(f"{action.option_strings[0]} {value}")
    return " \\\n    ".join(words + [f"--out {out}"])


def config_table() -> tuple[Markdown, int]:
    """Every field of `ContrastiveConfig` (flag, type, default, help text), and the number of fields."""
    flags = {dest: "/".join(f"`{o}`" for o in action.option_strings) for dest, action in unlearn_actions().items()}
    rows = []
    for f in dataclasses.fields(ContrastiveConfig):
        flag = flags.get(f"unlearn__{f.name}") or flags.get(f.name, "—")
        type_name = f.type if isinstance(f.type, str) else f.type.__name__
        rows.append([f"`{f.name}`", flag, f"`{type_name}`", f"`{f.default!r}`", f.metadata.get("help", "")])
    return md_table(["Field", "Command-line flag", "Type", "Default", "Meaning"], rows), len(rows)
