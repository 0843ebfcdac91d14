"""Bad input is refused before any work: through the command line (`cu_core.cli.main`, in-process) and the
public config API, each error names the parameter, the bad value and what is allowed, and no results folder,
checkpoint or trained model is left behind.

Complements tests/test_cli.py (a first table through a subprocess) and the per-module config tests.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cu_core import cli
from cu_core.config import DataConfig, RunConfig, SplitConfig, TrainConfig
from cu_core.data import ARCHIVE_NAME, load_dataset, make_split, write_archive
from cu_core.errors import ConfigError, DataError
from cu_core.pipeline import run_training, run_unlearning
from cu_core.unlearn import method_config, unlearn
from cu_core.unlearn.gradient_methods import FinetuneConfig


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory):
    """A 40-image CIFAR-10 archive holding classes 0..4 only (so class 7 is absent from the data)."""
    root = tmp_path_factory.mktemp("tiny_cifar")
    rng = np.random.default_rng(0)
    splits = {"train": (rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8), np.arange(40) % 5),
              "test": (rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8), np.arange(10) % 5)}
    sha = write_archive(root / ARCHIVE_NAME, splits, tuple("abcdefghij"))
    return {"dir": root, "sha": sha}


@pytest.fixture()
def place(tmp_path, monkeypatch):
    """Private results/cache/data folders (environment included), a file and a foreign folder to misuse."""
    monkeypatch.setenv("CU_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("CU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a folder")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "thesis.tex").write_text("keep me")
    return tmp_path


def _assert_no_work(place, out):
    assert not out.exists(), "a results folder was left behind"
    assert not (place / "results").exists()
    assert not (place / "cache" / "checkpoints").exists(), "a model was trained"
    assert not list(place.rglob("metrics.json"))
    assert (place / "foreign" / "thesis.tex").read_text() == "keep me"


# (argv after the subcommand's --out/--cache-dir, [fragments the message must hold: parameter, value, allowed])
CLI_CASES = [
    # unknown names
    (["unlearn", "--method", "forget_all"], ["--method", "'forget_all'", "choose from", "'contrastive'"]),
    (["train", "--task", "samples"], ["task", "'samples'", "'class', 'sample'"]),
    (["unlearn", "--variant", "code"], ["variant", "'code'", "'paper', 'official'"]),
    (["unlearn", "--no-positive-policy", "never"], ["no_positive", "'never'", "'skip', 'add_one', 'none'"]),
    (["unlearn", "--stop-rule", "early"], ["stop_rule", "'early'", "'val', 'test', 'fixed'"]),
    (["train", "--device", "tpu"], ["device", "'tpu'", "'cpu'"]),
    (["train", "--forget-selection", "last_n"], ["forget_selection", "'last_n'", "'random', 'first_n'"]),
    # wrong types
    (["train", "--epochs", "2.5"], ["--epochs", "'2.5'", "int"]),
    (["unlearn", "--train-epochs", "many"], ["--train-epochs", "'many'", "int"]),
    (["unlearn", "--temperature", "warm"], ["--temperature", "'warm'", "float"]),
    (["train", "--augment", "yes"], ["--augment", "'yes'", "--no-augment"]),
    (["train", "--archive-sha256", "abc"], ["archive_sha256", "'abc'", "64 hexadecimal"]),
    # out-of-range values
    (["unlearn", "--temperature", "-0.7"], ["temperature", "-0.7", "> 0"]),
    (["unlearn", "--temperature", "inf"], ["temperature", "inf", "finite number > 0"]),
    (["unlearn", "--lr", "nan"], ["lr", "nan", "finite number > 0"]),
    (["unlearn", "--lambda-ul", "-3"], ["lambda_ul", "-3.0", ">= 0"]),
    (["unlearn", "--omega", "0"], ["omega", "0", ">= 1"]),
    (["train", "--momentum", "1"], ["momentum", "1.0", "[0.0, 1.0)"]),
    (["train", "--seed", "-1"], ["seed", "-1", ">= 0"]),
    (["train", "--val-fraction", "0.75"], ["val_fraction", "0.75", "(0.0, 0.5]"]),
    (["train", "--digits-size", "12"], ["digits_size", "12", "8, 16, 32"]),
    (["unlearn", "--method", "neggrad_plus", "--alpha", "1.5"], ["alpha", "1.5", "[0.0, 1.0]"]),
    (["unlearn", "--method", "scrub", "--kd-T", "0"], ["kd_T", "0.0", "> 0"]),
    (["unlearn", "--method", "random_label", "--epochs", "0"], ["epochs", "0", ">= 1"]),
    (["unlearn", "--ulira-shadows", "9"], ["ulira_shadows", "9", "even integer >= 8"]),
    # incompatible combinations
    (["unlearn", "--method", "boundary_shrink", "--task", "sample"], ["task", "'sample'", "class tasks only"]),
    (["unlearn", "--method", "unsir", "--task", "sample", "--num-forget", "50"],
     ["task", "'sample'", "class tasks only"]),
    (["train", "--normalization", "authors", "--dataset", "digits"], ["normalization", "'authors'", "'dataset'"]),
    (["unlearn", "--forget-class", "10"], ["forget_class", "10", "[0, 9]"]),
    (["unlearn", "--task", "sample", "--num-forget", "1437"], ["num_forget", "1437", "[1, 1292]"]),
    # bad flags
    (["train", "--learning-rate", "0.1"], ["--learning-rate", "0.1", "--help"]),
    (["unlearn", "--method", "finetune", "--temperature", "0.5"], ["--temperature", "0.5", "contrastive"]),
    (["unlearn", "--method", "scrub", "--kd-t", "4"], ["--kd-t", "4", "--kd-T"]),
    # data: a directory without the archive, a class absent from the data, more forget samples than exist
    (["train", "--dataset", "cifar10", "--source", "archive", "--data-dir", "{tmp}/empty"],
     ["data_dir", "{tmp}/empty", ARCHIVE_NAME]),
    (["train", "--dataset", "cifar10", "--source", "archive", "--data-dir", "{data}", "--archive-sha256", "{sha}",
      "--val-fraction", "0.25", "--forget-class", "7"], ["forget_class", "7", "one of [0, 1, 2, 3, 4]"]),
    (["unlearn", "--dataset", "cifar10", "--source", "archive", "--data-dir", "{data}", "--archive-sha256", "{sha}",
      "--val-fraction", "0.25", "--task", "sample", "--num-forget", "30"], ["num_forget", "30", "[1, 29]"]),
    # output folders
    (["train", "--out", ""], ["out", "''", "folder path"]),
    (["train", "--out", "{tmp}/notes.txt"], ["out", "notes.txt", "directory path"]),
    (["unlearn", "--out", "{tmp}/foreign"], ["out", "foreign", "never replaced"]),
]


def _case_id(case):
    argv, _ = case
    return "-".join(a.strip("-").split("/")[-1] or "empty" for a in argv[:6])[:60]


@pytest.mark.parametrize("argv, fragments", CLI_CASES, ids=[_case_id(c) for c in CLI_CASES])
def test_cli_refuses_bad_input_before_any_work(place, tiny_cifar, capsys, argv, fragments):
    fill = {"tmp": str(place), "data": str(tiny_cifar["dir"]), "sha": tiny_cifar["sha"]}
    out = place / "out"
    args = [argv[0], "--out", str(out), "--cache-dir", str(place / "cache"), "--no-progress",
            *[a.format(**fill) for a in argv[1:]]]
    try:
        code = cli.main(args)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment.format(**fill) in err, (fragment, err)
    _assert_no_work(place, out)


def test_real_entry_point_exits_2_with_the_message(place):
    """One case through `python -m cu_core`: the exit status and message a shell user sees."""
    out = place / "out"
    res = subprocess.run([sys.executable, "-m", "cu_core", "unlearn", "--method", "boundary_shrink", "--task",
                          "sample", "--out", str(out), "--cache-dir", str(place / "cache")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == ""
    assert "task='sample' is not allowed: method 'boundary_shrink' supports class tasks only" in res.stderr
    _assert_no_work(place, out)


# (callable, parameter, value as the message shows it, what is allowed, exception type)
API_CASES = [
    (lambda p: RunConfig.from_dict(["data"]), "config", "['data']", "a mapping of sections", ConfigError),
    (lambda p: RunConfig.from_dict({"data": "digits"}), "data", "'digits'", "mapping of DataConfig fields",
     ConfigError),
    (lambda p: RunConfig.from_dict({"split": {"forget_class": "5"}}), "forget_class", "'5'", "an integer",
     ConfigError),
    (lambda p: RunConfig.from_dict({"train": {"lr": float("inf")}}), "lr", "inf", "finite number > 0", ConfigError),
    (lambda p: RunConfig.from_dict({"split": {"val_fraction": True}}), "val_fraction", "True", "(0.0, 0.5]",
     ConfigError),
    (lambda p: RunConfig.from_dict({"train": {"epochs": 3, "optimizer": "adam"}}), "train.optimizer", "'adam'",
     "fields are", ConfigError),
    (lambda p: RunConfig(split="class"), "split", "'class'", "a SplitConfig", ConfigError),
    (lambda p: RunConfig(split=SplitConfig(task="sample", num_forget=2000)), "num_forget", "2000", "[1, 1292]",
     ConfigError),
    (lambda p: DataConfig(data_dir=5), "data_dir", "5", "a path string or None", ConfigError),
    (lambda p: DataConfig(download="no"), "download", "'no'", "True or False", ConfigError),
    (lambda p: TrainConfig(epochs=True), "epochs", "True", "an integer >= 1", ConfigError),
    (lambda p: method_config("contrastive", temperature=-0.7), "temperature", "-0.7", "> 0.0", ConfigError),
    (lambda p: method_config("contrastive", temperature=0.0), "temperature", "0.0", "> 0.0", ConfigError),
    (lambda p: method_config("scrub", lr_decay_epochs=[3, 5]), "lr_decay_epochs", "[3, 5]", "a tuple of integers",
     ConfigError),
    (lambda p: method_config("gradient_descent"), "method", "'gradient_descent'", "'contrastive'", ConfigError),
    (lambda p: unlearn("unsir", None, None, None, None, task="sample", num_classes=10), "task", "'sample'",
     "class tasks only", ConfigError),
    (lambda p: unlearn("contrastive", None, None, None, None, FinetuneConfig(), task="class", num_classes=10),
     "config", "'FinetuneConfig'", "a ContrastiveConfig", ConfigError),
    (lambda p: unlearn("finetune", None, None, None, None, task="class", num_classes=0), "num_classes", "0",
     ">= 2", ConfigError),
    (lambda p: run_unlearning(RunConfig(split=SplitConfig(task="sample", num_forget=20)), method="boundary_shrink",
                              out_dir=p / "out", cache_dir=p / "cache"), "task", "'sample'", "class tasks only",
     ConfigError),
    (lambda p: run_training(RunConfig(), out_dir=p / "notes.txt", cache_dir=p / "cache"), "out", "notes.txt",
     "directory path", ConfigError),
    (lambda p: make_split(np.arange(20) % 2, np.arange(4) % 2, task="sample", num_forget=20), "num_forget", "20",
     "[1, 17]", ConfigError),
    (lambda p: make_split(np.array([0] * 8 + [1] * 2), np.array([0, 1]), task="class", forget_class=1,
                          val_fraction=0.5, class_drop_last=True), "class_drop_last", "True", "False", ConfigError),
    (lambda p: load_dataset("cifar10", "train", p / "empty", source="archive", cache_dir=p / "cache"), "data_dir",
     "empty", ARCHIVE_NAME, DataError),
]


@pytest.mark.parametrize("make, parameter, value, allowed, kind", API_CASES,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(API_CASES)])
def test_api_errors_name_parameter_value_and_what_is_allowed(place, make, parameter, value, allowed, kind):
    with pytest.raises(kind) as info:
        make(place)
    message = str(info.value)
    if kind is ConfigError:
        assert info.value.parameter == parameter
        assert message.startswith(f"{parameter}=")
    assert parameter in message and value in message and allowed in message, message
    _assert_no_work(place, place / "out")


def test_tables_are_large_enough():
    assert len(CLI_CASES) + len(API_CASES) + 1 >= 25


def test_a_good_run_still_replaces_an_earlier_results_folder(place, capsys):
    """The folder checks refuse foreign folders only: an earlier results folder is replaced as documented."""
    out = place / "run"
    argv = ["train", "--out", str(out), "--cache-dir", str(place / "cache"), "--epochs", "1", "--no-progress"]
    assert cli.main(argv) == 0
    first = json.loads((out / "metrics.json").read_text())
    assert cli.main(argv + ["--seed", "1"]) == 0
    assert json.loads((out / "metrics.json").read_text())["seed"] == 1 != first["seed"]
    capsys.readouterr()
