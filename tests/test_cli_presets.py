"""`python -m cu_core unlearn` starts each method from its dataset's preset (`cu_core.unlearn.presets`, the table
the experiment profiles use), so a first run from the command line with the defaults unlearns as the profiles'
runs do; `--preset NAME|none` picks another table or none, explicit flags beat the table, a bad name exits 2.

(a) Every registered method from the command line with its defaults on the digits class task (class 5), one
original shared through the session's checkpoint cache (`digits_runs`): the method config is the profiles' one,
the other classes keep their test accuracy and the forget class's falls. Measured on this project's CPU (2 cores,
one thread; forget-class / other-class test accuracy, original 1.000 / 0.985): contrastive 0.03 / 0.99, retrain
0.00 / 0.99, neggrad 0.00 / 0.99, random_label 0.35 / 0.95, salun 0.00 / 0.95, scrub 0.00 / 0.98, bad_teacher
0.00 / 0.98, ssd 0.00 / 0.99, boundary_shrink 0.22 / 0.98, boundary_expanding 0.24 / 0.98, unsir 0.00 / 0.99;
partly: fisher 0.43 / 0.99 (the quick profile, seeds 0-2: 0.16-0.30), neggrad_plus 0.65 / 0.98 (profile: 0.46-0.70);
finetune 0.00 / 0.98 with the table's lr 0.05 at batch 64 and l1_sparse 0.00 / 0.96-1.00 (seeds 0-2, one and two
threads) with lr 0.03 at batch 32 (their public defaults, lr 0.01 at batch 256: 1.00 / 0.99; l1_sparse at lr 0.05,
batch 64: 0.00-0.32 / 0.80-0.97). Not at all: lcodec. Its Newton step barely moves a model that has memorised the
class, or it wipes the model; no setting forgets on every original (forget / other classes, ε chosen so the noise σ
stays at the table's ≈ 0.009): λ 0.01 (the code's) 1.00 / 0.98; λ 1e-3 0.97 / 0.99; λ 5e-4 0.00 / 0.98 but 0.89 /
0.98 on seed 1; λ 4e-4 wiped on seed 0; λ 2e-4, 1e-4 and --selection full 0.00 / 0.11 (one class predicted
everywhere); λ 1e-3 at 8 deletions per Newton step 0.00 / 0.98-0.99 on seeds 0-2 of the one-thread CLI original
but 0.00 / 0.13 on this module's original. Its test is a strict xfail, so a table that fixes it fails here until
the expectation is updated.
Before the CLI used the presets (now `--preset none`): neggrad, random_label, salun, scrub, bad_teacher (and
finetune, l1_sparse) left class 5 at 0.92-1.00; Fisher left the other classes at 0.34 and UNSIR at 0.11.
(b) `--preset none` / `digits` / the dataset default / an explicit flag / a bad name, mostly at the config level.
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from cu_core.cli import build_parser, configs_from_args, main
from cu_core.results import read_metrics
from cu_core.unlearn import METHODS, method_config
from cu_core.unlearn.presets import PRESETS, method_settings, preset_for

#: Other classes' test accuracy after unlearning: the lowest measured is 0.947 (random_label, salun).
OTHER_CLASSES_MIN = 0.85
#: SSD (public defaults: α 10, λ 1) depends on the original: 0.985 with a one-thread original, 0.70 under
#: `make test` (two threads train a slightly different original). A looser bound until the digits table has an SSD entry.
OTHER_CLASSES_MIN_FOR = {"ssd": 0.6}
#: Forget-class test accuracy / the original's (1.00 on digits): the methods that forget reach <= 0.35.
FORGET_RATIO_MAX = 0.5
#: Methods the digits table makes forget only partly: a looser bound, from the spread of their measurements
#: (Fisher's noise: 0.43 here, 0.16-0.30 in the quick profile; NegGrad+ at the table's 5 epochs: 0.65 / 0.46-0.70).
PARTIAL = {"fisher": 0.8, "neggrad_plus": 0.8}
#: Methods the digits table does not make forget (forget-class test accuracy stays 1.00, as in the profiles).
NOT_FORGETTING = {
    "lcodec": "LCODEC's Newton step leaves class 5 at 0.97-1.00 (lambda 0.01, 1e-3) or wipes some originals "
              "(smaller lambda, smaller deletion batches, full selection); the digits table keeps the code's lambda",
}


def _argv(method: str, out, cache, *flags: str) -> list[str]:
    return ["unlearn", "--method", method, "--dataset", "digits", "--task", "class", "--out", str(out),
            "--cache-dir", str(cache), "--no-progress", *flags]


@pytest.fixture(scope="module")
def cli_run(digits_runs, tmp_path_factory):
    """method → metrics of `python -m cu_core unlearn --method M --dataset digits --task class` (in process, each
    method once per module, from the session's cached original)."""
    out, cache, done = tmp_path_factory.mktemp("cli_presets"), digits_runs["root"] / "cache", {}

    def run(method: str) -> dict:
        if method not in done:
            assert main(_argv(method, out / method, cache)) == 0
            done[method] = read_metrics(out / method)
        return done[method]
    return run


def _parse(method: str, *flags: str):
    args = build_parser(method).parse_args(["unlearn", "--method", method, "--out", "x", *flags])
    return configs_from_args(args)[1]


def _as_json(config) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


@pytest.mark.slow
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_from_the_cli_defaults_keeps_the_other_classes_and_uses_the_profiles_config(method, cli_run):
    metrics = cli_run(method)
    assert metrics["method"] == method
    if method != "retrain":  # the config a profile with `preset: digits` builds (seed 0, no progress bars)
        profile = method_config(method, seed=0, progress=False, **method_settings(method, "digits"))
        assert metrics["unlearn_config"] == _as_json(profile)
    assert metrics["acc"]["retain_test"] >= OTHER_CLASSES_MIN_FOR.get(method, OTHER_CLASSES_MIN), metrics["acc"]


@pytest.mark.slow
@pytest.mark.parametrize("method", [
    pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=NOT_FORGETTING[m])) if m in NOT_FORGETTING else m
    for m in METHODS])
def test_every_method_from_the_cli_defaults_forgets_the_digits_class(method, cli_run):
    metrics = cli_run(method)
    original = metrics["acc_original"]["forget_test"]
    assert original >= 0.9  # the original knows class 5
    bound = PARTIAL.get(method, FORGET_RATIO_MAX)
    assert metrics["acc"]["forget_test"] < bound * original, (metrics["acc"], metrics["unlearn_config"])


def test_preset_none_gives_the_public_defaults():
    for method in METHODS:
        if method != "retrain":
            assert _parse(method, "--preset", "none") == method_config(method), method
            assert _parse(method, "--preset", "defaults") == method_config(method), method


def test_the_dataset_picks_its_table_and_preset_names_one():
    for method in METHODS:
        if method == "retrain":
            continue
        digits = method_config(method, **method_settings(method, "digits"))
        assert _parse(method) == digits == _parse(method, "--preset", "digits"), method
        cifar = method_config(method, **method_settings(method, "cifar-cpu"))
        assert _parse(method, "--dataset", "cifar10") == cifar, method
        assert _parse(method, "--preset", "cifar-cpu") == cifar, method
        assert _parse(method, "--dataset", "svhn") == method_config(method), method
    assert preset_for("digits", "scrub") == PRESETS["digits"]["scrub"] == {"lr": 1e-2, "forget_batch_size": 16}
    assert preset_for("digits", "scrub", "none") == {} and preset_for("digits", "retrain") == {}


def test_an_explicit_flag_beats_the_preset():
    scrub = _parse("scrub", "--lr", "0.05")
    assert scrub.lr == 0.05 and scrub.forget_batch_size == 16  # the flag's value; the table's other settings
    assert _parse("scrub", "--preset", "none", "--forget-batch-size", "8").forget_batch_size == 8
    assert _parse("neggrad", "--seed", "3").seed == 3 and _parse("neggrad", "--seed", "3").lr == 0.01


@pytest.mark.slow
def test_the_run_reports_the_preset_and_the_overrides(digits_runs, tmp_path, capsys):
    """NegGrad (1 s): the table's lr 0.01 forgets class 5, the public 1e-4 (`--preset none`) does not (0.92)."""
    cache = digits_runs["root"] / "cache"
    assert main(_argv("neggrad", tmp_path / "none", cache, "--preset", "none")) == 0
    out, err = capsys.readouterr()
    assert "preset 'defaults' (chosen by --preset" in err and json.loads(out)["preset"]["name"] == "defaults"
    assert read_metrics(tmp_path / "none")["unlearn_config"]["lr"] == method_config("neggrad").lr == 1e-4
    assert main(_argv("neggrad", tmp_path / "flag", cache, "--epochs", "3")) == 0
    out, err = capsys.readouterr()
    assert "preset 'digits' (chosen by dataset digits" in err and "lr=0.01" in err
    summary = json.loads(out)["preset"]
    assert summary["settings"] == {"lr": 0.01} and summary["overridden"] == {}
    config = read_metrics(tmp_path / "flag")["unlearn_config"]
    assert config["lr"] == 0.01 and config["epochs"] == 3
    assert main(_argv("neggrad", tmp_path / "lr", cache, "--lr", "0.02")) == 0
    out, err = capsys.readouterr()
    assert "overridden by flags: lr=0.02 (preset 0.01)" in err
    assert json.loads(out)["preset"]["overridden"] == {"lr": [0.01, 0.02]}
    assert read_metrics(tmp_path / "lr")["unlearn_config"]["lr"] == 0.02


@pytest.mark.parametrize("method", ["scrub", "retrain"])
def test_a_bad_preset_exits_2_naming_preset_before_any_work(method, tmp_path, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert main(_argv(method, out, cache, "--preset", "digitz")) == 2
    err = capsys.readouterr().err
    assert "--preset='digitz'" in err and "did you mean 'digits'" in err
    for name in ("'defaults'", "'digits'", "'cifar-cpu'", "'none'"):
        assert name in err
    assert "Traceback" not in err and not out.exists() and not (cache / "checkpoints").exists()


def test_the_run_records_the_preset_it_applied(cli_run, digits_runs, tmp_path):
    """metrics.json says which preset a run started from: the command line's record, and the API's own when it is
    called without a method config (the dataset's table, or the one named)."""
    from cu_core.pipeline import run_unlearning

    recorded = cli_run("neggrad")["preset"]
    assert recorded["name"] == "digits" and recorded["chosen_by"] == "dataset digits"
    assert recorded["settings"] == preset_for("digits", "neggrad") == {"lr": 0.01}
    cfg, cache = digits_runs["cfg"], digits_runs["root"] / "cache"
    api = run_unlearning(cfg, method="neggrad", out_dir=tmp_path / "api", cache_dir=cache)
    assert api["preset"] == {"name": "digits", "settings": {"lr": 0.01}} and api["unlearn_config"]["lr"] == 0.01
    none = run_unlearning(cfg, method="neggrad", preset="none", cache_dir=cache)
    assert none["preset"] == {"name": "defaults", "settings": {}}
    assert none["unlearn_config"]["lr"] == METHODS["neggrad"].config().lr
