"""The readers of the questions chapter (`cu_book.questions*`): on small fake frames and run folders, and on the
committed `quick` results; every table's shape and every sentence's numbers are checked against their source."""
from __future__ import annotations

import math
import re

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from cu_book import questions as q  # noqa: E402
from cu_book import questions_attacks as qa  # noqa: E402
from cu_book import questions_damping as qd  # noqa: E402
from cu_book import questions_knobs as qk  # noqa: E402
from cu_book import questions_losses as ql  # noqa: E402
from cu_book import questions_spaces as qsp  # noqa: E402
from cu_book import questions_stopping as qs  # noqa: E402
from cu_book import report_studies as rs  # noqa: E402
from cu_book.questions_exercises import EXERCISES, READING  # noqa: E402


def ablation(rows: list[dict]) -> pd.DataFrame:
    """A fake `ablation_table`: each dict gives task, knob, value, seed and metrics; label and order follow."""
    df = pd.DataFrame(rows)
    df["value"] = df["value"].astype(str)
    df["label"] = df["value"]
    df["order"] = df.groupby("knob")["value"].transform(lambda v: pd.factorize(v)[0]).astype(float)
    if "stop_reason" not in df:
        df["stop_reason"] = "condition"
    return df


@pytest.fixture(scope="module")
def quick() -> pd.DataFrame:
    df = q.default_runs("quick")
    if df.empty:
        pytest.skip("the committed quick profile has no results")
    return df


def test_run_logs_reads_each_runs_file_with_its_columns(tmp_path):
    for name, rows in (("a", [1, 2]), ("b", None), ("c", [3])):
        (tmp_path / name).mkdir()
        if rows:
            pd.DataFrame({"pass": rows, "forget_acc": [0.5] * len(rows)}).to_csv(tmp_path / name / "passes.csv",
                                                                               index=False)
    runs = pd.DataFrame({"path": [str(tmp_path / n) for n in "abc"], "task": ["class", "class", "sample"],
                         "seed": [0, 1, 2]})
    logs = q.run_logs(runs, "passes.csv")
    assert list(logs.columns) == ["pass", "forget_acc", "task", "seed"]
    assert logs["seed"].tolist() == [0, 0, 2] and logs["pass"].tolist() == [1, 2, 3]
    assert q.run_logs(runs, "history.csv").empty
    assert rs.task_rows(runs, "sample")["seed"].tolist() == [2]
    assert rs.task_rows(runs.iloc[0:0], "class").empty


@pytest.mark.parametrize("page", [f"q{n:02d}" for n in range(1, 11)])
def test_every_exercise_has_a_hint_and_a_collapsed_worked_solution(page):
    """Issue 21: each exercise is a sphinx-exercise block followed by a dropdown hint and a dropdown solution; the
    reading exercises' numbers come from the page's glue (no digit typed in their solutions); commands are checked."""
    assert sorted(EXERCISES) == sorted(READING) == [f"q{n:02d}" for n in range(1, 11)]
    text = q.exercises(page)
    n = len(READING[page]) + len(EXERCISES[page])
    labels = re.findall(r"^:label: (ex-q\d\d-\d+)$", text, flags=re.M)
    assert labels == [f"ex-{page}-{i}" for i in range(1, n + 1)]
    assert re.findall(r"^````\{solution\} (\S+)$", text, flags=re.M) == labels
    assert text.count(":class: hint dropdown") == n and text.count(":class: dropdown\n") == n
    assert all(command in text for _, command in EXERCISES[page])
    for _, _, _, solution in READING[page]:
        assert "{glue:text}`" in solution
        assert not re.search(r"\d", re.sub(r"\{glue:text\}`[^`]+`", "", solution)), solution


def test_loss_trend_and_passes_read_first_and_last_steps():
    hist = pd.DataFrame({"task": ["class"] * 4, "seed": [0, 0, 1, 1], "step": [2, 1, 1, 2],
                         "loss_ul": [1.0, 3.0, 5.0, 2.0], "loss_ce": [0.1, 0.2, 0.3, 0.4]})
    assert ql.loss_trend(hist, "class", "loss_ul") == "4.00 → 1.50"
    assert ql.loss_trend(hist, "sample", "loss_ul") == "–"
    cu = pd.DataFrame({"task": ["class", "class"], "epochs": [4, 6]})
    assert ql.passes_text(cu, "class") == "5.0 ± 1.4" and ql.passes_text(cu, "sample") == "–"


def test_loss_forms_give_the_pull_gradient_and_the_log_n_offset():
    demo = qd.loss_forms_table(16, 4, 32, 0.7, seed=0)
    assert list(demo.columns) == qd.FORM_COLUMNS and len(demo) == 5
    by = demo.set_index("Loss for a forgotten class")
    assert by.loc["Eq. (5), no guard", "What the gradient does"].startswith("error: ")
    assert by.loc["Eq. (5), skip anchors without a positive", "What the gradient does"] == "no update"
    assert by.loc["Eq. (6), denominator |N| (paper)", "Value − pull terms"] == qd.log_n_offset(4, 32) == \
        f"{4 * math.log(32):.4f}"
    assert by.loc["Eq. (6), denominator 1 (authors' code)", "What the gradient does"] == "pull only"
    assert float(by.loc["Eq. (6), denominator |N| (paper)", "Max. gradient difference to the pull"]) < 1e-12


def test_variant_agreement_is_the_largest_difference_over_seeds():
    rows = [{"task": "class", "knob": "variant", "value": v, "seed": s, "acc_forget_train": a,
             "acc_retain_test": 90.0, "avg_gap": 1.0, "epochs": 5} for s, (p, o) in enumerate([(10, 10.5), (20, 23)])
            for v, a in (("paper", p), ("official", o))]
    assert qd.variant_agreement(ablation(rows)) == ("3.00", "2")
    assert qd.variant_agreement(ablation(rows).iloc[0:0]) == ("–", "0")


def test_omega_readings_name_every_value():
    rows = ablation([{"task": "sample", "knob": "omega", "value": w, "seed": s, "epochs": 8 / w,
                      "samples": 1000 * w + 10 * s, "avg_gap": 1.0 + s} for w in (1, 4) for s in (0, 1)])
    text = qk.omega_summary(rows)
    assert text.startswith("ω = 1: 8.0 ± 0.0 passes, 1005 ± 7 examples, gap 1.5 ± 0.7; ω = 4: 2.0 ± 0.0 passes")
    assert qk.omega_work_ratio(rows) == f"{4005 / 1005:.2f}"
    assert qk.omega_summary(rows.iloc[0:0]) == "was not measured yet" and qk.omega_work_ratio(rows.iloc[0:0]) == "–"


def test_atypical_answer_and_selection_table():
    metrics = {"random": (100.0, 99.0, 99.5), "atypical": (100.0, 80.0, 95.0)}
    rows = ablation([{"task": "sample", "knob": "forget_selection", "value": v, "seed": s,
                      "original_acc_forget_train": o, "retrain_acc_forget_train": t, "acc_forget_train": c,
                      "acc_test": 98.0, "avg_gap": 2.0, "epochs": 3, "mia_efficacy": 50.0, "retrain_mia_efficacy": 40.0}
                     for v, (o, t, c) in metrics.items() for s in (0, 1)])
    answer = qk.atypical_answer(rows)
    assert "original model scores 100.0 % and Retrain 80.0 %" in answer and "trace of training is 20.0" in answer
    assert "against 1.0 for a random forget set" in answer and "removes 25 % of that trace" in answer
    assert "overshooting" not in answer
    table = qk.forget_selection_table(rows).splitlines()
    assert len(table) == 2 + 2 and table[2].startswith("| random | 100.0 ± 0.0 | 99.0 ± 0.0 | 99.5 ± 0.0 |")
    assert "has not been run yet" in qk.atypical_answer(rows[rows["value"] == "random"])


def test_stop_rule_summary_and_no_heldout_verdict():
    rows = ablation([{"task": "sample", "knob": "stop_rule", "value": v, "seed": s, "epochs": e, "acc_forget_train": 97,
                      "retrain_acc_forget_train": 98, "acc_test": 98, "avg_gap": g + s,
                      "stop_reason": "max_passes" if v == "no_heldout" else "condition"}
                     for v, e, g in (("val", 4, 1.0), ("no_heldout", 30, 9.0)) for s in (0, 1)])
    table = qs.stop_rule_summary(rows).splitlines()
    assert len(table) == 4 and table[3].endswith("| 9.5 ± 0.7 | 2 of 2 runs |")
    verdict = qs.no_heldout_verdict(rows)
    assert "clearly worse" in verdict and "+8.0 points" in verdict and "2 of 2 runs ended at the pass cap" in verdict
    assert qs.no_heldout_verdict(rows[rows["value"] == "val"]) == "not measured yet"


def test_sensitivity_finds_the_widest_and_narrowest_knob():
    rows = ablation([{"task": "class", "knob": k, "value": v, "seed": 0, "avg_gap": g}
                     for k, values in (("temperature", (("0.1", 9.0), ("0.7", 1.0))),
                                       ("omega", (("1", 2.0), ("4", 1.5))))
                     for v, g in values])
    sens = qs.sensitivity(rows, ["temperature", "omega"])
    assert sens[["knob", "min", "max", "default", "best"]].values.tolist() == [
        ["temperature", 1.0, 9.0, 1.0, "0.7"], ["omega", 1.5, 2.0, 1.5, "4"]]
    assert qs.sensitivity_text(sens).startswith(
        "the Avg. Gap moves most with temperature in the class task (1.0 to 9.0")
    assert len(qs.sensitivity_table(sens).splitlines()) == 4
    assert qs.sensitivity_text(sens.iloc[0:0]) == "cannot be measured yet"


def test_architecture_table_rows_per_task_knob_and_value():
    rows = ablation([{"task": t, "knob": k, "value": v, "seed": 0, "avg_gap": 1.0, "original_acc_test": 90.0,
                      "retrain_acc_test": 97.0, "retrain_acc_retain_test": 97.0, "acc_test": 96.0,
                      "acc_retain_test": 96.0, "acc_forget_train": 50.0, "epochs": 3, "seconds": 1.234}
                     for t in ("class", "sample")
                     for k, v in (("model", "cnn4"), ("model", "vit_tiny"), ("head", "linear"))])
    lines = qk.architecture_table(rows).splitlines()
    assert len(lines) == 2 + 6
    assert lines[2] == "| class | model | cnn4 | 90.0 | 97.0 | 96.0 | 50.0 | 1.0 | 3.0 | 1.23 |"
    assert "No model or head ablation" in qk.architecture_table(rows.iloc[0:0])


def test_space_table_and_answer_on_the_quick_results(quick):
    cls = qsp.class_rows("quick")
    stats = qsp.space_stats(cls)
    assert set(stats["method"]) <= set(qsp.METHODS) and "contrastive" in set(stats["method"])
    table = qsp.space_table(stats).splitlines()
    assert len(table) == 2 + len(stats) and "Probe − Retrain (points)" in table[0]
    cu = stats.set_index("method").loc["contrastive"]
    answer = qsp.space_answer(cls)
    assert answer.startswith(("is supported here", "is not supported at this scale"))
    assert qsp.fmt_pm(cu["probe_forget"], cu["probe_forget_std"]) in answer
    assert qsp.space_answer(cls.iloc[0:0]).startswith("cannot be answered yet")


def test_attack_text_and_power_on_the_quick_results(quick):
    sample = qa.sample_rows(quick)
    if sample.empty:
        pytest.skip("no sample-task results in the quick profile")
    text = qa.attack_text(sample)
    retrain = sample[sample["method"] == "retrain"]["paper_forget_member_rate"]
    assert f"calls {qa.fmt_pm(retrain.mean(), retrain.std())} % of the forget images members under Retrain" in text
    assert qa.power_text(quick).startswith("By the book's power rule") and qa.power_text(quick.iloc[0:0]) == ""
    assert qa.attack_text(sample.iloc[0:0]) == "The sample-task comparison has not been run yet."


def test_knob_reading_reports_runs_at_the_pass_cap():
    """Issue 21: a setting whose run hit the pass cap is reported as such, never praised as the best setting."""
    import pandas as pd

    from cu_book import report_studies as rs

    table = pd.DataFrame({"knob": ["lambda_ul", "lambda_ul", "stop_rule"], "value": [0.5, 3.0, "val"],
                          "label": ["0.5", "3", "val"], "order": [0, 1, 0], "seed": [0, 0, 0],
                          "avg_gap": [2.18, 16.2, 16.2], "epochs": [30, 4, 4]})
    text = rs.best_setting_reading(table, 16.2, cap=30)
    assert "lowest Avg. Gap, 16.20 points, comes with lambda_ul = 3" in text
    assert "lambda_ul = 0.5 (2.18 points; 1 of 1 run hit the 30-pass cap)" in text
    assert "cap" not in rs.best_setting_reading(table.assign(epochs=[20, 4, 4]), 16.2, cap=30).split("preset")[1]


def test_vit_caveat_quotes_the_class_task_originals_as_the_table_does():
    """Issue 21: the prose number is the table's (class-task originals), not a mean over both tasks."""
    import pandas as pd

    from cu_book import report_studies as rs

    rows = [("class", "vit_tiny", 80.0), ("class", "vit_tiny", 90.0), ("sample", "vit_tiny", 60.0),
            ("class", "cnn4", 98.0), ("class", "cnn4", 98.0), ("sample", "cnn4", 98.0)]
    table = pd.DataFrame([{"task": t, "knob": "model", "value": m, "label": m, "order": 0, "seed": i,
                           "original_acc_test": acc, "acc_retain_test": acc, "acc_test": acc,
                           "retrain_acc_retain_test": acc, "retrain_acc_test": acc}
                          for i, (t, m, acc) in enumerate(rows)])
    text = rs.vit_caveat(table)
    assert text.startswith("The original ViT reaches 85.0 ± 7.1 % test accuracy against 98.0") and "`" not in text
