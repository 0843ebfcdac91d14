"""Every input file is validated before any work (issue 17, items 3, 4, 6 and 8).

- Profiles: a schema (unknown keys with the closest allowed name, types with the key path, safe names), then every
  run's parameters as the templates check them; `validate` exits 2, and `run` refuses the same profile before it
  starts anything (no results folder, no cache, nothing outside `--results-dir`).
- `book/data/paper_tables.yaml` against its schema; the CIFAR-10 archive's presence (a note) and checksum (an
  error); every profile, every template's defaults and the tables pass (`validate --all`).
- Templates check every parameter in their first code cell (`check_parameters`), before any training.
- Folders are probed for writability at the start: failures are exit 2 naming the flag or variable.
- Messages that named the wrong thing: a huge seed, `--lr -1e-3`, `--forget-class` on the sample task.
- The table of bad inputs in tests/README.md names tests that exist.
"""
from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from cu_core import cli
from cu_core.errors import ConfigError, InputFileError
from cu_core.paths import TUNING_DIR
from cu_core.experiments import validate as v
from cu_core.experiments.__main__ import main as driver
from cu_core.experiments.grid import (TEMPLATE_DIR, declared_parameters, expand, load_profile, profiles,
                                      template_parameters, templates)
from cu_core.experiments.params import check_parameters

ROOT = Path(__file__).resolve().parents[1]
DELETE = object()

# A small valid profile; each case below breaks one thing in it.
BASE = {"name": "probe", "description": "the tests' profile", "seeds": [0],
        "defaults": {"dataset": "digits", "train_epochs": 2, "preset": "digits"},
        "experiments": {
            "compare": {"template": "compare_methods.ipynb", "params": {"methods": "contrastive,finetune"}},
            "unlearn": {"template": "class_unlearning.ipynb"},
            "ablate": {"template": "ablation.ipynb", "params": {"knob": "omega", "values": "1,2"}},
            "sizes": {"template": "efficiency.ipynb", "params": {"task": "sample", "forget_sizes": "20,40"}},
            "attack": {"template": "attacks.ipynb", "params": {"method": "finetune", "ulira_shadows": 8}},
            "tsne": {"template": "geometry.ipynb", "params": {"max_points": 40}}}}


def _edit(profile, path, value):
    *parents, last = path.split(".")
    node = profile
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _profile(edits):
    profile = copy.deepcopy(BASE)
    for path, value in edits.items():
        _edit(profile, path, value)
    return yaml.safe_dump(profile, sort_keys=False)


P = "experiments.compare.params"
U = "experiments.unlearn.params"
A = "experiments.ablate.params"
# (id, edits of BASE or the file's text, fragments the report must hold)
PROFILE_CASES = [
    # unknown keys: refused with the closest allowed name
    ("default-typo", {"default": BASE["defaults"], "defaults": DELETE},
     ["default: unknown key (did you mean 'defaults'?)"]),
    ("experiment-key-typo", {"experiments.compare.param": {"task": "class"}},
     ["experiments.compare.param: unknown key (did you mean 'params'?)"]),
    ("parameter-typo", {f"{P}.train_epoch": 3}, [f"{P}.train_epoch: unknown key (did you mean 'train_epochs'?)"]),
    ("unknown-parameter", {f"{P}.epochs_typo": 3}, [f"{P}.epochs_typo: unknown key"]),
    ("grid-key-typo", {"experiments.compare.grid": {"forget_clas": [1, 2]}},
     ["experiments.compare.grid.forget_clas: unknown key (did you mean 'forget_class'?)"]),
    ("case-key-typo", {"experiments.compare.cases": [{"tsk": "class"}]},
     ["experiments.compare.cases[0].tsk: unknown key (did you mean 'task'?)"]),
    ("out_dir-set", {f"{P}.out_dir": "/tmp/x"}, [f"{P}.out_dir: set by the driver"]),
    ("seed-set", {"defaults.seed": 3}, ["defaults.seed: set by the driver from `seeds`"]),
    ("parameter-of-another-template", {f"{P}.knob": "omega"},
     [f"{P}.knob: compare_methods.ipynb has no parameter 'knob'"]),
    ("default-not-declared", {"defaults.method": "finetune"},
     ["defaults.method: compare_methods.ipynb has no parameter 'method'"]),
    # wrong types: the key path and the expected type
    ("string-for-int", {"defaults.train_epochs": "5"},
     ["defaults.train_epochs: expected an integer, got '5' (a string)"]),
    ("float-for-int", {f"{P}.forget_class": 2.5}, [f"{P}.forget_class: expected an integer, got 2.5"]),
    ("int-for-bool", {"defaults.train_bf16": 1}, ["defaults.train_bf16: expected true or false, got 1"]),
    ("list-for-string", {f"{P}.methods": ["contrastive"]}, [f"{P}.methods: expected a string, got ['contrastive']"]),
    ("seeds-not-a-list", {"seeds": 0}, ["seeds: expected a list, got 0"]),
    ("seeds-empty", {"seeds": []}, ["seeds: expected at least 1 value(s), got 0"]),
    ("seed-negative", {"seeds": [-1]}, ["seeds[0]: -1 (an integer) is out of range: expected >= 0"]),
    ("seed-beyond-32-bit", {"seeds": [2**32]}, ["seeds[0]: 4294967296 (an integer) is out of range"]),
    ("seed-twice", {"experiments.compare.seeds": [1, 1]}, ["experiments.compare.seeds: a value is listed twice"]),
    ("seed-a-string", {"seeds": ["0"]}, ["seeds[0]: expected an integer, got '0' (a string)"]),
    ("experiment-a-string", {"experiments.compare": "compare_methods.ipynb"},
     ["experiments.compare: expected a mapping (key: value), got 'compare_methods.ipynb'"]),
    ("params-a-list", {f"{P}": ["task"]}, [f"{P}: expected a mapping (key: value), got ['task'] (a list)"]),
    ("grid-not-a-list", {"experiments.compare.grid": {"forget_class": 5}},
     ["experiments.compare.grid.forget_class: expected a list, got 5"]),
    ("grid-empty-list", {"experiments.compare.grid": {"forget_class": []}},
     ["experiments.compare.grid.forget_class: expected at least 1 value(s)"]),
    ("grid-value-twice", {"experiments.compare.grid": {"forget_class": [1, 1]}},
     ["experiments.compare.grid.forget_class: a value is listed twice"]),
    ("grid-value-type", {"experiments.compare.grid": {"forget_class": [1, "two"]}},
     ["experiments.compare.grid.forget_class[1]: expected an integer, got 'two'"]),
    ("cases-a-mapping", {"experiments.compare.cases": {"task": "class"}},
     ["experiments.compare.cases: expected a list, got {'task': 'class'} (a mapping)"]),
    ("case-and-grid-overlap", {"experiments.compare.grid": {"forget_class": [1, 2]},
                               "experiments.compare.cases": [{"forget_class": 3}]},
     ["experiments.compare.cases[0].forget_class: also a grid key"]),
    # missing or unknown top-level pieces
    ("no-experiments", {"experiments": DELETE}, ["(top level): missing key 'experiments'"]),
    ("no-seeds", {"seeds": DELETE}, ["(top level): missing key 'seeds'"]),
    ("experiments-empty", {"experiments": {}}, ["experiments: expected at least 1 entry, got none"]),
    ("no-template", {"experiments.compare.template": DELETE}, ["experiments.compare: missing key 'template'"]),
    ("template-typo", {"experiments.compare.template": "compare_method.ipynb"},
     ["experiments.compare.template: 'compare_method.ipynb' (a string) is not one of",
      "did you mean 'compare_methods.ipynb'?"]),
    # names that become folders
    ("name-escapes", {"name": "../../escaped"}, ["name: '../../escaped' is not a safe name"]),
    ("name-with-slash", {"name": "a/b"}, ["name: 'a/b' is not a safe name"]),
    ("name-hidden", {"name": ".hidden"}, ["name: '.hidden' is not a safe name"]),
    ("name-empty", {"name": ""}, ["name: '' is not a safe name"]),
    ("name-not-a-string", {"name": 5}, ["name: expected a string, got 5"]),
    ("experiment-name-escapes", {"experiments": {"../up": {"template": "train_reference.ipynb"}}},
     ["experiments.../up: the name '../up' is not a safe name"]),
    ("experiment-name-space", {"experiments": {"my run": {"template": "train_reference.ipynb"}}},
     ["experiments.my run: the name 'my run' is not a safe name"]),
    ("experiment-name-reserved", {"experiments": {"tuning": {"template": "train_reference.ipynb"}}},
     ["experiments.tuning: the name 'tuning' is reserved (the folder of `tune`'s studies"]),
    # the file itself
    ("key-twice", "name: probe\nseeds: [0]\nseeds: [1]\nexperiments: {a: {template: train_reference.ipynb}}\n",
     ["found the key 'seeds' twice (the first is at line 2)"]),
    ("not-yaml", "name: probe\nseeds: [0\nexperiments: {}\n", ["not valid YAML"]),
    ("a-list", "- name: probe\n", ["(top level): expected a mapping (key: value), got [{'name': 'probe'}]"]),
    ("empty-file", "", ["(top level): expected a mapping (key: value), got nothing"]),
    # every run's parameters, as the templates check them
    ("unknown-method", {f"{U}.method": "forget_all"},
     [f"{U}.method: method='forget_all' is not allowed: expected one of"]),
    ("method-typo", {f"{U}.method": "contrastiv"}, ["did you mean 'contrastive'?"]),
    ("class-only-method-on-sample-task", {f"{U}.method": "boundary_shrink", f"{U}.task": "sample"},
     [f"{U}.method: method='boundary_shrink' is not allowed: a method for sample tasks"]),
    ("overrides-not-json", {f"{U}.method_overrides": '{"lr": '}, [f"{U}.method_overrides: method_overrides="]),
    ("overrides-not-an-object", {f"{U}.method_overrides": '["lr"]'}, ["a JSON object such as"]),
    ("overrides-unknown-field", {f"{U}.method_overrides": '{"temprature": 0.5}'},
     [f"{U}.method_overrides: method_overrides=['temprature']", "did you mean 'temperature'?"]),
    ("overrides-bad-value", {f"{U}.method_overrides": '{"lr": -1}'},
     [f"{U}.method_overrides: lr=-1 is not allowed: expected a finite number > 0"]),
    ("overrides-wrong-type", {f"{U}.method_overrides": '{"omega": "four"}'},
     [f"{U}.method_overrides: omega='four' is not allowed"]),
    ("overrides-for-retrain", {f"{U}.method": "retrain", f"{U}.method_overrides": '{"lr": 0.1}'},
     ["none for retrain"]),
    ("methods-empty-name", {f"{P}.methods": "contrastive,,finetune"}, [f"{P}.methods: methods=''"]),
    ("methods-twice", {f"{P}.methods": "finetune,finetune"}, ["each method once"]),
    ("methods-class-only-on-sample", {f"{P}.methods": "contrastive,unsir", f"{P}.task": "sample"},
     [f"{P}.methods: methods='unsir' is not allowed: a method for sample tasks"]),
    ("variants-unsafe-name", {f"{P}.variants": '{"../x": {"method": "contrastive"}}'},
     [f"{P}.variants: variants='../x' is not allowed: sub-run names"]),
    ("variants-method-name", {f"{P}.variants": '{"finetune": {"method": "contrastive"}}'},
     ["a name that is not a method's own sub-run"]),
    ("variants-unknown-method", {f"{P}.variants": '{"x": {"method": "nope"}}'},
     [f"{P}.variants: variants.x="]),
    ("variants-field-typo", {f"{P}.variants": '{"x": {"method": "contrastive", "lamda_ul": 1}}'},
     ["did you mean 'lambda_ul'?"]),
    ("knob-typo", {f"{A}.knob": "temprature"}, [f"{A}.knob: knob='temprature' is not allowed"]),
    ("values-wrong-type", {f"{A}.values": "1,many"}, [f"{A}.values: values='many' is not allowed"]),
    ("values-empty", {f"{A}.values": ","}, [f"{A}.values: values=',' is not allowed: at least one"]),
    ("values-out-of-range", {f"{A}.knob": "temperature", f"{A}.values": "0.5,-1"},
     [f"{A}.values: temperature=-1.0 is not allowed"]),
    ("base-overrides-typo", {f"{A}.base_overrides": '{"max_pases": 3}'},
     [f"{A}.base_overrides: method_overrides=['max_pases']", "did you mean 'max_passes'?"]),
    ("base-overrides-sets-the-knob", {f"{A}.base_overrides": '{"omega": 3}'},
     [f"{A}.base_overrides: base_overrides='{{\"omega\": 3}}' is not allowed: overrides of other fields"]),
    ("forget-sizes-not-numbers", {"experiments.sizes.params.forget_sizes": "20,x"},
     ["experiments.sizes.params.forget_sizes: forget_sizes='20,x'"]),
    ("forget-size-too-large", {"experiments.sizes.params.forget_sizes": "20,5000"},
     ["experiments.sizes.params.forget_sizes: num_forget=5000 is not allowed"]),
    ("shadows-odd", {"experiments.attack.params.ulira_shadows": 9},
     ["experiments.attack.params.ulira_shadows: ulira_shadows=9"]),
    ("max-points-zero", {"experiments.tsne.params.max_points": 0},
     ["experiments.tsne.params.max_points: max_points=0"]),
    ("preset-typo", {"defaults.preset": "digit"}, ["defaults.preset: preset='digit'", "did you mean 'digits'?"]),
    ("dataset-unknown", {"defaults.dataset": "mnist"}, ["defaults.dataset: dataset='mnist'"]),
    ("epochs-zero", {f"{P}.train_epochs": 0}, [f"{P}.train_epochs: epochs=0 is not allowed"]),
    ("forget-class-beyond-data", {"experiments.compare.grid": {"forget_class": [9, 10]}},
     ["experiments.compare.grid.forget_class: forget_class=10 is not allowed"]),
    ("task-typo", {f"{P}.task": "classes"}, [f"{P}.task: task='classes'"]),
    ("device-unknown", {"defaults.device": "tpu"}, ["defaults.device: device='tpu'"]),
    ("run-twice", {"experiments.compare.cases": [{"task": "class"}, {"task": "class"}]},
     ["two runs share the folder"]),
]


def _case_file(tmp_path, text_or_edits):
    path = tmp_path / "profile.yaml"
    path.write_text(text_or_edits if isinstance(text_or_edits, str) else _profile(text_or_edits))
    return path


def test_the_base_profile_is_valid(tmp_path):
    report = v.validate_profile(str(_case_file(tmp_path, {})))
    assert report.ok(strict=True), report.lines()
    assert report.checked == 6


@pytest.mark.parametrize("case_id, edits, fragments", PROFILE_CASES, ids=[c[0] for c in PROFILE_CASES])
def test_bad_profile_is_refused_before_any_work(tmp_path, monkeypatch, capsys, case_id, edits, fragments):
    monkeypatch.setenv("CU_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    path = _case_file(work, edits)
    assert driver(["validate", "--profile", str(path)]) == 2
    out = capsys.readouterr()
    for fragment in fragments:
        assert fragment in out.out, (fragment, out.out)
    assert "Traceback" not in out.out + out.err
    results = work / "results"
    assert driver(["run", "--profile", str(path), "--results-dir", str(results), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for fragment in fragments:  # `run` refuses with the same report
        assert fragment in err, (fragment, err)
    assert sorted(p.name for p in work.iterdir()) == ["profile.yaml"]  # no results folder, nothing in work/
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # nothing outside it (`../../escaped`), no cache
    assert not (Path.cwd() / "escaped").exists()


def test_every_profile_validates_and_keeps_its_run_ids():
    """The six profiles pass; committed results still match `list` (run ids are a hash of the parameters)."""
    assert {"smoke", "quick", "ablations", "cifar-cpu", "cifar-converged", "paper"} <= set(profiles())
    for name in profiles():
        report = v.validate_profile(name)
        assert not report.errors, report.lines()
        folders = {r.folder for r in expand(load_profile(name))}
        committed = ROOT / "data" / "results" / name
        if committed.is_dir():
            found = {f"{name}/{e.name}/{r.name}" for e in committed.iterdir() if e.is_dir() and e.name != TUNING_DIR
                     for r in e.iterdir() if r.is_dir() and not r.name.startswith(".")}  # `tune`'s studies
            assert found <= folders, sorted(found - folders)


def test_validate_all_exits_0_and_names_each_input(capsys):
    assert driver(["validate", "--all"]) == 0
    out = capsys.readouterr().out
    for name in profiles():
        assert re.search(rf"^ok +profile {re.escape(name)}: \d+ runs", out, re.M), out
    assert re.search(r"^ok +templates: 8 templates", out, re.M)
    assert re.search(r"^ok +book/data/paper_tables.yaml: 8 tables", out, re.M)


def test_what_this_machine_lacks_is_a_note_and_an_error_for_run(tmp_path, monkeypatch, capsys):
    """A run that asks for CUDA where there is none, and an archive that is not in the data folder: notes for
    `validate`, errors with `--strict` and for `run` (before anything starts)."""
    import torch

    monkeypatch.setenv("CU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CU_CACHE_DIR", str(tmp_path / "cache"))
    edits = {"defaults.dataset": "cifar10", "defaults.data_source": "archive", "defaults.preset": "cifar-cpu"}
    if not torch.cuda.is_available():
        edits["defaults.device"] = "cuda"
    path = _case_file(tmp_path, edits)
    assert driver(["validate", "--profile", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note: the CIFAR-10 archive" in out and "is not on this machine (CU_DATA_DIR)" in out
    if not torch.cuda.is_available():
        assert "note: defaults.device: device='cuda', but CUDA is not available on this machine" in out
    assert driver(["validate", "--profile", str(path), "--strict"]) == 2
    capsys.readouterr()
    assert driver(["run", "--profile", str(path), "--results-dir", str(tmp_path / "results")]) == 2
    assert "is not on this machine" in capsys.readouterr().err
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_a_damaged_archive_is_an_error(tmp_path, monkeypatch, capsys):
    from cu_core.data import ARCHIVE_NAME

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / ARCHIVE_NAME).write_bytes(b"not the archive")
    monkeypatch.setenv("CU_DATA_DIR", str(tmp_path / "data"))
    path = _case_file(tmp_path, {"defaults.dataset": "cifar10", "defaults.data_source": "archive",
                                 "defaults.preset": "cifar-cpu"})
    assert driver(["validate", "--profile", str(path)]) == 2
    assert "not the known copy's" in capsys.readouterr().out


# --------------------------------------------------------------------------- paths probed at the start
def _file(tmp_path):
    (tmp_path / "notes.txt").write_text("a file")
    return tmp_path / "notes.txt"


# (id, argv of the driver or the CLI, environment, the flag the message must name)
PATH_CASES = [
    ("driver-results-dir-is-a-file", ["driver", "--results-dir", "{file}"], {}, "--results-dir='{file}'"),
    ("driver-results-dir-below-a-file", ["driver", "--results-dir", "{file}/r"], {}, "--results-dir="),
    ("driver-CU_RESULTS_DIR-is-a-file", ["driver"], {"CU_RESULTS_DIR": "{file}"}, "CU_RESULTS_DIR='{file}'"),
    ("driver-CU_CACHE_DIR-is-a-file", ["driver", "--results-dir", "{tmp}/r"], {"CU_CACHE_DIR": "{file}"},
     "CU_CACHE_DIR='{file}'"),
    ("driver-results-dir-unwritable", ["driver", "--results-dir", "/proc/cu_results"], {}, "--results-dir="),
    ("cli-cache-dir-is-a-file", ["train", "--out", "{tmp}/out", "--cache-dir", "{file}"], {}, "--cache-dir='{file}'"),
    ("cli-CU_CACHE_DIR-is-a-file", ["train", "--out", "{tmp}/out"], {"CU_CACHE_DIR": "{file}/sub"}, "CU_CACHE_DIR="),
    ("cli-cache-dir-unwritable", ["unlearn", "--out", "{tmp}/out", "--cache-dir", "/proc/cu_cache"], {},
     "--cache-dir='/proc/cu_cache'"),
    ("cli-out-unwritable", ["train", "--out", "/proc/cu_out/run"], {}, "--out='/proc/cu_out/run'"),
    ("cli-out-below-a-file", ["train", "--out", "{file}/run"], {}, "out="),
    ("quickstart-results-dir-is-a-file", ["quickstart", "--results-dir", "{file}"], {}, "--results-dir='{file}'"),
    ("quickstart-CU_RESULTS_DIR-unwritable", ["quickstart"], {"CU_RESULTS_DIR": "/proc/cu_results"},
     "CU_RESULTS_DIR='/proc/cu_results'"),
]


@pytest.mark.parametrize("case_id, argv, env, named", PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_unwritable_or_file_typed_paths_fail_at_the_start_naming_the_flag(tmp_path, monkeypatch, capsys, case_id,
                                                                          argv, env, named):
    if "/proc/" in json.dumps([argv, env]) and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's /proc (a folder nobody can write in)")
    fill = {"tmp": str(tmp_path), "file": str(_file(tmp_path))}
    monkeypatch.setenv("CU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CU_RESULTS_DIR", str(tmp_path / "results"))
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(**fill))
    args = [a.format(**fill) for a in argv]
    if args[0] == "driver":
        code = driver(["run", "--profile", "smoke", "--no-progress", *args[1:]])
    else:
        code = cli.main([*args, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err, err
    assert named.format(**fill) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing made, nothing run


def test_probe_writable_leaves_nothing_behind(tmp_path):
    from cu_core.paths import probe_writable

    assert probe_writable(tmp_path / "a" / "b", "--x") == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match=r"--x='' is not allowed: a folder path"):
        probe_writable("", "--x")


# --------------------------------------------------------------------------- misleading messages (item 8)
MESSAGE_CASES = [
    ("huge-seed", ["train", "--seed", "99999999999999999999"], ["seed=99999999999999999999", "<= 4294967295"]),
    ("seed-just-beyond-32-bit", ["train", "--seed", "4294967296"], ["seed=4294967296", "32-bit"]),
    ("huge-split-seed", ["train", "--split-seed", "4294967296"], ["seed=4294967296"]),
    ("negative-lr-exponent", ["unlearn", "--lr", "-1e-3"], ["lr=-0.001 is not allowed", "> 0"]),
    ("negative-train-lr-exponent", ["unlearn", "--train-lr", "-1E-2"], ["lr=-0.01 is not allowed"]),
    ("negative-temperature-exponent", ["unlearn", "--temperature", "-5e-1"], ["temperature=-0.5"]),
    ("negative-infinity", ["unlearn", "--lr", "-inf"], ["lr=-inf is not allowed"]),
    ("forget-class-on-sample-task", ["train", "--task", "sample", "--forget-class", "3"],
     ["forget_class=3 is not allowed: a class-task setting: the sample task ignores --forget-class"]),
    ("num-forget-on-class-task", ["unlearn", "--num-forget", "50"],
     ["num_forget=50 is not allowed: a sample-task setting: the class task ignores --num-forget"]),
    ("forget-selection-on-class-task", ["train", "--forget-selection", "first_n"],
     ["the class task ignores --forget-selection"]),
    ("class-drop-last-on-sample-task", ["train", "--task", "sample", "--class-drop-last"],
     ["the sample task ignores --class-drop-last"]),
]


@pytest.mark.parametrize("case_id, argv, fragments", MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES])
def test_messages_name_the_real_problem(tmp_path, capsys, case_id, argv, fragments):
    code = cli.main([*argv, "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "val_fraction" not in err and "expected one argument" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert list(tmp_path.iterdir()) == []


def test_huge_seed_through_the_api_names_the_seed():
    from cu_core.config import SplitConfig
    from cu_core.data import make_split

    with pytest.raises(ConfigError, match=r"^seed=4294967296 is not allowed"):
        make_split(np.arange(20) % 2, np.arange(4) % 2, task="sample", num_forget=2, seed=2**32)
    with pytest.raises(ConfigError, match=r"^seed=4294967296"):
        SplitConfig(seed=2**32)


def test_a_negative_number_is_handed_to_its_flag():
    sub = cli._subparser(cli.build_parser(), "unlearn")
    join = cli._join_negative_values
    assert join(["unlearn", "--lr", "-1e-3"], sub) == ["unlearn", "--lr=-1e-3"]
    assert join(["unlearn", "--lr", "-.5", "--seed", "-2"], sub) == ["unlearn", "--lr=-.5", "--seed=-2"]
    assert join(["unlearn", "--lr=-1e-3"], sub) == ["unlearn", "--lr=-1e-3"]
    # after a switch (no value) it stays a stray token, which argparse reports
    assert join(["unlearn", "--trace", "-1e-3"], sub) == ["unlearn", "--trace", "-1e-3"]


# --------------------------------------------------------------------------- templates
@pytest.mark.parametrize("template", templates())
def test_template_checks_every_parameter_in_its_first_code_cell(template):
    nb = json.loads((TEMPLATE_DIR / template).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    first = ast.parse("".join(code[1]["source"]))
    calls = [n for n in ast.walk(first) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "check_parameters"]
    assert len(calls) == 1, template
    passed = {k.arg: k.value.id for k in calls[0].keywords}
    declared = declared_parameters(template)
    assert passed == {name: name for name in declared}  # every parameter, as itself
    # papermill reads the same parameters and types
    inspected = template_parameters(template)
    assert list(inspected) == list(declared)
    assert {n: p["inferred_type_name"] for n, p in inspected.items()} == {n: p.type for n, p in declared.items()}
    check_parameters(**{n: p.default for n, p in declared.items()})  # the defaults pass


def test_class_unlearning_checks_method_overrides_before_training(tmp_path):
    """Item 6: a bad `method_overrides` fails in the first code cell, before the original is trained."""
    import papermill

    out = tmp_path / "exp"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(TEMPLATE_DIR / "class_unlearning.ipynb"), str(tmp_path / "nb.ipynb"),
                                   parameters={"out_dir": str(out), "train_epochs": 1,
                                               "method_overrides": '{"temprature": 0.5}'},
                                   kernel_name="python3", progress_bar=False, cwd=str(TEMPLATE_DIR))
    assert info.value.ename == "ConfigError" and "temprature" in info.value.evalue
    assert "check_parameters(" in info.value.source  # the first code cell, before `runs.reference` trains
    assert not out.exists()  # nothing trained, nothing written


# --------------------------------------------------------------------------- the paper's tables
def _tables():
    return yaml.safe_load(v.PAPER_TABLES.read_text())


# (id, edit of the tables, fragment)
TABLE_CASES = [
    ("unknown-table", lambda t: t.update(table8=t["table1"]), "table8: unknown key (did you mean 'table"),
    ("missing-table", lambda t: t.pop("table3"), "(top level): missing key 'table3'"),
    ("column-typo", lambda t: t["table1"]["columns"].__setitem__(1, "Contrastve"),
     "table1.columns[1]: 'Contrastve' (a string) is not one of"),
    ("short-row", lambda t: t["table1"]["rows"][0].pop(), "table1.rows[0]: expected 8 entries"),
    ("percentage-beyond-100", lambda t: t["table4"]["rows"][0].__setitem__(2, 150.0),
     "table4.rows[0][2]: 150.0 is not a percentage in [0, 100]"),
    ("number-as-text", lambda t: t["table2"]["rows"][1].__setitem__(3, "86.9"),
     "table2.rows[1][3]: expected a number, got '86.9'"),
    ("negative-time", lambda t: t["table3"]["rows"][0].__setitem__(1, -5), "table3.rows[0][1]: -5 is negative"),
    ("unknown-model", lambda t: t["table7"]["rows"][0].__setitem__(0, "RN152"), "table7.rows[0][0]: 'RN152'"),
    ("unknown-unit", lambda t: t["table3"].update(unit="hours"), "table3.unit: 'hours' (a string) is not one of"),
    ("table-key-typo", lambda t: t["table1"].update(forget_clas=5),
     "table1.forget_clas: unknown key (did you mean 'forget_class'?)"),
    ("curve-beyond-1", lambda t: t["figure2"]["curves"]["SCRUB"].__setitem__(0, [0, 1.5]),
     "figure2.curves.SCRUB[0][1]: 1.5 (a number) is out of range: expected >= 0 and <= 1"),
    ("curve-past-last-batch", lambda t: t["figure2"]["curves"]["UNSIR"].append([90, 0.0]),
     "figure2.curves.UNSIR[2]: batch 90 is past last_batch 78"),
]


@pytest.mark.parametrize("case_id, edit, fragment", TABLE_CASES, ids=[c[0] for c in TABLE_CASES])
def test_bad_paper_tables_are_refused(tmp_path, case_id, edit, fragment):
    tables = _tables()
    edit(tables)
    path = tmp_path / "paper_tables.yaml"
    path.write_text(yaml.safe_dump(tables, sort_keys=False))
    report = v.validate_paper_tables(path)
    assert any(fragment in e for e in report.errors), report.errors
    with pytest.raises(InputFileError):
        v.load_paper_tables(path)


def test_the_paper_tables_pass():
    assert v.validate_paper_tables().ok(strict=True)
    assert set(v.load_paper_tables()) == {*(f"table{i}" for i in range(1, 8)), "figure2"}


# --------------------------------------------------------------------------- the table in tests/README.md
def _table_rows():
    text = (ROOT / "tests" / "README.md").read_text()
    return [line for line in text.splitlines() if re.match(r"^\| *\d+ *\|", line)]


def test_readme_table_lists_at_least_80_cases_that_refer_to_existing_tests():
    rows = _table_rows()
    assert len(rows) >= 80
    numbers = [int(r.split("|")[1]) for r in rows]
    assert numbers == list(range(1, len(rows) + 1))
    defined: dict[str, set[str]] = {}
    for row in rows:
        refs = re.findall(r"`(test_\w+\.py)::(test_\w+)(?:\[([^\]]+)\])?`", row)
        assert refs, row
        for file, function, case in refs:
            if file not in defined:
                tree = ast.parse((ROOT / "tests" / file).read_text())
                defined[file] = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert function in defined[file], (file, function)
            if file == "test_validation.py" and case:
                ids = {c[0] for c in PROFILE_CASES + PATH_CASES + MESSAGE_CASES + TABLE_CASES}
                assert case in ids or case in templates(), (file, function, case)
