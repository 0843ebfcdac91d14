"""Gradient-based baselines (FT, NegGrad, NegGrad+, RL, ℓ1-sparse, SalUn) on digits: each unlearns class 5
(or, for FT and ℓ1-sparse, under-forgets as the literature reports), keeps the other classes, leaves the
caller's model alone, runs the sample task, is deterministic, and SalUn's hard mask freezes the
non-salient weights exactly (the published gradient-only mask does not)."""
import copy
import math

import numpy as np
import pytest
import torch

from cu_core.config import RunConfig
from cu_core.data import Part
from cu_core.errors import ConfigError
from cu_core.metrics import split_accuracies
from cu_core.pipeline import prepare, train_reference
from cu_core.unlearn import gradient_methods as gm
from cu_core.unlearn import method_config, unlearn

METHODS = {name: (config, fn) for name, _, config, fn, _ in gm.METHODS}

# Digits settings (forget = 130 images of class 5, retain ≈ 1160, batch 256 by default). The public defaults
# are kept where they unlearn here; where they are too weak for 130 images (one 256-batch step per epoch),
# the batch or lr is changed, and the comment gives the default's result on this setup.
CLASS_SETTINGS = {
    "finetune": {},  # defaults
    "neggrad": dict(lr=0.01),  # default lr 1e-4 = 5 tiny steps: forget_test only 1.00 -> 0.92
    "neggrad_plus": dict(epochs=5),  # defaults (10 epochs) also unlearn: forget_test 0.32; 5 for speed
    "random_label": dict(batch_size=64, epochs=5),  # default (batch 256): forget_test 0.87
    "l1_sparse": {},  # defaults (γ 5e-5); γ up to 2e-3 does not change the outcome
    "salun": dict(batch_size=64, epochs=5),  # default (batch 256): forget_test 0.78
}
# FT and ℓ1-sparse rely on catastrophic forgetting only; class-wise they under-forget (evaluation.md §2.2,
# Unlearn-Sparse issues #4/#10). On digits the forgotten class stays fully recognised (measured: 1.00).
WEAK = {"finetune": 0.9, "l1_sparse": 0.9}


def _run(name, prep, model, **kwargs):
    """The method through the registry, on the run's (forget, retain, val) sets."""
    return unlearn(name, model, *prep.parts(), method_config(name, progress=False, **kwargs), task=prep.split.task,
                   num_classes=prep.num_classes)


@pytest.fixture(scope="module")
def class_results(class_setup):
    prep, original = class_setup
    before = {k: v.clone() for k, v in original.model.state_dict().items()}
    results = {name: _run(name, prep, original.model, **kwargs) for name, kwargs in CLASS_SETTINGS.items()}
    return results, before


@pytest.mark.parametrize("name", list(CLASS_SETTINGS))
def test_class_task_unlearns_and_keeps_the_rest(class_setup, class_results, name):
    prep, original = class_setup
    result = class_results[0][name]
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
    start = split_accuracies(original.model, prep.train, prep.test, prep.split)["forget_test"]
    assert start >= 0.95
    if name in WEAK:
        assert acc["forget_test"] >= WEAK[name]  # the documented under-forgetting, see WEAK
    else:
        assert acc["forget_test"] <= start - 0.20
    assert acc["retain_test"] >= 0.5
    config = METHODS[name][0](progress=False, **CLASS_SETTINGS[name])
    assert result.stop_reason == "fixed_passes" and result.epochs == config.epochs
    assert result.steps == len(result.history) > 0 and result.samples > 0
    assert result.seconds["unlearn"] > 0 and result.seconds["eval"] > 0
    assert all(math.isfinite(row["loss"]) for row in result.history)
    assert not result.model.training


def test_caller_model_is_not_modified(class_setup, class_results):
    _, original = class_setup
    before = class_results[1]
    assert all(torch.equal(before[k], v) for k, v in original.model.state_dict().items())


def test_history_shows_each_recipe(class_results):
    results = class_results[0]
    phases = [row["phase"] for row in results["random_label"].history if row["pass"] == 1]
    assert phases == sorted(phases)  # forget pass (random labels) first, then the retain pass
    assert phases.count("forget") == math.ceil(130 / 64)
    gammas = {row["pass"]: row["gamma"] for row in results["l1_sparse"].history}
    np.testing.assert_allclose([gammas[e] for e in (1, 5, 10)], [5e-5, 5e-5 * 0.6, 5e-6])
    ng = results["neggrad_plus"].history[0]
    assert ng["loss"] == pytest.approx(0.95 * ng["loss_retain"] - 0.05 * ng["loss_forget"], rel=1e-4, abs=1e-6)
    assert all(row["loss"] <= 0 for row in results["neggrad"].history)  # −CE


def test_sample_task_completes(digits_runs):
    cfg = RunConfig.from_dict({"split": {"task": "sample", "num_forget": 100}, "train": {"progress": False}})
    prep = prepare(cfg)
    original = train_reference(prep, retrain=False, cache_dir=digits_runs["root"] / "cache")
    for name in METHODS:
        result = _run(name, prep, original.model, epochs=2)
        acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
        assert all(math.isfinite(v) for v in acc.values()), (name, acc)
        assert len(result.passes) == 2 and all(math.isfinite(p["forget_acc"]) for p in result.passes)
    result = _run("random_label", prep, original.model, epochs=1, exclude_true=True)
    assert math.isfinite(result.passes[0]["forget_acc"])


def _mask_check(prep, model, legacy):
    forget = prep.parts()[0]
    mask = gm.saliency_mask(copy.deepcopy(model), forget, 0.5, 64, amp=True)
    result = _run("salun", prep, model, batch_size=64, epochs=2, legacy_grad_mask=legacy)
    pairs = list(zip(model.parameters(), result.model.parameters(), mask))
    frozen_same = all(torch.equal(p0[~m], p1[~m]) for p0, p1, m in pairs)
    salient_moved = any(not torch.equal(p0[m], p1[m]) for p0, p1, m in pairs)
    return mask, frozen_same, salient_moved


def test_salun_hard_mask_freezes_non_salient_weights(class_setup):
    prep, original = class_setup
    config = gm.SalUnConfig()
    assert config.weight_decay > 0 and config.momentum > 0  # the setting where the published mask leaks
    mask, frozen_same, salient_moved = _mask_check(prep, original.model, legacy=False)
    total = sum(m.numel() for m in mask)
    assert sum(int(m.sum()) for m in mask) == int(total * 0.5)  # top 50 % over all parameters jointly
    assert frozen_same and salient_moved


def test_salun_legacy_gradient_mask_leaks(class_setup):
    # SalUn issue #32: multiplying only the gradients lets weight decay and momentum move masked weights
    prep, original = class_setup
    _, frozen_same, salient_moved = _mask_check(prep, original.model, legacy=True)
    assert not frozen_same and salient_moved


def test_same_seed_same_weights(class_setup):
    prep, original = class_setup
    a, b = (_run("random_label", prep, original.model, epochs=1, batch_size=64) for _ in range(2))
    assert a.history == b.history
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    c = _run("random_label", prep, original.model, epochs=1, batch_size=64, seed=1)
    assert c.history != a.history


@pytest.mark.parametrize("config, kwargs, parameter", [
    (gm.FinetuneConfig, dict(lr=0.0), "lr"), (gm.FinetuneConfig, dict(epochs=0), "epochs"),
    (gm.NegGradConfig, dict(momentum=1.0), "momentum"), (gm.NegGradPlusConfig, dict(alpha=1.5), "alpha"),
    (gm.RandomLabelConfig, dict(exclude_true=1), "exclude_true"), (gm.L1SparseConfig, dict(gamma=-1e-4), "gamma"),
    (gm.L1SparseConfig, dict(no_l1_epochs=10), "no_l1_epochs"), (gm.SalUnConfig, dict(mask_ratio=0.0), "mask_ratio"),
    (gm.SalUnConfig, dict(mask_ratio=1.5), "mask_ratio"), (gm.SalUnConfig, dict(batch_size=0), "batch_size"),
])
def test_bad_config(config, kwargs, parameter):
    with pytest.raises(ConfigError) as err:
        config(**kwargs)
    assert err.value.parameter == parameter


def test_empty_sets_are_refused(class_setup):
    prep, original = class_setup
    _, retain, val = prep.parts()
    empty = Part(prep.train, np.array([], dtype=np.int64))
    for config, fn in METHODS.values():
        with pytest.raises(ConfigError, match="forget"):
            fn(original.model, empty, retain, val, config(progress=False), task="class", num_classes=10)


def test_methods_tuple():
    assert [m[0] for m in gm.METHODS] == list(CLASS_SETTINGS)
    for name, tasks, config, fn, summary in gm.METHODS:
        assert tasks == ("class", "sample") and callable(fn) and summary and config().to_dict()["seed"] == 0
