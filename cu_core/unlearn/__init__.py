"""Unlearning methods: contrastive unlearning (the paper's method); baselines join this package."""
from .base import UnlearnResult
from .contrastive import RETAIN_SAMPLING, STOP_RULES, ContrastiveConfig, contrastive_unlearn

__all__ = ["ContrastiveConfig", "RETAIN_SAMPLING", "STOP_RULES", "UnlearnResult", "contrastive_unlearn"]
