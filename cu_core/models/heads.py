"""Heads and the :class:`UnlearningNet` wrapper (backbone + head).

Notation of Lee et al. (contrastive unlearning): the network is split into an encoder ``E_θ`` and a
classifier ``H``.  Here

* ``E_θ`` = backbone (pooled features ``h``, shape ``(B, d)``) + projection + L2 normalisation, producing the
  embedding ``z`` (shape ``(B, d_z)``).  ``z`` is the embedding the contrastive unlearning loss
  (Eq. 5-6 of the paper) is computed on;
* ``H`` = the classifier producing ``logits`` (shape ``(B, num_classes)``).

Two heads are provided:

``supcon`` (:class:`SupConHead`, default; the authors' model = SupCon ``SupConResNet`` + classifier)
    ``h -> Linear(d, d) -> ReLU -> Linear(d, proj_dim) -> F.normalize(dim=1) = p`` and
    ``H = ReLU -> Linear(proj_dim, num_classes)``.  ``d_z = proj_dim``.

``linear`` (:class:`LinearHead`, the standard classifier)
    ``logits = Linear(d, num_classes)(h)``; the embedding is the normalised backbone feature.  ``d_z = d``.

Two embedding conventions (``embedding=``):

``"normalized"`` (default, clean)
    ``z = p`` (unit norm), and for ``supcon`` ``logits = Linear(ReLU(p))`` computed out-of-place, so ``z``
    is *not* modified.  For ``linear``: ``z = F.normalize(h)``.

``"relu_normalized"`` (the authors' in-place-ReLU quirk, as a named variant)
    The authors' classifier is ``nn.Sequential(nn.ReLU(inplace=True), nn.Linear(128, C))`` applied to the
    normalised projection ``feat``; the in-place ReLU overwrites ``feat``, so the embedding they return (and
    feed to the contrastive loss) is ``ReLU(normalize(.))`` -- non-negative with norm <= 1.  We implement
    this explicitly and out-of-place: ``z = F.relu(p)``, ``logits = Linear(z)``.  Values *and* gradients are
    identical to the in-place version (checked in float64 in ``tests/test_models.py``).  For ``linear``:
    ``z = F.relu(F.normalize(h))``, logits unchanged.

Weight initialisation of the heads: PyTorch defaults (``nn.Linear``: Kaiming-uniform weights, uniform bias).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["HEADS", "EMBEDDINGS", "SupConHead", "LinearHead", "UnlearningNet", "make_head"]

HEADS: tuple[str, ...] = ("supcon", "linear")
EMBEDDINGS: tuple[str, ...] = ("normalized", "relu_normalized")


def _check_choice(param: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{param}={value!r} is not valid; allowed values: {', '.join(allowed)}")


class SupConHead(nn.Module):
    """SupCon projection MLP + normalisation (part of ``E_θ``) and the ReLU-Linear classifier ``H``.

    ``forward(h: (B, in_dim)) -> (logits (B, num_classes), z (B, proj_dim))``.
    """

    def __init__(self, in_dim: int, num_classes: int, proj_dim: int = 128, embedding: str = "normalized") -> None:
        super().__init__()
        _check_choice("embedding", embedding, EMBEDDINGS)
        self.embedding = embedding
        self.projection = nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(), nn.Linear(in_dim, proj_dim))
        self.classifier = nn.Linear(proj_dim, num_classes)
        self.out_dim: int = proj_dim

    def embed(self, h: Tensor) -> Tensor:
        """``(B, in_dim) -> z (B, proj_dim)``."""
        p = F.normalize(self.projection(h), dim=1)
        return F.relu(p) if self.embedding == "relu_normalized" else p

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        p = F.normalize(self.projection(h), dim=1)
        if self.embedding == "relu_normalized":
            # == authors' nn.ReLU(inplace=True) overwriting the returned embedding
            z = F.relu(p)
            return self.classifier(z), z
        return self.classifier(F.relu(p)), p


class LinearHead(nn.Module):
    """Standard linear classifier ``H`` on the backbone features; ``z`` = normalised backbone features.

    ``forward(h: (B, in_dim)) -> (logits (B, num_classes), z (B, in_dim))``.
    """

    def __init__(self, in_dim: int, num_classes: int, embedding: str = "normalized") -> None:
        super().__init__()
        _check_choice("embedding", embedding, EMBEDDINGS)
        self.embedding = embedding
        self.classifier = nn.Linear(in_dim, num_classes)
        self.out_dim: int = in_dim

    def embed(self, h: Tensor) -> Tensor:
        """``(B, in_dim) -> z (B, in_dim)``."""
        z = F.normalize(h, dim=1)
        return F.relu(z) if self.embedding == "relu_normalized" else z

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        return self.classifier(h), self.embed(h)


def make_head(
    head: str, in_dim: int, num_classes: int, *, proj_dim: int = 128, embedding: str = "normalized"
) -> SupConHead | LinearHead:
    """Construct the head called ``head`` (one of :data:`HEADS`)."""
    _check_choice("head", head, HEADS)
    if head == "supcon":
        return SupConHead(in_dim, num_classes, proj_dim, embedding)
    return LinearHead(in_dim, num_classes, embedding)


class UnlearningNet(nn.Module):
    """Backbone + head.  ``forward(x: (B, C, H, W)) -> (logits (B, num_classes), z (B, d_z))``.

    Attributes:
        backbone: module with ``out_dim``; ``(B, C, H, W) -> (B, d)``.
        head: :class:`SupConHead` or :class:`LinearHead`.
        num_classes, head_name, embedding: construction arguments.
        z_dim: ``d_z`` (``proj_dim`` for ``supcon``, ``d`` for ``linear``).
    """

    def __init__(
        self,
        backbone: nn.Module,
        head: SupConHead | LinearHead,
        *,
        num_classes: int,
        head_name: str,
        embedding: str,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.num_classes = num_classes
        self.head_name = head_name
        self.embedding = embedding
        self.z_dim: int = head.out_dim

    def features(self, x: Tensor) -> Tensor:
        """Pooled backbone features ``(B, C, H, W) -> (B, d)``."""
        return self.backbone(x)

    def embed(self, x: Tensor) -> Tensor:
        """Embedding ``z`` only: ``(B, C, H, W) -> (B, d_z)``."""
        return self.head.embed(self.backbone(x))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.backbone(x))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, head_name={self.head_name!r}, embedding={self.embedding!r}"
