"""Adding a method takes one module and one registry line (ARCHITECTURE.md, "Where a new thing goes").

The toy method below is written to a file of its own, as a contributor would write `cu_core/unlearn/<name>.py`:
a config dataclass built with `setting` and a run function, listed in the module's `METHODS` tuple. The one line
the registry gets for a real module, `_register_all(module)`, registers it. From then on the command line offers it
with its flags and runs it, a profile that names it validates, and the book's reader tables it, with no other edit.
(The toy forgets a class by muting its logit: not a real method.)
"""
from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

from cu_book import report
from cu_book import report_studies as rs
from cu_core import cli
from cu_core.experiments.validate import validate_profile
from cu_core.unlearn import METHODS, registry

TOY_MODULE = '''
"""Toy unlearning: mute the forgotten class's logit (class task only)."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from cu_core.config import setting
from cu_core.unlearn.base import UnlearnResult


@dataclass(frozen=True)
class MuteConfig:
    bias: float = setting(-50.0, "value given to the forgotten class's classifier bias")
    seed: int = setting(0, "unused; every method has one")
    progress: bool = setting(False, "unused")


def mute(model, forget, retain, val, config: MuteConfig, *, task, num_classes) -> UnlearnResult:
    out = copy.deepcopy(model)
    labels = forget.data.labels[torch.as_tensor(forget.indices)].cpu().numpy()
    with torch.no_grad():
        for klass in np.unique(labels):
            out.head.classifier.bias[int(klass)] = config.bias
    return UnlearnResult(out, history=[], passes=[], stop_reason="fixed_passes", steps=0,
                         seconds={"unlearn": 0.0, "eval": 0.0})


METHODS = [("mute_toy", ("class",), MuteConfig, mute, "toy: mute the forgotten class's logit",
            {"display": "Mute (toy)", "acts_on": "output"})]
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy module imported from its own file and registered by the registry's one line."""
    folder = tmp_path_factory.mktemp("toy")
    path = folder / "mute_toy.py"
    path.write_text(TOY_MODULE)
    spec = importlib.util.spec_from_file_location("mute_toy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["mute_toy"] = module
    spec.loader.exec_module(module)
    registry._register_all(module)  # the registry line a new module gets
    yield module
    METHODS.pop("mute_toy", None)
    sys.modules.pop("mute_toy", None)


def test_the_command_line_offers_and_runs_the_new_method(toy, tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["unlearn", "--method", "mute_toy", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--bias BIAS value given to the forgotten class's classifier bias" in text
    out = tmp_path / "run"
    code = cli.main(["unlearn", "--method", "mute_toy", "--bias", "-40", "--dataset", "digits", "--task", "class",
                     "--train-epochs", "3", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                     "--no-progress"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "mute_toy" and metrics["unlearn_config"]["bias"] == -40.0
    assert metrics["acc"]["forget_test"] == 0.0  # the class is muted
    assert metrics["acc"]["retain_test"] >= metrics["acc_original"]["retain_test"]  # nothing else moves


def test_a_profile_that_names_the_new_method_validates(toy, tmp_path):
    profile = tmp_path / "toy.yaml"
    profile.write_text(textwrap.dedent("""\
        name: toy
        description: the toy method beside contrastive unlearning
        seeds: [0]
        defaults: {dataset: digits, train_epochs: 3}
        experiments:
          compare:
            template: compare_methods.ipynb
            params: {task: class, methods: "mute_toy,contrastive"}
        """))
    report_ = validate_profile(str(profile))
    assert report_.ok() and report_.checked == 1, report_.errors
    bad = profile.read_text().replace("mute_toy,contrastive", "mute_toyy,contrastive")
    profile.write_text(bad)
    refused = validate_profile(str(profile))
    assert not refused.ok() and "mute_toyy" in " ".join(refused.errors)  # a misspelt name is still caught


def test_the_report_tables_the_new_method(toy, tmp_path):
    run = tmp_path / "results" / "toy" / "compare" / "seed-0_abcd"
    sub = run / "runs" / "mute_toy"
    sub.mkdir(parents=True)
    source = Path(__file__).resolve().parents[1] / "data" / "results" / "quick"
    template = next(source.glob("compare_class/*/runs/contrastive/metrics.json"))
    metrics = json.loads(template.read_text()) | {"method": "mute_toy"}
    (sub / "metrics.json").write_text(json.dumps(metrics))
    (run / "config.json").write_text(json.dumps({"parameters": {"seed": 0, "task": "class"}}))
    rows = report.subruns("toy", root=tmp_path / "results")
    assert list(rows["method"]) == ["mute_toy"]
    stats = report.mean_std(rows, ["method"], ["acc_forget_test"])
    assert stats.loc[0, "method"] == "mute_toy" and stats.loc[0, "n"] == 1
    assert rs.method_space("mute_toy") == "output"  # the book groups it by where it acts, read from its module
    from cu_book.method_names import display, missing

    assert display("mute_toy") == "Mute (toy)" and "mute_toy" not in missing()  # its book name, from its record
