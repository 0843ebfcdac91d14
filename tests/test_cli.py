"""The command line: help, a full run that writes the results files, and bad input caught before any work."""
import json
import subprocess
import sys

import pytest

from cu_core.cli import build_parser, configs_from_args
from cu_core.config import DataConfig, ModelConfig, RunConfig, SplitConfig, TrainConfig
from cu_core.errors import ConfigError


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cu_core", *args], capture_output=True, text=True, cwd=cwd,
                          env={**__import__("os").environ, "TQDM_DISABLE": "1"})


def test_help_lists_every_config_flag():
    out = _run("train", "--help")
    assert out.returncode == 0
    for flag in ("--dataset", "--model", "--epochs", "--seed", "--task", "--forget-class", "--num-forget",
                 "--retrain", "--out", "--head", "--embedding", "--data-dir", "--device"):
        assert flag in out.stdout


def test_cli_train_writes_metrics(tmp_path):
    out = tmp_path / "run"
    res = _run("train", "--dataset", "digits", "--epochs", "2", "--seed", "3", "--task", "sample",
               "--num-forget", "40", "--retrain", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
               "--no-progress")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == "retrain" and metrics["config"]["split"]["num_forget"] == 40
    assert metrics["config"]["train"]["seed"] == 3 and metrics["config"]["split"]["seed"] == 3
    assert metrics["config"]["train"]["epochs"] == 2 and len(metrics["split_sha256"]) == 64
    assert (out / "history.csv").read_text().count("\n") == 3


def test_seed_flag_sets_both_seeds_unless_split_seed_given():
    parser = build_parser()
    cfg, _ = configs_from_args(parser.parse_args(["train", "--out", "x", "--seed", "4"]))
    assert cfg.train.seed == 4 and cfg.split.seed == 4
    cfg, _ = configs_from_args(parser.parse_args(["train", "--out", "x", "--seed", "4", "--split-seed", "9"]))
    assert cfg.train.seed == 4 and cfg.split.seed == 9
    assert configs_from_args(parser.parse_args(["train", "--out", "x"]))[0] == RunConfig()


BAD_CLI = [
    (["--dataset", "imagenet"], "dataset"),
    (["--model", "vgg16"], "model"),
    (["--head", "mlp"], "head"),
    (["--embedding", "raw"], "embedding"),
    (["--forget-class", "10"], "forget_class"),
    (["--forget-class", "-1"], "forget_class"),
    (["--task", "sample", "--num-forget", "0"], "num_forget"),
    (["--task", "sample", "--num-forget", "100000"], "num_forget"),
    (["--epochs", "0"], "epochs"),
    (["--lr", "-0.1"], "lr"),
    (["--val-fraction", "0.7"], "val_fraction"),
    (["--normalization", "authors"], "normalization"),  # digits has one channel
    (["--dataset", "cifar10", "--no-download", "--data-dir", "{tmp}/empty"], "CIFAR-10 not found"),
]


@pytest.mark.parametrize("extra, named", BAD_CLI)
def test_bad_input_is_refused_before_any_work(tmp_path, extra, named):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    res = _run("train", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
               *[e.format(tmp=tmp_path) for e in extra])
    assert res.returncode == 2
    assert named in res.stderr and "Traceback" not in res.stderr
    assert not out.exists() and not (tmp_path / "cache" / "checkpoints").exists()


@pytest.mark.parametrize("make, parameter", [
    (lambda: DataConfig(dataset="mnist"), "dataset"),
    (lambda: DataConfig(digits_size=64), "digits_size"),
    (lambda: DataConfig(source="ftp"), "source"),
    (lambda: SplitConfig(task="classes"), "task"),
    (lambda: SplitConfig(num_forget=0), "num_forget"),
    (lambda: SplitConfig(seed=-1), "seed"),
    (lambda: ModelConfig(name="resnet9"), "model"),
    (lambda: ModelConfig(head="mlp"), "head"),
    (lambda: ModelConfig(proj_dim=0), "proj_dim"),
    (lambda: TrainConfig(epochs=0), "epochs"),
    (lambda: TrainConfig(epochs=2.5), "epochs"),
    (lambda: TrainConfig(batch_size=0), "batch_size"),
    (lambda: TrainConfig(momentum=1.0), "momentum"),
    (lambda: TrainConfig(weight_decay=-1.0), "weight_decay"),
    (lambda: TrainConfig(lr=float("nan")), "lr"),
    (lambda: TrainConfig(select="best_test"), "select"),
    (lambda: TrainConfig(device="tpu"), "device"),
    (lambda: TrainConfig(augment="yes"), "augment"),
    (lambda: RunConfig(split=SplitConfig(forget_class=10)), "forget_class"),
    (lambda: RunConfig(data=DataConfig(dataset="cifar10"), split=SplitConfig(task="sample", num_forget=45000)),
     "num_forget"),
    (lambda: RunConfig.from_dict({"train": {"epoch": 3}}), "train.epoch"),
    (lambda: RunConfig.from_dict({"optimiser": {}}), "config"),
])
def test_config_errors_name_the_parameter(make, parameter):
    with pytest.raises(ConfigError) as err:
        make()
    assert err.value.parameter == parameter
    assert parameter in str(err.value) and ("expected" in str(err.value) or "allowed" in str(err.value))


def test_cuda_device_refused_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        TrainConfig(device="cuda")


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(__import__("cu_core.unlearn", fromlist=["METHODS"]).METHODS))
def test_every_method_runs_from_the_cli(method, digits_runs, tmp_path, capsys):
    """`python -m cu_core unlearn --method NAME` (in-process) on the default digits class task, with the digits
    preset's settings as flags and small budgets; it writes a schema-valid run."""
    from cu_core.cli import main
    from cu_core.unlearn.presets import method_settings
    from cu_core.results import read_metrics
    from cu_core.unlearn import METHODS

    settings = {} if method == "retrain" else method_settings(method, "digits")
    fields = METHODS[method].config.__dataclass_fields__
    if "epochs" in fields and method != "retrain":
        settings["epochs"] = 1
    if method == "contrastive":
        settings["max_passes"] = 2
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
    assert main(["unlearn", "--method", method, *flags, "--out", str(tmp_path / method), "--cache-dir",
                 str(digits_runs["root"] / "cache"), "--no-progress"]) == 0, capsys.readouterr().err
    metrics = read_metrics(tmp_path / method)
    assert metrics is not None and metrics["method"] == method
    for key, value in settings.items():
        assert metrics["unlearn_config"][key] == pytest.approx(value), key
    help_text = subprocess.run([sys.executable, "-m", "cu_core", "unlearn", "--method", method, "--help"],
                               capture_output=True, text=True).stdout
    assert f"--method {method}" in help_text or method in help_text
