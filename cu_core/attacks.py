"""Membership-inference attacks on per-example outputs (`metrics.Outputs`); no model is needed.

Three recipes (evaluation.md §3), each seeded and deterministic:

* `paper_mia` — the CU paper's Table 6 attack (paper.md §11): member-prediction rates. The paper leaves the
  classifier, the feature and the set sizes open; the choices made here are in its docstring.
* `mia_efficacy` — SalUn's MIA-Efficacy: an RBF SVC on the 1-d confidence p_y; the fraction of the forget
  set predicted NON-member. The buggy m-entropy variant of SalUn's `SVC_MIA.py` (evaluation.md §4) is not
  offered.
* `loss_attack` — the loss-LR CV attack of SCRUB / the NeurIPS challenge kit: forget set vs held-out
  non-members, cross-validated accuracy, ideal 0.5.

`run_attacks` applies all three to an `Evaluation` with the sets fitting its task. In every attack the
member label is 1 and the non-member label is 0.
"""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .errors import ConfigError, check_choice, check_float, check_int
from .metrics import Evaluation, Outputs

CLASSIFIERS = ("logreg", "svc")
SHADOWS = ("random", "first_n")
LOSS_FEATURES = ("log_loss", "loss")
#: Losses below this are clipped before the log (float64 log-softmax can return exactly 0).
MIN_LOSS = 1e-12


def _check_sets(sets: dict[str, Outputs]) -> int:
    """Every set non-empty and with the same number of classes; returns that number."""
    classes: dict[str, int] = {}
    for name, out in sets.items():
        if not isinstance(out, Outputs):
            raise ConfigError(name, type(out).__name__, "expected cu_core.metrics.Outputs")
        if len(out) == 0:
            raise ConfigError(name, "empty set", "a non-empty set of outputs")
        classes[name] = out.logits.shape[1]
    if len(set(classes.values())) > 1:
        first = next(iter(classes))
        bad = next(k for k, c in classes.items() if c != classes[first])
        raise ConfigError(bad, f"{classes[bad]} classes", f"the same number of classes as {first} ({classes[first]})")
    return next(iter(classes.values()))


def _classifier(name: str) -> Pipeline:
    """Standardised features, then logistic regression (sklearn defaults) or SalUn's SVC(C=3, gamma="auto")."""
    clf = LogisticRegression(max_iter=1000) if name == "logreg" else SVC(C=3, gamma="auto", kernel="rbf")
    return make_pipeline(StandardScaler(), clf)


def sorted_probs(out: Outputs) -> np.ndarray:
    """(N, C) softmax vector sorted in descending order (label-agnostic attack feature)."""
    return -np.sort(-out.probs, axis=1)


def paper_mia(members: Outputs, nonmembers: Outputs, targets: dict[str, Outputs], *,
              holdout_fraction: float = 0.2, classifier: str = "logreg", seed: int = 0) -> dict[str, float]:
    """The CU paper's member-prediction-rate attack (Table 6; paper.md §11), retrained for every model.

    Sets: `members` = retain-train outputs (label 1), `nonmembers` = test outputs (label 0). A seeded
    `holdout_fraction` of each (at least one sample, at least one left for training) is held out of attack
    training. The attack trains on the rest, balanced by subsampling the larger side to the size of the
    smaller, so that a constant guess scores 0.5.
    Features: the softmax vector sorted in descending order. The paper only says "the model's outputs F'(x)";
    sorting makes the feature label-agnostic, like a Shokri-style attack without per-class shadow models
    (one attack model for all classes); it keeps the shape of the prediction (top-1 confidence, runner-up
    mass, tail) that overfitting changes. Features are standardised before the classifier.
    Classifier: `"logreg"` (sklearn `LogisticRegression`, default) or `"svc"` (`SVC(C=3, gamma="auto")`).

    Returns, in [0, 1]:
        <name> for each `targets` entry: fraction of that set predicted "member" (on the forget set: lower
            is better, ideal = the retrained model's value; paper's Retrain ≈ 0.62);
        "heldout_members": fraction of the held-out members predicted "member" (higher is better);
        "attack_accuracy": accuracy on a balanced held-out slice (all held-out members and non-members,
            the larger side subsampled); 0.5 means the attack separates nothing on this model.
    """
    check_float("holdout_fraction", holdout_fraction, 0.0, 1.0, low_open=True, high_open=True)
    check_choice("classifier", classifier, CLASSIFIERS)
    check_int("seed", seed, 0)
    if not isinstance(targets, dict):
        raise ConfigError("targets", type(targets).__name__, "a dict of name -> Outputs")
    clash = {"heldout_members", "attack_accuracy"} & set(targets)
    if clash:
        raise ConfigError("targets", sorted(clash), "names other than 'heldout_members' and 'attack_accuracy'")
    _check_sets({"members": members, "nonmembers": nonmembers, **targets})
    for name, out in (("members", members), ("nonmembers", nonmembers)):
        if len(out) < 2:
            raise ConfigError(name, f"{len(out)} sample", "at least 2 samples (one to train, one held out)")
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        perm = rng.permutation(n)
        k = min(max(1, round(holdout_fraction * n)), n - 1)
        return perm[k:], perm[:k]  # (attack training, held out)

    m_fit, m_out = split(len(members))
    n_fit, n_out = split(len(nonmembers))
    size = min(len(m_fit), len(n_fit))
    m_fit, n_fit = rng.permutation(m_fit)[:size], rng.permutation(n_fit)[:size]
    xm, xn = sorted_probs(members), sorted_probs(nonmembers)
    model = _classifier(classifier).fit(np.concatenate([xm[m_fit], xn[n_fit]]),
                                        np.concatenate([np.ones(size), np.zeros(size)]))
    size = min(len(m_out), len(n_out))
    m_acc, n_acc = rng.permutation(m_out)[:size], rng.permutation(n_out)[:size]
    correct = np.concatenate([model.predict(xm[m_acc]) == 1, model.predict(xn[n_acc]) == 0])
    result = {name: float(np.mean(model.predict(sorted_probs(out)) == 1)) for name, out in targets.items()}
    result["heldout_members"] = float(np.mean(model.predict(xm[m_out]) == 1))
    result["attack_accuracy"] = float(correct.mean())
    return result


def mia_efficacy(retain: Outputs, test: Outputs, forget: Outputs, *, shadow: str = "random",
                 seed: int = 0) -> float:
    """SalUn's MIA-Efficacy (`SVC_MIA.py`, `confidence` entry): fraction of `forget` predicted NON-member.

    Feature: the 1-d confidence p_y, unscaled (as SalUn). Classifier: `SVC(C=3, gamma="auto", kernel="rbf")`,
    no CV. Members (1): n = |test| retain samples — a seeded random subset (`shadow="random"`, default) or
    the first n in index order (`shadow="first_n"`, SalUn's `Subset(retain, range(len(test)))`). Non-members
    (0): the test set. If |retain| < |test| (small-data runs only; SalUn would fail), n = |retain| and the test
    set is subsampled the same way (random or first n) so that the sides stay balanced.
    Reported: in [0, 1]; higher = more forgotten; the retrained model's value is the reference (≈1 for class
    forgetting, where the forget class is never confident after retraining).
    """
    check_choice("shadow", shadow, SHADOWS)
    check_int("seed", seed, 0)
    _check_sets({"retain": retain, "test": test, "forget": forget})
    n = min(len(retain), len(test))
    rng = np.random.default_rng(seed)
    pick = (lambda size: np.arange(n)) if shadow == "first_n" else (lambda size: np.sort(rng.permutation(size)[:n]))
    m_idx, n_idx = pick(len(retain)), pick(len(test))
    x = np.concatenate([retain.confidence[m_idx], test.confidence[n_idx]])[:, None]
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(x, np.concatenate([np.ones(n), np.zeros(n)]))
    return float(1.0 - clf.predict(forget.confidence[:, None]).mean())


def loss_attack(forget: Outputs, nonmembers: Outputs, *, n_splits: int = 5, seed: int = 0,
                feature: str = "log_loss") -> float:
    """Loss-LR CV attack (SCRUB, challenge kit): can the per-example loss tell forget from non-members?

    Sets: `forget` (label 1) vs held-out `nonmembers` (label 0), balanced by a seeded random subsample of
    the larger set to the size of the smaller. Feature: `"log_loss"` (default) = log(max(loss, 1e-12)),
    then standardised inside each fold; the loss is heavy-tailed (trained samples ≈1e-4, misclassified
    non-members > 5), and on the raw scale a linear model is dominated by the tail and cannot place a
    threshold among small losses, where members differ from non-members. `"loss"` = the raw loss
    (standardised), as SCRUB and the challenge kit. Classifier: sklearn `LogisticRegression()`.
    Reported: mean accuracy over `StratifiedKFold(n_splits, shuffle=True, random_state=seed)`; 0.5 = the
    forget set is indistinguishable from unseen data (the retrained model's ideal), 1.0 = fully separable.
    The attacker is fit on the model's own forget data (an "oracle" attacker).
    """
    check_int("n_splits", n_splits, 2)
    check_int("seed", seed, 0)
    check_choice("feature", feature, LOSS_FEATURES)
    _check_sets({"forget": forget, "nonmembers": nonmembers})
    size = min(len(forget), len(nonmembers))
    if size < n_splits:
        raise ConfigError("n_splits", n_splits, f"at most the smaller set's size ({size}: forget {len(forget)}, "
                                                f"nonmembers {len(nonmembers)}); each class needs n_splits samples")
    rng = np.random.default_rng(seed)
    f_idx, n_idx = (np.sort(rng.permutation(len(out))[:size]) for out in (forget, nonmembers))
    x = np.concatenate([forget.loss[f_idx], nonmembers.loss[n_idx]])
    if feature == "log_loss":
        x = np.log(np.maximum(x, MIN_LOSS))
    y = np.concatenate([np.ones(size), np.zeros(size)])
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), x[:, None], y, cv=cv)
    return float(scores.mean())


def attack_sets(ev: Evaluation) -> dict[str, Outputs]:
    """The sets `run_attacks` uses: members, nonmembers, forget, loss_nonmembers.

    members = retain-train. nonmembers = the test set (sample task), or its remaining-class images
    (`retain_test`, class task) as SalUn's class-wise MIA: the forgotten class's test images would otherwise
    teach the attack that the forgotten class is non-member, a property of the class, not of membership.
    loss_nonmembers = non-members from the forget set's distribution: the test set (sample task), or the
    forgotten class's test images (`forget_test`, class task; SCRUB's choice).
    """
    class_task = ev.split.task == "class"
    return {"members": ev.part("retain_train"), "nonmembers": ev.part("retain_test" if class_task else "test"),
            "forget": ev.part("forget_train"), "loss_nonmembers": ev.part("forget_test" if class_task else "test")}


def run_attacks(ev: Evaluation, *, seed: int = 0) -> dict[str, float | None]:
    """All three attacks on one model's `Evaluation` (sets: `attack_sets`); a flat JSON-able dict of floats.

    Keys (all in [0, 1]): paper_forget_member_rate (ideal = Retrain's), paper_heldout_member_rate (high),
    paper_attack_accuracy (0.5 = the attack sees nothing), mia_efficacy (ideal = Retrain's),
    loss_attack_accuracy (ideal 0.5). The class task's loss attack has few non-members (the forgotten
    class's test images, ≈36 on digits), so its CV accuracy is coarse. An attack whose sets are too small
    to fit (tiny smoke runs) is reported as None (null in JSON).
    """
    s = attack_sets(ev)
    out: dict[str, float | None] = {}
    try:
        paper = paper_mia(s["members"], s["nonmembers"], {"forget": s["forget"]}, seed=seed)
        out.update(paper_forget_member_rate=paper["forget"], paper_heldout_member_rate=paper["heldout_members"],
                   paper_attack_accuracy=paper["attack_accuracy"])
    except ConfigError:  # sets too small to train and hold out (tiny smoke runs): reported as null
        out.update(paper_forget_member_rate=None, paper_heldout_member_rate=None, paper_attack_accuracy=None)
    out["mia_efficacy"] = _or_none(lambda: mia_efficacy(s["members"], s["nonmembers"], s["forget"], seed=seed))
    out["loss_attack_accuracy"] = _or_none(lambda: loss_attack(s["forget"], s["loss_nonmembers"], seed=seed))
    return out


def _or_none(attack) -> float | None:
    """The attack's value, or None when its sets are too small for it (a ConfigError about sizes)."""
    try:
        return attack()
    except ConfigError:
        return None


__all__ = ["attack_sets", "loss_attack", "mia_efficacy", "paper_mia", "run_attacks", "sorted_probs"]
