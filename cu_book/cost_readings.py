"""The readings of the costs page ("Beyond the paper"): every number its text quotes, and the machine's pace figure.

`cu_book.costs` computes the ratios; this module words them for the page: the paper's CU ratios from Tables 3
and 7 (`paper_cu_texts`), CU's mean ratios per `cifar-cpu` task (`cu_value`), how short `cifar-cpu`'s Retrain is
and what the memorising `cifar-converged` profile shows, the numbers behind CU's per-example cost on each task
(`per_example_gaps`, worded by `gap_texts` with `FORMATS`) and the pace of every training and CU run
(`pace_figure`). `cost_texts` gathers them under the names the page glues, in the page's order.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cu_book import costs
from cu_book import report
from cu_book.paper_compare import paper_tables
from cu_core.experiments.grid import load_profile

TASKS = {"class": "class 5", "s500": "500 samples", "s4500": "4,500 samples"}  # key in glue names → task label
GAP_TASKS = {"s500": ("sample", 500), "s4500": ("sample", 4500), "class": ("class", None)}
GAP_NAMES = ["runs", "per_example", "per_example_min", "per_example_max", "cu_ms", "here_runs", "here", "cached_runs",
             "cached", "trainings", "train_ms", "train_ms_min", "train_ms_max", "pooled", "cached_retrain_ms",
             "cached_retrain_rank", "identical_runs", "identical_s_min", "identical_s_max", "identical_spread",
             "identical_pe_min", "identical_pe_max", "identical_assess_spread", "adjusted_runs", "adjusted",
             "stop_share", "examples_per_pass", "stop_s_per_pass", "unlearn_s_per_pass", "images_per_step",
             "retrain_batch"]
FORMATS = {"runs": "{:.0f}", "here_runs": "{:.0f}", "cached_runs": "{:.0f}", "trainings": "{:.0f}",
           "identical_runs": "{:.0f}", "adjusted_runs": "{:.0f}", "cached_retrain_rank": "{:.0f}",
           "identical_s_min": "{:.1f}", "identical_s_max": "{:.1f}", "stop_share": "{:.0f} %",
           "examples_per_pass": "{:,.0f}", "images_per_step": "{:.0f}", "retrain_batch": "{:.0f}",
           "stop_s_per_pass": "{:.1f}", "unlearn_s_per_pass": "{:.1f}"}  # the others: "{:.2f}"


def paper_cu_texts(tables: dict[str, Any] | None = None) -> dict[str, str]:
    """CU's time as % of Retrain's with ResNet-18 on the paper's class and sample tasks (`paper_cu_<task>`) and
    the two raw times it rests on (`paper_cu_<task>_raw`: seconds in Table 3, minutes in Table 7)."""
    tables = tables or paper_tables()
    paper = costs.paper_ratios(tables)
    out = {}
    for task, unit in (("class", "s"), ("sample", "min")):
        raw = report.paper_table(tables, costs.PAPER_TABLES[task])
        r18 = raw[raw["model"] == "RN18"].set_index("method")["value"]
        pct = float(paper.query("task == @task and method == 'contrastive' and model == 'RN18'")["pct"].iloc[0])
        out[f"paper_cu_{task}"] = f"{pct:.1f} %"
        out[f"paper_cu_{task}_raw"] = f"{r18['contrastive']:.2f} {unit} against {r18['retrain']:.2f} {unit}"
    return out


def cu_value(summary: pd.DataFrame, profile: str, task_label: str, col: str, digits: int = 1,
             unit: str = " %") -> str:
    """CU's mean over seeds of `col` in `costs.cost_summary` for one profile and task, as text ('–' when not run)."""
    row = summary[(summary["profile"] == profile) & (summary["task_label"] == task_label)
                  & (summary["label"] == "contrastive")]
    return "–" if row.empty else report.fmt(float(row[col].iloc[0]), None, digits) + unit


def _retrains(profile: str) -> pd.DataFrame:
    ref = report.subruns(profile)
    return ref[ref["kind"] == "retrain"] if not ref.empty else ref


def per_example_gaps(profile: str = "cifar-cpu") -> dict[str, dict[str, Any]]:
    """`costs.per_example_gap` of each task of `GAP_TASKS` (500 and 4,500 samples, the class task)."""
    return {key: costs.per_example_gap(profile, *args) for key, args in GAP_TASKS.items()}


def gap_texts(gaps: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every number of `per_example_gaps` as text (`gap_<task>_<name>`, formatted by `FORMATS`, '–' when
    missing), then `gap_rank_text`: where the cached Retrain's pace ranks among the trainings."""
    out = {}
    for key, gap in gaps.items():
        for name in GAP_NAMES:
            value = report.as_finite(gap.get(name))
            out[f"gap_{key}_{name}"] = "–" if value is None else FORMATS.get(name, "{:.2f}").format(value)
    rank = gaps["s500"].get("cached_retrain_rank")
    out["gap_rank_text"] = "the fastest" if rank == 1 else f"number {rank} from the fastest" if rank else "–"
    return out


def converged_text(summary: pd.DataFrame, profile: str = "cifar-converged") -> str:
    """CU's own time against the memorising profile's Retrain per task, or that it has no results yet."""
    epochs = load_profile(profile).defaults.get("train_epochs")
    found = [f"{cu_value(summary, profile, label, 'time_pct')} ({label})" for label in TASKS.values()
             if cu_value(summary, profile, label, "time_pct") != "–"]
    if found:
        return (f"Against the {epochs}-epoch Retrain of {profile}, CU's own loop takes " + ", ".join(found)
                + " of Retrain's time; the table gives its other columns.")
    return (f"The {profile} profile (cnn4 trained {epochs} epochs, until it memorises its training set) has no "
            "unlearning results yet; this page shows them beside cifar-cpu once they exist.")


def cost_texts(summary: pd.DataFrame, gaps: dict[str, dict[str, Any]], profile: str = "cifar-cpu",
               tables: dict[str, Any] | None = None) -> dict[str, str]:
    """Every reading of the costs page, keyed by its glue name, in the page's order: the paper's ratios, CU's
    ratios per task of `profile` (`cpu_<task>_<ratio>`), Retrain's fit and epochs, the converged profile's
    sentence, the range of CU's per-example costs, `gap_texts` and the hardware the runs recorded."""
    out = paper_cu_texts(tables)
    for key, label in TASKS.items():
        for col in ("time_pct", "time_stop_pct", "examples_pct"):
            out[f"cpu_{key}_{col}"] = cu_value(summary, profile, label, col)
        for col in ("per_example", "per_example_stop"):
            out[f"cpu_{key}_{col}"] = cu_value(summary, profile, label, col, 2, "")
    ref = _retrains(profile)
    out["cpu_retrain_fit"] = report.fmt(float(ref["acc_retain_train"].mean())) + " %" if not ref.empty else "–"
    out["cpu_epochs"] = ", ".join(str(e) for e in sorted(set(ref["epochs_trained"]))) if not ref.empty else "–"
    out["converged_text"] = converged_text(summary)
    main = costs.cost_runs(profile)
    main = main[(main["run"] == "contrastive")] if not main.empty else main
    out["cpu_cu_pe_range"] = "–" if main.empty else (
        f"{main['per_example'].min():.2f}–{main['per_example'].max():.2f} ({len(main)} runs)")
    out.update(gap_texts(gaps))
    hw = ref["hardware"].dropna().unique() if not ref.empty else []
    out["cpu_hardware"] = ", ".join(f'"{h}"' for h in hw) or "–"
    return out


def _cu500(pace: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    cu500 = pace[(pace["workload"] == "CU") & (pace["num_forget"] == 500)]
    return cu500, cu500["retrain_here"] == True  # noqa: E712 (object column: NaN for the trainings)


def here_max_text(pace: pd.DataFrame) -> str:
    """The highest per-example cost of a 500-sample CU run measured beside its own Retrain ('–' without any)."""
    if pace.empty or "per_example" not in pace:
        return "–"
    cu500, here = _cu500(pace)
    here_max = cu500.loc[here, "per_example"].max()
    return f"{here_max:.2f}" if here_max == here_max else "–"


def pace_figure(pace: pd.DataFrame, gap: dict[str, Any], profile: str = "cifar-cpu") -> Any:
    """Milliseconds per example of every distinct training and of every 500-sample CU run, split by whether its
    Retrain was trained in the same run or read from the cache; dashed: the cached Retrain's pace."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 3.4), dpi=110)
    if not pace.empty and "per_example" in pace:
        cu500, here = _cu500(pace)
        groups = {"trainings\n(originals, Retrains)": pace.loc[pace["workload"] == "training", "ms_per_example"],
                  "CU, 500 samples,\nRetrain trained in the same run": cu500.loc[here, "ms_per_example"],
                  "CU, 500 samples,\nRetrain read from the cache": cu500.loc[~here, "ms_per_example"]}
        for y, values in enumerate(groups.values()):
            ax.scatter(values, np.full(len(values), y) + np.linspace(-0.15, 0.15, len(values)), s=40, alpha=0.8)
        for x in sorted(set(1000 * cu500.loc[~here, "retrain_s"] / cu500.loc[~here, "retrain_samples"])):
            ax.axvline(x, color="0.3", linestyle="--", linewidth=1)
            ax.text(x, -0.45, " the cached Retrain's pace", fontsize=8, va="bottom")
        ax.set_yticks(range(len(groups)), list(groups), fontsize=9)
        ax.set_ylim(len(groups) - 0.5, -0.6)
    ax.set_xlabel("milliseconds per example (training: per training example; CU: its own loop only)", fontsize=9)
    ax.set_title(f"{profile}: the machine's pace, run by run" + (
        f" ({gap['trainings']} trainings, {gap['runs']} CU runs)" if gap else ""), fontsize=9)
    fig.tight_layout()
    return fig


def costs_caption(profiles: list[str], root: str | Path | None = None) -> str:
    """Provenance of every profile in the cost table, or the chapter's note that nothing ran."""
    return " ".join(report.provenance(costs.cost_runs(p, root), p) for p in profiles) or report.NO_RESULTS
