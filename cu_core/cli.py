"""`python -m cu_core`: the command line.

Flags are generated from the config dataclasses (`cu_core.config`), so their defaults and help texts have
one source. `--seed` seeds both the split and the training unless `--split-seed` is given.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from .config import DataConfig, ModelConfig, RunConfig, SplitConfig, TrainConfig
from .errors import ConfigError, DataError

SECTIONS = {"data": DataConfig, "split": SplitConfig, "model": ModelConfig, "train": TrainConfig}
FLAG_NAMES = {("model", "name"): "model", ("split", "seed"): "split-seed", ("train", "seed"): "seed"}


def _flag(section: str, name: str) -> str:
    return FLAG_NAMES.get((section, name), name.replace("_", "-"))


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, grouped by section; defaults and help from the dataclasses."""
    for section, kind in SECTIONS.items():
        group = parser.add_argument_group(f"{section} options")
        for f in dataclasses.fields(kind):
            flag = _flag(section, f.name)
            help_text = f.metadata.get("help", "")
            dest = f"{section}__{f.name}"
            if isinstance(f.default, bool):
                group.add_argument(f"--{flag}", dest=dest, action=argparse.BooleanOptionalAction,
                                   default=None, help=f"{help_text} (default: {f.default})")
            else:
                kind_type = type(f.default) if f.default is not None else str
                group.add_argument(f"--{flag}", dest=dest, type=kind_type, default=None,
                                   metavar=flag.upper().replace("-", "_"), help=f"{help_text} (default: {f.default})")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Build a validated RunConfig from parsed flags (unset flags keep the dataclass defaults)."""
    values: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for key, value in vars(args).items():
        if "__" in key and value is not None:
            section, name = key.split("__", 1)
            values[section][name] = value
    if "seed" in values["train"] and "seed" not in values["split"]:
        values["split"]["seed"] = values["train"]["seed"]
    return RunConfig.from_dict(values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cu_core", description=__doc__.split("\n")[0] + " Contrastive "
                                     "unlearning (Lee et al., IJCAI 2025): train, unlearn, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an original model or its retrained reference and evaluate it",
                           description="Train (or load from the cache) the original model on forget ∪ retain, "
                           "or with --retrain the reference on retain only; write DIR/metrics.json and "
                           "DIR/history.csv.")
    train.add_argument("--out", required=True, metavar="DIR", help="results folder (written atomically; replaced if it exists)")
    train.add_argument("--retrain", action="store_true", help="train on the retain set only (the oracle)")
    train.add_argument("--cache-dir", default=None, help="checkpoint/decoded-data cache (default: $CU_CACHE_DIR "
                       "or <project>/data/cache)")
    add_config_arguments(train)
    quick = sub.add_parser("quickstart", help="the default experiment: original and retrained model on digits",
                           description="Train the default original and retrained models and write "
                           "RESULTS/quickstart/{original,retrain}/.")
    quick.add_argument("--results-dir", default=None, help="default: $CU_RESULTS_DIR or <project>/data/results")
    quick.add_argument("--cache-dir", default=None)
    add_config_arguments(quick)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import pipeline

    try:
        cfg = config_from_args(args)
        if args.command == "train":
            metrics = pipeline.run_training(cfg, retrain=args.retrain, out_dir=args.out, cache_dir=args.cache_dir)
            print(json.dumps({"out": args.out, "acc": metrics["acc"], "seconds": metrics["seconds"]}, indent=2))
        elif args.command == "quickstart":
            runs = pipeline.quickstart(args.results_dir, args.cache_dir, cfg)
            print(json.dumps({kind: m["acc"] for kind, m in runs.items()}, indent=2))
    except (ConfigError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
