"""Representation diagnostics: t-SNE maps of the embeddings z and a linear probe on frozen embeddings.

Both work from cached per-example outputs (`cu_core.metrics.Outputs` / `Evaluation`), never from the model.

* `tsne_frame` / `plot_tsne`: several parts (e.g. forget / retain / test) subsampled with a seed and projected
  *jointly* (one t-SNE fit, so positions are comparable across parts) with scikit-learn's TSNE (init="pca").
  CU's claim is visible here: after unlearning, the forget samples leave their class cluster and spread
  among the other classes' clusters.
* `linear_probe`: does the representation still encode the forgotten data? Output accuracy can drop to 0
  while z still separates the class linearly (a cheap head edit would do that). The probe answers that.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .errors import ConfigError
from .metrics import Evaluation, Outputs


def tsne_frame(parts: Mapping[str, Outputs], *, max_per_part: int = 500, perplexity: float = 30,
               seed: int = 0) -> pd.DataFrame:
    """Joint 2-D t-SNE of the embeddings of several parts.

    Each part is subsampled to at most `max_per_part` examples without replacement (numpy Generator seeded
    with `seed`, parts drawn in the mapping's order); all subsamples are projected by one TSNE fit
    (init="pca", random_state=seed). sklearn requires perplexity < number of points; it is lowered to
    (n − 1) / 3 when there are too few points for the requested value.

    Returns a DataFrame with one row per projected example: x, y, part (the mapping's key), label (int
    class) and index (position within that part's Outputs).
    """
    from sklearn.manifold import TSNE

    if max_per_part < 1:
        raise ConfigError("max_per_part", max_per_part, "a positive integer")
    rng = np.random.default_rng(seed)
    embeds, rows = [], []
    for name, out in parts.items():
        n = len(out)
        if n == 0:
            continue
        idx = np.sort(rng.choice(n, size=min(n, max_per_part), replace=False))
        embeds.append(np.asarray(out.embeddings[idx], dtype=np.float64).reshape(len(idx), -1))
        rows.append(pd.DataFrame({"part": name, "label": np.asarray(out.labels[idx]).astype(int), "index": idx}))
    total = sum(len(e) for e in embeds)
    if total < 4:
        raise ConfigError("parts", {k: len(v) for k, v in parts.items()}, "at least 4 examples in all for t-SNE")
    perplexity = float(min(perplexity, (total - 1) / 3))
    xy = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(
        np.concatenate(embeds))
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(0, "x", xy[:, 0])
    frame.insert(1, "y", xy[:, 1])
    frame["part"] = pd.Categorical(frame["part"], categories=[k for k in parts if len(parts[k])])
    return frame


def plot_tsne(frame: pd.DataFrame, ax=None, title: str = ""):
    """Scatter of a `tsne_frame`: colour = class label, marker = part. Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5))
    labels = sorted(int(v) for v in pd.unique(frame["label"]))
    data = frame.assign(**{"class": frame["label"].astype(int).astype(str)})
    palette = "tab10" if len(labels) <= 10 else "husl"
    sns.scatterplot(data=data, x="x", y="y", hue="class", hue_order=[str(v) for v in labels], style="part",
                    palette=palette, s=16, alpha=0.8, linewidth=0, ax=ax)
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize="small", frameon=False)
    return ax


def linear_probe(ev: Evaluation, forget_class: int | None, *, seed: int = 0) -> dict[str, float]:
    """Linear probe on FROZEN embeddings z: how much of the forgotten data the representation still encodes.

    A multinomial logistic regression (standardised features, lbfgs, max_iter=5000) is fitted on the
    embeddings of the validation split — held out of every model's training and holding every class, the
    forgotten one included — and scored on the test split. Because the probe never trains on the forget set,
    it measures what the *representation* separates, not what the model's own head outputs.

    Returns (fractions in [0, 1]):

    * "probe_val_acc": the probe's fit accuracy on the validation split (sanity check);
    * "probe_test_acc": accuracy on the whole test set (all classes);
    * class task (`forget_class` = the split's forgotten class): "probe_forget_acc" on the test images of the
      forgotten class and "probe_retain_acc" on the test images of the remaining classes;
    * sample task (`forget_class` None): "probe_forget_acc" on the forget set's embeddings (forget_train).
      Choice: there is no forgotten class to recover, so the signal is memorisation — a model that trained on
      the forget samples places them tighter in their class clusters than unseen images, so the probe scores
      higher on them than on test. For a model that never saw them (Retrain) probe_forget_acc ≈
      probe_test_acc; the difference "probe_forget_acc − probe_test_acc" is the quantity to compare.

    How to read it: compare the unlearned model's probe_forget_acc with the original model's (high: the class
    is linearly separable) and with the retrained model's — the reference, which is usually NOT 0: a model
    that never saw the class still maps its images somewhere distinct, and a probe trained on labelled
    validation images of that class can find that region. Unlearning "in representation" means reaching the
    Retrain value, not 0.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    split = ev.split
    if split.task == "class":
        if forget_class is None:
            raise ConfigError("forget_class", None,
                              f"the split's forgotten class ({split.forget_class}) for a class task")
        if split.forget_class is not None and forget_class != split.forget_class:
            raise ConfigError("forget_class", forget_class, f"the split's forgotten class ({split.forget_class})")
    elif forget_class is not None:
        raise ConfigError("forget_class", forget_class, "None for a sample task")
    val, test = ev.part("val"), ev.part("test")
    if len(np.unique(val.labels)) < 2:
        raise ConfigError("val", len(val), "a validation split with at least two classes")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    probe.fit(_features(val), val.labels)

    def score(out: Outputs) -> float:
        return float(probe.score(_features(out), out.labels)) if len(out) else float("nan")

    result = {"probe_val_acc": score(val), "probe_test_acc": score(test)}
    if split.task == "class":
        is_forget = test.labels == forget_class
        result["probe_forget_acc"] = score(test.take(np.flatnonzero(is_forget)))
        result["probe_retain_acc"] = score(test.take(np.flatnonzero(~is_forget)))
    else:
        result["probe_forget_acc"] = score(ev.part("forget_train"))
    return result


def _features(out: Outputs) -> np.ndarray:
    return np.asarray(out.embeddings, dtype=np.float64).reshape(len(out), -1)


__all__ = ["linear_probe", "plot_tsne", "tsne_frame"]
