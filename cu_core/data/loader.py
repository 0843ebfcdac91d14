"""An in-memory loader: the whole split as one uint8 tensor on the target device.

Batches are drawn by shuffled index; conversion to float, normalisation and the optional crop/flip
augmentation are tensor operations on the batch, so there is no per-image Python work and, on a GPU,
no host-to-device copy per batch. (After KellerJordan/cifar10-airbench's idea; our own code.)
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .datasets import ArrayDataset


@dataclass(frozen=True)
class Augment:
    """Random crop with zero padding (as torchvision's RandomCrop(padding)) and horizontal flip."""

    crop_padding: int = 4
    flip: bool = True


class DeviceData:
    """Images (N, C, H, W) uint8 and labels (N,) int64 on `device`, with normalisation constants."""

    def __init__(self, dataset: ArrayDataset, mean: Sequence[float], std: Sequence[float],
                 device: torch.device | str = "cpu", identity: dict | None = None) -> None:
        self.device = torch.device(device)
        self.images = torch.from_numpy(np.ascontiguousarray(dataset.images)).to(self.device)
        self.labels = torch.from_numpy(np.asarray(dataset.labels, dtype=np.int64)).to(self.device)
        channels = self.images.shape[1]
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"mean/std have {len(mean)}/{len(std)} values for {channels} channels")
        # x_norm = (u8 / 255 - mean) / std = u8 * scale + shift
        std_t = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._scale = 1.0 / (255.0 * std_t)
        self._shift = -mean_t / std_t
        self.display = dataset.display
        self.identity = identity or {"dataset": dataset.name, "source": dataset.source}  # for checkpoint keys

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor, augment: Augment | None = None,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised images (B, C, H, W) float32 and labels (B,) for positions `index` (B,)."""
        index = index.to(self.device)
        images = self.images[index]
        if augment is not None:
            images = augment_batch(images, augment, generator)
        return images.float() * self._scale + self._shift, self.labels[index]

    def batches(self, indices: np.ndarray | torch.Tensor, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None, augment: Augment | None = None,
                drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Iterate over `indices` in batches (shuffled with `generator` when `shuffle`).

        A shuffled (training) pass never ends on a batch of one sample: that sample is left out of this pass
        (another one next pass), since a batch-statistics step on one sample is undefined (BatchNorm refuses it
        on 1×1 maps) and the smallest digits batch sizes meet it. `drop_last` leaves out any short last batch.
        """
        indices = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        if shuffle:
            indices = indices[torch.randperm(len(indices), generator=generator)]
        short = len(indices) % batch_size
        stop = len(indices) - (short if drop_last or (shuffle and short == 1 and len(indices) > 1) else 0)
        for start in range(0, stop, batch_size):
            yield self.batch(indices[start:start + batch_size], augment, generator)


def augment_batch(images: torch.Tensor, augment: Augment, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random crop after zero padding, and random horizontal flip, per image: (B, C, H, W) → same shape.

    The random draws come from `generator` on the CPU, so results do not depend on the device.
    """
    b, c, h, w = images.shape
    p = augment.crop_padding
    if p > 0:
        padded = torch.nn.functional.pad(images, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (b,), generator=generator).to(images.device)
        dx = torch.randint(0, 2 * p + 1, (b,), generator=generator).to(images.device)
        rows = (dy[:, None] + torch.arange(h, device=images.device))[:, None, :, None]  # (B, 1, H, 1)
        cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, None, :]  # (B, 1, 1, W)
        batch = torch.arange(b, device=images.device)[:, None, None, None]
        chans = torch.arange(c, device=images.device)[None, :, None, None]
        images = padded[batch, chans, rows, cols]
    if augment.flip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(images.device)
        images = torch.where(flip[:, None, None, None], images.flip(3), images)
    return images


@dataclass(frozen=True)
class Part:
    """A named subset of a `DeviceData` (e.g. the forget set): positions `indices` into `data`."""

    data: DeviceData
    indices: np.ndarray  # (n,) int64 positions
    name: str = ""

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> np.ndarray:
        """(n,) int64 labels on the CPU."""
        return self.data.labels[torch.as_tensor(self.indices, device=self.data.device)].cpu().numpy()

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                augment: Augment | None = None, drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.data.batches(self.indices, batch_size, shuffle=shuffle, generator=generator, augment=augment,
                                 drop_last=drop_last)

    def random_batch(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch_size` samples drawn uniformly with replacement: images (B, C, H, W), labels (B,)."""
        pick = torch.randint(0, len(self.indices), (batch_size,), generator=generator)
        return self.data.batch(torch.as_tensor(self.indices)[pick])

    def take(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples `start:stop` in dataset order (the authors' sequential retain batches)."""
        return self.data.batch(torch.as_tensor(self.indices[start:stop]))
