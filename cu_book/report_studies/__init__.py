"""Results of the studies beyond the paper, shaped for the book's chapters 4-6 (baselines, ablations, questions).

Reads what `python -m cu_core.experiments` wrote (through `cu_book.report.subruns`), from any profile:

* `ablation_<task>`: one run per (knob, seed), run ids `knob-<knob>_seed-<s>_<hash>`, sub-runs `<knob>-<value>`;
  `ablation_table` adds the knob, the value (its text, a sort order and a display label) and the original's and
  Retrain's numbers stored in each sub-run's `metrics.json`;
* `attacks_<task>`: `attack_table` adds the U-LiRA-style attack's numbers (`metrics.json["ulira"]`);
* `geometry_<task>`: `tsne_table` reads every run's `tsne.csv` (x, y, part, label, index, model);
* `efficiency_<task>`: `efficiency_table` adds forget-set size, time and example ratios.

Every reader returns an empty frame (with the documented columns) when nothing was written yet, so a page can
say what is missing instead of failing. `check_command` validates the papermill commands of the exercises
against the parameters the templates declare.
"""
from __future__ import annotations

from ..report import provenance
from ._common import TASKS, run_parameters, split_subrun, task_rows, value_label, fmt_pm, markdown_table, note_table, delta_text, change_text, mean_text
from .ablations import ABLATION_METRICS, expected_cases, ablation_table, ablation_both, knob_default, knob_rows, knob_stats, value_mean, split_sizes, cap_text, paired_delta, best_value
from .ablation_overview import coverage, ablation_summary
from .figures import plot_knob, placeholder_figure, knob_figure
from .studies import METHOD_SPACE, method_space, attack_table, tsne_table, efficiency_table, SALUN_TERMS, salun_terms, method_table, noise_floor, original_gap, SLOTS, slot_rows, headline
from .readings import UTILITY, utility_cost, vit_caveat, knob_overview, stop_rule_reading, best_setting_reading, cu_cost_reading
from .exercises import check_command, exercises_markdown

__all__ = [
    "task_rows",
    "ABLATION_METRICS",
    "METHOD_SPACE",
    "SLOTS",
    "UTILITY",
    "SALUN_TERMS",
    "TASKS",
    "ablation_both",
    "ablation_summary",
    "ablation_table",
    "attack_table",
    "best_value",
    "cap_text",
    "change_text",
    "check_command",
    "cu_cost_reading",
    "coverage",
    "delta_text",
    "efficiency_table",
    "exercises_markdown",
    "expected_cases",
    "fmt_pm",
    "knob_default",
    "knob_figure",
    "knob_rows",
    "knob_stats",
    "markdown_table",
    "mean_text",
    "method_space",
    "headline",
    "knob_overview",
    "utility_cost",
    "vit_caveat",
    "method_table",
    "noise_floor",
    "note_table",
    "original_gap",
    "slot_rows",
    "stop_rule_reading",
    "best_setting_reading",
    "paired_delta",
    "placeholder_figure",
    "plot_knob",
    "provenance",
    "run_parameters",
    "salun_terms",
    "split_sizes",
    "split_subrun",
    "tsne_table",
    "value_label",
    "value_mean",
]
