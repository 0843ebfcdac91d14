"""Notebook templates: committed without outputs, one parameters cell whose defaults are the config's, and
they execute under papermill."""
import ast
import json
from pathlib import Path

import papermill
import pytest

from cu_core.config import RunConfig

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_is_clean(path):
    cells = json.loads(path.read_text())["cells"]
    assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code")
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    for node in ast.parse("".join(tagged[0]["source"])).body:  # flat typed literals only
        assert isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant)


def test_train_reference_defaults_match_the_config():
    params = papermill.inspect_notebook(str(ROOT / "notebooks" / "train_reference.ipynb"))
    default = RunConfig()
    expected = {"dataset": default.data.dataset, "model": default.model.name, "head": default.model.head,
                "epochs": default.train.epochs, "seed": default.train.seed, "task": default.split.task,
                "forget_class": default.split.forget_class, "num_forget": default.split.num_forget,
                "device": default.train.device}
    for name, value in expected.items():
        assert ast.literal_eval(params[name]["default"]) == value, name


@pytest.mark.slow
def test_train_reference_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("CU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    papermill.execute_notebook(str(ROOT / "notebooks" / "train_reference.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters={"epochs": 2, "results_dir": str(tmp_path / "results")},
                               kernel_name="python3", progress_bar=False)
    for kind in ("original", "retrain"):
        metrics = json.loads((tmp_path / "results" / "train_reference" / kind / "metrics.json").read_text())
        assert metrics["config"]["train"]["epochs"] == 2
