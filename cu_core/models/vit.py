"""A small Vision Transformer backbone (``vit_tiny``) for 32x32 images.

Architecture: a ``Conv2d(kernel=stride=patch)`` patch embedding, learnable position embeddings (no class
token), a pre-norm transformer encoder (``nn.TransformerEncoderLayer`` with ``batch_first=True``,
``norm_first=True``, GELU), a final LayerNorm and a mean-pool over tokens.  Defaults: ``dim=128``,
``depth=4``, ``heads=4``, ``mlp_dim=256``, dropout 0.

The patch size is derived from ``image_size`` so that there are 64 tokens, with patches of at least 2x2:
``patch = max(2, image_size // 8)`` (32 -> 4, 16 -> 2, 8 -> 2 with 16 tokens; see `patch_size_for`).  ``image_size`` must be divisible by ``patch``; inputs must then have exactly
``image_size x image_size`` pixels (the position embeddings are fixed in size).

Initialisation: truncated-normal (std 0.02) position embeddings, PyTorch defaults elsewhere.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ViT", "vit_tiny", "patch_size_for"]


def patch_size_for(image_size: int) -> int:
    """Patch size giving an 8x8 token grid, but at least 2: ``max(2, image_size // 8)``.

    Single-pixel tokens (patch 1 on 8x8 digits) do not train: 30 epochs reached 28 % validation accuracy with
    the project's SGD recipe and 21-35 % with AdamW, against 89 % with 2x2 patches (a 4x4 grid, 4x faster).
    """
    return max(2, image_size // 8)


class ViT(nn.Module):
    """Minimal ViT encoder returning mean-pooled token features.

    Shapes: ``forward(x: (B, in_channels, image_size, image_size)) -> (B, dim)``; internally the tokens are
    ``(B, N, dim)`` with ``N = (image_size // patch) ** 2``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        patch: int | None = None,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_dim: int = 256,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels={in_channels!r} must be >= 1")
        if image_size < 1:
            raise ValueError(f"image_size={image_size!r} is not usable by the ViT; allowed values: integers >= 1")
        patch = patch_size_for(image_size) if patch is None else patch
        if patch < 1 or image_size % patch != 0:
            raise ValueError(
                f"image_size={image_size!r} is not usable by the ViT (patch size {patch}); allowed values: "
                f"sizes divisible by their patch size max(2, image_size // 8), e.g. 8, 16, 24, 32, 64"
            )
        if dim % heads != 0:
            raise ValueError(f"dim={dim!r} must be divisible by heads={heads!r}")
        self.image_size: int = image_size
        self.patch: int = patch
        self.num_tokens: int = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(in_channels, dim, kernel_size=patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_tokens, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=dim,
            nhead=heads,
            dim_feedforward=mlp_dim,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out_dim: int = dim

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, image_size, image_size) -> (B, dim)``."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"ViT built for image_size={self.image_size} got input of spatial size {tuple(x.shape[-2:])}"
            )
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, N, dim)
        tokens = self.encoder(tokens + self.pos_embed)
        return self.norm(tokens).mean(dim=1)


def vit_tiny(in_channels: int = 3, image_size: int = 32) -> ViT:
    """ViT with dim 128, depth 4, 4 heads, MLP 256 and an 8x8 token grid; ``(B, C, H, W) -> (B, 128)``."""
    return ViT(in_channels=in_channels, image_size=image_size)
