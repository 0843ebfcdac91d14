"""The time tables' helpers (cu_book.time_ratios): ratios to the same run's Retrain, the paper's ratios, notes."""
from __future__ import annotations

import pandas as pd
import pytest

from cu_book import time_ratios


def test_ratios_to_the_same_runs_retrain():
    d = pd.DataFrame({"method": ["retrain", "contrastive"], "seconds": [500.0, 25.0],
                      "retrain_seconds": [None, 500.0], "samples": [45000 * 5, 9000],
                      "retrain_samples": [None, 45000 * 5]})
    out = time_ratios.with_ratios(d)
    assert out["time_ratio"].tolist() == [100.0, 5.0] and out["images_ratio"].tolist() == [100.0, 4.0]


def test_paper_ratios_divide_by_the_papers_own_retrain():
    tables = {"t": {"columns": ["Retrain", "Contrastive"], "rows": [["RN18", 1566.36, 48.90]]}}
    p = time_ratios.paper_ratios(tables, "t")
    cu = p[p["method"] == "contrastive"]["value"].iloc[0]
    assert cu == pytest.approx(3.12, abs=0.01) and set(p["eval"]) == {time_ratios.TIME}  # the paper's 3.1 %


def test_retrain_time_and_precision_note(tmp_path):
    import json
    from pathlib import Path

    from cu_book.scales import Scale

    source = Path(__file__).parents[1] / "data/results/cifar-cpu/compare_sample/seed-0_4fce9fb2/runs/retrain"
    if not source.is_dir():
        pytest.skip("the committed cifar-cpu results are not in this checkout")
    for name, bf16 in (("bf16", True), ("fp32", False)):
        metrics = json.loads((source / "metrics.json").read_text())
        metrics["config"]["train"]["cpu_bf16"] = bf16
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    runs = pd.DataFrame({"method": ["retrain", "retrain"], "model": ["cnn4"] * 2, "seconds": [100.0, 120.0],
                         "epochs_trained": [30, 30], "hardware": ["cpu (1 threads, x86_64)"] * 2,
                         "path": [str(tmp_path / "bf16"), str(tmp_path / "fp32")]})
    assert time_ratios.retrain_time(runs) == "cnn4: 110.0 ± 14.1 s, 30 epochs"
    assert time_ratios.bf16_retrain(runs) and not time_ratios.bf16_retrain(runs.iloc[1:])
    note = time_ratios.precision_note([Scale("cifar-converged", runs), Scale("cifar-cpu", runs.iloc[1:])])
    assert "On cifar-converged Retrain trains with bf16" in note and "cifar-cpu" not in note
    assert time_ratios.precision_note([]) == ""
