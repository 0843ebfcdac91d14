"""The stop diagnosis readers (cu_book.diagnosis, cu_book.trough, cu_book.remedies) on synthetic result trees:
traced and untraced passes.csv, a guarded run, a class sweep of 2 classes × 2 seeds and a remedies experiment, all
built from committed cifar-cpu metrics.json files with edited numbers."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from cu_book import diagnosis, remedies, trough

matplotlib.use("Agg")

REAL = Path(__file__).resolve().parent.parent / "data" / "results" / "cifar-cpu"
HEADER = "pass,steps,forget_acc,heldout_acc,threshold,condition_met"


def _template(task: str, sub: str) -> dict:
    """A committed cifar-cpu metrics.json of the task's seed-0 comparison (original, retrain or contrastive)."""
    files = sorted(REAL.glob(f"compare_{task}/seed-0_*/runs/{sub}/metrics.json"))
    if not files:
        pytest.skip("no committed cifar-cpu results to copy metrics.json from")
    return json.loads(files[0].read_text())


def _write(folder: Path, metrics: dict, passes: str | None = None, history: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    if passes is not None:
        (folder / "passes.csv").write_text(passes)
    if history is not None:
        (folder / "history.csv").write_text(history)
    return folder


def _cu(task: str = "sample", *, seed: int = 0, epochs: int = 5, **config) -> dict:
    """A CU metrics.json with `config` merged into its unlearn_config."""
    m = copy.deepcopy(_template(task, "contrastive"))
    m["config"]["split"]["seed"] = m["config"]["train"]["seed"] = m["seed"] = seed
    m["config"]["train"]["epochs"] = epochs
    m["unlearn_config"].update(config)
    return m


def _passes(rows: list[tuple]) -> str:
    """passes.csv text from (pass, forget, held-out, condition_met) tuples, 16 steps a pass."""
    return "\n".join([HEADER] + [f"{p},{16 * p},{f},{h},{h},{c}" for p, f, h, c in rows]) + "\n"


HISTORY = "pass,step,loss,loss_ul,loss_ce\n1,1,4,3.0,0.5\n1,2,4,3.0,0.7\n2,3,4,2.0,1.0\n3,4,4,1.0,1.2\n"


@pytest.fixture()
def curves_root(tmp_path: Path) -> Path:
    """cifar-converged/diagnosis_sample: a traced 5-epoch run at λ 3 and 1; cifar-cpu: an untraced λ 3 run (no
    pass 0), a guarded run and a no_heldout run that the readers leave out."""
    base = tmp_path / "cifar-converged" / "diagnosis_sample" / "train_epochs-5_seed-0_aaaa" / "runs"
    traced3 = _passes([(0, .90, .80, False), (1, .85, .75, False), (2, .70, .66, False), (3, .64, .65, True),
                       (4, .70, .72, True), (5, .74, .78, True)])
    m = _cu(lambda_ul=3.0, trace=True, max_passes=5)
    m["acc_retrain"]["forget_train"] = 0.79
    _write(base / "lambda_ul-3.0", m, traced3, HISTORY)
    traced1 = _passes([(0, .90, .80, False), (1, .88, .80, False), (2, .85, .80, False), (3, .80, .81, True),
                       (4, .79, .80, True), (5, .78, .80, True)])
    _write(base / "lambda_ul-1.0", _cu(lambda_ul=1.0, trace=True, max_passes=5), traced1, HISTORY)
    cpu = tmp_path / "cifar-cpu" / "ablation_sample" / "knob-lambda_ul_seed-0_bbbb" / "runs"
    m = _cu(lambda_ul=3.0)
    m["acc_original"].update(forget_train=0.86, val=0.76)
    m["acc_retrain"]["forget_train"] = 0.80
    m["gap"]["avg_gap"] = 16.0
    _write(cpu / "lambda_ul-3.0", m, _passes([(1, .84, .75, False), (2, .70, .68, False), (3, .60, .62, True)]),
           HISTORY)
    guard = "pass,steps,forget_acc,heldout_acc,threshold,condition_met,paper_condition,heldout_floor\n" \
            "0,0,0.9,0.8,0.8,False,False,0.77\n1,16,0.70,0.71,0.71,False,True,0.77\n" \
            "2,32,0.78,0.79,0.79,True,True,0.77\n"
    _write(cpu / "guard", _cu(lambda_ul=3.0, trace=True, heldout_guard=0.03), guard)
    _write(cpu / "lambda_ul-9.0", _cu(lambda_ul=9.0, stop_rule="no_heldout"), _passes([(1, .5, .4, True)]))
    return tmp_path


def test_stop_pass_from_condition_met() -> None:
    rows = pd.read_csv(pd.io.common.StringIO(_passes([(0, .9, .8, True), (1, .8, .7, False), (2, .6, .7, True),
                                                      (3, .5, .7, True)])))
    assert diagnosis.stop_pass(rows) == 2  # pass 0 never counts, even when its condition is true
    assert diagnosis.stop_pass(rows[rows["pass"] < 2]) is None
    assert diagnosis.stop_pass(pd.DataFrame()) is None
    rows["heldout_acc"] *= 100
    assert diagnosis.guarded_stop(rows, guard=5.0) is None  # 70 < 80 − 5 at every hit
    assert diagnosis.guarded_stop(rows, guard=10.0) == 2
    with pytest.raises(ValueError):
        diagnosis.stop_pass(rows.assign(path=["a", "a", "b", "b"]))


def test_stop_curves_traced_and_untraced(curves_root: Path) -> None:
    conv = diagnosis.stop_curves("cifar-converged", "diagnosis_sample", root=curves_root)
    assert set(conv["lambda_ul"]) == {1.0, 3.0} and conv["traced"].all()
    assert list(conv["label"].unique()) == ["λ_UL = 1", "λ_UL = 3"]
    assert (conv["pass0"] == "recorded").all() and conv["forget_acc"].max() == pytest.approx(90.0)
    cpu = diagnosis.stop_curves("cifar-cpu", "ablation_sample", runs="lambda_ul-", root=curves_root)
    assert list(cpu["pass"]) == [0, 1, 2, 3]  # the no_heldout run is left out; pass 0 from metrics.json
    first = cpu.iloc[0]
    assert first["pass0"] == "original" and first["forget_acc"] == pytest.approx(86.0)
    assert first["heldout_acc"] == pytest.approx(76.0) and not first["condition_met"]

    s = diagnosis.stop_summary(pd.concat([conv, cpu], ignore_index=True)).set_index("run_id")
    t3 = diagnosis.stop_summary(conv[conv["lambda_ul"] == 3.0]).iloc[0]
    assert t3["stop_pass"] == 3 and t3["guard_stop"] == 5  # 78 ≥ 80 − 3 at pass 5 only
    assert t3["drop_at_stop"] == pytest.approx(15.0) and t3["max_drop"] == pytest.approx(15.0)
    assert t3["min_pass"] == 3 and t3["end_heldout"] == pytest.approx(78.0) and t3["stop_steps"] == 48
    u = s.loc["knob-lambda_ul_seed-0_bbbb"]
    assert u["stop_pass"] == 3 and u["drop_at_stop"] == pytest.approx(14.0) and u["retrain_forget"] == 80.0

    guarded = diagnosis.stop_curves("cifar-cpu", "ablation_sample", runs="guard", root=curves_root)
    g = diagnosis.stop_summary(guarded).iloc[0]
    assert g["stop_pass"] == 2 and g["paper_stop"] == 1 and g["heldout_guard"] == 0.03


def test_readings(curves_root: Path) -> None:
    conv = diagnosis.stop_curves("cifar-converged", "diagnosis_sample", root=curves_root)
    cpu = diagnosis.stop_curves("cifar-cpu", "ablation_sample", runs="lambda_ul-", root=curves_root)
    s = diagnosis.stop_summary(pd.concat([conv, cpu], ignore_index=True))
    text = trough.trough_reading(s, 3.0)
    assert "falls 15.0 points, from 80.0 % to 65.0 % by pass 3 (48 steps)" in text
    assert "Eq. 9 fires at pass 3, when held-out is 15.0 points below its start (inside the trough)" in text
    assert "78.0 % by pass 5" in text and "stopped it at pass 5" in text
    assert "falls 14.0 points, from 76.0 % to 62.0 % by pass 3" in text and "untraced" in text
    margin = trough.margin_reading(s, 3.0)
    assert "10.0 points better" in margin and "fallen 26.0 points" in margin and "20.0 points below" in margin
    lam = trough.lambda_reading(s)
    assert "λ_UL = 1 stops at pass 3 at 80.0 / 81.0 %" in lam and "Avg. Gap 16.0" in lam
    assert "Avg. Gap" not in lam.split("cifar-cpu")[0]  # a traced run's final model is past its stop
    assert "0.60 in pass 1 and 1.20 in pass 3 at λ_UL = 3 (×2.0)" in trough.loss_reading(s)
    assert "λ_UL = 3's, 16.0" in trough.lambda_advice(s)
    assert "traced past the stop" in trough.curves_status(conv) and "have not been run" in trough.curves_status(cpu)


def test_figures_build(curves_root: Path) -> None:
    conv = diagnosis.stop_curves("cifar-converged", "diagnosis_sample", root=curves_root)
    cpu = diagnosis.stop_curves("cifar-cpu", "ablation_sample", runs="lambda_ul-", root=curves_root)
    both = pd.concat([conv, cpu], ignore_index=True)
    assert len(diagnosis.curve_figure(both).axes) == 2  # one panel per profile and training length
    assert len(diagnosis.curve_figure(both, losses=True).axes) == 4
    assert len(diagnosis.curve_figure(both, x="steps", losses=True).axes) == 4
    assert len(diagnosis.curve_figure(both.iloc[:0]).axes) == 1  # placeholder


def test_loss_terms_drop_repair_rows(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text("pass,step,phase,loss,loss_ul,loss_ce\n1,1,unlearn,1,2.0,0.4\n"
                                          "1,2,unlearn,1,4.0,0.6\n1,3,repair,0.3,,0.3\n")
    per_pass = diagnosis.loss_terms(tmp_path)
    assert per_pass["loss_ul"].tolist() == [3.0] and per_pass["loss_ce"].tolist() == [0.5]
    assert len(diagnosis.loss_terms(tmp_path, per_pass=False)) == 2
    assert diagnosis.loss_terms(tmp_path / "missing").empty


# ------------------------------------------------------------------------------------------ the class sweep
# (class, seed) → CU's passes and retain-test accuracy, repair's (None: not run), the traced run's passes.csv.
SWEEP = {(0, 0): (2, 0.95, 0.97, [(0, 1, 1, False), (1, .5, .3, False), (2, .1, .0, True), (3, 0, 0, True)]),
         (0, 1): (3, 0.975, 0.98, [(0, 1, 1, False), (1, .5, .3, False), (2, .3, .2, False), (3, 0, 0, True)]),
         (1, 0): (5, 0.99, 0.985, [(0, 1, 1, False), (1, .9, .8, False), (2, .8, .7, False)]),
         (1, 1): (2, 0.955, None, [(0, 1, 1, False), (1, .5, .3, False), (2, .1, .0, True)])}


@pytest.fixture()
def sweep_root(tmp_path: Path) -> Path:
    for (cls, seed), (passes, retain, repaired, trace) in SWEEP.items():
        runs = tmp_path / "ablations" / "class_sweep" / f"forget_class-{cls}_seed-{seed}_cccc" / "runs"
        for sub in ("original", "retrain", "contrastive", "contrastive_repair", "contrastive_trace"):
            if sub == "contrastive_repair" and repaired is None:
                continue
            m = copy.deepcopy(_template("class", sub if sub in ("original", "retrain") else "contrastive"))
            m["config"]["split"].update(forget_class=cls, seed=seed)
            acc = {"retrain": (0.98, 0.0), "contrastive": (retain, 0.05), "contrastive_repair": (repaired, 0.45),
                   "contrastive_trace": (0.97, 0.0), "original": (0.98, 1.0)}[sub]
            m["acc"].update(retain_test=acc[0], forget_test=acc[1])
            if sub.startswith("contrastive"):
                m["epochs"] = {"contrastive_trace": 3}.get(sub, passes)
                m["gap"]["avg_gap"] = {"contrastive": 2.0, "contrastive_repair": 10.0}.get(sub, 1.0)
            _write(runs / sub, m, _passes(trace) if sub == "contrastive_trace" else None)
    return tmp_path


def test_class_sweep_table(sweep_root: Path) -> None:
    t = remedies.class_sweep_table(root=sweep_root).set_index(["forget_class", "seed"])
    assert list(t.index) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert t["cu_retain_diff"].tolist() == pytest.approx([-3.0, -0.5, 1.0, -2.5])
    assert t["repair_retain_diff"].iloc[:3].tolist() == pytest.approx([-1.0, 0.0, 0.5])
    assert math.isnan(t.at[(1, 1), "repair_retain_diff"])
    assert t["trace_stop"].iloc[[0, 1, 3]].tolist() == [2.0, 3.0, 2.0] and math.isnan(t.at[(1, 0), "trace_stop"])
    assert t["cu_passes"].tolist() == [2, 3, 5, 2] and t["repair_forget"].iloc[0] == pytest.approx(45.0)

    s = remedies.class_sweep_summary(t.reset_index())
    assert s.at["CU", "pairs"] == 4 and s.at["CU", "mean"] == pytest.approx(-1.25)
    assert s.at["CU", "worst"] == pytest.approx(-3.0) and s.at["CU", "lose"] == 2
    assert s.at["CU + repair", "pairs"] == 3 and s.at["CU + repair", "mean"] == pytest.approx(-1 / 6)
    assert s.at["CU + repair", "lose"] == 0 and s.at["CU traced to the end", "mean"] == pytest.approx(-1.0)

    text = remedies.class_sweep_reading(t.reset_index())
    assert "Over 4 class/seed pairs" in text and "-1.2 points" in text
    assert "(class 0, seed 0) is -3.0 after 2 passes" in text and "2 of 4 pairs lose more than 2 points" in text
    assert "they stopped after 2 passes (median), the others after 4" in text
    assert "from 5.0 % to 45.0 %" in text and "from 2.0 to 10.0" in text
    assert "in 3 of the 3 pairs where CU stopped within their 3 passes" in text  # (1, 0): CU ran 5 passes
    assert len(remedies.class_sweep_display(t.reset_index())) == 4
    assert list(remedies.class_sweep_summary_display(t.reset_index())["pairs"]) == [4, 3, 4]


# ------------------------------------------------------------------------------------------ the remedies
@pytest.fixture()
def remedy_root(tmp_path: Path) -> Path:
    gaps = {"contrastive": (15.0, 13.0), "contrastive_guard": (4.0, 6.0), "contrastive_repair": (12.0, 14.0)}
    for seed in (0, 1):
        runs = tmp_path / "cifar-converged" / "remedies" / f"task-sample_num_forget-500_seed-{seed}_dddd" / "runs"
        for sub in ("original", "retrain", *gaps):
            m = copy.deepcopy(_template("sample", sub if sub in ("original", "retrain") else "contrastive"))
            m["config"]["split"]["seed"] = seed
            m["config"]["train"]["epochs"] = 30
            m["mia"] = copy.deepcopy(_template("sample", "retrain")["mia"])  # the same MIA: that term is 0
            m["acc"].update(forget_train=0.8 if sub == "retrain" else 0.9, retain_train=0.9, test=0.8)
            if sub in gaps:
                m["gap"]["avg_gap"] = gaps[sub][seed]
                m["epochs"] = 4 + seed
                m["stop_reason"] = "max_passes" if (sub, seed) == ("contrastive_guard", 0) else "condition"
                m["unlearn_config"].update({"contrastive_guard": {"heldout_guard": 0.03},
                                            "contrastive_repair": {"repair_steps": 50}}.get(sub, {}))
            _write(runs / sub, m)
    return tmp_path


def test_remedy_table_and_reading(remedy_root: Path) -> None:
    t = remedies.remedy_table(root=remedy_root)
    assert list(t["variant"]) == ["original", "retrain", "contrastive", "contrastive_repair", "contrastive_guard"]
    row = t.set_index("variant")
    assert row.at["contrastive", "avg_gap"] == pytest.approx(14.0)
    assert row.at["contrastive", "avg_gap_std"] == pytest.approx(math.sqrt(2))
    assert row.at["original", "avg_gap"] == pytest.approx(2.5)  # |UA| 10 points, RA, TA, MIA 0: (10+0+0+0)/4
    assert row.at["contrastive_guard", "setting"] == "heldout_guard=0.03"
    assert row.at["contrastive_repair", "setting"] == "repair_steps=50"
    assert row.at["contrastive", "epochs"] == pytest.approx(4.5) and row.at["contrastive", "n"] == 2
    text = remedies.remedy_reading(t)
    assert "CU + held-out floor (B) (heldout_guard=0.03) lowers it to 5.0 ± 1.4" in text
    assert "still not below doing nothing" in text and "set heldout_guard=0.03" in text
    assert "repair" not in text  # 13 is within the seed spread of 14
    assert row.at["contrastive_guard", "capped"] == 1 and row.at["contrastive", "capped"] == 0
    assert "CU + held-out floor (B) ran to the pass cap on 1 of 2 seeds" in text
    display = remedies.remedy_display(t)
    assert display.loc[("sample", "CU (paper)"), "Avg. Gap"] == "14.0 ± 1.4"
    worse = t.assign(avg_gap=t["avg_gap"].where(t["variant"] != "contrastive_guard", 13.5))
    assert "keep the paper's settings" in remedies.remedy_reading(worse)
    one = remedies.remedy_reading(t.assign(n=1, avg_gap_std=math.nan))  # one seed: no spread, no advice
    assert "Sample task (1 seed):" in one and "lowers it to 5.0" in one and "not a recommendation yet" in one
    assert "set heldout_guard" not in one
    remedy_rows = t["variant"].str.startswith("contrastive_")
    none = t.assign(n=1, avg_gap_std=math.nan, avg_gap=t["avg_gap"].where(~remedy_rows, 20.0))
    assert "no remedy lowers it on this seed" in remedies.remedy_reading(none)


def test_empty_states(tmp_path: Path) -> None:
    curves = diagnosis.stop_curves("cifar-converged", "diagnosis_sample", root=tmp_path)
    assert curves.empty and list(curves.columns) == diagnosis.CURVE_COLUMNS
    summary = diagnosis.stop_summary(curves)
    assert summary.empty
    assert "No sample-task curve" in trough.trough_reading(summary)
    assert trough.lambda_reading(summary) == "No curves yet." and trough.lambda_advice(summary) == ""
    assert diagnosis.COMMAND in trough.curves_status(curves)
    assert trough.symptom(root=tmp_path) == {} and "no sample-task results" in trough.symptom_reading({})
    sweep = remedies.class_sweep_table(root=tmp_path)
    assert sweep.empty and list(sweep.columns) == remedies.SWEEP_COLUMNS
    assert remedies.class_sweep_reading(sweep).startswith("No forget class")
    assert "Note" in remedies.class_sweep_display(sweep) and "Note" in remedies.class_sweep_summary_display(sweep)
    remedy = remedies.remedy_table(root=tmp_path)
    assert remedy.empty and "not been run yet" in remedies.remedy_reading(remedy)
    assert diagnosis.COMMAND in remedies.remedy_display(remedy).iloc[0, 0]


def test_the_page_inputs_are_well_formed_without_any_result(tmp_path):
    """The book builds against a results folder holding only the quickstart: every reader's empty state keeps its
    columns (the page filters on them)."""
    from cu_book import diagnosis, remedies, trough

    curves = diagnosis.stop_curves("cifar-converged", "diagnosis_sample", root=tmp_path)
    summary = diagnosis.stop_summary(curves)
    assert summary.empty and {"stop_pass", "stop_steps", "drop_at_stop"} <= set(summary.columns)
    assert summary.dropna(subset=["stop_pass"]).empty
    assert trough.lambda_reading(summary) == "No curves yet."
    assert remedies.class_sweep_reading(remedies.class_sweep_table("ablations", root=tmp_path)).startswith("No")
