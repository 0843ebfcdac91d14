"""The exercises' papermill commands, validated against the templates' declared parameters."""
from __future__ import annotations

import json
import shlex
from typing import Any


from ._common import _as_float


def check_command(command: str) -> dict[str, str]:
    """Validate an exercise's papermill command; returns its parameters (name → value text).

    Checks: `papermill <notebooks/template.ipynb> <out.ipynb>` then only `-p name value` pairs; every name is
    declared by the template (papermill's own inspection); ints parse, and a str parameter is not given a text
    that papermill's `-p` would turn into a number or a bool (e.g. `-p values 4`); the values build a valid `RunConfig`
    (`experiments.params.run_config`); an ablation's knob and values parse (`ablations.parse_values`) and every
    value gives a valid ContrastiveConfig; JSON overrides are valid for the method. Raises ValueError otherwise.
    """
    import papermill

    from cu_core.errors import ConfigError
    from cu_core.experiments.ablations import parse_values
    from cu_core.experiments.params import run_config, unlearn_config
    from cu_core.paths import project_root

    words = shlex.split(command)
    if len(words) < 3 or words[0] != "papermill":
        raise ValueError(f"not a `papermill <template> <output>` command: {command!r}")
    template = project_root() / words[1]
    if not template.is_file() or template.suffix != ".ipynb":
        raise ValueError(f"no template {words[1]!r}")
    rest = words[3:]
    if len(rest) % 3 or any(flag != "-p" for flag in rest[0::3]):
        raise ValueError(f"only `-p name value` pairs may follow the output path: {command!r}")
    declared = papermill.inspect_notebook(str(template))
    given = dict(zip(rest[1::3], rest[2::3]))
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"{words[1]} declares no parameter {unknown} (it declares {', '.join(declared)})")
    typed: dict[str, Any] = {}
    for name, spec in declared.items():
        text = given.get(name)
        default = spec["default"]
        if text is None:
            typed[name] = json.loads(default) if default.startswith('"') else _literal(default)
        elif spec["inferred_type_name"] == "int":
            try:
                typed[name] = int(text)
            except ValueError:
                raise ValueError(f"{name} must be an int, got {text!r}") from None
        else:
            if text in ("True", "False", "None") or _as_float(text) is not None:
                raise ValueError(f"papermill's -p turns {text!r} into a {type(_literal(text)).__name__}, but "
                                 f"{name} is a str: write it with -r or as a list of at least two values")
            typed[name] = text
    keys = ("dataset", "data_source", "model", "head", "train_epochs", "task", "forget_class", "num_forget",
            "forget_selection", "seed", "device")
    try:
        cfg = run_config(**{k: typed[k] for k in keys if k in typed})
        method = typed.get("method", "contrastive")
        if "knob" in typed:
            from cu_core.experiments import runs

            base = typed.get("base_overrides", "")
            for value in parse_values(typed["knob"], typed["values"], cfg):
                if typed["knob"] in runs.RUN_KNOBS:
                    runs.with_knob(cfg, typed["knob"], value)  # validates the changed RunConfig
                overrides = base if typed["knob"] in runs.RUN_KNOBS else {
                    **(json.loads(base) if base.strip() else {}), typed["knob"]: value}
                unlearn_config("contrastive", preset=typed.get("preset", "defaults"), overrides=overrides)
        elif method != "retrain":
            unlearn_config(method, preset=typed.get("preset", "defaults"),
                           overrides=typed.get("method_overrides", ""))
    except (ConfigError, KeyError, ValueError) as err:
        raise ValueError(f"invalid exercise command {command!r}: {err}") from None
    return {k: str(v) for k, v in given.items()}


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def exercises_markdown(items: list[tuple[str, str]]) -> str:
    """A numbered Markdown list of exercises, each a sentence and its (validated) papermill command."""
    lines = []
    for i, (text, command) in enumerate(items, 1):
        check_command(command)
        lines += [f"{i}. {text}", "", "   ```bash", f"   {command}", "   ```", ""]
    return "\n".join(lines)
