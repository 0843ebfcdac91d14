"""Notebook templates: committed without outputs, one parameters cell of flat typed literals with a comment per
knob whose shared defaults are the config's, and a build cell that goes through cu_core only."""
import ast
import json

import papermill
import pytest

from cu_core.config import RunConfig
from cu_core.experiments.grid import TEMPLATE_DIR

TEMPLATES = sorted(TEMPLATE_DIR.glob("*.ipynb"))
EXPECTED = {"train_reference", "class_unlearning", "sample_unlearning", "compare_methods", "ablation", "efficiency",
            "geometry", "attacks"}


def test_every_template_exists():
    assert {p.stem for p in TEMPLATES} == EXPECTED


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_is_clean_and_flat(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code")
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    for node in ast.parse(source).body:  # flat typed literals only
        assert isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant)
    assert all("#" in line for line in source.splitlines() if line.strip())  # a comment per knob
    params = papermill.inspect_notebook(str(path))
    assert all(p["help"] for p in params.values()), [n for n, p in params.items() if not p["help"]]
    code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "import torch" not in code and "def " not in code  # no algorithm code in a template


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_shared_defaults_match_the_config(path):
    params = papermill.inspect_notebook(str(path))
    default = RunConfig()
    expected = {"dataset": default.data.dataset, "data_source": default.data.source, "model": default.model.name,
                "head": default.model.head, "train_epochs": default.train.epochs, "seed": default.train.seed,
                "forget_class": default.split.forget_class, "num_forget": default.split.num_forget,
                "forget_selection": default.split.forget_selection, "device": default.train.device}
    for name, value in expected.items():
        assert ast.literal_eval(params[name]["default"]) == value, name
    task = ast.literal_eval(params["task"]["default"])
    assert task == ("sample" if path.stem == "sample_unlearning" else default.split.task)
