"""One spelling per method in the book's text, tables and legends (issue 21).

The registry (`cu_core.unlearn.registry`) names every method (`contrastive`, `neggrad`, …) and, for the paper's
methods, its name in the paper's tables (`paper_name`: "Neggrad", "Boundary Expansion", …, the paper's own and
not always consistent spelling) and its one display name (`Method.display`). The book shows that name, read from
the registry when asked (`display`; "Original", the trained model, is the one name that is not a method's); the
paper's tables and Figure 2's legend are relabelled through `paper_label`, so "Neggrad" reads "NegGrad" everywhere.
"""
from __future__ import annotations

from cu_core.unlearn.registry import METHODS, PAPER_NAMES

ORIGINAL = "Original"  # the trained model's name in the book; not a registered method
#: spellings the book must not print (each maps to the display name it drifted from)
VARIANTS = {"Neggrad": "NegGrad", "Boundary Expansion": "Boundary Expanding", "Random Labels": "Random Label",
            "Badteacher": "Bad Teacher", "L1-sparse": "ℓ1-sparse"}


def display(method: str) -> str:
    """The book's name for `method`: the registry's `Method.display_name` (which falls back to the registry name),
    "Original" for the trained model, the text itself for anything else (a variant's row name)."""
    if method == "original":
        return ORIGINAL
    return METHODS[method].display_name if method in METHODS else method


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
    colour-blind palette over the registry's order (CU first, a later-registered method after; then Original), from
    this one place."""
    import seaborn as sns

    order = [*METHODS, "original"]
    i = order.index(method) if method in order else len(order)
    palette = sns.color_palette("colorblind", 10) + sns.color_palette("dark", 10)
    return {"color": palette[i % len(palette)], "marker": MARKERS[i % len(MARKERS)]}


def missing() -> list[str]:
    """Registered methods without a display name of their own (a new method must give one, `Method.display`)."""
    return sorted(name for name, m in METHODS.items() if not m.display)


__all__ = ["ORIGINAL", "MARKERS", "VARIANTS", "display", "method_style", "missing", "paper_label"]
