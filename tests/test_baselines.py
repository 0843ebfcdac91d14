"""Every baseline of the registry on digits, through one parametrised table: each unlearns class 5 (or, where
the literature reports the method as weak, shows the documented weakness), keeps the other classes, leaves the
caller's model alone, runs or refuses the sample task, and refuses bad settings by name. Method-specific
mechanisms (SalUn's hard mask, BE's pruning, SSD's dampening, Fisher's row, LCODEC's statistics, ...) follow
in one section per method."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cu_core.config import RunConfig
from cu_core.data import Part
from cu_core.errors import ConfigError
from cu_core.unlearn.presets import method_settings
from cu_core.metrics import split_accuracies
from cu_core.pipeline import prepare, train_reference
from cu_core.unlearn import METHODS, method_config, unlearn
from cu_core.unlearn import boundary_methods as bm
from cu_core.unlearn import gradient_methods as gm
from cu_core.unlearn import importance_methods as im
from cu_core.unlearn import lcodec as lc
from cu_core.unlearn import teacher_methods as tm
from cu_core.unlearn.codec import codec, foci

# Digits class task: forget = the 130 training images of class 5, retain ≈ 1160. The public defaults are
# kept where they unlearn here; where a CIFAR-scale default is too weak (or too strong) for 130 images the
# setting is changed, and the comment gives what the default does on this setup.
# The digits settings live in cu_core.unlearn.presets (shared with the benchmarks and the profiles); the
# comments there give what each public default does on this setup.
CLASS_SETTINGS = {name: method_settings(name, "digits") for name in METHODS if name not in ("contrastive", "retrain")}
# Methods the literature reports as weak on this task, with the forget-class test accuracy they keep:
# LCODEC's Newton steps are tiny at the code's λ (CU Table 4: 99.8 % forget accuracy; class 5 stays at 1.00 here;
# the settings that forget wipe some originals, see cu_core.unlearn.presets). FT and ℓ1-sparse rely on
# catastrophic forgetting only and under-forget class-wise at the public defaults (evaluation.md §2.2,
# Unlearn-Sparse issues #4/#10: class 5 stays at 1.00 here); the table's lr 0.05 at batch 64 makes them forget.
WEAK = {"lcodec": 0.9}
SAMPLE_SETTINGS = {name: {**kw, **({"epochs": 2} if "epochs" in METHODS[name].config.__dataclass_fields__
                                   else {})} for name, kw in CLASS_SETTINGS.items()}
BASELINES = list(CLASS_SETTINGS)


def _run(name, prep, model, task=None, **kwargs):
    """The method through the registry, on the run's (forget, retain, val) sets."""
    return unlearn(name, model, *prep.parts(), method_config(name, progress=False, **kwargs),
                   task=task or prep.split.task, num_classes=prep.num_classes)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def class_results(class_setup):
    prep, original = class_setup
    before = _state(original.model)
    results = {name: _run(name, prep, original.model, **kwargs) for name, kwargs in CLASS_SETTINGS.items()}
    return results, before, split_accuracies(original.model, prep.train, prep.test, prep.split)


@pytest.fixture(scope="module")
def sample_setup(digits_runs):
    cfg = RunConfig.from_dict({"split": {"task": "sample", "num_forget": 100}, "train": {"progress": False}})
    prep = prepare(cfg)
    return prep, train_reference(prep, retrain=False, cache_dir=digits_runs["root"] / "cache")


# ------------------------------------------------------------------------------------------ every method
def test_the_registry_holds_every_named_method():
    names = ("contrastive, retrain, finetune, neggrad, fisher, lcodec, boundary_shrink, boundary_expanding, scrub, "
             "unsir, neggrad_plus, random_label, salun, l1_sparse, bad_teacher, ssd").split(", ")
    assert sorted(METHODS) == sorted(names) and sorted(BASELINES) == sorted(set(names) - {"contrastive", "retrain"})
    for name in BASELINES:
        config = method_config(name)
        assert config.progress is True and config.seed == 0 and METHODS[name].summary
        assert METHODS[name].tasks == (("class",) if name in ("boundary_shrink", "boundary_expanding", "unsir")
                                       else ("class", "sample"))


@pytest.mark.parametrize("name", BASELINES)
def test_class_task_unlearns_and_keeps_the_rest(class_setup, class_results, name):
    prep = class_setup[0]
    results, _, start = class_results
    result = results[name]
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
    assert start["forget_test"] >= 0.95
    if name in WEAK:
        assert acc["forget_test"] >= WEAK[name], acc  # the documented weakness, see WEAK
    else:
        assert acc["forget_test"] <= start["forget_test"] - 0.20, acc
    assert acc["retain_test"] >= 0.5, acc
    assert result.stop_reason in ("fixed_passes", "one_shot") and result.samples > 0
    assert result.seconds["unlearn"] > 0 and all(torch.isfinite(p).all() for p in result.model.parameters())
    assert all(math.isfinite(row["loss"]) for row in result.history if "loss" in row)
    assert not result.model.training


def test_caller_model_is_not_modified(class_setup, class_results):
    _, original = class_setup
    before = class_results[1]
    assert all(torch.equal(before[k], v) for k, v in original.model.state_dict().items())


@pytest.mark.parametrize("name", BASELINES)
def test_sample_task_runs_or_is_refused(sample_setup, name):
    prep, original = sample_setup
    if "sample" not in METHODS[name].tasks:
        with pytest.raises(ConfigError) as err:
            _run(name, prep, original.model, **SAMPLE_SETTINGS[name])
        assert err.value.parameter == "task" and "class tasks only" in str(err.value)
        return
    result = _run(name, prep, original.model, **SAMPLE_SETTINGS[name])
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
    assert all(math.isfinite(v) for v in acc.values()), acc
    assert acc["test"] >= 0.5, acc
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


@pytest.mark.parametrize("name, kwargs, parameter", [
    ("finetune", dict(lr=0.0), "lr"), ("finetune", dict(epochs=0), "epochs"),
    ("neggrad", dict(momentum=1.0), "momentum"), ("neggrad_plus", dict(alpha=1.5), "alpha"),
    ("random_label", dict(exclude_true=1), "exclude_true"), ("l1_sparse", dict(gamma=-1e-4), "gamma"),
    ("l1_sparse", dict(no_l1_epochs=10), "no_l1_epochs"), ("salun", dict(mask_ratio=0.0), "mask_ratio"),
    ("salun", dict(mask_ratio=1.5), "mask_ratio"), ("salun", dict(batch_size=0), "batch_size"),
    ("scrub", dict(msteps=-1), "msteps"), ("scrub", dict(kd_T=0.0), "kd_T"), ("scrub", dict(lr=0.0), "lr"),
    ("scrub", dict(lr_decay_epochs=[3]), "lr_decay_epochs"), ("scrub", dict(forget_batch_size=0), "forget_batch_size"),
    ("bad_teacher", dict(retain_fraction=1.5), "retain_fraction"), ("bad_teacher", dict(temperature=-1.0), "temperature"),
    ("bad_teacher", dict(epochs=0), "epochs"), ("ssd", dict(selection_weighting=0.0), "selection_weighting"),
    ("ssd", dict(batch_size=0), "batch_size"), ("fisher", dict(alpha=-1e-6), "alpha"),
    ("fisher", dict(estimator="exact"), "estimator"), ("fisher", dict(seed=-1), "seed"),
    ("lcodec", dict(selection="best"), "selection"), ("lcodec", dict(n_perturbations=2), "n_perturbations"),
    ("lcodec", dict(delta=1.0), "delta"), ("lcodec", dict(epsilon=0.0), "epsilon"), ("lcodec", dict(noise=1), "noise"),
    ("boundary_shrink", dict(bound=0.0), "bound"), ("boundary_shrink", dict(lr=0.0), "lr"),
    ("boundary_expanding", dict(epochs=0), "epochs"), ("boundary_expanding", dict(bn_stats=1), "bn_stats"),
    ("unsir", dict(noise_batch=0), "noise_batch"), ("unsir", dict(noise_lambda=-1.0), "noise_lambda"),
    ("unsir", dict(impair_lr=0.0), "impair_lr"), ("unsir", dict(retain_per_class=0), "retain_per_class"),
])
def test_bad_config_names_the_parameter(name, kwargs, parameter):
    with pytest.raises(ConfigError) as err:
        method_config(name, **kwargs)
    assert err.value.parameter == parameter and parameter in str(err.value)


@pytest.mark.parametrize("name", BASELINES)
def test_empty_forget_set_is_refused(class_setup, name):
    prep, original = class_setup
    _, retain, val = prep.parts()
    empty = Part(prep.train, np.array([], dtype=np.int64))
    with pytest.raises(ConfigError, match="forget"):
        unlearn(name, original.model, empty, retain, val, method_config(name, progress=False), task="class",
                num_classes=10)


@pytest.mark.parametrize("name", ["random_label", "fisher", "lcodec"])
def test_same_seed_same_weights(class_setup, name):
    prep, original = class_setup
    kwargs = {"random_label": dict(epochs=1, batch_size=64), "fisher": dict(estimator="batch"),
              "lcodec": dict(n_perturbations=50, epsilon=100.0)}[name]
    a, b, c = (_run(name, prep, original.model, seed=s, **kwargs) for s in (3, 3, 4))
    same = [torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values())]
    other = [torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), c.model.state_dict().values())]
    assert all(same) and not all(other)


# ------------------------------------------------------------------------ gradient methods and SalUn
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
    for name in ("finetune", "neggrad", "neggrad_plus", "random_label", "l1_sparse", "salun"):
        assert results[name].epochs == method_config(name, **CLASS_SETTINGS[name]).epochs
        assert results[name].steps == len(results[name].history) > 0


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


# ----------------------------------------------------------------------------------- SCRUB, Bad Teacher
def test_scrub_defaults_are_weak_on_digits(class_setup):
    # Expected, not a bug: SCRUB's MIA-notebook defaults (lr 5e-4, 5 epochs, forget batch 32) take only 18
    # max-steps here and leave class 5 at ≈ 100 % test accuracy; the CU paper (Figure 2) likewise notes that
    # SCRUB needs several passes. The setting in CLASS_SETTINGS (lr 1e-2) forgets.
    prep, original = class_setup
    result = _run("scrub", prep, original.model)
    acc = split_accuracies(result.model, prep.train, prep.test, prep.split)
    assert acc["forget_test"] >= 0.9 and acc["retain_test"] >= 0.9
    assert len(result.passes) == 5 and sum(h["phase"] == "max" for h in result.history) == 3 * math.ceil(130 / 32)
    assert [p["lr"] for p in result.passes] == pytest.approx([5e-4, 5e-4, 5e-4, 5e-5, 5e-5])


def test_incompetent_teacher_is_a_fresh_model(class_setup):
    model = class_setup[1].model
    fresh = tm.random_init(model)
    for (n, p), q in zip(model.named_parameters(), fresh.parameters()):
        assert not torch.equal(p, q) or p.numel() == 0 or n.endswith("bn.weight"), n  # BN weight resets to 1
    for m in fresh.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert torch.equal(m.running_mean, torch.zeros_like(m.running_mean))
            assert torch.equal(m.running_var, torch.ones_like(m.running_var))


# ---------------------------------------------------------------------------------------- SSD, Fisher
def test_ssd_dampens_selected_parameters_only(class_setup, class_results):
    model = class_setup[1].model
    result = class_results[0]["ssd"]
    changed = 0
    for (n, old), new in zip(model.named_parameters(), result.model.parameters()):
        diff = old != new
        changed += int(diff.sum())
        assert torch.equal(old[~diff], new[~diff]), n  # unselected: bit-identical
        assert (new[diff].abs() < old[diff].abs()).all(), n  # selected: shrink in magnitude ...
        assert (torch.sign(new[diff]) == torch.sign(old[diff])).all(), n  # ... toward zero (β in [0, 1))
    assert 0 < changed <= result.history[0]["selected"]


def test_fisher_without_noise_changes_only_the_forgotten_row(class_setup):
    prep, original = class_setup
    model = original.model
    result = _run("fisher", prep, model, alpha=0.0, estimator="batch")
    for (n, old), new in zip(model.named_parameters(), result.model.parameters()):
        if n.startswith("head.classifier."):
            assert torch.equal(old[torch.arange(10) != 5], new[torch.arange(10) != 5]), n
            assert new[5].abs().max() < 0.2 and not torch.equal(old[5], new[5]), n  # N(0, 1e-3)
        else:
            assert torch.equal(old, new), n
    sample = _run("fisher", prep, model, task="sample", alpha=0.0, estimator="batch")
    # the sample task never zeroes a row (SalUn's fisher_new bug)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), sample.model.parameters()))


def test_per_sample_fisher_matches_a_loop(class_setup):
    prep, original = class_setup
    net = copy.deepcopy(original.model).eval()
    retain = prep.parts()[1]
    few = Part(retain.data, retain.indices[:3], "few")
    got = im.fisher_diagonal(net, few, estimator="per_sample", batch_size=2)
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


# ------------------------------------------------------------------------------------------------ LCODEC
def test_codec_hand_computed_float64():
    # y = (1, 2, 3, 4), z = (0, 1, 3, 6): R = (1, 2, 3, 4), L = (4, 3, 2, 1), z-neighbours M = (2, 1, 2, 3)
    # (1-based). T = Σ(n·min(R_i, R_M(i)) − L_i²) / Σ L_i(n − L_i) = (4·(1+1+2+3) − 30) / 10 = −0.2
    y, z = torch.tensor([1.0, 2, 3, 4], dtype=torch.float64), torch.tensor([0.0, 1, 3, 6], dtype=torch.float64)
    assert codec(y, z) == pytest.approx(-0.2, abs=1e-12)
    # given x = z, the extra variable w = y adds nothing the neighbours of (x, w) = (z, y) do not already give:
    # N = M, so the numerator Σ(min(R_i, R_M(i)) − min(R_i, R_N(i))) is 0
    assert codec(y, y, x=z) == pytest.approx(0.0, abs=1e-12)


def test_codec_and_foci_find_the_dependence():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 6, generator=g, dtype=torch.float64)
    y = x[:, 1] + 2 * x[:, 4] + 0.01 * torch.rand(400, generator=g, dtype=torch.float64)
    assert codec(y, x[:, 4]) > 0.4 and abs(codec(y, x[:, 0])) < 0.1  # dependent vs independent
    assert codec(y, x[:, 1], x=x[:, 4]) > 0.3 and abs(codec(y, x[:, 2], x=x[:, 4])) < 0.1
    chosen, values = foci(x, y)
    assert chosen == [4, 1] and min(values) > 0  # then y is determined: FOCI stops
    assert foci(x, y, max_features=1)[0] == [4]
    assert foci(torch.cat([torch.ones(400, 1, dtype=torch.float64), x], 1), y)[0] == [5, 2]  # constant skipped


def test_woodbury_solve_equals_the_dense_solve():
    g = torch.Generator().manual_seed(1)
    v1, v2, rhs = (torch.randn(7, generator=g, dtype=torch.float64) for _ in range(3))
    dense = 0.01 * torch.eye(7, dtype=torch.float64) + 50.0 * torch.outer(v1, v1) - 0.3 * torch.outer(v2, v2)
    torch.testing.assert_close(lc.woodbury_solve(0.01, [v1, v2], [50.0, -0.3], rhs),
                               torch.linalg.solve(dense.double(), rhs), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(lc.woodbury_solve(0.5, [torch.zeros(7, dtype=torch.float64)], [2.0], rhs), rhs / 0.5)


def test_lcodec_noise_scale_is_the_codes_formula():
    # γ = 2·M·L²·m²/(n²λ³) = 2·0.25/(1e6·1e-6) = 0.5; σ = γ/ε·sqrt(2 ln(1.25/δ)) = 5·sqrt(2 ln 125)
    assert lc.noise_std(1000, lc.LcodecConfig()) == pytest.approx(5 * math.sqrt(2 * math.log(125)), rel=1e-12)
    assert lc.noise_std(2000, lc.LcodecConfig()) == pytest.approx(lc.noise_std(1000, lc.LcodecConfig()) / 4)


def test_lcodec_moves_only_selected_units_and_raises_the_forget_loss(sample_setup):
    prep, original = sample_setup
    model = original.model
    result = _run("lcodec", prep, model, n_perturbations=100, epsilon=100.0, noise=False)
    rows = 0
    for (n, old), new in zip(model.named_parameters(), result.model.parameters()):
        changed = (old != new).reshape(old.shape[0], -1).any(1) if old.ndim else (old != new)
        rows += int(changed.sum())
        if "bn" in n or ".norm" in n:
            assert not changed.any(), n  # BatchNorm is never a selected unit
    assert 0 < rows <= 2 * sum(h["units"] for h in result.history)  # weight row + bias entry per unit
    assert result.steps == len(result.history) == math.ceil(100 / 32)
    assert all(h["loss_after"] > h["loss_before"] for h in result.history)  # a removal step: loss goes up
    forget = prep.parts()[0]
    loss = [F.cross_entropy(m.eval()(forget.take(0, 100)[0])[0], forget.take(0, 100)[1]).item()
            for m in (model, result.model)]
    assert loss[1] > loss[0]


# ------------------------------------------------------------------------- Boundary Shrink / Expanding, UNSIR
def test_boundary_expanding_is_pruned_to_c_outputs(class_setup, class_results):
    prep, original = class_setup
    model = class_results[0]["boundary_expanding"].model
    *_, layer = bm.classifier_slot(model)
    *_, before = bm.classifier_slot(original.model)
    assert layer.out_features == prep.num_classes == 10
    x, _ = prep.parts()[0].take(0, 4)
    assert model(x)[0].shape == (4, 10)
    assert not torch.equal(layer.weight, before.weight)  # the pruned rows are the trained ones
    wide = bm.resized_linear(before, 11)
    assert wide.out_features == 11 and torch.equal(wide.weight[:10], before.weight)
    narrow = bm.resized_linear(wide, 10)
    assert torch.equal(narrow.weight, before.weight) and torch.equal(narrow.bias, before.bias)


def test_boundary_shrink_labels_are_wrong_classes(class_results):
    flipped = [row["flipped"] for row in class_results[0]["boundary_shrink"].history]
    # On digits one FGSM step of 0.1 (normalised units) flips only ≈ 4 % of the class-5 labels, so BS mostly
    # trains on the true label here; its forgetting comes from BatchNorm (see the bn_stats test below).
    assert 0.0 < sum(flipped) / len(flipped) < 0.2


def test_unsir_keeps_the_whole_noise_batch(class_results):
    history = class_results[0]["unsir"].history
    assert sum(row["phase"] == "noise" for row in history) == bm.UnsirConfig().noise_steps
    impair = [row for row in history if row.get("phase") == "impair"]
    assert len(impair) == math.ceil((256 + 1163) / 256)  # 256 noise images (not 3) + the retain subset


def test_bs_be_forgetting_comes_from_batchnorm_on_digits(class_setup):
    # At lr 1e-5 the gradient barely moves the weights; with eval-mode BatchNorm nothing is forgotten.
    prep, original = class_setup
    for name in ("boundary_shrink", "boundary_expanding"):
        result = _run(name, prep, original.model, bn_stats=False, epochs=3)
        assert split_accuracies(result.model, prep.train, prep.test, prep.split)["forget_test"] >= 0.95


def test_foci_first_step_by_sorting_equals_the_dense_coefficient():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(300, 8, generator=g, dtype=torch.float64)
    y = x[:, 3].pow(2) + 0.1 * torch.randn(300, generator=g, dtype=torch.float64)
    chosen, values = foci(x, y, max_features=1)
    dense = [codec(y, x[:, j]) for j in range(8)]
    assert chosen == [int(np.argmax(dense))] == [3] and values[0] == pytest.approx(max(dense), abs=1e-12)
