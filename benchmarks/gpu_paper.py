"""The prepared GPU script (issue 8): loader benchmark for ResNet-18, then the ResNet-18 / CIFAR-10 part of the
`paper` profile (original, Retrain, contrastive unlearning and the paper's baselines, class 5 and 500 random
samples), time-boxed to fit ~10 minutes on one H100-class GPU. Calls `cu_core` directly (the GPU machine has
no papermill); writes the same layout as the experiment driver, so `--out data/results` (or the folder
copied there) is read by the book's reproduction pages as the profile `paper-gpu`:

    <out>/paper-gpu/resnet18_cifar10/task-<task>_seed-<seed>/runs/<name>/metrics.json
    <out>/paper-gpu/{gpu_log.json, summary.md, loader_speed_gpu.md}

Example (on the GPU machine, archive copied into ./data/archive and named in `carry`)::

    CU_DATA_DIR=data/archive python benchmarks/gpu_paper.py --out "$OUT" --epochs 15
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cu_core.errors import ConfigError  # noqa: E402
from cu_core.experiments import runs  # noqa: E402
from cu_core.experiments.params import run_config  # noqa: E402
from cu_core.unlearn.presets import PRESETS  # noqa: E402
from cu_core.unlearn import METHODS  # noqa: E402

PAPER_METHODS = ["contrastive", "retrain", "finetune", "neggrad", "fisher", "boundary_shrink", "boundary_expanding",
                 "scrub", "unsir", "lcodec"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (the paper's code: 100)")
    parser.add_argument("--methods", nargs="+", default=PAPER_METHODS, choices=list(METHODS))
    parser.add_argument("--tasks", nargs="+", default=["class", "sample"], choices=["class", "sample"])
    parser.add_argument("--budget-s", type=float, default=540, help="stop starting new methods after this")
    parser.add_argument("--skip-loader", action="store_true")
    # Defaults are the GPU run; the CPU smoke test (tests/test_benchmarks.py) shrinks them to digits / cnn4.
    parser.add_argument("--dataset", default="cifar10", help="cifar10 (the paper's), svhn or digits")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--num-forget", type=int, default=500, help="sample task size (the paper's: 500)")
    parser.add_argument("--preset", default="defaults", choices=list(PRESETS), help="method settings (cu_core.unlearn.presets)")
    args = parser.parse_args()
    try:  # every setting validated (dataset, model, device, sizes) before any work
        configs = {task: run_config(dataset=args.dataset, model=args.model, task=task, num_forget=args.num_forget,
                                    train_epochs=args.epochs, device=args.device) for task in args.tasks}
    except ConfigError as err:
        parser.error(str(err))
    os.environ.setdefault("TQDM_DISABLE", "1")
    out = Path(args.out) / "paper-gpu"  # the profile folder the book reads (report.PREFERRED_PROFILES)
    start = time.perf_counter()
    if not args.skip_loader:
        bench = subprocess.run([sys.executable, str(Path(__file__).with_name("loader_speed.py")), "--models",
                                args.model, "--device", args.device, "--resnet18-steps", "30", "--compile"],
                               capture_output=True, text=True, timeout=240)
        (out / "loader_speed_gpu.md").parent.mkdir(parents=True, exist_ok=True)
        (out / "loader_speed_gpu.md").write_text(bench.stdout + bench.stderr[-2000:])
    log = []
    for task in args.tasks:
        cfg = configs[task]
        folder = out / f"{args.model}_{args.dataset}" / f"task-{task}_seed-0"
        for kind in ("original", "retrain"):
            m = runs.reference(folder, cfg, kind)
            log.append({"task": task, "run": kind, "seconds": m["seconds"]["train"], "acc": m["acc"]})
            print(json.dumps(log[-1]), flush=True)
        for method in args.methods:
            if time.perf_counter() - start > args.budget_s:
                log.append({"task": task, "run": method, "skipped": "time budget"})
                continue
            if method == "retrain":
                continue
            try:
                m = runs.unlearning(folder, method, cfg, method, preset=args.preset)
                log.append({"task": task, "run": method, "seconds": m["seconds"]["unlearn"], "acc": m["acc"],
                            "avg_gap": m["gap"]["avg_gap"]})
            except Exception as err:  # noqa: BLE001 — report and go on
                log.append({"task": task, "run": method, "error": f"{type(err).__name__}: {err}"})
            print(json.dumps(log[-1]), flush=True)
    (out / "gpu_log.json").write_text(json.dumps(log, indent=1))
    table = summary(log, args.epochs)
    (out / "summary.md").write_text(table + "\n")
    print(table)


def summary(log: list[dict], epochs: int) -> str:
    """Markdown table of the log: each method's seconds and its ratio to Retrain's training time (same task)."""
    retrain = {e["task"]: e["seconds"] for e in log if e["run"] == "retrain" and "seconds" in e}
    lines = [f"| task | run | seconds | vs Retrain ({epochs} epochs) | Avg. Gap | test acc. (%) | note |",
             "|---|---|---|---|---|---|---|"]
    for e in log:
        if "seconds" not in e:
            lines.append(f"| {e['task']} | {e['run']} | – | – | – | – | {e.get('error') or e.get('skipped')} |")
            continue
        ratio = f"{100 * e['seconds'] / retrain[e['task']]:.1f} %" if retrain.get(e["task"]) else "–"
        gap = f"{e['avg_gap']:.2f}" if e.get("avg_gap") is not None else "–"
        lines.append(f"| {e['task']} | {e['run']} | {e['seconds']:.1f} | {ratio} | {gap} | "
                     f"{100 * e['acc']['test']:.2f} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
