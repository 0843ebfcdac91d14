"""The profiles and templates of the appendix (`book/appendix/profiles.md`, `book/appendix/templates.md`).

Read from the driver's own sources: the profiles' YAML files (`cu_core.experiments.grid.load_profile`) and their
expansion into runs (`expand`), and the templates' `parameters` cells (`papermill.inspect_notebook`, what
`papermill --help-notebook` prints). Nothing is typed by hand, so the tables cannot drift from the code.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import papermill
from IPython.display import Markdown

from cu_core.experiments.grid import PROFILE_DIR, TEMPLATE_DIR, expand, load_profile, profiles
from cu_core.results import read_metrics

Params = dict[str, dict[str, Any]]  # a template's parameters: name -> papermill's description


def compact(params: Mapping[str, Any]) -> str:
    """k=v pairs; comma-separated values get a space after each comma, so that table cells can wrap."""
    return ", ".join(f"{k}={v}".replace(",", ", ") for k, v in params.items()) or "–"


def header_comment(name: str) -> str:
    """The comment lines that open the profile's YAML file."""
    lines = []
    for line in (PROFILE_DIR / f"{name}.yaml").read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def finished(run: Any, results: Path) -> bool:
    """Whether the run's summary metrics.json exists in `results`."""
    return read_metrics(results / run.folder) is not None


def profile_sections(profiles_: Mapping[str, Any], runs: Mapping[str, list[Any]],
                     results: Path) -> list[tuple[Markdown, pd.DataFrame]]:
    """Per profile: a paragraph (description, header comment, seeds, defaults, runs) and its experiments' table."""
    out = []
    for name, profile in profiles_.items():
        done = sum(finished(run, results) for run in runs[name])
        text = Markdown(
            f"**`{name}`**: {profile.description}. {header_comment(name)}\n\n"
            f"Seeds: {', '.join(map(str, profile.seeds))}. Defaults: `{compact(profile.defaults)}`. "
            f"Runs: {len(runs[name])}, of which {done} finished in this build's results.")
        rows = []
        for exp, spec in profile.experiments.items():
            varied = [f"{k} ∈ {{{', '.join(map(str, v))}}}" for k, v in (spec.get("grid") or {}).items()]
            varied += [compact(case) for case in spec.get("cases") or []]
            rows.append({"experiment": exp, "template": spec["template"],
                         "fixed": compact(spec.get("params") or {}), "varied": "; ".join(varied) or "–",
                         "seeds": ", ".join(map(str, spec.get("seeds", profile.seeds))),
                         "runs": sum(run.experiment == exp for run in runs[name])})
        out.append((text, pd.DataFrame(rows).set_index("experiment")))
    return out


def all_runs_table(runs: Mapping[str, list[Any]], results: Path) -> pd.DataFrame:
    """Every run: folder, template, all parameters, whether it finished, and its problem if it has one."""
    rows = []
    for name, profile_runs in runs.items():
        for run in profile_runs:
            rows.append({"profile": name, "experiment": run.experiment, "run_id": run.run_id,
                         "template": run.template, "parameters": compact(run.params),
                         "finished": "yes" if finished(run, results) else "no",
                         **({"problem": run.problem} if run.problem else {})})
    return pd.DataFrame(rows).set_index(["profile", "experiment", "run_id"])


def template_params() -> dict[str, Params]:
    """Every template in `notebooks/` (sorted by name) and its parameters."""
    names = sorted(p.name for p in TEMPLATE_DIR.glob("*.ipynb"))
    return {name: papermill.inspect_notebook(str(TEMPLATE_DIR / name)) for name in names}


def shared_parameters(params: Mapping[str, Params]) -> list[str]:
    """The parameters every template declares, in the first template's order."""
    templates = list(params)
    return [k for k in params[templates[0]] if all(k in params[t] for t in templates)]


def template_uses(templates: Sequence[str]) -> dict[str, list[str]]:
    """Template -> the profile of each run that executes it (one entry per run)."""
    uses: dict[str, list[str]] = {t: [] for t in templates}
    for name in profiles():
        for run in expand(load_profile(name)):
            uses.setdefault(run.template, []).append(name)
    return uses


def title_and_summary(name: str) -> tuple[str, str]:
    """The template's heading and the paragraph below it (its first markdown cell)."""
    cells = json.loads((TEMPLATE_DIR / name).read_text())["cells"]
    text = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    title = blocks[0].lstrip("#").strip() if blocks and blocks[0].startswith("#") else ""
    summary = next((b for b in blocks[1:] if not b.startswith("#")), "")
    return title, " ".join(summary.split())


def _row(p: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": p["inferred_type_name"], "default": p["default"], "comment": p["help"]}


def shared_table(params: Mapping[str, Params], shared: Sequence[str]) -> pd.DataFrame:
    """The shared parameters with the default most templates give them, and the templates that differ."""
    templates = list(params)
    rows = []
    for k in shared:
        defaults = pd.Series({t: params[t][k]["default"] for t in templates})
        usual = defaults.value_counts().index[0]
        others = ", ".join(f"{t}: {d}" for t, d in defaults.items() if d != usual)
        rows.append({"parameter": k, **_row({**params[templates[0]][k], "default": usual}),
                     "other defaults": others or "–"})
    return pd.DataFrame(rows).set_index("parameter")


def template_sections(params: Mapping[str, Params], shared: Sequence[str],
                      uses: Mapping[str, list[str]]) -> list[tuple[Markdown, pd.DataFrame | Markdown]]:
    """Per template: its title, purpose and runs per profile, and a table of the parameters it adds."""
    out = []
    for name in params:
        title, summary = title_and_summary(name)
        counted = pd.Series(uses[name], dtype=object).value_counts(sort=False)
        runs = ", ".join(f"{p}: {n}" for p, n in counted.items()) or "none"
        text = Markdown(f"**`{name}`**: {title}. {summary}\n\nRuns in the profiles: {runs}.")
        own = [{"parameter": k, **_row(p)} for k, p in params[name].items() if k not in shared]
        out.append((text, pd.DataFrame(own).set_index("parameter") if own
                    else Markdown("Only the shared parameters.")))
    return out
