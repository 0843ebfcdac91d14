"""What each kind of cluster job asks for: a profile's optional `resources` key, its JSON Schema, the defaults,
and the command line's overrides (`python -m cu_lab submit`).

A profile may state, per job kind, the GPUs, CPU cores, minutes and memory (GB) of one job::

    resources:
      originals: {gpus: 1, cpus: 8, minutes: 300, mem_gb: 32}   # training an original model
      retrains:  {gpus: 1, cpus: 8, minutes: 300}               # training a retrained reference
      methods:   {gpus: 1, minutes: 540}                        # one unlearning method on one task and seed
      runs:      {minutes: 60}                                  # one template run: assembles its sub-runs

A kind or a field left out takes `DEFAULTS`; `--gpus-per-job`, `--cpus-per-job`, `--time` and `--mem-gb` replace a
field for every kind. The schema (`RESOURCES_SCHEMA`) is part of the profile schema
(`cu_core.experiments.validate_profiles`), so `validate` and `load_profile` refuse a bad value naming the key and
what is allowed (e.g. `resources.methods.gpus: -1 (an integer) is out of range: expected >= 0`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

#: The job kinds, in the order they run: references first, then the methods, then the runs that assemble them.
KINDS = ("originals", "retrains", "methods", "runs")
FIELDS = ("gpus", "cpus", "minutes", "mem_gb")


@dataclass(frozen=True)
class Resources:
    """One job's request: GPUs and CPU cores on one node, a time limit in minutes, memory in GB (None: the
    partition's default)."""

    gpus: int = 0
    cpus: int = 1
    minutes: int = 60
    mem_gb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """'1 GPU, 8 CPUs, 300 min, 32 GB' (memory left out when not set)."""
        parts = [f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}", f"{self.cpus} CPU{'s' if self.cpus != 1 else ''}",
                 f"{self.minutes} min"]
        if self.mem_gb is not None:
            parts.append(f"{self.mem_gb:g} GB")
        return ", ".join(parts)


#: When a profile states nothing: one CPU core, an hour for a reference, half an hour for the rest.
DEFAULTS = {"originals": Resources(minutes=60), "retrains": Resources(minutes=60),
            "methods": Resources(minutes=30), "runs": Resources(minutes=30)}

_FIELD_SCHEMA = {
    "gpus": {"type": "integer", "minimum": 0, "maximum": 64},
    "cpus": {"type": "integer", "minimum": 1, "maximum": 1024},
    "minutes": {"type": "integer", "minimum": 1, "maximum": 60 * 24 * 30},
    "mem_gb": {"type": "number", "exclusiveMinimum": 0, "maximum": 65536},
}
RESOURCES_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {kind: {"type": "object", "additionalProperties": False, "properties": _FIELD_SCHEMA}
                   for kind in KINDS}}


def profile_resources(raw: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> dict[str, Resources]:
    """Each kind's `Resources`: `DEFAULTS`, then the profile's `resources` (already schema-checked), then
    `overrides` (field -> value, for every kind; None values are ignored)."""
    raw = raw or {}
    out = {}
    for kind in KINDS:
        res = replace(DEFAULTS[kind], **{k: v for k, v in (raw.get(kind) or {}).items() if k in FIELDS})
        out[kind] = replace(res, **{k: v for k, v in (overrides or {}).items() if v is not None})
    return out


__all__ = ["DEFAULTS", "FIELDS", "KINDS", "RESOURCES_SCHEMA", "Resources", "profile_resources"]
