"""metrics.json schema: real files validate, broken payloads name the key; load_runs flattens run folders."""
import copy
import json
from pathlib import Path

import pytest

from cu_core.errors import ConfigError
from cu_core.paths import project_root
from cu_core.pipeline import run_unlearning
from cu_core.results import load_runs
from cu_core.schema import SchemaError, validate_metrics
from cu_core.unlearn import ContrastiveConfig

QUICKSTART = sorted((project_root() / "data" / "results" / "quickstart").glob("*/metrics.json"))


@pytest.fixture(scope="module")
def original_payload():
    return json.loads(QUICKSTART[0].read_text())


@pytest.mark.skipif(not QUICKSTART, reason="no quickstart results in this checkout")
@pytest.mark.parametrize("path", QUICKSTART, ids=lambda p: p.parent.name)
def test_quickstart_results_validate(path):
    validate_metrics(json.loads(path.read_text()))


def test_fresh_training_and_unlearning_runs_validate(digits_runs, tmp_path):
    validate_metrics(digits_runs["original"])
    validate_metrics(digits_runs["retrain"])
    metrics = run_unlearning(digits_runs["cfg"], ContrastiveConfig(progress=False, max_passes=1),
                             out_dir=tmp_path / "cu", cache_dir=digits_runs["root"] / "cache")
    validate_metrics(json.loads((tmp_path / "cu" / "metrics.json").read_text()))
    with_extras = {**metrics, "mia": {"mia_efficacy": 0.4, "auc": 0.61}, "probe": {"probe_forget_acc": 0.9},
                   "gap": {"avg_gap": 3.0, "ua": 1.0, "ra": 2.0, "ta": 3.0, "mia": None, "terms": 3},
                   "cost": {"steps": metrics["steps"], "samples": metrics["samples"]}, "rte": None}
    validate_metrics(json.loads(json.dumps(with_extras)))


def _set(payload, path, value):
    *parents, last = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()

BROKEN = [  # (key path, new value or _DELETE, the key path the error must name)
    ("kind", _DELETE, "kind"),
    ("kind", "finetuned", "kind"),
    ("acc", _DELETE, "acc"),
    ("acc.test", 1.2, "acc.test"),
    ("acc.val", -0.1, "acc.val"),
    ("acc.retain_train", "0.9", "acc.retain_train"),
    ("acc.forget_train", True, "acc.forget_train"),
    ("acc.forget_test", _DELETE, "acc.forget_test"),  # a class task without forget_test
    ("acc.retain_test", _DELETE, "acc.retain_test"),
    ("seconds.train", -1.0, "seconds.train"),
    ("seconds.eval", "fast", "seconds.eval"),
    ("seconds", 3.0, "seconds"),
    ("config.split.task", "pixel", "config.split.task"),
    ("config.data", _DELETE, "config.data"),
    ("split_sha256", "abc", "split_sha256"),
    ("split_sizes.val", -3, "split_sizes.val"),
    ("seed", 0.5, "seed"),
    ("git_commit", _DELETE, "git_commit"),
    ("cache_hit", "yes", "cache_hit"),
    ("best_epoch", -1, "best_epoch"),
    ("mia", {"mia_efficacy": 1.5}, "mia.mia_efficacy"),
    ("cost", {"steps": 3}, "cost.samples"),
    ("rte", -2.0, "rte"),
    ("probe", {"probe_forget_acc": 2.0}, "probe.probe_forget_acc"),
]


@pytest.mark.parametrize("path, value, named", BROKEN,
                         ids=[f"{p}={'del' if v is _DELETE else v}" for p, v, _ in BROKEN])
def test_broken_payloads_raise_and_name_the_key(original_payload, path, value, named):
    payload = copy.deepcopy(original_payload)
    _set(payload, path, value)
    with pytest.raises(SchemaError) as info:
        validate_metrics(payload)
    assert info.value.path == named
    assert f"metrics.{named}" in str(info.value)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)


def test_unlearn_payload_needs_its_keys(original_payload):
    payload = {**copy.deepcopy(original_payload), "kind": "unlearn"}
    payload["seconds"] = {"unlearn": 1.0, "eval": 0.1}
    with pytest.raises(SchemaError, match="metrics.method"):
        validate_metrics(payload)
    payload.update(method="contrastive", acc_original=dict(payload["acc"]), steps=4, samples=512)
    validate_metrics(payload)
    del payload["acc_original"]["retain_test"]
    with pytest.raises(SchemaError, match="acc_original.retain_test"):
        validate_metrics(payload)


def test_sample_task_does_not_need_class_accuracies(original_payload):
    payload = copy.deepcopy(original_payload)
    payload["config"]["split"]["task"] = "sample"
    del payload["acc"]["forget_test"], payload["acc"]["retain_test"]
    validate_metrics(payload)


def test_load_runs_flattens_and_skips_corrupt_files(original_payload, tmp_path):
    root = tmp_path / "results"
    for i, name in enumerate(("exp/a", "exp/c", "exp/b")):
        payload = copy.deepcopy(original_payload)
        payload["seed"] = i
        payload["mia"] = {"mia_efficacy": 0.1 * i}
        (root / name).mkdir(parents=True)
        (root / name / "metrics.json").write_text(json.dumps(payload))
    (root / "exp" / "broken").mkdir()
    text = json.dumps(original_payload)
    (root / "exp" / "broken" / "metrics.json").write_text(text[: len(text) // 2])  # truncated
    (root / "exp" / ".d.tmp").mkdir()  # a folder still being written: ignored
    (root / "exp" / ".d.tmp" / "metrics.json").write_text(text)

    with pytest.warns(RuntimeWarning, match="broken"):
        frame = load_runs("exp/*", root=root)
    assert frame["run_dir"].tolist() == ["exp/a", "exp/b", "exp/c"]
    assert frame["seed"].tolist() == [0, 2, 1]
    for column in ("acc.test", "config.train.seed", "config.split.task", "mia.mia_efficacy", "seconds.train"):
        assert column in frame.columns
    assert frame["mia.mia_efficacy"].tolist() == pytest.approx([0.0, 0.2, 0.1])
    assert "acc" not in frame.columns
    with pytest.warns(RuntimeWarning):
        assert len(load_runs("**", root=root)) == 3
    assert load_runs("nothing/*", root=root).empty


def test_load_runs_reads_the_results_folder_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("CU_RESULTS_DIR", str(tmp_path))
    (tmp_path / "q" / "r").mkdir(parents=True)
    (tmp_path / "q" / "r" / "metrics.json").write_text(json.dumps({"kind": "original", "acc": {"test": 0.5}}))
    frame = load_runs("q/*")
    assert frame.loc[0, "run_dir"] == Path("q/r").as_posix() and frame.loc[0, "acc.test"] == 0.5
