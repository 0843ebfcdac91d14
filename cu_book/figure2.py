"""Figure 2 of the paper: the forget-class accuracy during the first pass of class unlearning on CIFAR-10.

The paper tracks it batch by batch; `cu_core` logs it once per pass over the forget set (`passes.csv`), so the
reproduction compares the end of the first pass. `figure2_scales` picks every profile with class-task results
(`cu_book.scales`), reads each method's per-pass course (`per_pass`, pass 0 = the original model) and adds its
forget accuracy after pass 1 (`first_pass`); `figure2_plot` draws the paper's curves beside ours, and
`figure2_verdicts` checks the paper's four claims about the first pass, plus the per-batch one it cannot test.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from cu_book import report
from cu_book import scales
from cu_book.paper_compare import paper_tables
from cu_book.method_names import method_style, paper_label

END = "end of pass 1"
EVALS = {END: "first_pass"}  # each sub-run's forget accuracy (%) at the end of its first pass
COURSE = ["pass", "forget_acc", "method", "model", "seed", "sub", "batch_log"]


def paper_figure2() -> dict[str, Any]:
    """The paper's Figure 2 as read off the published figure: `curves` (legend name → [(batch, accuracy)]) and
    `last_batch`."""
    return paper_tables()["figure2"]


def curves() -> list[str]:
    """The paper's legend names, mapped to `cu_core` methods by `report.PAPER_METHODS`."""
    return list(paper_figure2()["curves"])


def class_task(d: pd.DataFrame) -> pd.DataFrame:
    """Class-task CIFAR-10 rows of one model: the smallest (ResNet-18 in the paper profile; the paper does not
    name its figure's)."""
    d = d[(d["task"] == "class") & ((d["profile"] != "paper") | (d["data"] == "cifar10"))]
    return d if d.empty else d[d["model"] == min(d["model"].unique(), key=report.natural_key)]


def per_pass(runs: pd.DataFrame) -> pd.DataFrame:
    """Forget accuracy (%) per pass of each paper method's sub-runs (`sub`: its row in `runs`); pass 0 is the
    original model. `batch_log`: the log has per-batch rows."""
    frames, names = [], curves()
    for r in runs.itertuples():
        name = next((c for c in names if report.PAPER_METHODS[c] == r.method), None)
        passes = Path(r.path) / "passes.csv"
        if name is None or not passes.is_file():
            continue
        log = pd.read_csv(passes)
        p = log[["pass", "forget_acc"]].assign(forget_acc=100 * log["forget_acc"])
        start = runs[(runs["run_id"] == r.run_id) & (runs["experiment"] == r.experiment)
                     & (runs["method"] == "original")]
        if not start.empty:
            p = pd.concat([pd.DataFrame({"pass": [0], "forget_acc": [float(start["acc_forget_train"].iloc[0])]}), p])
        frames.append(p.assign(method=name, model=r.model, seed=r.seed, sub=r.Index, batch_log="batch" in log.columns))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COURSE)


def figure2_scales(root: str | Path | None = None) -> tuple[list[scales.Scale], dict[str, pd.DataFrame]]:
    """(the scales shown, each with `first_pass`: the forget accuracy at the end of pass 1, NaN without a log;
    the per-pass course of each scale's profile)."""
    picked = scales.pick_scales(class_task, root)
    courses = {s.profile: per_pass(s.runs) for s in picked}
    shown = []
    for s in picked:
        course = courses[s.profile]
        end = course[course["pass"] == 1].groupby("sub")["forget_acc"].first()
        shown.append(scales.Scale(s.profile, s.runs.assign(first_pass=s.runs.index.map(end))))
    return shown, courses


def not_run(shown: list[scales.Scale], courses: dict[str, pd.DataFrame]) -> str:
    """The paper's methods without a per-pass course, per scale ('none' when every one ran), in the book's
    spelling (`method_names.paper_label`)."""
    names = curves()
    return scales.first_value(shown, lambda s: ", ".join(
        paper_label(c) for c in names if c not in set(courses[s.profile]["method"])) or "none",
        ", ".join(map(paper_label, names)))


def figure2_plot(shown: list[scales.Scale], courses: dict[str, pd.DataFrame]) -> Any:
    """The paper's curves, then one panel per scale shown: mean over seeds (thick; a run that stopped early keeps
    its last value), one thin line per seed; the legend in the first empty slot of the grid."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    paper, names = paper_figure2(), curves()
    sns.set_theme(style="whitegrid", context="notebook")
    looks = {name: method_style(report.PAPER_METHODS[name]) for name in names}  # one palette for the book
    colours = {name: look["color"] for name, look in looks.items()}
    style = {name: "--" if name == "Boundary Expansion" else "-" for name in names}  # it overlaps Boundary Shrink
    # CU on top, larger and filled; the others thinner and slightly transparent with hollow markers, so that a CU
    # curve under UNSIR's (both at 0 %) stays visible
    front = {name: dict(zorder=4, linewidth=2.2, markersize=5, alpha=1.0) if name == "Contrastive"
             else dict(zorder=2, linewidth=1.2, markersize=6, alpha=0.8, markerfacecolor="none") for name in names}
    panels = 1 + max(len(shown), 1)
    ncols = 2 if panels <= 4 else 3
    nrows = math.ceil(panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.4, 2.8 * nrows + 0.4), dpi=110, sharey=True, squeeze=False)
    axes = axes.ravel()
    for name, points in paper["curves"].items():
        x, y = zip(*points)
        axes[0].plot(x, [100 * v for v in y], marker=looks[name]["marker"], color=colours[name],
                     label=paper_label(name), linestyle=style[name], **front[name])
    axes[0].set(xlim=(0, paper["last_batch"]))
    axes[0].set_title("Paper (approximate readings)", fontsize=9)
    axes[0].set_xlabel("batch index within the first epoch", fontsize=8.5)
    for ax, scale in zip(axes[1:], shown or [None]):
        course = courses[scale.profile] if scale else per_pass(pd.DataFrame())
        for name in names:
            part = course[course["method"] == name]
            if part.empty:
                continue
            for _, seed in part.groupby(["model", "seed"]):
                ax.plot(seed["pass"], seed["forget_acc"], color=colours[name], alpha=0.25, linewidth=0.8,
                        linestyle=style[name])
            wide = part.pivot_table(index="pass", columns=["model", "seed"], values="forget_acc").ffill()
            ax.plot(wide.index, wide.mean(axis=1), marker=looks[name]["marker"], color=colours[name],
                    linestyle=style[name], **front[name])  # CU on top
        ax.axvline(1, color="grey", linewidth=0.8, linestyle=":")
        models = ", ".join(sorted(set(course["model"]))) or "no per-pass logs"
        ax.set_title(f"Ours ({scale.profile}): {models}" if scale else "Ours: no results", fontsize=9)
        ax.set_xlabel("pass over the forget set (0 = original)", fontsize=8.5)
    for i, ax in enumerate(axes[:panels]):
        ax.set_ylim(-3, 103)
        ax.tick_params(labelsize=8)
        if i % ncols == 0:
            ax.set_ylabel("forget-class accuracy (%)", fontsize=8.5)
    for ax in axes[panels:]:
        ax.set_axis_off()
    legend = dict(handles=axes[0].get_legend_handles_labels()[0], fontsize=8, frameon=False)
    if panels < len(axes):  # the legend fills the first empty slot of the grid
        axes[panels].legend(loc="center", title="Method", title_fontsize=8.5, **legend)
        fig.tight_layout()
    else:
        fig.legend(loc="lower center", ncol=len(names), **legend)
        fig.tight_layout(rect=(0, 0.35 / fig.get_size_inches()[1], 1, 1))
    return fig


def figure2_rules(courses: dict[str, pd.DataFrame], tol: float = 5.0, not_yet: float = 50.0) -> dict[str, Any]:
    """The page's rules, each mapping {method: {END: accuracy}} to (holds, reason): CU at most `tol` % after one
    pass (`zero`), CU below the boundary methods (`boundary`), SCRUB at least `not_yet` % (`scrub`), UNSIR at most
    `tol` % (`unsir`), and the per-batch dip and rebound, not testable from per-pass logs (`batch`)."""
    def first(v: dict, name: str) -> float | None:
        return v.get(report.PAPER_METHODS[name], {}).get(END)

    def at_most(name: str, short: str, limit: float, below: bool) -> Any:
        def rule(v: dict) -> tuple[bool | None, str]:
            x = first(v, name)
            return (None, f"{short} was not run") if x is None else (
                x <= limit if below else x >= limit, f"{short} is at {x:.1f} % after one pass")
        return rule

    def boundary(v: dict) -> tuple[bool | None, str]:
        cu, bs, be = (first(v, n) for n in ("Contrastive", "Boundary Shrink", "Boundary Expansion"))
        ran = [x for x in (bs, be) if x is not None]
        if cu is None or not ran:
            return None, "CU or both boundary methods were not run"
        return cu < min(ran), (f"CU {cu:.1f} % against " + " and ".join(f"{x:.1f} %" for x in ran)
                               + " for the boundary methods")

    def batch(v: dict) -> tuple[bool | None, str]:
        logged = any(c["batch_log"].any() for c in courses.values())
        return (None, "Our runs log the forget accuracy once per pass, not per batch") if not logged else (
            None, "Per-batch logs exist, but no rule is defined for the shape of the curve")

    return {"zero": at_most("Contrastive", "CU", tol, True), "boundary": boundary,
            "scrub": at_most("SCRUB", "SCRUB", not_yet, False), "unsir": at_most("UNSIR", "UNSIR", tol, True),
            "batch": batch}


def paper_end() -> dict[str, dict[str, float]]:
    """The paper's readings as the rules take them: {method: {END: the last point of its curve, in %}}."""
    return {report.PAPER_METHODS[name]: {END: 100 * pts[-1][1]} for name, pts in paper_figure2()["curves"].items()}


def figure2_verdicts(shown: list[scales.Scale], courses: dict[str, pd.DataFrame], tol: float = 5.0,
                     not_yet: float = 50.0) -> dict[str, tuple[str, str, str]]:
    """Per rule of `figure2_rules`: (our verdict over the scales shown, its reasons, the verdict on the paper's
    readings: the last point of each curve)."""
    paper = paper_end()
    out = {}
    for key, rule in figure2_rules(courses, tol, not_yet).items():
        text, why = scales.verdicts(rule, shown, EVALS, curves())
        out[key] = (text, why, report.verdict(rule(paper)[0]))
    return out
