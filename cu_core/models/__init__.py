"""Model registry for contrastive unlearning.

``MODELS`` maps a backbone name to a constructor ``(in_channels: int = 3, image_size: int = 32) -> nn.Module``;
every backbone has ``out_dim: int`` and maps ``(B, C_in, H, W)`` to pooled features ``(B, out_dim)``.
:func:`build_model` combines a backbone with one of :data:`HEADS` into an :class:`UnlearningNet` whose
``forward`` returns ``(logits (B, num_classes), z (B, d_z))``.

This package imports nothing else from ``cu_core``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .heads import EMBEDDINGS, HEADS, LinearHead, SupConHead, UnlearningNet, make_head
from .resnet import resnet18, resnet20, resnet34, resnet50, resnet101
from .small import cnn4
from .vit import vit_tiny

__all__ = [
    "MODELS",
    "HEADS",
    "EMBEDDINGS",
    "build_model",
    "count_parameters",
    "UnlearningNet",
    "SupConHead",
    "LinearHead",
]

MODELS: dict[str, Callable[..., nn.Module]] = {
    "cnn4": cnn4,
    "resnet20": resnet20,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "vit_tiny": vit_tiny,
}


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_min(param: str, value: object, minimum: int) -> None:
    if not _is_int(value) or value < minimum:  # type: ignore[operator]
        raise ValueError(f"{param}={value!r} is not valid; allowed values: integers >= {minimum}")


def build_model(
    name: str,
    num_classes: int,
    *,
    in_channels: int = 3,
    image_size: int = 32,
    head: str = "supcon",
    embedding: str = "normalized",
    proj_dim: int = 128,
) -> UnlearningNet:
    """Build ``MODELS[name]`` + head ``head`` as an :class:`UnlearningNet`.

    Args:
        name: backbone name, one of ``MODELS``.
        num_classes: number of classes (>= 2).
        in_channels: input channels (>= 1).
        image_size: input height = width; must be usable by the backbone (ResNets need >= 8, the ViT needs a
            size divisible by its patch ``max(1, image_size // 8)``).
        head: one of :data:`HEADS` (``"supcon"`` or ``"linear"``).
        embedding: one of :data:`EMBEDDINGS` (``"normalized"`` or ``"relu_normalized"``).
        proj_dim: projection dimension of the ``supcon`` head (>= 1; ignored by ``linear``).

    Returns:
        ``UnlearningNet`` with ``forward(x: (B, in_channels, image_size, image_size)) -> (logits, z)``.

    Raises:
        ValueError: naming the parameter, the bad value and the allowed values.
    """
    if name not in MODELS:
        raise ValueError(f"name={name!r} is not valid; allowed values: {', '.join(MODELS)}")
    if head not in HEADS:
        raise ValueError(f"head={head!r} is not valid; allowed values: {', '.join(HEADS)}")
    if embedding not in EMBEDDINGS:
        raise ValueError(f"embedding={embedding!r} is not valid; allowed values: {', '.join(EMBEDDINGS)}")
    _check_min("num_classes", num_classes, 2)
    _check_min("proj_dim", proj_dim, 1)
    _check_min("in_channels", in_channels, 1)
    _check_min("image_size", image_size, 1)
    backbone = MODELS[name](in_channels=in_channels, image_size=image_size)
    h = make_head(head, backbone.out_dim, num_classes, proj_dim=proj_dim, embedding=embedding)
    net = UnlearningNet(backbone, h, num_classes=num_classes, head_name=head, embedding=embedding)
    net.spec = {"name": name, "num_classes": num_classes, "in_channels": in_channels, "image_size": image_size,
                "head": head, "embedding": embedding, "proj_dim": proj_dim}  # how to build it again
    return net


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of (optionally only trainable) parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
