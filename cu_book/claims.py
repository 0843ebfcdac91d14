"""The paper's claims as rules: one function per claim of Tables 1–7, each taking one model's numbers
`{method: {evaluated set or column: value}}` (`report.nested`) and returning `(ok or None, why)`; None means the
claim could not be tested (a method it needs was not run). The tolerances are the book's reading of the paper's
words ("as completely as", "close to"); each page prints its rule beside the verdict.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .time_ratios import TIME

Rule = Callable[[dict[str, dict[Any, float]]], tuple[bool | None, str]]

# ---------------------------------------------------------------------------- class task (Tables 1 and 2)
CLASS_TOL_FORGET = 5.0   # points: "as completely as Retrain"
CLASS_TOL_RETAIN = 2.0   # points: "close to Retrain"
CLASS_BASELINES = ["boundary_shrink", "boundary_expanding", "scrub", "unsir"]


def class_forgets(v: dict) -> tuple[bool | None, str]:
    """CU's accuracy on D^u_tr and D^u_ts is at most Retrain's plus `CLASS_TOL_FORGET` points."""
    if not {"contrastive", "retrain"} <= v.keys():
        return None, "CU or Retrain was not run"
    cu, rt = v["contrastive"], v["retrain"]
    ok = all(cu[e] <= rt[e] + CLASS_TOL_FORGET for e in ("D^u_tr", "D^u_ts"))
    return ok, (f"CU scores {cu['D^u_tr']:.1f} % on D^u_tr and {cu['D^u_ts']:.1f} % on D^u_ts, "
                f"Retrain {rt['D^u_tr']:.1f} % and {rt['D^u_ts']:.1f} %")


def class_keeps(v: dict) -> tuple[bool | None, str]:
    """CU's D^r_ts accuracy is within `CLASS_TOL_RETAIN` points of Retrain's."""
    if not {"contrastive", "retrain"} <= v.keys():
        return None, "CU or Retrain was not run"
    gap = v["contrastive"]["D^r_ts"] - v["retrain"]["D^r_ts"]
    return abs(gap) <= CLASS_TOL_RETAIN, f"CU's D^r_ts accuracy is {gap:+.1f} points from Retrain's"


def class_beats(v: dict) -> tuple[bool | None, str]:
    """CU's D^r_ts accuracy is at least that of every class baseline run that forgets by `class_forgets`'s test."""
    ran = [b for b in CLASS_BASELINES if b in v]
    if not {"contrastive", "retrain"} <= v.keys() or not ran:
        return None, "CU, Retrain or every class baseline was not run"
    rt = v["retrain"]
    forgetting = [b for b in ran if all(v[b][e] <= rt[e] + CLASS_TOL_FORGET for e in ("D^u_tr", "D^u_ts"))]
    cu = v["contrastive"]["D^r_ts"]
    if not forgetting:
        return True, f"none of the {len(ran)} baselines run forgets the class by rule 1"
    best = max(forgetting, key=lambda b: v[b]["D^r_ts"])
    if len(ran) == 1:
        which = "the only baseline run, which forgets the class"
    elif len(forgetting) == 1:
        which = f"the only one of the {len(ran)} baselines run that forgets the class"
    else:
        which = f"the best of the {len(forgetting)} baselines (of {len(ran)} run) that forget the class"
    return cu >= v[best]["D^r_ts"], f"CU {cu:.1f} % against {v[best]['D^r_ts']:.1f} % for {best}, {which}"


CLASS_RULES: dict[str, Rule] = {"forgets": class_forgets, "keeps": class_keeps, "beats": class_beats}

# ---------------------------------------------------------------------------- sample task (Tables 4 and 5)
SAMPLE_TOL_TEST = 3.5     # points: "close to Retrain" on D_ts
SAMPLE_TOL_FORGET = 5.0   # points: "like Retrain" on D^u_tr
SAMPLE_BASELINES = ["finetune", "neggrad", "fisher", "lcodec"]


def gap_rule(evaluated: str, tol: float) -> Rule:
    """CU's accuracy on `evaluated` is within `tol` points of Retrain's."""
    def rule(v: dict) -> tuple[bool | None, str]:
        if not {"contrastive", "retrain"} <= v.keys():
            return None, "CU or Retrain was not run"
        cu, rt = v["contrastive"][evaluated], v["retrain"][evaluated]
        return abs(cu - rt) <= tol, f"CU {cu:.1f} %, Retrain {rt:.1f} % on {evaluated} ({cu - rt:+.1f} points)"
    return rule


def sample_best_test(v: dict) -> tuple[bool | None, str]:
    """CU's D_ts accuracy is at least every sample baseline's."""
    ran = [b for b in SAMPLE_BASELINES if b in v]
    if "contrastive" not in v or not ran:
        return None, "CU or every sample baseline was not run"
    best = max(ran, key=lambda b: v[b]["D_ts"])
    cu = v["contrastive"]["D_ts"]
    return cu >= v[best]["D_ts"], (f"CU {cu:.1f} % against {v[best]['D_ts']:.1f} % for the best baseline, "
                                   f"{best} ({len(ran)} of {len(SAMPLE_BASELINES)} baselines run)")


SAMPLE_RULES: dict[str, Rule] = {"test": gap_rule("D_ts", SAMPLE_TOL_TEST),
                                 "forget": gap_rule("D^u_tr", SAMPLE_TOL_FORGET), "best": sample_best_test}

# ---------------------------------------------------------------------------- time (Tables 3 and 7)
FASTER_THAN = ["finetune", "fisher", "lcodec"]
NEGGRAD_FACTOR = 1.25  # "about as fast as NegGrad": at most this many times NegGrad's time


def faster_than_retrain(v: dict) -> tuple[bool | None, str]:
    """CU takes less time than Retrain (its time ratio is under 100 %)."""
    if "contrastive" not in v:
        return None, "CU was not run"
    return v["contrastive"][TIME] < 100, f"CU takes {v['contrastive'][TIME]:.1f} % of Retrain's time"


def fastest_class(v: dict) -> tuple[bool | None, str]:
    """CU is faster than every class baseline run."""
    ran = [b for b in CLASS_BASELINES if b in v]
    if "contrastive" not in v or not ran:
        return None, "CU or every class baseline was not run"
    cu = v["contrastive"][TIME]
    best = min(ran, key=lambda b: v[b][TIME])
    return cu < v[best][TIME], (f"CU {cu:.1f} % against {v[best][TIME]:.1f} % for the fastest baseline, {best} "
                                f"({len(ran)} of {len(CLASS_BASELINES)} baselines run)")


def faster_sample(v: dict) -> tuple[bool | None, str]:
    """CU is faster than Finetune, Fisher and LCODEC (those run)."""
    ran = [b for b in FASTER_THAN if b in v]
    if "contrastive" not in v or not ran:
        return None, "CU or Finetune, Fisher and LCODEC were not run"
    cu = v["contrastive"][TIME]
    times = ", ".join(f"{b} {v[b][TIME]:.1f} %" for b in ran)
    return all(cu < v[b][TIME] for b in ran), f"CU {cu:.1f} % against {times}"


def like_neggrad(v: dict) -> tuple[bool | None, str]:
    """CU takes at most `NEGGRAD_FACTOR` times NegGrad's time."""
    if not {"contrastive", "neggrad"} <= v.keys():
        return None, "CU or NegGrad was not run"
    factor = v["contrastive"][TIME] / v["neggrad"][TIME]
    return factor <= NEGGRAD_FACTOR, f"CU takes {factor:.2f} times NegGrad's time"


CLASS_TIME_RULES: dict[str, Rule] = {"retrain": faster_than_retrain, "fastest": fastest_class}
SAMPLE_TIME_RULES: dict[str, Rule] = {"retrain": faster_than_retrain, "faster": faster_sample,
                                      "neggrad": like_neggrad}

# ---------------------------------------------------------------------------- membership inference (Table 6)
MIA_TOL_RATE = 5.0     # points: "as low as Retrain's"
MIA_KEEP_GAP = 0.5     # share of Retrain's gap (held-out rate - forget rate) CU must keep
MIA_WORSE = ["neggrad", "fisher", "lcodec"]


def _complete(v: dict, methods: list[str]) -> bool:
    return all(m in v and {"D^u_tr", "D^r_tr"} <= v[m].keys() for m in methods)


def mia_as_low(v: dict) -> tuple[bool | None, str]:
    """CU's forget-sample member rate is at most Retrain's plus `MIA_TOL_RATE` points."""
    if not _complete(v, ["contrastive", "retrain"]):
        return None, "CU or Retrain has no attack result"
    cu, rt = v["contrastive"]["D^u_tr"], v["retrain"]["D^u_tr"]
    return cu <= rt + MIA_TOL_RATE, f"CU {cu:.1f} %, Retrain {rt:.1f} % on the forget samples"


def mia_lower(v: dict) -> tuple[bool | None, str]:
    """CU's forget-sample member rate is below NegGrad's, Fisher's and LCODEC's (those run)."""
    ran = [b for b in MIA_WORSE if _complete(v, [b])]
    if not _complete(v, ["contrastive"]) or not ran:
        return None, "CU or NegGrad, Fisher and LCODEC have no attack result"
    cu = v["contrastive"]["D^u_tr"]
    rates = ", ".join(f"{b} {v[b]['D^u_tr']:.1f} %" for b in ran)
    return all(cu < v[b]["D^u_tr"] for b in ran), f"CU {cu:.1f} % against {rates}"


def mia_gap(v: dict) -> tuple[bool | None, str]:
    """CU keeps at least `MIA_KEEP_GAP` of Retrain's gap between held-out and forget member rates."""
    if not _complete(v, ["contrastive", "retrain"]):
        return None, "CU or Retrain has no attack result"
    cu = v["contrastive"]["D^r_tr"] - v["contrastive"]["D^u_tr"]
    rt = v["retrain"]["D^r_tr"] - v["retrain"]["D^u_tr"]
    return cu >= MIA_KEEP_GAP * rt, f"Held-out minus forget rate: CU {cu:+.1f} points, Retrain {rt:+.1f} points"


MIA_RULES: dict[str, Rule] = {"low": mia_as_low, "lower": mia_lower, "gap": mia_gap}
# what each claim's power rests on: its column and its tolerance (cu_book.power.runs_power)
MIA_POWER = {"low": ("paper_forget_member_rate", MIA_TOL_RATE), "lower": ("paper_forget_member_rate", 0.0),
             "gap": ("retrain_gap", 0.0)}
