"""Images/s of the in-memory loader (`cu_core.data.DeviceData`) against a plain torchvision `DataLoader`.

The baseline is what torchvision's CIFAR10 dataset does per image: `PIL.Image.fromarray`, `ToTensor`,
`Normalize`, batched by `torch.utils.data.DataLoader` (shuffled), with 0 and N worker processes.
Two measurements per loader: loading alone (one pass over the images) and a training step of a model
(forward + backward + SGD step), both in images/s. Prints a markdown table.

    python benchmarks/loader_speed.py                          # CIFAR-10 from $CU_DATA_DIR, else synthetic
    python benchmarks/loader_speed.py --models cnn4 resnet18 --train-steps 20
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from cu_core.data import ArrayDataset, DeviceData, load_dataset, normalization_stats
from cu_core.errors import DataError
from cu_core.models import build_model
from cu_core.runtime import autocast, resolve_device


class TorchvisionStyle(Dataset):
    """Per-image PIL + transforms, as torchvision.datasets.CIFAR10 does."""

    def __init__(self, ds: ArrayDataset, mean, std) -> None:
        self.images = np.ascontiguousarray(ds.images.transpose(0, 2, 3, 1))  # HWC, as torchvision stores it
        self.labels = ds.labels
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def get_data(args) -> ArrayDataset:
    if args.dataset == "cifar10":
        try:
            return load_dataset("cifar10", "train", args.data_dir, download=False)
        except DataError as err:
            print(f"(CIFAR-10 not available: {err}; using synthetic 32×32 images)")
    rng = np.random.default_rng(0)
    return ArrayDataset(rng.integers(0, 256, (50000, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 50000),
                        tuple(map(str, range(10))), "synthetic", "synthetic 32×32", "train", "random")


def batches(kind: str, ds: ArrayDataset, mean, std, device, batch_size: int, workers: int):
    """An endless iterator of (x, y) batches on `device`."""
    if kind == "in-memory":
        data = DeviceData(ds, mean, std, device)
        gen = torch.Generator().manual_seed(0)
        while True:
            yield from data.batches(np.arange(len(ds)), batch_size, shuffle=True, generator=gen, drop_last=True)
    loader = DataLoader(TorchvisionStyle(ds, mean, std), batch_size=batch_size, shuffle=True, drop_last=True,
                        num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    while True:
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def measure_loading(it, n_images: int, batch_size: int) -> float:
    next(it)  # start-up (worker processes, first copy) is not timed
    start, seen = time.perf_counter(), 0
    while seen < n_images:
        x, _ = next(it)
        seen += len(x)
    if x.is_cuda:
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def measure_training(it, model_name: str, steps: int, device, amp: bool, in_channels: int,
                     compile_model: bool = False) -> float:
    model = build_model(model_name, 10, in_channels=in_channels).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    if compile_model:  # compiled during the two warm-up steps, which are not timed
        model = torch.compile(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    seen = 0
    for step in range(steps + 2):
        if step == 2:  # two warm-up steps
            if device.type == "cuda":
                torch.cuda.synchronize()
            start, seen = time.perf_counter(), 0
        x, y = next(it)
        with autocast(device, amp):
            loss = F.cross_entropy(model(x)[0].float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "synthetic"])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--models", nargs="+", default=["cnn4", "resnet18"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--load-images", type=int, default=20000, help="images per loading measurement")
    parser.add_argument("--train-steps", type=int, default=30, help="timed steps per training measurement")
    parser.add_argument("--resnet18-steps", type=int, default=4, help="timed steps for resnet18 on a CPU")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (besides 0)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true",
                        help="also time the in-memory loader with a torch.compile'd model (GPU; needs a C compiler)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    ds = get_data(args)
    mean, std = normalization_stats(ds)
    hw = f"{torch.cuda.get_device_name(device)}" if device.type == "cuda" else \
        f"CPU, {torch.get_num_threads()} threads ({platform.processor() or platform.machine()})"
    print(f"\ndata: {ds.display}, batch {args.batch_size}, device: {hw}, torch {torch.__version__}\n")
    rows = []
    loaders = [("in-memory", 0), ("DataLoader", 0), ("DataLoader", args.workers)]
    for kind, workers in loaders:
        rate = measure_loading(batches(kind, ds, mean, std, device, args.batch_size, workers), args.load_images,
                               args.batch_size)
        rows.append(("(loading only)", kind, workers, rate))
    for model in args.models:
        steps = args.resnet18_steps if model.startswith("resnet") and model != "resnet20" and \
            device.type == "cpu" else args.train_steps
        for kind, workers in loaders:
            it = batches(kind, ds, mean, std, device, args.batch_size, workers)
            rows.append((model, kind, workers, measure_training(it, model, steps, device, True, ds.images.shape[1])))
        if args.compile:
            it = batches("in-memory", ds, mean, std, device, args.batch_size, 0)
            try:
                rate = measure_training(it, model, steps, device, True, ds.images.shape[1], compile_model=True)
            except Exception as err:  # noqa: BLE001 — a missing compiler toolchain must not lose the other rows
                print(f"torch.compile failed for {model}: {type(err).__name__}: {err}"[:500])
                rate = float("nan")
            rows.append((model, "in-memory + torch.compile", 0, rate))
    print("| model | loader | workers | images/s | speed-up vs DataLoader (0 workers) |")
    print("|---|---|---|---|---|")
    for model, kind, workers, rate in rows:
        base = next(r for m, k, w, r in rows if m == model and k == "DataLoader" and w == 0)
        print(f"| {model} | {kind} | {workers} | {rate:,.0f} | {rate / base:.2f}× |")


if __name__ == "__main__":
    main()
