"""One Optuna study of `tune`: TPE over the method's declared space, at a budget of processed examples.

Storage: Optuna's `JournalStorage` on a journal file in the study's folder (`journal.log`), so any number of
processes (or cluster jobs on a filesystem with working `flock`) share the study and a stopped one resumes by
running the same command again. Each process asks for a trial only under the study's lock (`.study.lock`,
`cu_core.locks.hold`), after counting what the study has spent:

    spent = Σ cost.samples of the finished trials (a failed trial is charged the mean of the finished ones)
    start a trial only while spent + (running trials) × (mean samples per finished trial) < budget

so the budget is respected to within one trial, however many processes share it (while no trial has finished
and one runs, a second process waits for it: the first trial sets the estimate). That one trial is kept small: its
passes over the data (`tune_space.PASS_KNOBS`: CU's pass cap, the gradient methods' epochs) are drawn at most

    (budget - spent - running × estimate) / (the most examples per pass of a finished trial)

so a draw cannot cost several budgets (CU's fixed 28 passes on the converged class task cost 1.26M examples of a
360k budget before), except by processing more examples per pass than any trial before it. The first trial of a
new study is the method's own settings under the profile's preset (`tune_space.start_params`, enqueued): the search
starts from the default, so its best trial is never worse than the default on the search objective, and a method
whose random draws are expensive (CU's fixed pass counts) still has its default among its trials. A trial left
RUNNING by a process that died on this host is marked failed. The sampler is `TPESampler` seeded by the request's
seed and the number of trials so far (a rerun draws the same sequence; two processes never share a draw).

Every trial is an ordinary run of the driver (`runs.unlearning`, as the `compare_methods` template) in
`runs/trial-NNNN/` (or a copy of the same run from the other objective's study: `tune_reuse`), scored by
`tune_objectives` on its outputs (forget, retain, validation: not the test set).
No pruner: the methods report no objective while they run, only after (their `passes.csv`), so there is
nothing to stop a trial early on; `optuna.pruners.NopPruner` says so in the study.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from tqdm.auto import tqdm

from cu_core.locks import hold
from cu_core.metrics import Evaluation
from cu_core.references import prepare
from cu_core.results_io import atomic_write_json
from cu_core.experiments.runs import run_dir, unlearning
from .tune_objectives import OBJECTIVES, objective_value, reference_terms, val_terms
from .tune_reuse import copy_run, find
from .tune_reuse import key as run_key
from .tune_setup import TunePlan
from .tune_space import PASS_KNOBS, start_params, suggest

HOST = socket.gethostname()
WAIT_SECONDS = 2.0
STARTUP = 4  # random trials before TPE models the results (of a dozen or so: most are guided)


def open_study(plan: TunePlan) -> optuna.Study:
    """The study of `plan` (created, or loaded to resume) on its journal file."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(plan.folder / "journal.log")))
    req = plan.request
    name = f"{req.method}-{req.task}-{req.objective}-seed{req.seed}"
    return optuna.create_study(study_name=name, storage=storage, direction="minimize", load_if_exists=True,
                               sampler=optuna.samplers.TPESampler(seed=req.seed), pruner=optuna.pruners.NopPruner())


def charged(trial: optuna.trial.FrozenTrial) -> int:
    """The examples a finished trial counts against the budget."""
    return int(trial.user_attrs.get("samples", 0))


def spent(study: optuna.Study) -> int:
    """Examples the study's finished trials processed (their charge)."""
    return sum(charged(t) for t in study.get_trials(deepcopy=False) if t.state.is_finished())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphans(study: optuna.Study) -> None:
    """Mark failed the RUNNING trials whose process on this host is gone (a killed run; resume starts anew)."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get("host") == HOST and not _alive(int(t.user_attrs.get("pid", -1))):
            study._storage.set_trial_user_attr(t._trial_id, "error", "its process died")
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def next_trial(study: optuna.Study, plan: TunePlan) -> optuna.Trial | None:
    """A new trial with its parameters drawn, or None when the budget (or `max_trials`) is reached."""
    req = plan.request
    while True:
        with hold(plan.folder / ".study.lock", what=f"the study {plan.folder}", report=lambda _: None):
            fail_orphans(study)
            trials = study.get_trials(deepcopy=False)
            finished = [t for t in trials if t.state.is_finished()]
            running = [t for t in trials if t.state == TrialState.RUNNING]
            done = [charged(t) for t in finished if t.state == TrialState.COMPLETE]
            if req.max_trials is not None and len(trials) >= req.max_trials:
                return None
            if finished and not done and len(finished) >= 5:
                return None  # five failures and no complete trial: the space or the method is broken here
            if done or not running:
                estimate = sum(done) / len(done) if done else 0.0
                left = req.budget - spent(study) - len(running) * estimate
                if left <= 0:
                    return None
                study.sampler = optuna.samplers.TPESampler(n_startup_trials=STARTUP,
                                                           seed=req.seed * 100_003 + len(trials))
                if not trials:  # a new study: its first trial is the method's own settings
                    study.enqueue_trial(start_params(req.method, plan.preset))
                trial = study.ask()
                trial.set_user_attr("host", HOST)
                trial.set_user_attr("pid", os.getpid())
                suggest(trial, _space(req.method), pass_caps(finished, left))
                return trial
        time.sleep(WAIT_SECONDS)  # the first trial runs elsewhere: wait for its cost


def pass_caps(finished: list[optuna.trial.FrozenTrial], left: float) -> dict[str, int]:
    """The most passes a new trial may draw (`PASS_KNOBS`) for its cost to fit in `left` examples, at the most
    examples per pass of the finished trials ({} before any trial has run a pass)."""
    rates = [t.user_attrs["samples"] / t.user_attrs["passes"] for t in finished
             if t.state == TrialState.COMPLETE and t.user_attrs.get("passes")]
    if not rates:
        return {}
    return dict.fromkeys(PASS_KNOBS, max(1, int(left // max(rates))))


def _space(method: str) -> Any:
    from cu_core.unlearn import METHODS

    return METHODS[method].space


def run_trial(trial: optuna.Trial, plan: TunePlan, refs: dict[str, Any], split: Any) -> tuple[float, int]:
    """Run the trial through the driver's code, score it, record it; (value, samples)."""
    req = plan.request
    name = f"trial-{trial.number:04d}"
    cfg, overrides = plan.config(req.seed), dict(trial.params)
    siblings = [plan.folder.parent / o for o in OBJECTIVES if o != req.objective]
    same = find(siblings, run_key(cfg, req.method, plan.preset, overrides))
    if same is not None and not run_dir(plan.folder, name).exists():  # the sibling study ran these settings
        if copy_run(same, run_dir(plan.folder, name)):
            trial.set_user_attr("copied_from", f"{same.parent.parent.name}/runs/{same.name}")
    metrics = unlearning(plan.folder, name, cfg, req.method, preset=plan.preset, overrides=overrides)
    ev = Evaluation.load(run_dir(plan.folder, name) / "outputs.npz", split)
    terms = val_terms(ev, seed=req.seed)
    values = {o: objective_value(o, terms, refs, req.task) for o in OBJECTIVES}
    samples = int(metrics["cost"]["samples"])
    passes = int(metrics.get("epochs") or 0)  # passes over the data the run made (0: a one-shot method)
    for key, value in {"samples": samples, "passes": passes, "run": name, "terms": terms, "values": values}.items():
        trial.set_user_attr(key, value)
    return values[req.objective], samples


def run_study(plan: TunePlan) -> optuna.Study:
    """Run trials until the study's budget is spent (resuming what the journal holds)."""
    req = plan.request
    study = open_study(plan)
    atomic_write_json(plan.folder / "request.json", {**{k: v for k, v in vars(req).items()
                                                        if k not in ("results_dir", "cache_dir", "progress")},
                                                     "preset": plan.preset, "params": plan.params})
    cfg = plan.config(req.seed)
    refs = reference_terms(cfg, plan.folder, cache_dir=req.cache_dir)
    split = prepare(cfg, cache_dir=req.cache_dir).split
    bar = tqdm(total=req.budget, initial=min(spent(study), req.budget), unit="ex", disable=not req.progress,
               desc=f"tune {req.method} {req.task} {req.objective}")
    while (trial := next_trial(study, plan)) is not None:
        try:
            value, samples = run_trial(trial, plan, refs, split)
        except (FloatingPointError, RuntimeError, ValueError) as err:  # a diverged or refused draw: a failed trial
            done = [charged(t) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
            samples = int(sum(done) / len(done)) if done else 0
            trial.set_user_attr("samples", samples)
            trial.set_user_attr("error", " ".join(str(err).split())[:500])
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, value)
        bar.update(min(samples, max(0, req.budget - bar.n)))
    bar.close()
    return study
