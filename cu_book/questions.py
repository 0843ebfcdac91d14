"""What every page of the questions chapter (`book/questions/`) shares: the page set-up, the rows of one task,
the default CU runs of a profile, the per-step and per-pass logs of runs, and the chapter's exercises.

The readings of single questions live in the `cu_book.questions_*` modules (one per theme); this module holds
only what several pages need, so that no page copies it. It imports the results readers (`cu_book.report`, which
imports `cu_core` and with it `tqdm.auto`) only inside its functions, so that a page can call `setup_page` before
anything imports `tqdm.auto`, whose import warns "IProgress not found" where ipywidgets is missing.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .questions_exercises import EXERCISES, READING

#: The profiles whose results the chapter reads (its index names those that have any).
PROFILES = ("quick", "ablations", "cifar-cpu")


def setup_page() -> None:
    """The set-up of every questions page, called before the page imports the readers: silence tqdm's
    "IProgress not found" warning (tqdm.auto without ipywidgets warns when it is first imported) and apply the
    chapter's seaborn theme (white grid, notebook context) to the figures."""
    import seaborn as sns

    warnings.filterwarnings("ignore", message="IProgress not found")
    sns.set_theme(style="whitegrid", context="notebook")


def found_profiles(profiles: Sequence[str] = PROFILES, root: str | Path | None = None) -> str:
    """The profiles of `profiles` that have results ('quick, ablations'; plain text, as `{glue:text}` shows it), or
    'none'."""
    from . import report

    found = report.available(list(profiles), root)
    return ", ".join(found) or "none"


def default_runs(profile: str = "quick", root: str | Path | None = None) -> pd.DataFrame:
    """Every method's default sub-runs of `profile` (`report.canonical`), empty when nothing was written."""
    from . import report

    return report.canonical(report.subruns(profile, root=root))


def cu_runs(profile: str = "quick", root: str | Path | None = None) -> pd.DataFrame:
    """The default contrastive-unlearning sub-runs of `profile` (`default_runs` with method `contrastive`)."""
    df = default_runs(profile, root)
    return df[df["method"] == "contrastive"] if not df.empty else df


def run_logs(runs: pd.DataFrame, filename: str, columns: Sequence[str] = ("task", "seed")) -> pd.DataFrame:
    """Every sub-run's log `filename` (`history.csv`: one row per optimiser step; `passes.csv`: one row per pass
    over the forget set) read from its folder (column `path` of `runs`), with the run's `columns` added, in the
    order of `runs`. Sub-runs without the file are skipped; an empty frame when none has it."""
    frames = []
    for _, r in runs.iterrows():
        path = Path(r["path"]) / filename
        if path.is_file():
            frames.append(pd.read_csv(path).assign(**{c: r[c] for c in columns}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def exercises(question: str) -> str:
    """The exercises of one question page ('q01' … 'q10') as MyST: its reading exercises (`READING`) and its run
    exercises (`EXERCISES`), each with a hint and a worked solution in collapsed blocks
    (`cu_book.exercise_blocks`); every papermill command is checked against the parameters its template declares
    (`report_studies.check_command`)."""
    from .exercise_blocks import exercises_markdown
    from .report_studies import check_command

    for _, command in EXERCISES[question]:
        check_command(command)
    return exercises_markdown(question, READING[question], EXERCISES[question])
