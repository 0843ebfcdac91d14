"""Campaigns built on the experiment driver of `cu_core.experiments`: a profile's runs as cluster jobs (`submit_*`,
Slurm through submitit, or local processes) and one method's hyperparameters searched at a budget of processed
examples (`tune_*`, Optuna). Command line: `python -m cu_lab` (`cu_lab.__main__`).

`cu_lab` imports `cu_core` and never the other way round; the book's readers (`cu_book`) may read its results.
"""
