"""Helpers shared by the method chapter's pages: Markdown tables, float64 demos, the defaults they quote.

- `md_table`: a Markdown table (rendered by MyST) from a header and rows of strings, one helper for every
  method and appendix page (it formats through `report_studies.markdown_table`);
- `float64`: a context in which torch's default dtype is float64, so the loss demonstrations compare exactly;
- `unit`, `angle`: 2-D unit vectors at given angles and back, the toys' coordinates;
- `default_settings`: every default of `ContrastiveConfig`, `ModelConfig` and `SplitConfig` that the pages
  quote, formatted as the pages print it (read from the dataclasses, so the prose cannot drift from the code);
- `contrastive_help`: the method's part of `python -m cu_core unlearn --method contrastive --help`.
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import torch
from IPython.display import Markdown

from cu_book.report_studies import markdown_table
from cu_core.config import ModelConfig, SplitConfig
from cu_core.unlearn.contrastive import ContrastiveConfig


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Markdown:
    """A Markdown table from a header and rows; a '|' in a cell is escaped and a line break becomes a space."""
    cells = [[str(c).replace("\n", " ") for c in row] for row in rows]
    return Markdown(markdown_table(pd.DataFrame(cells, columns=list(header))))


@contextlib.contextmanager
def float64() -> Iterator[None]:
    """Run the body with torch's default dtype float64 (restored afterwards), as the loss pages compute."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def unit(degrees: torch.Tensor) -> torch.Tensor:
    """Unit vectors (n, 2) at the given angles (degrees)."""
    r = torch.deg2rad(degrees)
    return torch.stack([torch.cos(r), torch.sin(r)], dim=-1)


def angle(z: torch.Tensor) -> torch.Tensor:
    """Angles in degrees, in [0, 360), of 2-D vectors (..., 2)."""
    return torch.rad2deg(torch.atan2(z[..., 1], z[..., 0])) % 360


def default_settings() -> dict[str, str]:
    """The defaults the method pages quote, by short name (e.g. 'tau' -> '0.7'), formatted for the text."""
    cu, model, split = ContrastiveConfig(), ModelConfig(), SplitConfig()
    return {
        "tau": f"{cu.temperature:g}",
        "lambda_ul": f"{cu.lambda_ul:g}",
        "lambda_ce": f"{cu.lambda_ce:g}",
        "omega": f"{cu.omega:d}",
        "max_passes": f"{cu.max_passes:d}",
        "lr": f"{cu.lr:g}",
        "momentum": f"{cu.momentum:g}",
        "weight_decay": f"{cu.weight_decay:g}",
        "b_class": f"{cu.batch_size_for('class'):d}",
        "b_sample": f"{cu.batch_size_for('sample'):d}",
        "stop_rule": cu.stop_rule,
        "retain_sampling": cu.retain_sampling,
        "joint_forward": str(cu.joint_forward),
        "reduction": cu.reduction,
        "proj_dim": f"{model.proj_dim:d}",
        "head": model.head,
        "embedding": model.embedding,
        "forget_class": f"{split.forget_class:d}",
        "num_forget": f"{split.num_forget:d}",
        "val_pct": f"{100 * split.val_fraction:g}",
    }


def contrastive_help(columns: int = 100) -> str:
    """The 'unlearn options' section of the installed CLI's help for the contrastive method (all of it if absent)."""
    env = dict(os.environ, COLUMNS=str(columns))
    help_text = subprocess.run([sys.executable, "-m", "cu_core", "unlearn", "--method", "contrastive", "--help"],
                               capture_output=True, text=True, check=True, env=env).stdout
    section = re.search(r"^unlearn options:\n(?:(?:  .*)?\n?)+", help_text, re.M)
    return section.group(0).rstrip() if section else help_text
