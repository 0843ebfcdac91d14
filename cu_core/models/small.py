"""Small convolutional backbones for CPU-scale experiments.

``cnn4`` is the default model for CPU runs: four ``conv3x3 -> BatchNorm -> ReLU`` blocks, 2x2 max-pools
after the first three blocks, a global average pool and a flatten.  With the default widths
``(32, 64, 192, 384)`` a 32x32x3 image is processed at 32x32, 16x16, 8x8 and 4x4 resolution
(~0.80M parameters, ~23M multiply-adds per image).

Choice of the default widths: the budget is a batch-128 SGD step (supcon head) at >= 800 images/s on two
CPU cores.  The cost is dominated by the memory-bound BatchNorm/ReLU/max-pool work at full and half
resolution, so the first two widths are kept at 32/64 and the capacity goes into the cheap 8x8 and 4x4
blocks.  Measured with ``benchmarks/model_speed.py`` (2 threads, quiet machine): ``(32, 64, 128, 256)``
~1400-1700 img/s, ``(32, 64, 192, 384)`` ~1130-1210 img/s, ``(32, 96, 192, 384)`` ~990,
``(32, 64, 256, 512)`` ~860, ``(48, 96, 192, 384)`` ~750.  In a short CIFAR-10 run (4 epochs, CE on the
supcon head, flip+crop) ``(32, 64, 192, 384)`` reached 74.5 / 73.2 % test accuracy (two seeds) against
72.2 / 72.0 % for ``(32, 64, 128, 256)``; it is the widest of these that keeps a ~40 % margin over the
budget.  Pass ``widths=(32, 64, 128, 256)`` for a ~1.4x faster variant.

Pools are applied with ``ceil_mode=True`` and skipped once the feature map is already 1x1, so the same
network also runs on tiny inputs such as the 8x8 single-channel scikit-learn digits
(8x8 -> 4x4 -> 2x2 -> 1x1).

Weight initialisation: Kaiming-normal (fan_out, ReLU) for convolutions, BatchNorm weight 1 / bias 0, as in
the SupCon ResNets used by the authors.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .resnet import init_conv_bn

__all__ = ["ConvBlock", "SmallCNN", "cnn4"]


class ConvBlock(nn.Module):
    """``Conv2d(3x3, padding 1, no bias) -> BatchNorm2d -> ReLU`` with an optional 2x2 max-pool.

    Input ``(B, C_in, H, W)`` -> output ``(B, C_out, H', W')`` where ``H' = ceil(H / 2)`` if pooling and
    ``H > 1`` (likewise for ``W``), else ``H' = H``.
    """

    def __init__(self, in_channels: int, out_channels: int, pool: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn(self.conv(x)), inplace=True)  # BN backward needs its input, not its output
        if self.pool and (x.shape[-2] > 1 or x.shape[-1] > 1):
            x = F.max_pool2d(x, kernel_size=2, stride=2, ceil_mode=True)
        return x


class SmallCNN(nn.Module):
    """Plain CNN: ``len(widths)`` :class:`ConvBlock` s, global average pool, flatten.

    Args:
        in_channels: channels of the input images (3 for RGB, 1 for digits/MNIST).
        widths: output channels of each block.
        pool_after: for each block, whether a 2x2 max-pool follows it (same length as ``widths``).
        channels_last: run the convolutions in ``torch.channels_last`` memory format (inputs are converted in
            ``forward``).  On CPU this is ~1.5x faster for a training step, mostly because max-pool and
            BatchNorm are much faster in NHWC; values are unaffected.

    Shapes: ``forward(x: (B, in_channels, H, W)) -> (B, out_dim)`` with ``out_dim = widths[-1]``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: Sequence[int] = (32, 64, 192, 384),
        pool_after: Sequence[bool] = (True, True, True, False),
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        if len(widths) == 0 or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths={tuple(widths)!r} must be a non-empty sequence of positive ints")
        if len(pool_after) != len(widths):
            raise ValueError(
                f"pool_after={tuple(pool_after)!r} must have the same length as widths={tuple(widths)!r}"
            )
        blocks = []
        c = in_channels
        for w, p in zip(widths, pool_after):
            blocks.append(ConvBlock(c, int(w), bool(p)))
            c = int(w)
        self.blocks = nn.Sequential(*blocks)
        self.out_dim: int = c
        self.widths: tuple[int, ...] = tuple(int(w) for w in widths)
        self.channels_last = channels_last
        init_conv_bn(self)
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W) -> (B, out_dim)`` globally average-pooled features."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.blocks(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def cnn4(
    in_channels: int = 3,
    image_size: int = 32,
    widths: Sequence[int] = (32, 64, 192, 384),
    channels_last: bool = True,
) -> SmallCNN:
    """The default small CPU backbone (4 conv blocks, pools after blocks 1-3), ``out_dim = widths[-1]``.

    ``image_size`` only needs to be >= 1 (pools are skipped on 1x1 maps); it is accepted for registry
    uniformity.  Input ``(B, in_channels, H, W)`` -> ``(B, widths[-1])``.
    """
    if len(widths) != 4:
        raise ValueError(f"widths={tuple(widths)!r} must have 4 entries for cnn4")
    if image_size < 1:
        raise ValueError(f"image_size={image_size!r} is not usable by cnn4; allowed values: integers >= 1")
    return SmallCNN(in_channels, widths, pool_after=(True, True, True, False), channels_last=channels_last)
