"""`python -m cu_core`: the command line.

Flags are generated from the config dataclasses (`cu_core.config`, `cu_core.unlearn`), so their defaults and
help texts have one source. Shared flags: `--seed` seeds the split, the training and the unlearning unless
`--split-seed`, `--train-seed` or `--unlearn-seed` is given; `--progress/--no-progress` and `--amp/--no-amp`
apply to every stage. In `unlearn`, the unprefixed hyperparameters (`--lr`, `--batch-size`, ...) are the
unlearning method's and the original model's recipe takes a `--train-` prefix.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import DataConfig, ModelConfig, RunConfig, SplitConfig, TrainConfig
from .errors import ConfigError, DataError
from .unlearn import METHODS

SHARED = ("seed", "progress", "amp")  # one flag sets the field in every section that has it
RUN_SECTIONS = {"data": DataConfig, "split": SplitConfig, "model": ModelConfig, "train": TrainConfig}


def _flags(command: str, method: str = "contrastive") -> dict[tuple[str, str], str]:
    """(section, field) → flag name for one subcommand."""
    sections = _sections(command, method)
    names = {}
    for section, kind in sections.items():
        for f in dataclasses.fields(kind):
            flag = f.name.replace("_", "-")
            if f.name in SHARED:
                flag = f"{section}-{flag}"
            elif (section, f.name) == ("model", "name"):
                flag = "model"
            elif f.name == "no_positive":
                flag = "no-positive-policy"  # not a --no-X negation
            elif command == "unlearn" and section == "train" and f.name != "device":
                flag = f"train-{flag}"
            names[(section, f.name)] = flag
    return names


def _sections(command: str, method: str = "contrastive") -> dict[str, type]:
    """Config sections of a subcommand; `unlearn` adds the chosen method's config (Retrain has none of its own:
    it uses the original model's recipe, the --train-* flags)."""
    if command != "unlearn" or method == "retrain":
        return dict(RUN_SECTIONS)
    return dict(RUN_SECTIONS, unlearn=METHODS[method].config)


def add_config_arguments(parser: argparse.ArgumentParser, command: str, method: str = "contrastive") -> None:
    """One flag per config field, grouped by section; defaults and help from the dataclasses."""
    parser.add_argument("--seed", type=int, default=None, help="seeds every stage (default: 0)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="tqdm progress bars (default: True)")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="bf16 autocast on CUDA (default: True)")
    flags = _flags(command, method)
    for section, kind in _sections(command, method).items():
        group = parser.add_argument_group(f"{section} options")
        for f in dataclasses.fields(kind):
            if f.name in ("progress", "amp"):
                continue  # only the shared flag
            flag, dest = flags[(section, f.name)], f"{section}__{f.name}"
            help_text = f"{f.metadata.get('help', '')} (default: {f.default})"
            if isinstance(f.default, bool):
                group.add_argument(f"--{flag}", dest=dest, action=argparse.BooleanOptionalAction, default=None,
                                   help=help_text)
            else:
                group.add_argument(f"--{flag}", dest=dest, type=type(f.default) if f.default is not None else str,
                                   default=None, metavar=flag.upper().replace("-", "_"), help=help_text)


def configs_from_args(args: argparse.Namespace) -> tuple[RunConfig, Any]:
    """Validated configs (run, method or None) from parsed flags (unset flags keep the dataclass defaults)."""
    sections = _sections(args.command, getattr(args, "method", "contrastive"))
    values: dict[str, dict[str, Any]] = {section: {} for section in sections}
    for key, value in vars(args).items():
        if "__" in key and value is not None:
            section, name = key.split("__", 1)
            values[section][name] = value
    for name in SHARED:
        shared = getattr(args, name)
        if shared is None:
            continue
        for section, kind in sections.items():
            if name in {f.name for f in dataclasses.fields(kind)}:
                values[section].setdefault(name, shared)
    unlearn = values.pop("unlearn", None)
    return RunConfig.from_dict(values), (sections["unlearn"](**unlearn) if unlearn is not None else None)


def build_parser(method: str = "contrastive") -> argparse.ArgumentParser:
    """The parser; the `unlearn` subcommand carries the flags of `method`'s config."""
    parser = argparse.ArgumentParser(prog="python -m cu_core", description="Contrastive unlearning (Lee et al., "
                                     "IJCAI 2025): train reference models, unlearn, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an original model or its retrained reference and evaluate it",
                           description="Train (or load from the cache) the original model on forget ∪ retain, "
                           "or with --retrain the reference on retain only; write DIR/metrics.json and "
                           "DIR/history.csv.")
    train.add_argument("--out", required=True, metavar="DIR", help="results folder (written atomically; replaced "
                       "if it exists)")
    train.add_argument("--retrain", action="store_true", help="train on the retain set only (the oracle)")
    train.add_argument("--cache-dir", default=None, help="checkpoint/decoded-data cache (default: $CU_CACHE_DIR "
                       "or <project>/data/cache)")
    add_config_arguments(train, "train")
    unlearn = sub.add_parser("unlearn", help="unlearn the forget set from the (cached) original model",
                             description="Load (or train and cache) the original model, unlearn, evaluate; write "
                             "DIR/metrics.json, DIR/history.csv (per step) and DIR/passes.csv (per pass).")
    unlearn.add_argument("--method", default="contrastive", choices=sorted(METHODS),
                         help="unlearning method; `unlearn --method NAME --help` lists its hyperparameters")
    unlearn.add_argument("--out", required=True, metavar="DIR", help="results folder (written atomically)")
    unlearn.add_argument("--cache-dir", default=None, help="checkpoint/decoded-data cache")
    unlearn.add_argument("--ulira-shadows", type=int, default=0, metavar="N",
                         help="add the U-LiRA-style shadow attack with N shadow models (even, >= 8; 0 = off)")
    add_config_arguments(unlearn, "unlearn", method)
    quick = sub.add_parser("quickstart", help="the default experiment: original and retrained model on digits",
                           description="Train the default original and retrained models and write "
                           "RESULTS/quickstart/{original,retrain}/.")
    quick.add_argument("--results-dir", default=None, help="default: $CU_RESULTS_DIR or <project>/data/results")
    quick.add_argument("--cache-dir", default=None)
    add_config_arguments(quick, "quickstart")
    return parser


def _method_of(argv: Sequence[str]) -> str:
    """The --method value (so the parser can offer that method's flags); unknown names are left to argparse."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--method", default="contrastive")
    name = pre.parse_known_args(argv)[0].method
    return name if name in METHODS else "contrastive"


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    return parser


def _unknown_message(unknown: list[str], argv: list[str], sub: argparse.ArgumentParser, command: str,
                     method: str) -> str:
    """Name the unrecognised flags and what is allowed: the closest flags, the methods that take a flag of
    another method, how to negate a switch (switches take no value)."""
    import difflib

    options = {opt: action for action in sub._actions for opt in action.option_strings}
    help_hint = f"`python -m cu_core {command}{f' --method {method}' if command == 'unlearn' else ''} --help` " \
                "lists the allowed flags"
    first = unknown[0]
    if not first.startswith("-"):  # a stray value, e.g. after a switch: --augment yes
        before = argv[argv.index(first) - 1] if first in argv and argv.index(first) > 0 else None
        action = options.get(before)
        if isinstance(action, argparse.BooleanOptionalAction):
            name = action.option_strings[0]
            return (f"argument {name}: a switch takes no value (got {first!r}): use {name} or "
                    f"{action.option_strings[1]}")
        return f"unrecognized arguments: {' '.join(unknown)} (a value without a flag); {help_hint}"
    flag = first.split("=", 1)[0]
    hints = []
    close = difflib.get_close_matches(flag, list(options), n=3, cutoff=0.75)
    close += [o for o in options if o.lower() == flag.lower() and o not in close]
    if close:
        hints.append("did you mean " + " or ".join(close) + "?")
    if command == "unlearn":
        owners = [m for m in sorted(METHODS)
                  if m != method and flag in {f"--{f}" for f in _flags("unlearn", m).values()}]
        if owners:
            hints.append(f"{flag} is a flag of method {', '.join(owners)}, not of {method!r}")
    return f"unrecognized arguments: {' '.join(unknown)}" + (f" ({'; '.join(hints)})" if hints else "") + \
        f"; {help_hint}"


# A negative number as a flag's value: argparse takes "-1e-3", "-.5e2" or "-inf" for a flag (it knows only "-1" and
# "-0.5"), so `--lr -1e-3` would fail with "expected one argument" instead of naming the bad value.
_NEGATIVE_NUMBER = re.compile(r"-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|-(inf|infinity|nan)", re.IGNORECASE)


def _join_negative_values(argv: list[str], sub: argparse.ArgumentParser) -> list[str]:
    """`--flag -1e-3` → `--flag=-1e-3` for the flags of `sub` that take a value, so that argparse hands the
    value on to the config's own check (which names the parameter, the value and the allowed range)."""
    takes_value = {opt for action in sub._actions if action.option_strings and action.nargs != 0
                   for opt in action.option_strings}
    out: list[str] = []
    for token in argv:
        if out and out[-1] in takes_value and _NEGATIVE_NUMBER.fullmatch(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


# Split settings that one task ignores: given explicitly for the other task they are refused, not dropped.
TASK_ONLY = {("split", "forget_class"): "class", ("split", "class_drop_last"): "class",
             ("split", "num_forget"): "sample", ("split", "forget_selection"): "sample"}


def _check_task_flags(args: argparse.Namespace) -> None:
    """Refuse a split flag that the chosen task would ignore (e.g. --forget-class on the sample task)."""
    task = getattr(args, "split__task", None) or SplitConfig().task
    flags = _flags(args.command, getattr(args, "method", "contrastive"))
    for (section, name), only in TASK_ONLY.items():
        value = getattr(args, f"{section}__{name}", None)
        if value is not None and task != only:
            other = {"class": "--forget-class", "sample": "--num-forget"}[task]
            raise ConfigError(name, value, f"a {only}-task setting: the {task} task ignores --{flags[(section, name)]}"
                              f" (drop it, or use --task {only}; the {task} task's forget set is set by {other})")


def _check_args(args: argparse.Namespace) -> None:
    """Checks of the flags that are not config fields, before any work: the folders the command will write
    (probed: `--out`, `--cache-dir` or `CU_CACHE_DIR`, `--results-dir` or `CU_RESULTS_DIR`)."""
    from . import paths
    from .results import check_run_dir

    if args.command in ("train", "unlearn"):
        check_run_dir(args.out)
        try:  # the results folder is built beside its final place, then renamed: its parent must be writable
            paths.probe_writable(Path(args.out).expanduser().absolute().parent, "--out")
        except ConfigError as err:
            raise ConfigError("--out", args.out, err.allowed) from None
    if args.command == "quickstart":
        paths.writable_dir("results", args.results_dir, flag="--results-dir")
    paths.writable_dir("cache", args.cache_dir, flag="--cache-dir")
    if args.command == "unlearn" and args.ulira_shadows and (args.ulira_shadows < 8 or args.ulira_shadows % 2):
        raise ConfigError("ulira_shadows", args.ulira_shadows, "0 (off) or an even integer >= 8 (shadows come in "
                          "complementary pairs)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    method = _method_of(argv)
    parser = build_parser(method)
    if argv and argv[0] in ("train", "unlearn", "quickstart"):
        argv = _join_negative_values(argv, _subparser(parser, argv[0]))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        sub = _subparser(parser, args.command)
        sub.error(_unknown_message(unknown, argv, sub, args.command, method))
    from . import pipeline

    try:
        _check_args(args)
        cfg, ucfg = configs_from_args(args)
        _check_task_flags(args)  # after the values' own checks, which name what each flag allows
        if args.command == "train":
            metrics = pipeline.run_training(cfg, retrain=args.retrain, out_dir=args.out, cache_dir=args.cache_dir)
            summary = {"out": args.out, "acc": metrics["acc"], "seconds": metrics["seconds"]}
        elif args.command == "unlearn":
            metrics = pipeline.run_unlearning(cfg, ucfg, method=args.method, out_dir=args.out,
                                              cache_dir=args.cache_dir, ulira_shadows=args.ulira_shadows)
            summary = {"out": args.out, "acc": metrics["acc"], "epochs": metrics["epochs"], "steps": metrics["steps"],
                       "stop_reason": metrics["stop_reason"], "seconds": metrics["seconds"], "mia": metrics["mia"],
                       "gap": metrics["gap"], "probe": metrics["probe"], "ulira": metrics.get("ulira")}
        else:
            summary = {kind: m["acc"] for kind, m in pipeline.quickstart(args.results_dir, args.cache_dir, cfg).items()}
        print(json.dumps(summary, indent=2))
    except (ConfigError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:  # a diverging run: the message names the pass/epoch and step
        print(f"error: the run diverged: {err}. Lower the learning rate or check the data; nothing was written.",
              file=sys.stderr)
        return 3
    return 0
