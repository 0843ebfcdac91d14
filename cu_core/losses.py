r"""Contrastive-unlearning losses: Eqs. (5), (6) and (7) of Lee et al., arXiv:2401.10458 v1.

Every forget embedding ``z_i`` (a row of ``z_u``) is an *anchor* contrasted with the retain batch ``z_r``, with
``s_ij = z_i . z_j / tau``. "Positive" and "negative" name the **label relation**, not the force (SupCon inverted):

==========  ============  ======================================================================
pair        set           what minimising the loss does
==========  ============  ======================================================================
y_j == y_i  positive P_i  **pushed away** (the log-sum-exp "denominator")
y_j != y_i  negative N_i  **pulled closer** (the averaged "numerator")
==========  ============  ======================================================================

One parametrised form covers paper and code (paper.md section 3.5)::

    l_i = -(1/|N_i|) sum_{a in N_i} s_ia + w_i log D_i,        L_UL = reduce_i l_i

==================  =======================  ==========================================================
quantity            ``variant="paper"``      ``variant="official"`` (authors' ``Loss_v1``)
==================  =======================  ==========================================================
D_i, sample task    sum_{p in P_i} e^{s_ip}  same, computed as sum_{p in P_i} (e^{s_ip - m_i} + 1e-20)
D_i, class task     |N_i|                    1 (the code adds 1 to the all-zero positive sum)
w_i (push weight)   1                        B_r / |N_i|  (B_r = retain batch size)
reduce              sum                      mean (the caller passes ``reduction="mean"``)
==================  =======================  ==========================================================

The official variant replicates the code's arithmetic: the detached row maximum ``m_i = max_j s_ij`` (over all
retain columns) is subtracted before ``exp``, ``1e-20`` is added to every element of ``exp`` *before* the positive
mask (so each positive adds 1e-20 and an empty positive set sums to exactly 0; confirmed in
``core/trainer/unlearn/unlearn.py`` of Hongkyu-Lee/Contrastive-Unlearning), and ``-log D_i`` is broadcast over all
B_r columns and divided by |N_i|, which gives the weight B_r/|N_i|. The shift never changes the gradient
(``m_i`` is detached) but changes the value: by ``m_i (1 - w_i)`` when D_i is a positive sum, and by ``+m_i`` when
D_i is the constant 1 (class task: the +1 is added after the shift, so the official class loss per anchor is
``-mean_{a in N_i} s_ia + m_i``). Both variants honour ``reduction``; the defaults follow the paper ("sum"), so an
official-preset caller must pass ``reduction="mean"``.

Gradient view of Eq. (6): ``log|N_i|`` does not depend on the parameters, so Eq. (6) has the gradient of
``-sum_i mean_{a in N_i} z_i . z_a / tau``; the "damping" changes the value, not the update.

Precision and range: float16/bfloat16 embeddings (and logits in :func:`total_loss`) are computed in float32 and
the loss is returned in float32 (float16 overflows at 65504, and its ``exp``/``1e-20`` underflow to 0 gave
``-inf``/NaN); float32 and float64 inputs are computed in their own dtype, exactly as before. Every ``exp`` is
taken of ``s - max`` (``logsumexp``, the official shift), so any finite similarity gives a finite loss: unit
embeddings with tau = 1e-4 (|s| <= 1e4) or embeddings of norm 1e6 (|s| ~ 1e12/tau) in float32. Similarities that
do not fit float32 (norms beyond ~1e19) or non-finite embeddings raise ``FloatingPointError`` naming the largest norm
and tau, instead of returning NaN.

Edge cases (documented choices, never NaN):

* Anchor without positives, sample task (Eq. 5 has ``log 0 = -inf``), ``no_positive``:
  ``"skip"`` (default) the anchor contributes 0 and is left out of the "mean" count; ``"add_one"`` (CLIP/MoCo
  extension and the official class mode) adds 1 to the positive sum of *such anchors only*, so their push term is
  ``log(1 + 0) = 0`` while their pull term stays; ``"none"`` (paper and code as written) raises
  ``FloatingPointError`` naming the number of such anchors. If every anchor is skipped the result is a zero that
  keeps its graph to ``z_u``/``z_r``, so ``backward()`` works and gives zero gradients.
* Anchor without negatives (every retain row shares its label): the pull term is 0; ``|N_i|`` is clamped to 1 in
  every division, so the official push weight becomes B_r (the code itself divides by zero). In the class loss such
  an anchor contributes 0 (Eq. 6 is a sum over the empty N_i) and still counts for "mean".
* Class task whose anchor label occurs in ``y_r`` (e.g. the code's off-by-one that leaves one forget-class image in
  the retain set): Eq. (6) ignores those positives (they are neither pushed nor in N_i); the official variant does
  what the code does: such an anchor gets D_i = sum_P (e^{s_ip - m_i} + 1e-20) and weight B_r/|N_i|.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from cu_core.errors import ConfigError, check_choice

__all__ = ["TASKS", "REDUCTIONS", "VARIANTS", "NO_POSITIVE", "OFFICIAL_EPS", "LOW_PRECISION", "sample_unlearning_loss",
           "class_unlearning_loss", "unlearning_loss", "total_loss"]

TASKS = ("class", "sample")
REDUCTIONS = ("sum", "mean")
VARIANTS = ("paper", "official")
NO_POSITIVE = ("skip", "add_one", "none")
OFFICIAL_EPS = 1e-20  # added to every exp(s - m) in the official code, before masking
LOW_PRECISION = (torch.float16, torch.bfloat16)  # computed in float32


def _compute_dtype(z: Tensor) -> Tensor:
    """float16/bfloat16 → float32 (autograd flows through the cast); other dtypes unchanged."""
    return z.float() if z.dtype in LOW_PRECISION else z


def _similarities(z_u: Tensor, z_r: Tensor, temperature: float) -> Tensor:
    """``s_ij = z_i . z_j / tau`` (B_u, B_r), in float32 for low-precision inputs; raise ``FloatingPointError``
    (naming the largest norm and tau) when an entry is not finite, instead of letting NaN through."""
    z_u, z_r = _compute_dtype(z_u), _compute_dtype(z_r)
    s = z_u @ z_r.T / temperature
    if not bool(torch.isfinite(s).all()):
        with torch.no_grad():
            inputs_finite = bool(torch.isfinite(z_u).all()) and bool(torch.isfinite(z_r).all())
            if not inputs_finite:
                raise FloatingPointError("the embeddings z_u/z_r hold NaN or inf values (the model's outputs are "
                                         "not finite)")
            norm = max(float(torch.linalg.vector_norm(z_u.double(), dim=1).max()),
                       float(torch.linalg.vector_norm(z_r.double(), dim=1).max()))
        raise FloatingPointError(f"similarities z_i.z_j/tau overflow {s.dtype} (largest embedding norm {norm:.3g}, "
                                 f"temperature {temperature!r}): normalise the embeddings or raise the temperature")
    return s


def _check_number(name: str, value: object, *, positive: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        raise ConfigError(name, value, "expected a finite number " + ("> 0" if positive else ">= 0"))


def _validate(z_u: Tensor, y_u: Tensor, z_r: Tensor, y_r: Tensor, temperature: float, reduction: str,
              variant: str, no_positive: str) -> None:
    _check_number("temperature", temperature, positive=True)
    check_choice("reduction", reduction, REDUCTIONS)
    check_choice("variant", variant, VARIANTS)
    check_choice("no_positive", no_positive, NO_POSITIVE)
    for zn, z, yn, y in (("z_u", z_u, "y_u", y_u), ("z_r", z_r, "y_r", y_r)):
        if not isinstance(z, Tensor) or z.dim() != 2 or not z.is_floating_point():
            raise ValueError(f"{zn} must be a 2-D floating-point tensor (B, d), got "
                             f"{tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__}")
        if z.shape[0] == 0:
            raise ValueError(f"{zn} is empty: need at least one row")
        if not isinstance(y, Tensor) or y.dim() != 1 or y.dtype == torch.bool or y.is_floating_point() \
                or y.is_complex():
            raise ValueError(f"{yn} must be a 1-D integer label tensor, got "
                             f"{(y.dtype, tuple(y.shape)) if isinstance(y, Tensor) else type(y).__name__}")
        if y.shape[0] != z.shape[0]:
            raise ValueError(f"{zn} and {yn} differ in length: {z.shape[0]} rows vs {y.shape[0]} labels")
    if z_u.shape[1] != z_r.shape[1]:
        raise ValueError(f"z_u and z_r differ in embedding size d: {z_u.shape[1]} vs {z_r.shape[1]}")
    if z_u.dtype != z_r.dtype:
        raise ValueError(f"z_u and z_r differ in dtype: {z_u.dtype} vs {z_r.dtype}")


def _reduce(per_anchor: Tensor, active: Tensor, reduction: str) -> Tensor:
    """Sum or mean of (B_u,) ``per_anchor`` over ``active`` anchors; all inactive gives a graph-connected 0."""
    total = torch.where(active, per_anchor, torch.zeros_like(per_anchor)).sum()
    if reduction == "sum":
        return total
    return total / active.sum().clamp_min(1).to(per_anchor.dtype)


def _official(s: Tensor, pos: Tensor, neg: Tensor, add_one_if_empty: Tensor) -> Tensor:
    """Per-anchor (B_u,) loss of the authors' ``Loss_v1``; ``add_one_if_empty`` (B_u,) bool adds 1 to D_i."""
    n_neg = neg.sum(1).clamp_min(1)
    shifted = s - s.max(dim=1, keepdim=True).values.detach()  # s_ij - m_i, m_i detached as in the code
    pull = (shifted * neg).sum(1) / n_neg
    denom = ((torch.exp(shifted) + OFFICIAL_EPS) * pos).sum(1) + add_one_if_empty.to(s.dtype)
    return -pull + (s.shape[1] / n_neg) * torch.log(denom)


def sample_unlearning_loss(z_u: Tensor, y_u: Tensor, z_r: Tensor, y_r: Tensor, temperature: float = 0.7,
                           reduction: str = "sum", variant: str = "paper", no_positive: str = "skip") -> Tensor:
    """Sample-unlearning loss, Eq. (5); ``variant="official"`` is the authors' code (see module docstring).

    ``z_u`` (B_u, d) forget embeddings (anchors), ``y_u`` (B_u,) int labels; ``z_r`` (B_r, d) retain embeddings,
    ``y_r`` (B_r,) int labels. Per anchor (paper)
    ``l_i = -(1/|N_i|) sum_{a in N_i} s_ia + log sum_{p in P_i} exp(s_ip)``. Returns a 0-d tensor in z's dtype
    (float32 for float16/bfloat16 z). Raises ``ValueError`` for bad arguments and ``FloatingPointError`` if
    ``no_positive="none"`` and some anchor has no positive, or if the similarities are not finite.
    """
    _validate(z_u, y_u, z_r, y_r, temperature, reduction, variant, no_positive)
    same = y_u[:, None] == y_r[None, :]  # (B_u, B_r) True for positives
    has_pos = same.any(1)  # (B_u,)
    if no_positive == "none" and not bool(has_pos.all()):
        raise FloatingPointError(
            f"{int((~has_pos).sum())} of {len(y_u)} anchors have no positive (no retain sample with their label): "
            "log of an empty sum is -inf; use no_positive='skip' or 'add_one'")
    s = _similarities(z_u, z_r, temperature)  # (B_u, B_r)
    pos, neg = same.to(s.dtype), (~same).to(s.dtype)
    if variant == "official":
        per_anchor = _official(s, pos, neg, ~has_pos)
    else:
        pull = (s * neg).sum(1) / neg.sum(1).clamp_min(1)
        masked = s.masked_fill(~same, float("-inf"))
        # rows without positives get a finite dummy row, so no -inf/NaN reaches the graph; their term is 0
        lse = torch.logsumexp(torch.where(has_pos[:, None], masked, torch.zeros_like(s)), dim=1)
        per_anchor = -pull + torch.where(has_pos, lse, torch.zeros_like(lse))
    active = has_pos if no_positive == "skip" else torch.ones_like(has_pos)
    return _reduce(per_anchor, active, reduction)


def class_unlearning_loss(z_u: Tensor, y_u: Tensor, z_r: Tensor, y_r: Tensor, temperature: float = 0.7,
                          reduction: str = "sum", variant: str = "paper") -> Tensor:
    """Single-class unlearning loss, Eq. (6); ``variant="official"`` is the authors' code (D_i = 1).

    Shapes as in :func:`sample_unlearning_loss`; ``y_u`` must hold one label (a class task forgets one class).
    Per anchor (paper) ``l_i = -(1/|N_i|) sum_{a in N_i} [s_ia - log|N_i|]`` with N_i the retain rows whose label
    differs from the anchor's; positives, if any, are ignored by Eq. (6) (the official variant pushes them, as the
    code does). Returns a 0-d tensor in z's dtype (float32 for float16/bfloat16 z).
    """
    _validate(z_u, y_u, z_r, y_r, temperature, reduction, variant, "skip")
    if bool((y_u != y_u[0]).any()):
        raise ValueError(f"y_u holds several labels {sorted(set(y_u.tolist()))}: a class task forgets one class "
                         "(use sample_unlearning_loss)")
    same = y_u[:, None] == y_r[None, :]
    s = _similarities(z_u, z_r, temperature)
    pos, neg = same.to(s.dtype), (~same).to(s.dtype)
    if variant == "official":
        per_anchor = _official(s, pos, neg, ~same.any(1))
    else:
        n_neg = neg.sum(1).clamp_min(1)  # |N_i| = 0 gives 0 / 1 + log 1 = 0
        per_anchor = -(s * neg).sum(1) / n_neg + torch.log(n_neg)
    return _reduce(per_anchor, torch.ones_like(same[:, 0]), reduction)


def unlearning_loss(task: str, z_u: Tensor, y_u: Tensor, z_r: Tensor, y_r: Tensor, temperature: float = 0.7,
                    reduction: str = "sum", variant: str = "paper", no_positive: str = "skip") -> Tensor:
    """Dispatch on ``task``: "class" -> Eq. (6), "sample" -> Eq. (5). ``no_positive`` is checked but unused for
    "class" (Eq. 6 has no positive sum; the official class code always adds 1)."""
    check_choice("task", task, TASKS)
    if task == "class":
        check_choice("no_positive", no_positive, NO_POSITIVE)
        return class_unlearning_loss(z_u, y_u, z_r, y_r, temperature, reduction, variant)
    return sample_unlearning_loss(z_u, y_u, z_r, y_r, temperature, reduction, variant, no_positive)


def total_loss(loss_ul: Tensor, logits_r: Tensor, y_r: Tensor, lambda_ul: float = 3.0,
               lambda_ce: float = 1.0) -> tuple[Tensor, dict[str, float]]:
    """Eq. (7): ``lambda_ul * loss_ul + lambda_ce * CE(logits_r, y_r)``.

    ``loss_ul`` 0-d, ``logits_r`` (B_r, C), ``y_r`` (B_r,) int64. Returns the 0-d loss and the floats
    ``{"loss", "loss_ul", "loss_ce"}`` (unweighted terms) for the history. ``lambda_ce = 0`` is the code's
    ``loss_ver=1`` (contrastive only); the CE is still reported. float16/bfloat16 terms are computed in float32.
    """
    _check_number("lambda_ul", lambda_ul, positive=False)
    _check_number("lambda_ce", lambda_ce, positive=False)
    if not isinstance(loss_ul, Tensor) or loss_ul.dim() != 0:
        raise ValueError("loss_ul must be a 0-d tensor")
    if not isinstance(logits_r, Tensor) or logits_r.dim() != 2 or logits_r.shape[0] != len(y_r):
        raise ValueError("logits_r and y_r must be (B_r, C) and (B_r,) with the same B_r")
    loss_ul, logits_r = _compute_dtype(loss_ul), _compute_dtype(logits_r)
    loss_ce = F.cross_entropy(logits_r, y_r)
    loss = lambda_ul * loss_ul + lambda_ce * loss_ce
    return loss, {"loss": float(loss.detach()), "loss_ul": float(loss_ul.detach()),
                  "loss_ce": float(loss_ce.detach())}
