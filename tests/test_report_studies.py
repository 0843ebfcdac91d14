"""cu_book.report_studies on a tiny fake results tree (no model is trained; < 5 s)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from cu_book import report_studies as rs
from cu_core.schema import validate_metrics


def metrics(task: str, seed: int, *, forget: float, test: float, gap: float, epochs: int,
            method: str = "contrastive", ulira: dict | None = None) -> dict:
    """A minimal schema-valid metrics.json of an unlearning sub-run (accuracies as fractions)."""
    acc = {"forget_train": forget, "retain_train": 1.0, "val": test, "test": test}
    if task == "class":
        acc |= {"forget_test": forget, "retain_test": test}
    payload = {
        "kind": "unlearn", "method": method, "acc": acc, "acc_original": {k: 1.0 for k in acc},
        "acc_retrain": {**{k: test for k in acc}, "forget_train": 0.0 if task == "class" else test},
        "mia_retrain": {"mia_efficacy": 1.0}, "mia": {"mia_efficacy": 0.5},
        "seconds": {"unlearn": 1.0, "eval": 0.1, "retrain_train": 10.0},
        "config": {"data": {"dataset": "digits"}, "model": {"name": "cnn4"}, "train": {"epochs": 30},
                   "split": {"task": task, "forget_class": 5, "num_forget": 100, "seed": seed}},
        "dataset": "scikit-learn digits (8×8)", "split_sha256": "0" * 64, "split_sizes": {"forget": 100},
        "seed": seed, "versions": {"python": "3"}, "device": "cpu (1 threads, x86_64)", "git_commit": None,
        "checkpoint": None, "steps": 4 * epochs, "samples": 100 * epochs, "epochs": epochs,
        "stop_reason": "condition", "unlearn_config": {}, "gap": {"avg_gap": gap, "ua": gap, "ra": 0.0, "ta": 0.0, "mia": 0.0, "terms": 4},
        "cost": {"steps": 4 * epochs, "samples": 100 * epochs, "retrain_samples": 1000},
    }
    if ulira is not None:
        payload["ulira"] = ulira
    validate_metrics(payload)
    return payload


def write_run(root: Path, experiment: str, run_id: str, params: dict, subruns: dict[str, dict]) -> Path:
    run = root / "ablations" / experiment / run_id
    for name, payload in subruns.items():
        (run / "runs" / name).mkdir(parents=True)
        (run / "runs" / name / "metrics.json").write_text(json.dumps(payload))
    (run / "config.json").write_text(json.dumps({"parameters": params}))
    return run


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for seed in (0, 1):
        write_run(tmp_path, "ablation_class", f"knob-lambda_ce_seed-{seed}_aaaa", {"knob": "lambda_ce", "seed": seed},
                  {"lambda_ce-0.0": metrics("class", seed, forget=1.0, test=0.1 * seed, gap=90, epochs=30),
                   "lambda_ce-1.0": metrics("class", seed, forget=0.05, test=0.98, gap=2 + seed, epochs=8)})
    write_run(tmp_path, "ablation_class", "knob-variant_seed-0_bbbb", {"knob": "variant", "seed": 0},
              {"variant-official": metrics("class", 0, forget=0.1, test=0.9, gap=3, epochs=8),
               "variant-paper": metrics("class", 0, forget=0.1, test=0.9, gap=3, epochs=8)})
    # a run still being written: hidden staging folder, must be ignored
    write_run(tmp_path, "ablation_class", ".knob-omega_seed-0_cccc.partial", {"knob": "omega", "seed": 0},
              {"omega-1": metrics("class", 0, forget=0.2, test=0.9, gap=5, epochs=30)})
    run = write_run(tmp_path, "attacks_sample", "seed-0_dddd", {"seed": 0},
                    {"contrastive": metrics("sample", 0, forget=0.99, test=0.98, gap=1, epochs=4,
                                            ulira={"balanced_accuracy": 0.55, "tpr_at_1pct_fpr": 0.02,
                                                   "n_shadow": 8, "n_examples": 100}),
                     "finetune": metrics("sample", 0, forget=1.0, test=0.98, gap=2, epochs=10, method="finetune")})
    geo = write_run(tmp_path, "geometry_class", "seed-0_eeee", {"seed": 0},
                    {"contrastive": metrics("class", 0, forget=0.0, test=0.9, gap=1, epochs=5)})
    pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 0.0], "part": ["forget", "retain"], "label": [5, 1],
                  "index": [0, 1], "model": ["original", "contrastive"]}).to_csv(geo / "tsne.csv", index=False)
    assert run.is_dir()
    return tmp_path


def test_ablation_table_parses_knob_value_and_references(tree):
    t = rs.ablation_table("ablations", "class", root=tree)
    assert set(t["knob"]) == {"lambda_ce", "variant"}  # the .partial run is not read
    lam = rs.knob_rows(t, "lambda_ce")
    assert list(lam["label"]) == ["0", "0", "1", "1"] and list(lam["seed"]) == [0, 1, 0, 1]
    assert lam["retrain_acc_forget_train"].eq(0.0).all()
    assert lam.loc[lam["label"] == "1", "retrain_acc_retain_test"].tolist() == [98.0, 98.0]
    # declared order of the ablations profile (paper before official), not alphabetical
    assert list(rs.knob_rows(t, "variant")["value"]) == ["paper", "official"]
    assert rs.ablation_table("ablations", "sample", root=tree).empty


def test_stats_and_paired_delta(tree):
    t = rs.ablation_table("ablations", "class", root=tree)
    stats = rs.knob_stats(t, "lambda_ce", ["avg_gap"])
    assert list(stats["label"]) == ["0", "1"] and list(stats["n"]) == [2, 2]
    assert stats.loc[1, "avg_gap"] == pytest.approx(2.5) and stats.loc[1, "avg_gap_std"] == pytest.approx(math.sqrt(0.5))
    d = rs.paired_delta(t, "lambda_ce", "acc_retain_test", base=1, other=0.0)
    assert d["n"] == 2 and d["mean"] == pytest.approx(((0 - 98) + (10 - 98)) / 2)
    assert rs.delta_text(d).endswith("points (2 seeds)")
    assert rs.paired_delta(t, "omega", "avg_gap", 1, 2)["n"] == 0
    assert rs.delta_text(rs.paired_delta(t, "omega", "avg_gap", 1, 2)) == "–"


def test_coverage_names_missing_knobs(tree):
    t = rs.ablation_table("ablations", "class", root=tree)
    cov = rs.coverage(t, "ablations", "ablation_class").set_index("knob")
    assert cov.loc["lambda_ce", "missing"] == "nothing" and cov.loc["lambda_ce", "seeds"] == "0, 1"
    assert cov.loc["omega", "missing"] == "every value"
    assert rs.coverage(t, "no-such-profile", "x")["knob"].tolist() == ["lambda_ce", "variant"]


def test_attacks_tsne_and_empty_readers(tree):
    a = rs.attack_table("ablations", "attacks_sample", root=tree).set_index("run")
    assert a.loc["contrastive", "ulira_balanced_accuracy"] == pytest.approx(55.0)
    assert math.isnan(a.loc["finetune", "ulira_balanced_accuracy"])
    ts = rs.tsne_table("ablations", "geometry_class", root=tree)
    assert len(ts) == 2 and set(ts["seed"]) == {0}
    for frame in (rs.tsne_table("ablations", "geometry_sample", root=tree),
                  rs.efficiency_table("ablations", "sample", root=tree),
                  rs.attack_table("quick", "attacks_sample", root=tree)):
        assert frame.empty and len(frame.columns) > 0


def test_names_labels_and_spaces():
    assert rs.split_subrun("forget_selection-first_n") == ("forget_selection", "first_n")
    assert rs.split_subrun("original") == ("original", "")
    assert [rs.value_label(v) for v in ("0.0", "4", "1.5", "paper")] == ["0", "4", "1.5", "paper"]
    assert rs.method_space("contrastive") == "representation" and rs.method_space("unsir") == "input"
    assert rs.fmt_pm(1.234, float("nan")) == "1.2" and rs.fmt_pm(None) == "–" and rs.fmt_pm(1, 0.5) == "1.0 ± 0.5"
    assert rs.markdown_table(pd.DataFrame({"a": ["x|y"]})).splitlines() == ["| a |", "|---|", "| x\\|y |"]
    assert rs.note_table("not run yet").splitlines()[-1] == "| not run yet |"


def test_knob_default_reads_profile_then_configs():
    from cu_core.unlearn.contrastive import ContrastiveConfig

    assert rs.knob_default("num_forget", "ablations", "ablation_sample") == 100  # the experiment's parameter
    assert rs.knob_default("temperature") == ContrastiveConfig().temperature
    assert rs.knob_default("forget_class", "ablations", "ablation_class") == 5
    assert rs.knob_default("no_such_knob") is None


def test_plot_knob(tree):
    import matplotlib

    matplotlib.use("Agg")
    t = rs.ablation_table("ablations", "class", root=tree)
    fig = rs.plot_knob(t, "lambda_ce", default=1.0)
    assert fig is not None and len(fig.axes) == 4
    assert fig.axes[0].get_ylabel() and fig.axes[0].get_xlabel().startswith("lambda_ce")
    assert rs.plot_knob(t, "omega") is None


@pytest.mark.parametrize("command", [
    'papermill notebooks/ablation.ipynb out.ipynb -p knob temperature -p values "0.05,0.1,0.2" -p task sample',
    'papermill notebooks/ablation.ipynb out.ipynb -p knob model -p values "cnn4,vit_tiny"',
    ("papermill notebooks/sample_unlearning.ipynb out.ipynb -p forget_selection atypical "
     "-p method_overrides '{\"stop_rule\": \"no_heldout\"}'"),
])
def test_check_command_accepts(command):
    assert rs.check_command(command)


@pytest.mark.parametrize("command, why", [
    ("papermill notebooks/attacks.ipynb out.ipynb -p shadows 16", "declares no parameter"),
    ('papermill notebooks/ablation.ipynb out.ipynb -p knob omega -p values "0,1"', "omega"),
    ("papermill notebooks/ablation.ipynb out.ipynb -p knob omega -p values 4", "-p turns"),
    ("papermill notebooks/missing.ipynb out.ipynb", "no template"),
    ("papermill notebooks/ablation.ipynb out.ipynb -f x.yaml", "-p name value"),
    ("papermill notebooks/ablation.ipynb out.ipynb -p seed one", "int"),
])
def test_check_command_rejects(command, why):
    with pytest.raises(ValueError, match=why):
        rs.check_command(command)


def test_headline_picks_retrain_cu_and_the_lowest_gap_baseline_per_slot():
    def row(method, task, nf, seed, gap):
        return {"method": method, "task": task, "num_forget": nf, "seed": seed, "acc_forget_train": 10.0,
                "acc_retain_train": 99.0, "acc_retain_test": 90.0, "acc_test": 90.0, "mia_efficacy": 50.0,
                "avg_gap": gap, "seconds": 1.0}
    rows = [row("retrain", "class", None, s, None) for s in (0, 1)]
    rows += [row("contrastive", "class", None, s, 1.0 + s) for s in (0, 1)]
    rows += [row("neggrad", "class", None, 0, 4.0), row("scrub", "class", None, 0, 0.5),
             row("original", "class", None, 0, None)]
    for nf, best in ((500, "salun"), (4500, "neggrad")):  # the paper's size and SalUn's 10 %
        rows += [row("retrain", "sample", nf, 0, None), row("contrastive", "sample", nf, 0, 2.0),
                 row("salun", "sample", nf, 0, 1.0 if best == "salun" else 3.0),
                 row("neggrad", "sample", nf, 0, 1.0 if best == "neggrad" else 3.0)]
    top = rs.headline(pd.DataFrame(rows))
    assert list(top["Slot"]) == ["class"] * 3 + ["500 random images"] * 3 + ["4500 random images (SalUn's 10 %)"] * 3
    assert list(top["Role"]) == ["Retrain", "CU", "best baseline"] * 3
    assert list(top["Method"]) == ["retrain", "contrastive", "scrub", "retrain", "contrastive", "salun",
                                   "retrain", "contrastive", "neggrad"]
    assert top.iloc[1]["Avg. Gap ↓"] == "1.5 ± 0.7" and top.iloc[1]["Seeds"] == 2
    # CU is never its own "best baseline", and nothing is made up for a missing slot
    only_cu = rs.headline(pd.DataFrame([row("retrain", "class", None, 0, None), row("contrastive", "class", None, 0, 1)]))
    assert list(only_cu["Role"]) == ["Retrain", "CU"]
    assert rs.headline(pd.DataFrame()).empty


def test_vit_caveat_reads_whether_the_vit_learned_and_what_cu_cost_it():
    def rows(vit_orig, vit_kept):
        out = []
        for seed in (0, 1):
            for value, orig, kept in (("cnn4", 98.0, 97.0), ("vit_tiny", vit_orig, vit_kept)):
                out.append({"knob": "model", "value": value, "order": value != "cnn4", "task": "sample", "seed": seed,
                            "original_acc_test": orig, "acc_test": kept, "retrain_acc_test": orig - 1.0})
        return pd.DataFrame(out)
    assert "have not been written" in rs.vit_caveat(pd.DataFrame(columns=["knob", "value", "task"]))
    assert rs.vit_caveat(rows(25.0, 20.0)).startswith("Caution")  # the ViT never learned the task
    fine = rs.vit_caveat(rows(88.0, 86.0))
    assert "working model" in fine and "far more utility" not in fine
    costly = rs.vit_caveat(rows(88.0, 60.0))  # CU costs the ViT 27 points against Retrain, the CNN 0
    assert "far more utility" in costly and "27.0 points below its Retrain in the sample task" in costly
    assert rs.utility_cost(rows(88.0, 60.0), "cnn4", "sample") == 0.0


def test_knob_overview_and_stop_rule_reading(tmp_path):
    sub = tmp_path / "stop_rule-val"
    sub.mkdir()
    pd.DataFrame({"pass": [1, 2], "forget_acc": [0.80, 0.60], "heldout_acc": [0.72, 0.61]}).to_csv(
        sub / "passes.csv", index=False)
    base = {"task": "sample", "seed": 0, "original_acc_forget_train": 84.0, "original_acc_test": 75.0,
            "retrain_acc_forget_train": 79.0, "retrain_acc_test": 76.0, "mia_efficacy": 30.0, "epochs": 2}
    table = pd.DataFrame([
        {**base, "knob": "stop_rule", "value": "val", "label": "val", "order": 0, "path": str(sub),
         "acc_forget_train": 60.0, "acc_test": 61.0, "avg_gap": 16.0},
        {**base, "knob": "lambda_ul", "value": "0.5", "label": "0.5", "order": 0, "path": str(tmp_path),
         "acc_forget_train": 78.0, "acc_test": 75.0, "avg_gap": 2.0}])
    text = rs.stop_rule_reading(table)
    assert "ran 2 passes and stopped at 60.0 % (forget) against 61.0 % (held-out)" in text
    assert "moving target" in text and "keeps 79.0 % on the forget images" in text
    assert "2.00 points, comes with lambda_ul = 0.5 (at the preset's settings: 16.00)" in text
    view = rs.knob_overview(table, table)
    assert list(view["knob"]) == ["original", "retrain", "stop_rule", "lambda_ul"]
    assert view.iloc[1]["forget acc. (%)"] == "79.0" and view.iloc[2]["Avg. Gap ↓"] == "16.0"
    assert rs.stop_rule_reading(table.iloc[1:]) == "The knob study has no results yet."


def test_cu_cost_reading_gives_time_share_and_per_example_cost():
    rows = pd.DataFrame({
        "method": ["contrastive", "contrastive", "retrain"], "seed": [0, 1, 0],
        "seconds": [30.0, 50.0, 100.0], "retrain_seconds": [100.0, 100.0, None],
        "samples": [1000.0, 1000.0, None], "retrain_samples": [10000.0, 10000.0, None],
        "epochs": [3.0, 5.0, None], "stop_reason": ["condition", "max_passes", None]})
    text = rs.cu_cost_reading(rows)
    # time shares 30 % and 50 % (mean 40 ± 14.1); per example (0.3 / 0.1, 0.5 / 0.1) = 3 and 5 (mean 4.00 ± 1.41)
    assert "40.0 ± 14.1 % of Retrain's training time" in text and "4.00 ± 1.41 times" in text
    assert "2 seeds" in text and "condition ×1" in text and "max_passes ×1" in text
    assert "more than retraining" not in text
    costly = rows.assign(seconds=[300.0, 500.0, 100.0])
    assert "Here CU costs more than retraining from scratch" in rs.cu_cost_reading(costly)
    assert rs.cu_cost_reading(rows[rows["method"] == "retrain"]) == "CU's unlearning cost was not recorded here."
