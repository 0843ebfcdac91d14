"""The book's side: results files → the tables, figures and readings of the pages.

`cu_book` imports `cu_core`; `cu_core` never imports `cu_book` (ARCHITECTURE.md, checked by
tests/test_architecture.py). A page sets parameters, calls one function of this package per table or figure and
glues what it returns. The modules, by what they serve:

- reading results: `report` (sub-run rows of a profile, provenance captions, which profile a page shows),
  `formatting` (mean ± std), `paper_compare` (the paper's tables beside ours), `scales` (every CIFAR scale side by
  side), `report_studies` (ablation tables, studies, readings, exercises), `run_times`, `repeat_training`;
- the paper's claims: `claims` (one rule per claim), `power` (whether a test can decide at our scale),
  `time_ratios`, `table_pages` (everything Tables 1–7 glue), `figure2`;
- the method chapter: `method_pages`, `loss_demo`, `loss_checks`, `variant_numbers`, `variants_table`,
  `algorithm_demo`;
- the ablations and studies: `ablation_pages`, `diagnosis`, `trough`, `remedies`, `regime`, `costs`,
  `cost_readings`, `probe`, `attack_readings`, `baselines`, `beyond`;
- the questions: `questions` and `questions_*`; the quickstart: `quickstart`; the appendix: `appendix`,
  `appendix_profiles`, `appendix_times`.
"""
