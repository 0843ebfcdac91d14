"""cu_core: Contrastive Unlearning (Lee et al., IJCAI 2025) as a small, tested library."""
__version__ = "0.1.0"
