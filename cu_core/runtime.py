"""Device choice, autocast and seeding.

Autocast (bf16) is used only on CUDA: on a CPU bf16 is many times slower than float32.
"""
from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from .errors import ConfigError


def check_device(device: object) -> None:
    """Raise `ConfigError` unless `device` is 'auto', 'cpu', 'cuda' or 'cuda:N' and CUDA exists when named."""
    ok = isinstance(device, str) and (device in ("auto", "cpu", "cuda") or
                                      (device.startswith("cuda:") and device[5:].isdigit()))
    if not ok:
        raise ConfigError("device", device, "expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device", device, "CUDA is not available on this machine; use 'auto' or 'cpu'")


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' → CUDA when present, else CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool = True, *, cpu: bool = False) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when `enabled`, on the CPU when `cpu`, a null context otherwise."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if cpu and device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator for batch order and augmentation."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
