"""`python -m cu_core`: the command line.

Flags are generated from the config dataclasses (`cu_core.config`, `cu_core.unlearn`; see `cu_core.cli_args`), so
their defaults and help texts have one source. `unlearn` starts the method's settings from its dataset's preset
(`cu_core.unlearn.presets`: digits → "digits", cifar10 → "cifar-cpu"; `--preset NAME|none` picks another or none)
and explicit method flags override it; the preset applied is printed to stderr and in the summary. Shared flags:
`--seed` seeds the split, the training and the unlearning unless `--split-seed`, `--train-seed` or `--unlearn-seed`
is given; `--progress/--no-progress` and `--amp/--no-amp` apply to every stage. In `unlearn`, the unprefixed
hyperparameters (`--lr`, `--batch-size`, ...) are the unlearning method's and the original model's recipe takes a
`--train-` prefix.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cli_args import (SHARED, _flags, _join_negative_values, _method_of, _sections, _subparser, _unknown_message,
                       add_config_arguments, add_preset_argument, method_preset, preset_line)
from .config import RunConfig, SplitConfig
from .errors import ConfigError, DataError
from .unlearn import METHODS


def configs_from_args(args: argparse.Namespace) -> tuple[RunConfig, Any]:
    """Validated configs (run, method or None) from parsed flags: unset flags keep the dataclass defaults, except
    the method's, which start from the preset (`method_preset`: the dataset's table unless `--preset` is given)."""
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
    if unlearn is not None:
        unlearn = {**method_preset(args)["settings"], **unlearn}  # type: ignore[index]
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
    add_preset_argument(unlearn)
    add_config_arguments(unlearn, "unlearn", method)
    quick = sub.add_parser("quickstart", help="the default experiment: original and retrained model on digits",
                           description="Train the default original and retrained models and write "
                           "RESULTS/quickstart/{original,retrain}/.")
    quick.add_argument("--results-dir", default=None, help="default: $CU_RESULTS_DIR or <project>/data/results")
    quick.add_argument("--cache-dir", default=None)
    add_config_arguments(quick, "quickstart")
    return parser


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
            preset = method_preset(args)
            print(preset_line(preset, args.method), file=sys.stderr)  # type: ignore[arg-type]
            metrics = pipeline.run_unlearning(cfg, ucfg, method=args.method, out_dir=args.out,
                                              cache_dir=args.cache_dir, ulira_shadows=args.ulira_shadows,
                                              preset=preset)
            summary = {"out": args.out, "acc": metrics["acc"], "epochs": metrics["epochs"], "steps": metrics["steps"],
                       "stop_reason": metrics["stop_reason"], "seconds": metrics["seconds"], "mia": metrics["mia"],
                       "gap": metrics["gap"], "probe": metrics["probe"], "ulira": metrics.get("ulira"),
                       "preset": preset}
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
