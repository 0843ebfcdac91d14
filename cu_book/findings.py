"""The findings page: every claim of the paper's Tables 1–7 and Figure 2 in one table, with the paper's own number,
ours at each scale that has results, the verdict and a link to the page that shows it.

Nothing here judges anything itself: each scale's verdict and reason come from the page's own reader
(`cu_book.table_pages.values` for one profile, `cu_book.figure2.figure2_verdicts` for one scale), and the paper's
number is the same rule applied to the paper's first model. A page that shows several scales joins their verdicts
with `cu_book.scales.joined_verdict`, so the words on a page and in this table cannot differ.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from . import figure2, paper_compare, report, scales, table_pages
from .power import NOT_TESTABLE

# the scales the findings table shows, most faithful first (a column only where results exist)
SCALES = ["paper", "paper-gpu", "cifar-converged", "cifar-cpu", "quick"]
VERDICTS = (report.verdict(True), report.verdict(False), report.verdict(None), NOT_TESTABLE)
TITLES = {"table1": "Table 1", "table2": "Table 2", "table3": "Table 3", "figure2": "Figure 2", "table4": "Table 4",
          "table5": "Table 5", "table6": "Table 6", "table7": "Table 7"}
CLAIMS: tuple[tuple[str, str, str], ...] = (  # (page, rule key, the claim in the book's words)
    ("table1", "forgets", "CU forgets the class as completely as Retrain (CIFAR-10)"),
    ("table1", "keeps", "CU keeps the other classes' accuracy close to Retrain's"),
    ("table1", "beats", "No baseline that forgets the class keeps more of the other classes' accuracy"),
    ("table2", "forgets", "The same three class-task claims on SVHN: forgets"),
    ("table2", "keeps", "SVHN: keeps the other classes"),
    ("table2", "beats", "SVHN: beats the baselines"),
    ("table3", "retrain", "CU is faster than Retrain (class task)"),
    ("table3", "fastest", "CU is the fastest class-unlearning method"),
    ("figure2", "zero", "CU forgets the class within one pass"),
    ("figure2", "boundary", "CU ends the first pass below the boundary methods"),
    ("figure2", "scrub", "SCRUB has not unlearned after one pass"),
    ("figure2", "unsir", "UNSIR is at 0 % from the first pass"),
    ("figure2", "batch", "CU's accuracy dips and rebounds within the first epoch"),
    ("table4", "test", "CU keeps the test accuracy close to Retrain's (sample task)"),
    ("table4", "forget", "CU's accuracy on the forget samples is close to Retrain's"),
    ("table4", "best", "CU keeps the best test accuracy of the sample-unlearning methods"),
    ("table5", "test", "The same three sample-task claims on SVHN: test accuracy"),
    ("table5", "forget", "SVHN: forget-sample accuracy"),
    ("table5", "best", "SVHN: best test accuracy"),
    ("table6", "low", "CU's member rate on the forget samples is as low as Retrain's"),
    ("table6", "lower", "CU's member rate on the forget samples is below NegGrad's, Fisher's and LCODEC's"),
    ("table6", "gap", "The attack still recognises CU's retained members"),
    ("table7", "retrain", "CU is faster than Retrain (500 samples)"),
    ("table7", "faster", "CU is faster than Finetune, Fisher and LCODEC"),
    ("table7", "neggrad", "CU takes about as long as NegGrad"),
)


def _paper_reading(rule: Any, nested: dict[str, dict]) -> str:
    """The rule on the paper's first model: 'holds: <its reason> (RN18)'."""
    if not nested:
        return "–"
    model, values = next(iter(nested.items()))
    ok, why = rule(values)
    return f"{report.verdict(ok)}: {why} ({model})"


def per_scale(paper_tables: str | Path, profiles: list[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """{(page, key): {"_paper": the rule on the paper's first model, "_count": how many of the paper's models pass,
    profile: (verdict, reason) for each profile in `profiles` (default `SCALES`) with results for that page}}."""
    tables = paper_compare.paper_tables(paper_tables)
    profiles = profiles or SCALES
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for name, rules in table_pages.RULES.items():
        nested = report.nested(table_pages.paper_frame(tables, name), "value")
        for key, rule in rules.items():
            out[(name, key)] = {"_paper": _paper_reading(rule, nested), "_count": report.paper_count(
                rule, table_pages.paper_frame(tables, name))}
        for profile in profiles:
            got = table_pages.values(name, paper_tables, profiles=[profile])
            if got["profile"] != profile:  # no results of this page at that scale (or a fallback to another)
                continue
            for key in rules:
                out[(name, key)][profile] = (got[f"{key}_verdict"], got[f"{key}_why"])
    shown, courses = figure2.figure2_scales()
    rules = figure2.figure2_rules(courses)
    paper_end = figure2.paper_end()
    for key, rule in rules.items():
        ok, why = rule(paper_end)
        out[("figure2", key)] = {"_paper": f"{report.verdict(ok)}: {why}", "_count": "the paper's curves"}
    for scale in shown:
        if scale.profile in profiles:
            for key, (text, why, _) in figure2.figure2_verdicts([scale], courses).items():
                out[("figure2", key)][scale.profile] = (text, why)
    return out


def findings_frame(paper_tables: str | Path, profiles: list[str] | None = None) -> pd.DataFrame:
    """One row per claim (`CLAIMS`): page, claim, the paper's reading, and per scale with any result the verdict
    and its reason (empty where that scale has no result for the page)."""
    found = per_scale(paper_tables, profiles)
    shown = [p for p in (profiles or SCALES) if any(p in cell for cell in found.values())]
    rows = []
    for page, key, claim in CLAIMS:
        cell = found[(page, key)]
        row = {"page": page, "key": key, "claim": claim, "paper": cell["_paper"], "paper_models": cell["_count"]}
        for p in shown:
            row[p], row[f"{p}_why"] = cell.get(p, ("", ""))
        rows.append(row)
    return _with_scales(rows, shown)


def _with_scales(rows: list[dict[str, Any]], shown: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame.attrs["scales"] = shown
    return frame


def counts(frame: pd.DataFrame) -> dict[str, str]:
    """Per scale shown: 'H hold, D do not hold, N not testable at this scale, T not tested' over the claims."""
    out = {}
    for p in frame.attrs["scales"]:
        got = frame[p][frame[p] != ""]
        parts = [f"{(got == v).sum()} {label}" for v, label in zip(VERDICTS, (
            "hold", "do not hold", "not tested", "not testable at this scale (no power)"))
                 if (got == v).sum()]
        out[p] = f"{', '.join(parts)} (of {len(got)} claims with results)"
    return out


def scale_sentence(profiles: list[str] | None = None) -> str:
    """The scale of the evidence in one sentence, from the results: each profile's dataset(s), model(s) and training
    epochs, and whether any ResNet or SVHN result is present."""
    parts, models, data = [], set(), set()
    for p in profiles or SCALES:
        runs = report.canonical(report.subruns(p))
        if runs.empty:
            continue
        models |= set(runs["model"]); data |= set(runs["data"])  # noqa: E702
        epochs = ", ".join(str(int(e)) for e in sorted(set(runs["epochs_trained"].dropna())))
        parts.append(f"{p}: {', '.join(sorted(set(runs['dataset'])))}, {', '.join(sorted(set(runs['model'])))}, "
                     f"{epochs} training epochs, on {', '.join(sorted(set(runs['hardware'])))}")
    if not parts:
        return report.NO_RESULTS
    missing = [what for what, present in (("no ResNet", any(str(m).startswith("resnet") for m in models)),
                                          ("no SVHN", "svhn" in data)) if not present]
    return ("The evidence in this build is " + "; ".join(parts) + "."
            + (f" There is {' and '.join(missing)} result: the paper's own scale (ResNets on a GPU) is not covered."
               if missing else ""))


def findings_html(frame: pd.DataFrame, base: str = "") -> str:
    """The findings table as HTML: a link to each claim's page (relative to `base`), the paper's reading and, per
    scale, the verdict in bold over its reason in small type."""
    def cell(verdict: str, why: str) -> str:
        if not verdict:
            return "<td class='cu-none'>no results</td>"
        return f"<td><strong>{html.escape(verdict)}</strong><br><small>{html.escape(why)}</small></td>"

    scales_shown = frame.attrs["scales"]
    head = "".join(f"<th>Ours: {html.escape(p)}<br><small>{html.escape(scales.SHORT.get(p, p))}</small></th>"
                   for p in scales_shown)
    body = []
    for r in frame.to_dict("records"):
        link = f"<a href='{base}reproduction/{r['page']}.html'>{TITLES[r['page']]}</a>"
        body.append(f"<tr><td>{link}</td><td>{html.escape(r['claim'])}</td>"
                    f"<td><small>{html.escape(r['paper'])}; the rule holds for {html.escape(r['paper_models'])}"
                    f"</small></td>" + "".join(cell(r[p], r[f'{p}_why']) for p in scales_shown) + "</tr>")
    return ("<table class='cu-findings table'><thead><tr><th>Item</th><th>Claim</th><th>Paper</th>" + head
            + "</tr></thead><tbody>" + "".join(body) + "</tbody></table>")


class Html:
    """An HTML fragment that myst-nb's glue renders as HTML (`_repr_html_`)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return self.text


def values(paper_tables: str | Path) -> dict[str, Any]:
    """{glue name: value} of the findings page: the table (HTML), the scale sentence, the counts per scale."""
    frame = findings_frame(paper_tables)
    out: dict[str, Any] = {"findings_table": Html(findings_html(frame)), "scale_sentence": scale_sentence(),
                           "n_claims": str(len(frame))}
    for p, text in counts(frame).items():
        out[f"count_{p.replace('-', '_')}"] = text
    out["counts"] = "; ".join(f"{p}: {text}" for p, text in counts(frame).items()) or report.NO_RESULTS
    out.update(tuned_verdicts())
    out.update(tuned_verdicts("cifar-converged", prefix="tuned_conv_"))
    return out


def tuned_verdicts(profile: str = "quick", root: str | Path | None = None, prefix: str = "tuned_") -> dict[str, str]:
    """{"<prefix><task>": the equal-budget verdict ("CU leads at equal tuning budget", oracle objective, as the tuning
    page words it, `cu_book.tuning.leads`)} for the class and the sample task of `profile`'s studies."""
    from . import tuning

    studies = tuning.summaries(profile, root)
    return {f"{prefix}{task}": tuning.leads(studies, task)["verdict"] for task in ("class", "sample")}
