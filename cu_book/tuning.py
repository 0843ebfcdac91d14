"""Every method tuned at an equal budget (issue 20): `tune`'s studies → the page's tables, verdict and figure.

Reads `<results>/<profile>/tuning/<task>/<method>/<objective>/summary.json` (written by
`cu_lab.tune_eval`: the study's budget, spend, best settings, and the test Avg. Gap of the best
trial and of the default on each evaluation seed) and, for the importance plot, the study's journal.

The verdict "CU leads at equal tuning budget" on a task holds when CU's tuned mean Avg. Gap is the lowest of all
tuned methods, and is read per seed: on how many seeds CU beats the best other method (the seeds pair the splits).
With n paired seeds the smallest one-sided sign-test p-value is 1/2^n: at 3 seeds 0.125, so no difference can
be significant at 5 % whatever the numbers; the verdict says so (`NO_POWER`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cu_book.formatting import device_text, fmt
from cu_book.method_names import display
from cu_core.paths import TUNING_DIR, results_dir

OBJECTIVES = ("oracle", "retrain-free")
CU = "contrastive"
# the converged profile's studies: CU and the 5 two-task baselines of best mean Avg. Gap rank in its seed-0 runs
CONVERGED = ("contrastive", "ssd", "bad_teacher", "random_label", "salun", "neggrad_plus")
NO_POWER = ("with {n} paired seeds the smallest attainable one-sided sign-test p-value is {p:.3f} > 0.05: no "
            "difference can be significant at our scale")


COLUMNS = ["task", "method", "objective", "budget", "spent", "trials", "complete", "failed", "best_params", "best_value",
           "eval_seeds", "default_gaps", "tuned_gaps", "dataset", "model", "folder"]


def summaries(profile: str, root: str | Path | None = None) -> pd.DataFrame:
    """One row per study (task, method, objective) with its summary's fields and the gaps per seed. A study
    searched but not yet evaluated (`tune --no-eval`: a `request.json` and a journal, no `summary.json`) gets its
    row from the journal (`search_only`), with no gaps."""
    rows = []
    base = results_dir(root) / profile / TUNING_DIR
    for folder in sorted({p.parent for name in ("summary.json", "request.json") for p in base.glob(f"*/*/*/{name}")}):
        summary = folder / "summary.json"
        s = json.loads(summary.read_text()) if summary.is_file() else search_only(folder)
        if s is None:
            continue
        rows.append({**{k: s.get(k) for k in ("task", "method", "objective", "budget", "spent", "trials",
                                                "complete", "failed", "best_params", "best_value", "eval_seeds")},
                     "default_gaps": {r["seed"]: r["avg_gap"] for r in s.get("default", [])},
                     "tuned_gaps": {r["seed"]: r["avg_gap"] for r in s.get("tuned", [])},
                     "dataset": s["params"].get("dataset"), "model": s["params"].get("model"),
                     "folder": str(folder)})
    return pd.DataFrame(rows, columns=COLUMNS)


def _study(folder: Path) -> Any:
    """The Optuna study in `folder`'s journal (None without one)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not (folder / "journal.log").is_file():
        return None
    backend = optuna.storages.journal.JournalFileBackend(str(folder / "journal.log"))
    return optuna.load_study(study_name=None, storage=optuna.storages.JournalStorage(backend))


def search_only(folder: Path) -> dict[str, Any] | None:
    """A study's summary fields from its request and journal, before its test evaluation (None: no trial done)."""
    from cu_lab.tune_eval import search_fields

    study = _study(folder)
    fields = search_fields(study) if study is not None else {}
    if "best_params" not in fields:
        return None
    return {**json.loads((folder / "request.json").read_text()), **fields, "eval_seeds": []}


def _ms(gaps: dict[int, float]) -> str:  # mean ± std over seeds, to the verdicts' 2 decimals (class gaps are ~0.1)
    values = list(gaps.values())
    return fmt(np.mean(values), np.std(values, ddof=1) if len(values) > 1 else None, digits=2) if values else "–"


def settings_text(params: dict[str, Any] | None) -> str:
    """'lr 0.0123, epochs 4' (3 significant digits)."""
    if not params:
        return "–"
    return ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items())


def gap_table(df: pd.DataFrame, task: str) -> pd.DataFrame:
    """Per method on `task`: default vs tuned test Avg. Gap (mean ± std over seeds), examples and trials spent,
    the best settings of each objective; CU first, then by tuned (oracle) mean."""
    rows = []
    for method, group in df[df.task == task].groupby("method", sort=False):
        by = {r.objective: r for r in group.itertuples()}
        first = next(iter(by.values()))
        row: dict[str, Any] = {"method": display(method), "default": _ms(first.default_gaps)}
        oracle = by.get("oracle")
        for o in OBJECTIVES:
            r = by.get(o)
            if r is None:
                row.update({f"{c} ({o})": "–" for c in ("tuned", "examples", "trials", "best settings",
                                                          "search value")})
                continue
            same = o != "oracle" and oracle is not None and r.best_params == oracle.best_params
            row.update({f"tuned ({o})": _ms(r.tuned_gaps), f"examples ({o})": f"{r.spent:,} / {r.budget:,}",
                        f"trials ({o})": r.trials,
                        f"best settings ({o})": "same as oracle" if same else settings_text(r.best_params),
                        f"search value ({o})": f"{r.best_value:.2f}" if r.best_value is not None else "–"})
        row["_key"] = (method != CU, np.mean(list(oracle.tuned_gaps.values())) if oracle is not None
                       and oracle.tuned_gaps else np.inf)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values("_key").drop(columns="_key").reset_index(drop=True)


GAP_COLUMNS = ["method", "default", *(f"tuned ({o})" for o in OBJECTIVES), *(f"trials ({o})" for o in OBJECTIVES)]
SETTINGS_COLUMNS = ["method", *(f"{c} ({o})" for o in OBJECTIVES for c in ("best settings", "search value", "examples"))]


def gaps_and_settings(df: pd.DataFrame, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`gap_table` split: the Avg. Gaps with the trial counts; the best settings, their search value, the spend."""
    table = gap_table(df, task)
    if table.empty:
        return table, table
    return table[GAP_COLUMNS], table[SETTINGS_COLUMNS]


def leads(df: pd.DataFrame, task: str, objective: str = "oracle") -> dict[str, Any]:
    """The verdict on "CU leads at equal tuning budget" for `task` under `objective`'s best trials."""
    rows = df[(df.task == task) & (df.objective == objective)]
    means = {r.method: float(np.mean(list(r.tuned_gaps.values()))) for r in rows.itertuples() if r.tuned_gaps}
    if CU not in means or len(means) < 2:
        return {"verdict": "not computed: CU or the baselines have no tuned results for this task", "holds": None}
    others = {m: v for m, v in means.items() if m != CU}
    rival = min(others, key=others.get)
    cu_gaps = rows[rows.method == CU].iloc[0].tuned_gaps
    rival_gaps = rows[rows.method == rival].iloc[0].tuned_gaps
    seeds = sorted(set(cu_gaps) & set(rival_gaps))
    wins = sum(cu_gaps[s] < rival_gaps[s] for s in seeds)
    holds = means[CU] < others[rival]
    power = NO_POWER.format(n=len(seeds), p=0.5 ** len(seeds)) if 0.5 ** len(seeds) > 0.05 else ""
    rank = 1 + sum(v < means[CU] for v in others.values())
    text = (f"{'CU leads' if holds else 'CU does not lead'}: tuned CU {means[CU]:.2f} vs the best other tuned "
            f"method, {display(rival)}, {others[rival]:.2f} (Avg. Gap, points; CU ranks {rank} of {len(means)}); "
            f"CU is lower on {wins} of {len(seeds)} seeds" + (f"; {power}" if power else "") + spend_text(rows, rival))
    return {"verdict": text, "holds": holds, "cu": means[CU], "rival": display(rival), "rival_gap": others[rival],
            "rank": rank, "methods": len(means), "wins": wins, "seeds": len(seeds), "no_power": bool(power)}


def spend_text(rows: pd.DataFrame, rival: str) -> str:
    """What CU's and its rival's studies spent against the budget, when either overshot it: a study stops
    starting trials once the budget is reached, so its last trial may take it past (by one trial at most)."""
    spend = {r.method: (int(r.spent), int(r.budget)) for r in rows.itertuples() if r.method in (CU, rival)}
    if not any(spent > budget for spent, budget in spend.values()):
        return ""
    parts = [f"{display(m)} {spent:,} ({spent / budget:.2f}× the budget)" for m, (spent, budget) in spend.items()]
    return f". Examples spent: {', '.join(parts)}; the last trial of a study may pass the budget"


def worse_text(df: pd.DataFrame, task: str, objective: str = "oracle") -> str:
    """Which methods' tuned setting has a higher mean test Avg. Gap than their default (chosen on one seed's
    validation split, a setting can transfer badly to other seeds and to the test set)."""
    rows = df[(df.task == task) & (df.objective == objective) & df.tuned_gaps.map(bool)]  # evaluated studies
    worse = [display(r.method) for r in rows.itertuples() if r.default_gaps
             and np.mean(list(r.tuned_gaps.values())) > np.mean(list(r.default_gaps.values()))]
    return (f"{len(worse)} of {len(rows)} methods do worse on test tuned than at their default"
            + (f" ({', '.join(worse)})" if worse else ""))


def missing_text(df: pd.DataFrame, profile: str, methods: tuple[str, ...] | None = None) -> str:
    """Which studies (method, task, objective) of `methods` (default: every method with a search space) have no
    results yet, and which are searched but not evaluated on test."""
    from cu_core.unlearn import METHODS

    done = set(zip(df.method, df.task, df.objective))
    lines = []
    for task in ("class", "sample"):
        for objective in OBJECTIVES:
            gone = [display(m) for m, rec in METHODS.items() if rec.space and task in rec.tasks
                    and (methods is None or m in methods)
                    and (m, task, objective) not in done]
            if gone:
                lines.append(f"{task} task, {objective}: {', '.join(gone)}")
    pending = [f"{display(r.method)} ({r.task}, {r.objective})" for r in df.itertuples() if not r.tuned_gaps]
    text = ("Studies of profile " + profile + " without results yet: " + "; ".join(lines) + ".") if lines else \
        f"Every method planned has both studies on both tasks of profile {profile}."
    return text + (f" Searched on seed 0 but not yet evaluated on test: {', '.join(pending)}." if pending else "")


def caption(df: pd.DataFrame, profile: str, task: str) -> str:
    """Dataset, model, hardware, seeds and profile of a task's table, read from its runs."""
    rows = df[df.task == task]
    if rows.empty:
        return f"No tuned results for the {task} task of profile {profile}."
    device = "unknown"
    for folder in rows.folder:
        runs = sorted((Path(folder).parent / "eval" / "runs").glob("*/metrics.json")) or \
            sorted((Path(folder) / "runs").glob("*/metrics.json"))
        if runs:
            device = device_text(json.loads(runs[0].read_text()).get("device", "unknown"))
            break
    seeds = sorted({s for gaps in rows.tuned_gaps for s in gaps} | {s for g in rows.default_gaps for s in g})
    budgets = sorted(set(rows.budget))
    tested = f"test Avg. Gap over seeds {', '.join(map(str, seeds))} (mean ± std)" if seeds else "not tested yet"
    return (f"{rows.dataset.iloc[0]}, {rows.model.iloc[0]}, {task} task; search on seed 0, {tested}; budget "
            f"{', '.join(f'{b:,}' for b in budgets)} examples per study; device: {device} (a 2-core CPU shared "
            f"with other jobs); profile {profile}.")


def importances(df: pd.DataFrame, task: str, objective: str = "oracle", method: str = CU) -> pd.Series:
    """Optuna's fANOVA importance of `method`'s parameters in its study (empty with fewer than 2 trials)."""
    import optuna

    rows = df[(df.task == task) & (df.objective == objective) & (df.method == method)]
    study = _study(Path(rows.folder.iloc[0])) if not rows.empty else None
    if study is None:
        return pd.Series(dtype=float)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2 or len({t.value for t in complete}) < 2:
        return pd.Series(dtype=float)
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return pd.Series(optuna.importance.get_param_importances(study, evaluator=evaluator), dtype=float)


def importance_figure(df: pd.DataFrame, profile: str) -> Any:
    """CU's parameter importances, one panel per task and objective (a note where a study has too few trials)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), sharex=True)
    for ax, (task, objective) in zip(axes, [(t, o) for t in ("class", "sample") for o in OBJECTIVES]):
        imp = importances(df, task, objective)
        trials = df[(df.task == task) & (df.objective == objective) & (df.method == CU)].trials
        n = int(trials.iloc[0]) if len(trials) else 0
        ax.set_title(f"{task}, {objective} ({n} trials)", fontsize=9)
        if imp.empty:
            ax.text(0.5, 0.5, "too few distinct trials", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
            continue
        imp = imp.sort_values()
        ax.barh(imp.index, imp.values, color="C0")
        ax.set_xlabel("fANOVA importance")
    fig.suptitle(f"CU's parameters: importance for the objective (Optuna, profile {profile})", fontsize=10)
    fig.tight_layout()
    return fig
