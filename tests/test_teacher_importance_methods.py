"""SCRUB, Bad Teacher, SSD and Fisher forgetting on digits: they forget (or are documented as weak), keep the
rest, never touch the caller's model, and refuse bad configs by name."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cu_core.config import RunConfig
from cu_core.data import Part
from cu_core.errors import ConfigError
from cu_core.metrics import split_accuracies
from cu_core.pipeline import prepare, train_reference
from cu_core.unlearn.importance_methods import METHODS as IMPORTANCE
from cu_core.unlearn.importance_methods import (
    FisherConfig,
    SsdConfig,
    fisher,
    fisher_diagonal,
    ssd,
)
from cu_core.unlearn.teacher_methods import METHODS as TEACHER
from cu_core.unlearn.teacher_methods import BadTeacherConfig, ScrubConfig, random_init

RUN = {name: (cfg, fn) for name, _, cfg, fn, _ in TEACHER + IMPORTANCE}
# Settings that forget class 5 on digits. The public defaults are tuned for CIFAR-scale runs: on digits' ~180
# forget images SCRUB's 5e-4 lr (18 max-steps) and Bad Teacher's 2 Adam steps of batch 256 barely move the model.
TUNED = {"scrub": {"lr": 1e-2, "forget_batch_size": 16}, "bad_teacher": {"lr": 1e-3, "batch_size": 64},
         "ssd": {}, "fisher": {"estimator": "batch", "alpha": 1e-7}}


def _setup(cfg, root):
    prep = prepare(cfg)
    original = train_reference(prep, retrain=False, cache_dir=root / "cache")
    s = prep.split
    parts = (Part(prep.train, s.forget, "forget"), Part(prep.train, s.retain, "retain"), Part(prep.train, s.val, "val"))
    return prep, original.model, parts


@pytest.fixture(scope="module")
def class_setup(digits_runs):
    prep, model, parts = _setup(digits_runs["cfg"], digits_runs["root"])
    return prep, model, parts, split_accuracies(model, prep.train, prep.test, prep.split)


def _run(name, model, parts, task, **kwargs):
    cfg_type, fn = RUN[name]
    return fn(model, *parts, cfg_type(progress=False, **kwargs), task=task, num_classes=10)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", list(TUNED))
def test_class_task_forgets_keeps_the_rest_and_leaves_the_input(class_setup, name):
    prep, model, parts, before_acc = class_setup
    before = _state(model)
    result = _run(name, model, parts, "class", **TUNED[name])
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
    assert before_acc["forget_test"] >= 0.95
    assert acc["forget_test"] <= before_acc["forget_test"] - 0.2, acc  # observed: 0.0 (Fisher ≈ 0.16)
    assert acc["retain_test"] >= 0.5, acc  # observed ≥ 0.92
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert result.model is not model and result.seconds["unlearn"] > 0
    assert result.stop_reason == ("one_shot" if name in ("ssd", "fisher") else "fixed_passes")


def test_scrub_with_notebook_defaults_is_weak_on_digits(class_setup):
    # Expected, not a bug: SCRUB's MIA-notebook defaults (lr 5e-4, 5 epochs, forget batch 32) take only 18
    # max-steps here and leave class 5 at ≈ 100 % test accuracy; the CU paper (Figure 2) likewise notes that
    # SCRUB needs several passes. The tuned setting above (lr 1e-2) forgets.
    prep, model, parts, _ = class_setup
    result = _run("scrub", model, parts, "class")
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
    assert acc["forget_test"] >= 0.9 and acc["retain_test"] >= 0.9
    assert len(result.passes) == 5 and sum(h["phase"] == "max" for h in result.history) == 3 * math.ceil(
        len(parts[0]) / 32)
    assert [p["lr"] for p in result.passes] == pytest.approx([5e-4, 5e-4, 5e-4, 5e-5, 5e-5])


@pytest.mark.parametrize("name", list(TUNED))
def test_sample_task_completes_with_finite_metrics(digits_runs, name):
    cfg = RunConfig.from_dict({"split": {"task": "sample", "num_forget": 100}, "train": {"progress": False}})
    prep, model, parts = _setup(cfg, digits_runs["root"])
    result = _run(name, model, parts, "sample", **({"estimator": "batch"} if name == "fisher" else {}))
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
    assert all(math.isfinite(v) for v in acc.values()), acc
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


def test_incompetent_teacher_is_a_fresh_model(class_setup):
    _, model, _, _ = class_setup
    fresh = random_init(model)
    for (n, p), q in zip(model.named_parameters(), fresh.parameters()):
        assert not torch.equal(p, q) or p.numel() == 0 or n.endswith("bn.weight"), n  # BN weight resets to 1
    for m in fresh.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert torch.equal(m.running_mean, torch.zeros_like(m.running_mean))
            assert torch.equal(m.running_var, torch.ones_like(m.running_var))
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))


def test_ssd_dampens_selected_parameters_only(class_setup):
    _, model, parts, _ = class_setup
    result = ssd(model, *parts, SsdConfig(progress=False), task="class", num_classes=10)
    changed = 0
    for (n, old), new in zip(model.named_parameters(), result.model.parameters()):
        diff = old != new
        changed += int(diff.sum())
        assert torch.equal(old[~diff], new[~diff]), n  # unselected: bit-identical
        assert (new[diff].abs() < old[diff].abs()).all(), n  # selected: shrink in magnitude ...
        assert (torch.sign(new[diff]) == torch.sign(old[diff])).all(), n  # ... toward zero (β in [0, 1))
    assert 0 < changed <= result.history[0]["selected"]


def test_fisher_without_noise_changes_only_the_forgotten_row(class_setup):
    _, model, parts, _ = class_setup
    result = fisher(model, *parts, FisherConfig(alpha=0.0, estimator="batch", progress=False), task="class",
                    num_classes=10)
    for (n, old), new in zip(model.named_parameters(), result.model.parameters()):
        if n.startswith("head.classifier."):
            assert torch.equal(old[torch.arange(10) != 5], new[torch.arange(10) != 5]), n
            assert new[5].abs().max() < 0.2 and not torch.equal(old[5], new[5]), n  # N(0, 1e-3)
        else:
            assert torch.equal(old, new), n
    sample = fisher(model, *parts, FisherConfig(alpha=0.0, estimator="batch", progress=False), task="sample",
                    num_classes=10)  # the sample task never zeroes a row (SalUn's fisher_new bug)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), sample.model.parameters()))


def test_fisher_is_seeded(class_setup):
    _, model, parts, _ = class_setup
    runs = [fisher(model, *parts, FisherConfig(estimator="batch", seed=s, progress=False), task="class",
                   num_classes=10).model for s in (3, 3, 4)]
    pairs = [list(zip(runs[0].parameters(), r.parameters())) for r in runs[1:]]
    assert all(torch.equal(a, b) for a, b in pairs[0])
    assert not all(torch.equal(a, b) for a, b in pairs[1])


def test_per_sample_fisher_matches_a_loop(class_setup):
    _, model, parts, _ = class_setup
    net = copy.deepcopy(model).eval()
    few = Part(parts[1].data, parts[1].indices[:3], "few")
    got = fisher_diagonal(net, few, estimator="per_sample", batch_size=2)
    want = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    for x, _ in few.batches(1):
        probs = F.softmax(net(x)[0], dim=1)[0].detach()
        for c in range(10):
            net.zero_grad()
            F.cross_entropy(net(x)[0], torch.tensor([c])).backward()
            for n, p in net.named_parameters():
                want[n] += probs[c] * p.grad.pow(2) / 3
    for n, value in want.items():
        torch.testing.assert_close(got[n], value, rtol=1e-3, atol=1e-10)  # float32 summation order


@pytest.mark.parametrize("cls, field, value", [
    (ScrubConfig, "msteps", -1), (ScrubConfig, "kd_T", 0.0), (ScrubConfig, "lr", 0.0),
    (ScrubConfig, "lr_decay_epochs", [3]), (ScrubConfig, "forget_batch_size", 0),
    (BadTeacherConfig, "retain_fraction", 1.5), (BadTeacherConfig, "temperature", -1.0),
    (BadTeacherConfig, "epochs", 0), (SsdConfig, "selection_weighting", 0.0), (SsdConfig, "batch_size", 0),
    (FisherConfig, "alpha", -1e-6), (FisherConfig, "estimator", "exact"), (FisherConfig, "seed", -1),
])
def test_bad_config_names_the_parameter(cls, field, value):
    with pytest.raises(ConfigError, match=field):
        cls(**{field: value})


def test_methods_tuples_are_well_formed():
    for name, tasks, cfg_type, fn, summary in TEACHER + IMPORTANCE:
        assert set(tasks) <= {"class", "sample"} and callable(fn) and summary and cfg_type().progress is True
    assert [m[0] for m in TEACHER + IMPORTANCE] == ["scrub", "bad_teacher", "ssd", "fisher"]
    assert np.isclose(ScrubConfig().lr, 5e-4) and BadTeacherConfig().batch_size == 256
