"""The tables of the variants page (`book/method/variants.md`), read from `cu_core`'s configuration and parser.

- `differences_table`: the page's list of differences between paper, code and `cu_core`, with each setting's
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
