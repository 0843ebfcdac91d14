"""The command line's flags (`cu_core.cli` builds the parser and runs the commands with them).

Flags are generated from the config dataclasses (`cu_core.config`, `cu_core.unlearn`), so their defaults and
help texts have one source; `unlearn --preset` picks the method settings per dataset (`cu_core.unlearn.presets`)
that the method's flags start from. Also: the hints for unrecognised flags and the negative-number fix.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from .config import DataConfig, ModelConfig, SplitConfig, TrainConfig
from .unlearn import METHODS
from .unlearn.presets import DATASET_PRESETS, NO_PRESET, PRESETS, preset_for, preset_name

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
    if command != "unlearn" or METHODS[method].reference:
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


def add_preset_argument(parser: argparse.ArgumentParser) -> None:
    """`--preset NAME|none`: the table of method settings (`cu_core.unlearn.presets`) the method's flags start from."""
    default = ", ".join(f"{d} → {t}" for d, t in DATASET_PRESETS.items())
    parser.add_argument("--preset", default=None, metavar="NAME", help="method settings per dataset that the method "
                        f"starts from: {' | '.join((*PRESETS, NO_PRESET))} (none = defaults: the public defaults "
                        "the method flags list); explicit method flags override it (default: the dataset's own: "
                        f"{default}, others → defaults)")


def method_preset(args: argparse.Namespace) -> dict[str, Any] | None:
    """The preset an `unlearn` command applies (None for other commands): {"name", "settings": the table's values
    it applies, "overridden": {field: [table value, flag value]} for the ones an explicit flag replaces}.
    A bad `--preset` raises `ConfigError` naming --preset and the allowed names."""
    if args.command != "unlearn":
        return None
    dataset = getattr(args, "data__dataset", None) or DataConfig().dataset
    preset = getattr(args, "preset", None)
    name = preset_name(dataset, preset, parameter="--preset")
    explicit = {key.split("__", 1)[1]: value for key, value in vars(args).items()
                if key.startswith("unlearn__") and value is not None}
    table = preset_for(dataset, args.method, name)
    return {"name": name, "chosen_by": "--preset" if preset is not None else f"dataset {dataset}",
            "settings": {k: v for k, v in table.items() if k not in explicit},
            "overridden": {k: [v, explicit[k]] for k, v in table.items() if k in explicit}}


def preset_line(choice: dict[str, Any], method: str) -> str:
    """One line for stderr: the preset applied, its settings and the flags that override them."""
    text = ", ".join(f"{k}={v!r}" for k, v in choice["settings"].items()) or (
        "none (Retrain uses the original model's recipe, the --train-* flags)" if METHODS[method].reference
        else "none (the method's public defaults)")
    line = f"preset {choice['name']!r} (chosen by {choice['chosen_by']}; --preset NAME|none) for {method}: {text}"
    if choice["overridden"]:
        line += "; overridden by flags: " + ", ".join(f"{k}={new!r} (preset {old!r})"
                                                      for k, (old, new) in choice["overridden"].items())
    return line


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


