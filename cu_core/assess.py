"""Everything measured about one model after training or unlearning, and the writing of a run folder.

`assess` makes one inference pass per array (`metrics.evaluate`) and derives from those outputs the
accuracies on every split, the membership-inference attacks (`attacks.run_attacks`) and the linear probe on
frozen embeddings (`diagnostics.linear_probe`). `write_run` validates `metrics.json` against the schema
(`schema.validate_metrics`) and writes the folder atomically, with the per-example outputs as `outputs.npz`
(so attacks and figures re-run without the model; not committed to git).
"""
from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .attacks import run_attacks
from .diagnostics import linear_probe
from .metrics import Evaluation, evaluate
from . import paths
from .results import atomic_write_json, to_jsonable, write_run_dir
from .schema import validate_metrics


def assess(model: torch.nn.Module, prep, *, seed: int = 0) -> tuple[Evaluation, dict[str, Any], float]:
    """(outputs, {"acc", "mia", "probe"}, seconds) for `model` on a `pipeline.Prepared` run."""
    start = time.perf_counter()
    cfg = prep.cfg
    ev = evaluate(model, prep.train, prep.test, prep.split, batch_size=cfg.train.eval_batch_size, amp=cfg.train.amp)
    forget_class = prep.split.forget_class if prep.split.task == "class" else None
    found = {"acc": ev.accuracies(), "mia": run_attacks(ev, seed=seed),
             "probe": linear_probe(ev, forget_class, seed=seed)}
    return ev, found, time.perf_counter() - start


#: Bump when an attack, the probe or the evaluation changes, so cached assessments are recomputed.
ASSESS_VERSION = 1


def assess_reference(result, prep, *, seed: int, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """`assess` for a cached reference model (original or retrained), itself cached beside the checkpoint.

    Every unlearning run reports the original's and Retrain's values; the cache spares a grid of runs from
    re-evaluating (and re-fitting the attacks on) the same two models again and again. The key is the
    checkpoint, the split, the seed and `ASSESS_VERSION`.
    """
    key = f"{Path(result.checkpoint).stem}-{prep.split.sha256[:16]}-s{seed}-v{ASSESS_VERSION}.json"
    path = paths.cache_dir(cache_dir) / "assess" / key
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except ValueError:  # a damaged cache entry is recomputed
            pass
    found = to_jsonable(assess(result.model, prep, seed=seed)[1])
    atomic_write_json(path, found)
    return found


def training_cost(n_examples: int, epochs: int, batch_size: int) -> dict[str, int]:
    """Optimiser steps and examples through forward + backward of `epochs` passes over `n_examples`."""
    return {"steps": epochs * math.ceil(n_examples / batch_size), "samples": epochs * n_examples}


def write_run(out_dir: str | Path | None, metrics: dict[str, Any], tables: dict[str, str],
              outputs: Evaluation | None = None) -> None:
    """Validate `metrics` and write `metrics.json`, the CSV `tables` and `outputs.npz` into `out_dir`."""
    payload = to_jsonable(metrics)
    validate_metrics(payload)
    if out_dir is None:
        return
    files: dict[str, str | bytes] = {"metrics.json": json.dumps(payload, indent=2) + "\n", **tables}
    if outputs is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **outputs.arrays())
        files["outputs.npz"] = buffer.getvalue()
    write_run_dir(out_dir, files)
