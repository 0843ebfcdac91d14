"""Property tests (hypothesis): the unlearning losses are finite with finite gradients and invariant to the order
of anchors and retain rows for any labels and embeddings (anchors without positives, duplicate rows, d = 1,
B = 1 included); index splits are disjoint and cover the training set for any valid parameters.

Complements tests/test_losses.py (hand values, loop references, one finiteness property on unit-range
embeddings) and tests/test_splits.py (fixed parameter choices).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from cu_core.data import load_dataset, make_split
from cu_core.errors import ConfigError
from cu_core.losses import class_unlearning_loss, sample_unlearning_loss

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VARIANTS = ("paper", "official")
REDUCTIONS = ("sum", "mean")


# ---------------------------------------------------------------- strategies
@st.composite
def loss_batches(draw, dtype=None, single_anchor_label=False):
    """(z_u, y_u, z_r, y_r, tau): rows drawn from a small pool (duplicates are common), any magnitudes up to
    10, optionally unit-normalised (what the models emit); labels from a small range, and in a quarter of the
    cases anchor labels that never occur in the retain batch (every anchor without positives)."""
    dtype = dtype or draw(st.sampled_from([torch.float32, torch.float64]))
    b_u, b_r, d = draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.integers(1, 4))
    coords = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)
    pool = draw(st.lists(st.lists(coords, min_size=d, max_size=d), min_size=1, max_size=4))
    pick = st.integers(0, len(pool) - 1)
    z_u = torch.tensor([pool[i] for i in draw(st.lists(pick, min_size=b_u, max_size=b_u))], dtype=dtype)
    z_r = torch.tensor([pool[i] for i in draw(st.lists(pick, min_size=b_r, max_size=b_r))], dtype=dtype)
    if draw(st.booleans()):
        z_u, z_r = torch.nn.functional.normalize(z_u, dim=1), torch.nn.functional.normalize(z_r, dim=1)
    y_r = torch.tensor(draw(st.lists(st.integers(0, 3), min_size=b_r, max_size=b_r)), dtype=torch.int64)
    anchor_labels = st.integers(4, 5) if draw(st.integers(0, 3)) == 0 else st.integers(0, 4)
    if single_anchor_label:
        y_u = torch.full((b_u,), draw(anchor_labels), dtype=torch.int64)
    else:
        y_u = torch.tensor(draw(st.lists(anchor_labels, min_size=b_u, max_size=b_u)), dtype=torch.int64)
    tau = draw(st.floats(0.05, 5.0))
    return z_u, y_u, z_r, y_r, tau


def _finite_with_grads(fn, z_u, z_r):
    """Loss value and its gradients w.r.t. z_u and z_r, asserted finite."""
    z_u, z_r = z_u.clone().requires_grad_(), z_r.clone().requires_grad_()
    loss = fn(z_u, z_r)
    assert loss.dim() == 0 and loss.dtype == z_u.dtype
    assert torch.isfinite(loss), loss
    g_u, g_r = torch.autograd.grad(loss, (z_u, z_r), allow_unused=False)
    assert torch.isfinite(g_u).all() and torch.isfinite(g_r).all()
    return loss.detach(), g_u, g_r


# ---------------------------------------------------------------- losses: finite values and gradients
@SETTINGS
@given(loss_batches())
def test_sample_loss_finite_with_finite_gradients(batch):
    z_u, y_u, z_r, y_r, tau = batch
    all_have_positive = bool((y_u[:, None] == y_r[None, :]).any(1).all())
    for variant, reduction in itertools.product(VARIANTS, REDUCTIONS):
        for policy in ("skip", "add_one"):  # finite always
            _finite_with_grads(lambda a, b: sample_unlearning_loss(a, y_u, b, y_r, tau, reduction, variant, policy),
                               z_u, z_r)
        if all_have_positive:  # "none" promises a finite value exactly when every anchor has a positive
            _finite_with_grads(lambda a, b: sample_unlearning_loss(a, y_u, b, y_r, tau, reduction, variant, "none"),
                               z_u, z_r)
        else:
            with pytest.raises(FloatingPointError, match="no positive"):
                sample_unlearning_loss(z_u, y_u, z_r, y_r, tau, reduction, variant, "none")


@SETTINGS
@given(loss_batches(single_anchor_label=True))
def test_class_loss_finite_with_finite_gradients(batch):
    z_u, y_u, z_r, y_r, tau = batch  # the anchor class may or may not occur in the retain batch
    for variant, reduction in itertools.product(VARIANTS, REDUCTIONS):
        _finite_with_grads(lambda a, b: class_unlearning_loss(a, y_u, b, y_r, tau, reduction, variant), z_u, z_r)


@SETTINGS
@given(loss_batches(dtype=torch.float64))
def test_policies_agree_when_every_anchor_has_a_positive_and_mean_is_sum_over_active(batch):
    z_u, y_u, z_r, y_r, tau = batch
    has_pos = (y_u[:, None] == y_r[None, :]).any(1)
    for variant in VARIANTS:
        values = {p: sample_unlearning_loss(z_u, y_u, z_r, y_r, tau, "sum", variant, p)
                  for p in ("skip", "add_one")}
        means = {p: sample_unlearning_loss(z_u, y_u, z_r, y_r, tau, "mean", variant, p)
                 for p in ("skip", "add_one")}
        active = {"skip": int(has_pos.sum()), "add_one": len(y_u)}
        for p in values:  # "mean" divides "sum" by the anchors that count (none active: both are 0)
            assert torch.allclose(means[p] * max(active[p], 1), values[p], rtol=1e-10, atol=1e-9)
        if bool(has_pos.all()):
            none = sample_unlearning_loss(z_u, y_u, z_r, y_r, tau, "sum", variant, "none")
            assert torch.allclose(values["skip"], values["add_one"], rtol=1e-12, atol=1e-12)
            assert torch.allclose(values["skip"], none, rtol=1e-12, atol=1e-12)
        if not bool(has_pos.any()):  # every anchor skipped: exactly 0
            assert values["skip"].item() == 0.0


def test_smallest_batches_b1_d1_every_label_relation():
    """B_u = B_r = 1 and d = 1, exhaustively: same or different label, equal, opposite or zero embeddings."""
    for zu, zr, (yu, yr), tau in itertools.product([-2.0, 0.0, 1.0], [-2.0, 0.0, 1.0], [(0, 0), (0, 1)],
                                                    [0.05, 1.0]):
        z_u, z_r = torch.tensor([[zu]], dtype=torch.float64), torch.tensor([[zr]], dtype=torch.float64)
        y_u, y_r = torch.tensor([yu]), torch.tensor([yr])
        for variant, reduction in itertools.product(VARIANTS, REDUCTIONS):
            for policy in ("skip", "add_one") + (("none",) if yu == yr else ()):
                loss, _, _ = _finite_with_grads(
                    lambda a, b: sample_unlearning_loss(a, y_u, b, y_r, tau, reduction, variant, policy), z_u, z_r)
                if yu != yr and policy == "skip":
                    assert loss.item() == 0.0
            loss, _, _ = _finite_with_grads(
                lambda a, b: class_unlearning_loss(a, y_u, b, y_r, tau, reduction, variant), z_u, z_r)
            if yu == yr and variant == "paper":
                assert loss.item() == 0.0  # Eq. 6 over an empty N_i


# ---------------------------------------------------------------- losses: permutation invariance
def _loss_fn(kind, y_u, y_r, tau, reduction, variant, policy="skip"):
    if kind == "class":
        return lambda a, b: class_unlearning_loss(a, y_u, b, y_r, tau, reduction, variant)
    return lambda a, b: sample_unlearning_loss(a, y_u, b, y_r, tau, reduction, variant, policy)


@SETTINGS
@given(st.data(), st.sampled_from(["sample", "class"]))
def test_losses_invariant_to_retain_and_anchor_order(data, kind):
    """Permuting the retain batch (rows with their labels) or the anchors leaves the value unchanged and
    permutes the gradients the same way."""
    z_u, y_u, z_r, y_r, tau = data.draw(loss_batches(dtype=torch.float64, single_anchor_label=kind == "class"))
    perm_r = torch.tensor(data.draw(st.permutations(range(len(y_r)))), dtype=torch.int64)
    perm_u = torch.tensor(data.draw(st.permutations(range(len(y_u)))), dtype=torch.int64)
    for variant, reduction in itertools.product(VARIANTS, REDUCTIONS):
        for policy in (("skip", "add_one") if kind == "sample" else ("skip",)):
            base, g_u, g_r = _finite_with_grads(_loss_fn(kind, y_u, y_r, tau, reduction, variant, policy), z_u, z_r)
            tol = dict(rtol=1e-10, atol=1e-10 * (1.0 + base.abs().item()))
            loss_r, gu_r, gr_r = _finite_with_grads(
                _loss_fn(kind, y_u, y_r[perm_r], tau, reduction, variant, policy), z_u, z_r[perm_r])
            assert torch.allclose(loss_r, base, **tol)
            assert torch.allclose(gu_r, g_u, **tol) and torch.allclose(gr_r, g_r[perm_r], **tol)
            loss_u, gu_u, gr_u = _finite_with_grads(
                _loss_fn(kind, y_u[perm_u], y_r, tau, reduction, variant, policy), z_u[perm_u], z_r)
            assert torch.allclose(loss_u, base, **tol)
            assert torch.allclose(gu_u, g_u[perm_u], **tol) and torch.allclose(gr_u, g_r, **tol)


# ---------------------------------------------------------------- splits
@pytest.fixture(scope="module")
def digits_labels():
    return load_dataset("digits", "train").labels, load_dataset("digits", "test").labels


def _check_split(split, train, test, *, task, forget_class, num_forget, class_drop_last):
    n = len(train)
    joined = np.concatenate([split.val, split.forget, split.retain])
    assert len(joined) == n and len(np.unique(joined)) == n  # disjoint and covering
    for part in (split.val, split.forget, split.retain):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)  # sorted, no duplicates
    assert set(train[split.val].tolist()) == set(train.tolist())  # stratified: every class is validated
    np.testing.assert_array_equal(split.train, np.union1d(split.forget, split.retain))
    if task == "class":
        assert len(split.forget) >= 1 and np.all(train[split.forget] == forget_class)
        assert int(np.sum(train[split.retain] == forget_class)) == (1 if class_drop_last else 0)
        np.testing.assert_array_equal(np.sort(np.concatenate([split.test_forget, split.test_retain])),
                                      np.arange(len(test)))
        assert np.all(test[split.test_forget] == forget_class) and np.all(test[split.test_retain] != forget_class)
        np.testing.assert_array_equal(np.sort(np.concatenate([split.val_forget, split.val_retain])), split.val)
    else:
        assert len(split.forget) == num_forget and split.test_forget is None
    assert split.sizes()["forget"] == len(split.forget)


@SETTINGS
@given(st.data())
def test_digits_split_partitions_for_any_valid_parameters(digits_labels, data):
    train, test = digits_labels
    task = data.draw(st.sampled_from(["class", "sample"]))
    val_fraction = data.draw(st.floats(0.05, 0.5))
    pool = len(train) - int(np.ceil(val_fraction * len(train)))
    kwargs = dict(task=task, forget_class=data.draw(st.integers(0, 9)), num_forget=data.draw(st.integers(1, pool - 1)),
                  seed=data.draw(st.integers(0, 2**31)), val_fraction=val_fraction,
                  forget_selection=data.draw(st.sampled_from(["random", "first_n"])),
                  class_drop_last=data.draw(st.booleans()))
    split = make_split(train, test, **kwargs)
    _check_split(split, train, test, task=task, forget_class=kwargs["forget_class"],
                 num_forget=kwargs["num_forget"], class_drop_last=kwargs["class_drop_last"])
    assert make_split(train, test, **kwargs).sha256 == split.sha256  # a function of its parameters


@st.composite
def small_label_sets(draw):
    """Shuffled train labels over 2..4 classes with 2..12 samples each, test labels over the same classes."""
    counts = draw(st.lists(st.integers(2, 12), min_size=2, max_size=4))
    train = np.repeat(np.arange(len(counts)), counts)
    train = train[np.asarray(draw(st.permutations(range(len(train)))), dtype=np.int64)]
    test = np.asarray(draw(st.lists(st.integers(0, len(counts) - 1), min_size=1, max_size=10)), dtype=np.int64)
    return train, test


@SETTINGS
@given(small_label_sets(), st.data())
def test_small_synthetic_split_partitions_or_names_the_parameter(labels, data):
    """Any parameters in their documented ranges: a valid partition, or a ConfigError naming val_fraction (too
    few samples to stratify), forget_class (a class absent from the training data) or class_drop_last (it would
    empty the forget set); nothing else."""
    train, test = labels
    n_classes = int(train.max()) + 1
    task = data.draw(st.sampled_from(["class", "sample"]))
    val_fraction = data.draw(st.floats(0.3, 0.5) if data.draw(st.integers(0, 3)) < 3 else st.floats(0.01, 0.5))
    pool = len(train) - int(np.ceil(val_fraction * len(train)))
    assume(task == "class" or pool >= 2)
    # n_classes itself (a quarter of the draws): in range for num_classes, but absent from the data
    forget_class = data.draw(st.integers(0, n_classes - 1)) if data.draw(st.integers(0, 3)) < 3 else n_classes
    num_forget = data.draw(st.integers(1, max(pool - 1, 1)))
    kwargs = dict(task=task, forget_class=forget_class, num_forget=num_forget, seed=data.draw(st.integers(0, 1000)),
                  val_fraction=val_fraction, forget_selection=data.draw(st.sampled_from(["random", "first_n"])),
                  class_drop_last=data.draw(st.booleans()), num_classes=n_classes + 1)
    try:
        split = make_split(train, test, **kwargs)
    except ConfigError as err:
        event(f"refused: {err.parameter}")
        assert err.parameter in ("val_fraction", "forget_class", "class_drop_last"), err
        if err.parameter == "forget_class":
            assert task == "class" and forget_class not in set(train.tolist())
        if err.parameter == "class_drop_last":  # the class keeps one sample outside validation: none to forget
            assert task == "class" and kwargs["class_drop_last"]
        return
    event(f"split: {task}")
    assert not (task == "class" and forget_class == n_classes)  # an absent class is never accepted
    _check_split(split, train, test, task=task, forget_class=forget_class, num_forget=num_forget,
                 class_drop_last=kwargs["class_drop_last"])
