"""Index splits: validation, forget and retain sets, and the class task's test/validation parts.

Order of operations (`make_split`):
1. A stratified, seeded validation split (`val_fraction`, about 10 %) is held out of the training set.
   It holds unseen examples of every class, the forgotten class included, so stopping rules and tuning
   never need the test set. The original model trains on everything else (forget + retain).
2. From the rest, the forget set: `task="class"`, every remaining sample of `forget_class`;
   `task="sample"`, `num_forget` samples drawn uniformly with the seed (`forget_selection="first_n"`
   takes the first n in dataset order, as the authors' code does).
3. For the class task, the test and validation sets are split into forget-class and remaining-class parts.

All index arrays are sorted int64 positions into the train (or test) arrays. The split's sha256 covers
every array and is recorded in each results file.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

import numpy as np

from ..errors import ConfigError, check_bool, check_choice, check_float, check_int, check_seed

TASKS = ("class", "sample")
FORGET_SELECTIONS = ("random", "first_n", "atypical")


@dataclass(frozen=True)
class Split:
    """Index arrays (sorted, int64) into the train or test arrays of one dataset."""

    task: str
    forget_class: int | None
    val: np.ndarray  # train positions held out for validation
    forget: np.ndarray  # D^u_tr
    retain: np.ndarray  # D^r_tr
    test_forget: np.ndarray | None = None  # D^u_ts (class task)
    test_retain: np.ndarray | None = None  # D^r_ts (class task)
    val_forget: np.ndarray | None = None  # validation images of the forgotten class (class task)
    val_retain: np.ndarray | None = None

    @property
    def train(self) -> np.ndarray:
        """What the original model trains on: forget ∪ retain, sorted."""
        return np.union1d(self.forget, self.retain)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256(f"{self.task}|{self.forget_class}".encode())
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                digest.update(f.name.encode())
                digest.update(np.ascontiguousarray(value, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def sizes(self) -> dict[str, int]:
        return {f.name: len(getattr(self, f.name)) for f in fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)}


def make_split(train_labels: np.ndarray, test_labels: np.ndarray, *, task: str = "class", forget_class: int = 5,
               num_forget: int = 100, seed: int = 0, val_fraction: float = 0.1, forget_selection: str = "random",
               class_drop_last: bool = False, num_classes: int | None = None,
               scores: np.ndarray | None = None) -> Split:
    """Split a dataset for unlearning.

    Args:
        train_labels: (N_train,) int labels; test_labels: (N_test,).
        task: "class" (forget every training sample of `forget_class`) or "sample" (`num_forget` samples).
        forget_class: class task only, in [0, num_classes - 1].
        num_forget: sample task only, in [1, size of the training pool - 1].
        seed: seeds the validation split and the forget draw.
        val_fraction: share of the training set held out for validation, in (0, 0.5].
        forget_selection: sample task: "random" (seeded uniform draw), "first_n" (authors' code) or "atypical"
            (the `num_forget` pool samples with the highest `scores`).
        class_drop_last: class task: keep the last forget-class sample in the retain set, as the authors'
            code does by accident (`unlearn_idx[:-1]`).
        num_classes: defaults to max(label) + 1.
        scores: (N_train,) atypicality per training sample, required by `forget_selection="atypical"`
            (`cu_core.pipeline.prepare` computes held-out losses, see `cu_core.atypical`).

    Raises:
        ConfigError: a parameter outside its allowed values (named in the message).
    """
    train_labels = np.asarray(train_labels, dtype=np.int64)
    test_labels = np.asarray(test_labels, dtype=np.int64)
    num_classes = int(max(train_labels.max(), test_labels.max()) + 1) if num_classes is None else num_classes
    check_choice("task", task, TASKS)
    check_choice("forget_selection", forget_selection, FORGET_SELECTIONS)
    check_seed("seed", seed)
    check_float("val_fraction", val_fraction, 0.0, 0.5, low_open=True)
    check_bool("class_drop_last", class_drop_last)
    n_val = int(np.ceil(val_fraction * len(train_labels)))
    pool_size = len(train_labels) - n_val
    if task == "class":
        check_int("forget_class", forget_class, 0, num_classes - 1)
    else:
        check_int("num_forget", num_forget, 1, pool_size - 1)

    from sklearn.model_selection import train_test_split

    try:
        pool, val = train_test_split(np.arange(len(train_labels)), test_size=n_val, stratify=train_labels,
                                     random_state=seed)
    except ValueError as err:  # a class with a single sample cannot be stratified
        raise ConfigError("val_fraction", val_fraction, f"a stratified split needs >= 2 samples per class ({err})")
    pool, val = np.sort(pool), np.sort(val)
    missing = set(train_labels.tolist()) - set(train_labels[val].tolist())
    if missing:
        raise ConfigError("val_fraction", val_fraction, f"too small: validation lacks classes {sorted(missing)}")

    if task == "class":
        in_class = train_labels[pool] == forget_class
        forget = pool[in_class]
        if len(forget) == 0:
            present = sorted(set(train_labels[pool].tolist()))
            raise ConfigError("forget_class", forget_class, "a class present in the training data (outside the "
                              f"validation split): one of {present}")
        if class_drop_last:
            if len(forget) == 1:
                raise ConfigError("class_drop_last", class_drop_last, f"False: class {forget_class} has a single "
                                  "training sample outside validation, and dropping it leaves nothing to forget")
            forget = forget[:-1]
        split = Split(task, forget_class, val, forget, np.setdiff1d(pool, forget),
                      test_forget=np.flatnonzero(test_labels == forget_class),
                      test_retain=np.flatnonzero(test_labels != forget_class),
                      val_forget=val[train_labels[val] == forget_class],
                      val_retain=val[train_labels[val] != forget_class])
    else:
        if forget_selection == "first_n":
            forget = pool[:num_forget]
        elif forget_selection == "atypical":
            if scores is None or len(scores) != len(train_labels):
                raise ConfigError("scores", None if scores is None else len(scores), f"{len(train_labels)} per-sample "
                                  "atypicality scores for forget_selection='atypical'")
            order = np.argsort(-np.asarray(scores, dtype=np.float64)[pool], kind="stable")
            forget = np.sort(pool[order[:num_forget]])
        else:
            rng = np.random.default_rng([seed, 1])
            forget = np.sort(rng.choice(pool, size=num_forget, replace=False))
        split = Split(task, None, val, forget, np.setdiff1d(pool, forget))
    _check_disjoint(split, len(train_labels))
    return split


def _check_disjoint(split: Split, n_train: int) -> None:
    parts = [split.val, split.forget, split.retain]
    joined = np.concatenate(parts)
    if len(np.unique(joined)) != len(joined) or len(joined) != n_train:
        raise RuntimeError("internal error: validation, forget and retain sets overlap or miss samples")
    if split.test_forget is not None and np.intersect1d(split.test_forget, split.test_retain).size:
        raise RuntimeError("internal error: test forget/retain parts overlap")
