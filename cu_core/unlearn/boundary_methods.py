"""Class-wise baselines (evaluation.md §2.8, §2.9, §2.11): Boundary Shrink, Boundary Expanding and UNSIR.
Each trains a private copy for a fixed number of passes (`stop_reason="fixed_passes"`) and refuses
task="sample": the recipes need one forgotten class (BS/BE: mirror issue #1; UNSIR: noise per class).

* Boundary Shrink (Chen et al. 2023): a frozen copy of the original model takes one FGSM step of size
  `bound` in L∞ on the *normalised* input (the mirror code's space; no clamp to the pixel range; the SalUn
  port works in [0, 1] pixels instead), and its argmax on the perturbed image is the new label (the true
  label when the attack fails); the copy is fine-tuned with CE on (clean x, new label). The mirror's
  PGD, curvature and distance re-weighting options are not implemented.
* Boundary Expanding: the classifier (the last Linear of `model.head`) is widened by one shadow output
  (C original rows kept, new row freshly initialised), all parameters are fine-tuned on the forget set
  labelled as the shadow class, then the first C rows are copied into a C-way Linear (the SalUn port
  never prunes, §4), so the returned model has C outputs.
* UNSIR (Tarun et al. 2023): per forgotten class c, a noise batch N (`noise_batch` images) minimising
  −CE(f(N), c) + λ·mean_i‖N_i‖² on a frozen copy (Adam); the whole batch is kept, labelled c (the notebooks
  kept 3 images and labelled all noise class 0, §4); impair = CE over noise ∪ retain subset, then repair =
  CE over the retain subset (Adam each, reset per phase). Passes: one row after each impair/repair epoch.

The three share their bookkeeping (`EpochLoop`, in `loop.py`); UNSIR's config and code are in `unsir.py`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data import Part
from ..errors import ConfigError
from ..runtime import autocast
from ..settings import check_settings, setting
from .spaces import lr_epochs, real
from .base import UnlearnResult
from .loop import EpochLoop, Steps
from .common import cross_entropy, sgd
from .teacher_methods import frozen
from .unsir import UNSIR_SPACE, UnsirConfig, impair_repair

BN_HELP = ("BatchNorm in train mode, re-estimating its statistics on forget-only batches (mirror code); "
           "False: eval-mode BatchNorm, so only the gradient acts")


@dataclass(frozen=True)
class _BoundaryConfig:
    """The settings both boundary methods share (SGD on forget batches, the mirror code's values)."""

    epochs: int = setting(10, "passes over the forget set (Boundary-Unlearning mirror code: 10)", low=1)
    lr: float = setting(1e-5, "SGD learning rate (mirror code: 1e-5)", low=0.0, low_open=True)
    momentum: float = setting(0.9, "SGD momentum (mirror code)", low=0.0, high=1.0, high_open=True)
    weight_decay: float = setting(0.0, "SGD weight decay (mirror code: none)", low=0.0)
    batch_size: int = setting(64, "forget batch size (mirror code: 64)", low=1)
    bn_stats: bool = setting(True, BN_HELP)
    seed: int = setting(0, "batch order and random draws (BE: the shadow row's initialisation)", low=0)
    amp: bool = setting(True, "bf16 autocast on CUDA")
    progress: bool = setting(True, "tqdm progress bar over epochs")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class BoundaryExpandingConfig(_BoundaryConfig):
    """Boundary Expanding: the shared settings."""


@dataclass(frozen=True)
class BoundaryShrinkConfig(_BoundaryConfig):
    """Boundary Shrink: the shared settings plus the FGSM step."""

    bound: float = setting(0.1, "FGSM step, L∞ on the normalised input (mirror code: 0.1)", low=0.0, low_open=True)


def fgsm_labels(teacher: nn.Module, x: torch.Tensor, y: torch.Tensor, bound: float, amp: bool) -> torch.Tensor:
    """Boundary Shrink's nearest wrong class: `teacher`'s argmax on x + bound·sign(∇ₓCE), one FGSM step."""
    x_adv = x.detach().clone().requires_grad_(True)
    loss = cross_entropy(teacher, x_adv, y, amp)
    (grad,) = torch.autograd.grad(loss, x_adv)
    with torch.no_grad(), autocast(x.device, amp):
        return teacher(x + bound * grad.sign())[0].argmax(1)


def boundary_shrink(model: nn.Module, forget: Part, retain: Part, val: Part, config: BoundaryShrinkConfig, *,
                    task: str, num_classes: int) -> UnlearnResult:
    """BS (§2.8): CE on (clean forget x, the original model's label for its FGSM neighbour)."""
    run, cfg = EpochLoop("boundary_shrink", model, forget, retain, config, task, tasks=("class",)), config
    teacher = frozen(model).to(forget.data.device)

    def steps(epoch: int) -> Steps:
        for x, y in forget.batches(cfg.batch_size, shuffle=True, generator=run.generator):
            target = fgsm_labels(teacher, x, y, cfg.bound, cfg.amp)
            extra = {"flipped": float((target != y).float().mean())}  # fraction of successful attacks
            yield len(y), cross_entropy(run.model, x, target, cfg.amp), extra
    run.fit(sgd(run.model, cfg.lr, cfg.momentum, cfg.weight_decay), cfg.epochs, steps)
    run.samples += cfg.epochs * len(forget)  # the attack's forward + backward on the frozen copy
    return run.result()


def classifier_slot(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """(parent, attribute, Linear) of the classifier: the last Linear in `model.head` (both head kinds)."""
    found = None
    for name, module in model.head.named_modules():
        if isinstance(module, nn.Linear):
            found = name
    if found is None:
        raise ConfigError("model", type(model).__name__, "a model whose head contains a Linear classifier")
    parent_name, _, attr = found.rpartition(".")
    parent = model.head.get_submodule(parent_name) if parent_name else model.head
    return parent, attr, getattr(parent, attr)


@torch.no_grad()
def resized_linear(layer: nn.Linear, out_features: int) -> nn.Linear:
    """A Linear with `out_features` outputs whose first min(C, out) rows copy `layer` (others: fresh init)."""
    new = nn.Linear(layer.in_features, out_features, bias=layer.bias is not None).to(layer.weight.device)
    keep = min(out_features, layer.out_features)
    new.weight[:keep] = layer.weight[:keep]
    if layer.bias is not None:
        new.bias[:keep] = layer.bias[:keep]
    return new


def boundary_expanding(model: nn.Module, forget: Part, retain: Part, val: Part,
                       config: BoundaryExpandingConfig, *, task: str, num_classes: int) -> UnlearnResult:
    """BE (§2.9): widen to C+1 outputs, CE(forget, shadow class), prune back to the first C rows."""
    run, cfg = EpochLoop("boundary_expanding", model, forget, retain, config, task, tasks=("class",)), config
    parent, attr, layer = classifier_slot(run.model)
    if layer.out_features != num_classes:
        raise ConfigError("num_classes", num_classes, f"the classifier's {layer.out_features} outputs")
    with run.clock("unlearn"):
        setattr(parent, attr, resized_linear(layer, num_classes + 1))

    def steps(epoch: int) -> Steps:
        for x, y in forget.batches(cfg.batch_size, shuffle=True, generator=run.generator):
            yield len(y), cross_entropy(run.model, x, torch.full_like(y, num_classes), cfg.amp), {}
    optimizer = sgd(run.model, cfg.lr, cfg.momentum, cfg.weight_decay)
    original_forward = run.model.forward  # per-epoch records: argmax over the C real classes only

    def pruned_view(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, z = original_forward(x)
        return (logits[:, :num_classes] if not run.model.training else logits), z
    run.model.forward = pruned_view
    try:
        run.fit(optimizer, cfg.epochs, steps)
    finally:
        del run.model.forward
    with run.clock("unlearn"):
        setattr(parent, attr, resized_linear(getattr(parent, attr), num_classes))
    return run.result()


def unsir(model: nn.Module, forget: Part, retain: Part, val: Part, config: UnsirConfig, *, task: str,
          num_classes: int) -> UnlearnResult:
    """UNSIR (§2.11): error-maximising noise per forgotten class, impair, repair (code in unsir.py)."""
    return impair_repair(model, forget, retain, val, config, task=task, num_classes=num_classes)


CLASS = ("class",)
_BU = "Boundary Unlearning mirror code: lr 1e-5, 10 epochs, FGSM bound 0.1"
METHODS = (  # (name, tasks, config class, function, summary, facts), for cu_core.unlearn.registry
    ("boundary_shrink", CLASS, BoundaryShrinkConfig, boundary_shrink,
     "Boundary Shrink (BS): CE on forget x labelled by the original model's FGSM-nearest class",
     {"display": "Boundary Shrink", "acts_on": "input", "paper_name": "Boundary Shrink", "space": {
         **lr_epochs((1e-6, 1e-2), (1, 10), _BU), "bound": real(0.01, 0.5, log=True, source=_BU)}}),
    ("boundary_expanding", CLASS, BoundaryExpandingConfig, boundary_expanding,
     "Boundary Expanding (BE): train forget x as a shadow class, then prune the shadow output",
     {"display": "Boundary Expanding", "acts_on": "input", "paper_name": "Boundary Expansion",
      "space": lr_epochs((1e-6, 1e-2), (1, 10), _BU)}),
    ("unsir", CLASS, UnsirConfig, unsir, "UNSIR: error-maximising noise impair epoch, retain repair epoch",
     {"display": "UNSIR", "acts_on": "input", "paper_name": "UNSIR", "space": UNSIR_SPACE}),
)
