"""Unlearning cost of every registered method next to Retrain, for the class and the sample task.

For each method: wall time of the unlearning alone (evaluation reported apart), its ratio to Retrain's
training time, the ratio of examples processed (forward + backward, `cost.samples`), the per-example cost
ratio (time ratio / sample ratio; issue target for CU ≤ 1.3), and the accuracies, MIA-efficacy and Avg. Gap
(percentage points) against Retrain of the same split. Method settings: `cu_core.unlearn.presets`.

Example::

    python benchmarks/unlearning_cost.py --dataset digits --tasks class sample
    python benchmarks/unlearning_cost.py --from-results cifar-cpu --methods contrastive   # committed runs
    CU_DATA_DIR=/path/with/archive python benchmarks/unlearning_cost.py --dataset cifar10 --methods contrastive
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cu_book import report  # noqa: E402
from cu_core.config import RunConfig  # noqa: E402
from cu_core.unlearn.presets import PRESETS, method_settings  # noqa: E402
from cu_core.pipeline import run_unlearning  # noqa: E402
from cu_core.results import read_metrics  # noqa: E402
from cu_core.unlearn import METHODS, method_config  # noqa: E402

COLUMNS = ["method", "task", "forget acc", "forget-class test", "remaining test", "test", "MIA-eff.", "Avg. Gap",
           "unlearn s", "eval s", "time / Retrain", "examples / Retrain", "per-example cost"]


def row(metrics: dict, task: str) -> list[str]:
    acc, cost, sec = metrics["acc"], metrics["cost"], metrics["seconds"]
    time_ratio = sec["unlearn"] / sec["retrain_train"]
    sample_ratio = cost["samples"] / cost["retrain_samples"]
    pct = lambda v: "–" if v is None else f"{100 * v:.1f}"  # noqa: E731
    return [metrics["method"], task, pct(acc["forget_train"]), pct(acc.get("forget_test")),
            pct(acc.get("retain_test")), pct(acc["test"]), pct(metrics["mia"]["mia_efficacy"]),
            f"{metrics['gap']['avg_gap']:.2f}", f"{sec['unlearn']:.2f}", f"{sec['eval']:.1f}",
            f"{100 * time_ratio:.1f} %", f"{100 * sample_ratio:.1f} %",
            f"{time_ratio / sample_ratio:.2f}" if sample_ratio > 0 else "–"]


def print_table(rows: list[list[str]], columns: list[str], csv_path: str | None) -> None:
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if csv_path:
        import csv
        with open(csv_path, "w", newline="") as fh:
            csv.writer(fh).writerows([columns, *rows])


def from_results(profile: str, methods: list[str], tasks: list[str], results_dir: str | None) -> list[list[str]]:
    """The table's rows from a profile's finished unlearning sub-runs at the preset settings (one per forget set,
    method and seed, as the book counts them), without recomputing anything."""
    runs = report.subruns(profile, root=results_dir)
    if runs.empty:
        raise SystemExit(f"error: --from-results {profile!r}: no finished runs under {report.results_dir(results_dir)}")
    runs = report.canonical(runs)  # each method at its preset settings (knob studies' variants left out)
    runs = runs[(runs["kind"] == "unlearn") & runs["method"].isin(methods) & runs["task"].isin(tasks)]
    out = []
    for _, r in runs.sort_values(["task", "num_forget", "method", "seed"], na_position="first").iterrows():
        metrics = read_metrics(Path(r["path"]) / "metrics.json")
        if metrics and metrics.get("cost", {}).get("retrain_samples"):
            size = "class" if r["task"] == "class" else f"{int(r['num_forget'])}"
            out.append([f"{r['experiment']}/{r['run_id']}", size, str(int(r["seed"]))] + row(metrics, r["task"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", "cifar10"])
    parser.add_argument("--model", default="cnn4")
    parser.add_argument("--tasks", nargs="+", default=["class", "sample"], choices=["class", "sample"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--preset", default=None, choices=list(PRESETS),
                        help="method settings (default: the dataset's preset, or the public defaults)")
    parser.add_argument("--num-forget", type=int, default=None, help="sample task size (default: 100 / 500)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs of original and Retrain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--csv", default=None, help="also write the table as CSV here")
    parser.add_argument("--from-results", metavar="PROFILE", default=None,
                        help="read a profile's finished runs (e.g. quick, cifar-cpu) instead of running anything")
    parser.add_argument("--results-dir", default=None, help="with --from-results (default: data/results)")
    args = parser.parse_args()
    if args.from_results:
        rows = from_results(args.from_results, args.methods, args.tasks, args.results_dir)
        print(f"\nprofile {args.from_results!r}: every finished unlearning run of {', '.join(args.methods)}\n")
        print_table(rows, ["run", "forget set", "seed", *COLUMNS], args.csv)
        return
    preset = args.preset or ("digits" if args.dataset == "digits" else "cifar-cpu")
    num_forget = args.num_forget or (100 if args.dataset == "digits" else 500)
    os.environ.setdefault("TQDM_DISABLE", "1")
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for task in args.tasks:
            train = {"progress": False, "seed": args.seed, **({"epochs": args.epochs} if args.epochs else {})}
            cfg = RunConfig.from_dict({"data": {"dataset": args.dataset}, "model": {"name": args.model},
                                       "split": {"task": task, "num_forget": num_forget, "seed": args.seed},
                                       "train": train})
            for method in args.methods:
                if task not in METHODS[method].tasks:
                    continue
                mcfg = None if method == "retrain" else method_config(
                    method, progress=False, seed=args.seed, **method_settings(method, preset))
                metrics = run_unlearning(cfg, mcfg, method=method, out_dir=Path(out) / f"{task}-{method}",
                                         cache_dir=args.cache_dir)
                rows.append(row(metrics, task))
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print(f"\n{args.dataset}, {args.model}, seed {args.seed}, preset {preset!r}, sample task {num_forget} images\n")
    print_table(rows, COLUMNS, args.csv)


if __name__ == "__main__":
    main()
