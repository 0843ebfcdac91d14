"""A profile's runs split into cluster jobs along their real dependencies (`plan`), for `submit`.

Four kinds of job (`cu_core.experiments.resources.KINDS`):

- **originals** and **retrains**: one job per reference model a run needs (each original and each Retrain per
  dataset, model, training recipe, task and seed; shared by every run that needs the same model). It trains the
  model into the checkpoint cache (`$CU_CACHE_DIR`, `cu_core.train`: locked, resumable per epoch) and writes no
  results.
- **methods**: one job per method (and per variant) of a `compare_methods` run, i.e. per (method, task, seed):
  it computes that sub-run into the run's staging folder `<experiment>/.<run_id>.partial/runs/<name>/`, exactly
  as the template's own call (`cu_core.experiments.runs.unlearning`) would. It depends on the run's references.
- **runs**: one job per template run: the in-process driver's `execute` (papermill into the staging folder, which
  loads every sub-run already there, then the summary files and the rename into place). It depends on its
  references and on its method jobs. Templates other than `compare_methods` run whole in this job.

So the results are the in-process driver's files, in the same folders. Work already done is not planned again:
a run whose results are complete, a method whose sub-run is complete, a reference job whose state file says done.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cu_core.config import RunConfig
from cu_core.results import read_metrics
from cu_core.unlearn import METHODS
from cu_core.experiments.grid import Run
from cu_core.experiments.knobs import RUN_KNOBS, ablation_plan, parse_variants, with_knob
from cu_core.experiments.params import check_parameters
from cu_core.experiments.templates import declared_parameters

SPLIT_TASK_FIELDS = ("task", "forget_class", "num_forget", "forget_selection", "class_drop_last")


@dataclass(frozen=True)
class Job:
    """One cluster job: a unique `name` (a safe file name), its kind, what it does in words, the names of the jobs
    it waits for, the template run it belongs to (None for a reference) and what it needs to do its work."""

    name: str
    kind: str
    label: str
    deps: tuple[str, ...] = ()
    run: Run | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    runs: tuple[str, ...] = ()  # the run folders that need it (a reference may serve several)


def template_values(run: Run) -> dict[str, Any]:
    """Every parameter of `run`'s template: its declared defaults, then the run's own."""
    return {**{n: p.default for n, p in declared_parameters(run.template).items()}, **run.params}


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:10]


def reference_key(cfg: RunConfig, retrain: bool) -> str:
    """What determines a reference model's weights: data, model, training recipe, the split's seed (an original
    does not depend on the task: it is trained on the whole training pool) and, for Retrain, the task."""
    d = cfg.to_dict()
    split = d["split"] if retrain else {k: v for k, v in d["split"].items() if k not in SPLIT_TASK_FIELDS}
    return _hash({"data": d["data"], "model": d["model"], "train": cfg.train.recipe(), "split": split})


def reference_configs(run: Run, values: dict[str, Any], cfg: RunConfig) -> list[RunConfig]:
    """The run configs whose original and Retrain a run's template trains: one, or one per forget-set size
    (efficiency, sample task) or per value of a knob that changes the training (ablation of a `RUN_KNOBS`)."""
    if run.template == "efficiency.ipynb" and cfg.split.task == "sample":
        return [with_knob(cfg, "num_forget", int(n)) for n in str(values["forget_sizes"]).split(",") if n.strip()]
    if run.template == "ablation.ipynb" and values.get("knob") in RUN_KNOBS:
        return [c for _, c, _, _ in ablation_plan(cfg, values["knob"], values["values"], preset=values["preset"],
                                                  base_overrides=values["base_overrides"])]
    return [cfg]


def method_subruns(values: dict[str, Any], cfg: RunConfig) -> list[tuple[str, str, dict[str, Any] | str]]:
    """A compare_methods run's sub-runs as (name, method, overrides), in the template's order."""
    task, methods = cfg.split.task, str(values["methods"])
    names = ([m for m in METHODS if task in METHODS[m].tasks] if methods == "all"
             else [m.strip() for m in methods.split(",") if m.strip()])
    extra = parse_variants(values["variants"], preset=values["preset"], seed=cfg.split.seed)
    return [(n, n, "") for n in names] + [(n, m, o) for n, (m, o) in extra.items()]


def staging_folder(root: Path, run: Run) -> Path:
    """Where the driver stages a run (`cu_core.experiments.runner`): `<experiment>/.<run_id>.partial/`."""
    return root / run.profile / run.experiment / f".{run.run_id}.partial"


def plan(runs: list[Run], root: Path | None, *, done_jobs: set[str] | frozenset[str] = frozenset()) -> list[Job]:
    """The jobs that remain for `runs` under the results folder `root` (None: plan everything, as for a listing),
    references first, then methods, then runs; `done_jobs`: reference jobs known to be finished."""
    from cu_core.experiments.status import run_state

    refs: dict[str, Job] = {}
    later: list[Job] = []
    for run in runs:
        if run.problem or (root is not None and run_state(root / run.folder)[0] == "done"):
            continue
        values = template_values(run)
        # planned where the jobs will run: the submitting machine may lack the GPU (the jobs keep the device)
        cfg = check_parameters(**{**values, "device": "cpu"})
        ref_names = []
        for ref_cfg in reference_configs(run, values, cfg):
            for kind, retrain in (("originals", False), ("retrains", True)):
                name = f"{'retrain' if retrain else 'original'}-{reference_key(ref_cfg, retrain)}"
                if name in done_jobs:
                    continue
                c, s = ref_cfg, ref_cfg.split
                what = f"{'Retrain' if retrain else 'original'} {c.data.dataset}/{c.model.name} seed {s.seed}"
                if retrain:
                    what += f", {s.task} task" + (f" class {s.forget_class}" if s.task == "class"
                                                  else f" {s.num_forget} samples")
                config = c.to_dict()
                config["train"]["device"] = values["device"]
                old = refs.get(name)
                refs[name] = Job(name, kind, what, (), None, {"config": config, "retrain": retrain},
                                 tuple(dict.fromkeys((old.runs if old else ()) + (run.folder,))))
                ref_names.append(name)
        methods = []
        if run.template == "compare_methods.ipynb":
            staging = staging_folder(root, run) if root is not None else None
            for sub, method, overrides in method_subruns(values, cfg):
                if staging is not None and read_metrics(staging / "runs" / sub / "metrics.json") is not None:
                    continue
                name = f"method-{run.experiment}-{run.run_id}-{sub}"
                later.append(Job(name, "methods", f"{sub} of {run.folder}", tuple(dict.fromkeys(ref_names)), run,
                                 {"subrun": sub, "method": method, "overrides": overrides, "preset": values["preset"],
                                  "ulira_shadows": values["ulira_shadows"]}, (run.folder,)))
                methods.append(name)
        later.append(Job(f"run-{run.experiment}-{run.run_id}", "runs", run.folder,
                         tuple(dict.fromkeys(ref_names + methods)), run, {}, (run.folder,)))
    ordered = list(refs.values()) + [j for j in later if j.kind == "methods"] + [j for j in later if j.kind == "runs"]
    return ordered


__all__ = ["Job", "method_subruns", "plan", "reference_configs", "reference_key", "staging_folder",
           "template_values"]
