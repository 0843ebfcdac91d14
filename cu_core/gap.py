"""Avg. Gap (SalUn / Sparse): how far an unlearned model is from the retrained reference, in percentage points.

    Avg. Gap = mean(|UA − UA_R|, |RA − RA_R|, |TA − TA_R|, |MIA − MIA_R|)            (lower is better)

computed from two `metrics.json` payloads (schema: `cu_core.schema`), every quantity in percent:

| term | from `metrics.json` | note |
|---|---|---|
| UA (unlearning accuracy) | 100 · (1 − `acc.forget_train`) | SalUn's convention: 100 − forget accuracy |
| RA (remaining accuracy) | 100 · `acc.retain_train` | |
| TA (testing accuracy) | sample task: 100 · `acc.test`; class task: 100 · `acc.retain_test` | SalUn evaluates class-wise TA on the remaining classes only |
| MIA (MIA-Efficacy) | 100 · `mia.mia_efficacy` | written by the attacks module, a fraction in [0, 1] |

Missing MIA: when either payload has no `mia.mia_efficacy` (no `mia` dict, the key absent, or null), the gap is
the mean of the three accuracy terms, `"mia"` is None and `"terms"` is 3 — a 3-term gap is *not* comparable with a
4-term one, so tables must carry `terms`. `"terms"` is always present (4 when the MIA term is used).

The two runs must describe the same unlearning problem: the same dataset (`config.data.dataset`), the same task
(`config.split.task`) and, for class tasks, the same forgotten class (`config.split.forget_class`); otherwise
`ConfigError`. The reference should be the Retrain run *of the same seed* (evaluation.md §1.2); a different
`split_sha256` only warns, since a gap against another seed's Retrain is sometimes wanted (noise floor).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError


def _get(payload: Mapping[str, Any], path: str, name: str) -> Any:
    value: Any = payload
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            raise ConfigError(f"{name}.{path}", "<missing>",
                              "a metrics.json payload with this key (see cu_core.schema)")
        value = value[key]
    return value


def _fraction(payload: Mapping[str, Any], path: str, name: str) -> float:
    value = _get(payload, path, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}.{path}", value, "a fraction in [0, 1]")
    return float(value)


def _mia(payload: Mapping[str, Any], name: str) -> float | None:
    mia = payload.get("mia")
    if not isinstance(mia, Mapping) or mia.get("mia_efficacy") is None:
        return None
    return _fraction(payload, "mia.mia_efficacy", name)


def gap_terms(metrics: Mapping[str, Any], *, name: str = "metrics") -> dict[str, float | None]:
    """UA, RA, TA and MIA of one run in percent (MIA None when the run has no `mia.mia_efficacy`)."""
    task = _get(metrics, "config.split.task", name)
    ta_key = {"class": "acc.retain_test", "sample": "acc.test"}.get(task)
    if ta_key is None:
        raise ConfigError(f"{name}.config.split.task", task, "'class' or 'sample'")
    mia = _mia(metrics, name)
    return {"ua": 100.0 * (1.0 - _fraction(metrics, "acc.forget_train", name)),
            "ra": 100.0 * _fraction(metrics, "acc.retain_train", name),
            "ta": 100.0 * _fraction(metrics, ta_key, name),
            "mia": None if mia is None else 100.0 * mia}


def avg_gap(metrics: Mapping[str, Any], retrain_metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Avg. Gap of `metrics` (an unlearned, or any, run) against `retrain_metrics` (the Retrain reference).

    Returns {"avg_gap", "ua", "ra", "ta", "mia", "terms"}: the mean and each absolute gap alone, in percentage
    points; "mia" is None and "terms" is 3 when either run lacks `mia.mia_efficacy` (then the mean is over UA,
    RA and TA). Raises `ConfigError` for runs of different datasets, tasks or forgotten classes, or for a
    missing or out-of-range accuracy.
    """
    for path in ("config.data.dataset", "config.split.task"):
        a, b = _get(metrics, path, "metrics"), _get(retrain_metrics, path, "retrain_metrics")
        if a != b:
            raise ConfigError(f"retrain_metrics.{path}", b, f"the same value as metrics.{path} ({a!r})")
    if _get(metrics, "config.split.task", "metrics") == "class":
        path = "config.split.forget_class"
        a, b = _get(metrics, path, "metrics"), _get(retrain_metrics, path, "retrain_metrics")
        if a != b:
            raise ConfigError(f"retrain_metrics.{path}", b, f"the same value as metrics.{path} ({a!r})")
    sha_a, sha_b = metrics.get("split_sha256"), retrain_metrics.get("split_sha256")
    if sha_a and sha_b and sha_a != sha_b:
        warnings.warn("avg_gap: the two runs have different splits (split_sha256); the gap is against a Retrain "
                      "of another split/seed", RuntimeWarning, stacklevel=2)
    mine, ref = gap_terms(metrics, name="metrics"), gap_terms(retrain_metrics, name="retrain_metrics")
    out: dict[str, float | None] = {k: abs(mine[k] - ref[k]) for k in ("ua", "ra", "ta")}
    if mine["mia"] is None or ref["mia"] is None:
        out["mia"] = None
    else:
        out["mia"] = abs(mine["mia"] - ref["mia"])
    used = [v for v in out.values() if v is not None]
    return {"avg_gap": sum(used) / len(used), **out, "terms": len(used)}


__all__ = ["avg_gap", "gap_terms"]
