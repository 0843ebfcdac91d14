"""Injected faults: non-finite losses and poisoned weights in training and contrastive unlearning stop with an
error naming where (epoch/pass and step), keep the last good state and write no results; damaged files
(a tampered or truncated CIFAR archive, a damaged decoded cache, damaged checkpoints, a corrupt metrics.json)
are refused with a clear error or detected and recomputed.

Complements tests/test_train.py (a diverging learning rate; a KeyboardInterrupt and resume) and
tests/test_data.py (a tampered archive through `load_dataset`).
"""
from __future__ import annotations

import copy
import json
import math
import types
import warnings

import numpy as np
import pytest
import torch

import cu_core.train as train_module
import cu_core.unlearn.contrastive as contrastive_module
from cu_core import cli
from cu_core.config import RunConfig, TrainConfig
from cu_core.data import ARCHIVE_NAME, load_dataset, write_archive
from cu_core.errors import DataError
from cu_core.pipeline import prepare, run_training, run_unlearning, train_reference
from cu_core.results import load_runs, read_metrics, run_complete
from cu_core.unlearn import ContrastiveConfig, method_config, unlearn

SHORT = RunConfig(train=TrainConfig(progress=False, epochs=3, select="last"))


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _poison(model: torch.nn.Module) -> torch.nn.Module:
    """The model with one NaN weight in its first parameter."""
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    return model


@pytest.fixture(scope="module")
def clean_short(tmp_path_factory):
    """SHORT trained without faults: the reference every recovered run must equal bit for bit (CPU)."""
    return train_reference(prepare(SHORT), retrain=False, cache_dir=tmp_path_factory.mktemp("clean"))


def _steps_per_epoch(prep, batch_size):
    n = len(prep.split.train)
    return n // batch_size if n % batch_size == 1 else math.ceil(n / batch_size)


def _poisoned_cross_entropy(monkeypatch, module, at_call, bad):
    """Replace `module.F` by a copy whose cross_entropy returns `bad` (keeping the graph) on call `at_call`."""
    real = torch.nn.functional
    calls = {"n": 0}

    def cross_entropy(*args, **kwargs):
        calls["n"] += 1
        loss = real.cross_entropy(*args, **kwargs)
        return loss * bad if calls["n"] == at_call else loss

    monkeypatch.setattr(module, "F", types.SimpleNamespace(cross_entropy=cross_entropy))
    return calls


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_training_stops_at_the_bad_step_keeps_the_last_good_state_and_resumes(tmp_path, monkeypatch, clean_short,
                                                                              bad):
    prep = prepare(SHORT)
    per_epoch = _steps_per_epoch(prep, SHORT.train.batch_size)
    _poisoned_cross_entropy(monkeypatch, train_module, per_epoch + 3, bad)  # epoch 2, step 3
    with pytest.raises(FloatingPointError, match=r"training loss is (nan|inf) at epoch 2, step 3") as info:
        train_reference(prep, retrain=False, cache_dir=tmp_path)
    checkpoints = tmp_path / "checkpoints"
    partials = list(checkpoints.glob("*.partial.pt"))
    assert len(partials) == 1 and str(partials[0]) in str(info.value)  # the message says where the good state is
    assert not [p for p in checkpoints.glob("*.pt") if not p.name.endswith(".partial.pt")]  # nothing "finished"
    saved = torch.load(partials[0], weights_only=False)
    assert saved["state"]["epoch"] == 1 and len(saved["state"]["history"]) == 1
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())
    monkeypatch.undo()  # the fault is gone: the run resumes from epoch 2 and ends where a clean run ends
    resumed = train_reference(prepare(SHORT), retrain=False, cache_dir=tmp_path)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]
    assert _same_weights(resumed.model, clean_short.model)
    assert not list(checkpoints.glob("*.partial.pt"))


def test_poisoned_weight_stops_training_at_the_first_step(tmp_path, monkeypatch):
    real = train_module.make_model
    monkeypatch.setattr(train_module, "make_model", lambda *a, **k: _poison(real(*a, **k)))
    with pytest.raises(FloatingPointError, match=r"training loss is nan at epoch 1, step 1; the last good state is "
                                                 r"kept in none"):
        run_training(SHORT, out_dir=tmp_path / "out", cache_dir=tmp_path)
    assert not (tmp_path / "out").exists() and not list((tmp_path / "checkpoints").glob("*.pt"))


def test_damaged_partial_checkpoint_restarts_training(tmp_path, monkeypatch, clean_short):
    prep = prepare(SHORT)
    _poisoned_cross_entropy(monkeypatch, train_module, _steps_per_epoch(prep, SHORT.train.batch_size) + 1,
                            float("nan"))
    with pytest.raises(FloatingPointError):
        train_reference(prep, retrain=False, cache_dir=tmp_path)
    monkeypatch.undo()
    (partial,) = (tmp_path / "checkpoints").glob("*.partial.pt")
    partial.write_bytes(partial.read_bytes()[:100])  # truncated, e.g. a full disk
    with pytest.warns(UserWarning, match="partial checkpoint .* could not be loaded"):
        again = train_reference(prepare(SHORT), retrain=False, cache_dir=tmp_path)
    assert [row["epoch"] for row in again.history] == [1, 2, 3] and not again.cache_hit
    assert _same_weights(again.model, clean_short.model)


def test_damaged_final_checkpoint_is_retrained(tmp_path, clean_short):
    first = train_reference(prepare(SHORT), retrain=False, cache_dir=tmp_path)
    raw = bytearray(first.checkpoint.read_bytes())
    first.checkpoint.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.warns(UserWarning, match="could not be loaded"):
        again = train_reference(prepare(SHORT), retrain=False, cache_dir=tmp_path)
    assert not again.cache_hit and _same_weights(again.model, clean_short.model)
    assert train_reference(prepare(SHORT), retrain=False, cache_dir=tmp_path).cache_hit  # healed


# ---------------------------------------------------------------- contrastive unlearning
def test_non_finite_unlearning_loss_stops_with_the_pass_and_step_and_writes_nothing(digits_runs, tmp_path,
                                                                                   monkeypatch):
    real = contrastive_module.unlearning_loss
    calls = {"n": 0}

    def loss_nan_on_third(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(contrastive_module, "unlearning_loss", loss_nan_on_third)
    with pytest.raises(FloatingPointError, match=r"not finite at pass 1, step 3: .*'loss_ul': nan"):
        run_unlearning(digits_runs["cfg"], ContrastiveConfig(progress=False), out_dir=tmp_path / "out",
                       cache_dir=digits_runs["root"] / "cache")
    assert calls["n"] == 3 and not (tmp_path / "out").exists() and not list(tmp_path.iterdir())


def test_poisoned_weight_stops_contrastive_unlearning_at_the_first_step(class_setup):
    prep, original = class_setup
    forget, retain, val = prep.parts()
    before = copy.deepcopy(original.model.state_dict())
    with pytest.raises(FloatingPointError, match=r"pass 1, step 1"):
        unlearn("contrastive", _poison(copy.deepcopy(original.model)), forget, retain, val,
                ContrastiveConfig(progress=False), task="class", num_classes=prep.num_classes)
    assert all(torch.equal(v, original.model.state_dict()[k]) for k, v in before.items())  # caller's model intact


def test_anchor_without_positive_under_policy_none_names_the_pass_and_step(digits_runs):
    """no_positive="none" (the paper as written): log of an empty positive sum. The loss raises; the loop adds
    where (pass, step), instead of a bare count of anchors."""
    cfg = RunConfig.from_dict({"split": {"task": "sample", "num_forget": 100}, "train": {"progress": False}})
    prep = prepare(cfg)
    original = train_reference(prep, retrain=False, cache_dir=digits_runs["root"] / "cache")
    assert original.cache_hit  # same training set as the class task's original model
    forget, retain, val = prep.parts()
    mcfg = method_config("contrastive", no_positive="none", batch_size=4, progress=False)
    with pytest.raises(FloatingPointError, match=r"stopped at pass 1, step \d+: \d+ of 4 anchors have no positive"):
        unlearn("contrastive", original.model, forget, retain, val, mcfg, task="sample", num_classes=10)


# ---------------------------------------------------------------- the CIFAR-10 archive
@pytest.fixture()
def tiny_archive(tmp_path):
    rng = np.random.default_rng(1)
    splits = {"train": (rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8), np.arange(40) % 10),
              "test": (rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8), np.arange(10))}
    data = tmp_path / "data"
    data.mkdir()
    sha = write_archive(data / ARCHIVE_NAME, splits, tuple("abcdefghij"))
    cfg = RunConfig.from_dict({"data": {"dataset": "cifar10", "data_dir": str(data), "source": "archive",
                                        "archive_sha256": sha},
                               "split": {"val_fraction": 0.25}, "train": {"epochs": 1, "batch_size": 16,
                                                                          "progress": False}})
    return {"path": data / ARCHIVE_NAME, "sha": sha, "cfg": cfg, "cache": tmp_path / "cache"}


def _flip_byte(path, where=0.5):
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * where)] ^= 0x01
    path.write_bytes(bytes(raw))


def test_tampered_archive_is_refused_by_the_pipeline_and_the_cli(tiny_archive, tmp_path, capsys):
    a = tiny_archive
    _flip_byte(a["path"])
    with pytest.raises(DataError, match=rf"{ARCHIVE_NAME} failed its checksum: sha256 [0-9a-f]{{64}}, expected "
                                        rf"{a['sha']}\. The file is corrupt or was modified"):
        run_training(a["cfg"], out_dir=tmp_path / "out", cache_dir=a["cache"])
    argv = ["train", "--dataset", "cifar10", "--source", "archive", "--data-dir", str(a["path"].parent),
            "--archive-sha256", a["sha"], "--out", str(tmp_path / "out"), "--cache-dir", str(a["cache"])]
    assert cli.main(argv) == 2
    assert "failed its checksum" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not a["cache"].exists()  # nothing decoded, trained or written


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_archive_without_checksum_is_a_data_error(tiny_archive, damage):
    """With the checksum switched off (`archive_sha256=None`), a damaged file still fails as a DataError naming
    the archive, not as a zip/zlib/JPEG exception from deep inside numpy or PIL."""
    a = tiny_archive
    if damage == "truncate":
        a["path"].write_bytes(a["path"].read_bytes()[:-200])
    else:
        _flip_byte(a["path"], 0.3)
    with pytest.raises(DataError, match=rf"CIFAR-10 archive .*{ARCHIVE_NAME}"):
        load_dataset("cifar10", "train", a["path"].parent, source="archive", cache_dir=a["cache"], archive_sha256=None)
    assert not list(a["cache"].glob("*.npz")) if a["cache"].exists() else True


def test_damaged_decoded_cache_is_rebuilt_from_the_archive(tiny_archive):
    a = tiny_archive
    load = lambda: load_dataset("cifar10", "train", a["path"].parent, source="archive", cache_dir=a["cache"],
                                archive_sha256=a["sha"])
    first = load()
    (cached,) = a["cache"].glob("cifar10_jpeg-*.npz")
    cached.write_bytes(cached.read_bytes()[:64])
    again = load()
    assert np.array_equal(first.images, again.images) and np.array_equal(first.labels, again.labels)
    with np.load(cached) as data:  # rewritten whole
        assert data["train_images"].shape == (40, 3, 32, 32)


# ---------------------------------------------------------------- metrics.json
def test_corrupt_metrics_json_counts_as_missing_and_is_recomputed(digits_runs, tmp_path):
    cfg, cache = digits_runs["cfg"], digits_runs["root"] / "cache"
    out = tmp_path / "results" / "original"
    assert read_metrics(out) is None and not run_complete(out)  # missing: None, without a warning
    metrics = run_training(cfg, out_dir=out, cache_dir=cache)
    good = (out / "metrics.json").read_text()
    assert run_complete(out) and read_metrics(out / "metrics.json") == json.loads(good)
    assert read_metrics(out)["acc"] == metrics["acc"]

    damaged = {"truncated": good[: len(good) // 2],
               "not an object": json.dumps([1, 2, 3]),
               "breaks the schema": json.dumps({**json.loads(good), "acc": {**metrics["acc"], "test": 1.5}}),
               "lacks a key": json.dumps({k: v for k, v in json.loads(good).items() if k != "split_sha256"})}
    for what, text in damaged.items():
        (out / "metrics.json").write_text(text)
        with pytest.warns(RuntimeWarning, match="treating .*metrics.json as missing"):
            assert read_metrics(out) is None, what
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert not run_complete(out)
            assert load_runs("*", tmp_path / "results", validate=True).empty
            if what == "breaks the schema":  # without validation only unreadable files are skipped
                assert len(load_runs("*", tmp_path / "results")) == 1

    # the resume rule: a run that is not complete is computed again, and its folder replaced
    with pytest.warns(RuntimeWarning, match="as missing"):
        done = run_complete(out)
    if not done:
        run_training(cfg, out_dir=out, cache_dir=cache)
    assert run_complete(out) and json.loads((out / "metrics.json").read_text())["acc"] == metrics["acc"]
