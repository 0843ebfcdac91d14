"""The CIFAR-10 linear-probe table of the book (cu_book.probe) on the committed 5-epoch results."""
from __future__ import annotations

import pytest

from cu_book import probe


def test_cifar_probe_reads_the_forgotten_class_after_cu():
    rows = probe.probe_rows(["cifar-cpu"])
    if rows.empty:
        pytest.skip("no cifar-cpu results in this checkout")
    values = rows.set_index("method")["probe_forget"]
    assert list(rows["method"][:2]) == ["retrain", "original"]  # references first
    # the classifier forgets class 5 but a probe on the frozen embeddings still finds it, far above Retrain
    assert values["contrastive"] > values["retrain"] + 10
    assert rows.set_index("method").loc["contrastive", "acc_forget_test"] < 5
    text = probe.probe_reading(rows)
    assert "cifar-cpu" in text and "under CU" in text
    display = probe.probe_display(rows)
    assert display.loc[("cifar-cpu", "contrastive"), "seeds"] == 3


def test_empty_probe_state(tmp_path):
    rows = probe.probe_rows(["cifar-cpu"], root=tmp_path)
    assert rows.empty and "note" in probe.probe_display(rows)
    assert probe.probe_reading(rows).startswith("No CIFAR-10 profile")
