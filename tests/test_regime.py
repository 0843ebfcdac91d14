"""The regime study's readers (cu_book.regime) on synthetic cifar-converged trees: 2 training lengths × 2 tasks."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from cu_book import power, regime

matplotlib.use("Agg")

REAL = Path(__file__).resolve().parent.parent / "data" / "results" / "cifar-cpu"
METHODS = ["contrastive", "contrastive_lambda1", "bad_teacher", "neggrad_plus"]

# (task, epochs) → the original's forget / retain / test accuracy, Retrain's forget accuracy, Retrain's paper-attack
# accuracy, the forget member rates of the original and Retrain, and the Avg. Gap of each method (in METHODS order).
CASES = {
    ("class", 10): dict(orig=(0.80, 0.84, 0.76), retr_forget=0.0, attack=0.53, rates=(0.70, 0.45), gaps=(1, 2, 3, 4)),
    ("class", 30): dict(orig=(0.99, 0.99, 0.75), retr_forget=0.0, attack=0.60, rates=(0.98, 0.40), gaps=(5, 6, 7, 8)),
    ("sample", 10): dict(orig=(0.86, 0.80, 0.70), retr_forget=0.85, attack=0.51, rates=(0.62, 0.60),
                         gaps=(0.5, 0.6, 0.7, 0.8)),
    ("sample", 30): dict(orig=(1.00, 1.00, 0.72), retr_forget=0.75, attack=0.56, rates=(0.95, 0.60),
                         gaps=(9, 10, 11, 12)),
}


def _template(task: str, sub: str) -> dict:
    """A real cifar-cpu metrics.json of the task's seed-0 comparison (original, retrain or an unlearning run)."""
    experiment = {"class": "compare_class", "sample": "compare_sample"}[task]
    files = sorted(REAL.glob(f"{experiment}/seed-0_*/runs/{sub}/metrics.json"))
    if not files:
        pytest.skip("no committed cifar-cpu results to copy metrics.json from")
    return json.loads(files[0].read_text())


def _write(root: Path, experiment: str, run_id: str, sub: str, payload: dict) -> None:
    folder = root / "cifar-converged" / experiment / run_id / "runs" / sub
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(payload))


def _run(root: Path, task: str, epochs: int, case: dict, *, experiment: str, run_id: str, seed: int = 0,
         num_forget: int | None = None) -> None:
    """One comparison run: original, Retrain and the study's four unlearning sub-runs."""
    for sub in ["original", "retrain", *METHODS]:
        m = copy.deepcopy(_template(task, {"original": "original", "retrain": "retrain"}.get(sub, "contrastive")))
        m["config"]["train"]["epochs"] = epochs
        m["config"]["split"]["seed"] = m["config"]["train"]["seed"] = m["seed"] = seed
        if num_forget is not None:
            m["config"]["split"]["num_forget"] = num_forget
        if sub == "original":
            m["acc"].update(forget_train=case["orig"][0], retain_train=case["orig"][1], test=case["orig"][2])
            m["mia"].update(paper_forget_member_rate=case["rates"][0])
        elif sub == "retrain":
            m["acc"]["forget_train"] = case["retr_forget"]
            m["mia"].update(paper_attack_accuracy=case["attack"], paper_forget_member_rate=case["rates"][1])
        else:
            m["method"] = "contrastive" if sub.startswith("contrastive") else sub
            m["gap"]["avg_gap"] = float(case["gaps"][METHODS.index(sub)])
        _write(root, experiment, run_id, sub, m)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    for (task, epochs), case in CASES.items():
        if epochs == 30:
            _run(root, task, epochs, case, experiment=f"compare_{task}", run_id="seed-0_0000aaaa")
        else:
            _run(root, task, epochs, case, experiment="regime", run_id=f"task-{task}_train_epochs-{epochs}_seed-0_1")
    wild = dict(orig=(0.1, 0.1, 0.1), retr_forget=0.1, attack=0.9, rates=(0.1, 0.1), gaps=(99, 99, 99, 99))
    _run(root, "sample", 30, wild, experiment="seeds_sample", run_id="seed-1_0000bbbb", seed=1)  # another seed
    _run(root, "sample", 30, wild, experiment="compare_sample10", run_id="seed-0_0000cccc", num_forget=4500)
    return root


def _at(table: pd.DataFrame, task: str, epochs: int) -> pd.Series:
    return table[(table["task"] == task) & (table["epochs"] == epochs)].iloc[0]


def test_one_row_per_task_and_length_with_hand_computed_accuracies(tree):
    table = regime.regime_table(tree)
    assert list(zip(table["task"], table["epochs"])) == [("class", 10), ("class", 30), ("sample", 10), ("sample", 30)]
    assert list(table.columns) == regime.COLUMNS
    cls, smp = _at(table, "class", 10), _at(table, "sample", 10)
    assert math.isclose(cls["train_acc"], 100 * (0.80 * 4500 + 0.84 * 40500) / 45000)  # 83.6: weighted by set size
    assert math.isclose(smp["train_acc"], 100 * 36030 / 45000)  # 0.86 × 500 + 0.80 × 44,500, not the plain mean
    assert math.isclose(cls["train_test_gap"], cls["train_acc"] - 76.0)
    assert math.isclose(cls["forget_acc_diff"], 80.0) and cls["forget_differs"]
    assert math.isclose(smp["forget_acc_diff"], 1.0, abs_tol=1e-9) and not smp["forget_differs"]  # 86 vs 85 of 500
    low, high = power.difference_interval(0.86, 500, 0.85, 500)
    assert math.isclose(smp["forget_acc_low"], 100 * low) and math.isclose(smp["forget_acc_high"], 100 * high)
    assert [_at(table, "sample", 30)[f"gap_{m}"] for m in METHODS] == [9, 10, 11, 12]  # the wild copies left out


def test_attack_power_and_member_rate_follow_the_rule(tree):
    table = regime.regime_table(tree)
    metrics = json.loads(next((tree / "cifar-converged" / "regime").glob(
        "task-sample*/runs/retrain/metrics.json")).read_text())
    pairs = power.counts(metrics)["paper_pairs"]  # 2 × min(20 % of 44,500 retain, 20 % of 10,000 test) = 4,000
    assert pairs == 4000
    s10, s30 = _at(table, "sample", 10), _at(table, "sample", 30)
    gap, low, high = power.attack_signal(0.51, pairs)
    assert math.isclose(s10["signal"], 100 * gap) and math.isclose(s10["signal_low"], 100 * low)
    assert math.isclose(s10["signal_high"], 100 * high)
    assert s30["signal"] > s10["signal"] and s30["signal_low"] > s10["signal_low"]  # larger accuracy, more power
    assert not s10["signal_ok"] and s30["signal_ok"]
    assert math.isclose(s10["member_rate_diff"], 2.0) and not s10["member_rate_ok"]  # 62 vs 60 % of 500: noise
    assert math.isclose(s30["member_rate_diff"], 35.0) and s30["member_rate_ok"]
    assert [bool(t) for t in table["testable"]] == [True, True, False, True]
    wider = regime.regime_table(tree, tolerance=40.0)  # a 40-point band: 35 points no longer clears it
    assert not _at(wider, "sample", 30)["member_rate_ok"] and _at(wider, "class", 30)["member_rate_ok"]


def test_reading_names_the_first_testable_length(tree):
    text = regime.regime_reading(regime.regime_table(tree))
    assert "Class task (class 5), results at 10, 30 epochs: from 10 epochs on the original's forget" in text
    assert "500 random samples, results at 10, 30 epochs: from 30 epochs on" in text
    assert text.count("the paper's attack has power") == 2
    assert regime.regime_status(regime.regime_table(tree)) == ("Training lengths with results at build time: "
                                                              "class task (class 5): 10, 30 epochs; "
                                                              "500 random samples: 10, 30 epochs.")
    shown = regime.regime_display(regime.regime_table(tree))
    assert shown.shape == (4, 8) and shown.iloc[0]["original: train / test"] == "83.6 / 76.0"
    assert shown.iloc[3]["Avg. Gap: CU (λ = 3) / CU (λ = 1) / Bad Teacher / NegGrad+"] == "9.0 / 10.0 / 11.0 / 12.0"


def test_from_needs_every_longer_length():
    t = pd.DataFrame({"epochs": [5, 10, 20, 30], "ok": [True, False, True, True]})
    assert regime._from(t, "ok") == 20
    assert regime._from(t.assign(ok=[True, True, True, False]), "ok") is None


def test_empty_state_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CU_RESULTS_DIR", str(tmp_path))  # the readers' default root
    table = regime.regime_table()
    assert table.empty and list(table.columns) == regime.COLUMNS
    assert regime.regime_runs().empty
    text = regime.regime_reading(table)
    assert text.startswith("No training length has results yet") and regime.COMMAND in text
    assert regime.COMMAND in regime.regime_display(table).iloc[0, 0]
    assert regime.regime_status(table).startswith("No result of the study")


def test_figure_builds_with_and_without_results(tree, tmp_path):
    import matplotlib.pyplot as plt

    fig = regime.regime_figure(regime.regime_table(tree))
    assert len(fig.axes) == 6 and fig.get_size_inches()[0] <= 7.5  # 2 tasks × 3 panels, fits a 676-px column
    assert fig.axes[1].get_title().startswith("(b) attack power")
    plt.close(fig)
    one = regime.regime_table(tree)
    fig = regime.regime_figure(one[one["task"] == "sample"])
    assert len(fig.axes) == 3
    plt.close(fig)
    empty = regime.regime_figure(regime.regime_table(tmp_path / "nothing"))
    assert len(empty.axes) == 1 and "--only regime compare_class compare_sample" in empty.axes[0].texts[0].get_text()
    plt.close(empty)
