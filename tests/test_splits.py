import numpy as np
import pytest

from cu_core.data import load_dataset, make_split
from cu_core.errors import ConfigError


@pytest.fixture(scope="module")
def labels():
    return load_dataset("digits", "train").labels, load_dataset("digits", "test").labels


def _assert_partition(split, n_train):
    parts = [split.val, split.forget, split.retain]
    joined = np.concatenate(parts)
    assert len(joined) == n_train and len(np.unique(joined)) == n_train  # disjoint and covering
    for part in parts:
        assert np.all(np.diff(part) > 0)  # sorted, no duplicates


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_class_split_sizes_and_disjoint(labels, seed):
    train, test = labels
    s = make_split(train, test, task="class", forget_class=5, seed=seed)
    _assert_partition(s, len(train))
    assert len(s.val) == int(np.ceil(0.1 * len(train)))
    assert set(train[s.val]) == set(range(10))  # every class, the forgotten one included, in validation
    assert np.all(train[s.forget] == 5) and not np.any(train[s.retain] == 5)
    assert len(s.forget) == np.sum(train == 5) - np.sum(train[s.val] == 5)
    assert np.all(test[s.test_forget] == 5) and len(s.test_forget) + len(s.test_retain) == len(test)
    assert np.all(train[s.val_forget] == 5) and np.all(train[s.val_retain] != 5)
    assert len(s.val_forget) + len(s.val_retain) == len(s.val)


def test_sample_split_random_and_first_n(labels):
    train, test = labels
    s = make_split(train, test, task="sample", num_forget=100, seed=3)
    _assert_partition(s, len(train))
    assert len(s.forget) == 100 and s.test_forget is None
    assert len(set(train[s.forget])) > 5  # drawn uniformly, so many classes appear
    first = make_split(train, test, task="sample", num_forget=100, seed=3, forget_selection="first_n")
    pool = np.setdiff1d(np.arange(len(train)), first.val)
    np.testing.assert_array_equal(first.forget, pool[:100])


def test_splits_deterministic_per_seed(labels):
    train, test = labels
    a = make_split(train, test, task="sample", num_forget=50, seed=11)
    b = make_split(train, test, task="sample", num_forget=50, seed=11)
    c = make_split(train, test, task="sample", num_forget=50, seed=12)
    assert a.sha256 == b.sha256 and np.array_equal(a.forget, b.forget)
    assert a.sha256 != c.sha256 and not np.array_equal(a.forget, c.forget)
    assert len(a.sha256) == 64


def test_class_drop_last_keeps_one_sample_in_retain(labels):
    train, test = labels
    full = make_split(train, test, task="class", forget_class=3)
    dropped = make_split(train, test, task="class", forget_class=3, class_drop_last=True)
    assert len(dropped.forget) == len(full.forget) - 1
    assert full.forget[-1] in dropped.retain


@pytest.mark.parametrize("kwargs, parameter", [
    (dict(task="class", forget_class=10), "forget_class"),
    (dict(task="class", forget_class=-1), "forget_class"),
    (dict(task="sample", num_forget=0), "num_forget"),
    (dict(task="sample", num_forget=-5), "num_forget"),
    (dict(task="sample", num_forget=10**6), "num_forget"),
    (dict(task="both"), "task"),
    (dict(val_fraction=0.0), "val_fraction"),
    (dict(val_fraction=0.9), "val_fraction"),
    (dict(task="sample", forget_selection="last_n"), "forget_selection"),
])
def test_bad_split_parameters(labels, kwargs, parameter):
    with pytest.raises(ConfigError) as err:
        make_split(*labels, **kwargs)
    assert err.value.parameter == parameter and parameter in str(err.value)


def test_absent_forget_class_is_refused():
    train = np.array([0, 0, 1, 1, 2, 2] * 5)
    test = np.array([0, 1, 2, 3])
    with pytest.raises(ConfigError, match="forget_class"):
        make_split(train, test, task="class", forget_class=3, val_fraction=0.2, num_classes=4)


def test_atypical_selection_takes_the_highest_scores():
    labels = np.repeat(np.arange(4), 25)
    scores = np.arange(100, dtype=float)[::-1]  # sample 0 is the most atypical
    split = make_split(labels, labels, task="sample", num_forget=5, forget_selection="atypical", scores=scores)
    pool = np.concatenate([split.forget, split.retain])
    assert list(split.forget) == sorted(pool[np.argsort(-scores[pool])[:5]])
    with pytest.raises(ConfigError, match="scores"):
        make_split(labels, labels, task="sample", num_forget=5, forget_selection="atypical")


def test_atypical_forget_set_is_harder_than_a_random_one(digits_runs):
    from cu_core.config import RunConfig
    from cu_core.pipeline import prepare

    cache = digits_runs["root"] / "cache"
    cfgs = {sel: RunConfig.from_dict({"split": {"task": "sample", "num_forget": 50, "forget_selection": sel},
                                      "train": {"progress": False}}) for sel in ("random", "atypical")}
    preps = {sel: prepare(c, cache_dir=cache) for sel, c in cfgs.items()}
    assert np.array_equal(preps["random"].split.val, preps["atypical"].split.val)  # same validation split
    from cu_core.atypical import heldout_losses

    p = preps["atypical"]
    pool = np.sort(np.concatenate([p.split.forget, p.split.retain]))
    scores = heldout_losses(cfgs["atypical"], p.train, pool, p.split.val, 10, p.identity, p.device, cache)
    assert np.isnan(scores[p.split.val]).all() and np.isfinite(scores[pool]).all()
    assert scores[p.split.forget].min() >= np.nanmax(scores[p.split.retain])  # the top 50 by held-out loss
    assert scores[p.split.forget].mean() > 2 * scores[preps["random"].split.forget].mean()
