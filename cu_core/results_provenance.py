"""Provenance of a result: library versions, the hardware and the git commit of the checkout."""
from __future__ import annotations

import platform
import subprocess
from typing import Any

import numpy as np

from .paths import project_root


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries a result depends on."""
    import sklearn
    import torch
    import torchvision

    from . import __version__

    return {"python": platform.python_version(), "cu_core": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "platform": platform.platform()}


def device_description(device: Any) -> str:
    """A short human description of the hardware, e.g. 'cpu (2 threads, x86_64)' or 'cuda: NVIDIA H100'."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'' if threads == 1 else 's'}, {platform.machine()})"


def git_commit() -> str | None:
    """The checkout's commit (with '+dirty' when files differ), or None outside a git checkout."""
    root = project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")
