"""The installation route: the Makefile's TORCH_INDEX choice (CPU-only PyTorch where no GPU is present and the
index answers; pip's own configuration otherwise, as on the project machines), the README that documents it, and
pyproject's Python bound with the comment that explains it."""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make_var(name: str) -> str:
    match = re.search(rf"^{name} \??:?= ?(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, name
    return match.group(1).strip()


def _torch_index(*args: str, path: Path) -> subprocess.CompletedProcess:
    """`make torch-index` with only `path` on PATH (an empty folder: no nvidia-smi even on a GPU machine; the
    recipe needs nothing else, bash and python are named by absolute paths)."""
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run([shutil.which("make"), "-s", "--no-print-directory", "torch-index",
                           f"PYTHON={sys.executable}", *args], cwd=ROOT, env={"PATH": str(path)},
                          capture_output=True, text=True, timeout=60)


def test_makefile_defaults_to_pypi_and_names_the_cpu_index_and_pyprojects_torch():
    assert _make_var("TORCH_INDEX") == "pypi"  # a default never contacts a host other than the registry
    assert _make_var("TORCH_CPU_INDEX") == CPU_INDEX
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_deps = [d for d in deps if re.match(r"torch(vision)?\b", d)]
    assert _make_var("TORCH_REQS") == " ".join(f'"{d}"' for d in torch_deps)


@pytest.mark.parametrize("value, expected", [("pypi", "pypi"), ("cpu", CPU_INDEX),
                                             ("https://example.org/simple", "https://example.org/simple")])
def test_explicit_choices(value, expected, tmp_path):
    out = _torch_index(f"TORCH_INDEX={value}", path=tmp_path / "empty")
    assert out.returncode == 0 and out.stdout.strip() == expected, out.stderr


@pytest.mark.parametrize("value", ["gpu", "", "cpu ", "file:///etc", "CPU"])
def test_a_bad_value_is_refused_with_the_allowed_ones(value, tmp_path):
    out = _torch_index(f"TORCH_INDEX={value}", path=tmp_path / "empty")
    assert out.returncode != 0 and "expected auto, pypi, cpu or an http(s):// index URL" in out.stderr


@pytest.fixture
def local_index(tmp_path):
    """A tiny HTTP 'index' with a torch/ page, standing in for PyTorch's CPU index."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "index.html").write_text("<html></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_auto_uses_the_cpu_index_only_without_a_gpu_and_when_it_answers(local_index, tmp_path):
    no_gpu, gpu = tmp_path / "empty", tmp_path / "gpu"
    gpu.mkdir()
    (gpu / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
    (gpu / "nvidia-smi").chmod(0o755)
    auto = "TORCH_INDEX=auto"
    out = _torch_index(auto, f"TORCH_CPU_INDEX={local_index}", path=no_gpu)  # no GPU, the index answers: CPU build
    assert out.stdout.strip() == local_index, out.stderr
    out = _torch_index(auto, f"TORCH_CPU_INDEX={local_index}", path=gpu)  # a GPU: pip's own (CUDA) build
    assert out.stdout.strip() == "pypi", out.stderr
    out = _torch_index(auto, "TORCH_CPU_INDEX=http://127.0.0.1:9/whl/cpu", path=no_gpu)  # no answer
    assert out.returncode == 0 and out.stdout.strip() == "pypi", out.stderr
    out = _torch_index(f"TORCH_CPU_INDEX={local_index}", path=no_gpu)  # the default asks no other host
    assert out.stdout.strip() == "pypi", out.stderr


def test_install_recipe_passes_the_chosen_index_to_pip_for_torch_only():
    out = subprocess.run(["make", "-n", "-B", "--no-print-directory", ".venv/.installed", "TORCH_INDEX=cpu"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '--index-url "$index" "torch>=2.2" "torchvision>=0.17"' in out.stdout
    assert "echo 'https://download.pytorch.org/whl/cpu'" in out.stdout
    # the project itself installs from pip's configuration, whatever TORCH_INDEX says
    assert re.search(r'^\.venv/bin/python -m pip install --quiet -e "\.\[book,test\]"$', out.stdout, re.M)


def test_readme_documents_the_route_the_makefile_takes():
    readme = (ROOT / "README.md").read_text()
    install = readme.split("**Installing.**", 1)[1].split("\n## ", 1)[0]
    assert "make install TORCH_INDEX=cpu" in install and CPU_INDEX in install and "make torch-index" in install
    for value in ("`pypi` (default)", "`auto`", "`cpu`", "a URL"):
        assert f"| {value} |" in install
    assert "Python 3.11, 3.12 or 3.13" in install


def test_requires_python_bound_matches_the_docs_and_has_its_reason():
    text = (ROOT / "pyproject.toml").read_text()
    spec = tomllib.loads(text)["project"]["requires-python"]
    assert spec == ">=3.11,<3.14"
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("requires-python"))
    comment = []
    for line in reversed(lines[:at]):
        if not line.startswith("#"):
            break
        comment.insert(0, line)
    reason = " ".join(comment)
    for needed in ("Lower bound", "Upper bound", "3.13", "wheels", "torch 2.14.1"):
        assert needed in reason, needed
    assert sys.version_info[:2] >= (3, 11) and sys.version_info[:2] < (3, 14)  # this interpreter is in range
    assert "Python 3.11, 3.12 or 3.13" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("value, torch_line", [
    ("cpu", f'-m pip install --quiet --index-url {CPU_INDEX} torch>=2.2 torchvision>=0.17'),
    ("pypi", None),
    ("gpu", "refused"),
])
def test_the_install_recipe_runs_with_the_chosen_index(value, torch_line, tmp_path):
    """The real recipe, run by make with a stand-in `.venv/bin/python` that logs the pip commands it gets."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "pip.log"
    (venv / "bin" / "python").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (venv / "bin" / "python").chmod(0o755)
    out = subprocess.run([shutil.which("make"), "--no-print-directory", f"VENV={venv}", f"{venv}/.installed",
                          f"TORCH_INDEX={value}"], cwd=ROOT, env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    if torch_line == "refused":
        assert out.returncode != 0 and "TORCH_INDEX=gpu is not allowed" in out.stderr
        assert not any("-e .[book,test]" in c for c in calls) and not (venv / ".installed").exists()
        return
    assert out.returncode == 0, out.stderr
    torch_calls = [c for c in calls if "--index-url" in c]
    assert torch_calls == ([torch_line] if torch_line else [])
    assert calls[-1] == "-m pip install --quiet -e .[book,test]" and (venv / ".installed").exists()
