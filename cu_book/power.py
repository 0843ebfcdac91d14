"""When can an attack-based claim be tested? The book's rule, its intervals and its table.

A membership-inference claim ("CU's forget samples look like non-members, as under Retrain") can only be judged
when the attack sees membership where it exists and when a model that forgot nothing would fail the claim.
On a model that barely memorises (the 5-epoch CPU originals) neither is true, and a verdict drawn anyway is
noise. The rule, written once here and stated in the book:

1. **Signal** (the paper's attack, the only one that reports it): the attack separates *Retrain's* own members
   (held-out retain samples) from its non-members (held-out test images) beyond noise: the 95 % Wilson interval
   of its balanced held-out accuracy `a` lies above 50 %. In points of member-rate gap (TPR − FPR = 2a − 1).
2. **Negative control** (every attack column): the untouched original's value minus Retrain's, a difference of
   two proportions on the forget set, has a 95 % Newcombe interval entirely outside the claim's tolerance band
   [−t, t]: a method that changes nothing would fail the claim beyond noise.

A claim that rests on an attack is "not testable at this scale" unless every condition that applies holds.
Counts come from the split sizes each run records; with several seeds the counts add up (the rates are means).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cu_core.data.datasets import DATASETS
from cu_book.report import verdict
from cu_core.results import read_metrics

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
HOLDOUT = 0.2  # cu_core.attacks.paper_mia's held-out fraction of members and non-members
NOT_TESTABLE = "not testable at this scale"
# Attack columns (percent, as `cu_book.report.subruns` gives them) → how many forget-set predictions each rests on.
ATTACK_COLUMNS = {"paper_forget_member_rate": "forget", "mia_efficacy": "forget", "loss_attack_accuracy": "loss_cv"}


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion `p` (fraction in [0, 1]) observed on `n` trials."""
    if n <= 0:
        return 0.0, 1.0
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(p1: float, n1: int, p2: float, n2: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10) of p1 − p2 for two independent proportions (fractions)."""
    l1, u1 = wilson(p1, n1, z)
    l2, u2 = wilson(p2, n2, z)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def attack_signal(accuracy: float, predictions: int) -> tuple[float, float, float]:
    """The member-rate gap TPR − FPR = 2a − 1 of a balanced attack with accuracy `a` (fraction) on `predictions`
    held-out samples (half members), with its 95 % interval: (gap, low, high), all fractions."""
    low, high = wilson(accuracy, predictions)
    return 2 * accuracy - 1, 2 * low - 1, 2 * high - 1


def outside_band(interval: tuple[float, float], tolerance: float) -> bool:
    """True when the interval lies entirely outside [−tolerance, tolerance] (all fractions)."""
    low, high = interval
    return low > tolerance or high < -tolerance


def counts(metrics: dict[str, Any]) -> dict[str, int]:
    """Prediction counts behind a run's attack numbers, from its recorded split sizes: `forget` (forget-set rates),
    `loss_cv` (the loss attack's balanced CV predictions), `paper_pairs` (the paper attack's balanced held-out
    predictions) and `heldout_members` (the members it holds out)."""
    sizes, split = metrics["split_sizes"], metrics["config"]["split"]
    test = DATASETS[metrics["config"]["data"]["dataset"]].test_size
    if split["task"] == "class":
        nonmembers, loss_nonmembers = sizes.get("test_retain", test), sizes.get("test_forget", test)
    else:
        nonmembers = loss_nonmembers = test
    held = min(max(1, round(HOLDOUT * sizes["retain"])), max(1, round(HOLDOUT * nonmembers)))
    return {"forget": int(sizes["forget"]), "loss_cv": 2 * min(int(sizes["forget"]), int(loss_nonmembers)),
            "paper_pairs": 2 * held, "heldout_members": max(1, round(HOLDOUT * sizes["retain"]))}


@dataclass(frozen=True)
class Power:
    """Whether an attack claim is testable, with the numbers behind it (percentage points)."""

    testable: bool
    reason: str


def power_rows(runs: pd.DataFrame, tolerance: float = 0.0, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """The rule applied to every (profile, model, task, forget-set size) of `runs` (`cu_book.report.subruns`
    rows, several seeds allowed): Retrain's paper-attack gap with its interval (signal) and, per attack column,
    the original's value minus Retrain's with its interval and whether it clears the tolerance `tolerance`
    (points). Columns: profile, model, task, num_forget, seeds, signal, signal_low, signal_high, signal_ok, then
    `<column>_diff`, `<column>_low`, `<column>_high`, `<column>_ok` per column of `columns` (default the attack
    columns; a column maps to the count it rests on, "forget" or "loss_cv"), and the same four for
    `retrain_gap`: Retrain's held-out member rate minus its forget rate under the paper's attack (ok: above zero
    beyond noise); all in points."""
    rows = []
    refs = runs[runs["method"].isin(["original", "retrain"])]
    keys = ["profile", "model", "task", "num_forget"]
    for key, group in refs.groupby(keys, dropna=False, sort=False):
        orig, retr = group[group["method"] == "original"], group[group["method"] == "retrain"]
        if orig.empty or retr.empty:
            continue
        n = {k: 0 for k in ("forget", "loss_cv", "paper_pairs", "heldout_members")}
        for path in retr["path"]:
            metrics = read_metrics(f"{path}/metrics.json")
            if metrics is not None:
                n = {k: n[k] + v for k, v in counts(metrics).items()}
        row: dict[str, Any] = dict(zip(keys, key), seeds=len(retr))
        accuracy = retr["paper_attack_accuracy"].mean() / 100 if "paper_attack_accuracy" in retr else float("nan")
        if n["paper_pairs"] and not math.isnan(accuracy):
            gap, low, high = attack_signal(accuracy, n["paper_pairs"])
            row.update(signal=100 * gap, signal_low=100 * low, signal_high=100 * high, signal_ok=low > 0)
        for column, count in (columns or ATTACK_COLUMNS).items():
            p1, p2 = orig[column].mean() / 100, retr[column].mean() / 100
            if math.isnan(p1) or math.isnan(p2) or not n[count]:
                continue
            low, high = difference_interval(p1, n[count], p2, n[count])
            row.update({f"{column}_diff": 100 * (p1 - p2), f"{column}_low": 100 * low, f"{column}_high": 100 * high,
                        f"{column}_ok": outside_band((low, high), tolerance / 100)})
        held, rate = retr["paper_heldout_member_rate"].mean() / 100, retr["paper_forget_member_rate"].mean() / 100
        if not (math.isnan(held) or math.isnan(rate)) and n["forget"]:  # Retrain's own held-out vs forget rates
            low, high = difference_interval(held, n["heldout_members"], rate, n["forget"])
            row.update(retrain_gap_diff=100 * (held - rate), retrain_gap_low=100 * low, retrain_gap_high=100 * high,
                       retrain_gap_ok=low > 0)
        rows.append(row)
    return pd.DataFrame(rows)


def claim_power(row: pd.Series | dict[str, Any] | None, column: str | None, *, signal: bool = True) -> Power:
    """Is a claim on `column` testable, given its `power_rows` row? `signal`: the claim also needs the paper
    attack to see Retrain's membership (condition 1); `column` None: no negative control (condition 2)."""
    if row is None:
        return Power(False, "the original or Retrain has no attack result")
    get = row.get if isinstance(row, dict) else row.get
    reasons = []
    if signal:
        if get("signal") is None or pd.isna(get("signal")):
            reasons.append("the paper attack's accuracy on Retrain is missing")
        elif not get("signal_ok"):
            reasons.append(f"on Retrain the attack's member-rate gap is {get('signal'):+.1f} points "
                           f"(95 % interval {get('signal_low'):+.1f} to {get('signal_high'):+.1f}): no signal beyond noise")
    if column is None:
        pass
    elif get(f"{column}_diff") is None or pd.isna(get(f"{column}_diff")):
        reasons.append(f"{column} is missing for the original or Retrain")
    elif not get(f"{column}_ok") and column == "retrain_gap":
        reasons.append(f"on Retrain the attack's held-out member rate exceeds its forget rate by "
                       f"{get('retrain_gap_diff'):+.1f} points (95 % interval {get('retrain_gap_low'):+.1f} to "
                       f"{get('retrain_gap_high'):+.1f}): no gap to keep beyond noise")
    elif not get(f"{column}_ok"):
        reasons.append(f"the untouched original differs from Retrain by {get(f'{column}_diff'):+.1f} points "
                       f"(95 % interval {get(f'{column}_low'):+.1f} to {get(f'{column}_high'):+.1f}), within the "
                       "rule's tolerance: a method that forgets nothing would pass")
    if reasons:
        return Power(False, "; ".join(reasons))
    if column is None:
        return Power(True, f"on Retrain the attack's member-rate gap is {get('signal'):+.1f} points")
    if column == "retrain_gap":
        return Power(True, f"on Retrain the held-out rate exceeds the forget rate by {get('retrain_gap_diff'):+.1f} "
                           "points")
    return Power(True, f"the original differs from Retrain by {get(f'{column}_diff'):+.1f} points "
                       f"(95 % interval {get(f'{column}_low'):+.1f} to {get(f'{column}_high'):+.1f})")


def runs_power(runs: pd.DataFrame, column: str | None, tolerance: float, *, signal: bool = True,
               count: str = "forget") -> Power:
    """`claim_power` over every model of `runs` (one page's rows of one profile): testable only where every
    model's test is; the reason names the model when there are several. `count`: what `column` rests on."""
    columns = {column: count} if column not in (None, "retrain_gap") else {}
    rows = power_rows(runs, tolerance, {**ATTACK_COLUMNS, **columns})
    if rows.empty:
        return Power(False, "the original or Retrain was not run")
    checks = {r["model"]: claim_power(r, column, signal=signal) for _, r in rows.iterrows()}
    if len(checks) == 1:
        return next(iter(checks.values()))
    return Power(all(c.testable for c in checks.values()), "; ".join(f"{m}: {c.reason}" for m, c in checks.items()))


def powered_verdict(ok: bool | None, power: Power, *, refute: bool = False) -> str:
    """`cu_book.report.verdict`, or "not testable at this scale" when the claim's test has no power. `refute`:
    a failure stands even so (for accuracy claims measured without noise of their own: a method farther from
    Retrain than the tolerance fails, whether or not doing nothing would pass)."""
    if power.testable or (refute and ok is False):
        return verdict(ok)
    return NOT_TESTABLE


LABELS = {"paper_forget_member_rate": "paper attack, forget rate", "mia_efficacy": "MIA-Efficacy",
          "loss_attack_accuracy": "loss attack"}


def _interval(row: pd.Series, prefix: str) -> str:
    low, high = row.get(f"{prefix}_low"), row.get(f"{prefix}_high")
    value = row.get(prefix) if prefix == "signal" else row.get(f"{prefix}_diff")
    if value is None or pd.isna(value):
        return "–"
    mark = "yes" if row.get(f"{prefix}_ok") else "no"
    return f"{value:+.1f} [{low:+.1f}, {high:+.1f}] {mark}"


def power_table(scales: list[Any], tolerance: float = 5.0) -> pd.DataFrame:
    """The rule's numbers for display, one row per profile, model, task and forget-set size of `scales`
    (`cu_book.scales.Scale`s): Retrain's signal and, per attack column, original − Retrain, each 'value [low, high]
    yes|no' in points (yes: the condition holds; the columns' band is ± `tolerance`)."""
    frames = [power_rows(s.runs, tolerance) for s in scales]
    rows = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(
        not f.empty for f in frames) else pd.DataFrame()
    if rows.empty:
        return pd.DataFrame({"note": ["No profile has the original's and Retrain's attack results yet."]})
    out = pd.DataFrame({"profile": rows["profile"], "model": rows["model"], "task": rows["task"],
                        "forget": [("class" if t == "class" else f"{int(n)}") for t, n in
                                   zip(rows["task"], rows["num_forget"])],
                        "seeds": rows["seeds"]})
    out["signal on Retrain"] = [_interval(r, "signal") for _, r in rows.iterrows()]
    for column, label in LABELS.items():
        out[f"{label}: original − Retrain"] = [_interval(r, column) for _, r in rows.iterrows()]
    return out.set_index(["profile", "model", "task", "forget"])
