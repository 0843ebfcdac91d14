"""The attack-power rule of the book (cu_book.power): intervals against published values, the rule's decisions."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from cu_book import power
from cu_book import report


def test_wilson_matches_the_textbook_interval():
    low, high = power.wilson(0.5, 100)  # 50 of 100: the classic (0.4038, 0.5962)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)
    low, high = power.wilson(0.0, 10)  # never below 0, and not degenerate at p = 0
    assert low == 0.0 and 0.27 < high < 0.28
    assert power.wilson(0.3, 0) == (0.0, 1.0)


def test_newcombe_difference_matches_his_worked_example():
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 - 48/80, method 10
    low, high = power.difference_interval(56 / 70, 70, 48 / 80, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_attack_signal_is_twice_the_accuracy_above_chance():
    gap, low, high = power.attack_signal(0.524, 4000)
    assert math.isclose(gap, 0.048)
    wl, wh = power.wilson(0.524, 4000)
    assert math.isclose(low, 2 * wl - 1) and math.isclose(high, 2 * wh - 1) and low > 0
    assert power.attack_signal(0.505, 400)[1] < 0  # a small attack at 50.5 % has no signal


def test_outside_band():
    assert power.outside_band((0.06, 0.1), 0.05) and power.outside_band((-0.3, -0.2), 0.05)
    assert not power.outside_band((0.01, 0.2), 0.05) and not power.outside_band((-0.01, 0.01), 0.0)


def _row(signal_ok=True, ok=True):
    return {"signal": 4.8, "signal_low": 2.9 if signal_ok else -1.0, "signal_high": 6.7, "signal_ok": signal_ok,
            "paper_forget_member_rate_diff": 20.0, "paper_forget_member_rate_low": 15.0 if ok else 1.0,
            "paper_forget_member_rate_high": 25.0, "paper_forget_member_rate_ok": ok}


def test_claim_power_needs_signal_and_negative_control():
    assert power.claim_power(_row(), "paper_forget_member_rate").testable
    no_signal = power.claim_power(_row(signal_ok=False), "paper_forget_member_rate")
    assert not no_signal.testable and "no signal" in no_signal.reason
    vacuous = power.claim_power(_row(ok=False), "paper_forget_member_rate")
    assert not vacuous.testable and "forgets nothing" in vacuous.reason
    assert power.claim_power(_row(signal_ok=False), "paper_forget_member_rate", signal=False).testable
    assert not power.claim_power(None, "mia_efficacy").testable
    assert power.powered_verdict(True, power.Power(False, "x")) == power.NOT_TESTABLE
    assert power.powered_verdict(False, power.Power(True, "x")) == "does not hold"


def test_counts_from_recorded_split_sizes():
    metrics = {"split_sizes": {"forget": 500, "retain": 44500, "val": 5000},
               "config": {"split": {"task": "sample"}, "data": {"dataset": "cifar10"}}}
    assert power.counts(metrics) == {"forget": 500, "loss_cv": 1000, "paper_pairs": 4000, "heldout_members": 8900}
    metrics = {"split_sizes": {"forget": 4500, "retain": 40500, "test_forget": 1000, "test_retain": 9000},
               "config": {"split": {"task": "class"}, "data": {"dataset": "cifar10"}}}
    assert power.counts(metrics) == {"forget": 4500, "loss_cv": 2000, "paper_pairs": 3600, "heldout_members": 8100}


def test_the_5_epoch_cifar_sample_task_has_no_testable_member_rate_claim():
    """The committed cifar-cpu results: on 500 random images the original's forget member rate is within a few
    points of Retrain's, so a 5-point rule cannot tell unlearning from doing nothing."""
    runs = report.canonical(report.subruns("cifar-cpu"))
    if runs.empty:
        pytest.skip("no cifar-cpu results in this checkout")
    rows = power.power_rows(runs, tolerance=5.0)
    row = rows[(rows["task"] == "sample") & (rows["num_forget"] == 500)].iloc[0]
    assert row["seeds"] == 3 and row["signal_ok"]  # 3 seeds x 4,000 predictions: a small but real signal
    assert abs(row["paper_forget_member_rate_diff"]) < 5 and not row["paper_forget_member_rate_ok"]
    assert not power.claim_power(row, "paper_forget_member_rate").testable
    assert isinstance(rows, pd.DataFrame) and set(rows["task"]) == {"class", "sample"}
