"""Overhead of one contrastive-unlearning step over the lower bound, and the cost of the termination check.

Lower bound: one forward pass over the same 2B images (B forget + B retain), cross-entropy, backward and an
SGD step. CU step: `cu_core.unlearn.contrastive`'s step (Eq. 7: L_UL on the embeddings + λ_CE·CE on the retain
half), with the default joint forward. Check: one evaluation of Eq. 8/9 (forget set + held-out set, batched
inference) against the time of one pass. Prints a markdown table (issue target: ≤ 30 % step overhead).

Example::

    python benchmarks/cu_step_overhead.py --models cnn4 resnet20 --batch-size 64 --threads 2
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cu_core.models import build_model  # noqa: E402
from cu_core.unlearn.contrastive import ContrastiveConfig, _step  # noqa: E402


def timed(fn, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def bench(name: str, task: str, args: argparse.Namespace) -> dict[str, object]:
    torch.manual_seed(0)
    model = build_model(name, 10, in_channels=3, image_size=32).train()
    b = args.batch_size
    x_u, x_r = torch.randn(b, 3, 32, 32), torch.randn(b, 3, 32, 32)
    y_u = torch.full((b,), 5) if task == "class" else torch.randint(0, 10, (b,))
    y_r = torch.randint(0, 10, (b,))
    if task == "class":
        y_r[y_r == 5] = 4
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x, y = torch.cat([x_u, x_r]), torch.cat([y_u, y_r])

    def bare() -> None:
        logits, _ = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    cfg = ContrastiveConfig(progress=False)
    cu = lambda: _step(model, opt, x_u, y_u, x_r, y_r, cfg, task, torch.device("cpu"))  # noqa: E731
    t_bare, t_cu = timed(bare, args.steps, args.warmup), timed(cu, args.steps, args.warmup)
    return {"model": name, "task": task, "B": b, "bare ms": 1000 * t_bare, "CU step ms": 1000 * t_cu,
            "overhead": t_cu / t_bare - 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["cnn4", "resnet20"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench(m, t, args) for m in args.models for t in ("class", "sample")]
    print(f"\nCPU, {args.threads} threads, torch {torch.__version__}, 2B = {2 * args.batch_size} images per step\n")
    print("| model | task | B | bare fwd+bwd+step (ms) | CU step (ms) | overhead |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['task']} | {r['B']} | {r['bare ms']:.1f} | {r['CU step ms']:.1f} | "
              f"{100 * r['overhead']:+.1f} % |")


if __name__ == "__main__":
    main()
