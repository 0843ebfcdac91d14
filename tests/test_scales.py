"""Several scales on one reproduction page (cu_book.scales): which profiles are shown, the joint table, and
verdicts that say where the scales disagree."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cu_book import power, scales
from cu_book import report

SOURCE = Path(__file__).parents[1] / "data" / "results" / "cifar-cpu" / "compare_sample" / "seed-0_4fce9fb2"
EVALS = {"D_ts": "acc_test", "D^u_tr": "acc_forget_train"}
COLUMNS = ["Retrain", "Contrastive"]


def copy_run(root: Path, profile: str, change: dict[str, dict[str, float]] | None = None) -> None:
    """The committed cifar-cpu 500-sample run (original, retrain, contrastive) as `profile` (trained for that
    profile's training length), with accuracies changed per sub-run: {sub-run: {acc key: value}}."""
    dest = root / profile / "compare_sample" / SOURCE.name
    for sub in ("original", "retrain", "contrastive"):
        (dest / "runs" / sub).mkdir(parents=True)
        metrics = json.loads((SOURCE / "runs" / sub / "metrics.json").read_text())
        metrics["acc"].update((change or {}).get(sub, {}))
        metrics["config"]["train"]["epochs"] = report.main_epochs(profile)  # the profile's own training length
        (dest / "runs" / sub / "metrics.json").write_text(json.dumps(metrics))
    summary = json.loads((SOURCE / "metrics.json").read_text())
    summary["runs"] = ["contrastive", "original", "retrain"]  # the sub-runs copied (the others would be named)
    (dest / "metrics.json").write_text(json.dumps(summary))


@pytest.fixture
def two_scales(tmp_path):
    if not SOURCE.is_dir():
        pytest.skip("the committed cifar-cpu results are not in this checkout")
    # memorising originals: the original knows its forget set (99 %), Retrain does not (80 %), CU matches Retrain
    copy_run(tmp_path, "cifar-converged", {"original": {"forget_train": 0.99}, "retrain": {"forget_train": 0.80},
                                           "contrastive": {"forget_train": 0.81, "test": 0.75}})
    copy_run(tmp_path, "cifar-cpu")
    copy_run(tmp_path, "quick")
    return tmp_path


def rule(v):
    cu, rt = v["contrastive"]["D^u_tr"], v["retrain"]["D^u_tr"]
    return abs(cu - rt) <= 5, f"CU {cu:.1f} %, Retrain {rt:.1f} %"


def test_every_cifar_scale_is_shown_and_digits_only_without_them(two_scales):
    shown = scales.pick_scales(lambda d: d[d["task"] == "sample"], root=two_scales)
    assert [s.profile for s in shown] == ["cifar-converged", "cifar-cpu"]  # quick is not shown beside CIFAR
    only_quick = scales.pick_scales(lambda d: d[d["data"] == "digits"], root=two_scales)
    assert only_quick == []  # the copies are CIFAR-10 runs: no digits rows anywhere
    shutil.rmtree(two_scales / "cifar-converged"), shutil.rmtree(two_scales / "cifar-cpu")
    assert [s.profile for s in scales.pick_scales(lambda d: d, root=two_scales)] == ["quick"]


def test_table_has_the_paper_then_one_block_per_scale(two_scales):
    shown = scales.pick_scales(lambda d: d[d["task"] == "sample"], root=two_scales)
    paper = report.paper_table({"t": {"columns": COLUMNS, "rows": [["RN18", "D_ts", 84.0, 83.0],
                                                                    ["RN18", "D^u_tr", 83.0, 82.0]]}}, "t")
    table = scales.table(paper, shown, EVALS, COLUMNS)
    assert list(dict.fromkeys(table.index.get_level_values("Source"))) == [
        "Paper (v1)", "Ours (cifar-converged)", "Ours (cifar-cpu)"]
    assert table.loc[("Ours (cifar-converged)", "cnn4", "D^u_tr"), "Contrastive"] == "81.0"
    assert "Profile: cifar-converged" in scales.captions(shown) and "Profile: cifar-cpu" in scales.captions(shown)


def test_verdicts_name_each_scale_when_they_differ(two_scales):
    shown = scales.pick_scales(lambda d: d[d["task"] == "sample"], root=two_scales)
    text, why = scales.verdicts(rule, shown, EVALS, COLUMNS)
    assert text == "holds (memorising CPU originals); does not hold (5-epoch CPU originals)"
    assert "CU 81.0 %, Retrain 80.0 %" in why
    check = lambda s: power.runs_power(s.runs, "acc_forget_train", 5.0, signal=False)  # noqa: E731
    text, why = scales.verdicts(rule, shown, EVALS, COLUMNS, power=check)
    # converged: the original is 19 points above Retrain (beyond noise), so the pass is a real test
    assert text.startswith("holds (memorising") and "Not testable" not in why.split("5-epoch")[0]
    text, _ = scales.verdicts(rule, shown[1:], EVALS, COLUMNS, power=check, refute=True)
    assert text == "does not hold"  # a failure stands even where doing nothing would pass
    assert scales.verdicts(rule, [], EVALS, COLUMNS)[0] == "not tested at this scale"


def test_a_study_on_shorter_originals_is_not_the_profiles_result(two_scales):
    """A regime-study copy trained 5 epochs inside cifar-converged (30) is left out of its tables."""
    study = two_scales / "cifar-converged" / "regime" / SOURCE.name / "runs" / "contrastive"
    study.mkdir(parents=True)
    metrics = json.loads((SOURCE / "runs" / "contrastive" / "metrics.json").read_text())
    metrics["acc"]["forget_train"] = 0.0  # would change the mean if it were counted
    (study / "metrics.json").write_text(json.dumps(metrics))
    runs = report.canonical(report.subruns("cifar-converged", root=two_scales))
    cu = runs[runs["method"] == "contrastive"]
    assert len(cu) == 1 and cu["acc_forget_train"].iloc[0] == 81.0 and set(runs["epochs_trained"]) == {30}
    variant = two_scales / "cifar-converged" / "compare_sample" / SOURCE.name / "runs" / "contrastive_lambda1"
    variant.mkdir()
    metrics["config"]["train"]["epochs"] = 30
    (variant / "metrics.json").write_text(json.dumps(metrics))
    with_l1 = scales.with_variants(report.subruns("cifar-converged", root=two_scales), ["contrastive_lambda1"])
    assert len(with_l1) == len(runs) + 1  # the variant as a method of its own
    assert with_l1["method"].tolist()[-1] == "contrastive_lambda1"
