"""Costs against Retrain (cu_book.costs): hand-computed ratios on a small synthetic results tree, the machine-pace
diagnosis on it, and the structure of the committed cifar-cpu results."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from cu_book import costs
from cu_core.paths import project_root
from cu_core.unlearn import METHODS

COMMITTED = project_root() / "data" / "results"
TEMPLATE = COMMITTED / "cifar-cpu" / "compare_sample" / "seed-0_4fce9fb2" / "runs"  # schema-valid metrics.json
# Paper time tables in paper_tables.yaml's layout: CU at 3.1 % / 6.4 % of Retrain for RN18, 2.0 % / 5.0 % for RN34.
TABLES = {"table3": {"columns": ["Retrain", "Contrastive"], "rows": [["RN18", 1000.0, 31.0], ["RN34", 2000.0, 40.0]]},
          "table7": {"columns": ["Retrain", "Contrastive", "Finetune"],
                     "rows": [["RN18", 100.0, 6.4, 20.0], ["RN34", 200.0, 10.0, 30.0]]}}


def write(root: Path, profile: str, experiment: str, run_id: str, sub: str, *, seed: int = 0, method: str | None = None,
          seconds: dict, cost: dict, epochs: int | None = None, config: dict | None = None, **extra) -> None:
    """One sub-run's metrics.json, made from a committed one (unlearning or retrain) with the given numbers."""
    kind = "retrain" if sub == "retrain" else "unlearn"
    m = json.loads((TEMPLATE / ("retrain" if kind == "retrain" else "contrastive") / "metrics.json").read_text())
    m = copy.deepcopy(m)
    m["seed"] = m["config"]["split"]["seed"] = m["config"]["train"]["seed"] = seed
    m["seconds"], m["cost"] = seconds, cost
    if kind == "unlearn":
        m.update(method=method or sub, steps=cost["steps"], samples=cost["samples"], epochs=epochs)
        m["unlearn_config"] = {**m["unlearn_config"], "seed": seed, **(config or {})}
    m.update(extra)
    path = root / profile / experiment / run_id / "runs" / sub / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(m))


@pytest.fixture()
def tree(tmp_path):
    """Profile "toy": seeds 0 and 1 of a compare run (Retrain trained there), a named variant, a knob-study copy of
    seed 0's CU computation that reads Retrain's time from the cache, and a duplicate in a seeds_* experiment."""
    for seed, train, (unlearn, stop, samples, passes) in ((0, 100.0, (12.0, 3.0, 1500, 3)),
                                                         (1, 200.0, (30.0, 10.0, 3000, 6))):
        run = f"seed-{seed}"
        write(tmp_path, "toy", "compare_sample", run, "retrain", seed=seed, seconds={"train": train, "eval": 10.0},
              cost={"steps": 100, "samples": 10000}, cache_hit=False)
        cu = {"unlearn": unlearn, "stop_checks": stop, "eval": stop + 10.0, "retrain_train": train}
        write(tmp_path, "toy", "compare_sample", run, "contrastive", seed=seed, seconds=cu, epochs=passes,
              cost={"steps": 10, "samples": samples, "retrain_samples": 10000})
        write(tmp_path, "toy", "compare_sample", run, "finetune", seed=seed, epochs=1,
              seconds={"unlearn": 20.0, "stop_checks": 0.0, "eval": 10.0, "retrain_train": train},
              cost={"steps": 10, "samples": 2000, "retrain_samples": 10000})
    write(tmp_path, "toy", "compare_sample", "seed-0", "contrastive_lambda1", method="contrastive", epochs=3,
          seconds={"unlearn": 24.0, "stop_checks": 3.0, "eval": 13.0, "retrain_train": 100.0},
          cost={"steps": 10, "samples": 3000, "retrain_samples": 10000}, config={"lambda_ul": 1.0})
    same = {"seconds": {"unlearn": 24.0, "stop_checks": 3.0, "eval": 23.0, "retrain_train": 100.0}, "epochs": 3,
            "cost": {"steps": 10, "samples": 1500, "retrain_samples": 10000}}  # seed 0's CU, twice as slow
    write(tmp_path, "toy", "ablation_sample", "knob-lambda_ul_seed-0", "lambda_ul-3.0", method="contrastive", **same)
    write(tmp_path, "toy", "seeds_sample", "seed-0", "contrastive", **same)  # not shown: compare_sample comes first
    return tmp_path


def test_cost_runs_hand_computed_ratios(tree):
    runs = costs.cost_runs("toy", tree).set_index(["label", "seed"])
    assert set(runs.index) == {("contrastive", 0), ("contrastive", 1), ("finetune", 0), ("finetune", 1),
                               ("contrastive_lambda1 (lambda_ul 1)", 0)}  # no knob run, no seeds_* duplicate
    cu0 = runs.loc[("contrastive", 0)]
    assert cu0["experiment"] == "compare_sample" and cu0["task_label"] == "500 samples"
    # 12 s of 100 s; with checks 15 s; 1,500 of 10,000 examples; (12 / 1500) / (100 / 10000) = 0.8; 1.0 with checks
    for col, want in {"time_pct": 12.0, "time_stop_pct": 15.0, "examples_pct": 15.0, "per_example": 0.8,
                      "per_example_stop": 1.0}.items():
        assert math.isclose(cu0[col], want), col
    cu1 = runs.loc[("contrastive", 1)]  # 30 s and 40 s of 200 s, 3,000 examples: 15 %, 20 %, 30 %, 0.5, 2/3
    assert math.isclose(cu1["time_pct"], 15.0) and math.isclose(cu1["per_example_stop"], 2 / 3)
    variant = runs.loc[("contrastive_lambda1 (lambda_ul 1)", 0)]
    assert variant["variant"] and variant["method"] == "contrastive" and math.isclose(variant["per_example"], 0.8)


def test_cost_summary_means_over_seeds_beside_the_paper(tree):
    summary = costs.cost_summary(["toy"], tree, TABLES)
    assert list(summary["label"]) == ["contrastive", "contrastive_lambda1 (lambda_ul 1)", "finetune"]
    cu = summary.iloc[0]
    assert cu["n"] == 2 and math.isclose(cu["time_pct"], 13.5) and math.isclose(cu["time_pct_std"], math.sqrt(4.5))
    assert math.isclose(cu["per_example"], 0.65) and math.isclose(cu["per_example_stop"], (1 + 2 / 3) / 2)
    assert cu["paper"] == "6.4 (5.0–6.4)"  # Table 7: 6.4 / 100 (RN18), 10 / 200 (RN34)
    assert summary.iloc[1]["paper"] == "–" and summary.iloc[2]["paper"] == "20.0 (15.0–20.0)"
    table = costs.cost_table(summary)
    assert table.loc[("toy", "500 samples", "contrastive"), "Time ÷ Retrain, method only (%)"] == "13.5 ± 2.1"
    assert table.loc[("toy", "500 samples", "finetune"), "Per example, method only (×)"] == "0.75 ± 0.35"
    assert costs.cost_summary(["nothing"], tree).empty and costs.cost_table(costs.cost_summary([], tree)).empty


def test_paper_ratios_give_cu_3_1_and_6_4_percent():
    paper = costs.paper_ratios().set_index(["task", "method", "model"])["pct"]
    assert round(paper[("class", "contrastive", "RN18")], 1) == 3.1  # 48.90 s of 1566.36 s
    assert round(paper[("sample", "contrastive", "RN18")], 1) == 6.4  # 2.64 min of 41.01 min


def test_per_example_gap_separates_cached_retrain_and_identical_runs(tree):
    gap = costs.per_example_gap("toy", "sample", 500, tree)
    # CU runs: compare seeds 0 and 1 (0.8, 0.5; Retrain trained there), the knob copy (24/1500 / 0.01 = 1.6,
    # cached Retrain) and the seeds_* copy (1.6; its folder has no Retrain); the variant (0.8, Retrain there).
    assert gap["runs"] == 5 and gap["here_runs"] == 3 and gap["cached_runs"] == 2
    assert math.isclose(gap["here"], 0.8) and math.isclose(gap["cached"], 1.6) and math.isclose(gap["per_example"], 0.8)
    assert gap["identical_runs"] == 3 and math.isclose(gap["identical_spread"], 2.0)  # 12 s and 24 s, same work
    assert math.isclose(gap["identical_assess_spread"], 2.0)  # evaluations of 10 s and 20 s
    assert math.isclose(gap["adjusted"], 0.8)  # 1.6 × Retrain's 10 s / its own 20 s; 0.8 × 10 / 10
    assert gap["trainings"] == 2 and math.isclose(gap["train_ms"], 15.0)  # 10 and 20 ms per example
    assert math.isclose(gap["cached_retrain_ms"], 10.0) and gap["cached_retrain_rank"] == 1
    assert math.isclose(gap["stop_share"], 25.0) and gap["examples_per_pass"] == 500  # 25, 33.3 and 12.5 %
    assert costs.per_example_gap("toy", "class", None, tree) == {} and costs.per_example_gap("none", root=tree) == {}


def test_notes_name_unfinished_runs_and_bf16_retrain(tree):
    assert costs.notes(["toy"], tree) == ""
    assert costs.notes(["cifar-converged"], tree).startswith("cifar-converged: 0 of ")
    write(tree, "warm", "compare_sample", "seed-0", "contrastive", epochs=1,
          seconds={"unlearn": 1.0, "stop_checks": 0.0, "eval": 1.0, "retrain_train": 10.0},
          cost={"steps": 1, "samples": 10, "retrain_samples": 100})
    path = tree / "warm" / "compare_sample" / "seed-0" / "runs" / "contrastive" / "metrics.json"
    m = json.loads(path.read_text())
    m["config"]["train"]["cpu_bf16"] = True
    path.write_text(json.dumps(m))
    assert "bf16" in costs.notes(["warm"], tree)


def test_committed_cifar_cpu_costs_are_sane():
    runs = costs.cost_runs("cifar-cpu", COMMITTED)
    sample = runs[(runs["task"] == "sample") & (runs["num_forget"] == 500) & ~runs["variant"]]
    expected = {m for m, spec in METHODS.items() if "sample" in spec.tasks and m != "retrain"}
    assert set(sample["method"]) == expected
    for frame in (runs, sample):
        assert (frame["time_pct"] > 0).all() and (frame["examples_pct"] > 0).all()
        assert (frame["time_stop_pct"] >= frame["time_pct"]).all()
        assert (frame["per_example_stop"] >= frame["per_example"]).all()
    summary = costs.cost_summary(["cifar-cpu"], COMMITTED)
    cu = summary[(summary["label"] == "contrastive") & (summary["task_label"] == "class 5")].iloc[0]
    assert cu["n"] == 3 and cu["paper"].startswith("3.1 ")
    gap = costs.per_example_gap("cifar-cpu", "sample", 500, COMMITTED)
    assert gap["cached"] > gap["here"] and gap["identical_runs"] >= 2 and gap["identical_spread"] > 1
