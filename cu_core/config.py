"""Configuration dataclasses: the one source of defaults for the CLI, notebooks and profiles.

Each dataclass validates itself on construction (`ConfigError` names the parameter, the bad value and what
is allowed), so a bad value fails before any work starts. `RunConfig` adds the checks that need several
parts at once (a forget class beyond the dataset's classes, more forget samples than exist, ...).
The defaults are the smallest profile: digits, the small CNN, a class task on class 5 (the paper's class).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .data.cifar_archive import ARCHIVE_SHA256
from .data.datasets import DATASETS, DIGITS_SIZES, NORMALIZATIONS, SOURCES
from .data.splits import FORGET_SELECTIONS, TASKS
from .errors import ConfigError, check_int, check_seed
from .models import EMBEDDINGS, HEADS, MODELS
from .runtime import check_device
from .settings import check_settings, setting  # noqa: F401  (`setting`: read as config.setting)

SCHEDULES = ("cosine", "constant")
SELECTIONS = ("best_val", "last")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = setting("digits", "digits | cifar10 | svhn", choices=DATASETS)
    data_dir: str | None = setting(None, "data directory; unset: $CU_DATA_DIR or <project>/data")
    source: str = setting("auto", "cifar10: auto | torchvision | archive", choices=SOURCES)
    normalization: str = setting("dataset", "dataset (own train statistics) | authors (CIFAR constants of the code)",
                                  choices=NORMALIZATIONS)
    digits_size: int = setting(8, "digits: 8 (native) | 16 | 32", choices=DIGITS_SIZES)
    download: bool = setting(True, "let torchvision download where the internet is reachable")
    archive_sha256: str = setting(ARCHIVE_SHA256, "cifar10 archive: expected sha256 (the known JPEG copy's)")

    def __post_init__(self) -> None:
        check_settings(self)
        if not (isinstance(self.archive_sha256, str) and len(self.archive_sha256) == 64
                and all(c in "0123456789abcdef" for c in self.archive_sha256.lower())):
            raise ConfigError("archive_sha256", self.archive_sha256, "expected 64 hexadecimal characters")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ConfigError("data_dir", self.data_dir, "expected a path string or None")
        if self.normalization == "authors" and DATASETS[self.dataset].channels != 3:
            raise ConfigError("normalization", self.normalization,
                              f"'authors' applies to 3-channel datasets; {self.dataset} has 1 channel, use 'dataset'")

    @property
    def image_size(self) -> int:
        return self.digits_size if self.dataset == "digits" else DATASETS[self.dataset].image_size


@dataclass(frozen=True)
class SplitConfig:
    task: str = setting("class", "class | sample", choices=TASKS)
    forget_class: int = setting(5, "class task: the class to forget (the paper's class 5)", low=0)
    num_forget: int = setting(100, "sample task: how many training samples to forget (paper: 500 on CIFAR-10)",
                              low=1)
    val_fraction: float = setting(0.1, "stratified validation split held out of the training set", low=0.0, high=0.5,
                                  low_open=True)
    forget_selection: str = setting("random", "sample task: random (seeded) | first_n (authors' code) | atypical "
                                                "(highest held-out loss under 2-fold cross-fitted models)",
                                    choices=FORGET_SELECTIONS)
    class_drop_last: bool = setting(False, "class task: authors' off-by-one (the last sample stays in retain)")
    seed: int = setting(0, "seeds the validation split and the forget draw", check=check_seed)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class ModelConfig:
    name: str = setting("cnn4", "cnn4 | resnet20 | resnet18 | resnet34 | resnet50 | resnet101 | vit_tiny",
                         choices=MODELS, parameter="model")
    head: str = setting("supcon", "supcon (authors' MLP projection) | linear", choices=HEADS)
    embedding: str = setting("normalized", "normalized | relu_normalized (authors' in-place ReLU)",
                              choices=EMBEDDINGS)
    proj_dim: int = setting(128, "supcon projection width", low=1)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = setting(30, "passes over the training set", low=1)
    batch_size: int = setting(64, "training batch size", low=1)
    lr: float = setting(0.05, "SGD learning rate (peak of the cosine schedule)", low=0.0, low_open=True)
    momentum: float = setting(0.9, "SGD momentum", low=0.0, high=1.0, high_open=True)
    weight_decay: float = setting(5e-4, "SGD weight decay", low=0.0)
    schedule: str = setting("cosine", "cosine (to 0 over `epochs`) | constant", choices=SCHEDULES)
    augment: bool = setting(False, "random crop (pad 4) + flip; the paper trains without augmentation")
    select: str = setting("best_val", "best_val (checkpoint with the best validation accuracy) | last",
                          choices=SELECTIONS)
    seed: int = setting(0, "model initialisation and batch order", check=check_seed)
    device: str = setting("auto", "auto (CUDA when present) | cpu | cuda | cuda:N",
                          check=lambda _, value: check_device(value))
    amp: bool = setting(True, "bf16 autocast on CUDA")
    cpu_bf16: bool = setting(False, "bf16 autocast on CPU too (CPUs with AMX or AVX-512 BF16: cnn4 trains ~1.8x "
                                    "faster); off: CPU training stays float32")
    channels_last: bool = setting(True, "memory format on CUDA")
    eval_batch_size: int = setting(1024, "batch size for inference", low=1)
    progress: bool = setting(True, "tqdm progress bars")

    def __post_init__(self) -> None:
        check_settings(self)

    def recipe(self) -> dict[str, Any]:
        """The fields that change the trained weights (the checkpoint cache key).

        `cpu_bf16` enters only when on, so float32 recipes keep the keys they had before the field existed."""
        skip = {"device", "progress", "eval_batch_size", "channels_last"}
        if not self.cpu_bf16:
            skip.add("cpu_bf16")
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run (original or retrained model)."""

    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        for name, kind in _SECTIONS.items():
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(name, getattr(self, name), f"a {kind.__name__}")
        info = DATASETS[self.data.dataset]
        if self.split.task == "class":
            check_int("forget_class", self.split.forget_class, 0, info.num_classes - 1)
        else:
            pool = info.train_size - math.ceil(self.split.val_fraction * info.train_size)
            check_int("num_forget", self.split.num_forget, 1, pool - 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> RunConfig:
        """Inverse of `to_dict`; unknown keys are an error naming them."""
        parts = _SECTIONS
        if not isinstance(payload, Mapping):
            raise ConfigError("config", payload, f"a mapping of sections {sorted(parts)}")
        unknown = set(payload) - set(parts)
        if unknown:
            raise ConfigError("config", sorted(unknown, key=str), f"expected sections {sorted(parts)}")
        built = {}
        for key, kind in parts.items():
            section = payload.get(key, {})
            if not isinstance(section, Mapping):
                raise ConfigError(key, section, f"a mapping of {kind.__name__} fields")
            section = dict(section)
            names = {f.name for f in dataclasses.fields(kind)}
            extra = set(section) - names
            if extra:
                first = min(extra, key=str)
                raise ConfigError(f"{key}.{first}", section[first],
                                  f"unknown field; {key} fields are {sorted(names)}")
            built[key] = kind(**section)
        return cls(**built)


_SECTIONS: dict[str, type] = {"data": DataConfig, "split": SplitConfig, "model": ModelConfig, "train": TrainConfig}
