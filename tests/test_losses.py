"""Tests of cu_core.losses against hand computations (explicit loops over anchors), autograd and edge cases."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cu_core.losses import (class_unlearning_loss, sample_unlearning_loss, total_loss,
                            unlearning_loss)

D64 = torch.float64


def t(rows, dtype=D64):
    return torch.tensor(rows, dtype=dtype)


def lab(values):
    return torch.tensor(values, dtype=torch.int64)


def rand_z(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=D64), dim=1)


def ref_loss(z_u, y_u, z_r, y_r, tau, task="sample", variant="paper", reduction="sum", no_positive="skip",
             shift=True):
    """Hand computation: plain Python/math loops over anchors, written from paper.md section 3 and the code."""
    zu, zr, yu, yr = z_u.tolist(), z_r.tolist(), y_u.tolist(), y_r.tolist()
    b_r = len(zr)
    terms = []
    for i, zi in enumerate(zu):
        s = [sum(a * b for a, b in zip(zi, zj)) / tau for zj in zr]
        pos = [j for j in range(b_r) if yr[j] == yu[i]]
        neg = [j for j in range(b_r) if yr[j] != yu[i]]
        n_neg = max(len(neg), 1)
        if variant == "paper":
            pull = sum(s[a] for a in neg) / n_neg
            if task == "class":
                push = math.log(len(neg)) if neg else 0.0  # Eq. 6: -(1/|N|) sum_a [s_ia - log|N|]
            elif pos:
                push = math.log(sum(math.exp(s[p]) for p in pos))
            elif no_positive == "add_one":
                push = math.log(1.0 + 0.0)
            elif no_positive == "skip":
                continue
            else:
                raise FloatingPointError
            terms.append(-pull + push)
        else:
            m = max(s) if shift else 0.0
            pull = sum(s[a] - m for a in neg) / n_neg
            denom = sum(math.exp(s[p] - m) + 1e-20 for p in pos)
            if not pos:
                if task == "class" or no_positive == "add_one":
                    denom += 1.0
                else:
                    continue  # skip
            terms.append(-pull + b_r / n_neg * math.log(denom))
    if not terms:
        return 0.0
    return sum(terms) if reduction == "sum" else sum(terms) / len(terms)


# ---------------------------------------------------------------- hard-coded values (2-D unit vectors, tau = 1)
# anchor (1,0) label 0; retain: (1,0) lab 0 [s=1], (0,1) lab 0 [s=0], (0,1) lab 1 [s=0], (-1,0) lab 2 [s=-1]
HAND = dict(z_u=t([[1.0, 0.0]]), y_u=lab([0]), z_r=t([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [-1.0, 0.0]]),
            y_r=lab([0, 0, 1, 2]))


def test_hand_values_sample_paper_and_official():
    # paper: -(0 + -1)/2 + log(e^1 + e^0) = 0.5 + log(1 + e)
    assert 0.5 + math.log(1 + math.e) == pytest.approx(1.8132616875182228, abs=1e-15)
    got = sample_unlearning_loss(**HAND, temperature=1.0)
    assert got.item() == pytest.approx(1.8132616875182228, abs=1e-12)
    # official: m=1, pull = mean(-1, -2) = -1.5, D = e^0 + e^-1, w = 4/2 = 2 -> 1.5 + 2 log(1 + 1/e)
    got = sample_unlearning_loss(**HAND, temperature=1.0, variant="official")
    assert got.item() == pytest.approx(2.1265233750364457, abs=1e-12)
    for variant in ("paper", "official"):
        assert sample_unlearning_loss(**HAND, temperature=1.0, variant=variant).item() == pytest.approx(
            ref_loss(**HAND, tau=1.0, variant=variant), abs=1e-12)


def test_hand_values_class_paper_and_official():
    # anchor (1,0) label 5 vs (0,1), (-1,0), (1,0) of labels 0,1,2: s = 0, -1, 1
    kw = dict(z_u=t([[1.0, 0.0]]), y_u=lab([5]), z_r=t([[0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]]), y_r=lab([0, 1, 2]))
    assert class_unlearning_loss(**kw, temperature=1.0).item() == pytest.approx(math.log(3), abs=1e-12)
    # official: m = 1, -mean(s - 1) = 1, D = 0 + 1 -> log 1 = 0
    assert class_unlearning_loss(**kw, temperature=1.0, variant="official").item() == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------- loop references on random float64 data
SAMPLE_CASES = {
    "several_positives": ([0, 1, 0], [0, 0, 1, 1, 1, 2, 0, 2]),
    "anchor_without_positive": ([0, 3, 1], [0, 0, 1, 1, 1, 2, 0, 2]),
    "anchor_without_negative": ([0, 1], [0, 0, 0, 0]),
    "all_without_positive": ([7, 8], [0, 1, 2, 0]),
}


@pytest.mark.parametrize("case", sorted(SAMPLE_CASES))
@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("no_positive", ["skip", "add_one"])
def test_sample_loss_matches_loop_reference(case, variant, reduction, no_positive):
    y_u, y_r = SAMPLE_CASES[case]
    z_u, z_r = rand_z(len(y_u), 3, 1), rand_z(len(y_r), 3, 2)
    got = sample_unlearning_loss(z_u, lab(y_u), z_r, lab(y_r), 0.5, reduction, variant, no_positive)
    want = ref_loss(z_u, lab(y_u), z_r, lab(y_r), 0.5, "sample", variant, reduction, no_positive)
    assert got.dtype == D64 and torch.isfinite(got)
    assert got.item() == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_no_positive_none_raises_with_count_and_equals_skip_otherwise():
    z_u, z_r = rand_z(3, 3, 1), rand_z(8, 3, 2)
    y_r = lab(SAMPLE_CASES["several_positives"][1])
    with pytest.raises(FloatingPointError, match="1 of 3 anchors"):
        sample_unlearning_loss(z_u, lab([0, 3, 1]), z_r, y_r, no_positive="none")
    for variant in ("paper", "official"):
        a = sample_unlearning_loss(z_u, lab([0, 1, 0]), z_r, y_r, variant=variant, no_positive="none")
        b = sample_unlearning_loss(z_u, lab([0, 1, 0]), z_r, y_r, variant=variant, no_positive="skip")
        assert torch.allclose(a, b)


def test_all_anchors_skipped_gives_connected_zero():
    z_u = rand_z(2, 3, 1).requires_grad_()
    for variant in ("paper", "official"):
        for reduction in ("sum", "mean"):
            loss = sample_unlearning_loss(z_u, lab([7, 8]), rand_z(4, 3, 2), lab([0, 1, 2, 0]),
                                          reduction=reduction, variant=variant)
            assert loss.item() == 0.0 and loss.grad_fn is not None
            (grad,) = torch.autograd.grad(loss, z_u)
            assert torch.equal(grad, torch.zeros_like(grad))


CLASS_CASES = {
    "proper": ([5, 5, 5], [0, 1, 2, 3, 4, 1]),
    "label_in_retain": ([5, 5], [0, 5, 2, 5, 4]),  # positives: Eq. 6 ignores them, the code pushes them
    "no_negative": ([2, 2], [2, 2, 2]),
}


@pytest.mark.parametrize("case", sorted(CLASS_CASES))
@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_class_loss_matches_loop_reference(case, variant, reduction):
    y_u, y_r = CLASS_CASES[case]
    z_u, z_r = rand_z(len(y_u), 4, 3), rand_z(len(y_r), 4, 4)
    got = class_unlearning_loss(z_u, lab(y_u), z_r, lab(y_r), 0.7, reduction, variant)
    want = ref_loss(z_u, lab(y_u), z_r, lab(y_r), 0.7, "class", variant, reduction)
    assert got.item() == pytest.approx(want, rel=1e-12, abs=1e-12)
    if case == "no_negative" and variant == "paper":
        assert got.item() == 0.0


def test_dispatch_and_defaults():
    z_u, z_r = rand_z(3, 3, 1), rand_z(8, 3, 2)
    y_r = lab(SAMPLE_CASES["several_positives"][1])
    assert torch.equal(unlearning_loss("sample", z_u, lab([0, 1, 0]), z_r, y_r, variant="official"),
                       sample_unlearning_loss(z_u, lab([0, 1, 0]), z_r, y_r, 0.7, "sum", "official"))
    assert torch.equal(unlearning_loss("class", z_u, lab([4, 4, 4]), z_r, y_r, reduction="mean"),
                       class_unlearning_loss(z_u, lab([4, 4, 4]), z_r, y_r, 0.7, "mean", "paper"))


# ---------------------------------------------------------------- autograd
def _shift_compensated_official(z_u, y_u, z_r, y_r, tau):
    """Official loss minus the detached shift m_i (1 - w_i): same value as a shift-free loss, autograd unchanged."""
    s = (z_u @ z_r.T / tau).detach()
    n_neg = (y_u[:, None] != y_r[None, :]).sum(1).clamp_min(1).to(D64)
    w = len(y_r) / n_neg
    return sample_unlearning_loss(z_u, y_u, z_r, y_r, tau, "sum", "official") - (s.max(1).values * (1 - w)).sum()


def test_gradcheck_sample_loss():
    z_u, z_r = rand_z(3, 4, 5).requires_grad_(), rand_z(5, 4, 6).requires_grad_()
    y_u, y_r = lab([0, 1, 0]), lab([0, 1, 1, 2, 0])
    for red in ("sum", "mean"):
        assert torch.autograd.gradcheck(lambda a, b: sample_unlearning_loss(a, y_u, b, y_r, 0.5, red), (z_u, z_r))
    skip_lab = lab([0, 9, 0])  # anchor 1 skipped / add_one
    for policy in ("skip", "add_one"):
        assert torch.autograd.gradcheck(
            lambda a, b: sample_unlearning_loss(a, skip_lab, b, y_r, 0.5, "mean", "paper", policy), (z_u, z_r))
    # official: the detached max changes the value by m_i (1 - w_i) only; compensating it lets gradcheck
    # confirm that the code's autograd gradient is the true gradient of the shift-free loss
    assert torch.autograd.gradcheck(lambda a, b: _shift_compensated_official(a, y_u, b, y_r, 0.5), (z_u, z_r))


def test_gradcheck_class_loss():
    z_u, z_r = rand_z(3, 4, 7).requires_grad_(), rand_z(5, 4, 8).requires_grad_()
    y_u, y_r = lab([3, 3, 3]), lab([0, 1, 1, 2, 0])
    for red in ("sum", "mean"):
        assert torch.autograd.gradcheck(lambda a, b: class_unlearning_loss(a, y_u, b, y_r, 0.7, red), (z_u, z_r))
    # official: D_i = 1 is added after the shift, so the value carries +m_i (detached); compensate it
    comp = lambda a, b: (class_unlearning_loss(a, y_u, b, y_r, 0.7, "sum", "official")
                         - (a @ b.T / 0.7).detach().max(1).values.sum())
    assert torch.autograd.gradcheck(comp, (z_u, z_r))


def test_class_loss_gradient_is_mean_similarity_and_value_offset_is_log_n():
    z_u, z_r = rand_z(4, 5, 9).requires_grad_(), rand_z(6, 5, 10).requires_grad_()
    y_u, y_r, tau = lab([1, 1, 1, 1]), lab([0, 1, 2, 3, 0, 2]), 0.3  # one retain row shares the label
    loss = class_unlearning_loss(z_u, y_u, z_r, y_r, tau)
    neg = (y_u[:, None] != y_r[None, :]).to(D64)
    plain = -((z_u @ z_r.T / tau) * neg).sum(1).div(neg.sum(1)).sum()
    g1 = torch.autograd.grad(loss, (z_u, z_r))
    g2 = torch.autograd.grad(plain, (z_u, z_r))
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(g1, g2))
    assert (loss - plain).item() == pytest.approx(4 * math.log(5), abs=1e-12)
    # official code without positives: D_i = 1, value -mean s + m_i, same gradient
    y_u0 = lab([9, 9, 9, 9])
    off = class_unlearning_loss(z_u, y_u0, z_r, y_r, tau, variant="official")
    plain0 = -(z_u @ z_r.T / tau).mean(1).sum()
    g3, g4 = torch.autograd.grad(off, (z_u, z_r)), torch.autograd.grad(plain0, (z_u, z_r))
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(g3, g4))
    m = (z_u @ z_r.T / tau).max(1).values.sum()
    assert (off - plain0).item() == pytest.approx(m.item(), abs=1e-12)


def test_official_shift_changes_value_not_gradient():
    z_u, z_r = rand_z(4, 6, 11).requires_grad_(), rand_z(10, 6, 12).requires_grad_()
    y_u, y_r, tau = lab([0, 1, 2, 0]), lab([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]), 0.5
    shifted = sample_unlearning_loss(z_u, y_u, z_r, y_r, tau, "sum", "official")
    s = z_u @ z_r.T / tau
    pos, neg = (y_u[:, None] == y_r[None, :]).to(D64), (y_u[:, None] != y_r[None, :]).to(D64)
    w = 10 / neg.sum(1)
    free = (-(s * neg).sum(1) / neg.sum(1) + w * torch.log((torch.exp(s) * pos).sum(1))).sum()
    g1, g2 = torch.autograd.grad(shifted, (z_u, z_r)), torch.autograd.grad(free, (z_u, z_r))
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(g1, g2))
    offset = (s.max(1).values * (1 - w)).sum()
    assert abs(offset.item()) > 0.1
    assert (shifted - free).item() == pytest.approx(offset.item(), abs=1e-10)
    assert free.item() == pytest.approx(ref_loss(z_u, y_u, z_r, y_r, tau, variant="official", shift=False), abs=1e-10)


def test_official_push_weight_is_b_over_n_neg_on_balanced_batch():
    g = torch.Generator().manual_seed(13)
    y_r = lab([c for c in range(10) for _ in range(10)])[torch.randperm(100, generator=g)]
    z_u, z_r = rand_z(1, 16, 14), rand_z(100, 16, 15).requires_grad_()
    y_u = lab([3])
    grads = {v: torch.autograd.grad(sample_unlearning_loss(z_u, y_u, z_r, y_r, 0.7, "mean", v), z_r)[0]
             for v in ("paper", "official")}
    is_pos = y_r == 3
    ratio = grads["official"][is_pos] / grads["paper"][is_pos]
    assert torch.allclose(ratio, torch.full_like(ratio, 100 / 90), rtol=1e-9)  # |N| = 90: about 1.11
    assert torch.allclose(grads["official"][~is_pos], grads["paper"][~is_pos], atol=1e-14)  # pull unchanged


# ---------------------------------------------------------------- invariance and direction
@pytest.mark.parametrize("task", ["sample", "class"])
@pytest.mark.parametrize("variant", ["paper", "official"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_permutation_invariance(task, variant, reduction):
    g = torch.Generator().manual_seed(16)
    z_u, z_r = rand_z(6, 4, 17), rand_z(10, 4, 18)
    y_u = torch.full((6,), 1) if task == "class" else torch.randint(0, 3, (6,), generator=g)
    y_r = torch.randint(0, 3, (10,), generator=g)
    base = unlearning_loss(task, z_u, y_u, z_r, y_r, 0.5, reduction, variant)
    pu, pr = torch.randperm(6, generator=g), torch.randperm(10, generator=g)
    perm = unlearning_loss(task, z_u[pu], y_u[pu], z_r[pr], y_r[pr], 0.5, reduction, variant)
    assert torch.allclose(base, perm, rtol=1e-12, atol=1e-12)


def test_sgd_on_anchors_moves_toward_negatives_and_away_from_positives():
    g = torch.Generator().manual_seed(19)
    centers = torch.nn.functional.normalize(torch.randn(3, 16, generator=g, dtype=D64), dim=1)
    y_r, y_u = torch.arange(30) % 3, lab([0, 1, 2, 0, 1, 2])
    noisy = lambda y: torch.nn.functional.normalize(centers[y] + 0.3 * torch.randn(len(y), 16, generator=g,
                                                                                   dtype=D64), dim=1)
    z_r, z_u = noisy(y_r), torch.nn.Parameter(noisy(y_u))
    same = y_u[:, None] == y_r[None, :]

    def mean_cos():
        c = torch.nn.functional.normalize(z_u.detach(), dim=1) @ z_r.T
        return c[~same].mean().item(), c[same].mean().item()

    neg0, pos0 = mean_cos()
    opt = torch.optim.SGD([z_u], lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        sample_unlearning_loss(z_u, y_u, z_r, y_r, 0.7).backward()
        opt.step()
    neg1, pos1 = mean_cos()
    assert neg1 > neg0 + 1e-3 and pos1 < pos0 - 1e-3


# ---------------------------------------------------------------- property tests
@st.composite
def batches(draw):
    b_u, b_r, d = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    pool = draw(st.lists(st.lists(st.floats(-2, 2), min_size=d, max_size=d), min_size=1, max_size=4))
    pick = st.integers(0, len(pool) - 1)  # rows drawn from a small pool: duplicate embeddings are common
    z_u = t([pool[i] for i in draw(st.lists(pick, min_size=b_u, max_size=b_u))])
    z_r = t([pool[i] for i in draw(st.lists(pick, min_size=b_r, max_size=b_r))])
    labels = st.lists(st.integers(0, 3), min_size=1, max_size=1)
    y_u = lab([draw(labels)[0] for _ in range(b_u)])
    y_r = lab([draw(labels)[0] for _ in range(b_r)])
    return z_u, y_u, z_r, y_r, draw(st.floats(0.1, 2.0))


@settings(max_examples=50, deadline=None)
@given(batches())
def test_property_losses_and_gradients_finite(batch):
    z_u, y_u, z_r, y_r, tau = batch
    z_u.requires_grad_()
    z_r.requires_grad_()
    for variant in ("paper", "official"):
        for policy in ("skip", "add_one"):
            for red in ("sum", "mean"):
                losses = [sample_unlearning_loss(z_u, y_u, z_r, y_r, tau, red, variant, policy),
                          class_unlearning_loss(z_u, y_u[:1].expand(len(y_u)), z_r, y_r, tau, red, variant)]
                for loss in losses:
                    grads = torch.autograd.grad(loss, (z_u, z_r))
                    assert torch.isfinite(loss) and all(torch.isfinite(gr).all() for gr in grads)


# ---------------------------------------------------------------- bad inputs
def _good():
    return dict(z_u=rand_z(2, 3, 1), y_u=lab([0, 1]), z_r=rand_z(4, 3, 2), y_r=lab([0, 1, 2, 0]))


BAD = [
    (dict(temperature=0.0), "temperature"),
    (dict(temperature=-1.0), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(temperature=float("inf")), "temperature"),
    (dict(reduction="max"), "reduction"),
    (dict(variant="x"), "variant"),
    (dict(no_positive="x"), "no_positive"),
    (dict(y_u=lab([0, 1, 2])), "z_u and y_u"),
    (dict(y_r=lab([0])), "z_r and y_r"),
    (dict(z_r=rand_z(4, 5, 2)), "z_u and z_r"),
    (dict(z_u=torch.zeros(0, 3, dtype=D64), y_u=lab([])), "z_u"),
    (dict(z_r=torch.zeros(0, 3, dtype=D64), y_r=lab([])), "z_r"),
    (dict(z_u=torch.zeros(2, 3, 1, dtype=D64)), "z_u"),
    (dict(y_u=t([0.0, 1.0])), "y_u"),
]


@pytest.mark.parametrize("change,name", BAD, ids=[f"{n}-{i}" for i, (_, n) in enumerate(BAD)])
def test_bad_inputs_raise_value_error_naming_parameter(change, name):
    with pytest.raises(ValueError, match=name):
        sample_unlearning_loss(**{**_good(), **change})


def test_bad_inputs_class_task_lambda():
    good = _good()
    with pytest.raises(ValueError, match="one class"):
        class_unlearning_loss(**good)  # y_u holds labels 0 and 1
    with pytest.raises(ValueError, match="task"):
        unlearning_loss("both", **good)
    with pytest.raises(ValueError, match="variant"):
        class_unlearning_loss(**{**good, "y_u": lab([1, 1])}, variant="x")
    logits, y = torch.zeros(4, 3), lab([0, 1, 2, 0])
    for name in ("lambda_ul", "lambda_ce"):
        with pytest.raises(ValueError, match=name):
            total_loss(torch.tensor(1.0), logits, y, **{name: -0.5})


def test_total_loss_eq7():
    loss_ul = torch.tensor(2.0, dtype=D64, requires_grad=True)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=D64, requires_grad=True)
    y = lab([0, 1])
    loss, hist = total_loss(loss_ul, logits, y)
    ce = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert loss.item() == pytest.approx(3.0 * 2.0 + ce, abs=1e-12)
    assert hist == pytest.approx({"loss": 6.0 + ce, "loss_ul": 2.0, "loss_ce": ce}, abs=1e-12)
    loss.backward()
    assert loss_ul.grad.item() == pytest.approx(3.0) and logits.grad is not None


def test_official_eps_keeps_underflowed_positive_sum_finite():
    # tau = 1e-3: s = (1000 neg, -1000 pos), m = 1000; exp(-2000) underflows to 0, so D = 0 + 1e-20 (code's eps)
    kw = dict(z_u=t([[1.0, 0.0]]), y_u=lab([0]), z_r=t([[1.0, 0.0], [-1.0, 0.0]]), y_r=lab([1, 0]))
    got = sample_unlearning_loss(**kw, temperature=1e-3, variant="official")
    assert got.item() == pytest.approx(2 * math.log(1e-20), rel=1e-12)  # pull (1000 - 1000) = 0, w = 2/1
    assert sample_unlearning_loss(**kw, temperature=1e-3).item() == pytest.approx(-2000.0, rel=1e-12)
