"""Everything a reproduction page (Tables 1–7) glues: the paper's table beside ours at every scale with results,
the captions, and each claim's verdict by its rule (`cu_book.claims`). `values(name, paper_tables)` returns
{glue name: value}; the page glues them all.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from . import claims, paper_compare, power, report, scales
from .time_ratios import RATIOS, paper_ratios, precision_note, retrain_time, with_ratios

CLASS_EVALS = {"D^r_ts": "acc_retain_test", "D^u_tr": "acc_forget_train", "D^u_ts": "acc_forget_test"}
SAMPLE_EVALS = {"D_ts": "acc_test", "D^u_tr": "acc_forget_train"}
MIA_EVALS = {"D^u_tr": "paper_forget_member_rate", "D^r_tr": "paper_heldout_member_rate"}
SVHN_COMMAND = "python -m cu_core.experiments run --profile paper --only svhn"
NO_SVHN = ("No profile has SVHN results: there is no offline copy of SVHN on the machines that produced this book's "
           "CPU results and they cannot download it, so only the paper profile, run on a GPU machine with internet "
           f"access, includes it. The command that fills this page, from the repository root: {SVHN_COMMAND}. "
           "Until it has run, every verdict below reads \"" + report.verdict(None) + "\".")
NOT_YET = "No profile has SVHN results yet (why: the note at the top of this page)."
Profiles = list[str] | None  # the profiles a page reads (None: `scales.pick_scales`'s default)
CPU_TIMING = " CPU timings are noisy: the runs may have shared the cores with other jobs."


def _cifar(d: pd.DataFrame) -> pd.Series:
    return (d["profile"] != "paper") | (d["data"] == "cifar10")


def class_task(svhn: bool = False) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Class-task rows of CIFAR-10 (the paper profile's CIFAR-10 part) or of SVHN."""
    return lambda d: d[(d["task"] == "class") & ((d["data"] == "svhn") if svhn else _cifar(d))]


def sample_task(paper_forget: int, svhn: bool = False, attacks: bool = False) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Sample-task rows of the right dataset (with attack results when `attacks`), for the forget-set size
    closest to the paper's."""
    def keep(d: pd.DataFrame) -> pd.DataFrame:
        wanted = (d["data"] == "svhn") if svhn else _cifar(d)
        d = d[(d["task"] == "sample") & wanted]
        if attacks:
            d = d[d["paper_forget_member_rate"].notna()]
        if d.empty:
            return d
        size = min(set(d["num_forget"]), key=lambda n: abs(n - paper_forget))
        return d[d["num_forget"] == size]
    return keep


def _common(shown: list[scales.Scale], table: pd.DataFrame, svhn: bool) -> dict[str, Any]:
    return {"table": table, "provenance": scales.captions(shown) if shown or not svhn else NOT_YET,
            "scale_note": scales.scale_notes(shown) if shown or not svhn else NO_SVHN,
            "profile": ", ".join(s.profile for s in shown) or "none"}  # "profile": for the chapter's verdict list


def _verdicts(rules: dict[str, claims.Rule], shown: list[scales.Scale], evals: dict[Any, str], columns: list[str],
              paper: pd.DataFrame, svhn: bool = False, power_of: dict[str, Callable] | None = None,
              refute: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, rule in rules.items():
        if shown or not svhn:
            text, why = scales.verdicts(rule, shown, evals, columns, power=(power_of or {}).get(key), refute=refute)
        else:
            text, why = report.verdict(None), NOT_YET
        out.update({f"{key}_verdict": text, f"{key}_why": why, f"{key}_paper": report.paper_count(rule, paper)})
    return out


def _forget_acc(scale: scales.Scale, method: str) -> str:
    """Accuracy on the forget samples of `method` (the original before unlearning, or Retrain), per model."""
    part = scale.runs[scale.runs["method"] == method]
    stats = report.mean_std(part, ["model"], ["acc_forget_train"])
    return "; ".join(f"{report.fmt(float(r.acc_forget_train), float(r.acc_forget_train_std))} % ({r.model})"
                     for r in stats.itertuples()) or "– (not run)"


def _num_forget(shown: list[scales.Scale], default: str = "–") -> str:
    return scales.first_value(shown, lambda s: f"{int(s.runs['num_forget'].iloc[0]):d}", default)


def class_page(tables: dict[str, Any], name: str, svhn: bool = False, profiles: Profiles = None) -> dict[str, Any]:
    """Tables 1 (CIFAR-10) and 2 (SVHN): accuracies after forgetting a class."""
    columns = tables[name]["columns"]
    paper = report.paper_table(tables, name)
    shown = scales.pick_scales(class_task(svhn), preferred=profiles)
    classes = lambda s: ", ".join(str(int(c)) for c in sorted(set(s.runs["forget_class"])))  # noqa: E731
    ours = ({"ours_class": scales.first_value(shown, lambda s: "class " + classes(s), "none yet, see the note above")}
            if svhn else {"forget_class": scales.first_value(shown, classes)})
    paper_gap = max(abs(m["contrastive"]["D^r_ts"] - m["retrain"]["D^r_ts"])
                    for m in report.nested(paper, "value").values())
    return {**_common(shown, scales.table(paper, shown, CLASS_EVALS, columns), svhn),
            "paper_class": str(tables[name]["forget_class"]), **ours,
            **_verdicts(claims.CLASS_RULES, shown, CLASS_EVALS, columns, paper, svhn),
            "tol_forget": f"{claims.CLASS_TOL_FORGET:g}", "tol_retain": f"{claims.CLASS_TOL_RETAIN:g}",
            "paper_gap": f"{paper_gap:.2f}"}


def sample_page(tables: dict[str, Any], name: str, svhn: bool = False, profiles: Profiles = None) -> dict[str, Any]:
    """Tables 4 (CIFAR-10) and 5 (SVHN): accuracies after forgetting random samples. Rule 2 is a test only where
    the untouched original would fail it (the power rule of the Table 6 page)."""
    columns, paper_forget = tables[name]["columns"], tables[name]["num_forget"]
    paper = report.paper_table(tables, name)
    shown = scales.pick_scales(sample_task(paper_forget, svhn), preferred=profiles)
    power_of = {"forget": lambda s: power.runs_power(s.runs, "acc_forget_train", claims.SAMPLE_TOL_FORGET,
                                                     signal=False)}
    out = {**_common(shown, scales.table(paper, shown, SAMPLE_EVALS, columns), svhn),
           "num_forget": _num_forget(shown, "none yet, see the note above" if svhn else "–"),
           "paper_forget": f"{paper_forget:d}",
           **_verdicts(claims.SAMPLE_RULES, shown, SAMPLE_EVALS, columns, paper, svhn, power_of, refute=True),
           "tol_test": f"{claims.SAMPLE_TOL_TEST:g}", "tol_forget": f"{claims.SAMPLE_TOL_FORGET:g}"}
    original, retrain = (scales.first_value(shown, lambda s, m=m: _forget_acc(s, m), "– (not run)")
                         for m in ("original", "retrain"))
    if svhn:
        out["before"] = (f"Before unlearning, the original model scores {original} on the forget samples; Retrain "
                         f"scores {retrain}." if shown else ("Without an SVHN run, the original's accuracy on the "
                                                             "forget samples and Retrain's are not known here yet."))
    else:
        out.update(original_forget=original, retrain_forget=retrain, diagnosis=_diagnosis(out))
    return out


def _diagnosis(out: dict[str, Any]) -> str:
    """Which of Table 4's claims do not hold at some scale, and where the book diagnoses it (the page links it)."""
    failed = [str(i) for i, key in enumerate(claims.SAMPLE_RULES, 1) if report.verdict(False) in out[f"{key}_verdict"]]
    if not failed:
        return "No claim of this table fails at the scales shown."
    which = f"Claim{'s' if len(failed) > 1 else ''} {', '.join(failed[:-1])}{' and ' if len(failed) > 1 else ''}"
    return (which + failed[-1] + f" {'do' if len(failed) > 1 else 'does'} not hold here (the numbers are above). "
            "The diagnosis page follows CU's stopping rule (Eq. 9) pass by pass to find out why CU stops where it "
            "does, and compares two remedies:")


def time_page(tables: dict[str, Any], name: str, task: str, profiles: Profiles = None) -> dict[str, Any]:
    """Tables 3 (class task, seconds) and 7 (500 samples, minutes): each method's time as a share of Retrain's."""
    columns = tables[name]["columns"]
    paper = paper_ratios(tables, name)
    keep = class_task() if task == "class" else sample_task(tables[name]["num_forget"])
    shown = [scales.Scale(s.profile, with_ratios(s.runs)) for s in scales.pick_scales(keep, preferred=profiles)]
    table = report.side_by_side(paper, [(s.label, report.ours_long(s.runs, RATIOS, columns)) for s in shown],
                                digits=1)
    raw = report.paper_table(tables, name)
    unit = "s" if task == "class" else "min"
    on_cpu = any(s.runs["hardware"].str.startswith("cpu").any() for s in shown)
    out = {**_common(shown, table, svhn=False),
           "our_retrain": scales.first_value(shown, lambda s: retrain_time(s.runs) or "– (not run)", "– (no results)"),
           "precision_note": precision_note(shown), "timing_note": CPU_TIMING if on_cpu else "",
           "paper_retrain": "; ".join(f"{r.value:.2f} {unit} ({r.model})"
                                      for r in raw[raw["method"] == "retrain"].itertuples())}
    if task == "class":
        return {**out, **_verdicts(claims.CLASS_TIME_RULES, shown, RATIOS, columns, paper)}
    return {**out, "num_forget": _num_forget(shown), "paper_forget": f"{tables[name]['num_forget']:d}",
            **_verdicts(claims.SAMPLE_TIME_RULES, shown, RATIOS, columns, paper),
            "neggrad_factor": f"{claims.NEGGRAD_FACTOR:g}"}


def mia_page(tables: dict[str, Any], name: str = "table6", profiles: Profiles = None) -> dict[str, Any]:
    """Table 6: the paper's membership attack on the forget samples and held-out retain samples, with the
    power of each claim's test at our scale."""
    columns, paper_forget = tables[name]["columns"], tables[name]["num_forget"]
    paper = report.paper_table(tables, name)
    shown = scales.pick_scales(sample_task(paper_forget, attacks=True), preferred=profiles)
    power_of = {key: (lambda s, c=column, t=tol: power.runs_power(s.runs, c, t))
                for key, (column, tol) in claims.MIA_POWER.items()}
    return {**_common(shown, scales.table(paper, shown, MIA_EVALS, columns), svhn=False),
            "num_forget": _num_forget(shown), "paper_forget": f"{paper_forget:d}",
            **_verdicts(claims.MIA_RULES, shown, MIA_EVALS, columns, paper, power_of=power_of),
            "tol_rate": f"{claims.MIA_TOL_RATE:g}", "keep_gap": f"{100 * claims.MIA_KEEP_GAP:g} %",
            "power_table": power.power_table(shown), "power_cap": scales.captions(shown)}


PAGES: dict[str, Callable[[dict[str, Any], Profiles], dict[str, Any]]] = {
    "table1": lambda t, p: class_page(t, "table1", profiles=p),
    "table2": lambda t, p: class_page(t, "table2", svhn=True, profiles=p),
    "table3": lambda t, p: time_page(t, "table3", "class", p), "table4": lambda t, p: sample_page(t, "table4", profiles=p),
    "table5": lambda t, p: sample_page(t, "table5", svhn=True, profiles=p), "table6": lambda t, p: mia_page(t, profiles=p),
    "table7": lambda t, p: time_page(t, "table7", "sample", p)}
# each page's rules (`cu_book.claims`), in the order its verdicts are listed
RULES: dict[str, dict[str, claims.Rule]] = {
    "table1": claims.CLASS_RULES, "table2": claims.CLASS_RULES, "table3": claims.CLASS_TIME_RULES,
    "table4": claims.SAMPLE_RULES, "table5": claims.SAMPLE_RULES, "table6": claims.MIA_RULES,
    "table7": claims.SAMPLE_TIME_RULES}


def paper_frame(tables: dict[str, Any], name: str) -> pd.DataFrame:
    """The paper's numbers of page `name` as its rules read them (times as shares of Retrain's)."""
    return paper_ratios(tables, name) if name in ("table3", "table7") else report.paper_table(tables, name)


def values(name: str, paper_tables: str | Path, profiles: Profiles = None) -> dict[str, Any]:
    """{glue name: value} for reproduction page `name` ("table1" … "table7"); `paper_tables` is
    `book/data/paper_tables.yaml`; `profiles`: only these profiles' results (default: every CIFAR-10 scale with
    results, else digits; `cu_book.scales.pick_scales`)."""
    return PAGES[name](paper_compare.paper_tables(paper_tables), profiles)
