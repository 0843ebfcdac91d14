"""The method registry: one interface, declared tasks, validated configs, untouched input models."""
import dataclasses

import numpy as np
import pytest
import torch

from cu_core.data import Part
from cu_core.errors import ConfigError
from cu_core.pipeline import prepare, train_reference
from cu_core.unlearn import METHODS, ContrastiveConfig, Method, UnlearnResult, method_config, register, unlearn


@dataclasses.dataclass(frozen=True)
class _NoConfig:
    pass


@pytest.fixture()
def class_only_method():
    calls = []
    register(Method("_class_only", ("class",), _NoConfig,
                    lambda *a, **k: calls.append(1) or UnlearnResult(a[0], [], [], "fixed_passes", 0), "test"))
    yield calls
    del METHODS["_class_only"]


@pytest.fixture(scope="module")
def parts(digits_runs):
    prep = prepare(digits_runs["cfg"])
    model = train_reference(prep, retrain=False, cache_dir=digits_runs["root"] / "cache").model
    s = prep.split
    return model, Part(prep.train, s.forget), Part(prep.train, s.retain), Part(prep.train, s.val)


def test_unknown_method_and_wrong_task_are_refused(parts, class_only_method):
    model, forget, retain, val = parts
    with pytest.raises(ConfigError, match="method"):
        unlearn("forget_everything", model, forget, retain, val, task="class", num_classes=10)
    with pytest.raises(ConfigError, match="supports class tasks only"):
        unlearn("_class_only", model, forget, retain, val, task="sample", num_classes=10)
    assert class_only_method == []  # refused before any work
    with pytest.raises(ConfigError, match="config"):
        unlearn("contrastive", model, forget, retain, val, _NoConfig(), task="class", num_classes=10)
    with pytest.raises(ValueError, match="twice"):
        register(METHODS["contrastive"])


def test_contrastive_through_the_registry(parts):
    model, forget, retain, val = parts
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = method_config("contrastive", max_passes=2, stop_rule="fixed", progress=False)
    assert isinstance(cfg, ContrastiveConfig)
    result = unlearn("contrastive", model, forget, retain, val, cfg, task="class", num_classes=10)
    assert result.epochs == 2 and result.passes[-1]["forget_acc"] < 1.0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_every_method_declares_tasks_and_a_default_config():
    for name, method in METHODS.items():
        assert method.name == name and set(method.tasks) <= {"class", "sample"} and method.tasks
        assert dataclasses.is_dataclass(method.config()) and method.summary
    assert np.all([name in METHODS for name in ("contrastive",)])


def test_retrain_method_is_the_cached_reference(digits_runs, tmp_path):
    from cu_core.config import RunConfig
    from cu_core.pipeline import run_unlearning

    cfg = RunConfig.from_dict({"train": {"progress": False}})
    metrics = run_unlearning(cfg, method="retrain", out_dir=tmp_path / "r", cache_dir=digits_runs["root"] / "cache")
    assert metrics["acc"] == digits_runs["retrain"]["acc"]  # the same weights, loaded from the shared cache
    assert metrics["gap"]["avg_gap"] == 0.0 and metrics["stop_reason"] == "retrained"
    assert metrics["unlearn_config"]["epochs"] == cfg.train.epochs


def test_retrain_through_the_registry_trains_from_scratch(parts, tmp_path):
    from cu_core.unlearn.retrain import RetrainConfig

    model, forget, retain, val = parts
    result = unlearn("retrain", model, forget, retain, val, RetrainConfig(epochs=3, progress=False,
                                                                          cache_dir=str(tmp_path)),
                     task="class", num_classes=10)
    assert result.steps == 3 * int(np.ceil(len(retain) / 64)) and len(result.history) == 3
    from cu_core.metrics import accuracy

    assert accuracy(result.model, forget.data, forget.indices) == 0.0  # never saw the forgotten class
