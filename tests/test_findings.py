"""The findings page (`cu_book.findings`): one row per claim, verdicts from each page's own reader, and the words a
page prints equal to the findings table's (issue 21)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cu_book import figure2, findings, report, scales, table_pages
from cu_book.power import NOT_TESTABLE

PAPER_TABLES = Path(__file__).resolve().parents[1] / "book" / "data" / "paper_tables.yaml"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return findings.findings_frame(PAPER_TABLES)


def test_joined_verdict():
    assert scales.joined_verdict([("cifar-cpu", "holds"), ("quick", "holds")]) == "holds"
    assert scales.joined_verdict([("cifar-converged", "holds"), ("cifar-cpu", "does not hold")]) == (
        "holds (memorising CPU originals); does not hold (5-epoch CPU originals)")


def test_one_row_per_claim_with_the_paper_reading(frame):
    assert len(frame) == len(findings.CLAIMS) and frame["page"].nunique() == 8
    for name, rules in table_pages.RULES.items():
        assert sorted(frame.loc[frame["page"] == name, "key"]) == sorted(rules)
    assert frame["paper"].str.match(r"^(holds|does not hold|not tested at this scale): ").all()
    words = set(findings.VERDICTS) | {""}
    for p in frame.attrs["scales"]:
        assert set(frame[p]) <= words, set(frame[p]) - words
    assert findings.VERDICTS == (report.verdict(True), report.verdict(False), report.verdict(None), NOT_TESTABLE)


def test_each_page_prints_the_verdicts_of_the_findings_table(frame):
    """The verdict a page glues is the findings table's verdicts of the scales it shows, joined by the one function
    both use: a page whose verdict drifted (a typed word, another rule) fails here."""
    checked = 0
    for name, rules in table_pages.RULES.items():
        page = table_pages.values(name, PAPER_TABLES)
        shown = [p for p in page["profile"].split(", ") if p in frame.attrs["scales"]]
        for key in rules:
            row = frame[(frame["page"] == name) & (frame["key"] == key)].iloc[0]
            if shown:
                assert page[f"{key}_verdict"] == scales.joined_verdict([(p, row[p]) for p in shown]), (name, key)
                checked += 1
            else:
                assert page[f"{key}_verdict"] == report.verdict(None)
    shown, courses = figure2.figure2_scales()
    for key, (text, _, _) in figure2.figure2_verdicts(shown, courses).items():
        row = frame[(frame["page"] == "figure2") & (frame["key"] == key)].iloc[0]
        assert text == scales.joined_verdict([(s.profile, row[s.profile]) for s in shown]), key
        checked += 1
    if not frame.attrs["scales"]:
        pytest.skip("no results in this checkout: nothing to compare")
    assert checked >= 10


def test_counts_and_html(frame):
    fake = pd.DataFrame([{"page": "table1", "key": "forgets", "claim": "a <b>", "paper": "holds: x",
                          "paper_models": "4 of 4 models", "quick": "holds", "quick_why": "CU 0.0 %"},
                         {"page": "table6", "key": "low", "claim": "c", "paper": "holds: y",
                          "paper_models": "4 of 4 models", "quick": NOT_TESTABLE, "quick_why": "no power"},
                         {"page": "table2", "key": "keeps", "claim": "d", "paper": "holds: z",
                          "paper_models": "4 of 4 models", "quick": "", "quick_why": ""}])
    fake.attrs["scales"] = ["quick"]
    assert findings.counts(fake) == {"quick": "1 hold, 1 not testable at this scale (no power) (of 2 claims with "
                                              "results)"}
    text = findings.findings_html(fake)
    assert "href='reproduction/table6.html'" in text and "a &lt;b&gt;" in text and "no results" in text
    assert text.count("<tr>") == 4 and "Ours: quick" in text
    real = findings.findings_html(frame)
    assert real.count("<tr>") == len(findings.CLAIMS) + 1
