"""The readers behind the "Beyond the paper" pages, Figure 2 and the quickstart page (cu_book.attack_readings,
baselines, cost_readings, probe, figure2, quickstart, beyond) on the committed results and on an empty results
folder: the tables have their columns and rows, the sentences carry the tables' numbers, the empty states say so."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cu_book import attack_readings, baselines, beyond, cost_readings, figure2, probe, quickstart, scales  # noqa: E402
from cu_book.method_names import paper_label  # noqa: E402
from cu_book import report  # noqa: E402
from cu_book import report_studies as rs  # noqa: E402


@pytest.fixture(scope="module")
def quick() -> pd.DataFrame:
    df = report.canonical(report.subruns("quick"))
    if df.empty:
        pytest.skip("no quick results in this checkout")
    return df


def _rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def test_attack_tables_and_reading_carry_the_stats(quick):
    stats = attack_readings.attack_stats(quick)
    assert set(stats) == set(rs.TASKS)
    for task, s in stats.items():
        assert s["method"].iloc[0] == "retrain" and s["method"].iloc[-1] == "original"
        table = attack_readings.attack_markdown(s, "quick", task)
        assert all(name in _rows(table)[0] for name in attack_readings.COLUMNS.values())
        assert len(_rows(table)) == len(s) + 2  # header, rule, one row per method
        r = s.set_index("method").loc["retrain"]
        rate = rs.fmt_pm(r["paper_forget_member_rate"], r["paper_forget_member_rate_std"])
        assert f"Retrain's member rate on the forget images is {rate} %" in attack_readings.attack_reading(s)
        assert "Profile: quick" in attack_readings.attack_caption(quick, task, "quick")
    fig = attack_readings.attack_figure(stats, quick, "quick")
    assert len(fig.axes) == 3 * len(stats)
    plt.close(fig)


def test_attack_empty_states(tmp_path):
    empty = pd.DataFrame()
    assert attack_readings.attack_stats(empty) == {}
    assert "No `quick` results for the class task" in attack_readings.attack_markdown(None, "quick", "class")
    assert attack_readings.attack_reading(None) == attack_readings.attack_caption(empty, "class", "quick") == "Not run yet."
    rows = attack_readings.ulira_rows(root=tmp_path)
    assert rows.empty and "no U-LiRA result yet" in attack_readings.ulira_markdown(rows)
    assert attack_readings.ulira_reading(rows).startswith("The per-example attack has not been run yet")
    assert scales.profiles_power_caption(["quick"], root=tmp_path) == ""


def test_ulira_table_and_reading():
    rows = attack_readings.ulira_rows()
    if rows.empty:
        pytest.skip("no U-LiRA results in this checkout")
    table = attack_readings.ulira_markdown(rows)
    assert "Balanced accuracy (%)" in _rows(table)[0] and "contrastive" in table
    c = rows[rows["method"] == "contrastive"]["ulira_balanced_accuracy"].mean()
    assert f"reaches {c:.1f} % balanced accuracy against CU" in attack_readings.ulira_reading(rows)


def test_baseline_slots_reading_and_figure(quick):
    df = baselines.profile_rows("quick")
    table, cap, text = baselines.slot_texts(df, "class", "quick")
    assert "contrastive" in table and "Avg. Gap" in _rows(table)[0]
    assert cap.startswith(rs.SLOTS["class"] + ". ") and "Profile: quick" in cap
    stats = rs.method_table(rs.slot_rows(df, "class"))[1].set_index("method")
    assert f"CU's Avg. Gap is {rs.fmt_pm(stats.loc['contrastive', 'avg_gap'], stats.loc['contrastive', 'avg_gap_std'])}" in text
    assert "In the class task the terms that separate the methods" in baselines.reading(df)
    assert "CU" in baselines.headline_markdown(df, "quick")
    fig = baselines.gap_figure(df, "quick")
    assert len(fig.axes) == sum(not rs.slot_rows(df, s).empty for s in rs.SLOTS)
    plt.close(fig)


def test_baseline_empty_states(tmp_path):
    df = baselines.profile_rows("quick", root=tmp_path)
    table, cap, text = baselines.slot_texts(df, "sample10", "quick")
    assert "No `quick` results" in table and cap.endswith("not run yet.") and text == "Not run yet."
    assert baselines.reading(df) == "No results to read yet."
    assert "were found at build time" in baselines.headline_markdown(df, "quick")
    assert "knob study has no results yet" in baselines.knobs_markdown(pd.DataFrame())
    assert baselines.findings(pd.DataFrame(), pd.DataFrame()) == "CU has no result here yet."


def test_cost_readings():
    texts = cost_readings.paper_cu_texts()
    assert texts["paper_cu_class"] == "3.1 %" and texts["paper_cu_sample"] == "6.4 %"  # the paper's claim
    assert texts["paper_cu_sample_raw"].endswith(" min")
    gaps = {key: {} for key in cost_readings.GAP_TASKS}
    words = cost_readings.gap_texts(gaps)
    assert len(words) == 3 * len(cost_readings.GAP_NAMES) + 1 and set(words.values()) == {"–"}
    summary = pd.DataFrame({"profile": ["p"], "task_label": ["class 5"], "label": ["contrastive"], "time_pct": [12.345]})
    assert cost_readings.cu_value(summary, "p", "class 5", "time_pct") == "12.3 %"
    assert cost_readings.cu_value(summary, "p", "500 samples", "time_pct") == "–"
    assert cost_readings.here_max_text(pd.DataFrame()) == "–"
    fig = cost_readings.pace_figure(pd.DataFrame(), {})
    plt.close(fig)


def test_probe_texts_carry_the_stats(quick):
    text, verdict = probe.probe_texts(quick, "class")
    stats = report.mean_std(quick[quick["task"] == "class"], ["method"], ["probe_forget"]).set_index("method")
    r = stats.loc["retrain"]
    assert f"{rs.fmt_pm(r['probe_forget'], r['probe_forget_std'])} % under Retrain" in text
    assert verdict.startswith("Here CU's probe accuracy is")
    assert probe.probe_texts(pd.DataFrame(), "sample")[1] == "The probe has not been run on CU and Retrain yet."
    fig = probe.probe_figure(quick)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_probe_empty_states(tmp_path):
    fig, cap = probe.tsne_figure("class", root=tmp_path)
    assert cap == "Not run yet."
    plt.close(fig)
    assert probe.probe_caption(probe.probe_rows(root=tmp_path)) == "No results yet."


def test_figure2_rules_and_empty_scales():
    end = figure2.END
    rules = figure2.figure2_rules({}, tol=5.0, not_yet=50.0)
    values = {"contrastive": {end: 2.0}, "boundary_shrink": {end: 40.0}, "scrub": {end: 30.0}}
    assert rules["zero"](values) == (True, "CU is at 2.0 % after one pass")
    assert rules["boundary"](values)[0] is True
    assert rules["scrub"](values) == (False, "SCRUB is at 30.0 % after one pass")
    assert rules["unsir"](values) == (None, "UNSIR was not run")
    assert rules["batch"](values)[0] is None
    assert list(figure2.per_pass(pd.DataFrame())) == figure2.COURSE
    verdicts = figure2.figure2_verdicts([], {})
    assert set(verdicts) == {"zero", "boundary", "scrub", "unsir", "batch"}
    assert verdicts["zero"][2] == report.verdict(True)  # the paper's CU ends its first epoch at 0 %
    fig = figure2.figure2_plot([], {})
    plt.close(fig)
    assert figure2.not_run([], {}) == ", ".join(map(paper_label, figure2.curves()))  # the book's spelling


def test_quickstart_values(tmp_path):
    results = quickstart.results_folder()
    try:
        metrics, history = quickstart.load_runs(results)
    except FileNotFoundError:
        pytest.skip("no quickstart results in this checkout")
    values = quickstart.glue_values(metrics)
    assert values["original_test"] == f"{100 * metrics['original']['acc']['test']:.2f}"
    assert values["provenance"].endswith("Profile: quickstart.") and len(values) == 7 + 2 * (len(quickstart.SPLITS) + 5)
    summary = quickstart.run_summary(results, metrics)
    assert summary.splitlines()[0] in ("results folder: data/results", "results folder: book/_build/quickstart-results",
                                       f"results folder: …/{results.parent.name}/{results.name}")
    assert "+dirty" not in summary and "/work/" not in summary and "1 threads" not in summary
    plt.close(quickstart.training_curves(metrics, history))
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        quickstart.load_runs(tmp_path)


def test_chapter_shared_helpers(tmp_path):
    assert beyond.chapter_profiles(root=tmp_path) == (
        "none", "Not found at build time: quick, cifar-cpu, ablations; the pages say what this leaves out.")
    assert "note" not in beyond.table_or_note(pd.DataFrame({"a": [1]}), "note")
    assert beyond.table_or_note(pd.DataFrame(), "nothing yet") == rs.note_table("nothing yet")
    assert list(beyond.space_colours()) == beyond.SPACES


@pytest.mark.parametrize("cu, verdict", [(8.0, "farther from Retrain than the untouched original model (8.0 against "
                                               "2.0 points, 4.0 times as far)"),
                                         (2.2, "not clearly closer to Retrain"), (0.5, None)])
def test_baseline_findings_say_when_cu_is_farther_than_doing_nothing(monkeypatch, cu, verdict):
    """Issue 21: CU four times farther than the original must not read 'not clearly closer'."""
    from cu_book import report_studies as rs

    monkeypatch.setattr(rs, "noise_floor", lambda rows: 0.5)
    monkeypatch.setattr(rs, "original_gap", lambda rows: pd.Series({"mean": 2.0, "std": 0.5, "n": 3}))
    stats = pd.DataFrame({"method": ["contrastive", "scrub", "retrain"], "avg_gap": [cu, 3.0, 0.0],
                          "avg_gap_std": [0.1, 0.1, 0.0]}).sort_values("avg_gap")
    text = baselines.findings(pd.DataFrame(), stats)
    if verdict is None:
        assert "farther" not in text and "not clearly" not in text
    else:
        assert verdict in text and ("not clearly" in text) == (cu < 3)


def test_figure2_not_run_uses_the_book_spelling():
    """Issue 21: with no per-pass course the page lists the paper's methods in the book's spelling."""
    text = figure2.not_run([], {})
    assert "Boundary Expanding" in text and "Boundary Expansion" not in text
