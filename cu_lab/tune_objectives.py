"""What `tune` minimises, from a trial's outputs on the training array only: never the test set.

Both objectives read the forget set, the retain set and the held-out validation split (`Split.val`; for the class
task its remaining-class part `val_retain`, as SalUn's class-wise TA drops the forgotten class):

* **oracle**: the Avg. Gap (`cu_core.gap`, in percentage points) with TA on validation and MIA-Efficacy fitted on
  retain (members) vs validation (non-members), against the Retrain model of the same split computed the same
  way. What benchmarks tune on; it needs a Retrain, which a user who unlearns to avoid retraining does not have.
* **retrain-free**: what a user can compute without a Retrain, in percentage points:
  |forget accuracy − target| + max(0, val accuracy of the original − val accuracy of the unlearned model), the
  target being the validation accuracy of the unlearned model (sample task: forgotten examples should look like
  unseen ones) or 0 (class task: a model that never saw the class cannot name it).

`val_terms` gives the four terms of one model; `reference_terms` those of the original and Retrain of a run
(trained or loaded from the checkpoint cache), cached as `references.json` in the study's folder.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cu_core.attacks import mia_efficacy
from cu_core.config import RunConfig
from cu_core.metrics import Evaluation, evaluate
from cu_core.references import prepare, train_reference
from cu_core.results_io import atomic_write_json

OBJECTIVES = ("oracle", "retrain-free")
OBJECTIVE_TEXT = {
    "oracle": "Avg. Gap to Retrain on forget, retain and validation (MIA fitted on validation), lower is better",
    "retrain-free": "|forget acc - target| + drop of validation accuracy from the original (no Retrain needed; "
                    "target: validation acc for samples, 0 for a class), lower is better",
}


def held_out(ev: Evaluation) -> str:
    """The validation part standing for TA: the remaining classes' part for the class task."""
    return "val_retain" if ev.split.task == "class" else "val"


def val_terms(ev: Evaluation, *, seed: int = 0) -> dict[str, float]:
    """UA, RA, TA (on validation) and MIA-Efficacy (retain vs validation), in percent, of one model."""
    forget, retain, val = ev.part("forget_train"), ev.part("retain_train"), ev.part(held_out(ev))
    return {"ua": 100.0 * (1.0 - forget.accuracy()), "ra": 100.0 * retain.accuracy(), "ta": 100.0 * val.accuracy(),
            "mia": 100.0 * mia_efficacy(retain, val, forget, seed=seed), "fa": 100.0 * forget.accuracy()}


def oracle(terms: dict[str, float], retrain: dict[str, float]) -> float:
    """Avg. Gap over UA, RA, TA and MIA (`val_terms`) against Retrain's."""
    return sum(abs(terms[k] - retrain[k]) for k in ("ua", "ra", "ta", "mia")) / 4.0


def retrain_free(terms: dict[str, float], original: dict[str, float], task: str) -> float:
    """|forget acc − target| + max(0, original val acc − val acc), target = val acc (sample) or 0 (class)."""
    target = 0.0 if task == "class" else terms["ta"]
    return abs(terms["fa"] - target) + max(0.0, original["ta"] - terms["ta"])


def objective_value(objective: str, terms: dict[str, float], refs: dict[str, dict[str, float]], task: str) -> float:
    """The value `tune` minimises for `objective` (one of `OBJECTIVES`)."""
    if objective == "oracle":
        return oracle(terms, refs["retrain"])
    return retrain_free(terms, refs["original"], task)


def reference_terms(cfg: RunConfig, folder: Path, *, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """`val_terms` of the run's original and Retrain ({"original", "retrain"}), cached in `folder`."""
    path = folder / "references.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except ValueError:  # a damaged file is recomputed
            pass
    prep = prepare(cfg, cache_dir=cache_dir)
    found: dict[str, Any] = {}
    for kind in ("original", "retrain"):
        model = train_reference(prep, retrain=kind == "retrain", cache_dir=cache_dir).model
        ev = evaluate(model, prep.train, prep.test, prep.split, batch_size=cfg.train.eval_batch_size,
                      amp=cfg.train.amp)
        found[kind] = val_terms(ev, seed=cfg.split.seed)
    atomic_write_json(path, found)
    return found
