"""CPU throughput of the registered backbones (with a head) on random images.

Prints a markdown table: model, input size, batch, train images/s (one SGD step = forward + cross-entropy
plus a SupCon-style loss on ``z`` + backward + optimizer step, model in train mode), inference images/s
(eval mode, ``torch.inference_mode``), and #params (backbone / total).

Example::

    python benchmarks/model_speed.py --models cnn4 resnet20 vit_tiny --threads 2 --steps 20
    python benchmarks/model_speed.py --models cnn4 --cnn4-widths 32 64 128 256 --threads 2
    python benchmarks/model_speed.py --models cnn4 --threads 1 --precision fp32 bf16   # TrainConfig.cpu_bf16
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cu_core.models import MODELS, UnlearningNet, build_model  # noqa: E402
from cu_core.models.heads import make_head  # noqa: E402
from cu_core.models.small import cnn4  # noqa: E402
from cu_core.runtime import autocast  # noqa: E402


def supcon_like_loss(z: torch.Tensor, y: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Single-view supervised contrastive loss on ``z: (B, d)`` (only to give the step realistic cost)."""
    sim = z @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (y[:, None] == y[None, :]) & ~eye
    log_prob = log_prob.masked_fill(~pos, 0.0)
    return -(log_prob.sum(1) / pos.sum(1).clamp_min(1)).mean()


def make(name: str, args: argparse.Namespace) -> UnlearningNet:
    if name == "cnn4" and args.cnn4_widths:
        backbone = cnn4(in_channels=args.in_channels, image_size=args.image_size, widths=args.cnn4_widths)
        head = make_head(args.head, backbone.out_dim, args.num_classes)
        return UnlearningNet(backbone, head, num_classes=args.num_classes, head_name=args.head,
                             embedding="normalized")
    return build_model(name, args.num_classes, in_channels=args.in_channels, image_size=args.image_size,
                       head=args.head)


def bench(name: str, args: argparse.Namespace, precision: str = "fp32") -> dict[str, object]:
    torch.manual_seed(0)
    model = make(name, args)
    b, s = args.batch_size, args.image_size
    x = torch.randn(b, args.in_channels, s, s)
    y = torch.randint(0, args.num_classes, (b,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    steps = args.steps if name not in args.slow_models else max(1, min(args.steps, args.slow_steps))

    cpu = torch.device("cpu")

    def train_step() -> None:
        with autocast(cpu, cpu=precision == "bf16"):  # bf16: the autocast of TrainConfig.cpu_bf16
            logits, z = model(x)
        loss = F.cross_entropy(logits.float(), y) + supcon_like_loss(z.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    for _ in range(args.warmup):
        train_step()
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step()
    train_ips = b * steps / (time.perf_counter() - t0)

    model.eval()
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(x)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(x)
        infer_ips = b * steps / (time.perf_counter() - t0)

    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    n_total = sum(p.numel() for p in model.parameters())
    label = name if not (name == "cnn4" and args.cnn4_widths) else f"cnn4{tuple(args.cnn4_widths)}"
    return {"model": label, "precision": precision, "input": f"{args.in_channels}x{s}x{s}", "batch": b, "steps": steps,
            "train": train_ips, "infer": infer_ips, "params": f"{n_backbone / 1e6:.3f}M / {n_total / 1e6:.3f}M"}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["cnn4", "resnet20", "vit_tiny", "resnet18"],
                   choices=list(MODELS))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="timed steps per model (train and inference)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    p.add_argument("--slow-models", nargs="*", default=["resnet34", "resnet50", "resnet101", "resnet18"],
                   help="models timed with at most --slow-steps steps")
    p.add_argument("--slow-steps", type=int, default=3)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--head", default="supcon")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads")
    p.add_argument("--cnn4-widths", type=int, nargs=4, default=None, help="override the cnn4 widths")
    p.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                   help="training precision on the CPU: fp32, and/or bf16 autocast (TrainConfig.cpu_bf16)")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, head={args.head}\n")
    print("| model | precision | input | batch | steps | train img/s | inference img/s | #params (backbone / total) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        for precision in args.precision:
            r = bench(name, args, precision)
            print(f"| {r['model']} | {r['precision']} | {r['input']} | {r['batch']} | {r['steps']} | {r['train']:.0f} | "
                  f"{r['infer']:.0f} | {r['params']} |", flush=True)


if __name__ == "__main__":
    main()
