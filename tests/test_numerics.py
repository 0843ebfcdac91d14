"""Issue 17, item 9: the losses stay finite for float16/bfloat16 inputs, huge feature norms and a tiny tau; models
with float16/bfloat16 weights unlearn (as float32 copies); a non-finite loss, weight or metric stops a run with an
error naming the step and the hyperparameters; no NaN is ever written as a finished result."""
from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

import cu_core.train as train_module
from cu_core import cli
from cu_core.config import RunConfig, TrainConfig
from cu_core.losses import class_unlearning_loss, sample_unlearning_loss, total_loss, unlearning_loss
from cu_core.metrics import evaluate
from cu_core.pipeline import require_finite, run_training, run_unlearning
from cu_core.unlearn import METHODS, ContrastiveConfig, method_config, unlearn

LOW = [torch.float16, torch.bfloat16]
VARIANTS = ["paper", "official"]
TASKS = ["sample", "class"]


def batch(scale: float = 1.0, dtype=torch.float32, seed: int = 0, d: int = 16, task: str = "sample"):
    """Unit embeddings times `scale`: 6 anchors, 12 retain rows, labels with positives for every anchor."""
    g = torch.Generator().manual_seed(seed)
    z_u = torch.nn.functional.normalize(torch.randn(6, d, generator=g, dtype=torch.float64), dim=1) * scale
    z_r = torch.nn.functional.normalize(torch.randn(12, d, generator=g, dtype=torch.float64), dim=1) * scale
    y_u = torch.zeros(6, dtype=torch.long) if task == "class" else torch.tensor([0, 1, 2, 0, 1, 2])
    y_r = torch.tensor([0, 1, 2, 3] * 3)
    return z_u.to(dtype), y_u, z_r.to(dtype), y_r


def loss_and_grads(z_u, y_u, z_r, y_r, tau, task, variant):
    z_u, z_r = z_u.clone().requires_grad_(), z_r.clone().requires_grad_()
    loss = unlearning_loss(task, z_u, y_u, z_r, y_r, temperature=tau, reduction="mean", variant=variant)
    grads = torch.autograd.grad(loss, (z_u, z_r))
    return loss, grads


def _finite(loss, grads) -> bool:
    return bool(torch.isfinite(loss)) and all(bool(torch.isfinite(g).all()) for g in grads)


# ---------------------------------------------------------------- the losses
@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("scale, tau", [(1.0, 0.7), (1.0, 1e-4), (10.0, 0.7), (10.0, 1e-4), (200.0, 0.7)],
                         ids=["unit", "tau1e-4", "norm10", "norm10-tau1e-4", "norm200"])
def test_low_precision_inputs_give_the_float32_loss(dtype, variant, task, scale, tau):
    """float16 gave -inf/NaN (similarities over 65504, exp and the official 1e-20 underflowing): the loss is now
    computed in float32 from the same (rounded) inputs, so it equals the float32 loss of those values."""
    z_u, y_u, z_r, y_r = batch(scale, dtype, task=task)
    loss, grads = loss_and_grads(z_u, y_u, z_r, y_r, tau, task, variant)
    assert loss.dtype == torch.float32 and _finite(loss, grads)
    assert all(g.dtype == dtype for g in grads)  # gradients flow back to the inputs' dtype
    reference, _ = loss_and_grads(z_u.float(), y_u, z_r.float(), y_r, tau, task, variant)
    assert loss.item() == reference.item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("tau", [0.7, 1e-4])
def test_huge_feature_norms_keep_the_loss_and_its_gradients_finite(dtype, variant, task, tau):
    z_u, y_u, z_r, y_r = batch(1e6, dtype, task=task)
    loss, grads = loss_and_grads(z_u, y_u, z_r, y_r, tau, task, variant)
    assert _finite(loss, grads)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("task", TASKS)
def test_tiny_temperature_is_finite_and_float32_values_are_unchanged(variant, task):
    """tau = 1e-4 on unit embeddings: |s| up to 1e4; float32 values match the float64 computation (the float32
    path is the same arithmetic as before the fix: only low-precision inputs are upcast)."""
    z_u, y_u, z_r, y_r = batch(1.0, torch.float64, task=task)
    for tau in (0.7, 1e-4):
        exact, _ = loss_and_grads(z_u, y_u, z_r, y_r, tau, task, variant)
        single, grads = loss_and_grads(z_u.float(), y_u, z_r.float(), y_r, tau, task, variant)
        assert single.dtype == torch.float32 and exact.dtype == torch.float64 and _finite(single, grads)
        assert single.item() == pytest.approx(exact.item(), rel=1e-5, abs=1e-3)


def test_similarities_beyond_float32_raise_a_clear_error_instead_of_nan():
    z_u, y_u, z_r, y_r = batch(1e20)
    with pytest.raises(FloatingPointError, match=r"overflow torch.float32 \(largest embedding norm 1e\+20, "
                                                 r"temperature 0.7\)"):
        sample_unlearning_loss(z_u, y_u, z_r, y_r, 0.7)
    z_u[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="NaN or inf"):
        class_unlearning_loss(z_u, torch.zeros(6, dtype=torch.long), z_r, y_r, 0.7)
    with pytest.raises(FloatingPointError, match="NaN or inf"):  # float16 cannot hold a norm of 1e6 at all
        sample_unlearning_loss(*batch(1e6, torch.float16), 0.7)


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_total_loss_computes_low_precision_terms_in_float32(dtype):
    logits = (torch.randn(8, 10, generator=torch.Generator().manual_seed(1)) * 300).to(dtype)
    y = torch.arange(8) % 10
    loss_ul = torch.tensor(-6e4).to(dtype)  # lambda_ul * loss_ul = -1.8e5 overflows float16
    loss, terms = total_loss(loss_ul, logits, y)
    assert loss.dtype == torch.float32 and all(math.isfinite(v) for v in terms.values())


# ---------------------------------------------------------------- unlearning with low-precision weights
@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("method", ["contrastive", "finetune"])
def test_low_precision_weights_unlearn_as_a_float32_copy(class_setup, dtype, method):
    """A float16/bfloat16 model met float32 data with a raw dtype error: it is unlearned as a float32 copy, its
    weights stay finite, and the caller's model is untouched."""
    prep, original = class_setup
    forget, retain, val = prep.parts()
    model = copy.deepcopy(original.model).to(dtype)
    before = copy.deepcopy(model.state_dict())
    config = (ContrastiveConfig(progress=False, max_passes=1) if method == "contrastive"
              else method_config("finetune", epochs=1, progress=False))
    result = unlearn(method, model, forget, retain, val, config, task="class", num_classes=prep.num_classes)
    params = list(result.model.parameters())
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in params)
    assert all(math.isfinite(v) for row in result.history for v in row.values() if isinstance(v, float))
    assert all(torch.equal(v, model.state_dict()[k]) and v.dtype == model.state_dict()[k].dtype
               for k, v in before.items())


def test_a_tiny_temperature_run_ends_finite_or_names_the_step_and_tau(class_setup):
    prep, original = class_setup
    forget, retain, val = prep.parts()
    cfg = ContrastiveConfig(progress=False, max_passes=2, temperature=1e-4, lr=0.1)
    try:
        result = unlearn("contrastive", original.model, forget, retain, val, cfg, task="class",
                         num_classes=prep.num_classes)
    except FloatingPointError as err:
        assert "step" in str(err) and "temperature=0.0001" in str(err)
    else:
        assert all(torch.isfinite(p).all() for p in result.model.parameters())
        assert all(math.isfinite(row["loss"]) for row in result.history)


# ---------------------------------------------------------------- a diverging run stops, named, and writes nothing
def _poison(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    return model


def test_a_non_finite_loss_names_the_step_and_the_hyperparameters(class_setup):
    prep, original = class_setup
    forget, retain, val = prep.parts()
    with pytest.raises(FloatingPointError, match=r"pass 1, step 1: .*method 'contrastive', hyperparameters: "
                                                 r"temperature=0.7, lambda_ul=3.0.*lr=0.001"):
        unlearn("contrastive", _poison(copy.deepcopy(original.model)), forget, retain, val,
                ContrastiveConfig(progress=False), task="class", num_classes=prep.num_classes)
    with pytest.raises(FloatingPointError, match=r"finetune epoch 1 step 1.*hyperparameters: .*lr="):
        unlearn("finetune", _poison(copy.deepcopy(original.model)), forget, retain, val,
                method_config("finetune", epochs=1, progress=False), task="class", num_classes=prep.num_classes)


@pytest.fixture
def nan_method(monkeypatch):
    """Method 'finetune' replaced by one that returns NaN weights after a finite-looking run (the last step's
    gradient overflowed): nothing inside the method noticed."""
    real = METHODS["finetune"]

    def run(model, forget, retain, val, config, *, task, num_classes):
        result = real.run(model, forget, retain, val, config, task=task, num_classes=num_classes)
        _poison(result.model)
        return result

    monkeypatch.setitem(METHODS, "finetune", dataclasses.replace(real, run=run))
    return method_config("finetune", epochs=1, progress=False)


def test_non_finite_weights_after_the_last_step_stop_the_method(class_setup, nan_method):
    prep, original = class_setup
    forget, retain, val = prep.parts()
    with pytest.raises(FloatingPointError, match=r"finetune produced non-finite weights \(.*\) after step \d+, its "
                                                 r"last \(method 'finetune', hyperparameters: .*epochs=1"):
        unlearn("finetune", original.model, forget, retain, val, nan_method, task="class",
                num_classes=prep.num_classes)


def test_a_nan_run_is_not_written_as_finished(digits_runs, tmp_path, nan_method):
    out = tmp_path / "out"
    with pytest.raises(FloatingPointError, match=r"non-finite weights.*hyperparameters"):
        run_unlearning(digits_runs["cfg"], nan_method, method="finetune", out_dir=out,
                       cache_dir=digits_runs["root"] / "cache")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_the_cli_reports_a_nan_run_with_exit_3_and_writes_nothing(digits_runs, tmp_path, nan_method, capsys):
    out = tmp_path / "out"
    code = cli.main(["unlearn", "--method", "finetune", "--epochs", "1", "--no-progress", "--out", str(out),
                     "--cache-dir", str(digits_runs["root"] / "cache")])
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" not in err
    assert "non-finite weights" in err and "hyperparameters" in err and "nothing was written" in err
    assert not out.exists()


def test_training_divergence_names_the_step_and_the_training_hyperparameters(tmp_path, monkeypatch):
    real = train_module.make_model
    monkeypatch.setattr(train_module, "make_model", lambda *a, **k: _poison(real(*a, **k)))
    cfg = RunConfig(train=TrainConfig(progress=False, epochs=2))
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 1.*\(training the original model; "
                                                 r"hyperparameters: .*epochs=2.*lr="):
        run_training(cfg, out_dir=tmp_path / "out", cache_dir=tmp_path)
    assert not (tmp_path / "out").exists()


def test_evaluation_of_a_diverged_model_stops(class_setup):
    """argmax of NaN logits is class 0: the accuracies would look like numbers. The evaluation refuses."""
    prep, original = class_setup
    with pytest.raises(FloatingPointError, match=r"logits on the train array hold \d+ non-finite values"):
        evaluate(_poison(copy.deepcopy(original.model)), prep.train, prep.test, prep.split)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("nan"), np.array([1.0, np.nan])],
                         ids=["nan", "inf", "np-nan", "array"])
def test_require_finite_names_the_key(bad):
    metrics = {"acc": {"test": 0.5}, "mia": {"paper_forget_member_rate": bad}, "rte": None, "runs": [1, 2]}
    with pytest.raises(FloatingPointError, match=r"metrics\.mia\.paper_forget_member_rate"):
        require_finite(metrics)
    require_finite({"acc": {"test": 0.5}, "rte": None, "history": [1.0, 2]})


def test_a_nan_accuracy_is_refused_before_it_becomes_null(digits_runs, tmp_path, monkeypatch):
    """`to_jsonable` writes NaN as null, which the schema reads as an empty set: the run refuses first."""
    import cu_core.pipeline as pipeline

    real = pipeline.assess

    def nan_accuracy(*args, **kwargs):
        ev, found, seconds = real(*args, **kwargs)
        found["acc"]["test"] = float("nan")
        return ev, found, seconds

    monkeypatch.setattr(pipeline, "assess", nan_accuracy)
    out = tmp_path / "out"
    with pytest.raises(FloatingPointError, match=r"metrics\.acc\.test is nan.*training the original model"):
        run_training(digits_runs["cfg"], out_dir=out, cache_dir=digits_runs["root"] / "cache")
    assert not out.exists()
