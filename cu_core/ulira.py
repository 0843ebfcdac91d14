"""A per-example membership attack in the spirit of U-LiRA (Hayes et al., arXiv:2403.01218).

Shadow pool. `n_shadow` shadow models are trained, with the target's recipe, on random halves of the
training pool (forget ∪ retain), in complementary pairs so that every example is in exactly half of the
shadows. Each shadow is then unlearned with the method under test, its forget set being the target's forget
set intersected with its half (and its retain set the rest of its half). Shadow checkpoints are cached by
the training cache and shared across methods; the unlearned shadows' scores are cached per method.

Per forget example x, with φ(x) = log p_y − log(1 − p_y) (logit-scaled confidence):
* IN: φ under the shadows that trained on x and then unlearned it;
* OUT: φ under the shadows that never trained on x (also put through the method, like every shadow).
Two Gaussians are fitted per example; the likelihood ratio classifies a score as "trained then unlearned".

As in U-LiRA, the attack evaluates the *method* (with this recipe), not one model: each shadow in turn plays
the target, attacked with statistics from the other shadows (`ulira_attack`). Every model is trained on half
of the pool, so the training-set size cannot separate IN from OUT (a full-data target against half-data
shadows would look "in" even after retraining). Reported: balanced accuracy at the likelihood-ratio threshold
0 and the TPR at 1 % FPR over all decisions. Perfect unlearning gives ≈ 0.5 and ≈ 0.01.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import paths
from .data import Part
from .errors import ConfigError, check_int
from .metrics import model_outputs
from .references import Prepared, train_reference_on
from .results import atomic_save_npz

#: unlearn_fn(model, forget Part, retain Part) -> unlearned model (the caller's model must stay untouched)
UnlearnFn = Callable[[torch.nn.Module, Part, Part], torch.nn.Module]


def logit_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """φ = log p_y − log(1 − p_y), computed stably from logits (N, C) → (N,)."""
    z = logits.astype(np.float64)
    true = z[np.arange(len(labels)), labels]
    others = z.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    m = others.max(axis=1)
    return true - (m + np.log(np.exp(others - m[:, None]).sum(axis=1)))


def shadow_halves(pool: np.ndarray, n_shadow: int, seed: int) -> list[np.ndarray]:
    """`n_shadow` (even) sorted halves of `pool`, in complementary pairs: each index is in exactly half."""
    check_int("n_shadow", n_shadow, 2)
    if n_shadow % 2:
        raise ConfigError("n_shadow", n_shadow, "an even number (shadows come in complementary pairs)")
    rng = np.random.default_rng([seed, 7])
    halves = []
    for _ in range(n_shadow // 2):
        perm = rng.permutation(pool)
        halves += [np.sort(perm[:len(pool) // 2]), np.sort(perm[len(pool) // 2:])]
    return halves


def shadow_scores(prep: Prepared, n_shadow: int, unlearn_fn: UnlearnFn, method_key: str, *, seed: int = 0,
                  cache_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """φ of every forget example under every unlearned shadow, and which shadows trained on it.

    Returns scores (n_shadow, n_forget) float64 and trained (n_shadow, n_forget) bool.
    `prep` is a `cu_core.references.Prepared`; `method_key` names the method and its configuration (cache key).
    """
    split = prep.split
    halves = shadow_halves(split.train, n_shadow, seed)
    key = hashlib.sha256(json.dumps({"method": method_key, "split": split.sha256, "n": n_shadow, "seed": seed,
                                     "recipe": prep.cfg.to_dict()["model"] | prep.cfg.train.recipe()},
                                    sort_keys=True).encode()).hexdigest()[:20]
    cache = paths.cache_dir(cache_dir) / "ulira" / f"{prep.identity['dataset']}-{key}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            return data["scores"], data["trained"]
    labels = prep.train.labels.cpu().numpy()[split.forget]
    scores = np.empty((n_shadow, len(split.forget)))
    trained = np.zeros((n_shadow, len(split.forget)), dtype=bool)
    for s, half in enumerate(tqdm(halves, desc="U-LiRA shadows", unit="model", disable=not prep.cfg.train.progress)):
        model = train_reference_on(prep, half, seed=seed * 1000 + s, cache_dir=cache_dir).model
        trained[s] = np.isin(split.forget, half)
        forget_s = Part(prep.train, split.forget[trained[s]], "forget")
        retain_s = Part(prep.train, np.setdiff1d(half, split.forget), "retain")
        unlearned = unlearn_fn(model, forget_s, retain_s) if len(forget_s) else model
        out = model_outputs(unlearned, prep.train, split.forget, amp=prep.cfg.train.amp)
        scores[s] = logit_confidence(out.logits, labels)
    atomic_save_npz(cache, scores=scores, trained=trained)
    return scores, trained


def ulira_attack(scores: np.ndarray, trained: np.ndarray, *, min_std: float = 1e-3) -> dict[str, float]:
    """Leave-one-out likelihood-ratio attack over the shadow pool (as U-LiRA evaluates a method).

    Each shadow in turn is the target: for every forget example, Gaussians are fitted to the IN and OUT
    scores of the *other* shadows, and the target's score is classified by the log likelihood ratio
    (> 0: "trained then unlearned"). Truth: whether the target shadow trained on the example. Every model
    is trained on a half of the pool, so no training-set-size bias separates IN from OUT.

    Args:
        scores, trained: (n_shadow, n) from `shadow_scores`.
    Returns balanced accuracy at threshold 0 and TPR at 1 % FPR over all (shadow, example) decisions
    (0.5 and ≈ 0.01 = perfect unlearning), with the pool size.
    """
    if scores.shape != trained.shape or scores.ndim != 2:
        raise ConfigError("scores", scores.shape, "(n_shadow, n), the shape of trained")
    n_in, n_out = trained.sum(axis=0), (~trained).sum(axis=0)
    if (n_in < 3).any() or (n_out < 3).any():
        raise ConfigError("n_shadow", scores.shape[0], "enough shadows that every example is in and out of >= 3")
    x_in, x_out = np.where(trained, scores, 0.0), np.where(~trained, scores, 0.0)
    ratios = np.empty_like(scores)
    for t in range(scores.shape[0]):  # leave shadow t out of the fits
        k_in, k_out = n_in - trained[t], n_out - ~trained[t]
        mu_in = (x_in.sum(0) - x_in[t]) / k_in
        mu_out = (x_out.sum(0) - x_out[t]) / k_out
        var_in = ((x_in ** 2).sum(0) - x_in[t] ** 2) / k_in - mu_in ** 2
        var_out = ((x_out ** 2).sum(0) - x_out[t] ** 2) / k_out - mu_out ** 2
        sd_in, sd_out = np.sqrt(np.maximum(var_in, min_std ** 2)), np.sqrt(np.maximum(var_out, min_std ** 2))
        ratios[t] = (-np.log(sd_in) - 0.5 * ((scores[t] - mu_in) / sd_in) ** 2) \
            - (-np.log(sd_out) - 0.5 * ((scores[t] - mu_out) / sd_out) ** 2)
    pos, neg = ratios[trained], ratios[~trained]
    threshold = np.quantile(neg, 0.99)  # 1 % of never-trained decisions lie above it
    return {"balanced_accuracy": float(0.5 * (np.mean(pos > 0) + np.mean(neg <= 0))),
            "tpr_at_1pct_fpr": float(np.mean(pos > threshold)), "n_shadow": int(scores.shape[0]),
            "n_examples": int(scores.shape[1])}
