"""Tests for cu_core.models: shapes, embedding conventions, the authors' in-place-ReLU quirk, validation,
parameter counts and a tiny learning check.  CPU only, fast."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cu_core.models import EMBEDDINGS, HEADS, MODELS, LinearHead, SupConHead, UnlearningNet, build_model
from cu_core.models.heads import make_head

ALL_MODELS = ("cnn4", "resnet20", "resnet18", "resnet34", "resnet50", "resnet101", "vit_tiny")
TINY_MODELS = ("cnn4", "resnet20", "resnet18", "vit_tiny")  # also checked on 8x8 single-channel inputs
NUM_CLASSES = 10


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_registry_contents() -> None:
    assert set(MODELS) == set(ALL_MODELS)
    assert HEADS == ("supcon", "linear")
    assert EMBEDDINGS == ("normalized", "relu_normalized")


PROJ_DIM = 16


@functools.lru_cache(maxsize=None)
def _default_model(name: str, in_channels: int, image_size: int) -> UnlearningNet:
    """``build_model`` with the default head, cached so the big ResNets are constructed only once."""
    torch.manual_seed(0)
    return build_model(name, NUM_CLASSES, in_channels=in_channels, image_size=image_size, proj_dim=PROJ_DIM)


def _check_outputs(model: UnlearningNet, x: torch.Tensor, head: str, embedding: str, proj_dim: int) -> None:
    logits, z = model(x)
    b = x.shape[0]
    d_z = proj_dim if head == "supcon" else model.backbone.out_dim
    assert logits.shape == (b, NUM_CLASSES)
    assert z.shape == (b, d_z) and model.z_dim == d_z
    assert torch.isfinite(logits).all() and torch.isfinite(z).all()
    norms = z.norm(dim=1)
    if embedding == "normalized":
        torch.testing.assert_close(norms, torch.ones(b), atol=1e-5, rtol=0)
    else:
        assert (z >= 0).all()
        assert (norms <= 1 + 1e-5).all()
    assert model.features(x).shape == (b, model.backbone.out_dim)
    torch.testing.assert_close(model.embed(x), z)


CASES = [(name, 3, 32) for name in ALL_MODELS] + [(name, 1, 8) for name in TINY_MODELS]


@pytest.mark.parametrize(("name", "in_channels", "image_size"), CASES)
def test_output_shapes_all_heads_and_embeddings(name: str, in_channels: int, image_size: int) -> None:
    torch.manual_seed(1)
    x = torch.randn(2, in_channels, image_size, image_size)
    default = _default_model(name, in_channels, image_size)
    assert (default.head_name, default.embedding, default.num_classes) == ("supcon", "normalized", NUM_CLASSES)
    if name.startswith("resnet") and name != "resnet20":
        assert default.backbone.out_dim == (2048 if name in ("resnet50", "resnet101") else 512)
    for head in HEADS:
        for embedding in EMBEDDINGS:
            if name in ("cnn4", "resnet20", "vit_tiny"):  # cheap: go through build_model every time
                model = build_model(name, NUM_CLASSES, in_channels=in_channels, image_size=image_size,
                                    head=head, embedding=embedding, proj_dim=PROJ_DIM)
                assert (model.head_name, model.embedding) == (head, embedding)
            else:  # big ResNets: reuse the cached backbone with a fresh head
                h = make_head(head, default.backbone.out_dim, NUM_CLASSES, proj_dim=PROJ_DIM, embedding=embedding)
                model = UnlearningNet(default.backbone, h, num_classes=NUM_CLASSES, head_name=head,
                                      embedding=embedding)
            assert isinstance(model.head, SupConHead if head == "supcon" else LinearHead)
            _check_outputs(model, x, head, embedding, PROJ_DIM)


def test_vit_patch_size_gives_64_tokens_and_never_single_pixels() -> None:
    for size, patch, tokens in [(32, 4, 64), (16, 2, 64), (64, 8, 64), (8, 2, 16), (4, 2, 4)]:
        vit = MODELS["vit_tiny"](image_size=size)
        assert vit.patch == patch and vit.num_tokens == tokens


# --------------------------------------------------------------------------------------------------------
# The authors' in-place ReLU quirk


class _AuthorsSupConNet(nn.Module):
    """Literal reconstruction of the authors' model: SupConResNet-style MLP head + normalisation, and a
    classifier ``Sequential(ReLU(inplace=True), Linear)`` applied to ``feat``, which is then returned."""

    def __init__(self, encoder: nn.Module, dim_in: int, feat_dim: int, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.Linear(dim_in, dim_in), nn.ReLU(inplace=True), nn.Linear(dim_in, feat_dim))
        self.classifier = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(feat_dim, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = F.normalize(self.head(self.encoder(x)), dim=1)
        out = self.classifier(feat)  # the in-place ReLU overwrites `feat`
        return out, feat


def _authors_copy(model: UnlearningNet) -> tuple[_AuthorsSupConNet, dict[str, str]]:
    """Authors' module with identical weights, and a map authors' param name -> our param name."""
    proj = model.head.projection
    ref = _AuthorsSupConNet(copy.deepcopy(model.backbone), proj[0].in_features, proj[2].out_features,
                            model.num_classes).to(torch.float64)
    ref.head[0].load_state_dict(proj[0].state_dict())
    ref.head[2].load_state_dict(proj[2].state_dict())
    ref.classifier[1].load_state_dict(model.head.classifier.state_dict())
    mapping = {f"encoder.{k}": f"backbone.{k}" for k, _ in model.backbone.named_parameters()}
    mapping.update({"head.0.weight": "head.projection.0.weight", "head.0.bias": "head.projection.0.bias",
                    "head.2.weight": "head.projection.2.weight", "head.2.bias": "head.projection.2.bias",
                    "classifier.1.weight": "head.classifier.weight", "classifier.1.bias": "head.classifier.bias"})
    return ref, mapping


def _loss(logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return (z @ z.T).sum() + logits.square().sum()


@pytest.mark.parametrize("backbone", ["cnn4", "resnet20"])
def test_relu_normalized_equals_authors_inplace_relu(backbone: str) -> None:
    torch.manual_seed(0)
    model = build_model(backbone, 5, in_channels=1, image_size=8, head="supcon",
                        embedding="relu_normalized", proj_dim=12).to(torch.float64)
    ref, mapping = _authors_copy(model)
    x = torch.randn(16, 1, 8, 8, dtype=torch.float64)

    logits, z = model(x)
    ref_logits, ref_z = ref(x)
    assert (ref_z >= 0).all() and (ref_z < 0).sum() == 0  # the quirk: the returned embedding was clipped
    assert (ref_z == 0).any()
    torch.testing.assert_close(z, ref_z, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-12, atol=1e-12)

    _loss(logits, z).backward()
    _loss(ref_logits, ref_z).backward()
    ours = dict(model.named_parameters())
    for ref_name, p in ref.named_parameters():
        g_ours = ours[mapping[ref_name]].grad
        assert p.grad is not None and g_ours is not None, ref_name
        torch.testing.assert_close(g_ours, p.grad, rtol=1e-10, atol=1e-12, msg=ref_name)
    assert len(mapping) == len(ours)


def test_normalized_embedding_is_not_clipped_but_logits_match_authors() -> None:
    torch.manual_seed(0)
    model = build_model("cnn4", 5, in_channels=1, image_size=8, proj_dim=12).to(torch.float64)
    assert model.embedding == "normalized"
    ref, _ = _authors_copy(model)
    x = torch.randn(16, 1, 8, 8, dtype=torch.float64)
    logits, z = model(x)
    ref_logits, ref_z = ref(x)
    assert (z < 0).any()  # z is the unclipped normalised projection ...
    torch.testing.assert_close(z.clamp_min(0), ref_z, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-12, atol=1e-12)  # ... logits are the same


def test_linear_head_embeddings() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 3, 32, 32)
    a = build_model("cnn4", 3, head="linear")
    b = build_model("cnn4", 3, head="linear", embedding="relu_normalized")
    b.load_state_dict(a.state_dict())
    (la, za), (lb, zb) = a(x), b(x)
    h = a.features(x)
    torch.testing.assert_close(la, a.head.classifier(h))
    torch.testing.assert_close(za, F.normalize(h, dim=1))
    torch.testing.assert_close(lb, la)
    torch.testing.assert_close(zb, F.relu(za))


# --------------------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("kwargs", "param", "allowed"),
    [
        ({"name": "resnet9"}, "name", list(ALL_MODELS)),
        ({"name": "cnn4", "head": "mlp"}, "head", ["supcon", "linear"]),
        ({"name": "cnn4", "embedding": "relu"}, "embedding", ["normalized", "relu_normalized"]),
        ({"name": "cnn4", "num_classes": 1}, "num_classes", [">= 2"]),
        ({"name": "cnn4", "num_classes": True}, "num_classes", [">= 2"]),
        ({"name": "cnn4", "proj_dim": 0}, "proj_dim", [">= 1"]),
        ({"name": "cnn4", "in_channels": 0}, "in_channels", [">= 1"]),
        ({"name": "cnn4", "image_size": 0}, "image_size", [">= 1"]),
        ({"name": "resnet18", "image_size": 4}, "image_size", [">= 8"]),
        ({"name": "resnet20", "image_size": 7}, "image_size", [">= 8"]),
        ({"name": "vit_tiny", "image_size": 33}, "image_size", ["divisible"]),
        ({"name": "vit_tiny", "image_size": 17}, "image_size", ["divisible"]),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict, param: str, allowed: list[str]) -> None:
    kwargs = dict(kwargs)
    name = kwargs.pop("name")
    num_classes = kwargs.pop("num_classes", NUM_CLASSES)
    with pytest.raises(ValueError) as info:
        build_model(name, num_classes, **kwargs)
    msg = str(info.value)
    assert f"{param}=" in msg and "allowed values" in msg
    bad = name if param == "name" else kwargs.get(param, num_classes)
    assert repr(bad) in msg
    for a in allowed:
        assert a in msg


def test_vit_rejects_wrong_input_size() -> None:
    vit = MODELS["vit_tiny"](image_size=16)
    with pytest.raises(ValueError, match="image_size"):
        vit(torch.randn(1, 3, 32, 32))


# --------------------------------------------------------------------------------------------------------
# Parameter counts


@pytest.mark.parametrize(
    ("name", "expected", "tol"),
    [("resnet18", 11.17e6, 0.05), ("resnet50", 23.5e6, 0.05), ("resnet20", 0.27e6, 0.05)],
)
def test_backbone_parameter_counts(name: str, expected: float, tol: float) -> None:
    n = n_params(_default_model(name, 3, 32).backbone)
    assert abs(n - expected) <= tol * expected, n


def test_cnn4_default_widths() -> None:
    m = build_model("cnn4", 10)
    assert m.backbone.widths == (32, 64, 192, 384) and m.backbone.out_dim == 384


# --------------------------------------------------------------------------------------------------------
# Learning check


@pytest.mark.parametrize(("head", "embedding"), [("supcon", "normalized"), ("supcon", "relu_normalized"),
                                                 ("linear", "normalized")])
def test_cnn4_memorises_random_labels(head: str, embedding: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 1, 8, 8)
    y = torch.randint(0, NUM_CLASSES, (64,))
    model = build_model("cnn4", NUM_CLASSES, in_channels=1, image_size=8, head=head, embedding=embedding)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first_fit = None
    for step in range(200):
        model.train()
        logits, _ = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        if step == 0:
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
        opt.step()
        if first_fit is None and (logits.argmax(1) == y).all():
            first_fit = step + 1
        if first_fit is not None and step % 10 == 9:  # confirm with BatchNorm running statistics
            model.eval()
            with torch.no_grad():
                if (model(x)[0].argmax(1) == y).all():
                    return
    model.eval()
    with torch.no_grad():
        acc = (model(x)[0].argmax(1) == y).float().mean().item()
    pytest.fail(f"eval-mode train accuracy {acc} after 200 steps (train-mode fit at step {first_fit})")
