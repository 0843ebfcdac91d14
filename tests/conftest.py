"""Shared fixtures: a trained original and retrained model on digits (the default config), made once."""
from __future__ import annotations

import os

import pytest

from cu_core.config import RunConfig, TrainConfig
from cu_core.pipeline import run_training

os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def digits_runs(tmp_path_factory):
    """Original and retrained models of the default config, with their own cache and results folders."""
    root = tmp_path_factory.mktemp("digits_runs")
    cfg = RunConfig(train=TrainConfig(progress=False))
    runs = {kind: run_training(cfg, retrain=kind == "retrain", out_dir=root / "results" / kind,
                               cache_dir=root / "cache") for kind in ("original", "retrain")}
    return {"root": root, "cfg": cfg, **runs}


@pytest.fixture(scope="session")
def class_setup(digits_runs):
    """The default class task's prepared data and its original model (from the session's cache).

    Modules that need the retrained model as well override this fixture."""
    from cu_core.pipeline import prepare, train_reference

    prep = prepare(digits_runs["cfg"])
    return prep, train_reference(prep, retrain=False, cache_dir=digits_runs["root"] / "cache")
