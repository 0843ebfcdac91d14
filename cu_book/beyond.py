"""What the pages of the "Beyond the paper" chapter share: a table or the note that stands in for it, the colours of
where a method acts (`cu_book.report_studies.method_space`) and their legend, and which profiles feed the chapter.

The chapter's readers (`cu_book.baselines`, `cu_book.attack_readings`, `cu_book.cost_readings`, `cu_book.probe`)
call these instead of each writing its own copy.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cu_book import report
from cu_book.report_studies import markdown_table, note_table

# Where a method acts, in the order of the legends; "reference" holds Retrain and the original model.
SPACES = ["representation", "output", "input", "weights", "retain data only", "reference"]
CHAPTER_PROFILES = ["quick", "cifar-cpu", "ablations"]  # the profiles the chapter's first page lists


def table_or_note(table: pd.DataFrame, note: str) -> str:
    """`table` as a Markdown table, or `note` as a one-cell note table when `table` is empty."""
    return markdown_table(table) if not table.empty else note_table(note)


def space_colours() -> dict[str, Any]:
    """One colour per entry of `SPACES` (seaborn's colour-blind palette, in that order)."""
    import seaborn as sns

    return dict(zip(SPACES, sns.color_palette("colorblind", len(SPACES))))


def space_legend(fig: Any, spaces: list[str], *, marker: bool, y: float) -> None:
    """The figure-level "acts on" legend above the panels: a patch (bars) or a dot (`marker`) per space."""
    import matplotlib.pyplot as plt

    colours = space_colours()
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colours[s]) if marker
               else plt.Rectangle((0, 0), 1, 1, color=colours[s]) for s in spaces]
    fig.legend(handles, spaces, title="acts on", loc="upper center", ncol=len(spaces), fontsize=8,
               bbox_to_anchor=(0.5, y))


def profile_caption(df: pd.DataFrame, profile: str) -> str:
    """Provenance of one profile's rows, or 'no results for the <profile> profile' when there are none."""
    return report.provenance(df, profile if not df.empty else None, f"the {profile} profile")


def chapter_profiles(profiles: list[str] | None = None, root: str | Path | None = None) -> tuple[str, str]:
    """The chapter's note on its inputs: (the profiles with complete sub-runs, as "quick, cifar-cpu" or
    "none"; a sentence naming those not found, or "All three were found."). Runs still being written sit in
    hidden staging folders and do not count."""
    profiles = profiles or CHAPTER_PROFILES
    found = report.available(list(profiles), root)
    missing = [p for p in profiles if p not in found]
    found_text = ", ".join(found) if found else "none"
    missing_text = ("Not found at build time: " + ", ".join(missing) + "; the pages say what "
                    "this leaves out.") if missing else ("All three were found." if len(profiles) == 3 else "All were found.")
    return found_text, missing_text
