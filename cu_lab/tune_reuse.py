"""A run `tune` already made, found again: the two objectives' studies of one method and task share their seeds,
so their samplers draw the same settings at first (TPE's random start-up trials), and their best trials often
coincide. A trial or an evaluation whose run (same run config, same method config) exists in a sibling folder
gets a copy of that run folder instead of computing it again: the results are the same files the same code
wrote. The copy still counts its `cost.samples` against the budget (what the trial costs, wherever it ran).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cu_core.config import RunConfig
from cu_core.results_io import to_jsonable
from cu_core.results_read import read_metrics
from cu_core.experiments.overrides import unlearn_config


def _canonical(config: Any, method_config: Any) -> str:
    return json.dumps(to_jsonable({"config": config, "unlearn_config": method_config}), sort_keys=True)


def key(cfg: RunConfig, method: str, preset: str, overrides: dict[str, Any]) -> str:
    """What makes two runs the same: the run config and the method's full config, as canonical JSON."""
    mcfg = unlearn_config(method, preset=preset, overrides=overrides, seed=cfg.split.seed)
    return _canonical(cfg.to_dict(), dataclasses.asdict(mcfg))


def find(folders: Iterable[Path], wanted: str) -> Path | None:
    """A finished run folder (`<folder>/runs/<name>/`, its outputs kept) whose metrics.json has key `wanted`; never
    a hidden folder (another process's copy in progress, which it renames away)."""
    for folder in folders:
        for path in sorted((folder / "runs").glob("*/metrics.json")):
            if path.parent.name.startswith("."):
                continue
            m = read_metrics(path)
            if m is not None and (path.parent / "outputs.npz").is_file() \
                    and _canonical(m.get("config"), m.get("unlearn_config")) == wanted:
                return path.parent
    return None


def copy_run(source: Path, dest: Path) -> bool:
    """Copy a finished run folder to `dest` (absent) atomically: into a hidden staging folder, then renamed. False
    (nothing written) when another process changed `source` during the copy or wrote `dest` first: the caller then
    runs (or reads) `dest` itself."""
    staging = dest.parent / f".{dest.name}.copy-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)  # this process's own leftover staging folder (hidden, named by its pid)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(source, staging)
        os.rename(staging, dest)  # fails when dest appeared meanwhile (a folder that is not empty)
    except (OSError, shutil.Error):
        shutil.rmtree(staging, ignore_errors=True)
        return False
    return True
