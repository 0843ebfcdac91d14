"""`python -m cu_lab tune` (issue 20): declared search spaces, the objectives, bad input refused before
any work, and two processes sharing one study on tiny data without duplicated trials, within the budget."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from cu_lab.__main__ import main
from cu_lab.tune_objectives import oracle, retrain_free
from cu_lab.tune_space import start_params, suggest
from cu_core.unlearn import METHODS
from cu_core.unlearn.presets import preset_for

ROOT = Path(__file__).resolve().parents[1]
TINY = {"name": "tiny_tune", "description": "digits, 2 training epochs, the class task", "seeds": [0],
        "defaults": {"dataset": "digits", "model": "cnn4", "train_epochs": 2, "preset": "digits"},
        "experiments": {"compare_class": {"template": "compare_methods.ipynb", "params": {"task": "class"}}}}


def test_every_method_but_retrain_declares_a_space_whose_draws_are_valid_configs():
    for name, method in METHODS.items():
        assert bool(method.space) != method.reference, name
        if not method.space:
            continue
        for seed in range(3):  # random draws of the whole space build valid configs over the digits preset
            trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
            method.config(**{**preset_for("digits", name), **suggest(trial, method.space)})
        assert all(p.source for p in method.space.values()), f"{name}: every range says where it comes from"
    cu = METHODS["contrastive"].space
    assert {"temperature", "lambda_ul", "omega", "lr", "stop_rule"} <= set(cu)
    assert "test" not in cu["stop_rule"].choices  # tuning never reads the test set


def test_a_trials_passes_are_capped_to_what_is_left_of_the_budget():
    from cu_lab.tune_study import pass_caps

    def done(samples: int, passes: int, state=optuna.trial.TrialState.COMPLETE):
        return optuna.trial.create_trial(state=state, value=1.0 if state.name == "COMPLETE" else None,
                                         user_attrs={"samples": samples, "passes": passes})

    assert pass_caps([], 1000) == {}  # no finished pass yet: nothing to go by
    assert pass_caps([done(500, 0)], 1000) == {}  # a one-shot method has no passes to cap
    # the costliest rate seen (300 examples per pass) decides; at least one pass is always allowed
    assert pass_caps([done(1000, 10), done(900, 3)], 2000) == {"max_passes": 6, "epochs": 6}
    assert pass_caps([done(1000, 10)], 50) == {"max_passes": 1, "epochs": 1}
    assert pass_caps([done(900, 3, optuna.trial.TrialState.FAIL)], 2000) == {}  # failed trials are no measure
    cu = METHODS["contrastive"].space
    for seed in range(20):
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        drawn = suggest(trial, cu, {"max_passes": 7, "epochs": 7})
        assert int(cu["max_passes"].low) <= drawn["max_passes"] <= 7
        low = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        assert suggest(low, cu, {"max_passes": 2})["max_passes"] == int(cu["max_passes"].low)  # never below low


def test_objectives():
    terms = {"ua": 90.0, "ra": 99.0, "ta": 95.0, "mia": 80.0, "fa": 10.0}
    assert oracle(terms, terms) == 0.0
    assert oracle(terms, {**terms, "ua": 100.0, "mia": 100.0}) == pytest.approx(7.5)
    assert retrain_free(terms, {**terms, "ta": 97.0}, "class") == pytest.approx(10.0 + 2.0)
    assert retrain_free(terms, {**terms, "ta": 90.0}, "sample") == pytest.approx(85.0)


@pytest.mark.parametrize("args, parameter", [
    (["--method", "nope"], "method"), (["--method", "retrain"], "method"), (["--task", "everything"], "task"),
    (["--method", "unsir", "--task", "sample"], "task"), (["--budget", "0"], "budget"),
    (["--budget", "-5"], "budget"), (["--objective", "oracel"], "objective"), (["--profile", "no_such"], "profile"),
])
def test_bad_input_is_refused_naming_the_parameter_before_any_work(tmp_path, capsys, args, parameter):
    base = {"--profile": "quick", "--method": "contrastive", "--task": "class", "--budget": "1000"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["tune", *[x for kv in base.items() for x in kv], "--results-dir", str(tmp_path / "r")]
    assert main(argv) == 2
    assert parameter in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_budget_that_is_not_an_integer_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tune", "--profile", "quick", "--method", "contrastive", "--task", "class", "--budget", "lots"])
    assert exc.value.code == 2 and "--budget" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_share_one_study_without_duplicates_within_the_budget(tmp_path):
    profile = tmp_path / "tiny_tune.yaml"
    profile.write_text(yaml.safe_dump(TINY))
    budget = 3000
    cmd = [sys.executable, "-m", "cu_lab", "tune", "--profile", str(profile), "--method", "neggrad",
           "--task", "class", "--budget", str(budget), "--results-dir", str(tmp_path / "results"), "--no-eval",
           "--threads", "1", "--no-progress"]
    env = {**os.environ, "CU_CACHE_DIR": str(tmp_path / "cache"), "TQDM_DISABLE": "1"}
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    folder = tmp_path / "results" / "tiny_tune" / "tuning" / "class" / "neggrad" / "oracle"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "journal.log")))
    trials = optuna.load_study(study_name=None, storage=storage).get_trials()
    assert trials and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    runs = sorted(p.name for p in (folder / "runs").iterdir())
    assert runs == sorted(t.user_attrs["run"] for t in trials) and len(set(runs)) == len(trials)  # one run each
    first = min(trials, key=lambda t: t.number)
    assert first.params == start_params("neggrad", "digits")  # the search starts from the method's own settings
    draws = [json.dumps(t.params, sort_keys=True) for t in trials]
    assert len(set(draws)) == len(draws)  # no draw was run twice
    samples = [t.user_attrs["samples"] for t in trials]
    metrics = [json.loads((folder / "runs" / t.user_attrs["run"] / "metrics.json").read_text()) for t in trials]
    assert samples == [m["cost"]["samples"] for m in metrics]
    assert budget <= sum(samples) <= budget + max(samples)  # spent, and respected to within one trial
    again = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)  # resume: nothing left
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1])["trials"] == len(trials)


def _summary(root: Path, task: str, method: str, objective: str, tuned: list[float], default: list[float]) -> None:
    folder = root / "fake" / "tuning" / task / method / objective
    folder.mkdir(parents=True)
    rows = lambda gaps: [{"seed": s, "avg_gap": g, "samples": 100, "seconds": 1.0, "forget_acc": 0.0}  # noqa: E731
                         for s, g in enumerate(gaps)]
    (folder / "summary.json").write_text(json.dumps({
        "profile": "fake", "method": method, "task": task, "objective": objective, "budget": 1000, "spent": 1100,
        "trials": 4, "complete": 4, "failed": 0, "eval_seeds": [0, 1, 2], "params": {"dataset": "digits",
        "model": "cnn4"}, "best_params": {"lr": 0.0123456}, "best_value": 1.0, "default": rows(default),
        "tuned": rows(tuned)}))


def test_the_book_reads_a_fake_tuning_tree(tmp_path):
    from cu_book import tuning

    _summary(tmp_path, "class", "contrastive", "oracle", [1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    _summary(tmp_path, "class", "salun", "oracle", [2.0, 1.5, 4.0], [9.0, 8.0, 7.0])
    _summary(tmp_path, "class", "finetune", "oracle", [6.0, 6.0, 6.0], [9.0, 9.0, 9.0])
    df = tuning.summaries("fake", tmp_path)
    gaps, settings = tuning.gaps_and_settings(df, "class")
    assert list(gaps.method) == ["CU", "SalUn", "Finetune"]
    assert gaps.iloc[0]["tuned (oracle)"] == "2.00 ± 1.00" and gaps.iloc[0]["default"] == "5.00 ± 0.00"
    assert settings.iloc[0]["best settings (oracle)"] == "lr 0.0123" and settings.iloc[0]["examples (oracle)"] \
        == "1,100 / 1,000"
    verdict = tuning.leads(df, "class")
    assert verdict["holds"] and verdict["rival"] == "SalUn" and verdict["wins"] == 2 and verdict["no_power"]
    assert "0.125" in verdict["verdict"] and "2 of 3 seeds" in verdict["verdict"]
    assert "Examples spent: CU 1,100 (1.10× the budget), SalUn 1,100 (1.10× the budget)" in verdict["verdict"]
    assert tuning.spend_text(df[df.method == "contrastive"].assign(spent=900), "salun") == ""  # within budget
    assert tuning.leads(df, "sample")["holds"] is None
    assert "digits, cnn4, class task" in tuning.caption(df, "fake", "class")
    assert tuning.importances(df, "class").empty  # no journal in the fake tree
    titles = [ax.get_title() for ax in tuning.importance_figure(df, "fake").axes]  # a note where no journal
    assert titles == ["class, oracle (4 trials)", "class, retrain-free (0 trials)", "sample, oracle (0 trials)",
                      "sample, retrain-free (0 trials)"]
    assert "class task, oracle: SalUn" not in tuning.missing_text(df, "fake")
    assert "class task, retrain-free: CU" in tuning.missing_text(df, "fake")
    from cu_book.findings import tuned_verdicts  # the findings page words it as the tuning page does

    assert tuned_verdicts("fake", tmp_path) == {"tuned_class": verdict["verdict"],
                                                 "tuned_sample": tuning.leads(df, "sample")["verdict"]}
    assert list(tuned_verdicts("fake", tmp_path, prefix="tuned_conv_")) == ["tuned_conv_class", "tuned_conv_sample"]


def test_the_settings_table_says_when_both_objectives_chose_one_setting(tmp_path):
    from cu_book import tuning

    _summary(tmp_path, "class", "contrastive", "oracle", [1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    _summary(tmp_path, "class", "contrastive", "retrain-free", [1.0, 2.0, 3.0], [5.0, 5.0, 5.0])  # lr 0.0123456
    _summary(tmp_path, "class", "salun", "oracle", [2.0, 1.5, 4.0], [9.0, 8.0, 7.0])
    (tmp_path / "fake" / "tuning" / "class" / "salun" / "retrain-free").mkdir()
    summary = json.loads((tmp_path / "fake/tuning/class/salun/oracle/summary.json").read_text())
    (tmp_path / "fake/tuning/class/salun/retrain-free/summary.json").write_text(json.dumps(
        {**summary, "objective": "retrain-free", "best_params": {"lr": 0.5}}))
    _, settings = tuning.gaps_and_settings(tuning.summaries("fake", tmp_path), "class")
    assert list(settings["best settings (retrain-free)"]) == ["same as oracle", "lr 0.5"]
    assert list(settings["best settings (oracle)"]) == ["lr 0.0123", "lr 0.0123"]


def test_the_book_reads_a_study_searched_but_not_evaluated(tmp_path):
    """`tune --no-eval` leaves a request and a journal, no summary: the page lists the search, with no gaps."""
    from optuna.distributions import FloatDistribution

    from cu_book import tuning

    _summary(tmp_path, "class", "salun", "oracle", [2.0, 1.5, 4.0], [9.0, 8.0, 7.0])
    folder = tmp_path / "fake" / "tuning" / "class" / "contrastive" / "oracle"
    folder.mkdir(parents=True)
    (folder / "request.json").write_text(json.dumps({"profile": "fake", "method": "contrastive", "task": "class",
                                                     "objective": "oracle", "budget": 1000, "params": {
                                                         "dataset": "cifar10", "model": "cnn4"}}))
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "journal.log")))
    study = optuna.create_study(storage=storage, direction="minimize")
    assert tuning.summaries("fake", tmp_path).method.tolist() == ["salun"]  # no finished trial: not listed yet
    for lr, value, samples in ((0.01, 3.0, 400), (0.001, 1.5, 500)):
        study.add_trial(optuna.trial.create_trial(params={"lr": lr}, distributions={"lr": FloatDistribution(
            1e-4, 0.1, log=True)}, value=value, user_attrs={"samples": samples}))
    df = tuning.summaries("fake", tmp_path)
    row = df[df.method == "contrastive"].iloc[0]
    assert (row.trials, row.spent, row.best_params, row.best_value) == (2, 900, {"lr": 0.001}, 1.5)
    assert row.tuned_gaps == {} and row.dataset == "cifar10"
    gaps, settings = tuning.gaps_and_settings(df, "class")
    cu = gaps[gaps.method == "CU"].iloc[0]
    assert cu["tuned (oracle)"] == "–" and cu["trials (oracle)"] == 2
    assert settings[settings.method == "CU"].iloc[0]["search value (oracle)"] == "1.50"  # the best trial, seed 0
    assert settings[settings.method == "CU"].iloc[0]["examples (oracle)"] == "900 / 1,000"
    assert tuning.leads(df, "class")["holds"] is None  # no verdict before CU's test evaluation
    assert "not yet evaluated on test: CU (class, oracle)" in tuning.missing_text(df, "fake", tuning.CONVERGED)
    assert "class task, oracle: NegGrad+, Random Label, Bad Teacher, SSD;" in tuning.missing_text(
        df, "fake", tuning.CONVERGED)


def test_reuse_skips_copies_in_progress_and_gives_way_when_a_copy_fails(tmp_path, monkeypatch):
    """Two studies of one method evaluate side by side: one must never copy the other's hidden staging folder
    (renamed away under it), and a copy whose source vanishes or whose destination appeared writes nothing."""
    from cu_lab import tune_reuse
    from cu_lab.tune_reuse import copy_run, find

    monkeypatch.setattr(tune_reuse, "read_metrics", lambda path: json.loads(Path(path).read_text()))  # no schema

    runs = tmp_path / "eval" / "runs"
    metrics = {"config": {"a": 1}, "unlearn_config": {"lr": 0.1}}
    wanted = json.dumps(metrics, sort_keys=True)
    staging = runs / ".oracle-seed-0.copy-123"  # another process's copy in progress
    staging.mkdir(parents=True)
    (staging / "metrics.json").write_text(json.dumps(metrics))
    (staging / "outputs.npz").write_bytes(b"x")
    assert find([tmp_path / "eval"], wanted) is None
    done = runs / "default-seed-0"
    staging.rename(done)
    assert find([tmp_path / "eval"], wanted) == done
    assert copy_run(done, runs / "oracle-seed-0") and (runs / "oracle-seed-0" / "outputs.npz").read_bytes() == b"x"
    (done / "more.csv").write_text("1")
    assert not copy_run(done, runs / "oracle-seed-0")  # written meanwhile by the other process: kept as it is
    assert not (runs / "oracle-seed-0" / "more.csv").exists()
    assert not copy_run(runs / "gone", runs / "oracle-seed-1") and not (runs / "oracle-seed-1").exists()
    assert sorted(p.name for p in runs.iterdir()) == ["default-seed-0", "oracle-seed-0"]  # no staging left
