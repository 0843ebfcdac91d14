"""Unlearning methods under one interface (`registry.unlearn`), contrastive unlearning first."""
from .base import UnlearnResult
from .contrastive import RETAIN_SAMPLING, STOP_RULES, ContrastiveConfig, contrastive_unlearn
from .registry import METHODS, Method, method_config, register, unlearn

__all__ = ["ContrastiveConfig", "METHODS", "Method", "RETAIN_SAMPLING", "STOP_RULES", "UnlearnResult",
           "contrastive_unlearn", "method_config", "register", "unlearn"]
