"""Exercises as the book prints them (issue 21): each one a `sphinx-exercise` block, a hint and a worked solution,
both in collapsed (dropdown) blocks.

Two kinds. A *reading* exercise asks for a number the page already shows; its solution quotes the page's own glue
values through `{glue:text}` roles, so no number is typed. A *run* exercise reruns a template with new parameters
(`cu_book.questions_exercises.EXERCISES`); its hint says what the output notebook holds, its solution gives the
command (checked against the template, `report_studies.check_command`) and how to read the result against the page.
The Markdown is glued with `{glue:md}` and `:format: myst`, so the directives and roles inside it are parsed.
"""
from __future__ import annotations

import shlex

FENCE = "`" * 4
#: What each template's output notebook shows, for the run exercises' hints.
OUTPUTS = {
    "ablation.ipynb": "one row per value of the knob `{knob}` ({values}), with the forget-set accuracy, the kept "
                      "accuracy, the Avg. Gap to Retrain and the passes until the stopping rule fired",
    "geometry.ipynb": "the t-SNE maps of the embeddings before and after unlearning and the linear probe's accuracy "
                      "on the forget set, for the method and for Retrain",
    "compare_methods.ipynb": "one row per method with its accuracies, its Avg. Gap to Retrain and its time",
    "attacks.ipynb": "every attack's result on the unlearned model and on Retrain, with the U-LiRA balanced accuracy",
    "class_unlearning.ipynb": "the accuracies of the original, the unlearned and the retrained model on the forget "
                              "class and on the other classes",
    "sample_unlearning.ipynb": "the accuracies of the original, the unlearned and the retrained model on the forget "
                               "samples and on the test set",
}


def block(label: str, title: str, question: str, hint: str, solution: str) -> str:
    """One exercise: the `exercise` directive, a collapsed hint and a collapsed `solution`, as MyST Markdown."""
    return (f"{FENCE}{{exercise}} {title}\n:label: {label}\n\n{question}\n{FENCE}\n\n"
            f":::{{admonition}} Hint\n:class: hint dropdown\n\n{hint}\n:::\n\n"
            f"{FENCE}{{solution}} {label}\n:class: dropdown\n\n{solution}\n{FENCE}\n")


def run_texts(command: str) -> tuple[str, str]:
    """(hint, worked solution) of a run exercise, from its papermill command."""
    words = shlex.split(command)
    template, out = words[1].rsplit("/", 1)[-1], words[2]
    params = dict(zip(words[4::3], words[5::3]))
    shows = OUTPUTS.get(template, "the template's tables and figures").format(
        knob=params.get("knob", "?"), values=params.get("values", "?"))
    others = ", ".join(f"`{k} = {v}`" for k, v in params.items() if k not in ("knob", "values")) or "the defaults"
    hint = (f"The template is `{words[1]}`; `papermill --help-notebook {words[1]}` lists its parameters. "
            f"The output notebook `{out}` shows {shows}.")
    solution = ("From the repository root, in the project's environment:\n\n```bash\n" + command + "\n```\n\n"
                f"Open `{out}` (the run uses {others}). Compare its numbers with the same measurement on this page: "
                "a change smaller than the spread over seeds shown here is noise, a larger one is an effect of the "
                "parameter you changed. Say in one sentence whether the page's answer still holds.")
    return hint, solution


def exercises_markdown(page: str, reading: list[tuple[str, str, str, str]], runs: list[tuple[str, str]]) -> str:
    """Every exercise of one page: its reading exercises (title, question, hint, solution with glue roles), then
    its run exercises (what to try, the command), numbered by `sphinx-exercise`; labels `ex-<page>-<n>`."""
    blocks = [block(f"ex-{page}-{i}", title, question, hint, solution)
              for i, (title, question, hint, solution) in enumerate(reading, 1)]
    for i, (task, command) in enumerate(runs, len(reading) + 1):
        hint, solution = run_texts(command)
        blocks.append(block(f"ex-{page}-{i}", "Run it yourself", task, hint, solution))
    return "\n".join(blocks)


G = "{{glue:text}}`{}`".format
#: The method chapter's reading exercises, per page (solutions quote the page's glue values).
METHOD: dict[str, list[tuple[str, str, str, str]]] = {
    "losses": [
        ("Eq. (7) by hand", "Recompute the total loss of the page's example batch from its two unweighted terms.",
         "Eq. (7) weights the contrastive term by λ_UL and the CE term by λ_CE, then adds them.",
         f"{G('lambda_ul')} × {G('tot_ul')} + {G('lambda_ce')} × {G('tot_ce')} = {G('tot_loss')}, the value "
         "`cu_core` reports."),
        ("What the damping does", "In the class task, does replacing the paper's denominator by the code's change "
         "the update?", "Compare the values and the gradients of the two forms in the page's check table.",
         f"No: the gradients of the two forms differ by at most {G('cls_grad_gap')} (floating-point rounding), "
         f"while the loss values differ by the constant offset (largest discrepancy from it: {G('cls_value_err')})."),
    ],
    "algorithm": [
        ("Steps and passes", "How many optimiser steps does one pass over the forget set take in the page's run, "
         "and after how many passes did each stopping rule end it?",
         "A pass takes one step per forget batch and retain batch pairing; the rules are compared in the text.",
         f"{G('steps_per_pass')} steps per pass. The default (validation) rule stopped after {G('val_passes')} "
         f"passes, reason \"{G('val_reason')}\"; the paper's test-set rule after {G('test_passes')} passes, reason "
         f"\"{G('test_reason')}\"."),
        ("What the stop left", "After the default run, how much of the forget set and of the other classes does "
         "the model still recognise, against the original?", "Read the accuracies after the default run.",
         f"Forget set: {G('val_forget_train')} % (original: {G('original_forget_train')} %); the other classes' test "
         f"images: {G('val_retain_test')} % (original: {G('original_retain_test')} %)."),
    ],
}


def method_exercises(page: str) -> str:
    """The exercises of a method-chapter page ('losses', 'algorithm'), as MyST (`exercises_markdown`)."""
    return exercises_markdown(page, METHOD[page], [])


__all__ = ["FENCE", "METHOD", "OUTPUTS", "block", "exercises_markdown", "method_exercises", "run_texts"]
