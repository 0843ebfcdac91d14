"""Method settings per dataset: moved to `cu_core.unlearn.presets` (the method layer, so the command line uses
them too); re-exported here for the notebooks, benchmarks and book pages that import them from the driver."""
from __future__ import annotations

from ..unlearn.presets import DATASET_PRESETS, PRESETS, default_preset, method_settings, preset_for

__all__ = ["DATASET_PRESETS", "PRESETS", "default_preset", "method_settings", "preset_for"]
