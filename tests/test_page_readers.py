"""The readers behind the reproduction and ablation pages: the claims' rules on hand-made numbers, and every page's
glue values on the committed results (the book glues exactly these dictionaries)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from cu_book import ablation_pages, claims, table_pages

matplotlib.use("Agg")
PAPER_TABLES = Path(__file__).resolve().parents[1] / "book" / "data" / "paper_tables.yaml"
VERDICTS = ("holds", "does not hold", "not tested", "not testable")


def _class(cu, rt, **baselines):
    """{method: {eval: value}} for the class task from (D^r_ts, D^u_tr, D^u_ts) triples."""
    row = lambda t: dict(zip(("D^r_ts", "D^u_tr", "D^u_ts"), t))  # noqa: E731
    return {"contrastive": row(cu), "retrain": row(rt), **{b: row(t) for b, t in baselines.items()}}


def test_class_rules_follow_their_tolerances():
    ok, why = claims.class_forgets(_class((85, 4.9, 5.0), (86, 0, 0)))
    assert ok and "4.9 % on D^u_tr" in why
    assert claims.class_forgets(_class((85, 5.1, 0), (86, 0, 0)))[0] is False
    assert claims.class_keeps(_class((84.0, 0, 0), (86.0, 0, 0)))[0] is True  # 2.0 points: within
    assert claims.class_keeps(_class((83.9, 0, 0), (86.0, 0, 0)))[0] is False
    assert claims.class_forgets({"contrastive": {}}) == (None, "CU or Retrain was not run")
    # a baseline that does not forget does not count against CU
    v = _class((80, 0, 0), (86, 0, 0), scrub=(90, 40, 40), unsir=(79, 1, 1))
    ok, why = claims.class_beats(v)
    assert ok and "unsir" in why and "the only one of the 2 baselines run" in why
    assert claims.class_beats(_class((80, 0, 0), (86, 0, 0), scrub=(81, 0, 0)))[0] is False


def test_sample_time_and_attack_rules():
    rule = claims.gap_rule("D_ts", 3.5)
    assert rule({"contrastive": {"D_ts": 80.0}, "retrain": {"D_ts": 83.5}})[0] is True
    assert rule({"contrastive": {"D_ts": 80.0}, "retrain": {"D_ts": 83.6}})[0] is False
    t = claims.TIME
    assert claims.like_neggrad({"contrastive": {t: 25.0}, "neggrad": {t: 20.0}}) == (
        True, "CU takes 1.25 times NegGrad's time")
    assert claims.faster_than_retrain({"contrastive": {t: 100.0}})[0] is False
    mia = {"contrastive": {"D^u_tr": 40.0, "D^r_tr": 45.0}, "retrain": {"D^u_tr": 30.0, "D^r_tr": 40.0}}
    assert claims.mia_gap(mia)[0] is True  # CU keeps 5 of Retrain's 10 points: exactly half
    mia["contrastive"]["D^r_tr"] = 44.9
    assert claims.mia_gap(mia)[0] is False
    assert claims.mia_as_low(mia)[0] is False  # 40 > 30 + 5


@pytest.mark.parametrize("name", sorted(table_pages.PAGES))
def test_every_reproduction_page_gets_its_table_and_verdicts(name):
    values = table_pages.values(name, PAPER_TABLES)
    assert isinstance(values["table"], pd.DataFrame) and "Paper (v1)" in values["table"].index.get_level_values(0)
    verdicts = {k: v for k, v in values.items() if k.endswith("_verdict")}
    assert len(verdicts) >= 2
    for key, text in verdicts.items():
        assert any(word in text for word in VERDICTS), (key, text)
        assert values[key.replace("_verdict", "_paper")].endswith("models")
        assert values[key.replace("_verdict", "_why")]
    assert all(isinstance(k, str) for k in values)


def test_table1_rules_read_the_committed_class_results():
    values = table_pages.values("table1", PAPER_TABLES)
    assert values["tol_forget"] == "5" and values["tol_retain"] == "2"
    assert "cifar-converged" in values["profile"]  # the memorising CPU originals are shown
    assert float(values["paper_gap"]) > 0
    assert values["forget_class"] != "–"


@pytest.mark.parametrize("page", sorted(ablation_pages.PAGES))
def test_every_ablation_page_gets_its_figures_and_numbers(page):
    import matplotlib.pyplot as plt

    values = ablation_pages.PAGES[page]()
    figures = [k for k in values if k.startswith("fig_")]
    assert all(f"cap_{k[4:]}" in values for k in figures)
    assert (page == "index") == (not figures)
    for key, value in values.items():
        if isinstance(value, float):
            assert math.isfinite(value), key
    plt.close("all")


def test_the_losses_page_reads_its_defaults():
    values = ablation_pages.losses()
    assert values["max_passes"] == "30"
    assert {f"lce_{t}_gap" for t in ("class", "sample")} <= values.keys()


def test_table4_points_to_its_diagnosis():
    """Issue 21: a 'does not hold' on Table 4 names the failing claims and leads to the diagnosis page."""
    assert table_pages._diagnosis({"test_verdict": "holds", "forget_verdict": "holds", "best_verdict": "holds"}) == (
        "No claim of this table fails at the scales shown.")
    text = table_pages._diagnosis({"test_verdict": "does not hold", "forget_verdict": "not testable at this scale",
                                   "best_verdict": "holds (digits); does not hold (5-epoch CPU originals)"})
    assert text.startswith("Claims 1 and 3 do not hold here") and "diagnosis page" in text
    one = table_pages._diagnosis({"test_verdict": "does not hold", "forget_verdict": "holds", "best_verdict": "holds"})
    assert one.startswith("Claim 1 does not hold here")


def test_svhn_pages_say_why_they_are_empty_and_how_to_fill_them():
    """Issue 21: the SVHN tables name the reason and the exact command, whose profile and experiment exist."""
    from cu_core.experiments.grid import load_profile

    assert "no offline copy of SVHN" in table_pages.NO_SVHN and table_pages.SVHN_COMMAND in table_pages.NO_SVHN
    profile, only = re.search(r"--profile (\S+) --only (\S+)$", table_pages.SVHN_COMMAND).groups()
    assert only in load_profile(profile).experiments
    for name in ("table2", "table5"):
        values = table_pages.values(name, PAPER_TABLES)
        if values["profile"] == "none":
            assert values["scale_note"] == table_pages.NO_SVHN
