"""Several scales on one page: the reproduction pages show every CIFAR-10 profile that has results side by side
(the paper's GPU runs, our memorising CPU originals, our 5-epoch CPU originals), each with its own verdicts.

A verdict is drawn per scale; where the scales agree the page says so once, where they differ it shows both.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cu_book import report

from .power import NOT_TESTABLE, Power, power_table, powered_verdict

# CIFAR-10 scales, most faithful first; quick and smoke (digits) are shown only when none of these has results.
CIFAR_SCALES = ["paper", "paper-gpu", "cifar-converged", "cifar-cpu"]
SHORT = {"paper": "paper profile", "paper-gpu": "GPU, time-boxed", "cifar-converged": "memorising CPU originals",
         "cifar-cpu": "5-epoch CPU originals", "quick": "digits", "smoke": "smoke test"}


@dataclass(frozen=True)
class Scale:
    """One profile's rows for a page (`cu_book.report.canonical` sub-runs after the page's filter)."""

    profile: str
    runs: pd.DataFrame

    @property
    def label(self) -> str:
        return f"Ours ({self.profile})"


def pick_scales(keep: Callable[[pd.DataFrame], pd.DataFrame], root: str | Path | None = None,
                preferred: list[str] | None = None) -> list[Scale]:
    """Every CIFAR-10 profile of `preferred` (default `report.PREFERRED_PROFILES`) whose rows survive `keep`, in
    that order; when none has any, the first other profile with rows (digits), alone; [] when nothing ran."""
    found = []
    for profile in preferred or report.PREFERRED_PROFILES:
        df = report.canonical(report.subruns(profile, root=root))
        if not df.empty and not (df := keep(df)).empty:
            found.append(Scale(profile, df.reset_index(drop=True)))
    cifar = [s for s in found if s.profile in CIFAR_SCALES]
    return cifar or found[:1]


def table(paper: pd.DataFrame, scales: list[Scale], evals: dict[Any, str], columns: list[str]) -> pd.DataFrame:
    """The paper's rows, then one block per scale (`report.side_by_side` with several sources)."""
    return report.side_by_side(paper, [(s.label, report.ours_long(s.runs, evals, columns)) for s in scales])


def captions(scales: list[Scale]) -> str:
    """Provenance of every scale shown, one sentence block each."""
    if not scales:
        return report.provenance(pd.DataFrame(), None)
    return " ".join(report.provenance(s.runs, s.profile) for s in scales)


def scale_notes(scales: list[Scale]) -> str:
    """What each shown profile stands for (`report.SCALE`), or that nothing ran."""
    if not scales:
        return report.NO_RESULTS
    return " ".join(f"{s.profile}: {report.SCALE.get(s.profile, '')}" for s in scales)  # glue:text is plain text


def verdicts(rule: Callable[[dict], tuple[bool | None, str]], scales: list[Scale], evals: dict[Any, str],
             columns: list[str], power: Callable[[Scale], Power] | None = None, refute: bool = False
             ) -> tuple[str, str]:
    """The claim's verdict per scale: (verdict text, reasons text). One scale, or several that agree: one verdict;
    otherwise 'holds (cifar-converged); does not hold (cifar-cpu)'. `power(scale)` may declare the test powerless
    at a scale ("not testable at this scale", with its reason); `refute`: a failure stands even so
    (`cu_book.power.powered_verdict`)."""
    if not scales:
        return report.verdict(None), "No profile has results for this table."
    results = []
    for scale in scales:
        ok, why = report.judge(rule, report.nested(report.ours_long(scale.runs, evals, columns), "mean"))
        check = power(scale) if power is not None else Power(True, "")
        text = powered_verdict(ok, check, refute=refute)
        reason = why.rstrip(".") + "." + (f" Not testable: {check.reason}." if text == NOT_TESTABLE else "")
        results.append((scale, text, reason))
    verdict = joined_verdict([(s.profile, t) for s, t, _ in results])
    if len(results) == 1:
        return verdict, results[0][2].rstrip(".") + "."
    return verdict, " ".join(f"{_upper_first(SHORT.get(s.profile, s.profile))}: {r.rstrip('.')}." for s, _, r in results)


def joined_verdict(per_scale: list[tuple[str, str]]) -> str:
    """One verdict from (profile, verdict) pairs: the verdict once when all agree, else 'holds (memorising CPU
    originals); does not hold (5-epoch CPU originals)'. The findings page and every reproduction page use it."""
    texts = {t for _, t in per_scale}
    if len(texts) == 1:
        return per_scale[0][1]
    return "; ".join(f"{t} ({SHORT.get(p, p)})" for p, t in per_scale)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def first_value(scales: list[Scale], fn: Callable[[Scale], str], default: str = "–") -> str:
    """`fn` of each scale joined as 'a (profile); b (profile)', or `default` without scales."""
    if not scales:
        return default
    if len(scales) == 1:
        return fn(scales[0])
    return "; ".join(f"{fn(s)} ({s.profile})" for s in scales)


def with_variants(subruns: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    """`report.canonical` rows plus the named variant sub-runs of `variants` (e.g. `contrastive_lambda1`, CU at
    λ_UL = 1), each as a method of its own (its `method` set to the sub-run name), on the profile's own training
    length, one per task, forget-set size and seed."""
    base = report.canonical(subruns)
    if subruns.empty:
        return base
    extra = subruns[subruns["run"].isin(variants)].copy()
    if not extra.empty:
        main = {p: report.main_epochs(p) for p in extra["profile"].unique()}
        wanted = extra["profile"].map(main)
        extra = extra[wanted.isna() | (extra["epochs_trained"] == wanted)]
        extra["method"] = extra["run"]
        extra = extra.drop_duplicates(["data", "model", "task", "num_forget", "method", "seed"])
    return pd.concat([base, extra], ignore_index=True)


def profiles_power_table(profiles: list[str], tolerance: float = 5.0, root: Any = None) -> pd.DataFrame:
    """`power_table` for every task of every profile in `profiles` that has the original's and Retrain's attack
    results (digits and CIFAR-10 alike), for the attacks page."""
    found = [Scale(p, df) for p in profiles if not (df := report.canonical(report.subruns(p, root=root))).empty]
    return power_table(found, tolerance)


def profiles_power_caption(profiles: list[str], root: Any = None) -> str:
    """Provenance of the attack results of each profile in `profiles` that has any (the table's caption)."""
    found = {p: runs for p in profiles if not (runs := report.subruns(p, root=root)).empty}  # each read once
    return " ".join(report.provenance(report.canonical(runs), p, "the attacks") for p, runs in found.items())
