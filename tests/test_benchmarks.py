"""The benchmark scripts run end to end at toy sizes (no speed is asserted: speeds live in benchmarks/README.md).

The prepared GPU script (`benchmarks/gpu_paper.py`) has never met a GPU in CI; running it here on digits / cnn4
on the CPU keeps it working, so the first lent GPU minutes are not spent on a crash.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _run(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=600)


def _table_rows(stdout: str) -> list[list[str]]:
    """Data rows of the markdown tables in `stdout` (header and rule lines dropped)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in stdout.splitlines()
            if line.startswith("|") and not line.startswith("|---")]
    return [r for r in rows if r and r[0] not in ("model", "method", "task", "run")]


def test_loader_speed_compares_both_loaders():
    proc = _run("loader_speed.py", "--dataset", "synthetic", "--models", "cnn4", "--load-images", "512",
                "--train-steps", "2", "--workers", "1", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    rows = _table_rows(proc.stdout)
    loaders = {(r[0], r[1], r[2]) for r in rows}
    assert {("(loading only)", "in-memory", "0"), ("(loading only)", "DataLoader", "0"),
            ("cnn4", "in-memory", "0"), ("cnn4", "DataLoader", "0")} <= loaders
    assert all(float(r[3].replace(",", "")) > 0 for r in rows)


def test_model_speed_and_step_overhead_print_their_tables():
    speed = _run("model_speed.py", "--models", "cnn4", "--steps", "1", "--warmup", "0", "--slow-models",
                 "--threads", "1", "--precision", "fp32", "bf16")
    assert speed.returncode == 0, speed.stderr
    rows = _table_rows(speed.stdout)
    assert [(r[0], r[1]) for r in rows] == [("cnn4", "fp32"), ("cnn4", "bf16")]
    assert all(float(r[5].replace(",", "")) > 0 for r in rows)
    overhead = _run("cu_step_overhead.py", "--models", "cnn4", "--steps", "1", "--warmup", "0", "--threads", "1")
    assert overhead.returncode == 0, overhead.stderr
    assert {(r[0], r[1]) for r in _table_rows(overhead.stdout)} == {("cnn4", "class"), ("cnn4", "sample")}


def test_unlearning_cost_reports_ratios_to_retrain(tmp_path):
    csv = tmp_path / "cost.csv"
    proc = _run("unlearning_cost.py", "--dataset", "digits", "--epochs", "2", "--methods", "contrastive",
                "neggrad", "--tasks", "class", "--cache-dir", str(tmp_path / "cache"), "--csv", str(csv))
    assert proc.returncode == 0, proc.stderr
    import pandas as pd
    table = pd.read_csv(csv)
    assert list(table["method"]) == ["contrastive", "neggrad"]
    # Contrastive unlearning forgets class 5 even from a 2-epoch model (the table is not just timings).
    cu = table.set_index("method").loc["contrastive"]
    assert float(cu["forget-class test"]) < 20
    assert table["time / Retrain"].str.endswith("%").all()


def test_gpu_script_runs_on_the_cpu_at_toy_size(tmp_path):
    out = tmp_path / "out"
    proc = _run("gpu_paper.py", "--out", str(out), "--dataset", "digits", "--model", "cnn4", "--device", "cpu",
                "--epochs", "2", "--preset", "digits", "--num-forget", "50", "--skip-loader",
                "--methods", "contrastive", "retrain", "neggrad", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    log = json.loads((out / "paper-gpu" / "gpu_log.json").read_text())
    assert [(e["task"], e["run"]) for e in log] == [
        (t, r) for t in ("class", "sample") for r in ("original", "retrain", "contrastive", "neggrad")]
    assert all("seconds" in e for e in log)
    for task in ("class", "sample"):  # the driver's layout, so the folder can be read like any experiment
        folder = out / "paper-gpu" / "cnn4_digits" / f"task-{task}_seed-0" / "runs"
        assert {p.parent.name for p in folder.glob("*/metrics.json")} == {"original", "retrain", "contrastive",
                                                                          "neggrad"}
    # ... which the book's reports read as the profile `paper-gpu`.
    from cu_book import report
    rows = report.subruns("paper-gpu", root=out)
    assert set(rows["experiment"]) == {"cnn4_digits"} and len(rows) == 8
    assert report.pick_profile(report.PREFERRED_PROFILES, root=out) == "paper-gpu"
    summary = (out / "paper-gpu" / "summary.md").read_text()
    assert "| class | contrastive |" in summary and "vs Retrain (2 epochs)" in summary
    # the cost table is re-read from those result files without recomputing anything
    cost = _run("unlearning_cost.py", "--from-results", "paper-gpu", "--results-dir", str(out),
                "--methods", "contrastive", "neggrad")
    assert cost.returncode == 0, cost.stderr
    rows = _table_rows(cost.stdout)
    assert sorted((r[1], r[3]) for r in rows) == [("50", "contrastive"), ("50", "neggrad"),
                                                  ("class", "contrastive"), ("class", "neggrad")]
    assert all(r[-3].endswith("%") and float(r[-1]) > 0 for r in rows)


@pytest.mark.parametrize("args, parameter", [(["--dataset", "mnist"], "dataset"), (["--epochs", "0"], "epochs"),
                                             (["--methods", "nosuch"], "--methods")])
def test_gpu_script_refuses_bad_settings_before_any_work(tmp_path, args, parameter):
    out = tmp_path / "out"
    proc = _run("gpu_paper.py", "--out", str(out), *args, cwd=tmp_path)
    assert proc.returncode == 2 and parameter in proc.stderr
    assert not out.exists()
