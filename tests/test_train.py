"""Training on digits: accuracy, the retrained reference, the checkpoint cache, resume, result files."""
import csv
import json

import numpy as np
import pytest
import torch

import cu_core.train as train_module
from cu_core.config import RunConfig, TrainConfig
from cu_core.pipeline import prepare, run_training, train_reference


def test_original_reaches_90_percent_on_digits(digits_runs):
    acc = digits_runs["original"]["acc"]
    assert acc["test"] >= 0.90 and acc["val"] >= 0.90
    assert acc["forget_test"] >= 0.85  # the original model knows the class to forget
    assert all(0.0 <= v <= 1.0 for v in acc.values())


def test_retrained_model_never_learned_the_forget_class(digits_runs):
    acc = digits_runs["retrain"]["acc"]
    assert acc["forget_test"] <= 0.02 and acc["forget_train"] <= 0.02
    assert acc["retain_test"] >= 0.90
    assert abs(acc["retain_test"] - digits_runs["original"]["acc"]["retain_test"]) < 0.05


def test_metrics_file_schema(digits_runs):
    out = digits_runs["root"] / "results" / "original"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["acc"]) == {"forget_train", "retain_train", "val", "test", "forget_test", "retain_test"}
    assert set(metrics["seconds"]) == {"train", "eval"} and metrics["seconds"]["train"] > 0
    for key in ("config", "split_sha256", "checkpoint", "versions", "device", "seed", "dataset", "git_commit"):
        assert key in metrics
    assert RunConfig.from_dict(metrics["config"]) == digits_runs["cfg"]  # every parameter, round-trippable
    assert metrics["dataset"] == "scikit-learn digits (8×8)" and metrics["versions"]["torch"] == torch.__version__
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert len(rows) == digits_runs["cfg"].train.epochs
    best = max(range(len(rows)), key=lambda i: float(rows[i]["val_acc"]))
    assert metrics["best_epoch"] == best + 1  # chosen on validation, first best epoch
    assert not list(out.parent.glob(".*tmp"))  # no temporary folders left behind


def test_second_call_hits_the_cache(digits_runs, tmp_path):
    again = run_training(digits_runs["cfg"], out_dir=tmp_path / "again", cache_dir=digits_runs["root"] / "cache")
    assert again["cache_hit"] and not digits_runs["original"]["cache_hit"]
    assert again["acc"] == digits_runs["original"]["acc"]
    assert again["checkpoint"] == digits_runs["original"]["checkpoint"]
    other_seed = RunConfig(train=TrainConfig(progress=False, seed=1, epochs=1))
    assert not run_training(other_seed, cache_dir=digits_runs["root"] / "cache")["cache_hit"]


def test_sample_task_metrics_have_no_class_parts(digits_runs):
    cfg = RunConfig.from_dict({"split": {"task": "sample", "num_forget": 50}, "train": {"progress": False}})
    metrics = run_training(cfg, cache_dir=digits_runs["root"] / "cache")
    assert metrics["cache_hit"]  # same training set as the class task's original model → same checkpoint
    assert set(metrics["acc"]) == {"forget_train", "retain_train", "val", "test"}
    assert metrics["acc"]["forget_train"] >= 0.95  # the original model fits its training samples


def test_interrupted_training_resumes_bit_identically(tmp_path, monkeypatch):
    cfg = RunConfig(train=TrainConfig(progress=False, epochs=4, select="last"))
    reference = train_reference(prepare(cfg), retrain=False, cache_dir=tmp_path / "ref")
    calls = {"n": 0}
    real_accuracy = train_module.accuracy

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_accuracy(*args, **kwargs)

    monkeypatch.setattr(train_module, "accuracy", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        train_reference(prepare(cfg), retrain=False, cache_dir=tmp_path / "run")
    partials = list((tmp_path / "run" / "checkpoints").glob("*.partial.pt"))
    assert len(partials) == 1 and not list((tmp_path / "run" / "checkpoints").glob("*[!l].pt"))
    monkeypatch.setattr(train_module, "accuracy", real_accuracy)
    resumed = train_reference(prepare(cfg), retrain=False, cache_dir=tmp_path / "run")
    assert not resumed.cache_hit and [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    for (name, a), b in zip(reference.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert not list((tmp_path / "run" / "checkpoints").glob("*.partial.pt"))


def test_non_finite_loss_stops_with_the_step(tmp_path, monkeypatch):
    cfg = RunConfig(train=TrainConfig(progress=False, epochs=2, lr=1e30, momentum=0.0, weight_decay=0.0))
    with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+"):
        train_reference(prepare(cfg), retrain=False, cache_dir=tmp_path)
    assert not list((tmp_path / "checkpoints").glob("*[!l].pt"))  # no finished checkpoint for a failed run


def test_same_seed_same_weights(tmp_path):
    cfg = RunConfig(train=TrainConfig(progress=False, epochs=2))
    a = train_reference(prepare(cfg), retrain=True, cache_dir=tmp_path / "a")
    b = train_reference(prepare(cfg), retrain=True, cache_dir=tmp_path / "b")
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    assert np.isclose(a.history[-1]["train_loss"], b.history[-1]["train_loss"], rtol=0, atol=0)


def test_cifar_path_end_to_end_with_resnet18(tmp_path):
    """Archive → decode → split → ResNet-18 (supcon head) training → metrics, on a tiny synthetic archive."""
    from cu_core.data import ARCHIVE_NAME, write_archive

    rng = np.random.default_rng(0)
    splits = {"train": (rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8), np.arange(40) % 10),
              "test": (rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8), np.arange(10))}
    (tmp_path / "data").mkdir()
    sha = write_archive(tmp_path / "data" / ARCHIVE_NAME, splits, tuple("abcdefghij"))
    cfg = RunConfig.from_dict({"data": {"dataset": "cifar10", "data_dir": str(tmp_path / "data"), "source": "archive",
                                        "archive_sha256": sha, "normalization": "authors"},
                               "split": {"val_fraction": 0.25}, "model": {"name": "resnet18"},
                               "train": {"epochs": 1, "batch_size": 16, "progress": False}})
    metrics = run_training(cfg, retrain=True, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    assert metrics["dataset"] == "CIFAR-10 (JPEG copy)" and metrics["kind"] == "retrain"
    assert metrics["split_sizes"] == {"val": 10, "forget": 3, "retain": 27, "test_forget": 1, "test_retain": 9,
                                      "val_forget": 1, "val_retain": 9}
    assert (tmp_path / "out" / "metrics.json").is_file()
