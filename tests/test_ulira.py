"""The U-LiRA-style shadow attack: its statistics on synthetic scores, and its direction on real models."""
import dataclasses

import numpy as np
import pytest

from cu_core.config import RunConfig
from cu_core.data import Split
from cu_core.errors import ConfigError
from cu_core.pipeline import prepare, train_reference_on
from cu_core.ulira import logit_confidence, shadow_halves, shadow_scores, ulira_attack


def test_halves_are_complementary_pairs():
    pool = np.arange(10, 50)
    halves = shadow_halves(pool, 6, seed=1)
    counts = sum(np.isin(pool, h).astype(int) for h in halves)
    assert np.all(counts == 3) and all(len(h) == 20 for h in halves)
    with pytest.raises(ConfigError, match="n_shadow"):
        shadow_halves(pool, 5, seed=1)


def test_logit_confidence_is_stable():
    logits = np.array([[50.0, -50.0, 0.0], [0.0, 0.0, 0.0]])
    phi = logit_confidence(logits, np.array([0, 2]))
    p = np.exp(logits[1]) / np.exp(logits[1]).sum()
    assert phi[0] > 40 and np.isfinite(phi).all()
    assert phi[1] == pytest.approx(np.log(p[2]) - np.log(1 - p[2]))


def _synthetic(shift, n_shadow=16, n=200, seed=0):
    rng = np.random.default_rng(seed)
    trained = np.zeros((n_shadow, n), dtype=bool)
    for s in range(0, n_shadow, 2):
        pick = rng.permutation(n)[: n // 2]
        trained[s, pick] = True
        trained[s + 1] = ~trained[s]
    base = rng.normal(0, 3, n)  # per-example difficulty, shared by IN and OUT
    return base + rng.normal(0, 1, (n_shadow, n)) + shift * trained, trained


def test_attack_on_synthetic_scores():
    same = ulira_attack(*_synthetic(0.0))
    apart = ulira_attack(*_synthetic(4.0))
    assert abs(same["balanced_accuracy"] - 0.5) < 0.05 and same["tpr_at_1pct_fpr"] < 0.05
    assert apart["balanced_accuracy"] > 0.9 and apart["tpr_at_1pct_fpr"] > 0.5


def test_direction_on_real_models(tmp_path):
    """Shadows overfit a small digits pool: doing nothing leaks membership, retraining does not."""
    cfg = RunConfig.from_dict({"split": {"task": "sample", "num_forget": 40}, "model": {"head": "linear"},
                               "train": {"epochs": 40, "weight_decay": 0.0, "schedule": "constant", "batch_size": 32,
                                         "select": "last", "progress": False}})
    prep = prepare(cfg)
    s = prep.split
    small = Split("sample", None, s.val, s.forget[:40], s.retain[:120])  # a 160-image pool: halves of 80
    prep = dataclasses.replace(prep, split=small)
    cache = tmp_path / "cache"
    keep = ulira_attack(*shadow_scores(prep, 16, lambda m, f, r: m, "identity", cache_dir=cache))
    retrain = ulira_attack(*shadow_scores(
        prep, 16, lambda m, f, r: train_reference_on(prep, r.indices, seed=7, cache_dir=cache).model, "retrain",
        cache_dir=cache))
    print("identity", keep, "retrain", retrain)
    assert keep["balanced_accuracy"] > 0.6
    assert abs(retrain["balanced_accuracy"] - 0.5) < 0.08
    assert keep["balanced_accuracy"] > retrain["balanced_accuracy"] + 0.1
    again = shadow_scores(prep, 16, lambda m, f, r: pytest.fail("not cached"), "identity", cache_dir=cache)
    assert again[0].shape == (16, 40)
