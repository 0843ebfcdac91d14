"""Contrastive unlearning (Algorithm 1) on digits: it unlearns, keeps utility, stops by Eq. 8/9, and
refuses bad input before any work."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from cu_core.config import RunConfig
from cu_core.data import Part
from cu_core.errors import ConfigError
from cu_core.metrics import split_accuracies
from cu_core.pipeline import heldout_part, prepare, run_unlearning, train_reference
from cu_core.unlearn import ContrastiveConfig, contrastive_unlearn


@pytest.fixture(scope="module")
def class_setup(digits_runs):
    """The default class task (forget class 5): data, original and retrained models (from the cache)."""
    prep = prepare(digits_runs["cfg"])
    cache = digits_runs["root"] / "cache"
    return prep, train_reference(prep, retrain=False, cache_dir=cache), train_reference(prep, retrain=True, cache_dir=cache)


def _unlearn(prep, model, **kwargs):
    cfg = ContrastiveConfig(progress=False, **kwargs)
    split = prep.split
    return contrastive_unlearn(model, Part(prep.train, split.forget), Part(prep.train, split.retain), config=cfg,
                               heldout=heldout_part(prep, cfg.stop_rule), task=split.task, num_classes=10)


@pytest.fixture(scope="module")
def class_result(class_setup):
    prep, original, _ = class_setup
    before = {k: v.clone() for k, v in original.model.state_dict().items()}
    result = _unlearn(prep, original.model)
    return result, before


def test_class_task_forgets_and_keeps_the_rest(class_setup, class_result):
    prep, original, retrain = class_setup
    result, _ = class_result
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
    ref = split_accuracies(retrain.model, prep.train, prep.test, prep.split)
    assert result.stop_reason == "condition" and result.epochs < 30
    assert result.passes[-1]["heldout_acc"] <= 0.1  # Eq. 8 on the validation images of class 5
    assert acc["forget_test"] <= 0.1 + 0.05  # and the test images follow (not used for stopping)
    assert acc["forget_train"] <= 0.2
    assert abs(acc["retain_test"] - ref["retain_test"]) <= 0.05
    assert result.steps == sum(1 for _ in result.history) and result.steps % 4 == 0
    assert result.seconds["unlearn"] > 0 and result.seconds["eval"] > 0


def test_caller_model_is_not_modified(class_setup, class_result):
    _, original, _ = class_setup
    _, before = class_result
    assert all(torch.equal(before[k], v) for k, v in original.model.state_dict().items())


def test_sample_task_stops_at_eq9(digits_runs):
    cfg = RunConfig.from_dict({"split": {"task": "sample", "num_forget": 100}, "train": {"progress": False}})
    prep = prepare(cfg)
    original = train_reference(prep, retrain=False, cache_dir=digits_runs["root"] / "cache")
    result = _unlearn(prep, original.model)
    last = result.passes[-1]
    assert result.stop_reason == "condition"
    assert last["forget_acc"] <= last["heldout_acc"]  # Eq. 9 holds at the stop
    assert abs(last["forget_acc"] - last["heldout_acc"]) <= 0.05  # ... and stopped close to it
    first_forget_acc = split_accuracies(original.model, prep.train, prep.test, prep.split)["forget_train"]
    assert last["forget_acc"] < first_forget_acc


def test_no_heldout_rule_uses_training_data_only(class_setup, digits_runs):
    prep, original, _ = class_setup
    empty = Part(prep.train, np.array([], dtype=np.int64))  # no held-out data at all
    split = prep.split
    cfg = ContrastiveConfig(progress=False, stop_rule="no_heldout")
    result = contrastive_unlearn(original.model, Part(prep.train, split.forget), Part(prep.train, split.retain),
                                 config=cfg, heldout=empty, task="class", num_classes=10)
    assert result.stop_reason == "condition" and result.passes[-1]["forget_acc"] <= 0.1
    assert all(p["forget_acc"] > 0.1 for p in result.passes[:-1])  # stopped at the first pass that met it
    sample = RunConfig.from_dict({"split": {"task": "sample", "num_forget": 100}, "train": {"progress": False}})
    sprep = prepare(sample)
    model = train_reference(sprep, retrain=False, cache_dir=digits_runs["root"] / "cache").model
    result = contrastive_unlearn(model, Part(sprep.train, sprep.split.forget), Part(sprep.train, sprep.split.retain),
                                 config=cfg, heldout=empty, task="sample", num_classes=10)
    # The sample rule compares the forget set's median confidence ("heldout_acc") with a retain-set quantile
    # ("threshold"); on digits it may not fire within the cap (see the book's stopping ablation), so the test
    # checks the mechanics: it stops at the first pass that meets it, or runs to the cap without meeting it.
    met = [p["heldout_acc"] <= p["threshold"] for p in result.passes]
    assert not any(met[:-1]) and (result.stop_reason == "condition") == met[-1]
    assert result.stop_reason in ("condition", "max_passes") and all(0 < p["threshold"] < 1 for p in result.passes)
    assert result.passes[-1]["heldout_acc"] < result.passes[0]["heldout_acc"]  # the forget set's confidence falls


@pytest.mark.parametrize("kwargs", [dict(variant="official"), dict(retain_sampling="sequential"),
                                    dict(reduction="sum", lambda_ul=3.0 / 64), dict(joint_forward=False, detach_retain=True)])
def test_variants_unlearn_the_class(class_setup, kwargs):
    prep, original, _ = class_setup
    result = _unlearn(prep, original.model, max_passes=12, **kwargs)
    assert result.passes[-1]["forget_acc"] < 0.5  # from ≈ 1.0


def test_fixed_rule_runs_every_pass_and_test_rule_reads_test(class_setup):
    prep, original, _ = class_setup
    fixed = _unlearn(prep, original.model, stop_rule="fixed", max_passes=2)
    assert fixed.stop_reason == "fixed_passes" and fixed.epochs == 2 and fixed.passes[0]["heldout_acc"] is None
    assert heldout_part(prep, "test").data is prep.test
    np.testing.assert_array_equal(heldout_part(prep, "test").indices, prep.split.test_forget)
    np.testing.assert_array_equal(heldout_part(prep, "val").indices, prep.split.val_forget)


def test_same_seed_same_unlearning(class_setup):
    prep, original, _ = class_setup
    a = _unlearn(prep, original.model, max_passes=1, stop_rule="fixed")
    b = _unlearn(prep, original.model, max_passes=1, stop_rule="fixed")
    assert a.history == b.history
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))


@pytest.mark.parametrize("kwargs, parameter", [
    (dict(temperature=0.0), "temperature"), (dict(temperature=-0.7), "temperature"), (dict(omega=0), "omega"),
    (dict(lambda_ul=-1.0), "lambda_ul"), (dict(lambda_ce=-0.5), "lambda_ce"), (dict(max_passes=0), "max_passes"),
    (dict(variant="code"), "variant"), (dict(retain_sampling="fixed"), "retain_sampling"),
    (dict(stop_rule="never"), "stop_rule"), (dict(lr=0.0), "lr"), (dict(batch_size=-1), "batch_size"),
])
def test_bad_config(kwargs, parameter):
    with pytest.raises(ConfigError) as err:
        ContrastiveConfig(**kwargs)
    assert err.value.parameter == parameter


def test_bad_sets_are_refused_before_work(class_setup):
    prep, original, _ = class_setup
    split, cfg = prep.split, ContrastiveConfig(progress=False)
    empty = Part(prep.train, np.array([], dtype=np.int64))
    with pytest.raises(ConfigError, match="forget"):
        contrastive_unlearn(original.model, empty, Part(prep.train, split.retain), config=cfg,
                            heldout=heldout_part(prep, "val"), task="class", num_classes=10)
    mixed = Part(prep.train, np.concatenate([split.forget[:5], split.retain[:5]]))
    with pytest.raises(ConfigError, match="single label"):
        contrastive_unlearn(original.model, mixed, Part(prep.train, split.retain), config=cfg,
                            heldout=heldout_part(prep, "val"), task="class", num_classes=10)


def test_cli_unlearn_writes_metrics(digits_runs, tmp_path):
    out = tmp_path / "u"
    res = subprocess.run([sys.executable, "-m", "cu_core", "unlearn", "--method", "contrastive", "--dataset", "digits",
                          "--task", "class", "--forget-class", "5", "--max-passes", "2", "--stop-rule", "fixed",
                          "--temperature", "0.5", "--omega", "2", "--no-progress", "--out", str(out),
                          "--cache-dir", str(digits_runs["root"] / "cache")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["stop_reason"] == "fixed_passes" and metrics["method"] == "contrastive"
    assert metrics["unlearn_config"]["temperature"] == 0.5 and metrics["unlearn_config"]["omega"] == 2
    assert metrics["steps"] == 2 * 2 * int(np.ceil(metrics["split_sizes"]["forget"] / 64))
    assert metrics["acc_original"]["forget_train"] > metrics["acc"]["forget_train"]
    assert (out / "history.csv").read_text().count("\n") == metrics["steps"] + 1
    assert (out / "passes.csv").read_text().count("\n") == 3
    bad = subprocess.run([sys.executable, "-m", "cu_core", "unlearn", "--temperature", "-1", "--out", str(tmp_path / "b")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "temperature" in bad.stderr and not (tmp_path / "b").exists()


def test_unlearn_run_reports_attacks_gap_probe_and_cost(digits_runs, tmp_path):
    from cu_core.metrics import Evaluation
    from cu_core.schema import validate_metrics

    cfg = RunConfig.from_dict({"train": {"progress": False}})
    metrics = run_unlearning(cfg, ContrastiveConfig(progress=False), out_dir=tmp_path / "u",
                             cache_dir=digits_runs["root"] / "cache")
    validate_metrics(json.loads((tmp_path / "u" / "metrics.json").read_text()))
    for key in ("mia", "mia_retrain", "mia_original", "probe", "probe_retrain", "gap", "cost", "rte", "acc_retrain"):
        assert key in metrics
    assert metrics["acc_retrain"] == digits_runs["retrain"]["acc"]
    assert metrics["mia"]["mia_efficacy"] > metrics["mia_original"]["mia_efficacy"]  # forgotten vs remembered
    assert metrics["gap"]["terms"] == 4 and metrics["gap"]["avg_gap"] >= 0
    assert metrics["cost"] == {"steps": metrics["steps"], "samples": metrics["samples"],
                               "retrain_samples": 30 * metrics["split_sizes"]["retain"]} and metrics["rte"] > 0
    ev = Evaluation.load(tmp_path / "u" / "outputs.npz", prepare(cfg).split)  # attacks can re-run from the cache
    assert ev.accuracies() == pytest.approx(metrics["acc"])
    with pytest.raises(ConfigError, match="ulira_shadows"):
        run_unlearning(cfg, ContrastiveConfig(progress=False), ulira_shadows=5, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_reference_assessments_are_cached(digits_runs, tmp_path, monkeypatch):
    import cu_core.assess as assess_module

    cfg = RunConfig.from_dict({"train": {"progress": False}})
    ucfg = ContrastiveConfig(progress=False, max_passes=1, stop_rule="fixed")
    first = run_unlearning(cfg, ucfg, cache_dir=digits_runs["root"] / "cache")
    calls = []
    real = assess_module.assess
    monkeypatch.setattr(assess_module, "assess", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr("cu_core.pipeline.assess", assess_module.assess)
    second = run_unlearning(cfg, ucfg, cache_dir=digits_runs["root"] / "cache")
    assert len(calls) == 1  # only the unlearned model is assessed again
    assert second["mia_retrain"] == first["mia_retrain"] and second["acc_original"] == first["acc_original"]
