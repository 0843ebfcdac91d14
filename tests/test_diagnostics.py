"""Representation diagnostics (t-SNE frame and plot, linear probe) on digits, and the Avg. Gap."""
import copy

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cu_core.data import Part  # noqa: E402
from cu_core.diagnostics import linear_probe, plot_tsne, tsne_frame  # noqa: E402
from cu_core.errors import ConfigError  # noqa: E402
from cu_core.gap import avg_gap  # noqa: E402
from cu_core.metrics import evaluate  # noqa: E402
from cu_core.pipeline import heldout_part, prepare, train_reference  # noqa: E402
from cu_core.unlearn import ContrastiveConfig, contrastive_unlearn  # noqa: E402


@pytest.fixture(scope="module")
def evaluations(digits_runs):
    """Evaluations of the original, retrained and CU-unlearned models (default class task, class 5)."""
    prep = prepare(digits_runs["cfg"])
    cache = digits_runs["root"] / "cache"
    split = prep.split
    original = train_reference(prep, retrain=False, cache_dir=cache).model
    retrain = train_reference(prep, retrain=True, cache_dir=cache).model
    cu = contrastive_unlearn(original, Part(prep.train, split.forget), Part(prep.train, split.retain),
                             config=ContrastiveConfig(progress=False), heldout=heldout_part(prep, "val"),
                             task=split.task, num_classes=10).model
    return {name: evaluate(model, prep.train, prep.test, split)
            for name, model in (("original", original), ("retrain", retrain), ("cu", cu))}


def test_tsne_frame_and_plot(evaluations):
    ev = evaluations["original"]
    parts = {p: ev.part(p) for p in ("forget_train", "retain_train", "test")}
    frame = tsne_frame(parts, max_per_part=60, perplexity=20, seed=0)
    assert list(frame.columns[:4]) == ["x", "y", "part", "label"]
    assert len(frame) == 180 and (frame.groupby("part", observed=True).size() == 60).all()
    assert np.isfinite(frame[["x", "y"]].to_numpy()).all()
    assert set(frame.loc[frame["part"] == "forget_train", "label"]) == {5}
    # the subsample is seeded: same seed → same rows
    again = tsne_frame(parts, max_per_part=60, perplexity=20, seed=0)
    assert frame["index"].tolist() == again["index"].tolist()
    ax = plot_tsne(frame, title="original")
    assert ax.get_xlabel() == "t-SNE 1" and ax.get_ylabel() == "t-SNE 2" and ax.get_title() == "original"
    assert ax.get_legend() is not None
    plt.close(ax.figure)


def test_linear_probe_recovers_the_class_from_the_original(evaluations):
    probes = {name: linear_probe(ev, 5) for name, ev in evaluations.items()}
    for name, probe in probes.items():
        print(name, {k: round(v, 3) for k, v in probe.items()})
        assert set(probe) == {"probe_val_acc", "probe_test_acc", "probe_forget_acc", "probe_retain_acc"}
        assert all(0.0 <= v <= 1.0 for v in probe.values())
    assert probes["original"]["probe_forget_acc"] >= 0.8
    assert probes["original"]["probe_test_acc"] >= 0.8


def test_linear_probe_argument_checks(evaluations):
    with pytest.raises(ConfigError, match="forget_class"):
        linear_probe(evaluations["original"], 3)
    with pytest.raises(ConfigError, match="forget_class"):
        linear_probe(evaluations["original"], None)


def _metrics(task="class", forget_train=0.0, retain_train=1.0, test=0.9, retain_test=0.95, mia=0.5):
    payload = {"config": {"data": {"dataset": "digits"}, "split": {"task": task, "forget_class": 5}},
               "acc": {"forget_train": forget_train, "retain_train": retain_train, "val": 0.9, "test": test}}
    if task == "class":
        payload["acc"].update(forget_test=0.0, retain_test=retain_test)
    if mia is not None:
        payload["mia"] = {"mia_efficacy": mia}
    return payload


def test_avg_gap_hand_computed():
    # unlearned: UA = 100·(1−0.10) = 90, RA = 98, TA (class: retain_test) = 93, MIA = 80
    # retrain:   UA = 100·(1−0.00) = 100, RA = 100, TA = 95,               MIA = 100
    # gaps: 10, 2, 2, 20 → mean 8.5
    mine = _metrics(forget_train=0.10, retain_train=0.98, retain_test=0.93, test=0.5, mia=0.80)
    ref = _metrics(forget_train=0.0, retain_train=1.0, retain_test=0.95, test=0.1, mia=1.0)
    gap = avg_gap(mine, ref)
    assert gap["ua"] == pytest.approx(10) and gap["ra"] == pytest.approx(2)
    assert gap["ta"] == pytest.approx(2) and gap["mia"] == pytest.approx(20)
    assert gap["avg_gap"] == pytest.approx(8.5) and gap["terms"] == 4
    # sample task: TA is the whole test set: |50 − 10| = 40 → (10 + 2 + 40 + 20) / 4 = 18
    sample = avg_gap(_metrics("sample", 0.10, 0.98, test=0.5, mia=0.80),
                     _metrics("sample", 0.0, 1.0, test=0.1, mia=1.0))
    assert sample["ta"] == pytest.approx(40) and sample["avg_gap"] == pytest.approx(18)


def test_avg_gap_identical_runs_is_zero():
    run = _metrics(forget_train=0.3, retain_train=0.97, retain_test=0.91, mia=0.42)
    gap = avg_gap(run, copy.deepcopy(run))
    assert gap == {"avg_gap": 0.0, "ua": 0.0, "ra": 0.0, "ta": 0.0, "mia": 0.0, "terms": 4}


def test_avg_gap_without_mia_uses_three_terms():
    mine = _metrics(forget_train=0.10, retain_train=0.98, retain_test=0.93, mia=None)
    ref = _metrics(forget_train=0.0, retain_train=1.0, retain_test=0.95, mia=1.0)
    gap = avg_gap(mine, ref)
    assert gap["mia"] is None and gap["terms"] == 3
    assert gap["avg_gap"] == pytest.approx((10 + 2 + 2) / 3)
    ref["mia"] = {"mia_efficacy": None}
    assert avg_gap(ref, ref)["terms"] == 3


def test_avg_gap_refuses_different_problems():
    with pytest.raises(ConfigError, match="config.split.task"):
        avg_gap(_metrics("class"), _metrics("sample"))
    other = _metrics()
    other["config"]["data"]["dataset"] = "cifar10"
    with pytest.raises(ConfigError, match="config.data.dataset"):
        avg_gap(_metrics(), other)
    other = _metrics()
    other["config"]["split"]["forget_class"] = 3
    with pytest.raises(ConfigError, match="forget_class"):
        avg_gap(_metrics(), other)
    broken = _metrics()
    broken["acc"]["retain_train"] = 1.5
    with pytest.raises(ConfigError, match="retain_train"):
        avg_gap(broken, _metrics())


def test_avg_gap_on_real_runs(digits_runs):
    gap = avg_gap(digits_runs["original"], digits_runs["retrain"])
    assert gap["terms"] == 4 and gap["ua"] >= 80  # the original still classifies class 5; Retrain does not
    assert gap["mia"] >= 50  # and its forget set still looks like members (MIA-Efficacy low vs Retrain 1.0)
