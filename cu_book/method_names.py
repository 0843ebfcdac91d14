"""One spelling per method in the book's text, tables and legends (issue 21).

The registry (`cu_core.unlearn.registry`) names every method (`contrastive`, `neggrad`, …) and, for the paper's
methods, its name in the paper's tables (`paper_name`: "Neggrad", "Boundary Expansion", …, the paper's own and
not always consistent spelling). The book shows one display name per registered method, `DISPLAY`; the paper's
tables and Figure 2's legend are relabelled through `paper_label`, so "Neggrad" reads "NegGrad" everywhere.
"""
from __future__ import annotations

from cu_core.unlearn.registry import METHODS, PAPER_NAMES

DISPLAY: dict[str, str] = {
    "contrastive": "CU", "retrain": "Retrain", "original": "Original", "finetune": "Finetune", "neggrad": "NegGrad",
    "neggrad_plus": "NegGrad+", "random_label": "Random Label", "l1_sparse": "ℓ1-sparse", "salun": "SalUn",
    "scrub": "SCRUB", "bad_teacher": "Bad Teacher", "fisher": "Fisher", "ssd": "SSD", "lcodec": "LCODEC",
    "boundary_shrink": "Boundary Shrink", "boundary_expanding": "Boundary Expanding", "unsir": "UNSIR",
}
#: spellings the book must not print (each maps to the display name it drifted from)
VARIANTS = {"Neggrad": "NegGrad", "Boundary Expansion": "Boundary Expanding", "Random Labels": "Random Label",
            "Badteacher": "Bad Teacher", "L1-sparse": "ℓ1-sparse"}


def display(method: str) -> str:
    """The book's name for registered method `method` (the registry name itself for one without a display name)."""
    return DISPLAY.get(method, method)


def paper_label(paper_name: str) -> str:
    """A paper table column or Figure 2 legend name in the book's spelling; 'Contrastive' stays the paper's word
    for CU, and '(ref)' is kept."""
    if paper_name == "Contrastive" or paper_name not in PAPER_NAMES:
        return paper_name
    suffix = " (ref)" if paper_name.endswith(" (ref)") else ""
    return display(PAPER_NAMES[paper_name]) + suffix


MARKERS = "osD^vP<>Xdph*H8"


def method_style(method: str) -> dict[str, object]:
    """The colour and marker of registered method `method` in every figure that draws methods as curves: one
    colour-blind palette over `DISPLAY`'s order (CU first), from this one place."""
    import seaborn as sns

    order = list(DISPLAY)
    i = order.index(method) if method in order else len(order) + sorted(METHODS).index(method) % 6
    palette = sns.color_palette("colorblind", 10) + sns.color_palette("dark", 10)
    return {"color": palette[i % len(palette)], "marker": MARKERS[i % len(MARKERS)]}


def missing() -> list[str]:
    """Registered methods without a display name (a new method must add one here)."""
    return sorted(set(METHODS) - set(DISPLAY))


__all__ = ["DISPLAY", "MARKERS", "VARIANTS", "display", "method_style", "missing", "paper_label"]
