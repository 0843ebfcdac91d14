"""One spelling per method in the book's text, tables and legends (issue 21).

The registry (`cu_core.unlearn.registry`) names every method (`contrastive`, `neggrad`, …) and, for the paper's
methods, its name in the paper's tables (`paper_name`: "Neggrad", "Boundary Expansion", …, the paper's own and
not always consistent spelling) and its one display name (`Method.display`). The book shows that name, `DISPLAY`
(plus "Original", the trained model, which is not a method); the paper's tables and Figure 2's legend are
relabelled through `paper_label`, so "Neggrad" reads "NegGrad" everywhere.
"""
from __future__ import annotations

from cu_core.unlearn.registry import METHODS, PAPER_NAMES

DISPLAY: dict[str, str] = {**{name: m.display_name for name, m in METHODS.items()}, "original": "Original"}
#: spellings the book must not print (each maps to the display name it drifted from)
VARIANTS = {"Neggrad": "NegGrad", "Boundary Expansion": "Boundary Expanding", "Random Labels": "Random Label",
            "Badteacher": "Bad Teacher", "L1-sparse": "ℓ1-sparse"}


def display(method: str) -> str:
    """The book's name for registered method `method` (the registry name itself for one without a display name,
    e.g. a method registered after this module was imported)."""
    return DISPLAY.get(method) or (METHODS[method].display_name if method in METHODS else method)


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
    colour-blind palette over `DISPLAY`'s order (the registry's, CU first; then Original), from this one place."""
    import seaborn as sns

    order = list(DISPLAY) + sorted(set(METHODS) - set(DISPLAY))  # CU first; a later-registered method after
    i = order.index(method) if method in order else len(order)
    palette = sns.color_palette("colorblind", 10) + sns.color_palette("dark", 10)
    return {"color": palette[i % len(palette)], "marker": MARKERS[i % len(MARKERS)]}


def missing() -> list[str]:
    """Registered methods without a display name of their own (a new method must give one, `Method.display`)."""
    return sorted(name for name, m in METHODS.items() if not m.display)


__all__ = ["DISPLAY", "MARKERS", "VARIANTS", "display", "method_style", "missing", "paper_label"]
