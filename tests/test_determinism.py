"""Determinism on CPU: the same seeds give identical results files for training, contrastive unlearning and
baselines (the wall-clock fields aside), a different seed gives different ones, and every metrics.json
written records its seeds.

Complements the weight-level checks of tests/test_train.py, tests/test_unlearn.py and the baseline tests,
which compare models in one process; here the whole written run is compared (metrics.json, history.csv,
passes.csv, outputs.npz), through the pipeline and the command line.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from cu_core import cli
from cu_core.config import RunConfig
from cu_core.pipeline import run_training, run_unlearning
from cu_core.unlearn import method_config, unlearn

#: What legitimately differs between two runs with the same seeds: wall time (and RTE, a ratio of wall
#: times), where the weights came from (the first call trains, the second may load the cache), and the
#: checkout's commit (others may commit while the tests run).
VOLATILE = ("seconds", "rte", "cache_hit", "checkpoint", "git_commit")


def _written(out):
    """Everything a run folder holds, minus the volatile fields: metrics, CSV tables, per-example outputs."""
    metrics = json.loads((out / "metrics.json").read_text())
    tables = {}
    for path in sorted(out.glob("*.csv")):
        rows = list(csv.DictReader(path.open()))
        tables[path.name] = [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
    with np.load(out / "outputs.npz") as data:
        outputs = {k: data[k] for k in data.files}
    return {k: v for k, v in metrics.items() if k not in VOLATILE}, tables, outputs


def _assert_same_run(a, b):
    (ma, ta, oa), (mb, tb, ob) = _written(a), _written(b)
    assert ma == mb
    assert ta == tb and all(len(rows) > 0 for rows in ta.values())
    assert oa.keys() == ob.keys() and all(np.array_equal(oa[k], ob[k]) for k in oa)


def _assert_seeds_recorded(out, *, train_seed, split_seed, unlearn_seed=None):
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == train_seed
    assert metrics["config"]["train"]["seed"] == train_seed and metrics["config"]["split"]["seed"] == split_seed
    if unlearn_seed is not None:
        assert metrics["unlearn_config"]["seed"] == unlearn_seed


def test_training_same_seed_same_results(tmp_path):
    cfg = RunConfig.from_dict({"split": {"seed": 3}, "train": {"epochs": 2, "seed": 7, "progress": False}})
    for name in ("a", "b"):  # separate caches: both runs train
        metrics = run_training(cfg, out_dir=tmp_path / name, cache_dir=tmp_path / f"cache_{name}")
        assert not metrics["cache_hit"]
        _assert_seeds_recorded(tmp_path / name, train_seed=7, split_seed=3)
    _assert_same_run(tmp_path / "a", tmp_path / "b")
    other = RunConfig.from_dict({"split": {"seed": 3}, "train": {"epochs": 2, "seed": 8, "progress": False}})
    run_training(other, out_dir=tmp_path / "c", cache_dir=tmp_path / "cache_c")
    _assert_seeds_recorded(tmp_path / "c", train_seed=8, split_seed=3)
    assert _written(tmp_path / "c")[1] != _written(tmp_path / "a")[1]  # the seed matters: another history


BUDGETS = {  # small budgets: a couple of passes/epochs on digits
    "contrastive": dict(max_passes=2),
    "finetune": dict(epochs=1),
    "neggrad_plus": dict(epochs=1),
    "random_label": dict(epochs=1),
}


@pytest.mark.parametrize("method", sorted(BUDGETS))
def test_unlearning_same_seed_same_results(digits_runs, tmp_path, method):
    cfg, cache = digits_runs["cfg"], digits_runs["root"] / "cache"
    mcfg = method_config(method, progress=False, seed=5, **BUDGETS[method])
    for name in ("a", "b"):
        run_unlearning(cfg, mcfg, method=method, out_dir=tmp_path / name, cache_dir=cache)
        _assert_seeds_recorded(tmp_path / name, train_seed=cfg.train.seed, split_seed=cfg.split.seed, unlearn_seed=5)
    _assert_same_run(tmp_path / "a", tmp_path / "b")
    run_unlearning(cfg, method_config(method, progress=False, seed=6, **BUDGETS[method]), method=method,
                   out_dir=tmp_path / "c", cache_dir=cache)
    _assert_seeds_recorded(tmp_path / "c", train_seed=cfg.train.seed, split_seed=cfg.split.seed, unlearn_seed=6)
    assert _written(tmp_path / "c")[1]["history.csv"] != _written(tmp_path / "a")[1]["history.csv"]


def test_scrub_same_seed_same_model(class_setup):
    """SCRUB through the registry (see the xfail below for the pipeline): same history, passes and weights."""
    prep, original = class_setup
    forget, retain, val = prep.parts()
    cfg = method_config("scrub", epochs=2, msteps=1, seed=5, progress=False)
    a, b = (unlearn("scrub", original.model, forget, retain, val, cfg, task="class", num_classes=prep.num_classes)
            for _ in range(2))
    assert a.history == b.history and a.passes == b.passes and a.steps == b.steps > 0
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(x, y), name


def test_scrub_through_the_pipeline_writes_its_run(digits_runs, tmp_path):
    mcfg = method_config("scrub", epochs=1, msteps=1, seed=5, progress=False)
    run_unlearning(digits_runs["cfg"], mcfg, method="scrub", out_dir=tmp_path / "a",
                   cache_dir=digits_runs["root"] / "cache")
    _assert_seeds_recorded(tmp_path / "a", train_seed=0, split_seed=0, unlearn_seed=5)


def test_cli_seed_reaches_every_stage_and_repeats(tmp_path, capsys):
    """`--seed 3` seeds the split, the training and the unlearning; the same command twice writes the same run."""
    base = ["unlearn", "--method", "finetune", "--seed", "3", "--train-epochs", "1", "--epochs", "1",
            "--no-progress", "--cache-dir", str(tmp_path / "cache")]
    for name in ("a", "b"):
        assert cli.main(base + ["--out", str(tmp_path / name)]) == 0
        _assert_seeds_recorded(tmp_path / name, train_seed=3, split_seed=3, unlearn_seed=3)
    _assert_same_run(tmp_path / "a", tmp_path / "b")
    capsys.readouterr()
