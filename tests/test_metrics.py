"""Per-example outputs and the evaluation cache."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cu_core.metrics import Evaluation, Outputs, evaluate
from cu_core.pipeline import prepare, train_reference


def test_outputs_match_torch_definitions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 10)).astype(np.float32) * 5
    labels = rng.integers(0, 10, 50)
    out = Outputs(logits, labels, rng.normal(size=(50, 4)).astype(np.float32))
    t = torch.tensor(logits, dtype=torch.float64)
    np.testing.assert_allclose(out.loss, F.cross_entropy(t, torch.tensor(labels), reduction="none").numpy(), rtol=1e-6)
    p = torch.softmax(t, 1).numpy()
    np.testing.assert_allclose(out.confidence, p[np.arange(50), labels], rtol=1e-6)
    np.testing.assert_allclose(out.entropy, -(p * np.log(p)).sum(1), rtol=1e-6)
    assert out.accuracy() == pytest.approx(np.mean(logits.argmax(1) == labels))
    assert np.all(np.isfinite(Outputs(np.array([[1e4, -1e4]], np.float32), np.array([1]), np.zeros((1, 1))).loss))


def test_evaluation_parts_accuracies_and_cache(digits_runs, tmp_path):
    prep = prepare(digits_runs["cfg"])
    model = train_reference(prep, retrain=False, cache_dir=digits_runs["root"] / "cache").model
    ev = evaluate(model, prep.train, prep.test, prep.split)
    assert ev.accuracies() == pytest.approx(digits_runs["original"]["acc"])
    assert len(ev.part("forget_train")) == len(prep.split.forget) and len(ev.part("test")) == len(prep.test)
    assert set(ev.part("forget_test").labels) == {5} and 5 not in set(ev.part("retain_test").labels)
    assert ev.part("val").embeddings.shape[1] == 128
    again = Evaluation.load(ev.save(tmp_path / "outputs.npz"), prep.split)
    np.testing.assert_array_equal(again.part("forget_train").logits, ev.part("forget_train").logits)
    with pytest.raises(ValueError, match="part"):
        ev.part("holdout")
