"""CIFAR-style ResNets.

``resnet18/34/50/101`` follow the SupCon code base used by the authors (``networks/resnet_big.py`` in
HobbitLong/SupContrast, the encoder of ``SupConResNet``): a 3x3 stride-1 stem convolution with 64 channels,
BatchNorm and ReLU, **no** max-pool, four stages of 64/128/256/512 planes with strides 1/2/2/2,
``BasicBlock`` ``[2,2,2,2]`` / ``[3,4,6,3]`` or ``Bottleneck`` (expansion 4) ``[3,4,6,3]`` / ``[3,4,23,3]``,
then adaptive average pooling and a flatten.  ``out_dim`` is 512 (18/34) or 2048 (50/101).  Shortcuts are
1x1 conv + BN whenever the shape changes; initialisation is Kaiming-normal (fan_out) for convolutions and
1/0 for BatchNorm, as in that code.

``resnet20`` is the classic He et al. (2016) CIFAR ResNet-20: a 3x3 stem with 16 channels and three stages of
three ``BasicBlock`` s with 16/32/64 channels (strides 1/2/2); shortcuts are "option B" (1x1 conv + BN) when
the shape changes.  ``out_dim`` is 64 (~0.27M parameters).

All backbones map ``(B, in_channels, H, W)`` to pooled features ``(B, out_dim)`` for any ``H, W >= 8``
(the adaptive pool removes the dependence on the input size).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "CifarResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet20",
]

MIN_IMAGE_SIZE = 8


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Module:
    if stride != 1 or in_planes != out_planes:
        return nn.Sequential(
            nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_planes),
        )
    return nn.Identity()


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection.  ``(B, in_planes, H, W) -> (B, planes, H/stride, W/stride)``."""

    expansion: int = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 convs with a residual connection.

    ``(B, in_planes, H, W) -> (B, 4 * planes, H/stride, W/stride)``.
    """

    expansion: int = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


def init_conv_bn(module: nn.Module) -> None:
    """Kaiming-normal (fan_out, ReLU) for convs; BatchNorm weight 1, bias 0 (SupCon ResNet init)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class _StagedResNet(nn.Module):
    """Shared body: stem conv3x3 (stride 1) + BN + ReLU, residual stages, adaptive avg pool, flatten."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        num_blocks: Sequence[int],
        planes: Sequence[int],
        strides: Sequence[int],
        in_channels: int,
        stem_channels: int,
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels={in_channels!r} must be >= 1")
        self.conv1 = nn.Conv2d(in_channels, stem_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self._in_planes = stem_channels
        # Stages are registered as ``layer1 .. layerK`` so that parameter names match the SupCon code
        # (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.shortcut.0`` ...).
        self.num_stages: int = len(planes)
        for i, (p, n, s) in enumerate(zip(planes, num_blocks, strides)):
            self.add_module(f"layer{i + 1}", self._make_layer(block, p, n, s))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.out_dim: int = self._in_planes
        init_conv_bn(self)

    def _make_layer(
        self, block: type[BasicBlock] | type[Bottleneck], planes: int, n: int, stride: int
    ) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(block(self._in_planes, planes, s))
            self._in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W) -> (B, out_dim)``."""
        out = F.relu(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):
            out = getattr(self, f"layer{i + 1}")(out)
        return torch.flatten(self.avgpool(out), 1)


class ResNet(_StagedResNet):
    """SupCon/CIFAR-style ResNet (64/128/256/512 planes, strides 1/2/2/2, no max-pool)."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        num_blocks: Sequence[int],
        in_channels: int = 3,
    ) -> None:
        super().__init__(block, num_blocks, (64, 128, 256, 512), (1, 2, 2, 2), in_channels, 64)


class CifarResNet(_StagedResNet):
    """He et al. CIFAR ResNet-(6n+2): 16/32/64 channels, strides 1/2/2, ``n`` BasicBlocks per stage."""

    def __init__(self, n: int = 3, in_channels: int = 3) -> None:
        super().__init__(BasicBlock, (n, n, n), (16, 32, 64), (1, 2, 2), in_channels, 16)


def _check_size(name: str, image_size: int) -> None:
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image_size={image_size!r} is not usable by {name}; allowed values: integers >= {MIN_IMAGE_SIZE}"
        )


def resnet18(in_channels: int = 3, image_size: int = 32) -> ResNet:
    """SupCon ResNet-18 (BasicBlock [2,2,2,2]); ``(B, C, H, W) -> (B, 512)``; ~11.2M params."""
    _check_size("resnet18", image_size)
    return ResNet(BasicBlock, (2, 2, 2, 2), in_channels)


def resnet34(in_channels: int = 3, image_size: int = 32) -> ResNet:
    """SupCon ResNet-34 (BasicBlock [3,4,6,3]); ``(B, C, H, W) -> (B, 512)``; ~21.3M params."""
    _check_size("resnet34", image_size)
    return ResNet(BasicBlock, (3, 4, 6, 3), in_channels)


def resnet50(in_channels: int = 3, image_size: int = 32) -> ResNet:
    """SupCon ResNet-50 (Bottleneck [3,4,6,3]); ``(B, C, H, W) -> (B, 2048)``; ~23.5M params."""
    _check_size("resnet50", image_size)
    return ResNet(Bottleneck, (3, 4, 6, 3), in_channels)


def resnet101(in_channels: int = 3, image_size: int = 32) -> ResNet:
    """SupCon ResNet-101 (Bottleneck [3,4,23,3]); ``(B, C, H, W) -> (B, 2048)``; ~42.5M params."""
    _check_size("resnet101", image_size)
    return ResNet(Bottleneck, (3, 4, 23, 3), in_channels)


def resnet20(in_channels: int = 3, image_size: int = 32) -> CifarResNet:
    """He et al. CIFAR ResNet-20 (3 stages x 3 BasicBlocks, 16/32/64); ``(B, C, H, W) -> (B, 64)``; ~0.27M."""
    _check_size("resnet20", image_size)
    return CifarResNet(3, in_channels)
