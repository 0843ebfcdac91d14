"""The readers of the method chapter and the appendix (`cu_book.method_pages`, `loss_demo`, `loss_checks`,
`variant_numbers`, `variants_table`, `algorithm_demo`, `appendix`, `appendix_times`, `appendix_profiles`): the demos
compute what the equations say (checked against float64 hand computations), the tables have their rows and
columns, and the readers work on an empty or a small fake results folder. Quick: no model is trained.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from cu_book import (algorithm_demo, appendix, appendix_profiles, appendix_times, loss_checks,  # noqa: E402
                     loss_demo, variant_numbers, variants_table)
from cu_book.method_pages import angle, default_settings, float64, md_table, unit  # noqa: E402
from cu_book.formatting import commit_text  # noqa: E402
from cu_core.config import SplitConfig  # noqa: E402
from cu_core.losses import sample_unlearning_loss, total_loss  # noqa: E402
from cu_core.paths import project_root  # noqa: E402
from cu_core.unlearn.base import UnlearnResult  # noqa: E402
from cu_core.unlearn.contrastive import ContrastiveConfig  # noqa: E402

TAU = ContrastiveConfig().temperature


def md_rows(markdown) -> list[list[str]]:
    """The body rows of a Markdown table, as cells."""
    lines = markdown.data.splitlines()[2:]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]


def test_helpers_format_tables_defaults_and_dtype():
    table = md_table(["a", "b"], [["x|y", "two\nlines"]])
    assert table.data.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | two lines |"]
    d = default_settings()
    cu = ContrastiveConfig()
    assert (d["tau"], d["omega"]) == (f"{cu.temperature:g}", str(cu.omega))
    assert d["b_sample"] == str(cu.batch_size_for("sample"))
    assert d["val_pct"] == f"{100 * SplitConfig().val_fraction:g}"
    before = torch.get_default_dtype()
    with float64():
        assert torch.tensor([1.0]).dtype == torch.float64
    assert torch.get_default_dtype() == before
    assert torch.allclose(angle(unit(torch.tensor([10.0, 350.0], dtype=torch.float64))),
                          torch.tensor([10.0, 350.0], dtype=torch.float64))


def test_toy_moves_the_forget_sample_and_its_loss_is_eq5_by_hand():
    toy = loss_demo.toy(TAU, steps=20)
    assert toy.path_sample.shape == (21, 1, 2) and toy.path_class.shape == (21, int(toy.forget.sum()), 2)
    assert torch.allclose(toy.path_sample.norm(dim=-1), torch.ones(21, 1, dtype=torch.float64))
    readings = loss_demo.toy_readings(toy)
    assert float(readings["toy_own_after"]) < float(readings["toy_own_before"])  # pushed away from its class
    assert float(readings["toy_other_after"]) > float(readings["toy_other_before"])  # pulled to the others
    # Eq. (5) for the one anchor, by hand in float64: -mean over negatives of s_ia + log sum over positives exp(s_ip)
    s = (toy.z_u0 @ toy.z_r.T)[0] / TAU
    pos = toy.y_r == toy.y_u[0]
    by_hand = float(-s[~pos].mean() + torch.logsumexp(s[pos], 0))
    loss_ul = sample_unlearning_loss(toy.z_u0, toy.y_u, toy.z_r, toy.y_r, TAU)
    assert loss_ul.dtype == torch.float64 and float(loss_ul) == pytest.approx(by_hand, rel=1e-12)
    logits = 5.0 * toy.z_r @ unit(toy.centres).T
    _, terms = total_loss(loss_ul, logits, toy.y_r, lambda_ul=3.0, lambda_ce=1.0)
    ce = float(torch.nn.functional.cross_entropy(logits, toy.y_r))
    assert terms["loss"] == pytest.approx(3.0 * by_hand + ce, rel=1e-12)
    fig = loss_demo.toy_figure(toy)
    assert len(fig.axes) == 2
    matplotlib.pyplot.close(fig)


def test_class_loss_check_agrees_with_the_hand_computation():
    table, readings = loss_checks.class_loss_check(TAU, dim=8, anchors=3, retain_sizes=(4, 16))
    rows = md_rows(table)
    assert [r[0] for r in rows] == ["4", "16"] and all(len(r) == len(loss_checks.CLASS_CHECK_HEADER) for r in rows)
    for r in rows:  # loss, paper = pull terms + B_u log|N_i| (to the printed 4 decimals)
        assert float(r[1]) == pytest.approx(float(r[2]) + 3 * math.log(int(r[0])), abs=2e-4)
    assert float(readings["cls_grad_err"]) < 1e-12 and float(readings["cls_value_err"]) < 1e-12
    assert float(readings["cls_grad_gap"]) < 1e-12 and readings["cls_anchors"] == "3"


def test_temperature_weights_are_those_of_the_gradient_equation():
    w, norm = loss_checks.temperature_weights(TAU)
    n_pos, n_neg = len(loss_checks.POS_ANGLES), len(loss_checks.NEG_ANGLES)
    assert torch.allclose(w[n_pos:], torch.full((n_neg,), -1 / (TAU * n_neg), dtype=torch.float64))
    cos = torch.cos(torch.deg2rad(torch.tensor(loss_checks.POS_ANGLES, dtype=torch.float64)))
    assert torch.allclose(w[:n_pos], torch.softmax(cos / TAU, 0) / TAU)  # pi_ip / tau
    assert norm > 0
    r = loss_checks.temperature_readings(TAU, small=0.1, large=2.0)
    assert int(r["tau_small_near"]) > int(r["tau_default_near"]) > int(r["tau_large_near"])
    fig = loss_checks.temperature_figure(TAU, taus=np.geomspace(0.1, 2.0, 5))
    assert len(fig.axes) == 2
    matplotlib.pyplot.close(fig)


def test_variant_readings():
    r = variant_numbers.variant_readings(ContrastiveConfig(), classes=10, many_classes=100, trials=10)
    assert float(r["pw_err"]) < 1e-10  # official / paper push equals B/|N_i| counted from the labels
    assert 1 < float(r["pw_min"]) <= float(r["pw_mean"]) <= float(r["pw_max"])
    assert float(r["red_ratio"]) == pytest.approx(int(r["red_active"]), abs=0.06)  # sum / mean = active anchors
    assert r["np_p0"] == f"{100 * 0.99 ** 128:.0f}" and variant_numbers.p_no_positive(2, 3) == 0.125


def test_variants_tables_follow_the_configuration_and_the_parser():
    rows = [("a", "p", "c", (ContrastiveConfig, "variant"), "w"), ("b", "p", "c", None, "w")]
    out = md_rows(variants_table.differences_table(rows))
    assert out[0][3:5] == ["`variant`", f"`{ContrastiveConfig().variant!r}`"] and out[1][3:5] == ["—", "—"]
    changed = variants_table.changed_settings({ContrastiveConfig: ContrastiveConfig(variant="official",
                                                                                  joint_forward=False)})
    assert [(name, new) for _, name, _, new in changed] == [("variant", "official"), ("joint_forward", False)]
    assert len(md_rows(variants_table.preset_table(changed))) == 2
    command = variants_table.cli_command(changed)
    assert "--variant official" in command and "--no-joint-forward" in command and command.endswith("--out DIR")
    table, n = variants_table.config_table()
    assert n == len(dataclasses.fields(ContrastiveConfig)) == len(md_rows(table))


def fake_run(rule_passes: int, reason: str) -> UnlearnResult:
    passes = [{"pass": k, "steps": 3 * k, "heldout_acc": 0.5 / k, "forget_acc": 0.6 / k}
              for k in range(1, rule_passes + 1)]
    history = [{"step": s, "loss_ul": 1.0, "loss_ce": 0.1} for s in range(1, 3 * rule_passes + 1)]
    return UnlearnResult(model=None, history=history, passes=passes, stop_reason=reason, steps=3 * rule_passes,
                         seconds={"unlearn": 1.25})


def test_algorithm_readers_on_fake_runs():
    runs = {"val": fake_run(2, "condition"), "test": fake_run(3, "max_passes")}
    acc = {name: {"forget_train": 0.5, "forget_test": 0.25, "retain_test": 0.9}
           for name in ("original", "val", "test")}
    table = algorithm_demo.run_table(runs, acc)
    assert list(table.columns) == ["original", "val", "test"] and table.loc["passes", "test"] == 3
    fig = algorithm_demo.run_figure(runs, num_classes=10)
    assert len(fig.axes) == 2
    matplotlib.pyplot.close(fig)
    split = SimpleNamespace(task="class", sizes=lambda: {"forget": 130, "val_forget": 9, "test_forget": 40})
    prep = SimpleNamespace(device="cpu", display="digits", split=split, num_classes=10)
    cfg = SimpleNamespace(model=SimpleNamespace(name="mlp"), train=SimpleNamespace(seed=0))
    r = algorithm_demo.run_readings(cfg, prep, SimpleNamespace(seconds=2.0), runs, acc, 3.0)
    assert (r["steps_per_pass"], r["last_batch"], r["val_passes"], r["test_reason"]) == ("3", "2", "2", "max_passes")
    assert r["val_verdict"].startswith("at or below the chance level of 10%") and "cap" in r["test_verdict"]
    assert r["original_forget_test"] == "25.0" and r["original_train_s"] == "2.0"


def test_appendix_readers_on_a_small_results_folder(tmp_path):
    assert [appendix_times.clock(s) for s in (12.34, 200, 3725)] == ["12.3 s", "3 min 20 s", "1 h 02 min"]
    assert appendix.array_sha256(np.arange(3)) == hashlib.sha256(np.arange(3).tobytes()).hexdigest()
    assert appendix.splits_table(tmp_path) == appendix.NO_RESULTS == appendix.recorded_table({"p": []})
    run = tmp_path / "prof" / "exp" / "run1"
    shutil.copytree(project_root() / "data" / "results" / "quick" / "compare_sample" / "seed-0_98c3ad97", run)
    summary = json.loads((run / "metrics.json").read_text())
    found = appendix.summaries("prof", tmp_path)
    assert found == [summary] and appendix.quickstart_runs(tmp_path) == []
    commit = appendix.recorded_table({"prof": found}).loc["prof", "git commit(s)"]
    assert commit == commit_text(summary["git_commit"])  # "(uncommitted changes)", never "+dirty" (issue 21)
    assert list(appendix.environment_table({"prof": found}).columns) == ["this build", "prof"]
    splits = appendix.splits_table(tmp_path)  # every sub-run of the one run used the same split
    assert splits["models"].tolist() == [len(list((run / "runs").glob("*/metrics.json")))]
    assert splits["profiles"].tolist() == ["prof"]
    times, readings = appendix_times.times_table([], {}, [{"seconds": {"train": 60, "eval": 5}, "device": "cpu"}],
                                                 tmp_path)
    assert readings == {"wall_quickstart": "1 min 05 s"} and times.index.tolist() == ["quickstart (make book)"]
    assert appendix_times.repeats_table([], tmp_path) == (None, "No model in these results was trained twice.")
    assert set(appendix.data_readings()) >= {"digits_train_sha", "cifar_md5", "svhn_test_md5", "archive_state"}


def test_profile_and_template_tables(tmp_path):
    assert appendix_profiles.compact({"a": "1,2", "b": 3}) == "a=1, 2, b=3" and appendix_profiles.compact({}) == "–"
    params = {"t1.ipynb": {"seed": {"inferred_type_name": "int", "default": "0", "help": "seed"},
                           "knob": {"inferred_type_name": "str", "default": "'x'", "help": "k"}},
              "t2.ipynb": {"seed": {"inferred_type_name": "int", "default": "1", "help": "seed"}}}
    shared = appendix_profiles.shared_parameters(params)
    assert shared == ["seed"]
    table = appendix_profiles.shared_table({**params, "t3.ipynb": params["t1.ipynb"]}, shared)
    assert table.loc["seed", "default"] == "0" and table.loc["seed", "other defaults"] == "t2.ipynb: 1"
    from cu_core.experiments.grid import expand, load_profile
    profile = load_profile("smoke")
    runs = {"smoke": expand(profile)}
    ((text, experiments),) = appendix_profiles.profile_sections({"smoke": profile}, runs, tmp_path)
    assert "**`smoke`**" in text.data and set(experiments.index) == set(profile.experiments)
    every_run = appendix_profiles.all_runs_table(runs, tmp_path)
    assert experiments["runs"].sum() == len(runs["smoke"]) == len(every_run)
    assert set(every_run["finished"]) == {"no"}
    title, _ = appendix_profiles.title_and_summary("ablation.ipynb")
    sections = appendix_profiles.template_sections({"ablation.ipynb": params["t1.ipynb"]}, shared,
                                                   {"ablation.ipynb": ["quick", "quick"]})
    ((intro, own),) = sections
    assert title and title in intro.data and "quick: 2" in intro.data and own.index.tolist() == ["knob"]
